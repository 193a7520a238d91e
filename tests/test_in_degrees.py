"""Scaled networks that keep each cell's full-scale in-degree (``--in-degrees full``,
the hybrid's and PD14 validation's default): the synapse count per cell of the
kernels' rule is the full model's, the hybrid draws that many, and what cannot be
kept is refused with the pathway named."""

import dataclasses
import math

import numpy as np
import pytest

from lfpk_hpc import pd14
from lfpk_hpc.groundtruth import GroundTruthError, scaled_model
from lfpk_hpc.hybridsim import cell_synapses
from lfpk_hpc.kernel import total_synapses


@pytest.fixture(scope="module")
def potjans():
    return pd14.build()


def per_cell(model, con):
    return total_synapses(model, con) / model.population(con.post).N


@pytest.mark.parametrize(
    "rule,scale", [("log", 0.2), ("log", 0.5), ("linear", 0.5)]
)  # linear at 0.2: L5I -> L5E's C = 0.37 would need 1.86
def test_full_in_degrees_keep_every_pathways_synapses_per_cell(potjans, rule, scale):
    model = dataclasses.replace(potjans, synapse_count=rule)
    full = scaled_model(model, scale, "full")
    kept = scaled_model(model, scale, "scaled")
    assert [p.N for p in full.populations] == [p.N for p in kept.populations]
    for con in model.connections:
        want = per_cell(model, con)
        got = per_cell(full, full.connection(con.pre, con.post))
        assert got == pytest.approx(want, rel=1e-9), (con.pre, con.post)
        # C kept: the in-degree follows the presynaptic population's size
        shrunk = per_cell(kept, kept.connection(con.pre, con.post))
        n_x = model.population(con.pre).N
        ratio = kept.population(con.pre).N / n_x
        assert shrunk == pytest.approx(want * ratio, rel=2e-3), (con.pre, con.post)
    assert full.hash() != kept.hash()
    # at scale 1 both are the model itself
    assert scaled_model(model, 1.0, "full").hash() == model.hash()


def test_hybrid_cells_draw_the_full_in_degree(potjans):
    """The hybrid's draws on the raised probabilities: the mean synapse count of 400
    cells of L4E from L4E is the full model's in-degree (within 4 standard errors),
    every presynaptic index within the scaled population."""
    scale = 0.1
    full = scaled_model(potjans, scale, "full")
    con = potjans.connection("L4E", "L4E")
    want = per_cell(potjans, con)
    density = np.full(20, 1 / 20)
    counts = []
    n_x = full.population("L4E").N
    for i in range(400):
        syn = cell_synapses(full, "L4E", "L4E", i, density, 1234)
        assert syn.pre.size == 0 or (syn.pre.min() >= 0 and syn.pre.max() < n_x)
        counts.append(syn.pre.size)
    counts = np.asarray(counts, dtype=float)
    se = counts.std(ddof=1) / math.sqrt(counts.size)
    assert abs(counts.mean() - want) <= 4 * se, (counts.mean(), want, se)
    # and not the scaled in-degree: a tenth of it is far outside
    assert counts.mean() > 5 * want * scale


def test_a_full_in_degree_beyond_probability_1_is_refused(potjans):
    linear = dataclasses.replace(potjans, synapse_count="linear")
    with pytest.raises(GroundTruthError) as err:
        scaled_model(linear, 0.1, "full")
    msg = str(err.value)
    assert "--scale = 0.1 with --in-degrees full is invalid" in msg
    assert "> 1" in msg and "--in-degrees scaled" in msg and "->" in msg
    with pytest.raises(GroundTruthError, match="--in-degrees = 'all' is invalid"):
        scaled_model(potjans, 0.5, "all")
