"""Each node's own view of the machine's files: what a lab writes stays in the lab.

A node runs in a root of its own: a tmpfs mounted in its mount namespace only (on an empty folder of the
lab's folder), holding one entry for each of the machine's top-level ones. Every top-level folder of the
machine (``/etc``, ``/var``, ``/root``, ``/tmp``, ``/home``, ``/usr``, ``/work``...) is an overlay whose lower
layer is the machine's folder and whose upper layer is the node's own, on that tmpfs; ``/proc`` and ``/sys``
are the kernel's own (bound in), ``/dev`` a tmpfs of the node's with the usual devices made anew (so
``tcpdump -w /dev/null``, which gives the file to the user tcpdump, changes the node's /dev/null); symlinks
(``/bin``) are copied; top-level files are bound in read-only. The node reads the machine's files; what it
writes, changes or deletes — anywhere, ``/`` itself too (``mkdir /shared``) — lands in its own layers, seen
by that node only, and gone with the lab. The lab's own folder (``lab.folder``: web roots, VM sockets,
capture spools) is bound back in, shared with the notebook as before, and ``/dev/shm`` is a tmpfs of the
node's. The node's namespace then pivots to that root and lets go of the machine's, so nothing in the node
can reach the machine's root any more (not even as root).

Where the kernel refuses an overlay (no overlayfs), the folder is bound read-only instead: writing there
fails with "Read-only file system". Where even that is refused, or the root cannot be changed, the node runs
nothing (:class:`ViewError`): a command that could change the machine's files is never started.

Rootless labs get the same overlays (user namespaces may mount them since Linux 5.11); a file of the machine
owned by another user is then read-only in the node as it is outside, and can be replaced (delete, write anew)
but not changed in place.

Mounts in a thread's namespace are written here with mount(2) and pivot_root(2) (:mod:`nsutil`): no library
does overlays or root changes.
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


def cover(store: str, shared: str, folders: Iterable[str] | None = None,
          binds: Iterable[tuple[str, str]] = ()) -> str:
    """Make the calling thread's new mount namespace the node's own view, and change its root to it (see the
    module docstring): a tmpfs on the empty folder ``store`` (inside the lab's folder) holds the node's root
    and layers; ``folders`` (default: every top-level folder but the kernel's own) are overlays; ``shared``
    (the lab's folder) is bound back, and each of ``binds`` (a folder of the lab's, where the node sees it:
    a shared folder). Returns "overlay", or "read-only" where a folder could only be bound read-only.

    Everything is mounted in that namespace only, and goes with it. Raises :class:`ViewError` if a folder
    can be neither overlaid nor made read-only, or the root cannot be changed.
    """
    covered = set(covered_folders() if folders is None else folders)
    try:
        # Nothing mounted here may reach the namespace this one was copied from.
        nsutil.mount(None, "/", None, nsutil.MS_REC | nsutil.MS_PRIVATE)
        nsutil.mount("netnb-node", store, "tmpfs", nsutil.MS_NOSUID | nsutil.MS_NODEV, "mode=0755")
    except OSError as exc:
        raise ViewError(f"cannot make the node's own layer of files ({exc.strerror}), so it runs nothing rather "
                        "than write the machine's files; `netnb doctor` tells what this machine allows") from exc
    # Paths through fds opened now: once /tmp is covered, the store under /tmp is no longer seen by path.
    store_fd = os.open(store, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    shared_fd = os.open(shared, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if shared else -1
    how = "overlay"
    try:
        base = f"/proc/self/fd/{store_fd}"
        root = f"{base}/root"
        os.mkdir(root, 0o755)
        for name in sorted(os.listdir("/")):
            how = _entry(name, root, base, name in covered, how)
        if shared_fd >= 0:
            nsutil.mount(f"/proc/self/fd/{shared_fd}", root + shared, None, nsutil.MS_BIND)
        for folder, at in binds:
            bind_folder(folder, root + at)
        try:
            nsutil.mount("shm", f"{root}/dev/shm", "tmpfs", nsutil.MS_NOSUID | nsutil.MS_NODEV, "mode=1777")
        except OSError:
            pass  # no /dev/shm on this machine: nothing of the machine's to protect there
        _enter(root)
    finally:
        os.close(store_fd)
        if shared_fd >= 0:
            os.close(shared_fd)
    return how


def _entry(name: str, root: str, base: str, overlay: bool, how: str) -> str:
    """One top-level entry of the machine in the node's root; returns ``how`` (made "read-only" by a
    folder that could only be bound so)."""
    path, target = "/" + name, f"{root}/{name}"
    try:
        info = os.lstat(path)
    except OSError:
        return how  # (gone meanwhile)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(path), target)
        return how
    if not stat.S_ISDIR(info.st_mode):  # a file at the top (.dockerenv): the machine's, read-only
        with open(target, "wb"):
            pass
        try:
            nsutil.mount(path, target, None, nsutil.MS_BIND)
            nsutil.mount(None, target, None, nsutil.MS_BIND | nsutil.MS_REMOUNT | nsutil.MS_RDONLY)
        except OSError:
            pass  # (unbound: the node sees an empty file of its own; bound but writable: a user's own)
        return how
    os.mkdir(target, stat.S_IMODE(info.st_mode))  # /tmp stays 1777, /root 0700
    if name == "dev":
        _own_dev(target)
        return how
    if not overlay:  # /proc, /sys: the kernel's own, as the node's namespace has them
        _bind(path, target, read_only=False)
        return how
    upper, work = f"{base}/upper/{name}", f"{base}/work/{name}"
    os.makedirs(upper, 0o755)
    os.makedirs(work, 0o700)
    os.chmod(upper, stat.S_IMODE(info.st_mode))
    try:
        nsutil.mount("overlay", target, "overlay", 0, f"lowerdir={path},upperdir={upper},workdir={work}")
        return how
    except OSError as overlay_refused:
        try:
            _bind(path, target, read_only=True)
            return "read-only"
        except OSError as exc:
            raise ViewError(
                f"cannot give the node its own view of {path} (overlay: {overlay_refused.strerror}; "
                f"read-only bind: {exc.strerror}), so it runs nothing rather than write the machine's "
                f"files; `netnb doctor` tells what this machine allows") from exc


#: The devices a node gets (its own nodes, made anew: ``tcpdump -w /dev/null`` chowns the node's /dev/null,
#: never the machine's).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun")


def _own_dev(target: str) -> None:
    """A /dev of the node's own, as a container's: a tmpfs with the usual devices made anew (mknod; bound from
    the machine's where a user namespace may not make devices, whose owner it cannot change either), a new
    devpts instance for terminals, and the usual links."""
    nsutil.mount("netnb-dev", target, "tmpfs", nsutil.MS_NOSUID, "mode=0755")
    for name in DEVICES:
        path = "/dev/" + name
        try:
            info = os.stat(path)
        except OSError:
            continue  # (this machine has no such device)
        if not stat.S_ISCHR(info.st_mode):
            continue
        made = f"{target}/{name}"
        os.makedirs(os.path.dirname(made), 0o755, exist_ok=True)
        try:
            os.mknod(made, info.st_mode, info.st_rdev)
            os.chmod(made, stat.S_IMODE(info.st_mode))  # (what the umask took away)
        except PermissionError:  # rootless: no device may be made in a user namespace
            with open(made, "wb"):
                pass
            nsutil.mount(path, made, None, nsutil.MS_BIND)
    os.mkdir(f"{target}/pts", 0o755)
    try:
        nsutil.mount("devpts", f"{target}/pts", "devpts", nsutil.MS_NOSUID | nsutil.MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=0620")
        os.symlink("pts/ptmx", f"{target}/ptmx")
    except OSError:
        pass  # (no terminals of its own: commands run without one)
    os.mkdir(f"{target}/shm", 0o1777)
    for link, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
        os.symlink(to, f"{target}/{link}")


def bind_folder(folder: str, at: str) -> None:
    """Bind ``folder`` (of the lab's) at ``at`` of the view (made in the node's own layers if missing)."""
    os.makedirs(at, 0o755, exist_ok=True)
    nsutil.mount(folder, at, None, nsutil.MS_BIND)


def _bind(path: str, target: str, read_only: bool) -> None:
    nsutil.mount(path, target, None, nsutil.MS_BIND | nsutil.MS_REC)
    if read_only:
        nsutil.mount(None, target, None, nsutil.MS_BIND | nsutil.MS_REMOUNT | nsutil.MS_RDONLY)


def _enter(root: str) -> None:
    """Make ``root`` the namespace's root and let go of the machine's (pivot_root(".", ".") then detach the
    old root stacked on top, as container runtimes do): nothing in the node can reach the machine's root."""
    try:
        nsutil.mount(root, root, None, nsutil.MS_BIND | nsutil.MS_REC)  # (a root must be a mount point)
        os.chdir(root)
        nsutil.pivot_root(".", ".")
        nsutil.umount(".", nsutil.MNT_DETACH)
        os.chdir("/")
    except OSError as exc:
        raise ViewError(f"cannot give the node a root of its own ({exc.strerror}), so it runs nothing rather "
                        "than write the machine's files; `netnb doctor` tells what this machine allows") from exc


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
