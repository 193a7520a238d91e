"""The probe specs of a params file: what each probe measures, its parameters with
their units, and their checks (one line naming the parameter, exit code 2).

The forward models that implement them are in :mod:`lfpk_hpc.probes`. This module
imports neither NEURON nor MPI; the model it checks against (the populations'
geometry) is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import NAME, fail, float_array, positive

# check_probes is a part of lfpk_hpc.params.validate, not API
__all__ = [
    "PROBE_TYPES",
    "SCALP_RTOL",
    "CurrentDipoleProbe",
    "FourSphereEEGProbe",
    "GaussCylinderProbe",
    "LaminarCSDProbe",
    "MEGProbe",
    "Probe",
]


@dataclass(frozen=True)
class GaussCylinderProbe:
    """Extracellular potential (mV) at contacts on the z-axis (µm) from current
    sources spread uniformly over a disc of radius ``R`` (µm) and Gaussian along z
    with SD ``sigma_z`` (µm), in a medium of conductivity ``sigma`` (S/m)
    (Hagen et al. 2022).

    Parameters
    ----------
    name : str
        The probe's name (its key in kernels files).
    z : tuple of float
        Contact depths on the column's axis, µm.
    sigma : float
        Extracellular conductivity, S/m.
    R : float
        Radius of the disc of cell positions, µm.
    sigma_z : float
        Standard deviation of the cell positions in depth, µm.
    """

    name: str
    z: tuple[float, ...]
    sigma: float = 0.3
    R: float = 100.0
    sigma_z: float = 50.0


@dataclass(frozen=True)
class CurrentDipoleProbe:
    """Current dipole moment (nA·µm); x and y rows are zero (rotational symmetry).

    Parameters
    ----------
    name : str
        The probe's name; kernels in nA·µm per presynaptic spike, rows x, y, z.
    """

    name: str


@dataclass(frozen=True)
class FourSphereEEGProbe:
    """EEG: the potential (mV) at ``electrodes`` of a four-sphere head model
    (LFPykit's ``FourSphereVolumeConductor``: the corrected formulas of Næss et al.
    2017) from the kernel's current dipole moment.

    ``radii``: outer radii (µm) of brain, CSF, skull and scalp, concentric about the
    origin; ``sigmas``: their conductivities (S/m); ``electrodes``: (x, y, z) positions
    (µm, head centre at the origin), each on or inside the scalp and not inside the
    brain (radii[0] ≤ |r| ≤ radii[3]). The cortex of the kernels has its surface at
    z = 0 µm and z < 0 below it; its dipole sits at (0, 0, radii[0] + soma depth) and
    points along z (radially), see :class:`lfpk_hpc.probes.FourSphereEEG`.

    Defaults: one electrode on top of the scalp; the radii 7.9, 8.0, 8.5, 9.0 cm of
    Næss S, Chintaluri C, Ness TV, Dale AM, Einevoll GT, Wójcik DK (2017), Corrected
    Four-Sphere Head Model for EEG Signals, Front Hum Neurosci 11:490,
    doi:10.3389/fnhum.2017.00490 (their code, github.com/Neuroinflab/fourspheremodel,
    parameters.py), and the conductivities of LFPykit's ``FourSphereVolumeConductor``
    (its defaults and docstring example, 0.6.2), which keep Næss et al.'s ratios (CSF
    5 × brain, skull brain / 20 — the first of their three skull cases —, scalp =
    brain) with brain 0.3 S/m (Næss et al.: 1/300 S/cm ≈ 0.333 S/m).

    Parameters
    ----------
    name : str
        The probe's name; kernels in mV per presynaptic spike.
    radii : tuple of 4 float
        Outer radii of brain, CSF, skull and scalp, µm.
    sigmas : tuple of 4 float
        Their conductivities, S/m.
    electrodes : tuple of (float, float, float)
        Electrode positions (x, y, z), µm, head centre at the origin.
    """

    name: str
    radii: tuple[float, float, float, float] = (79000.0, 80000.0, 85000.0, 90000.0)
    sigmas: tuple[float, float, float, float] = (0.3, 1.5, 0.015, 0.3)
    electrodes: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 90000.0),)


#: the default MEG sensor: a magnetometer 10 cm from the head centre (1 cm above the
#: scalp of the default EEG head), 10° from the top of the head towards +y
MEG_SENSOR = (0.0, 17364.817766693, 98480.775301221)


@dataclass(frozen=True)
class MEGProbe:
    """MEG: the magnetic field (fT) at ``sensors`` of the kernels' current dipole moment,
    the component along each sensor's ``orientations`` (a magnetometer's axis; None:
    radial, r/|r|).

    ``head``: ``"sphere"``, a spherically symmetric conductor centred at the origin
    (the Sarvas formula: Sarvas J (1987) Phys Med Biol 32:11-22, eq. 25; Hämäläinen et
    al. (1993) Rev Mod Phys 65:413, eq. 34; LFPykit's ``SphericallySymmetricVolCondMEG``),
    which does not depend on the conductivities or the radii of the head's shells; or
    ``"infinite"``, an infinite homogeneous medium (the Biot-Savart field of the dipole
    alone, μ0/4π p × R/|R|³; LFPykit's ``InfiniteHomogeneousVolCondMEG``). Sensors are
    (x, y, z) in µm with the head centre at the origin; with ``"sphere"`` each must be
    farther from the centre than every dipole.

    Where the dipole sits (the EEG probe's convention, :class:`FourSphereEEGProbe`):
    the column stands on the top of the brain sphere, its cortical surface at
    (0, 0, ``brain_radius``) µm; the dipole of a population with its soma at depth
    z_d < 0 (the cell's soma, below the surface z = 0) sits at
    (0, 0, brain_radius) + z_d·a and points along a = ``column_axis`` (the direction, in
    the head, of the kernels' z axis, from the white matter to the pial surface;
    normalised). With the radial axis (0, 0, 1) this is where the EEG probe puts it —
    and a spherically symmetric head gives exactly zero: a radial dipole has no
    magnetic field outside such a conductor (Sarvas 1987). The default (1, 0, 0) is a
    column in the wall of a sulcus, tangential to the skull, as the hand area of the
    primary somatosensory cortex (area 3b, in the posterior wall of the central
    sulcus) that HNN's evoked-response examples model after MEG (Jones et al. 2007,
    J Neurosci 27:10751).

    Units: the field in fT (1e-15 T) per nA·µm of dipole moment with μ0 = 4π·1e-7 T·m/A;
    kernels in fT per presynaptic spike.

    Parameters
    ----------
    name : str
        The probe's name; kernels in fT per presynaptic spike.
    sensors : tuple of (float, float, float)
        Magnetometer positions (x, y, z), µm, head centre at the origin.
    orientations : tuple of (float, float, float) or None
        Each sensor's axis (a direction, normalised; None: radial).
    head : {"sphere", "infinite"}
        Spherically symmetric conductor or infinite homogeneous medium.
    brain_radius : float
        Radius of the brain sphere the column stands on, µm.
    column_axis : tuple of 3 float
        The kernels' z axis in the head (a direction, normalised).
    """

    name: str
    sensors: tuple[tuple[float, float, float], ...] = (MEG_SENSOR,)
    orientations: tuple[tuple[float, float, float], ...] | None = None
    head: str = "sphere"
    brain_radius: float = 79000.0
    column_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)


@dataclass(frozen=True)
class LaminarCSDProbe:
    """Laminar current source density (µA/mm³): the net transmembrane current in each
    of a stack of cylinders aligned with the z axis, divided by its volume, the
    current of every segment spread uniformly along it (LFPykit's
    ``LaminarCurrentSourceDensity``: Pettersen KH, Hagen E, Einevoll GT (2008)
    J Comput Neurosci 24:291; Hagen E et al. (2017) J Neurosci 37:5123, eq. 11).
    Positive: a source (net outward current).

    ``z``: the cylinders' centre depths (µm), e.g. the LFP contacts' depths; ``h``: the
    height of every cylinder (µm), default the spacing of ``z`` (which must then be
    uniform), so that the cylinders tile the column; ``r``: their radius (µm), default
    the radius of each postsynaptic population (``Geometry.radius``), as Hagen et al.
    (2016) compute the PD14 CSD (cylinders ±50 µm about each contact, radius 564 µm).
    Kernels in µA/mm³ per presynaptic spike.

    Parameters
    ----------
    name : str
        The probe's name; kernels in µA/mm³ per presynaptic spike.
    z : tuple of float
        Centre depths of the cylinders, µm.
    h : float or None
        Height of every cylinder, µm (None: the spacing of ``z``).
    r : float or None
        Radius of the cylinders, µm (None: each population's radius).
    """

    name: str
    z: tuple[float, ...]
    h: float | None = None
    r: float | None = None


#: any probe spec of a params file
Probe = GaussCylinderProbe | CurrentDipoleProbe | FourSphereEEGProbe | MEGProbe | LaminarCSDProbe
#: the probe spec classes of a params file
PROBE_TYPES = (
    GaussCylinderProbe,
    CurrentDipoleProbe,
    FourSphereEEGProbe,
    MEGProbe,
    LaminarCSDProbe,
)

#: relative tolerance of a uniform spacing of a CSD probe's depths
SPACING_RTOL = 1e-9


def check_probes(model) -> None:
    """Check every probe of ``model`` (names unique, values allowed, positions against
    the populations' geometry); raise ParamsError on the first problem."""
    if not model.probes:
        fail("model.probes", model.probes, "need at least one probe")
    pnames = []
    for probe in model.probes:
        if not isinstance(probe, PROBE_TYPES):
            fail(
                "model.probes",
                probe,
                "entries must be " + ", ".join(t.__name__ for t in PROBE_TYPES),
            )
        if not isinstance(probe.name, str) or not NAME.match(probe.name):
            fail(
                "probes.name", probe.name, "must start with a letter and use A-Z a-z 0-9 _ ( ) + -"
            )
        if probe.name in pnames:
            fail("probes.name", probe.name, "probe names must be unique")
        pnames.append(probe.name)
        if isinstance(probe, GaussCylinderProbe):
            p = f"probes[{probe.name}]"
            z = float_array(f"{p}.z", probe.z, "a tuple of contact depths (µm)")
            z = z if z.ndim == 1 else None
            if z is None or z.size == 0:
                fail(f"{p}.z", probe.z, "need at least one contact depth (µm)")
            if not np.all(np.isfinite(z)):
                fail(f"{p}.z", probe.z, "contact depths must be finite (µm)")
            positive(f"{p}.sigma", probe.sigma)
            positive(f"{p}.R", probe.R)
            positive(f"{p}.sigma_z", probe.sigma_z)
        if isinstance(probe, FourSphereEEGProbe):
            _check_eeg(probe, model)
        if isinstance(probe, MEGProbe):
            _check_meg(probe, model)
        if isinstance(probe, LaminarCSDProbe):
            _check_csd(probe, model)


#: relative tolerance of "on the scalp" (electrode positions computed from angles)
SCALP_RTOL = 1e-9


def _check_eeg(probe: FourSphereEEGProbe, model) -> None:
    """The head model, the electrodes and the dipole positions of an EEG probe
    (what LFPykit's ``FourSphereVolumeConductor`` requires, checked up front)."""
    p = f"probes[{probe.name}]"
    radii = float_array(f"{p}.radii", probe.radii, "4 radii (µm)")
    if (
        radii.shape != (4,)
        or not np.all(np.isfinite(radii))
        or not radii[0] > 0
        or not np.all(np.diff(radii) > 0)
    ):
        fail(
            f"{p}.radii",
            probe.radii,
            "must be the 4 outer radii (µm) of brain, CSF, skull and scalp, "
            "with 0 < brain < CSF < skull < scalp",
        )
    sigmas = float_array(f"{p}.sigmas", probe.sigmas, "4 conductivities (S/m)")
    if sigmas.shape != (4,) or not np.all(np.isfinite(sigmas)) or not np.all(sigmas > 0):
        fail(
            f"{p}.sigmas",
            probe.sigmas,
            "must be the 4 conductivities (S/m) of brain, CSF, skull and scalp, each > 0",
        )
    el = float_array(f"{p}.electrodes", probe.electrodes, "a tuple of (x, y, z) positions (µm)")
    if el.ndim != 2 or el.shape[0] == 0 or el.shape[1] != 3 or not np.all(np.isfinite(el)):
        fail(
            f"{p}.electrodes",
            probe.electrodes,
            "must be a non-empty tuple of (x, y, z) positions (µm), e.g. ((0, 0, 90000),)",
        )
    for i, r in enumerate(np.linalg.norm(el, axis=1)):
        if not radii[0] <= r <= radii[3] * (1 + SCALP_RTOL):
            fail(
                f"{p}.electrodes[{i}]",
                tuple(el[i].tolist()),
                f"is {r:g} µm from the head centre; an electrode must lie between the brain "
                f"surface (radii[0] = {radii[0]:g} µm) and the scalp surface "
                f"(radii[3] = {radii[3]:g} µm)",
            )
    # the dipole of Y sits at radii[0] + soma depth, and the soma at geometry.loc
    for Y in model.postsynaptic:
        loc = model.population(Y).geometry.loc
        if not -radii[0] < loc < 0:
            fail(
                f"populations[{Y}].geometry.loc",
                loc,
                f"must be below the cortical surface, within (-{radii[0]:g}, 0) µm, with the "
                f"EEG probe {probe.name!r}: the surface is at z = 0 µm and the dipole sits at "
                f"radii[0] + soma depth, inside the brain",
            )


def _vectors(param: str, value, what: str) -> np.ndarray:
    """``value`` as an (n, 3) array of finite vectors, n >= 1, or a ParamsError."""
    v = float_array(param, value, what)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] != 3 or not np.all(np.isfinite(v)):
        fail(param, value, f"must be {what}")
    return v


def meg_geometry(probe: MEGProbe) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sensors (n, 3) µm, unit orientations (n, 3), unit column axis (3,)) of a checked
    MEG probe: orientations None are radial, vectors are normalised."""
    sensors = np.asarray(probe.sensors, dtype=float).reshape(-1, 3)
    if probe.orientations is None:
        orient = sensors / np.linalg.norm(sensors, axis=1)[:, None]
    else:
        orient = np.asarray(probe.orientations, dtype=float).reshape(-1, 3)
        orient = orient / np.linalg.norm(orient, axis=1)[:, None]
    axis = np.asarray(probe.column_axis, dtype=float)
    return sensors, orient, axis / np.linalg.norm(axis)


def meg_dipole_location(probe: MEGProbe, soma_depth: float) -> np.ndarray:
    """(0, 0, brain_radius) + soma_depth · column axis (µm): where the dipole of a
    population with its soma at ``soma_depth`` (µm, < 0 below the surface) sits."""
    _s, _o, axis = meg_geometry(probe)
    return np.array([0.0, 0.0, float(probe.brain_radius)]) + float(soma_depth) * axis


#: relative tolerance of a sensor on a dipole (infinite medium) or of |sensor| > |dipole|
MEG_RTOL = 1e-9


def check_meg_location(probe: MEGProbe, location: np.ndarray, who: str) -> str | None:
    """What is wrong with a dipole at ``location`` (µm) for this probe, or None: with
    ``"sphere"`` every sensor must be farther from the head centre than the dipole
    (outside the conductor's sphere through it), with ``"infinite"`` no sensor may sit
    on it."""
    sensors, _o, _a = meg_geometry(probe)
    r_p = float(np.linalg.norm(location))
    for i, s in enumerate(sensors):
        if probe.head == "sphere" and not np.linalg.norm(s) > r_p * (1 + MEG_RTOL):
            return (
                f"sensor {i} at {tuple(s.tolist())} µm is {np.linalg.norm(s):g} µm from the head "
                f"centre, not farther than the dipole of {who} at {r_p:g} µm; the Sarvas formula "
                "needs every sensor outside the conductor (sensors beyond the brain radius)"
            )
        if np.linalg.norm(s - location) <= MEG_RTOL * max(r_p, 1.0):
            return f"sensor {i} at {tuple(s.tolist())} µm sits on the dipole of {who}"
    return None


def _check_meg(probe: MEGProbe, model) -> None:
    p = f"probes[{probe.name}]"
    sensors = _vectors(
        f"{p}.sensors",
        probe.sensors,
        "a non-empty tuple of (x, y, z) sensor positions (µm, head centre at the origin)",
    )
    if probe.orientations is not None:
        orient = _vectors(
            f"{p}.orientations",
            probe.orientations,
            "None (radial) or one (x, y, z) direction per sensor",
        )
        if orient.shape != sensors.shape:
            fail(
                f"{p}.orientations",
                probe.orientations,
                f"need one direction per sensor ({sensors.shape[0]} sensors)",
            )
        for i, n in enumerate(np.linalg.norm(orient, axis=1)):
            if not n > 0:
                fail(f"{p}.orientations[{i}]", probe.orientations[i], "must not be zero")
    elif np.any(np.linalg.norm(sensors, axis=1) == 0):
        fail(f"{p}.sensors", probe.sensors, "a radial orientation needs sensors off the centre")
    if probe.head not in ("sphere", "infinite"):
        fail(f"{p}.head", probe.head, "allowed: 'sphere', 'infinite'")
    positive(f"{p}.brain_radius", probe.brain_radius)
    axis = float_array(f"{p}.column_axis", probe.column_axis, "an (x, y, z) direction")
    if axis.shape != (3,) or not np.all(np.isfinite(axis)) or not np.linalg.norm(axis) > 0:
        fail(f"{p}.column_axis", probe.column_axis, "must be a non-zero (x, y, z) direction")
    for Y in model.postsynaptic:
        loc = model.population(Y).geometry.loc
        problem = check_meg_location(probe, meg_dipole_location(probe, loc), Y)
        if problem is not None:
            fail(f"{p}.sensors", probe.sensors, problem)


def csd_cylinders(probe: LaminarCSDProbe) -> tuple[np.ndarray, float]:
    """(centre depths (µm), height (µm)) of a checked CSD probe's cylinders."""
    z = np.asarray(probe.z, dtype=float).ravel()
    if probe.h is not None:
        return z, float(probe.h)
    return z, float(np.abs(np.diff(z)).mean())


def _check_csd(probe: LaminarCSDProbe, model) -> None:
    p = f"probes[{probe.name}]"
    z = float_array(f"{p}.z", probe.z, "a tuple of cylinder centre depths (µm)")
    if z.ndim != 1 or z.size == 0 or not np.all(np.isfinite(z)):
        fail(f"{p}.z", probe.z, "must be a non-empty tuple of finite centre depths (µm)")
    if probe.h is None:
        steps = np.abs(np.diff(z))
        if z.size < 2:
            fail(f"{p}.h", None, "give the cylinders' height (µm): one depth has no spacing")
        if not steps.min() > 0 or steps.max() - steps.min() > SPACING_RTOL * steps.max():
            fail(
                f"{p}.h",
                None,
                "the default height is the spacing of z, which must then be uniform "
                f"(spacings {sorted(set(np.round(steps, 6).tolist()))} µm); give h (µm)",
            )
    else:
        positive(f"{p}.h", probe.h)
    if probe.r is not None:
        positive(f"{p}.r", probe.r)
