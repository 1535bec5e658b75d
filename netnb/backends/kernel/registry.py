"""Ownership records: which agent process holds which lab, for whom.

Every running lab writes one JSON record into a runtime directory private to its user. ``netnb clean``
reads them: a record whose owner process is gone while its agent still runs is a leftover, and only
such agents (matched by pid *and* start time, so a reused pid is never hit) are stopped.

>>> sorted(LabRecord("x", "x-1", 1, 0, 2, 0, 0, "root", 0.0).to_dict())[:3]
['agent_pid', 'agent_start', 'created']
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass


def runtime_dir() -> str:
    """``/run/netnb`` for root, ``$XDG_RUNTIME_DIR/netnb`` or ``/tmp/netnb-<uid>`` otherwise (mode 0700)."""
    if os.geteuid() == 0:
        base = "/run/netnb"
    elif os.environ.get("XDG_RUNTIME_DIR"):
        base = os.path.join(os.environ["XDG_RUNTIME_DIR"], "netnb")
    else:
        base = os.path.join(tempfile.gettempdir(), f"netnb-{os.geteuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    st = os.stat(base)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise PermissionError(f"{base} must belong to uid {os.geteuid()} with mode 0700; remove it and retry")
    return base


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/PID/stat), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[19])


def is_alive(pid: int, start: int) -> bool:
    """True when ``pid`` runs and is the same process that started at ``start``."""
    return process_start_time(pid) == start


@dataclass(frozen=True)
class LabRecord:
    """One running lab: its name and id, the owner process and the agent process holding it."""

    lab: str
    lab_id: str
    owner_pid: int
    owner_start: int
    agent_pid: int
    agent_start: int
    uid: int
    mode: str
    created: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def path(self) -> str:
        return os.path.join(runtime_dir(), f"{self.lab_id}.json")

    def write(self) -> None:
        """Write atomically (a reader never sees half a record)."""
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f)
        os.replace(tmp, self.path)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def read_records() -> list[LabRecord]:
    """Every record in this user's runtime directory (unreadable ones are skipped)."""
    out = []
    base = runtime_dir()
    for name in sorted(os.listdir(base)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(base, name)) as f:
                out.append(LabRecord(**json.load(f)))
        except (OSError, ValueError, TypeError):
            continue
    return out
