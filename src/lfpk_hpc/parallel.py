"""MPI at the entry point: the communicator, and how an error on one rank ends the job.

- :func:`world_comm` gives ``MPI.COMM_WORLD`` when the process was started by an MPI
  launcher (mpirun, mpiexec, srun) and ``None`` otherwise (mpi4py is then not even
  imported).
- :func:`run_command` is a command's entry point: the communicator, and the command
  run guarded on every rank.
- :func:`run_guarded` runs a command on every rank and turns any exception into
  one error line and an exit code that every rank returns. When the ranks that did
  not fail reach the end of the command too (the usual case: bad input is found by
  every rank alike, a failing task drains the task farm), they agree on the code, the
  first error is printed once and rank 0 ends the job with that code (through
  MPI_Abort with Open MPI's help text switched off: a job whose ranks simply exit with
  a non-zero code makes mpirun print a paragraph after our line). When they cannot (they wait in
  a collective operation for the rank that failed, or they are stepping a network
  with it), the failing rank prints its error and aborts the job after
  :data:`GRACE_S` seconds: a job never waits for a rank that has given up. That
  is the worst failure an allocation on a cluster can have.
- :func:`fault_point` lets the tests make one rank fail at a named point
  (environment variable ``LFPK_HPC_FAULT="point@rank,..."``; the task farm has the
  points ``setup``, ``task`` and ``task:<label>``, e.g. ``task:E->I``).
- :func:`wait_quietly`: a barrier that sleeps instead of spinning, for ranks that
  wait while rank 0 works alone (on a small machine a spinning rank takes a core).

Only the entry point (:mod:`lfpk_hpc.cli`) creates the communicator; everything
else takes ``comm`` as an argument (``None``: one process).
"""

from __future__ import annotations

import os
import sys
import time

from .errors import RunError, describe, report

__all__ = [
    "GRACE_S",
    "FaultInjected",
    "env_rank",
    "fault_point",
    "launched_with_mpi",
    "run_command",
    "run_guarded",
    "wait_quietly",
    "world_comm",
]

#: environment variables set by MPI launchers (Open MPI, MPICH/Hydra, PMIx, Slurm's srun)
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS")
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")

#: seconds a failed rank waits for the others to reach the end before it aborts the job
GRACE_S = float(os.environ.get("LFPK_HPC_ERROR_GRACE_S", "5"))


