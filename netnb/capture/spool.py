"""Following the pcapng spool files the agent's recorder writes, incrementally.

>>> SpoolReader("/nonexistent.pcapng").read_new()
[]
"""

from __future__ import annotations

from netnb.capture.pcapng import Frame, read_frames


class SpoolReader:
    """Follows one spool file (one capture point), returning the frames appended since the last call."""

    def __init__(self, path: str, point: int = 0) -> None:
        self.path = path
        self.point = point
        self.offset = 0

    def read_new(self) -> list[Frame]:
        """Frames of complete blocks written since the last call (a half-written block waits)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        frames, used = read_frames(data, self.point)
        self.offset += used
        return frames
