"""The agent's wire format: one JSON object per line over a Unix socket pair.

JSON, not pickle: the agent may run with more privilege than the notebook (sudo mode), and must never
execute what it reads. Errors travel as (type, message) and come back as the same NetnbError class.

>>> decode(encode({"id": 1, "method": "hello"}))
{'id': 1, 'method': 'hello'}
"""

from __future__ import annotations

import json
from typing import Any

from netnb import errors

_ERROR_TYPES = {
    cls.__name__: cls
    for cls in (errors.NetnbError, errors.BackendError, errors.FeatureMissingError, errors.PrivilegeError,
                errors.CommandTimeout, errors.LabStateError, errors.AgentError)
}


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line back into a message."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    return value


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """A raised error as data; unknown types travel as NetnbError with the original type named."""
    name = type(exc).__name__
    if name not in _ERROR_TYPES:
        return {"type": "NetnbError", "message": f"{name}: {exc}"}
    return {"type": name, "message": str(exc), "command": getattr(exc, "command", None)}


def error_from_dict(data: dict[str, Any]) -> errors.NetnbError:
    """The NetnbError an agent reported."""
    cls = _ERROR_TYPES.get(data.get("type", ""), errors.NetnbError)
    message = str(data.get("message", "the agent reported an error"))
    if cls is errors.BackendError:
        return errors.BackendError(message, command=data.get("command"))
    return cls(message)
