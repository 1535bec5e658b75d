"""The one exception tree of netnb.

Every error netnb raises on purpose is a :class:`NetnbError`; kernel and OS errors are
translated with ``raise ... from`` so the original stays visible in the traceback.

>>> try:
...     raise TopologyError(["node 'A': defined twice"])
... except NetnbError as exc:
...     print(exc.problems)
["node 'A': defined twice"]
"""

from __future__ import annotations

from collections.abc import Iterable


class NetnbError(Exception):
    """Base class of every error netnb raises."""


class TopologyError(NetnbError, ValueError):
    """The described lab is not valid; ``problems`` lists every problem found, each with what to fix."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"the lab description has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class UsageError(NetnbError, TypeError):
    """An argument of the wrong type or form (a number where a node was expected, ``run(None)``...)."""


class NotFoundError(NetnbError, KeyError):
    """A name that is not there (``lab["nope"]``); the message lists the names that are.

    >>> str(NotFoundError("no node 'Z' in lab 'x' (its nodes: A, B)"))
    "no node 'Z' in lab 'x' (its nodes: A, B)"
    """

    def __str__(self) -> str:  # KeyError would show the message quoted, as a repr
        return str(self.args[0]) if self.args else ""


class LabStateError(NetnbError):
    """The operation does not fit the lab's current state (e.g. pinging before ``start()``)."""


class PrivilegeError(NetnbError):
    """This process may not build namespaces the way it was asked to; the message says which modes work."""


class FeatureMissingError(NetnbError):
    """The running kernel lacks a feature the lab needs (e.g. 8021q VLAN devices)."""


class BackendError(NetnbError):
    """The kernel refused an operation; the message names the operation and the equivalent command."""

    def __init__(self, message: str, *, operation: str | None = None, command: str | None = None) -> None:
        self.operation = operation
        self.command = command
        super().__init__(message)


class StartupError(NetnbError):
    """A node's startup command failed; the lab was stopped (nothing is left). ``node``, ``line`` (1-based),
    ``command`` and ``result`` (its CommandResult) say which and how."""

    def __init__(self, message: str, *, node: str, line: int, command: str, result: object) -> None:
        self.node, self.line, self.command, self.result = node, line, command, result
        super().__init__(message)


class AgentError(NetnbError):
    """The per-lab agent process died or stopped answering."""


class CommandTimeout(NetnbError, TimeoutError):
    """A command run inside a node did not finish in time (it was killed)."""


class CommandFailed(NetnbError):
    """A command run with ``check=True`` exited with a non-zero status."""

    def __init__(self, message: str, result: object) -> None:
        self.result = result
        super().__init__(message)
