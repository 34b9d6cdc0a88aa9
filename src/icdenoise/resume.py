"""Resuming a killed run: stale Snakemake directory locks.

Snakemake locks its working directory with plain files under ``.snakemake/locks`` that record
no process, so a run killed by SIGKILL, the OOM killer or a lost node leaves them behind and
the next run stops with "Directory cannot be locked" until someone runs ``--unlock`` by hand.

Here the planning process of every run of this workflow also holds an ``flock(2)`` on
``.snakemake/icdenoise.lock`` for its whole life; the kernel releases it when the process dies,
however it dies. A run that obtains it knows that no other run of this workflow is alive in the
directory, so Snakemake lock files left there are stale and are removed. As a second guard the
lock file names the host and pid of its last holder: locks are only removed when that holder
ran on this host and is gone (on a file system whose flock is local to each host, a run on
another login node is never unlocked). A run that cannot obtain the lock changes nothing, and
Snakemake then reports the live run's locks as usual.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

LOCK_NAME = "icdenoise.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_workdir(workdir: str | os.PathLike = ".") -> tuple[object | None, list[Path]]:
    """Hold this workflow's lock on ``workdir``; if obtained, remove stale Snakemake locks.

    Returns ``(handle, removed)``: keep ``handle`` referenced for the life of the process (None if
    another run holds the lock or the file system has no locks); ``removed`` lists deleted lock files.
    """
    import fcntl

    meta = Path(workdir) / ".snakemake"
    try:
        meta.mkdir(parents=True, exist_ok=True)
        fh = open(meta / LOCK_NAME, "a+")
    except OSError:
        return None, []
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live run (EWOULDBLOCK), or no lock support (ENOLCK, EOPNOTSUPP)
        fh.close()
        return None, []
    fh.seek(0)
    previous = fh.read().split()
    host = socket.gethostname()
    removed: list[Path] = []
    same_host_and_gone = (
        len(previous) == 2 and previous[0] == host and previous[1].isdigit() and not _alive(int(previous[1]))
    )
    if same_host_and_gone:
        for f in sorted((meta / "locks").glob("*.lock")):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                removed.append(f)
    if not previous or previous[0] == host:  # a record of another host stays: never unlock across hosts
        fh.seek(0)
        fh.truncate()
        fh.write(f"{host} {os.getpid()}\n")
        fh.flush()
    return fh, removed
