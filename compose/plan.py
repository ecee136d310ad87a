"""A plan: the operations that take the engine from what it has to what the project wants.

A plan is a value. Every :class:`Operation` says what it does, to what, why
(``cause``) and after which other operations (``after``); a start also names the
dependency conditions to wait for (``waits_for``). ``Plan.render()`` is what
``pycompose up --dry-run`` prints and what the planner's tests compare::

    #1 create network webapp_default (not found)
    #3 create container webapp-db-1 (not found) after #1, #2
    #6 start container webapp-api-1 (created) after #5, #4; waits for db healthy

``compose.apply`` executes one API call (or one short fixed sequence, for a
recreate) per operation, each as soon as its ``after`` operations are done.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any


class OperationType(enum.Enum):
    CREATE_NETWORK = "create network"
    CREATE_VOLUME = "create volume"
    PULL_IMAGE = "pull image"
    BUILD_IMAGE = "build image"
    CREATE_CONTAINER = "create container"
    RECREATE_CONTAINER = "recreate container"
    START_CONTAINER = "start container"
    STOP_CONTAINER = "stop container"
    REMOVE_CONTAINER = "remove container"
    REMOVE_NETWORK = "remove network"
    REMOVE_VOLUME = "remove volume"
    REMOVE_IMAGE = "remove image"


@dataclasses.dataclass(frozen=True, slots=True)
class WaitCondition:
    """Before starting, wait until ``service`` meets ``condition`` (depends_on)."""

    service: str
    condition: str  # service_started | service_healthy | service_completed_successfully
    required: bool = True
    project: str = ""  # another project's service (x-pycompose wait_for), "" for depends_on

    def render(self) -> str:
        word = self.condition.removeprefix("service_").replace("_", " ")
        who = f"{self.project}/{self.service}" if self.project else self.service
        return f"{who} {word}" + ("" if self.required else " (optional)")


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One step of a plan. ``target`` is the engine object's name."""

    id: int
    type: OperationType
    target: str
    cause: str
    after: tuple[int, ...] = ()
    waits_for: tuple[WaitCondition, ...] = ()
    service: str | None = None
    number: int | None = None
    container_id: str | None = None  # the existing container acted on, if any
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def render(self) -> str:
        text = f"#{self.id} {self.type.value} {self.target} ({self.cause})"
        if self.after:
            text += " after " + ", ".join(f"#{i}" for i in self.after)
        if self.waits_for:
            text += (
                ("; " if self.after else " ")
                + "waits for "
                + ", ".join(w.render() for w in self.waits_for)
            )
        return text


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    operations: tuple[Operation, ...] = ()
    warnings: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [f"warning: {w}" for w in self.warnings]
        lines += [operation.render() for operation in self.operations]
        if not self.operations:
            lines.append("nothing to do")
        return "\n".join(lines) + "\n"

    def __bool__(self) -> bool:
        return bool(self.operations)

    def of_type(self, *types: OperationType) -> list[Operation]:
        return [op for op in self.operations if op.type in types]


class PlanBuilder:
    """Numbers operations in the order they are added; keeps the plan deterministic."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self.warnings: list[str] = []

    def add(
        self,
        type: OperationType,
        target: str,
        cause: str,
        after: Iterable[int | None] = (),
        **fields: Any,
    ) -> int:
        identifier = len(self.operations) + 1
        after_ids = tuple(sorted({i for i in after if i is not None}))
        self.operations.append(Operation(identifier, type, target, cause, after_ids, **fields))
        return identifier

    def build(self) -> Plan:
        return Plan(tuple(self.operations), tuple(self.warnings))
