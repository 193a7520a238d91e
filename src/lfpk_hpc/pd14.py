"""The Potjans & Diesmann (2014) cortical microcircuit as a kernel model.

Builds the :class:`~lfpk_hpc.params.Model` of params/potjans.py (8 postsynaptic
populations) and params/potjans_16types.py (16 postsynaptic cell types as in
Hagen et al. 2016). Every number below carries its source; the tables are those of
shared/reference/DOMAIN.md:

[PD14]  Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit.
        Cereb Cortex 24:785-806; values as in NEST's example / INM-6
        microcircuit-PD14-model (network_params.py, helpers.py).
[H16]   Hagen E et al. (2016) Hybrid scheme for modeling local field potentials from
        point-neuron networks. Cereb Cortex 26:4461-4496; INM-6/hybridLFPy
        examples/Hagen_et_al_2016_cercor (cellsim16popsParams_default.py,
        binzegger_connectivity_table.json).
[B04]   Binzegger T, Douglas RJ, Martin KAC (2004) J Neurosci 24:8441-8453: per-layer
        synapse counts k_yXL of the 16 cell types, as tabulated by [H16].

Units: µm, ms, mV, nA, spikes/s, S/m.
"""

from __future__ import annotations

import math
from pathlib import Path

from .params import (
    CellModel,
    Connection,
    CurrentDipoleProbe,
    Distribution,
    FourSphereEEGProbe,
    GaussCylinderProbe,
    Geometry,
    KernelSettings,
    LaminarCSDProbe,
    Model,
    Placement,
    Population,
    Section,
    exp_psc,
    truncnorm,
)

# --------------------------------------------------------------------------- [PD14] tables

#: the eight populations of the microcircuit, in the model's order
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")

#: full-scale population sizes [PD14, Table 5]
N_FULL = {
    "L23E": 20683,
    "L23I": 5834,
    "L4E": 21915,
    "L4I": 5479,
    "L5E": 4850,
    "L5I": 1065,
    "L6E": 14395,
    "L6I": 2948,
}

