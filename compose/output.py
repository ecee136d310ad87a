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

import math
import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from compose import model as models
from compose.source import resolve_plain
from compose.units import format_duration

_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")


def _octal(value: int) -> str:
    return f"0{value:o}"


_CONVERTERS = {
    models._to_bytes: str,
    models._to_bytes_int: str,
    models._to_bytes_str: str,
    models._to_size: str,
    models._to_duration: format_duration,
    models._to_file_mode: _octal,
}

_SORTED_LISTS = frozenset({"extra_hosts"})


@cache
def _field_plan(
    cls: type[BaseModel],
) -> tuple[tuple[str, str, Any, bool, bool, bool, bool], ...]:
    """Per field: (attribute, printed name, converter, keep zero, keep null, sort, value struct)."""
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
                field.default_factory is not None,
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


def _is_model(value: Any) -> bool:
    # faster than isinstance(value, BaseModel), whose metaclass check is slow
    return hasattr(value.__class__, "__pydantic_fields__")


def _value(value: Any, converter: Any, escape: bool, yaml: bool) -> Any:
    cls = value.__class__
    if cls is str:
        return value.replace("$", "$$") if escape and "$" in value else value
    if cls is bool or value is None:
        return value
    if cls is int or cls is float:
        return converter(value) if converter is not None else value
    if cls is dict:
        items = sorted(value.items()) if yaml else value.items()
        return {_escape(key, escape): _value(item, converter, escape, yaml) for key, item in items}
    if cls is list or cls is tuple:
        return [_value(item, converter, escape, yaml) for item in value]
    if _is_model(value):
        return _dump(value, escape, yaml)
    return value


_EMPTY: tuple[Any, ...] = ("", [], {})


def _dump(obj: BaseModel, escape: bool, yaml: bool = False) -> dict[str, Any]:
    """One model as docker compose marshals it (JSON, or YAML when ``yaml``).

    YAML differs from JSON in two ways: unset ``command``/``entrypoint`` are
    left out rather than printed as null, and empty value structs
    (``deploy.placement``, ``ipam``) are left out rather than printed as ``{}``.
    """
    out: dict[str, Any] = {}
    cls = obj.__class__
    fields = obj.__dict__
    for name, json_name, converter, keep_zero, keep_null, sort, struct in _field_plan(cls):
        printed = name if yaml else json_name
        value = fields[name]
        if value is None:
            if keep_null and not yaml:
                out[printed] = None
            continue
        if _is_model(value):
            dumped = _dump(value, escape, yaml)
            if not (yaml and struct and not dumped):
                out[printed] = dumped
            continue
        if (
            not keep_zero
            and (value == 0 or value in _EMPTY)
            and not (yaml and name in cls.yaml_keep_zero)  # type: ignore[attr-defined]
        ):
            continue
        if sort and value.__class__ is list:
            value = sorted(value)
        out[printed] = _value(value, converter, escape, yaml)
    if yaml and isinstance(obj, models.Model) and obj.extensions and obj.yaml_extensions:
        for key, value in sorted(obj.extensions.items()):
            out[key] = _plain(value, escape, yaml)
    return out


def _plain(value: Any, escape: bool, yaml: bool = False) -> Any:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0])) if yaml else value.items()
        return {key: _plain(item, escape, yaml) for key, item in items}
    if isinstance(value, list):
        return [_plain(item, escape, yaml) for item in value]
    if isinstance(value, str):
        return _escape(value, escape)
    return value


def service_dict(service: models.Service) -> dict[str, Any]:
    """One service as ``config --format json`` prints it, with "$" as the container gets it."""
    return _dump(service, False)


def config_dict(project: models.Project, escape_dollars: bool = True) -> dict[str, Any]:
    """The project as `docker compose config --format json` prints it."""
    return _project(project, escape_dollars, yaml=False)


