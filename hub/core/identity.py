"""A worker process's name that survives its restart, and the id of each incarnation.

A process that runs jobs (``hub serve`` with its embedded worker, ``hub worker``) takes a name
at start: ``<base>/<role>-<index>``, where ``base`` is ``HUB_WORKER_NAME`` or the host name,
``role`` is ``serve`` or ``worker``, and ``index`` the first slot of that role it can lock under
``<HUB_VAR_DIR>/workers/`` (an exclusive ``flock`` on ``<role>-<index>.lock``, held for the
life of the process). The operating system drops the lock when the process ends, however it
ends (``kill -9`` included), so a process that obtains a name knows that no live process holds
it: the runs its name left ``running`` belong to a dead incarnation and can be requeued at once
(:func:`hub.core.runs.requeue_own_runs`), without waiting for their heartbeat to go stale.

Restarting a process gives it its old name back (the lowest free slot of its role on that
host: with several processes of a role dead at once, names may be handed out in another order,
which is just as right — each name is held by one live process at most). The boot id (random,
per start) tells the incarnations apart; both are written into the lock file for whoever
looks.

What the name does not cover: processes on other hosts, or with another var dir, never take
each other's name, so their dead runs wait for the stale window (``HUB_RUN_STALE_AFTER_SECONDS``)
as before. Two hosts reporting the same host name (containers sharing one) should set
``HUB_WORKER_NAME``; should they not, fencing (see :mod:`hub.core.runs`) still keeps a
requeued run from being written by both, the cost is a needless restart of that run.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hub.core.types import utcnow

__all__ = ["MAX_SLOTS", "WorkerIdentity", "acquire_identity", "new_boot_id"]

MAX_SLOTS = 256


def new_boot_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class WorkerIdentity:
    """The name this process holds (with its lock file open) and its boot id."""

    name: str
    boot_id: str
    path: Path | None = None
    _handle: IO[str] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the name up (the process keeps running, e.g. in tests)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def acquire_identity(var_dir: Path, role: str, base: str = "") -> WorkerIdentity | None:
    """Take the first free name of ``role`` under ``var_dir``; None where file locks are not
    available (then the process has no lasting name and relies on the stale window)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    base = (base or socket.gethostname() or "hub").strip()
    directory = Path(var_dir) / "workers"
    directory.mkdir(parents=True, exist_ok=True)
    boot_id = new_boot_id()
    for index in range(MAX_SLOTS):
        path = directory / f"{role}-{index}.lock"
        handle = open(path, "a+", encoding="utf-8")  # held for the life of the process
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        name = f"{base}/{role}-{index}"[:128]
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "name": name,
                    "boot_id": boot_id,
                    "pid": os.getpid(),
                    "started_at": utcnow().isoformat(),
                }
            )
            + "\n"
        )
        handle.flush()
        return WorkerIdentity(name, boot_id, path, handle)
    return None
