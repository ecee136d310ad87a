"""What a build reports: its output and final image ID as events, and its failures.

``BuildEvent.to_message`` and ``error_message`` give the JSON lines ``POST /build``
streams, in Docker's shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from engine.errors import EngineError, InvalidParameter


@dataclasses.dataclass(frozen=True, slots=True)
class BuildEvent:
    """One piece of build output, as ``docker build`` prints it (``stream``), or the final
    image ID (``aux_id``). ``to_message`` is the JSON line ``POST /build`` streams."""

    stream: str = ""
    aux_id: str | None = None

    def to_message(self) -> dict[str, object]:
        if self.aux_id is not None:
            return {"aux": {"ID": self.aux_id}}
        return {"stream": self.stream}


ProgressCallback = Callable[[BuildEvent], None]


class BuildStepFailed(InvalidParameter):
    """A RUN step exited non-zero; ``exit_code`` and ``output`` (its tail) are kept."""

    def __init__(self, message: str, *, exit_code: int, output: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
        self.output = output


def error_message(error: EngineError) -> dict[str, object]:
    """The JSON line ``POST /build`` streams when a build fails (Docker's shape)."""
    detail: dict[str, object] = {"message": error.message}
    if isinstance(error, BuildStepFailed):
        detail["code"] = error.exit_code
    return {"errorDetail": detail, "error": error.message}