def _project(project: models.Project, escape: bool, yaml: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": project.name}
    services: dict[str, Any] = {}
    for name, service in sorted(project.services.items()):
        services[name] = _dump(service, escape, yaml)
    out["services"] = services
    for section in ("networks", "volumes", "secrets", "configs", "models"):
        if section == "models" and not yaml:
            continue  # docker compose's JSON leaves the models out
        resources = getattr(project, section)
        if resources:
            out[section] = {
                name: _resource(section, item, escape, yaml)
                for name, item in sorted(resources.items())
            }
    for key, value in sorted(project.extensions.items()):
        out[key] = _plain(value, escape, yaml)
    return out


def _resource(section: str, item: BaseModel, escape: bool, yaml: bool) -> dict[str, Any]:
    data = _dump(item, escape, yaml)
    if section == "secrets" or (section == "configs" and data.get("environment")):
        data.pop("content", None)
    return data


def yaml_text(mapping: dict[str, Any]) -> str:
    """Any mapping of plain data (dicts, lists, scalars) as YAML, in go-yaml's style."""
    lines: list[str] = []
    _emit_mapping(mapping, 0, lines)
    return "\n".join(lines) + "\n"


def config_yaml(project: models.Project, escape_dollars: bool = True) -> str:
    """The project as `docker compose config` prints it in YAML (go-yaml's style)."""
    lines: list[str] = []
    _emit_mapping(_project(project, escape_dollars, yaml=True), 0, lines)
    return "\n".join(lines) + "\n"


# --- a small YAML emitter with go-yaml v3's choices ------------------------------------

_PLAIN_UNSAFE_START = frozenset(",[]{}#&*!|>'\"%@`")


def _scalar(value: Any, indent: int) -> str:
    """A scalar as go-yaml writes it (strings may become a ``|-`` block)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    text = str(value)
    if "\n" in text and _printable_lines(text):
        body = text[:-1] if text.endswith("\n") else text
        chomp = "+" if text.endswith("\n\n") else "" if text.endswith("\n") else "-"
        pad = " " * (indent + 2)
        return f"|{chomp}\n" + "\n".join(pad + line if line else "" for line in body.split("\n"))
    return _quoted(text)


def _printable_lines(text: str) -> bool:
    lines = text.replace("\t", " ").split("\n")
    return all(line.isprintable() for line in lines) and not text.startswith(" ")


def _quoted(text: str) -> str:
    if text == "" or not isinstance(resolve_plain(text), str) or _looks_special(text):
        return _double_quoted(text)
    if not text.isprintable():
        return _double_quoted(text)
    if _plain_ok(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _looks_special(text: str) -> bool:
    """Words YAML 1.1 readers take for booleans or numbers; go-yaml quotes them."""
    lowered = text.lower()
    return lowered in {"y", "n", "yes", "no", "on", "off"} or _BASE60.match(text) is not None


def _plain_ok(text: str) -> bool:
    first = text[0]
    if first in _PLAIN_UNSAFE_START or text[0] == " " or text[-1] == " ":
        return False
    if first in "-?:" and (len(text) == 1 or text[1] == " "):
        return False
    if text.endswith(":") or ": " in text or " #" in text or "\t" in text:
        return False
    return not text.startswith(("---", "..."))


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _go_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text[:-2] if text.endswith(".0") else text


def _emit_mapping(mapping: dict[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        head = f"{pad}{_quoted(str(key))}:"
        _emit_value(head, value, indent, lines)


def _emit_value(head: str, value: Any, indent: int, lines: list[str]) -> None:
    if isinstance(value, dict | list):
        if not value:
            lines.append(f"{head} {{}}" if isinstance(value, dict) else f"{head} []")
        elif isinstance(value, dict):
            lines.append(head)
            _emit_mapping(value, indent + 2, lines)
        else:
            lines.append(head)
            _emit_sequence(value, indent + 2, lines)
    else:
        lines.append(f"{head} {_scalar(value, indent)}")


def _emit_sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            nested: list[str] = []
            _emit_mapping(item, indent + 2, nested)
            nested[0] = f"{pad}- " + nested[0][indent + 2 :]
            lines.extend(nested)
        elif isinstance(item, list) and item:
            nested = []
            _emit_sequence(item, indent + 2, nested)
            nested[0] = f"{pad}- " + nested[0][indent + 2 :]
            lines.extend(nested)
        elif isinstance(item, dict | list):
            lines.append(f"{pad}- {'{}' if isinstance(item, dict) else '[]'}")
        else:
            lines.append(f"{pad}- {_scalar(item, indent)}")
