"""Pydantic's validation errors as Compose issues: located in the stack file, worded for people.

Each error gets the file:line:column of its value or key (compose.source), a message in
docker compose's words, and a "did you mean" hint for an unknown key (from the fields of
the model at that place); the errors pydantic reports for the other members of a union
are dropped when one member's error says more.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from compose.errors import Issue
from compose.scalars import describe
from compose.source import key_location_of, location_of


def located_issues(root: type[BaseModel], tree: Any, error: ValidationError) -> list[Issue]:
    """The issues of ``error``, raised by validating ``tree`` as ``root``."""
    issues = [_issue(root, tree, item) for item in error.errors(include_url=False)]
    return _without_union_noise(issues)


_MESSAGES = {
    "missing": "missing required key",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected a boolean",
}


def _model_at(root: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields live at ``path`` (for "did you mean")."""
    current: Any = root
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
            inner = _inner(current)
            if _is_model(current) or (inner is not None and not _is_container(current)):
                current = inner
        else:  # a mapping key or a list index: step into the element model
            current = _inner(current)
            if current is None:
                return None
    if not _is_model(current):
        current = _inner(current) if not _is_container(current) else None
    return current if _is_model(current) else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_container(annotation: Any) -> bool:
    """``list[...]``/``dict[...]`` (possibly inside ``| None``), as opposed to ``Model | None``."""
    origin = getattr(annotation, "__origin__", None)
    if origin in (list, dict):
        return True
    return any(_is_container(arg) for arg in getattr(annotation, "__args__", ()) or ())


def _inner(annotation: Any) -> Any:
    """The model inside ``X | None``, ``list[X]``, ``dict[str, X]`` (or None)."""
    seen = 0
    while seen < 6:
        seen += 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        args = getattr(annotation, "__args__", None)
        if not args:
            return None
        models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if models:
            return models[0]
        nested = [arg for arg in args if getattr(arg, "__args__", None)]
        if not nested:
            return None
        annotation = nested[-1]
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member and validator tags from an error location."""
    return tuple(
        part
        for part in loc
        if isinstance(part, int)
        or not (
            "[" in part
            or part in ("int", "str", "bool", "float", "none")
            or part in ("Ulimit", "ServiceNetwork", "ServiceModel", "[key]")
        )
    )


def _issue(root: type[BaseModel], tree: Any, error: Any) -> Issue:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    if loc and loc[0] == "extensions":
        loc = loc[1:]
    if kind == "extra_forbidden":
        key = loc[-1]
        parent = _model_at(root, loc[:-1])
        hint = None
        if parent is not None and isinstance(key, str):
            names = [name for name in parent.model_fields if name not in ("extensions",)]
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            if close:
                hint = f'did you mean "{close[0]}"?'
            else:
                hint = "known keys: " + ", ".join(sorted(names))
        return Issue("unknown key", key_location_of(tree, loc), loc, hint)
    if kind == "compose":
        message = error["msg"]
    elif kind in _MESSAGES:
        message = _MESSAGES[kind]
        if kind != "missing":
            message += f", got {describe(error.get('input'))}"
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected}, got {describe(error.get('input'))}"
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"]
    location = location_of(tree, loc[:-1] if kind == "missing" else loc)
    return Issue(message, location, loc)


def _without_union_noise(issues: list[Issue]) -> list[Issue]:
    """Drop "expected X" issues of a union branch when a deeper issue explains the value.

    ``ulimits.nofile: {soft: 1}`` fails both as an integer and as a mapping; the
    user wants to hear about the missing ``hard``, not that it is not an integer.
    """
    paths = [issue.path for issue in issues]
    kept = []
    for issue in issues:
        deeper = any(
            len(other) > len(issue.path) and other[: len(issue.path)] == issue.path
            for other in paths
        )
        if deeper and issue.message.startswith("expected"):
            continue
        if issue not in kept:
            kept.append(issue)
    return kept
