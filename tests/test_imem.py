"""The membrane-current recorder (lfpk_hpc.imem): the block copy of NEURON's node
array reads the same currents as one pointer per segment, bit for bit; it declines
what it cannot map; a layout that moves under it is an error, not a wrong number."""

from __future__ import annotations

import numpy as np
import pytest

from lfpk_hpc import mechanisms
from lfpk_hpc.cells import delete_all_sections
from lfpk_hpc.imem import CurrentRecorder

AMP = 0.3  # nA


def _cells(h, n_cells=3):
    """Branched passive cells (children at 1 and at 0.5 of their parents, nseg 1–7),
    a current clamp on the first: returns (sections, segments, clamp)."""
    mechanisms.load_mechanisms()  # LfpkRec: the compiled recording loop
    delete_all_sections()
    sections = []
    for c in range(n_cells):
        soma = h.Section(name=f"soma{c}")
        soma.L = soma.diam = 20.0
        sections.append(soma)
        parent = soma
        for j in range(8):
            d = h.Section(name=f"dend{c}_{j}")
            d.L, d.diam, d.nseg = 150.0, 2.0, 1 + (j * 3 + c) % 7
            d.connect(parent(0.5 if j % 3 == 2 else 1.0))
            sections.append(d)
            parent = d if j % 2 else soma
    for sec in sections:
        sec.insert("pas")
        sec.e_pas = -65.0
    clamp = h.IClamp(sections[3](0.5))
    clamp.delay, clamp.dur, clamp.amp = 1.0, 1e9, AMP
    h.CVode().use_fast_imem(1)
    segments = [seg for sec in sections for seg in sec]
    return sections, segments, clamp


def _run(h, recorder, locate, n=200):
    h.dt = 0.025
    cvode = h.CVode()
    cvode.active(0)
    cvode.use_fast_imem(1)
    h.finitialize(-65.0)
    h.fcurrent()
    if locate:
        assert recorder.locate()
    else:
        recorder.layout = None
    first = recorder.run(n // 2, True).copy()
    return np.vstack([first, recorder.run(n - n // 2, False)])


def test_block_copy_equals_pointers_and_conserves_current():
    from neuron import h

    _sections, segments, clamp = _cells(h)
    recorder = CurrentRecorder(h, segments)
    by_pointer = _run(h, recorder, locate=False)
    by_block = _run(h, recorder, locate=True)
    assert recorder.layout[1] > len(segments)  # the nodes that are not segments too
    assert np.array_equal(by_block, by_pointer)
    # Kirchhoff: the membrane currents of all cells sum to the injected current
    t = np.arange(by_block.shape[0]) * h.dt
    on = t > 1.0 + 1e-9
    np.testing.assert_allclose(by_block[on].sum(axis=1), AMP, rtol=1e-9)
    assert np.abs(by_block[~on].sum(axis=1)).max() < 1e-12
    # what run_raw returns, through matrix(), gives the same product
    M = np.random.default_rng(1).normal(size=(5, len(segments)))
    h.finitialize(-65.0)
    h.fcurrent()
    assert recorder.locate()
    raw = recorder.run_raw(200, False)
    np.testing.assert_allclose(recorder.matrix(M) @ raw.T, M @ by_pointer.T, rtol=1e-12, atol=1e-15)
    del clamp


def test_part_of_a_section_is_found_by_its_nodes():
    """A subset of the segments (half a section left out) is found at its nodes'
    indices and read bit for bit as through one pointer per segment."""
    from neuron import h

    _sections, segments, clamp = _cells(h, n_cells=2)
    part = [seg for seg in segments if not (seg.sec.name() == "dend0_3" and seg.x > 0.5)]
    assert len(part) < len(segments)
    recorder = CurrentRecorder(h, part)
    by_pointer = _run(h, recorder, locate=False, n=50)
    by_block = _run(h, recorder, locate=True, n=50)
    assert np.abs(by_block).max() > 0
    np.testing.assert_array_equal(by_block, by_pointer)
    del clamp


def test_threads_fall_back_to_pointers():
    """With two threads NEURON's nodes are in two arrays: the recorder declines the
    block copy and gathers by pointer, the same currents."""
    from neuron import h

    _sections, segments, clamp = _cells(h, n_cells=2)
    recorder = CurrentRecorder(h, segments)
    one = _run(h, recorder, locate=True, n=50)
    pc = h.ParallelContext()
    pc.nthread(2)
    try:
        h.finitialize(-65.0)
        assert not recorder.locate()
        two = recorder.run(50, False)
    finally:
        pc.nthread(1)
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-15)
    del clamp


def test_a_column_outside_the_sample_is_checked_after_the_run():
    """A large block is checked through a sample's pointers after every run and
    through every segment's own value by verify(): two columns swapped outside the
    sample pass the first and fail the second."""
    from neuron import h

    from lfpk_hpc.imem import SAMPLE

    _sections, segments, clamp = _cells(h, n_cells=12)
    assert len(segments) > 2 * SAMPLE
    recorder = CurrentRecorder(h, segments)
    h.finitialize(-65.0)
    h.fcurrent()
    assert recorder.locate()
    recorder.run(100, True)
    recorder.verify()  # every segment where it was found
    outside = np.setdiff1d(np.arange(len(segments)), recorder._sample)
    now = np.array([seg.i_membrane_ for seg in segments])
    a, b = next((int(i), int(j)) for i in outside for j in outside if now[i] != now[j] and i < j)
    columns = recorder.layout[2]
    columns[[a, b]] = columns[[b, a]]
    recorder.run(10, True)  # the sample still matches
    with pytest.raises(RuntimeError, match="moved"):
        recorder.verify()
    del clamp


def test_a_layout_that_moved_is_an_error():
    from neuron import h

    sections, segments, clamp = _cells(h, n_cells=2)
    recorder = CurrentRecorder(h, segments)
    h.CVode().use_fast_imem(1)
    h.finitialize(-65.0)
    assert recorder.locate()
    # a new dendrite on the first cell before the next run moves NEURON's node data
    extra = h.Section(name="extra")
    extra.nseg = 5
    extra.insert("pas")
    extra.connect(sections[0](1.0))
    h.finitialize(-65.0)
    with pytest.raises(RuntimeError, match="moved"):
        recorder.run(100, False)  # 2.5 ms: the clamp is on, no current is zero
    del clamp, extra
