"""Recording every segment's membrane current at every time step.

Every route that turns membrane currents into signals (the kernel engine, the AP
kernels, both ground truths) advances NEURON with fixed steps and needs, at each
step, the ``i_membrane_`` (nA) of all its segments. NEURON (``CVode.use_fast_imem``)
keeps these values of all nodes in one array in the nodes' order. When that holds
for the segments at hand — checked, not assumed — :class:`CurrentRecorder` copies
the whole array each step (one ``memcpy`` in the compiled loop of ``LfpkRec``,
mod/lfpk_rec.mod, which also advances the step: no interpreter between steps) and
picks the segments' columns out after the run; otherwise it gathers them one by
one through a ``PtrVector`` in a hoc loop, which costs about 5 ns per segment and
step. Both read the same
memory, so the currents are the same bit for bit; the block copy is checked
against the ``PtrVector`` after every run, and a mismatch is an error, never a
wrong number.
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


def _node_count(h, segments):
    """NEURON's node count (every section's nseg nodes and its 1-end, and one root
    node per cell) and the first root node's i_membrane_ pointer; None when the
    segments do not cover whole sections."""
    own = {}
    for seg in segments:
        own[seg.sec] = own.get(seg.sec, 0) + 1
    n_nodes, first_root = 0, None
    for sec in h.allsec():
        if sec.parentseg() is None:
            n_nodes += 1
            if first_root is None:
                first_root = sec(0)._ref_i_membrane_
        if own.get(sec, sec.nseg) != sec.nseg:
            return None
        n_nodes += sec.nseg + 1
    return None if first_root is None else (n_nodes, first_root)


#: values written into the segments' i_membrane_ to find them (no current is 1e200 nA)
_MARK = 1e200


class CurrentRecorder:
    """The membrane currents (nA) of ``segments`` at each step of a fixed-step run.

    Make it after the cells are built (with ``use_fast_imem`` on); call
    :meth:`locate` after ``finitialize`` to use the block copy, then :meth:`run` or
    :meth:`run_raw`. NEURON must run one thread for the block copy.

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
        self.ptr = h.PtrVector(max(self.n_seg, 1))
        for k, seg in enumerate(segments):
            self.ptr.pset(k, seg._ref_i_membrane_)
        self._segments = segments
        self.buffer = h.Vector(max(self.n_seg, 1))
        self.check = h.Vector(max(self.n_seg, 1))
        self.record = h.Vector()
        self.layout = None  # (first root's pointer, nodes, columns) once found
        self._loop = None  # the LfpkRec pointing at the first root's current
        self.kicks = None  # EventKicks delivered by the same loop (see EventKicks.attach)

    def locate(self) -> bool:
        """Find the segments in NEURON's array of all nodes' currents: write a mark
        k·1e200 into segment k's ``i_membrane_``, copy the array from the first root
        node, put the values back. True when every mark was found exactly once (then
        :meth:`run` uses the block copy until the next :meth:`locate`).

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
        found = _node_count(h, self._segments)
        if found is None:
            return False
        n_nodes, first = found
        saved = h.Vector(self.n_seg)
        self.ptr.gather(saved)
        self.ptr.scatter(h.Vector(_MARK * np.arange(1.0, self.n_seg + 1.0)))
        seen = h.Vector()
        seen.from_double(n_nodes, first)
        self.ptr.scatter(saved)
        mark = seen.as_numpy() / _MARK
        at = np.flatnonzero(mark >= 0.5)
        which = np.rint(mark[at]).astype(np.int64) - 1
        if at.size != self.n_seg or not np.array_equal(np.sort(which), np.arange(self.n_seg)):
            return False
        columns = np.empty(self.n_seg, dtype=np.int64)
        columns[which] = at
        self.layout = (first, n_nodes, columns)
        self._loop = h.LfpkRec()
        h.setpointer(first, "first", self._loop)
        return True

    @property
    def width(self) -> int:
        """Values recorded per sample: the segments, or every node with the block copy."""
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
        first, n_nodes, columns = self.layout
        if self.kicks is None:
            self._loop.run(self.record, n, n_nodes, int(last))
        else:
            self._loop.run(self.record, n, n_nodes, int(last), *self.kicks.vectors)
            self.kicks.verify()
        # the same memory read both ways now: a layout that moved is an error
        self.ptr.gather(self.check)
        self.buffer.from_double(n_nodes, first)
        if not np.array_equal(self.buffer.as_numpy()[columns], self.check.as_numpy()):
            raise RuntimeError(
                "internal error: NEURON's membrane currents moved during the run "
                "(the block copy no longer matches the segments' pointers)"
            )
        return self.record.as_numpy().reshape(n, n_nodes)

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

    Like :class:`CurrentRecorder` it finds the states in memory (marks written into
    each segment's A and read back from the lowest-addressed one, after
    ``finitialize``), and after every run compares them with the segments' own
    pointers (a mismatch is an error); :meth:`locate` returns False where it cannot
    find them, and the caller then uses trains.

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
        self.ptr = h.PtrVector(max(self.n_seg, 1))
        for k, seg in enumerate(segments):
            self.ptr.pset(k, seg._ref_A_lfpk_hsyn)
        self.vectors = None  # (times, offsets, weights) once located
        self._base = None
        self._offsets = None
        self._check = h.Vector(max(self.n_seg, 1))
        self._read = h.Vector(max(self.n_seg, 1))

    def locate(self, columns) -> bool:
        """Find every segment's A (after ``finitialize``, before any step).

        Parameters
        ----------
        columns : numpy.ndarray
            Each segment's node index (NEURON orders a mechanism's instances as
            their nodes): the segment with the smallest holds the first A.

        Returns
        -------
        bool
            Whether the events can be delivered by the compiled loop.
        """
        h = self.h
        self.vectors = None
        if self.n_seg == 0 or not hasattr(h, "LfpkRec") or len(columns) != self.n_seg:
            return False
        base = self._segments[int(np.argmin(columns))]._ref_A_lfpk_hsyn
        saved = h.Vector(self.n_seg)
        self.ptr.gather(saved)
        self.ptr.scatter(h.Vector(_MARK * np.arange(1.0, self.n_seg + 1.0)))
        seen = h.Vector()
        seen.from_double(self.n_seg, base)
        self.ptr.scatter(saved)
        mark = seen.as_numpy() / _MARK
        which = np.rint(mark).astype(np.int64) - 1
        if not np.array_equal(np.sort(which), np.arange(self.n_seg)):
            return False
        offsets = np.empty(self.n_seg, dtype=np.int64)
        offsets[which] = np.arange(self.n_seg)
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

    def verify(self) -> None:
        """Compare the states read where they were found with the segments' own
        pointers; an error when NEURON moved them."""
        self.ptr.gather(self._check)
        self._read.from_double(self.n_seg, self._base)
        if not np.array_equal(self._read.as_numpy()[self._offsets], self._check.as_numpy()):
            raise RuntimeError(
                "internal error: NEURON's synapse states moved during the run (the "
                "compiled event delivery no longer matches the segments' pointers)"
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
        self.verify()
