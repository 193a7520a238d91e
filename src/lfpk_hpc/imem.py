"""Recording every segment's membrane current at every time step.

Every route that turns membrane currents into signals (the kernel engine, the AP
kernels, both ground truths) advances NEURON with fixed steps and needs, at each
step, the ``i_membrane_`` (nA) of all its segments. NEURON (``CVode.use_fast_imem``)
keeps these values of all nodes in one array in the nodes' order, each segment at
its node's index (``Segment.node_index``). When that holds for the segments at
hand — checked, not assumed — :class:`CurrentRecorder` copies the part of the array
that holds them each step (one copy in the compiled loop of ``LfpkRec``,
mod/lfpk_rec.mod, which also advances the step: no interpreter between steps) and
picks the segments' columns out after the run; otherwise it gathers them one by
one through a ``PtrVector`` in a hoc loop, which costs about 5 ns per segment and
step. Both read the same memory, so the currents are the same bit for bit.

The checks: marks written through the own pointers of a sample of the segments
(every segment of a small block; about :data:`SAMPLE` spread over a large one,
the first and last always) must appear exactly at their nodes' indices before
the block copy is used; after every run the sample's pointers must read what the
block copy holds at their columns, and :meth:`CurrentRecorder.verify` compares
every segment's own value with it (once, after the last run). A mismatch is an
error, never a wrong number. A pointer per segment costs about 5 µs to make (a
node index 0.7 µs): for a block of reconstructed cells that was more than the
copy of the currents in all its steps, hence the sample.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CurrentRecorder", "EventKicks"]

#: hoc procedures of the simulation loops
RUN_PTR = "lfpk_hpc_run"
ADVANCE = "lfpk_hpc_advance"


def define_procs(h) -> None:
    """Define the hoc loops (a loop in hoc costs about half as much per step as in
    Python), each taking n samples at t0, t0 + dt, … and advancing one step after
    each sample — except after the last unless ``last`` is 1:

    - ``RUN_PTR(ptr, buffer, record, n, n_values, last)``: gather the PtrVector
      ``ptr`` into ``buffer`` and append it to ``record`` (emptied first, its
      capacity kept: sample k at k·n_values);
    - ``ADVANCE(n)``: n steps, recording nothing.

    Parameters
    ----------
    h : neuron.hoc.HocObject
        NEURON's ``h``.
    """
    if hasattr(h, ADVANCE):
        return
    h(
        f"proc {RUN_PTR}() {{ local k\n"
        "  $o3.resize(0)\n"
        "  for k = 0, $4 - 1 {\n"
        "    $o1.gather($o2)\n"
        "    $o3.append($o2)\n"
        "    if (k < $4 - 1 || $6) { fadvance() }\n"
        "  }\n"
        "}\n"
        f"proc {ADVANCE}() {{ local k\n"
        "  for k = 0, $1 - 1 { fadvance() }\n"
        "}\n"
    )


#: segments whose own pointers check a block's layout (every one below twice this)
SAMPLE = 128

#: values written into the segments' i_membrane_ to find them (no current is 1e200 nA)
_MARK = 1e200


def _sample(n: int) -> np.ndarray:
    """Indices of the segments checked through their own pointers: all of a small
    block, else :data:`SAMPLE` evenly spread from the first to the last."""
    if n <= 2 * SAMPLE:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, SAMPLE).round().astype(np.int64))


def _pointers(h, segments, index, ref: str):
    """A PtrVector of the ``ref`` pointers of ``segments[k]`` for k in ``index``."""
    ptr = h.PtrVector(max(len(index), 1))
    for j, k in enumerate(index.tolist()):
        ptr.pset(j, getattr(segments[k], ref))
    return ptr


def _marks_found(h, ptr, n: int, base, positions: np.ndarray) -> bool:
    """Write mark j·1e200 through pointer j of ``ptr`` (j = 1 …), read ``n`` values
    from ``base``, put the values back: True when mark j is at ``positions[j - 1]``
    and nowhere else."""
    saved = h.Vector(ptr.size())
    ptr.gather(saved)
    ptr.scatter(h.Vector(_MARK * np.arange(1.0, ptr.size() + 1.0)))
    seen = h.Vector()
    seen.from_double(n, base)
    ptr.scatter(saved)
    expect = np.zeros(n)
    expect[positions] = np.arange(1.0, positions.size + 1.0)
    return bool(np.array_equal(np.rint(seen.as_numpy() / _MARK), expect))


def _read_where_found(read, at, segments, attr: str, sample, sample_ptr, buffer, full: bool):
    """Whether the values ``read`` (from where the segments were found; segment k's at
    ``at[k]``) are the segments' own: every segment's ``attr`` (``full``, about 0.6 µs
    each) or the sample's pointers gathered into ``buffer``."""
    if full:
        own = np.fromiter((getattr(s, attr) for s in segments), dtype=float, count=len(segments))
        return bool(np.array_equal(read[at], own))
    sample_ptr.gather(buffer)
    return bool(np.array_equal(read[at[sample]], buffer.as_numpy()))


