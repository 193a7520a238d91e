"""Parameter scans (``python -m lfpk_hpc scan``): every point's kernels equal those of a
separate run of that point, bit for bit, on any number of ranks and after kill -9 and
--resume; a pathway that cannot differ between points is computed once; a bad point
stops at load with one line naming the point and the parameter."""

import json
import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import (
    ROOT,
    assert_same_kernel_files,
    kernel_file_contents,
    lfpk,
    mpi_env,
    mpirun_command,
)
from test_resume import kill_part_way

HAGEN = ROOT / "params" / "hagen2022.py"
MANY = ROOT / "tests" / "data" / "many_tasks.py"


def run(cmd, cwd, timeout=600):
    return subprocess.run(
        cmd, cwd=cwd, env=mpi_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def write_scan(path: Path, params: Path, product=None, zip_=None) -> Path:
    path.write_text(
        "from lfpk_hpc.scan import Scan\n"
        f"scan = Scan(params={str(params)!r}, product={product or {}!r}, zip={zip_ or {}!r})\n"
    )
    return path


def point_params(path: Path, scan: Path, i: int) -> Path:
    """A params file whose model is point ``i`` of ``scan`` (for a separate run)."""
    path.write_text(
        f"from lfpk_hpc.scan import load_scan\nmodel = load_scan({str(scan)!r})[3][{i}]\n"
    )
    return path


def kernels_only(path, group):
    return {k: v for k, v in kernel_file_contents(path, group).items() if k.startswith("kernels/")}


#: 2 x 2 points: tau changes every kernel's length, nu (with g_eff) every leak
GRID = {"product": {"kernel.tau": [50.0, 100.0]}, "zip_": {"populations[E].nu": [1.0, 3.0]}}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("grid")
    scan = write_scan(cwd / "grid.py", HAGEN, **GRID)
    proc = run(lfpk("scan", scan, "--out", "scan.h5"), cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd, scan, cwd / "scan.h5", proc.stdout


def test_every_point_equals_a_separate_run(grid, tmp_path):
    cwd, scan, out, stdout = grid
    assert "4 points, 16 kernel pathways, 16 distinct" in stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "lfpk_hpc.scan/1" and f.attrs["complete"]
        assert [p.decode() for p in f["axes/paths"][...]] == ["kernel.tau", "populations[E].nu"]
        values = [v.decode() for v in f["axes/values"][...]]
        assert values == ["[50.0, 1.0]", "[50.0, 3.0]", "[100.0, 1.0]", "[100.0, 3.0]"]
        lags = [f[f"points/{i}/kernels/lfp/E/E"].shape[-1] for i in range(4)]
    dt = 2**-4  # params/hagen2022.py
    assert lags == [int(2 * 50 / dt) + 1] * 2 + [int(2 * 100 / dt) + 1] * 2
    for i in range(4):
        params = point_params(tmp_path / f"point{i}.py", scan, i)
        proc = run(lfpk(params, "--out", f"p{i}.h5"), tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert_same_kernel_files(tmp_path / f"p{i}.h5", out, group_b=f"points/{i}")
    # the points differ where their parameters do (no point is another's copy)
    k = [kernels_only(out, f"points/{i}") for i in (0, 1)]
    assert not np.array_equal(k[0]["kernels/lfp/E/E"][0], k[1]["kernels/lfp/E/E"][0])


def test_extract_predict_and_plot_a_point(grid, tmp_path):
    """scan-extract writes what a separate run writes; predict and plot --point read
    the point (the same signals as from the extracted file); a scan file without
    --point, or a point out of range, is a clear error."""
    _cwd, _scan, out, _ = grid
    proc = run(lfpk("scan-extract", out, "--point", 3, "--out", "p3.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "point 3 (kernel.tau=100.0, populations[E].nu=3.0)" in proc.stdout
    assert_same_kernel_files(tmp_path / "p3.h5", out, group_b="points/3")
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "s.npz",
        E=np.sort(rng.uniform(0, 400, 3000)),
        I=np.sort(rng.uniform(0, 400, 1000)),
    )
    for args in (["p3.h5"], [out, "--point", "kernel.tau=100,populations[E].nu=3"]):
        name = "a.h5" if len(args) == 1 else "b.h5"
        proc = run(lfpk("predict", *args[:1], "s.npz", "--out", name, *args[1:]), tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert "signals/lfp" in names and "signals/cdm" in names
        for name in names:
            np.testing.assert_array_equal(a[name][...], b[name][...], err_msg=name)
        assert np.abs(b["signals/lfp"][...]).max() > 0
        assert b.attrs["scan_point"] == 3
    proc = run(lfpk("plot", out, "--point", 1), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.with_suffix(".point1.png").stat().st_size > 10_000
    for cmd, message in [
        (lfpk("plot", out), "is a scan file of 4 points: choose one with --point (0..3)"),
        (
            lfpk("predict", out, "s.npz", "--out", "c.h5", "--point", 4),
            f"--point 4 is invalid: '{out}' is a scan of 4 points (allowed 0..3, or PATH=VALUE",
        ),
        (
            lfpk("plot", out, "--point", "kernel.tau=100"),
            "2 points match (2, 3); name more axes",
        ),
        (
            lfpk("plot", out, "--point", "kernel.dt=100"),
            "'kernel.dt' is not an axis of the scan (axes: kernel.tau, populations[E].nu)",
        ),
        (
            lfpk("scan-extract", tmp_path / "p3.h5", "--point", 0, "--out", "x.h5"),
            "is a kernels file, not a scan file (leave out --point)",
        ),
    ]:
        proc = run(cmd, tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_give_the_same_file(grid, tmp_path, ranks):
    _cwd, scan, out, _ = grid
    proc = run(mpirun_command(ranks, "scan", scan, "--out", "scan.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ranks: {ranks}, all computing" in proc.stdout
    skip = {"ranks", "wall_time_s", "wall_time_setup_s", "wall_time_tasks_s", "write_path"}
    with h5py.File(out, "r") as a, h5py.File(tmp_path / "scan.h5", "r") as b:
        assert {k: str(v) for k, v in a.attrs.items() if k not in skip} == {
            k: str(v) for k, v in b.attrs.items() if k not in skip
        }
        for name in ("axes/paths", "axes/values", "axes/params_hash"):
            np.testing.assert_array_equal(a[name][...], b[name][...])
    for i in range(4):
        assert_same_kernel_files(out, tmp_path / "scan.h5", f"points/{i}", f"points/{i}")


def test_pathways_that_cannot_differ_are_computed_once(tmp_path):
    """Without g_eff a rate changes no kernel: 3 points share all 4 pathways."""
    scan = write_scan(
        tmp_path / "rates.py",
        HAGEN,
        product={"kernel.g_eff": [False]},
        zip_={"populations[E].nu": [1.0, 2.0, 4.0], "populations[I].nu": [5.0, 6.0, 7.0]},
    )
    proc = run(lfpk("scan", scan, "--out", "scan.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 points, 12 kernel pathways, 4 distinct" in proc.stdout
    assert len(re.findall(r"\] \S+->\S+ of point 0 \(and 2 more\) done on rank", proc.stdout)) == 4
    assert " of point 1" not in proc.stdout and " of point 2" not in proc.stdout
    point = point_params(tmp_path / "p2.py", scan, 2)
    proc = run(lfpk(point, "--out", "p2.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_same_kernel_files(tmp_path / "p2.h5", tmp_path / "scan.h5", group_b="points/2")
    separate = kernels_only(tmp_path / "p2.h5", None)
    for i in range(3):  # every point holds the kernels computed once
        mine = kernels_only(tmp_path / "scan.h5", f"points/{i}")
        assert mine.keys() == separate.keys()
        for key, (data, _attrs) in separate.items():
            np.testing.assert_array_equal(mine[key][0], data, err_msg=key)


@pytest.mark.parametrize("launch", ["serial", "mpirun-2"])
def test_killed_scan_resumes_to_identical_file(tmp_path, launch):
    scan = write_scan(tmp_path / "many.py", MANY, zip_={"connections[X0->E].C": [0.02, 0.03]})
    ref = run(lfpk("scan", scan, "--out", "ref.h5"), tmp_path)
    assert ref.returncode == 0, ref.stdout + ref.stderr
    assert "2 points, 32 kernel pathways, 17 distinct" in ref.stdout

    def cmd(*extra):
        if launch == "serial":
            return lfpk("scan", scan, "--out", "s.h5", *extra)
        return mpirun_command(2, "scan", scan, "--out", "s.h5", *extra)

    seen = kill_part_way(cmd(), tmp_path, 4, 0.05)
    parts = tmp_path / "s.h5.parts"
    assert parts.is_dir(), f"the scan finished before it was killed ({seen} tasks seen)"
    n_saved = len(list(parts.glob("*.npz")))
    assert n_saved >= seen
    proc = run(cmd("--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"resume: {n_saved} finished tasks in the checkpoints" in proc.stdout
    assert f"{17 - n_saved} tasks to compute" in proc.stdout
    assert len(re.findall(r" done on rank ", proc.stdout)) == 17 - n_saved
    for i in range(2):
        assert_same_kernel_files(
            tmp_path / "ref.h5", tmp_path / "s.h5", f"points/{i}", f"points/{i}"
        )
    assert not parts.exists()
    # a finished scan resumes to itself without computing anything
    proc = run(cmd("--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 tasks to compute" in proc.stdout and "17 already done" in proc.stdout
    for i in range(2):
        assert_same_kernel_files(
            tmp_path / "ref.h5", tmp_path / "s.h5", f"points/{i}", f"points/{i}"
        )


def test_resume_refuses_another_scan(grid, tmp_path):
    _cwd, scan, out, _ = grid
    other = write_scan(tmp_path / "other.py", HAGEN, product={"kernel.tau": [50.0, 60.0]})
    (tmp_path / "scan.h5").write_bytes(out.read_bytes())
    proc = run(lfpk("scan", other, "--out", "scan.h5", "--resume"), tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is a scan of other points or parameters" in proc.stderr


BAD = [
    (
        {"product": {"populations[Q].nu": [1.0]}},
        "scan point 0 (populations[Q].nu=1.0): parameter path 'populations[Q].nu' is "
        "invalid: no population 'Q' (there are E, I)",
    ),
    (
        {"product": {"kernel.taux": [1.0]}},
        "parameter path 'kernel.taux' is invalid: no field 'taux' (fields: dt, tau, t_X, "
        "Vrest, g_eff, ap_kernels)",
    ),
    (
        {"product": {"connections[E->Q].C": [0.1]}},
        "no connection 'E->Q' (there are E->E, E->I, I->E, I->I)",
    ),
    (
        {"product": {"populations[E].nu": [1.0, -1.0]}},
        "scan point 1 (populations[E].nu=-1.0): populations[E].nu = -1.0 is invalid: must "
        "be a finite number >= 0",
    ),
    ({"product": {"scale": [0.5, 0.0]}}, "scan point 1 (scale=0.0): scale = 0.0 is invalid"),
    (
        {"zip_": {"kernel.tau": [50.0, 60.0], "kernel.dt": [0.1]}},
        "zipped scan axes must have one length: kernel.tau 2, kernel.dt 1",
    ),
    ({"product": {"kernel.tau": []}}, "scan axis 'kernel.tau' has no values"),
]


@pytest.mark.parametrize("scan_kw,message", BAD)
def test_bad_points_stop_at_load(tmp_path, scan_kw, message):
    scan = write_scan(tmp_path / "bad.py", HAGEN, **scan_kw)
    proc = run(lfpk("scan", scan, "--out", "bad.h5"), tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "bad.h5").exists()


def test_bad_point_under_mpirun_ends_every_rank(tmp_path):
    scan = write_scan(tmp_path / "bad.py", HAGEN, product={"populations[Q].nu": [1.0]})
    proc = run(mpirun_command(2, "scan", scan, "--out", "bad.h5"), tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("no population 'Q'") == 1, proc.stderr


def test_points_are_the_product_times_the_zip_in_order():
    from lfpk_hpc.params import load
    from lfpk_hpc.scan import Scan, apply_point, points_of

    scan = Scan(
        params=str(HAGEN),
        product={"kernel.Vrest": np.linspace(-70.0, -60.0, 3), "kernel.tau": range(20, 41, 20)},
        zip={"populations[E].nu": (1.0, 2.0), "scale": [1.0, 0.5]},
    )
    points = points_of(scan)
    assert len(points) == 3 * 2 * 2
    assert points[0] == {
        "kernel.Vrest": -70.0,
        "kernel.tau": 20,
        "populations[E].nu": 1.0,
        "scale": 1.0,
    }
    assert points[1] == {
        "kernel.Vrest": -70.0,
        "kernel.tau": 20,
        "populations[E].nu": 2.0,
        "scale": 0.5,
    }
    assert points[2]["kernel.tau"] == 40 and points[4]["kernel.Vrest"] == -65.0
    assert all(type(p["kernel.Vrest"]) is float for p in points)  # plain values, not numpy
    base = load(HAGEN)
    m = apply_point(base, points[1])
    # scale is applied after the other parameters: sizes halve, the rates set stay
    assert m.population("E").N == round(base.population("E").N * 0.5)
    assert m.population("E").nu == 2.0 and m.kernel.tau == 20
    assert m.connection("E", "E").C == base.connection("E", "E").C
    assert points_of(Scan(params=str(HAGEN))) == [{}]  # an empty scan is one point


def test_plot_scan_numbers_and_figure(grid, tmp_path):
    """plot-scan's peaks and integrals are those of the kernels read point by point; the
    lines along an axis hold the other axes at the reference point; the figure cuts
    nothing off; the CSV holds every point."""
    import csv

    from conftest import artists_outside

    from lfpk_hpc.scanplot import axis_line, read_scan_summary, scan_figure
    from lfpk_hpc.store import read_kernels_file

    _cwd, _scan, out, _ = grid
    s = read_scan_summary(out, probe="lfp", at="kernel.tau=100,populations[E].nu=1")
    assert len(s.pathways) == 4 and s.n_channels > 3 and s.complete
    for i in range(4):
        kf = read_kernels_file(out, point=i)
        for X, Y in s.pathways:
            H = kf.probes["lfp"].kernels[(Y, X)].data
            j = np.abs(H).argmax(axis=1)
            np.testing.assert_array_equal(s.peak[(X, Y)][i], H[np.arange(H.shape[0]), j])
            # the integral by the trapezoid rule, which differs from the sum over lags
            # × dt by half of the two end samples × dt
            trap = np.trapezoid(H, dx=kf.dt, axis=1)
            ends = (np.abs(H[:, 0]) + np.abs(H[:, -1])) * kf.dt / 2
            assert (np.abs(s.integral[(X, Y)][i] - trap) <= ends * (1 + 1e-9) + 1e-15).all()
            assert np.abs(trap).max() > 0
    assert axis_line(s, ["kernel.tau"], 2) == [0, 2]  # nu = 1 held
    assert axis_line(s, ["populations[E].nu"], 2) == [2, 3]  # tau = 100 held
    fig = scan_figure(s, at=2)
    assert artists_outside(fig) == []
    proc = run(lfpk("plot-scan", out, "--probe", "cdm", "--out", "s.png"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "s.png").stat().st_size > 10_000
    with open(tmp_path / "s.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 4 * 3  # points x pathways x (P_x, P_y, P_z)
    assert {"peak (nA·µm per spike)", "integral (nA·µm·ms per spike)"} <= set(rows[0])
    for cmd, message in [
        (lfpk("plot-scan", out, "--probe", "eeg"), "--probe 'eeg': no such probe"),
        (lfpk("plot-scan", out, "--pathway", "E->X"), "--pathway E->X: no such pathway"),
        (lfpk("plot-scan", out, "--pathway", "EX"), "--pathway 'EX' is invalid: write it X->Y"),
    ]:
        proc = run(cmd, tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_plan_of_a_scan_from_its_measured_task_times(grid, tmp_path):
    """plan --scan: on one rank the makespan is the sum of the measured task times of
    the scan file (all work, nothing lost); more ranks never beat total / ranks."""
    _cwd, scan, out, _ = grid
    with h5py.File(out, "r") as f:
        total = sum(float(f[f"points/{i}/tasks/wall_time_s"][...].sum()) for i in range(4))
    proc = run(lfpk("plan", scan, "--scan", "--measured", out, "--ranks", 1, 2, 3), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 points, 16 kernel pathways, 16 distinct tasks" in proc.stdout
    assert "measured task times of 16 of 16 tasks" in proc.stdout
    rows = {
        int(m.group(1)): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^\s+(\d+)\s+\d+\s+([\d.]+)\s+([\d.]+)$", proc.stdout, re.M)
    }
    assert sorted(rows) == [1, 2, 3]
    assert rows[1] == (pytest.approx(total, abs=0.006), 1.0)
    for n in (2, 3):
        makespan, eff = rows[n]
        assert makespan >= total / n - 0.006
        # (the makespan is printed to 0.01 s, the efficiency to 0.001)
        lo = total / (n * (makespan + 0.005)) - 0.0005
        hi = total / (n * max(makespan - 0.005, 1e-9)) + 0.0005
        assert lo <= eff <= hi, (n, eff, lo, hi)
    proc = run(lfpk("plan", scan, "--scan", "--measured", "nothing.h5"), tmp_path)
    assert proc.returncode == 2 and "--measured 'nothing.h5' does not exist" in proc.stderr


def test_scan_summary_tables_every_point_and_names_the_missing(tmp_path):
    """scan-summary reads DIR/point_<i>/metrics.json: its table holds their numbers, a
    point without one is listed and makes the exit code 1; with none at all it writes
    nothing and says so."""
    import csv

    from conftest import artists_outside

    from lfpk_hpc.scanplot import read_validations, summary_figure

    scan = write_scan(
        tmp_path / "s.py",
        HAGEN,
        product={"kernel.tau": [50.0, 100.0]},
        zip_={"populations[E].nu": [1.0, 2.0, 3.0]},
    )
    vdir = tmp_path / "v"
    proc = run(lfpk("scan-summary", scan, "--validation", vdir), tmp_path)
    assert proc.returncode == 1
    assert "no validation of any point" in proc.stderr and "i = 0..5" in proc.stderr
    assert not (vdir / "summary.png").exists()
    r2 = {0: 0.5, 1: 0.6, 2: 0.7, 4: 0.9, 5: 0.95}  # point 3 failed
    for i, v in r2.items():
        (vdir / f"point_{i}").mkdir(parents=True)
        (vdir / f"point_{i}" / "metrics.json").write_text(
            json.dumps(
                {
                    p: {"r2_median": v, "r2_median_lowpass": v + k, "r_median": 0.8, "passed": True}
                    for k, p in ((0.0, "lfp"), (0.01, "cdm"))
                }
            )
        )
    proc = run(lfpk("scan-summary", scan, "--validation", vdir), tmp_path)
    assert proc.returncode == 1
    assert "1 point(s) have no validation: 3" in proc.stderr
    with open(vdir / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 * 2
    for row in rows:
        i = int(row["point"])
        if i == 3:
            assert row["finished"] == "False" and row["r2_median_lowpass"] == ""
        else:
            expected = r2[i] + (0.01 if row["probe"] == "cdm" else 0.0)
            assert float(row["r2_median_lowpass"]) == pytest.approx(expected, abs=1e-12)
    assert json.loads((vdir / "summary.json").read_text())["missing"] == [3]
    paths, product, zipped, values, metrics = read_validations(scan, vdir)
    assert zipped == ["populations[E].nu"] and product == ["kernel.tau"]
    fig = summary_figure(paths, product, zipped, values, metrics, ["lfp", "cdm"])
    assert artists_outside(fig) == []


def test_resume_of_a_scan_file_without_point_groups(grid, tmp_path):
    """A scan killed before its first kernels were written has a file without point
    groups (they are made on first write): --resume reads it as holding nothing (not as
    unreadable) and computes everything, to the same file."""
    _cwd, scan, out, _ = grid
    copy = tmp_path / "scan.h5"
    copy.write_bytes(out.read_bytes())
    with h5py.File(copy, "a") as f:
        del f["points"]
        f.attrs["complete"] = False
    proc = run(lfpk("scan", scan, "--out", copy, "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"resume: {copy} holds 0 finished tasks" in proc.stdout
    assert "unreadable" not in proc.stdout and "16 tasks to compute" in proc.stdout
    for i in range(4):
        assert_same_kernel_files(out, copy, f"points/{i}", f"points/{i}")


def test_scan_of_a_users_active_model(tmp_path):
    """A scan of a user's own active model (tests/data/active_model.py: its template and
    mod folder, frozen, with an action-potential kernel): each point's group equals a
    separate run of that point, linear cell and AP kernel included; the AP kernel,
    which the scanned weight cannot change, is computed once; predict --point adds
    the AP kernel as predict of the separate file does."""
    active = ROOT / "tests" / "data" / "active_model.py"
    scan = write_scan(
        tmp_path / "active_scan.py",
        active,
        product={"connections[E->P].synapse.weight": [1.5e-4, 3e-4]},
    )
    proc = run(lfpk("scan", scan, "--out", "scan.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # E->P twice, I->P and the AP kernel of P once each
    assert "2 points, 6 kernel pathways, 4 distinct" in proc.stdout, proc.stdout
    assert "AP of P of point 0 (and 1 more)" in proc.stdout, proc.stdout
    params = point_params(tmp_path / "point1.py", scan, 1)
    proc = run(lfpk(params, "--out", "p1.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_same_kernel_files(tmp_path / "p1.h5", tmp_path / "scan.h5", group_b="points/1")
    with h5py.File(tmp_path / "scan.h5", "r") as f:
        assert f["points/0/cells/P"].attrs["linearisation"] == "frozen"
        ap = [f[f"points/{i}/ap_kernels/cdm/P"][...] for i in (0, 1)]
        e = [f[f"points/{i}/kernels/cdm/P/E"][...] for i in (0, 1)]
    np.testing.assert_array_equal(ap[0], ap[1])
    assert np.abs(ap[0]).max() > 0
    # twice the weight, twice the kernel (synapses linearised, no g_eff)
    np.testing.assert_allclose(e[1], 2 * e[0], rtol=0, atol=1e-6 * np.abs(e[1]).max())
    rng = np.random.default_rng(3)
    np.savez(
        tmp_path / "s.npz",
        **{k: np.sort(rng.uniform(0, 200, n)) for k, n in (("E", 300), ("I", 200), ("P", 40))},
    )
    for name, args in (("a.h5", ["p1.h5"]), ("b.h5", ["scan.h5", "--point", "1"])):
        proc = run(lfpk("predict", args[0], "s.npz", "--out", name, *args[1:]), tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        assert a.attrs["action_potentials"] and b.attrs["action_potentials"]
        for name in ("signals/lfp", "signals/cdm", "action_potentials/cdm/P"):
            np.testing.assert_array_equal(a[name][...], b[name][...], err_msg=name)
