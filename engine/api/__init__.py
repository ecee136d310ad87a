"""The Docker Engine API subset: payload models, the error kinds, and the async client.

models    pydantic models of the payloads (Docker's field names), filters helpers
errors    EngineError tree and the one kind <-> HTTP status table
client    EngineClient (httpx over the unix socket), ensure_engine()
"""

from engine.api.client import EngineClient, ensure_engine, socket_from_host
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
