"""Which backend a lab runs on: ``Lab(name, backend="kernel" | "sim" | "auto")``, or ``NETNB_BACKEND`` in the
environment for every lab that names none. "auto" (the default) takes the kernel where this machine lets a
process make network namespaces (what ``netnb doctor`` checks, probed once per process) and the simulation
everywhere else — never silently: a simulated lab says "simulated" in its drawing and its repr.

>>> choice("sim").name
'sim'
"""

from __future__ import annotations

import functools

from netnb.backends.contract import Backend
from netnb.environment import CHOICES, check, wanted
from netnb.errors import UsageError

__all__ = ["CHOICES", "choice", "kernel_labs_possible", "wanted"]


@functools.lru_cache(maxsize=1)
def kernel_labs_possible() -> tuple[bool, str]:
    """(whether the kernel backend can build labs here, why not)."""
    env = check()
    return env.ok, env.reason


def choice(name: str | None = None, mode: str | None = None) -> Backend:
    """A new backend for one lab, as ``name`` (or the environment) asks."""
    picked = wanted(name)
    if picked == "auto":
        picked = "kernel" if kernel_labs_possible()[0] else "sim"
    if picked == "sim":
        if mode is not None:
            raise UsageError(f"mode={mode!r} belongs to the kernel backend; this lab runs on the simulation "
                             "(backend='kernel' to run it on namespaces)")
        from netnb.backends.sim.backend import SimBackend

        return SimBackend()
    from netnb.backends.kernel.backend import KernelBackend

    return KernelBackend(mode)  # type: ignore[arg-type]
