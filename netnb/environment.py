"""Can this machine build labs? A quick, honest answer for the first cell of every notebook.

>>> isinstance(check().ok, bool)
True
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass

from netnb.errors import NetnbError, UsageError

#: The backends a lab can ask for (``Lab(backend=...)``, ``NETNB_BACKEND``).
CHOICES = ("auto", "kernel", "sim")


def wanted(name: str | None) -> str:
    """The backend asked for: ``name``, else ``$NETNB_BACKEND``, else "auto" (checked against CHOICES)."""
    source = "backend="
    if name is None:
        name, source = os.environ.get("NETNB_BACKEND", "auto") or "auto", "NETNB_BACKEND="
    if name not in CHOICES:
        raise UsageError(f"{source}{name!r} is no backend: choose one of {', '.join(repr(c) for c in CHOICES)}, or give "
                         "an object that carries out netnb.backends.contract.Backend")
    return name


@dataclass(frozen=True)
class Environment:
    """The outcome of :func:`check`: whether labs can be built here, how, and what to do if not."""

    ok: bool
    mode: str
    reason: str
    #: Whether labs here may make TAP devices (the VMs of tutorials 01 and 02), and why not.
    tap: bool = True
    tap_reason: str = ""
    #: What labs run on here: "kernel" (namespaces) or "sim" (the simulation, in pure Python).
    backend: str = "kernel"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        if self.backend == "sim":
            text = "netnb: labs run here on the simulation (pure Python" + (f"; no kernel labs: {self.reason})"
                                                                           if self.reason else ")")
        else:
            text = f"netnb: labs run here in {self.mode} mode" if self.ok else f"netnb cannot build labs here: {self.reason}"
        if self.ok and not self.tap and self.backend == "kernel":
            text += f" (no TAP devices: {self.tap_reason})"
        colour = "#1e8449" if self.ok else "#c0392b"
        return {"text/plain": text, "text/html": f'<p style="color:{colour}"><b>{text}</b></p>'}


def check() -> Environment:
    """Try, in a throwaway child process, what a lab's agent does first (new network namespace)."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return Environment(False, "none", f"this is not Linux with processes ({sys.platform}): network namespaces "
                           "need a Linux kernel", backend="sim")
    from netnb.backends.kernel import nsutil

    root = os.geteuid() == 0
    flags = nsutil.CLONE_NEWNET if root else nsutil.CLONE_NEWUSER | nsutil.CLONE_NEWNET
    pid = os.fork()
    if pid == 0:  # the child tries and reports by exit status; it touches nothing else
        try:
            nsutil.unshare(flags)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        tap_reason = tap_refusal(root)
        return Environment(True, "root" if root else "rootless", "", not tap_reason, tap_reason)
    why = ("this process may not create network namespaces (no root, and unprivileged user namespaces "
           "are disabled or blocked, as on Binder and most hosted notebooks)")
    return Environment(False, "none", why, backend="sim")


def tap_refusal(root: bool) -> str:
    """Why a lab's TAP devices would be refused here, or ``""`` when they can be made.

    A rootless lab is root only inside its own user namespace: opening ``/dev/net/tun`` is checked
    against the machine's user, so it works only where the device is open to everyone (mode 0666).
    """
    path = "/dev/net/tun"
    if not os.path.exists(path):
        return f"{path} does not exist on this machine (no tun/tap driver)"
    if root or os.access(path, os.R_OK | os.W_OK):
        return ""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    return (f"{path} is mode {mode:04o} here, so only root may open it, and this lab runs rootless as uid "
            f"{os.getuid()}; run as root, or ask the machine's admin for `chmod 0666 {path}`")


class LabsUnavailable(NetnbError):
    """Raised by :func:`require_labs`; Jupyter shows its message instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def require_labs(*, tap: bool = False) -> Environment:
    """First cell of a tutorial: say how labs run here (and get ready to start them), or stop the
    notebook with what to do instead. ``tap`` asks for TAP devices too (a lab with VMs).

    Labs run on the kernel where this machine allows it and on the simulation elsewhere (``NETNB_BACKEND``
    chooses for every lab: kernel, sim or auto); this says which, in one line.

    Example: ``env = netnb.require_labs(); env.backend, env.mode  ->  ('kernel', 'root')``
    """
    asked = wanted(None)
    env = check() if asked != "sim" else Environment(False, "none", "", backend="sim")
    if asked == "sim" or (asked == "auto" and not env.ok):
        env = Environment(True, "none", env.reason, backend="sim")  # (its TAP devices and VMs are simulated too)
        print(f"netnb {sys.modules['netnb'].__version__}: labs run here on the simulation"
              + (f" (no kernel labs: {env.reason})" if env.reason else " (NETNB_BACKEND=sim)"))
        return env
    if not env.ok:
        raise LabsUnavailable(
            f"netnb cannot build labs here: {env.reason}.\n"
            "Run the tutorials on a Linux machine where you are root (or allowed user namespaces):\n"
            "    git clone <this repository> && cd netnb && bash scripts/setup.sh\n"
            "    .venv/bin/jupyter lab notebooks/\n"
            "Everything you read here still applies; the cells below need a real Linux kernel.")
    if tap and not env.tap:
        raise LabsUnavailable(
            f"This notebook's VMs need TAP devices, which this machine refuses here: {env.tap_reason}.\n"
            "Nothing was built. Everything you read here still applies; tutorial 03 onwards needs no TAP.")
    from netnb.backends.kernel.client import prepare

    prepare(env.mode)  # start the agent spawner now: the first lab then starts as fast as the others
    print(f"netnb {sys.modules['netnb'].__version__}: labs run here in {env.mode} mode")
    return env