class CurrentRecorder:
    """The membrane currents (nA) of ``segments`` at each step of a fixed-step run.

    Make it after the cells are built (with ``use_fast_imem`` on); call
    :meth:`locate` after ``finitialize`` to use the block copy, then :meth:`run` or
    :meth:`run_raw`, and :meth:`verify` after the last run. NEURON must run one
    thread for the block copy.

    Parameters
    ----------
    h : neuron.hoc.HocObject
        NEURON's ``h``.
    segments : list of nrn.Segment
        The segments, in the order of the columns returned.
    """

    def __init__(self, h, segments):
        define_procs(h)
        self.h = h
        self.n_seg = len(segments)
        self._segments = segments
        self._sample = _sample(self.n_seg)
        self._sample_ptr = _pointers(h, segments, self._sample, "_ref_i_membrane_")
        self._ptr = None  # every segment's pointer: made for the hoc loop only
        self.buffer = h.Vector(max(self.n_seg, 1))
        self.check = h.Vector(max(self._sample.size, 1))
        self.record = h.Vector()
        self.layout = None  # (first segment's pointer, width, columns) once found
        self._loop = None  # the LfpkRec pointing at the first segment's current
        self.kicks = None  # EventKicks delivered by the same loop (see EventKicks.attach)

    @property
    def ptr(self):
        """A ``PtrVector`` of every segment's ``i_membrane_`` (made on first use)."""
        if self._ptr is None:
            self._ptr = _pointers(self.h, self._segments, np.arange(self.n_seg), "_ref_i_membrane_")
        return self._ptr

    def locate(self) -> bool:
        """Find the segments in NEURON's array of all nodes' currents: at their nodes'
        indices (``Segment.node_index``) from the lowest, checked by marks k·1e200
        written through the own pointers of the sample's segments (every segment of
        a block of at most 2·:data:`SAMPLE`), which must appear exactly there. True
        when they do (then :meth:`run` uses the block copy until the next
        :meth:`locate`).

        Returns
        -------
        bool
            Whether the block copy is used.
        """
        h = self.h
        self.layout = None
        if self.n_seg == 0 or int(h.ParallelContext().nthread()) != 1:
            return False
        if not hasattr(h, "LfpkRec"):  # lfpk_hpc's mechanisms are not loaded
            return False
        index = np.fromiter(
            (seg.node_index() for seg in self._segments), dtype=np.int64, count=self.n_seg
        )
        lowest = int(np.argmin(index))
        columns = index - index[lowest]
        width = int(columns.max()) + 1
        if np.unique(columns).size != self.n_seg:
            return False
        first = self._segments[lowest]._ref_i_membrane_
        if not _marks_found(h, self._sample_ptr, width, first, columns[self._sample]):
            return False
        self.layout = (first, width, columns)
        self._loop = h.LfpkRec()
        h.setpointer(first, "first", self._loop)
        return True

    @property
    def width(self) -> int:
        """Values recorded per sample: the segments, or with the block copy every node
        from the segments' lowest to their highest."""
        return self.n_seg if self.layout is None else self.layout[1]

    def matrix(self, M: np.ndarray) -> np.ndarray:
        """A matrix (rows, n_seg) of the segments' currents made to act on what
        :meth:`run_raw` returns: zero columns for the nodes that are not segments.

        Parameters
        ----------
        M : numpy.ndarray
            Matrix (rows, n_seg), e.g. a probe's (unit per nA).

        Returns
        -------
        numpy.ndarray
            Matrix (rows, :attr:`width`).
        """
        if self.layout is None:
            return M
        out = np.zeros((M.shape[0], self.layout[1]))
        out[:, self.layout[2]] = M
        return out

    def run_raw(self, n: int, last: bool) -> np.ndarray:
        """Take ``n`` samples, one per step from now (advancing after the last one too
        if ``last``): shape (n, :attr:`width`), the values :meth:`matrix` acts on.

        Parameters
        ----------
        n : int
            Samples (a count).
        last : bool
            Advance one step after the last sample.

        Returns
        -------
        numpy.ndarray
            Membrane currents (nA), shape (n, :attr:`width`), sample k at t0 + k·dt
            (a view of the recorder's buffer, valid until its next run).
        """
        h = self.h
        if self.layout is None:
            self.buffer.resize(self.n_seg)
            self.record.resize(self.n_seg * n)  # (its capacity: the run empties it)
            getattr(h, RUN_PTR)(self.ptr, self.buffer, self.record, n, self.n_seg, int(last))
            return self.record.as_numpy().reshape(n, self.n_seg)
        width = self.layout[1]
        if self.kicks is None:
            self._loop.run(self.record, n, width, int(last))
        else:
            self._loop.run(self.record, n, width, int(last), *self.kicks.vectors)
            self.kicks.verify(full=False)
        self.verify(full=False)
        return self.record.as_numpy().reshape(n, width)

    def verify(self, full: bool = True) -> None:
        """Compare what the block copy reads now with the segments' own values: every
        segment's (``full``; about 0.6 µs each) or the sample's pointers (after every
        run). A layout that moved is an error. Nothing to check without the block
        copy.

        Parameters
        ----------
        full : bool, optional
            Every segment (True) or the sample only.
        """
        if self.layout is None:
            return
        first, width, columns = self.layout
        self.buffer.from_double(width, first)
        if not _read_where_found(
            self.buffer.as_numpy(), columns, self._segments, "i_membrane_",
            self._sample, self._sample_ptr, self.check, full,
        ):  # fmt: skip
            raise RuntimeError(
                "internal error: NEURON's membrane currents moved during the run "
                "(the block copy no longer matches the segments' own values)"
            )

    def run(self, n: int, last: bool) -> np.ndarray:
        """Take ``n`` samples as :meth:`run_raw` and return the segments' currents.

        Parameters
        ----------
        n : int
            Samples (a count).
        last : bool
            Advance one step after the last sample.

        Returns
        -------
        numpy.ndarray
            Membrane currents (nA), shape (n, n_seg), sample k at t0 + k·dt.
        """
        raw = self.run_raw(n, last)
        return raw if self.layout is None else raw[:, self.layout[2]]


