"""The base of every Engine API payload model, and the versions the engine speaks.

Two naming styles share one base. Most answers keep Docker's PascalCase names as
attribute names (``inspect.State.Running``). The container-create models
(:mod:`engine.api.models.create`) are read field by field by the runtime, so their
attributes are snake_case and Docker's names are their aliases; :meth:`DockerModel.wire`
dumps by alias, so both give exactly Docker's JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, model_validator

API_VERSION = "1.41"
"""The version the engine advertises (``Api-Version``, ``/version``): the one captured flows
use, so the real clients take code paths that have been observed on the wire."""
MIN_API_VERSION = "1.24"
"""Oldest version accepted in a ``/v1.NN/`` prefix."""
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero time: what Docker writes for a time that has not happened (clients parse it)."""


class DockerModel(BaseModel):
    """Base of all API payloads: Docker's field names, unknown fields kept.

    Go encodes an empty slice or map as ``null``: a ``null`` for a field that is not
    optional here stands for its default (dockerd sends ``"RepoDigests": null``).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and None in data.values():
            names = _names(cls)
            # a null stays for a field that defaults to None and for a key of no field
            return {
                key: value
                for key, value in data.items()
                if value is not None or names.get(key, True)
            }
        return data

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on the wire (Docker's names, nulls kept as Docker does)."""
        return self.model_dump(mode="json", by_alias=True)

    def request_body(self) -> dict[str, Any]:
        """The JSON a client sends: Docker's names, the fields that were given and no others."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


_FIELD_KEYS: dict[type[BaseModel], dict[str, bool]] = {}


def _names(cls: type[BaseModel]) -> dict[str, bool]:
    """Every key a field of ``cls`` is read from (name and aliases): does it default to None?"""
    cached = _FIELD_KEYS.get(cls)
    if cached is not None:
        return cached
    keys: dict[str, bool] = {}
    for name, field in cls.model_fields.items():
        nullable = field.default is None
        keys[name] = nullable
        if field.alias:
            keys[field.alias] = nullable
        validation = field.validation_alias
        if isinstance(validation, str):
            keys[validation] = nullable
        elif isinstance(validation, AliasChoices):
            keys.update(
                (choice, nullable) for choice in validation.choices if isinstance(choice, str)
            )
    _FIELD_KEYS[cls] = keys
    return keys
