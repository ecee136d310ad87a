"""The Docker Engine API subset: payload models, the error kinds, and the async client.

    models    pydantic models of the payloads (Docker's field names), filters helpers
    errors    EngineError tree and the one kind <-> HTTP status table
    ports     the one parser of port specs ("[IP:][HOST:]CONTAINER[/PROTO]")
    client    EngineClient (httpx over the unix socket)
    address   where the engine listens, and its /version asked with the standard library
    autostart ensure_engine(): start the engine when its socket does not answer

The names below are loaded on first use, so that importing ``engine.api.errors`` or
``engine.api.ports`` (as the CLI does on every command) does not pull in httpx and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.api.address import socket_from_host
    from engine.api.autostart import ensure_engine
    from engine.api.client import EngineClient
    from engine.api.errors import (
        Conflict,
        EngineError,
        EngineInternal,
        EngineUnavailable,
        InvalidParameter,
        NotFound,
        Unsupported,
    )
    from engine.api.models import API_VERSION, MIN_API_VERSION

_HOME = {
    "EngineClient": "engine.api.client",
    "ensure_engine": "engine.api.autostart",
    "socket_from_host": "engine.api.address",
    "Conflict": "engine.api.errors",
    "EngineError": "engine.api.errors",
    "EngineInternal": "engine.api.errors",
    "EngineUnavailable": "engine.api.errors",
    "InvalidParameter": "engine.api.errors",
    "NotFound": "engine.api.errors",
    "Unsupported": "engine.api.errors",
    "API_VERSION": "engine.api.models",
    "MIN_API_VERSION": "engine.api.models",
}

__all__ = [
    "API_VERSION",
    "MIN_API_VERSION",
    "Conflict",
    "EngineClient",
    "EngineError",
    "EngineInternal",
    "EngineUnavailable",
    "InvalidParameter",
    "NotFound",
    "Unsupported",
    "ensure_engine",
    "socket_from_host",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
