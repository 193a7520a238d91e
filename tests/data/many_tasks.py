"""A test model with 16 tasks: 8 presynaptic populations onto the E and I cells of
params/hagen2022.py, with finer segments and a longer kernel window so that each
task takes long enough to kill a run part-way (tests/test_resume.py)."""

import dataclasses
import importlib.util
from pathlib import Path

from lfpk_hpc.params import Connection, Population, norm

_spec = importlib.util.spec_from_file_location(
    "_hagen2022", Path(__file__).resolve().parents[2] / "params" / "hagen2022.py"
)
_h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_h)
base = _h.model

pop_e, pop_i = base.population("E"), base.population("I")
fine = {
    p.name: dataclasses.replace(p, cell=dataclasses.replace(p.cell, lambda_f=5000.0))
    for p in (pop_e, pop_i)
}
sources = [Population(f"X{k}", N=1000 + 100 * k, nu=1.0 + k) for k in range(8)]
connections = []
for k, src in enumerate(sources):
    for Y in ("E", "I"):
        template = base.connection("E" if k % 2 == 0 else "I", Y)
        connections.append(
            dataclasses.replace(
                template,
                pre=src.name,
                C=0.02 + 0.005 * k,
                placement=dataclasses.replace(
                    template.placement, depth=(norm(-100.0 + 60.0 * k, 120.0),), weights=(1.0,)
                ),
            )
        )
model = dataclasses.replace(
    base,
    name="many_tasks",
    populations=(fine["E"], fine["I"], *sources),
    connections=tuple(connections),
    kernel=dataclasses.replace(base.kernel, dt=2**-5, tau=200.0, t_X=400.0, g_eff=False),
)
assert isinstance(connections[0], Connection)
