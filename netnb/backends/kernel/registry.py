"""Ownership records and lab folders: which agent process holds which lab, for whom, and where its files are.

Every running lab writes one JSON record into a runtime directory private to its user, and keeps its
files (web roots, VM sockets, Docker hosts' /etc/hosts, capture spools, the agent's process logs) in one
folder of its own, ``netnb-lab-<owner pid>.<owner start>-XXXX`` in the temp folder, mode 0700. A clean
stop, or the end of the notebook process, removes both. ``netnb clean`` reads them after a crash: a
record whose owner process is gone is a leftover; only its agent (matched by pid *and* start time, so a
reused pid is never hit) is stopped, and only folders of this user whose owner is gone are removed.

Paths that another user could create first are never trusted: the runtime directory and lab folders
are checked without following links (owner, mode, a real directory), and a squatted place is skipped.

>>> sorted(LabRecord("x", "x-1", 1, 0, 2, 0, 0, "root", 0.0).to_dict())[:3]
['agent_pid', 'agent_start', 'created']
>>> _owner_of_folder("netnb-lab-123.456-abcd")
(123, 456)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from netnb.errors import PrivilegeError


def _euid() -> int:
    """The effective uid (Pyodide's os has only getuid: the simulation makes lab folders there too)."""
    return os.geteuid() if hasattr(os, "geteuid") else os.getuid()

LAB_FOLDER_PREFIX = "netnb-lab-"


def _candidates(uid: int) -> list[str]:
    """Where this user's records may live, best first. Not ``TMPDIR``: `netnb clean` from another
    shell must look in the same places."""
    if uid == 0:
        return ["/run/netnb"]
    out = []
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and _private(xdg, uid, create=False) is None:
        out.append(os.path.join(xdg, "netnb"))
    out.append(f"/tmp/netnb-{uid}")
    home = os.path.expanduser("~")  # the user's own: a place others cannot make for them
    if home == "~":
        try:
            import pwd  # (not at the top: Pyodide, where the simulation makes lab folders too, has none)

            home = pwd.getpwuid(uid).pw_dir
        except (KeyError, ImportError):
            home = ""
    if home and _private(home, uid, create=False, strict_mode=False) is None:
        out.append(os.path.join(home, ".netnb-run"))
    return out


def _private(path: str, uid: int, *, create: bool = True, strict_mode: bool = True) -> str | None:
    """None when ``path`` is a real directory (not a link) owned by ``uid`` (and, strictly, mode 0700);
    else why not. Makes it (0700) if it does not exist and ``create``."""
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            return f"{path}: {exc.strerror}"
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory of its own (a link or a file someone put there)"
    if st.st_uid != uid:
        return f"{path} belongs to uid {st.st_uid}, not to uid {uid} (someone else made it first)"
    if strict_mode and st.st_mode & 0o077:
        return f"{path} is open to others (mode {stat.S_IMODE(st.st_mode):04o}, not 0700)"
    return None


def runtime_dir() -> str:
    """``/run/netnb`` for root; ``$XDG_RUNTIME_DIR/netnb``, ``/tmp/netnb-<uid>`` or ``~/.netnb-run``
    otherwise: the first that is (or can be made) a 0700 directory of this user and nobody else's."""
    uid = _euid()
    why = []
    for base in _candidates(uid):
        problem = _private(base, uid)
        if problem is None:
            return base
        why.append(problem)
    raise PrivilegeError("netnb finds no private place for its lab records: " + "; ".join(why) +
                         ". Set XDG_RUNTIME_DIR to a folder only you can write, or remove what is in the way")


def record_dirs() -> list[str]:
    """Every place this user's records may be, that exists and is safely this user's."""
    uid = _euid()
    return [base for base in _candidates(uid) if os.path.isdir(base) and _private(base, uid, create=False) is None]


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


def make_lab_folder(owner_pid: int, owner_start: int) -> str:
    """A new private folder (0700) for one lab's files, named after its owner process."""
    return tempfile.mkdtemp(prefix=f"{LAB_FOLDER_PREFIX}{owner_pid}.{owner_start}-")


def _owner_of_folder(name: str) -> tuple[int, int] | None:
    found = re.fullmatch(rf"{LAB_FOLDER_PREFIX}(\d+)\.(\d+)-\w+", name)
    return (int(found.group(1)), int(found.group(2))) if found else None


def remove_lab_folder(path: str) -> bool:
    """Remove a lab folder of this user (and nothing else: a link, or another user's folder, is left)."""
    if not path or _owner_of_folder(os.path.basename(path)) is None:
        return False
    if _private(path, _euid(), create=False) is not None:
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not os.path.exists(path)


def orphan_lab_folders() -> Iterator[str]:
    """Lab folders of this user whose owner process is gone (in the temp folders a lab may use)."""
    uid = _euid()
    for base in dict.fromkeys([tempfile.gettempdir(), "/tmp"]):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in sorted(names):
            owner = _owner_of_folder(name)
            path = os.path.join(base, name)
            if owner is None or is_alive(*owner) or _private(path, uid, create=False) is not None:
                continue
            yield path


@dataclass(frozen=True)
class LabRecord:
    """One running lab: its name and id, the owner process, the agent process holding it, its folder."""

    lab: str
    lab_id: str
    owner_pid: int
    owner_start: int
    agent_pid: int
    agent_start: int
    uid: int
    mode: str
    created: float
    folder: str = ""
    #: Where it was read from (not written): ``remove()`` deletes that file.
    source: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("source")
        return data

    @property
    def path(self) -> str:
        return self.source or os.path.join(runtime_dir(), f"{self.lab_id}.json")

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
    """Every record of this user (in each of its record places; unreadable ones are skipped)."""
    out = []
    for base in record_dirs():
        for name in sorted(os.listdir(base)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(base, name)
            try:
                with open(path) as f:
                    data = json.load(f)
                out.append(LabRecord(**data, source=path))
            except (OSError, ValueError, TypeError):
                continue
    return out