class EventKicks:
    """The synaptic events of current-based synapses kept as the state A of
    mod/lfpk_hsyn.mod, delivered by the compiled loop of ``LfpkRec`` (before each
    step, every event with time <= t + dt/2, NEURON's own rule) instead of one
    ``LfpkTrain`` per segment and NEURON's event queue: no object per segment to set
    up and no queue operation per event.

    NEURON keeps a mechanism's instances in the order of their nodes, so segment k's
    A is at the rank of its node among the segments' from the lowest one's. As
    :class:`CurrentRecorder` checks its layout, marks written through the own
    pointers of a sample of the segments must appear exactly there (after
    ``finitialize``); after every run the sample's pointers must read the states
    there, and :meth:`verify` compares every segment's own A (after the last run).
    A mismatch is an error; :meth:`locate` returns False where the states are not
    found, and the caller then uses trains.

    Parameters
    ----------
    h : neuron.hoc.HocObject
        NEURON's ``h``.
    segments : list of nrn.Segment
        The segments (each with ``lfpk_hsyn``).
    seg_index : numpy.ndarray
        Each event's segment (index into ``segments``).
    times : numpy.ndarray
        Each event's time (ms), in non-decreasing order (events of one segment at
        equal times are added in their order here).
    weights : numpy.ndarray
        Each event's weight (nA), added to its segment's A.
    """

    def __init__(self, h, segments, seg_index, times, weights):
        self.h = h
        self.n_seg = len(segments)
        self._times = np.asarray(times, dtype=float)
        if np.any(self._times[1:] < self._times[:-1]):
            raise ValueError("EventKicks: the events' times must be in non-decreasing order")
        self._seg = np.asarray(seg_index)
        self._weights = np.asarray(weights, dtype=float)
        self._segments = segments
        self._sample = _sample(self.n_seg)
        self._sample_ptr = _pointers(h, segments, self._sample, "_ref_A_lfpk_hsyn")
        self.vectors = None  # (times, offsets, weights) once located
        self._base = None
        self._offsets = None
        self._check = h.Vector(max(self._sample.size, 1))
        self._read = h.Vector(max(self.n_seg, 1))

    def locate(self, columns) -> bool:
        """Find every segment's A (after ``finitialize``, before any step).

        Parameters
        ----------
        columns : numpy.ndarray
            Each segment's node index (or its offset from the lowest): the
            segment with the smallest holds the first A.

        Returns
        -------
        bool
            Whether the events can be delivered by the compiled loop.
        """
        h = self.h
        self.vectors = None
        if self.n_seg == 0 or not hasattr(h, "LfpkRec") or len(columns) != self.n_seg:
            return False
        by_node = np.argsort(columns, kind="stable")
        offsets = np.empty(self.n_seg, dtype=np.int64)
        offsets[by_node] = np.arange(self.n_seg)
        base = self._segments[int(by_node[0])]._ref_A_lfpk_hsyn
        if not _marks_found(h, self._sample_ptr, self.n_seg, base, offsets[self._sample]):
            return False
        self._base, self._offsets = base, offsets
        self.vectors = (
            h.Vector(self._times),
            h.Vector(offsets[self._seg].astype(float)),
            h.Vector(self._weights),
        )
        return True

    def attach(self, loop) -> None:
        """Let the ``LfpkRec`` ``loop`` deliver the events (from the first) and
        deliver those at or before the current t, as ``finitialize`` delivers the
        events of NEURON's queue (call right after it).

        Parameters
        ----------
        loop : hoc object
            An ``LfpkRec``.
        """
        self.h.setpointer(self._base, "abase", loop)
        loop.kpos = 0
        loop.kick(*self.vectors)

    def verify(self, full: bool = True) -> None:
        """Compare the states read where they were found with the segments' own: every
        segment's A (``full``) or the sample's pointers (after every run); an error
        when NEURON moved them.

        Parameters
        ----------
        full : bool, optional
            Every segment (True) or the sample only.
        """
        self._read.from_double(self.n_seg, self._base)
        if not _read_where_found(
            self._read.as_numpy(), self._offsets, self._segments, "A_lfpk_hsyn",
            self._sample, self._sample_ptr, self._check, full,
        ):  # fmt: skip
            raise RuntimeError(
                "internal error: NEURON's synapse states moved during the run (the "
                "compiled event delivery no longer matches the segments' own states)"
            )

    def advance(self, n: int) -> None:
        """``n`` steps delivering the events, recording nothing (after :meth:`locate`
        and ``finitialize``).

        Parameters
        ----------
        n : int
            Steps (a count).
        """
        loop = self.h.LfpkRec()
        self.attach(loop)
        loop.run(self.h.Vector(), int(n), 0, 1, *self.vectors)
        self.verify(full=False)  # (every segment's: verify() after the last run)
