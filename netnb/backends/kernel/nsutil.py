"""Linux namespace system calls for the agent: unshare, setns, mount, pivot_root, prctl.

Written by hand with ctypes because Python 3.11 has no ``os.unshare``/``os.setns`` (they arrive in
3.12, and are used when present). Network namespace changes are per thread: a thread that enters a
namespace must leave it again, which :func:`inside` guarantees.

>>> CLONE_NEWNET
1073741824
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """Detach the calling thread (or process, for user/PID/mount namespaces) into new namespaces."""
    if hasattr(os, "unshare"):
        os.unshare(flags)
    else:
        _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace open at ``fd``."""
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
    else:
        _check(_libc.setns(fd, nstype), "setns")


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2); used only inside the agent's private mount namespace and its nodes'."""
    def enc(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


MNT_DETACH = 2


def umount(target: str, flags: int = 0) -> None:
    """umount2(2); used only inside a private mount namespace."""
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


#: pivot_root(2)'s number (glibc has no wrapper for it).
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2), for the calling thread's (private) mount namespace."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(38, f"pivot_root: netnb does not know its number on {platform.machine()}")
    _check(_libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    """sethostname(2), for the calling thread's UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent dies."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def set_process_name(name: str) -> None:
    """Set the name ``ps`` shows for this process (its comm, at most 15 bytes)."""
    _check(_libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0), "prctl(PR_SET_NAME)")


def current_netns_fd() -> int:
    """An fd (close-on-exec) for the calling thread's network namespace."""
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def new_netns_fd(home: int) -> int:
    """Create a network namespace and return an fd holding it; the thread returns to ``home``."""
    unshare(CLONE_NEWNET)
    try:
        return current_netns_fd()
    finally:
        setns(home)


@contextmanager
def inside(fd: int, home: int, nstype: int = CLONE_NEWNET) -> Iterator[None]:
    """Run the block with the calling thread in the namespace ``fd``; always return to ``home``.

    A mount namespace (``nstype=CLONE_NEWNS``) can only be changed by a thread that has its own
    filesystem attributes: call ``unshare(CLONE_FS)`` on it first.
    """
    setns(fd, nstype)
    try:
        yield
    finally:
        setns(home, nstype)