#: connection probabilities C[target][source] [PD14, Table 5; NEST conn_probs]
_C_ROWS = {
    "L23E": (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    "L23I": (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    "L4E": (0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0),
    "L4I": (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    "L5E": (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    "L5I": (0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0),
    "L6E": (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    "L6I": (0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443),
}
#: connection probabilities ``C[Y][X]`` (Potjans & Diesmann 2014, Table 5)
C = {Y: dict(zip(POPULATIONS, row, strict=True)) for Y, row in _C_ROWS.items()}

#: thalamic population [PD14]: size and connection probabilities onto each Y
N_TC = 902
#: connection probabilities of the thalamic population TC onto each population
C_TC = dict(zip(POPULATIONS, (0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196), strict=True))

#: stationary rates (spikes/s) of the full-scale model: `full_mean_rates` of
#: INM-6/microcircuit-PD14-model at 6151de2 (2022), one full-scale NEST run
RATES = dict(
    zip(POPULATIONS, (0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829), strict=True)
)

#: the point-neuron model (iaf_psc_exp) [PD14]
NEURON_PARAMS = {"C_m": 250.0, "tau_m": 10.0, "tau_syn": 0.5}  # pF, ms, ms
#: mV, mean PSP amplitude
PSP_MEAN = 0.15
#: relative strength of inhibition
G_INH = -4.0


def psc_per_psp(C_m=250.0, tau_m=10.0, tau_syn=0.5) -> float:
    """PSC amplitude (pA) per PSP amplitude (mV) of iaf_psc_exp [PD14 helpers]:
    1 / (pre·(frac^τm − frac^τs)), sub = 1/(τs − τm), pre = τm·τs/C_m·sub,
    frac = (τm/τs)^sub. 585.39 pA/mV for the PD14 neuron.

    Parameters
    ----------
    C_m : float, optional
        Membrane capacitance (pF).
    tau_m : float, optional
        Membrane time constant (ms).
    tau_syn : float, optional
        Synaptic time constant (ms).

    Returns
    -------
    float
        PSC amplitude per PSP amplitude (pA/mV).
    """
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac**tau_m - frac**tau_syn))


def weight(X: str, Y: str) -> float:
    """PSC amplitude (nA) of a synapse from X onto Y: 0.15 mV PSP, g = −4 for
    inhibitory X, doubled for L4E → L23E [PD14]. Positive: depolarising.

    Parameters
    ----------
    X : str
        Presynaptic population.
    Y : str
        Postsynaptic population.

    Returns
    -------
    float
        The PSC amplitude (nA).
    """
    w = PSP_MEAN * psc_per_psp(**NEURON_PARAMS) * 1e-3  # nA
    if X.endswith("I"):
        w *= G_INH
    if (X, Y) == ("L4E", "L23E"):
        w *= 2.0
    return w


def delay(X: str) -> Distribution:
    """Delay distribution (ms): normal with mean 1.5 (E, TC) or 0.75 (I), SD half the
    mean, redrawn below 0.05 ms [PD14, NEST] — a normal truncated at 0.05 ms.

    Parameters
    ----------
    X : str
        Presynaptic population.

    Returns
    -------
    Distribution
        The delay distribution (ms).
    """
    mean = 0.75 if X.endswith("I") else 1.5
    sd = 0.5 * mean
    return truncnorm(loc=mean, scale=sd, a=(0.05 - mean) / sd, b=math.inf)


#: one synapse per count: the PD14 synapse count K already includes multapses
SINGLE = Distribution("uniform", {"loc": 0.5, "scale": 1.0})

# --------------------------------------------------------------------------- [H16] geometry

#: layer boundaries (top, bottom) in µm, cortical surface at z = 0 [H16]
LAYERS = {
    "L1": (0.0, -81.6),
    "L23": (-81.6, -587.1),
    "L4": (-587.1, -922.2),
    "L5": (-922.2, -1170.0),
    "L6": (-1170.0, -1491.7),
}
#: µm: 1 mm² of cortex [H16], 564.19 µm
RADIUS = math.sqrt(1e6 / math.pi)
#: µm: somata uniform within ±25 µm of the layer midpoint [H16]
SOMA_HALF_RANGE = 25.0
#: µm: SD of that uniform spread, 14.43 µm
SOMA_SD = 2 * SOMA_HALF_RANGE / math.sqrt(12)
#: passive membrane of the kernel cells [H16]
PASSIVE = {"Ra": 150.0, "cm": 1.0, "g_pas": 1e-4}


def layer_mid(layer: str) -> float:
    """The depth of the middle of ``layer`` (µm; the cortical surface at 0).

    Parameters
    ----------
    layer : str
        A key of :data:`LAYERS`.

    Returns
    -------
    float
        Its middle's depth (µm).
    """
    top, bottom = LAYERS[layer]
    return 0.5 * (top + bottom)


# --------------------------------------------------------------------------- [H16] cell types

#: 16 cell types: (population, soma layer, N_y, pyramidal?) [H16, Binzegger table]
CELL_TYPES = {
    "p23": ("L23E", "L23", 20683, True),
    "b23": ("L23I", "L23", 2477, False),
    "nb23": ("L23I", "L23", 3356, False),
    "p4": ("L4E", "L4", 7305, True),
    "ss4(L23)": ("L4E", "L4", 7305, False),
    "ss4(L4)": ("L4E", "L4", 7305, False),
    "b4": ("L4I", "L4", 4287, False),
    "nb4": ("L4I", "L4", 1191, False),
    "p5(L23)": ("L5E", "L5", 3816, True),
    "p5(L56)": ("L5E", "L5", 1033, True),
    "b5": ("L5I", "L5", 456, False),
    "nb5": ("L5I", "L5", 608, False),
    "p6(L4)": ("L6E", "L6", 10816, True),
    "p6(L56)": ("L6E", "L6", 3578, True),
    "b6": ("L6I", "L6", 1474, False),
    "nb6": ("L6I", "L6", 1474, False),
}

#: the reconstructed morphologies of [H16] shipped with lfpk_hpc (GPL-3.0, from
#: hybridLFPy; see its README.md); ``build(morphologies="hagen2016")`` uses them
HAGEN2016_MORPHOLOGIES = Path(__file__).resolve().parent / "data" / "morphologies" / "hagen2016"

#: reconstructed morphology of each type [H16 morphologies/stretched]
MORPHOLOGY_FILES = {
    "p23": "L23E_oi24rpy1.hoc",
    "b23": "L23I_oi38lbc1.hoc",
    "nb23": "L23I_oi38lbc1.hoc",
    "p4": "L4E_53rpy1.hoc",
    "ss4(L23)": "L4E_j7_L4stellate.hoc",
    "ss4(L4)": "L4E_j7_L4stellate.hoc",
    "b4": "L4I_oi26rbc1.hoc",
    "nb4": "L4I_oi26rbc1.hoc",
    "p5(L23)": "L5E_oi15rpy4.hoc",
    "p5(L56)": "L5E_j4a.hoc",
    "b5": "L5I_oi15rbc1.hoc",
    "nb5": "L5I_oi15rbc1.hoc",
    "p6(L4)": "L6E_51-2a.CNG.hoc",
    "p6(L56)": "L6E_oi15rpy4.hoc",
    "b6": "L6I_oi15rbc1.hoc",
    "nb6": "L6I_oi15rbc1.hoc",
}

#: the type whose morphology represents a population in the 8-population model: the
#: most numerous type (L4E: spiny stellates are 2/3 of it; L5E: p5(L23), 3816 of 4849;
#: L6E: p6(L4), 10816 of 14394)
REPRESENTATIVE = {
    "L23E": "p23",
    "L23I": "nb23",
    "L4E": "ss4(L4)",
    "L4I": "b4",
    "L5E": "p5(L23)",
    "L5I": "nb5",
    "L6E": "p6(L4)",
    "L6I": "b6",
}

_X9 = ("TC", *POPULATIONS)

#: per-cell synapse counts k_yXL of each type y from X in layer L [B04 via H16;
#: DOMAIN.md appendix]; columns TC, L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I
_K_YXL = {
    "p23": {"L1": (0, 50, 21, 1, 0, 0, 0, 0, 0), "L23": (0, 2148, 1058, 977, 467, 158, 0, 109, 0)},
    "b23": {"L23": (0, 3361, 912, 789, 315, 429, 0, 71, 0)},
    "nb23": {"L23": (0, 2716, 822, 640, 270, 344, 0, 52, 0)},
    "p4": {
        "L1": (18, 19, 4, 0, 0, 0, 0, 0, 0),
        "L23": (0, 209, 34, 143, 8, 26, 0, 8, 0),
        "L4": (83, 83, 17, 1011, 761, 26, 0, 628, 0),
    },
    "ss4(L23)": {"L4": (82, 107, 26, 1007, 755, 23, 0, 614, 0)},
    "ss4(L4)": {"L4": (95, 60, 20, 1188, 858, 20, 0, 750, 0)},
    "b4": {"L4": (54, 1649, 18, 1752, 931, 16, 0, 1537, 0)},
    "nb4": {"L4": (67, 876, 12, 2032, 1033, 15, 0, 1864, 0)},
    "p5(L23)": {
        "L1": (0, 10, 4, 0, 0, 0, 0, 0, 0),
        "L23": (0, 225, 84, 98, 1, 21, 0, 8, 0),
        "L4": (0, 6, 5, 85, 8, 1, 0, 78, 0),
        "L5": (0, 1716, 201, 830, 17, 371, 477, 156, 0),
    },
    "p5(L56)": {
        "L1": (0, 309, 151, 8, 0, 3, 0, 0, 0),
        "L23": (0, 747, 280, 326, 3, 72, 0, 28, 0),
        "L4": (0, 23, 16, 288, 27, 5, 0, 263, 0),
        "L5": (0, 1958, 215, 958, 17, 432, 565, 201, 0),
    },
    "b5": {"L5": (0, 1166, 159, 571, 12, 300, 404, 124, 0)},
    "nb5": {"L5": (0, 1166, 159, 571, 12, 300, 404, 124, 0)},
    "p6(L4)": {
        "L23": (0, 38, 9, 16, 0, 8, 0, 1, 0),
        "L4": (15, 26, 13, 326, 106, 14, 0, 341, 108),
        "L5": (1, 251, 10, 118, 5, 119, 13, 24, 119),
        "L6": (28, 41, 5, 79, 2, 141, 8, 248, 481),
    },
    "p6(L56)": {
        "L1": (0, 1, 0, 0, 0, 0, 0, 0, 0),
        "L23": (0, 90, 22, 38, 1, 19, 0, 3, 2),
        "L4": (1, 3, 1, 41, 13, 1, 0, 43, 13),
        "L5": (0, 60, 2, 28, 1, 28, 3, 5, 28),
        "L6": (49, 70, 9, 136, 4, 241, 15, 424, 833),
    },
    "b6": {"L6": (17, 766, 5, 74, 2, 136, 8, 979, 459)},
    "nb6": {"L6": (17, 766, 5, 74, 2, 136, 8, 979, 459)},
}


def k_yXL(y: str, X: str) -> dict[str, float]:
    """Per-cell synapse counts of type y from X, per layer [B04 via H16].

    Parameters
    ----------
    y : str
        A cell type of :data:`CELL_TYPES`.
    X : str
        Presynaptic population.

    Returns
    -------
    dict of str to float
        Layer → synapses per cell (a count).
    """
    j = _X9.index(X)
    return {L: float(row[j]) for L, row in _K_YXL[y].items()}


def types_of(Y: str) -> list[str]:
    """The cell types of Hagen et al. (2016) of population ``Y``.

    Parameters
    ----------
    Y : str
        A PD14 population.

    Returns
    -------
    list of str
        Its cell types.
    """
    return [y for y, (pop, *_rest) in CELL_TYPES.items() if pop == Y]


def layer_counts(Y: str, X: str) -> dict[str, float]:
    """Synapses per cell from X onto the cells of ``Y`` (a population or a type) per
    layer: for a population, the types' k_yXL averaged with weights N_y.

    Parameters
    ----------
    Y : str
        A population or a cell type.
    X : str
        Presynaptic population.

    Returns
    -------
    dict of str to float
        Layer → synapses per cell (a count).
    """
    if Y in CELL_TYPES:
        return k_yXL(Y, X)
    out: dict[str, float] = {}
    types = types_of(Y)
    n = sum(CELL_TYPES[y][2] for y in types)
    for y in types:
        for L, k in k_yXL(y, X).items():
            out[L] = out.get(L, 0.0) + CELL_TYPES[y][2] * k / n
    return out


def placement(Y: str, X: str, pyramidal: bool) -> Placement:
    """Layer-specific placement: the fraction of X's synapses onto Y in each layer,
    spread uniformly over that layer's depth (membrane area within the layer), on
    the apical and basal dendrites of pyramidal cells and the dendrites of others
    (never the soma) [H16]. A pathway without layer data is spread over all
    dendrites by area.

    Parameters
    ----------
    Y : str
        A population or a cell type.
    X : str
        Presynaptic population.
    pyramidal : bool
        Whether Y's cells are pyramidal (their apical dendrites take synapses).

    Returns
    -------
    Placement
        The placement (depths in µm).
    """
    sections = ("apic", "dend") if pyramidal else ("dend",)
    counts = {L: k for L, k in layer_counts(Y, X).items() if k > 0}
    total = sum(counts.values())
    if total == 0:
        top, bottom = LAYERS["L1"][0], LAYERS["L6"][1]
        return Placement(
            sections, (Distribution("uniform", {"loc": bottom, "scale": top - bottom}),)
        )
    depth, weights = [], []
    for L in LAYERS:
        if L in counts:
            top, bottom = LAYERS[L]
            depth.append(Distribution("uniform", {"loc": bottom, "scale": top - bottom}))
            weights.append(counts[L] / total)
    return Placement(sections, tuple(depth), tuple(weights))


# --------------------------------------------------------------------------- cells


def generated_morphology(layer: str, pyramidal: bool) -> tuple[Section, ...]:
    """A simple cell for a soma in ``layer`` (µm, soma at the origin): a 20 × 20 µm
    soma and four 3 µm dendrites 100 µm out and 100 µm down (pyramidal) or two up
    and two down (interneurons, stellates); pyramidal cells add a 3 µm apical
    dendrite from the top of the soma to the cortical surface (z = 0 when the soma
    sits at the layer midpoint), after the ball-and-sticks cells of [H16].

    Parameters
    ----------
    layer : str
        The soma's layer, a key of :data:`LAYERS`.
    pyramidal : bool
        Whether the cell is pyramidal.

    Returns
    -------
    tuple of Section
        The sections (µm).
    """
    secs = [Section("soma", start=(0, 0, -10), end=(0, 0, 10), diam=20)]
    if pyramidal:
        ends = ((100, 0, -110), (-100, 0, -110), (0, 100, -110), (0, -100, -110))
    else:
        ends = ((100, 0, 110), (-100, 0, 110), (0, 100, -110), (0, -100, -110))
    for i, end in enumerate(ends, start=1):
        z0 = 10 if end[2] > 0 else -10
        secs.append(
            Section(
                f"dend{i}",
                start=(0, 0, z0),
                end=end,
                diam=3,
                parent="soma",
                parent_x=1 if z0 > 0 else 0,
            )
        )
    if pyramidal:
        secs.append(
            Section(
                "apic",
                start=(0, 0, 10),
                end=(0, 0, -layer_mid(layer)),
                diam=3,
                parent="soma",
                parent_x=1,
            )
        )
    return tuple(secs)


def cell_model(cell_type: str, morphologies: str | Path | None) -> CellModel:
    """The passive :class:`~lfpk_hpc.params.CellModel` of ``cell_type``: generated for its
    layer, or a reconstruction from the folder ``morphologies`` (``"hagen2016"``: the shipped
    cells).

    Parameters
    ----------
    cell_type : str
        A cell type of :data:`CELL_TYPES`.
    morphologies : str or pathlib.Path or None
        Folder of reconstructions, ``"hagen2016"``, or None for a generated cell.

    Returns
    -------
    CellModel
        The passive cell model.
    """
    _pop, layer, _n, pyramidal = CELL_TYPES[cell_type]
    if morphologies == "hagen2016":
        morphologies = HAGEN2016_MORPHOLOGIES
    if morphologies is not None:
        morph = str(Path(morphologies) / MORPHOLOGY_FILES[cell_type])
    else:
        morph = generated_morphology(layer, pyramidal)
    return CellModel(morphology=morph, e_pas=None, **PASSIVE)


# --------------------------------------------------------------------------- the model


# --------------------------------------------------------------------------- drives

#: the upper half of L2/3: from its top to the L2/3 somata's mean depth (µm)
UPPER_L23 = (LAYERS["L23"][0], 0.5 * sum(LAYERS["L23"]))


def drive_placement(Y: str, location: str) -> Placement:
    """Where an evoked drive's synapses sit on the cells of Y (µm; uniform in depth,
    by membrane area, as the PD14 pathways' layers):

    - ``"proximal"``: the dendrites in Y's own soma layer, the basal dendrites of
      pyramidal cells (sections ``dend``). HNN puts proximal synapses on the basal and
      oblique dendrites near the soma of its L2/3 and L5 pyramids (sections basal_2,
      basal_3, apical_oblique) and on its basket cells, and models them as the
      feed-forward input from the lemniscal thalamus (hnn-core 0.6.1,
      cells_default.py ``sect_loc``; its ERP tutorial, doc/gui/tutorial_erp.ipynb);
      for L4 and L6, PD14's layers of thalamic input (C_TC > 0 only onto L4E, L4I, L6E,
      L6I), the soma layer is that layer.
    - ``"distal"``: the dendrites in layer 1 and the upper half of layer 2/3, from the
      cortical surface down to the L2/3 somata's mean depth (0 to −334.35 µm): the
      apical tufts of pyramidal cells (sections ``apic``) and the upward dendrites of
      L2/3 interneurons. HNN puts distal synapses on the apical tufts (apical_tuft) of
      its L2/3 and L5 pyramids and on its L2/3 basket cells, the feedback input from
      higher-order cortex or the non-lemniscal thalamus (same sources).

    ``Y`` is a population or one of the 16 cell types. Cells with no dendrite in the
    distal layers (L4 stellates and the interneurons of L4, L5 and L6) cannot take a
    distal drive (ParamsError).

    Parameters
    ----------
    Y : str
        A population or a cell type.
    location : str
        ``"proximal"`` or ``"distal"``.

    Returns
    -------
    Placement
        The placement (depths in µm).

    Raises
    ------
    ParamsError
        Y's cells cannot take a distal drive.
    """
    from .params import ParamsError

    y = Y if Y in CELL_TYPES else REPRESENTATIVE.get(Y)
    if y is None:
        raise ParamsError(
            f"drive target {Y!r} is invalid: not a PD14 population or cell type "
            f"({', '.join(POPULATIONS)})"
        )
    _pop, layer, _n, pyramidal = CELL_TYPES[y]
    if location == "proximal":
        top, bottom = LAYERS[layer]
        return Placement(
            ("dend",), (Distribution("uniform", {"loc": bottom, "scale": top - bottom}),)
        )
    if location == "distal":
        if not (pyramidal or layer == "L23"):
            raise ParamsError(
                f"drive target {Y!r} is invalid for a distal drive: its cells have no dendrite "
                "in layer 1 or the upper half of layer 2/3 (distal targets: pyramidal cells "
                "and L2/3 interneurons)"
            )
        top, bottom = LAYERS["L1"][0], UPPER_L23[1]
        sections = ("apic",) if pyramidal else ("dend",)
        return Placement(
            sections, (Distribution("uniform", {"loc": bottom, "scale": top - bottom}),)
        )
    raise ParamsError(f"drive location = {location!r} is invalid: allowed 'proximal', 'distal'")


def add_drives(model: Model, drives) -> Model:
    """``model`` with the evoked drives (:class:`lfpk_hpc.drives.EvokedDrive`) as
    presynaptic populations with their connections, their synapses placed by
    :func:`drive_placement`. A bad value (:func:`lfpk_hpc.drives.check_drive`), a
    target that is not a postsynaptic population of the model or one a distal drive
    cannot reach is an error naming the drive's parameter.

    Parameters
    ----------
    model : Model
        The PD14 model.
    drives : iterable of EvokedDrive
        The drives.

    Returns
    -------
    Model
        The model with the drives.

    Raises
    ------
    ParamsError
        A drive has a bad value or a target it cannot reach.
    """
    from .drives import check_drive, expand
    from .params import ParamsError

    drives = tuple(drives)
    for d in drives:  # their values first: the messages name the drive's parameters
        check_drive(d, model.postsynaptic)

    def place(Y, d):
        try:
            return drive_placement(Y, d.location)
        except ParamsError as exc:
            raise ParamsError(f"drives[{d.name}].targets[{Y}]: {exc}") from None

    return expand(model, drives, place)


# --------------------------------------------------------------------------- probes


def csd_probe(name: str = "csd") -> LaminarCSDProbe:
    """The CSD in cylinders of 100 µm about the LFP contacts (z = 0 … −1500 µm) of each
    population's radius (564.19 µm), as Hagen et al. (2016) compute it.

    Parameters
    ----------
    name : str, optional
        The probe's name.

    Returns
    -------
    LaminarCSDProbe
        The probe (its CSD in µA/mm³).
    """
    return LaminarCSDProbe(name, z=tuple(-100.0 * k for k in range(16)), h=100.0)


def probes() -> tuple:
    """``lfp``: 16 contacts at z = 0, −100, …, −1500 µm, σ 0.3 S/m, Gauss cylinder of
    the population radius and the soma spread; ``cdm``: current dipole moment;
    ``eeg``: the potential on top of the scalp (0, 0, 90000) µm from the dipole in the
    four-sphere head model with its default radii (brain, CSF, skull, scalp: 79000,
    80000, 85000, 90000 µm; Næss et al. 2017, Front Hum Neurosci 11:490) and
    conductivities (0.3, 1.5, 0.015, 0.3 S/m; LFPykit's defaults, after Næss et
    al. 2017), the cortex on top of the brain sphere."""
    z = tuple(-100.0 * k for k in range(16))
    return (
        GaussCylinderProbe("lfp", z=z, sigma=0.3, R=RADIUS, sigma_z=SOMA_SD),
        CurrentDipoleProbe("cdm"),
        FourSphereEEGProbe("eeg"),
    )


def _synapse_count_log(C: float, n_pre: float, n_post: float) -> float:
    return math.log1p(-C) / math.log1p(-1.0 / (n_pre * n_post)) if C > 0 else 0.0


def build(
    *,
    scale: float = 1.0,
    cell_types: str = "8",
    morphologies: str | Path | None = None,
    thalamus: bool = False,
    synapse_count: str = "log",
    rates: dict | None = None,
    dt: float = 2**-4,
    tau: float = 100.0,
    name: str | None = None,
    drives=(),
    probe_specs: tuple | None = None,
) -> Model:
    """The PD14 kernel model.

    ``scale``: fraction of the full-scale population sizes (connection
    probabilities kept, so in-degrees shrink with it); ``cell_types``: ``"8"``
    postsynaptic populations or ``"16"`` cell types [H16]; ``morphologies``: a
    folder with the [H16] reconstructions instead of the generated cells, or
    ``"hagen2016"`` for the copies shipped with lfpk_hpc (:data:`HAGEN2016_MORPHOLOGIES`);
    ``thalamus``: add TC (902 cells, rate 0 spikes/s unless given in ``rates``) as a
    presynaptic population; ``synapse_count``: ``"log"`` (PD14's
    K = ln(1 − C)/ln(1 − 1/(N_pre N_post))) or ``"linear"`` (C·N_pre·N_post, as
    LFPykernels); ``rates``: spikes/s per population, default :data:`RATES`;
    ``drives``: evoked drives (:class:`lfpk_hpc.drives.EvokedDrive`) added as presynaptic
    populations (:func:`add_drives`); ``probe_specs``: the probes instead of :func:`probes`.

    Parameters
    ----------
    scale : float, optional
        Fraction of the full-scale population sizes (dimensionless, within (0, 1]).
    cell_types : str, optional
        ``"8"`` or ``"16"``.
    morphologies : str or pathlib.Path or None, optional
        Folder of reconstructions, ``"hagen2016"``, or None for generated cells.
    thalamus : bool, optional
        Add TC as a presynaptic population.
    synapse_count : str, optional
        ``"log"`` or ``"linear"``.
    rates : dict of str to float, optional
        Population → firing rate (spikes/s).
    dt : float, optional
        The kernels' time step (ms).
    tau : float, optional
        Half-width of the kernels' window of lags (ms).
    name : str, optional
        The model's name; None: from the scale and the cell types.
    drives : iterable of EvokedDrive, optional
        Evoked drives.
    probe_specs : tuple, optional
        The probes; None: :func:`probes`.

    Returns
    -------
    Model
        The model.

    Raises
    ------
    ParamsError
        A value is not allowed.
    """
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        from .params import ParamsError

        raise ParamsError(f"pd14 scale = {scale!r} is invalid: must be within (0, 1]")
    if cell_types not in ("8", "16"):
        from .params import ParamsError

        raise ParamsError(f"pd14 cell_types = {cell_types!r} is invalid: allowed '8', '16'")
    nu = dict(RATES)
    nu["TC"] = 0.0
    for X in rates or {}:
        if X not in nu:
            from .params import ParamsError

            raise ParamsError(
                f"pd14 rates[{X!r}] is invalid: no such population (populations: {', '.join(nu)})"
            )
    nu.update(rates or {})
    n_x = {X: max(1, round(N_FULL[X] * scale)) for X in POPULATIONS}
    pres = list(POPULATIONS) + (["TC"] if thalamus else [])
    if thalamus:
        n_x["TC"] = max(1, round(N_TC * scale))

    def c_of(X, Y):
        return C_TC[Y] if X == "TC" else C[Y][X]

    geometry = {L: Geometry(radius=RADIUS, loc=layer_mid(L), scale=SOMA_SD) for L in LAYERS}
    pops, cons = [], []
    if cell_types == "8":
        for X in POPULATIONS:
            y = REPRESENTATIVE[X]
            pops.append(
                Population(
                    X,
                    N=n_x[X],
                    nu=nu[X],
                    cell=cell_model(y, morphologies),
                    geometry=geometry[CELL_TYPES[y][1]],
                )
            )
        if thalamus:
            pops.append(Population("TC", N=n_x["TC"], nu=nu["TC"]))
        for Y in POPULATIONS:
            pyramidal = CELL_TYPES[REPRESENTATIVE[Y]][3]
            for X in pres:
                cons.append(
                    Connection(
                        X,
                        Y,
                        C=c_of(X, Y),
                        multapses=SINGLE,
                        delay=delay(X),
                        synapse=exp_psc(weight(X, Y), NEURON_PARAMS["tau_syn"]),
                        placement=placement(Y, X, pyramidal),
                    )
                )
    else:
        # [H16]: type y of population Y receives the share T_yX = F_y k_yX / Σ F_y' k_y'X of
        # the K_YX synapses from X (F_y = N_y / N_Y); expressed here as the connection
        # probability C_yX that gives that many synapses with the log formula
        for X in pres:
            pops.append(Population(X, N=n_x[X], nu=nu[X]))
        for y, (Y, layer, n_full, pyramidal) in CELL_TYPES.items():
            n_y = max(1, round(n_full * scale))
            pops.append(
                Population(
                    y, N=n_y, nu=0.0, cell=cell_model(y, morphologies), geometry=geometry[layer]
                )
            )
            for X in pres:
                weights = {t: CELL_TYPES[t][2] * sum(k_yXL(t, X).values()) for t in types_of(Y)}
                total = sum(weights.values())
                share = (
                    weights[y] / total
                    if total > 0
                    else CELL_TYPES[y][2] / sum(CELL_TYPES[t][2] for t in types_of(Y))
                )
                n_Y = max(1, round(N_FULL[Y] * scale))
                K_Y = (
                    _synapse_count_log(c_of(X, Y), n_x[X], n_Y)
                    if synapse_count == "log"
                    else c_of(X, Y) * n_x[X] * n_Y
                )
                K_y = share * K_Y
                if synapse_count == "log":
                    c_y = -math.expm1(K_y * math.log1p(-1.0 / (n_x[X] * n_y)))
                else:
                    c_y = K_y / (n_x[X] * n_y)
                cons.append(
                    Connection(
                        X,
                        y,
                        C=min(c_y, 1.0),
                        multapses=SINGLE,
                        delay=delay(X),
                        synapse=exp_psc(weight(X, Y), NEURON_PARAMS["tau_syn"]),
                        placement=placement(y, X, pyramidal),
                    )
                )
    suffix = "" if cell_types == "8" else "_16types"
    model = Model(
        name=name or f"potjans{suffix}" + (f"_scale{scale:g}" if scale != 1 else ""),
        populations=tuple(pops),
        connections=tuple(cons),
        probes=probes() if probe_specs is None else tuple(probe_specs),
        kernel=KernelSettings(dt=dt, tau=tau, t_X=tau, Vrest=-65.0, g_eff=False),
        synapse_count=synapse_count,
    )
    return add_drives(model, drives) if drives else model


#: the public names (the API reference documents these)
__all__ = [
    "POPULATIONS",
    "N_FULL",
    "C",
    "N_TC",
    "C_TC",
    "RATES",
    "NEURON_PARAMS",
    "PSP_MEAN",
    "G_INH",
    "psc_per_psp",
    "weight",
    "delay",
    "SINGLE",
    "LAYERS",
    "RADIUS",
    "SOMA_HALF_RANGE",
    "SOMA_SD",
    "PASSIVE",
    "layer_mid",
    "CELL_TYPES",
    "HAGEN2016_MORPHOLOGIES",
    "MORPHOLOGY_FILES",
    "REPRESENTATIVE",
    "k_yXL",
    "types_of",
    "layer_counts",
    "placement",
    "generated_morphology",
    "cell_model",
    "UPPER_L23",
    "drive_placement",
    "add_drives",
    "csd_probe",
    "probes",
    "build",
]
