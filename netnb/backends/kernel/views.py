"""Each node's own view of the machine's files: what a lab writes stays in the lab.

In a node's mount namespace every top-level folder of the machine (``/etc``, ``/var``, ``/root``, ``/tmp``,
``/home``, ``/usr``, ``/work``...; all but ``/proc``, ``/sys`` and ``/dev``) is covered by an overlay whose
lower layer is the machine's folder and whose upper layer is the node's own folder on a tmpfs of the lab. The
node reads the machine's files; what it writes, changes or deletes lands in its upper layer, seen by that node
only, and gone with the lab. The lab's own folder (``lab.folder``: web roots, VM sockets, capture spools) is
bound back in, shared with the notebook as before, and ``/dev/shm`` is a tmpfs of the node's. The layers live
on a tmpfs mounted in the node's namespace only (on an empty folder of the lab's folder), so they go when the
node's last process and the agent's handle on its namespace are gone.

Where the kernel refuses an overlay (no overlayfs), the folder is bound read-only instead: writing there
fails with "Read-only file system". Where even that is refused, the node runs nothing (:class:`ViewError`):
a command that could change the machine's files is never started.

Rootless labs get the same overlays (user namespaces may mount them since Linux 5.11); a file of the machine
owned by another user is then read-only in the node as it is outside, and can be replaced (delete, write anew)
but not changed in place.

Mounts in a thread's namespace are written here with mount(2) (:mod:`nsutil`): no library does overlays.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from netnb.backends.kernel import nsutil
from netnb.errors import NetnbError
from netnb.model import checks


class ViewError(NetnbError):
    """A node's own view of the files could not be made, so it runs nothing."""


def covered_folders(root: str = "/") -> list[str]:
    """The top-level folders of the machine a node sees through its own layer (not symlinks like ``/bin``).

    >>> "etc" in covered_folders() and "proc" not in covered_folders()
    True
    """
    found = []
    for name in sorted(os.listdir(root)):
        try:
            if stat.S_ISDIR(os.lstat(os.path.join(root, name)).st_mode) and name not in checks.KEPT_FOLDERS:
                found.append(name)
        except OSError:
            continue
    return found


def cover(store: str, shared: str, folders: Iterable[str]) -> str:
    """In the calling thread's new mount namespace, mount a tmpfs on the empty folder ``store`` (inside the
    lab's folder) for the node's layers, cover ``folders`` with overlays whose upper layers are there, bind
    ``shared`` (the lab's folder) back; returns "overlay" or "read-only".

    Everything is mounted in that namespace only, and goes with it. Raises :class:`ViewError` if a folder
    can be neither overlaid nor made read-only.
    """
    try:
        # Nothing mounted here may reach the namespace this one was copied from.
        nsutil.mount(None, "/", None, nsutil.MS_REC | nsutil.MS_PRIVATE)
        nsutil.mount("netnb-node", store, "tmpfs", nsutil.MS_NOSUID | nsutil.MS_NODEV, "mode=0700")
    except OSError as exc:
        raise ViewError(f"cannot make the node's own layer of files ({exc.strerror}), so it runs nothing rather "
                        "than write the machine's files; `netnb doctor` tells what this machine allows") from exc
    # Paths through fds opened now: once /tmp is covered, the store under /tmp is no longer seen by path.
    store_fd = os.open(store, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    shared_fd = os.open(shared, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if shared else -1
    how = "overlay"
    try:
        base = f"/proc/self/fd/{store_fd}"
        for name in folders:
            target = "/" + name
            upper, work = f"{base}/upper/{name}", f"{base}/work/{name}"
            os.makedirs(upper, 0o755)
            os.makedirs(work, 0o700)
            os.chmod(upper, stat.S_IMODE(os.stat(target).st_mode))  # /tmp stays 1777, /root 0700
            try:
                nsutil.mount("overlay", target, "overlay", 0, f"lowerdir={target},upperdir={upper},workdir={work}")
            except OSError as overlay_refused:
                try:
                    nsutil.mount(target, target, None, nsutil.MS_BIND | nsutil.MS_REC)
                    nsutil.mount(None, target, None, nsutil.MS_BIND | nsutil.MS_REMOUNT | nsutil.MS_RDONLY)
                    how = "read-only"
                except OSError as exc:
                    raise ViewError(
                        f"cannot give the node its own view of {target} (overlay: {overlay_refused.strerror}; "
                        f"read-only bind: {exc.strerror}), so it runs nothing rather than write the machine's "
                        f"files; `netnb doctor` tells what this machine allows") from exc
        if shared_fd >= 0:
            nsutil.mount(f"/proc/self/fd/{shared_fd}", shared, None, nsutil.MS_BIND)
        try:
            nsutil.mount("shm", "/dev/shm", "tmpfs", nsutil.MS_NOSUID | nsutil.MS_NODEV, "mode=1777")
        except OSError:
            pass  # no /dev/shm on this machine: nothing of the machine's to protect there
    finally:
        os.close(store_fd)
        if shared_fd >= 0:
            os.close(shared_fd)
    return how


def write_file(path: str, data: bytes | None, mode: int) -> None:
    """Write a file (``data`` None: a folder) in the calling thread's view, making its folders; replaces what
    was there (a file of the machine's is replaced in the node's layer, never changed)."""
    checks.file_path(path)
    if data is None:
        os.makedirs(path, mode, exist_ok=True)
        os.chmod(path, mode)
        return
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    if os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)  # a new file, so that a lower file we may not write (rootless) is simply hidden
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # what umask took away


def read_file(path: str) -> bytes:
    """A file as the calling thread sees it."""
    checks.file_path(path)
    with open(path, "rb") as f:
        return f.read()