def launched_with_mpi() -> bool:
    """True when this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def env_rank() -> int:
    """This process's rank as the launcher announces it (0 without a launcher); usable
    before MPI is initialised, for instance to print an error only once."""
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def world_comm(neuron_in_mpi: bool = False):
    """``MPI.COMM_WORLD`` when launched with MPI, else ``None`` (mpi4py not imported).

    Call at the entry point only. By default NEURON is imported first, before MPI is
    initialised, so that it stays out of MPI: every rank is an independent NEURON
    instance (kernel tasks and the hybrid ground truth's cells need no NEURON
    communication), and a NEURON error on one rank is a Python exception there
    instead of an MPI_Abort of the whole job. With ``neuron_in_mpi`` (the recurrent
    ground truth, whose network uses NEURON's ParallelContext) MPI is initialised
    first, so that NEURON, imported afterwards, joins it.

    Parameters
    ----------
    neuron_in_mpi : bool, optional
        Initialise MPI before NEURON is imported, so that NEURON joins it.

    Returns
    -------
    mpi4py.MPI.Comm or None
        ``MPI.COMM_WORLD``, or None when not launched with MPI.
    """
    if not launched_with_mpi():
        return None
    # Open MPI: no help text from this process (MPI_Abort's ten lines of it would bury
    # the one line that says what went wrong; run_guarded prints that line)
    os.environ.setdefault("OMPI_MCA_orte_execute_quiet", "1")
    if not neuron_in_mpi:
        import neuron  # noqa: F401  (before mpi4py: see above)
    from mpi4py import MPI

    return MPI.COMM_WORLD


class FaultInjected(RunError):
    """A failure made on purpose by ``LFPK_HPC_FAULT`` (tests of the error paths)."""


def fault_point(name: str, rank: int = 0) -> None:
    """Raise :class:`FaultInjected` if ``LFPK_HPC_FAULT`` names this point for this
    rank: a comma-separated list of ``point`` (every rank) or ``point@rank``.

    Parameters
    ----------
    name : str
        Name of this point of the code.
    rank : int, optional
        This process's rank (an index).

    Raises
    ------
    FaultInjected
        ``LFPK_HPC_FAULT`` names this point (and rank).
    """
    spec = os.environ.get("LFPK_HPC_FAULT")
    if not spec:
        return
    for item in spec.split(","):
        where, _, who = item.strip().partition("@")
        if where == name and (who == "" or (who.isdigit() and int(who) == rank)):
            raise FaultInjected(f"fault injected at {name!r} on rank {rank} (LFPK_HPC_FAULT)")


def _test_sleep(request, poll_s: float = 0.002) -> None:
    """Wait for an MPI request without spinning a core."""
    while not request.Test():
        time.sleep(poll_s)


def wait_quietly(comm) -> None:
    """Barrier over ``comm`` (None: nothing) that sleeps while it waits.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None
        Communicator to wait on; None: return at once.
    """
    if comm is None or comm.Get_size() == 1:
        return
    _test_sleep(comm.Ibarrier())


def run_command(work, *, neuron_in_mpi: bool = False) -> int:
    """A command's entry point: ``work(comm)`` on every rank of :func:`world_comm`'s
    communicator, guarded by :func:`run_guarded` (any error is one line and the exit
    code every rank returns: 2 for bad input, 1 for a run that failed).

    Parameters
    ----------
    work : callable
        Called with the communicator (None: one process); returns an exit code or None.
    neuron_in_mpi : bool, optional
        Initialise MPI before NEURON is imported, so that NEURON joins it
        (:func:`world_comm`).

    Returns
    -------
    int
        The exit code (0 on success), the same on every rank.
    """
    comm = world_comm(neuron_in_mpi=neuron_in_mpi)
    return run_guarded(lambda: work(comm), comm)


def run_guarded(fn, comm=None) -> int:
    """Run ``fn()`` (on every rank of ``comm``) and return the exit code every rank
    ends with: ``fn``'s return value (None = 0), or the code of the exception it
    raised (:func:`lfpk_hpc.errors.describe`). See the module docstring for how the
    ranks agree, and when the job is aborted instead.

    Parameters
    ----------
    fn : callable
        Called without arguments; returns an exit code or None.
    comm : mpi4py.MPI.Comm, optional
        Communicator of the ranks that all run ``fn``; None: serial.

    Returns
    -------
    int
        The exit code (0 on success), the same on every rank.
    """
    agree = comm.Dup() if comm is not None else None  # its own: never mixed up with fn's
    msg = tb = None
    try:
        code = int(fn() or 0)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - every error ends as one line and a code
        code, msg, tb = describe(exc)
    if agree is None:
        if msg is not None:
            if tb:
                sys.stderr.write(tb)
            report(msg, code)
        return code
    import numpy as np
    from mpi4py import MPI

    rank = agree.Get_rank()
    mine = np.array([code], dtype=np.int64)
    worst = np.zeros(1, dtype=np.int64)
    request = agree.Iallreduce(mine, worst, op=MPI.MAX)
    deadline = time.monotonic() + GRACE_S if code else None
    while not request.Test():
        if deadline is not None and time.monotonic() > deadline:
            # the other ranks are elsewhere (a collective, a network simulation):
            # they would wait for this one forever
            sys.stdout.flush()
            if tb:
                sys.stderr.write(tb)
            what = msg if msg is not None else f"exit code {code}"
            report(
                f"{what} (on rank {rank} of {agree.Get_size()}; the other ranks could not "
                f"stop with it within {GRACE_S:g} s, so the job is aborted)",
                code,
            )
            _end_job(agree, code)
        time.sleep(0.002)
    code = int(worst[0])
    if code == 0:
        agree.Free()
        return 0
    found = agree.gather((msg, tb), root=0)
    if rank == 0:
        first = next((m for m in found if m[0] is not None), None)
        if first is not None:
            if first[1]:
                sys.stderr.write(first[1])
            report(first[0], code)
        _end_job(agree, code)
    return code  # the other ranks wait in MPI_Finalize until rank 0 ends the job


def _end_job(comm, code: int) -> None:
    """End every rank with exit code ``code``. An MPI job whose processes exit with a
    non-zero code makes mpirun print a paragraph of its own after our error line;
    MPI_Abort with Open MPI's help text switched off (see :func:`world_comm`) ends the
    job with the code and nothing after the line."""
    sys.stdout.flush()
    sys.stderr.flush()
    comm.Abort(code)
