"""`pycompose config` output: the project as docker compose prints it.

Contract (called by compose.cli):

    config_dict(project, escape_dollars=True) -> dict
        Plain JSON-able data equal to `docker compose config --format json`
        (key names, null vs absent, published ports as strings, sizes as byte
        strings, Go durations, "$" escaped as "$$" unless interpolation is off, ...).

    config_yaml(project, escape_dollars=True) -> str
        The same data as YAML, keys in docker compose's order (name, services,
        networks, volumes, secrets, configs, then x- extensions; struct fields in
        compose-go's order, mapping keys sorted).

docker compose marshals its Go structs with ``omitempty``: a field is left out
when it is unset, zero, false or empty, except fields that are pointers in
compose-go (``attach``, ``init``, ``deploy.replicas``, ...; listed per model in
``keep_zero``) and the few it always prints (``command``/``entrypoint`` as null;
``keep_null``). Nested structs that are not pointers always print, even empty
(``deploy.resources``, ``deploy.placement``, network ``ipam``).
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from pydantic import BaseModel

from compose import model as models
from compose.units import format_duration


def _octal(value: int) -> str:
    return f"0{value:o}"


_CONVERTERS = {
    models._to_bytes: str,
    models._to_size: str,
    models._to_duration: format_duration,
    models._to_file_mode: _octal,
}

_SORTED_LISTS = frozenset({"extra_hosts"})


@cache
def _field_plan(cls: type[BaseModel]) -> tuple[tuple[str, str, Any, bool, bool, bool], ...]:
    """Per field: (attribute, printed name, scalar converter, keep zero, keep null, sort)."""
    keep_zero: frozenset[str] = getattr(cls, "keep_zero", frozenset())
    keep_null: frozenset[str] = getattr(cls, "keep_null", frozenset())
    plan = []
    for name, field in cls.model_fields.items():
        if field.exclude:
            continue
        converter = None
        for meta in field.metadata:
            func = getattr(meta, "func", None)
            if func in _CONVERTERS:
                converter = _CONVERTERS[func]
        if converter is None:
            converter = _annotation_converter(field.annotation)
        plan.append(
            (
                name,
                field.serialization_alias or name,
                converter,
                name in keep_zero,
                name in keep_null,
                name in _SORTED_LISTS,
            )
        )
    return tuple(plan)


def _annotation_converter(annotation: Any) -> Any:
    """The converter of ``Size | None`` style annotations (metadata sits on the inner type)."""
    for arg in getattr(annotation, "__args__", ()) or ():
        for meta in getattr(arg, "__metadata__", ()) or ():
            func = getattr(meta, "func", None)
            if func in _CONVERTERS:
                return _CONVERTERS[func]
    for meta in getattr(annotation, "__metadata__", ()) or ():
        func = getattr(meta, "func", None)
        if func in _CONVERTERS:
            return _CONVERTERS[func]
    return None


def _escape(text: str, escape: bool) -> str:
    return text.replace("$", "$$") if escape and "$" in text else text


def _value(value: Any, converter: Any, escape: bool) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value, escape)
    if isinstance(value, str):
        return _escape(value, escape)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return converter(value) if converter is not None else value
    if isinstance(value, dict):
        return {
            _escape(key, escape): _value(item, converter, escape) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_value(item, converter, escape) for item in value]
    return value


def _dump(obj: BaseModel, escape: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, printed, converter, keep_zero, keep_null, sort in _field_plan(type(obj)):
        value = getattr(obj, name)
        if value is None:
            if keep_null:
                out[printed] = None
            continue
        if (
            not keep_zero
            and not isinstance(value, BaseModel)
            and (value == 0 or value in ("", [], {}))
        ):
            continue
        if sort and isinstance(value, list):
            value = sorted(value)
        out[printed] = _value(value, converter, escape)
    return out


def _plain(value: Any, escape: bool) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item, escape) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, escape) for item in value]
    if isinstance(value, str):
        return _escape(value, escape)
    return value


def config_dict(project: models.Project, escape_dollars: bool = True) -> dict[str, Any]:
    """The project as `docker compose config --format json` prints it."""
    out: dict[str, Any] = {"name": project.name}
    out["services"] = {
        name: _dump(service, escape_dollars) for name, service in sorted(project.services.items())
    }
    for section in ("networks", "volumes", "secrets", "configs"):
        resources = getattr(project, section)
        if resources:
            out[section] = {
                name: _resource(section, item, escape_dollars)
                for name, item in sorted(resources.items())
            }
    for key, value in sorted(project.extensions.items()):
        out[key] = _plain(value, escape_dollars)
    return out


def _resource(section: str, item: BaseModel, escape: bool) -> dict[str, Any]:
    data = _dump(item, escape)
    if section == "secrets" or (section == "configs" and data.get("environment")):
        data.pop("content", None)
    return data


def _sorted_maps(value: Any, struct_keys: bool) -> Any:
    """Mapping keys sorted as Go's YAML encoder sorts map keys (struct order is kept)."""
    if isinstance(value, dict):
        items = value.items() if struct_keys else sorted(value.items())
        return {key: _sorted_maps(item, False) for key, item in items}
    if isinstance(value, list):
        return [_sorted_maps(item, True) for item in value]
    return value


def config_yaml(project: models.Project, escape_dollars: bool = True) -> str:
    """The project as `docker compose config` prints it in YAML."""
    from ruamel.yaml import YAML

    data = config_dict(project, escape_dollars)
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("services", "networks", "volumes", "secrets", "configs"):
            ordered[key] = {name: _sorted_maps(item, True) for name, item in sorted(value.items())}
        else:
            ordered[key] = _sorted_maps(value, False)
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 30
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.dump(ordered, stream)
    return stream.getvalue()
