"""Docker's ``filters=`` query parameter, and the API version of a ``/v1.NN/`` prefix.

Filters are ``{"label": {"k=v": true, "k": true}}`` on the wire; the older
``{"label": ["k=v"]}`` form is accepted too. :func:`parse_filters` turns either into
``{"label": ["k=v", "k"]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import InvalidParameter


def json_object(text: str, name: str) -> dict[str, Any]:
    """A query parameter that holds a JSON object (``filters``, ``buildargs``, ``labels``)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise InvalidParameter(f"{name}: not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name}: expected a JSON object")
    return value


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """Docker's ``filters=`` query value -> ``{"label": ["k=v", ...]}``.

    >>> parse_filters('{"label":{"a=1":true},"name":["x"]}')
    {'label': ['a=1'], 'name': ['x']}
    """
    if not text:
        return {}
    raw = json_object(text, f"invalid filters {text!r}")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            result[str(key)] = sorted(str(k) for k, v in value.items() if v)
        elif isinstance(value, list):
            result[str(key)] = [str(v) for v in value]
        else:
            raise InvalidParameter(f"invalid filter {key!r}: expected an object or a list")
    return result


def encode_filters(filters: Mapping[str, Iterable[str]]) -> str:
    """The inverse of :func:`parse_filters`, in the ``map[string]map[string]bool`` form."""
    return json.dumps(
        {key: dict.fromkeys(values, True) for key, values in filters.items()},
        separators=(",", ":"),
    )


def labels_match(labels: Mapping[str, str], wanted: Iterable[str]) -> bool:
    """All of ``wanted`` (``key`` = present, ``key=value`` = equal) hold for ``labels``."""
    for entry in wanted:
        key, sep, value = entry.partition("=")
        if key not in labels:
            return False
        if sep and labels[key] != value:
            return False
    return True


def version_tuple(version: str) -> tuple[int, int]:
    """``"1.41"`` -> ``(1, 41)``; InvalidParameter on anything else."""
    major, sep, minor = version.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise InvalidParameter(f"invalid API version {version!r}")
    return int(major), int(minor)
