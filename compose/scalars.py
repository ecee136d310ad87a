"""How docker compose reads the scalars of a stack file, as annotated types for compose.model.

Booleans also from ``yes``/``no``/``on``/``off`` strings (never from ``"1"``), integers also from
digit strings, sizes ("512m") as byte counts, durations ("1m30s") as integer nanoseconds,
file modes as octal. A value of the wrong kind fails with a message that describes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Strict,
)
from pydantic_core import PydanticCustomError

from compose.units import parse_bytes, parse_duration


class _Null:
    """Stands for an explicit ``null`` where the specification allows none.

    ``None`` means "not set" in the models; a key written with a null value
    that docker compose refuses is swapped for this marker so that the field's
    own validation fails, at the field's location.
    """

    def __repr__(self) -> str:
        return "null"


NULL = _Null()


def describe(value: Any) -> str:
    """A value as messages show it: ``"abc"``, ``42``, ``a mapping``, ``a list``."""
    if value is NULL:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def _fail(expected: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(
        "compose", "expected {expected}, got {got}", {"expected": expected, "got": describe(value)}
    )


_TRUE_WORDS = frozenset({"true", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off"})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _fail("a boolean (true or false)", value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail("an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    raise _fail("an integer", value)


def _not_negative(number: int) -> int:
    if number < 0:
        raise PydanticCustomError(
            "compose", "must be greater than or equal to 0, got {got}", {"got": number}
        )
    return number


def _to_uint(value: Any) -> int:
    return _not_negative(_to_int(value))


def _to_int_number(value: Any) -> int:
    """Fields typed "number": a fraction is truncated, as docker compose's cast does."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return _to_int(value)


def _to_number_int(value: Any) -> int:
    """Fields typed "number" only (no string): a fraction is truncated."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _fail("a number", value)


def _to_uint_number(value: Any) -> int:
    return _not_negative(_to_int_number(value))


def _bool_or_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise _fail("a boolean or a string", value)


def _to_ssh_key(value: Any) -> str:
    """build.ssh entries: ``default`` or ``ID=PATH``."""
    if isinstance(value, str) and (value == "default" or "=" in value):
        return value
    raise _fail('"default" or "ID=PATH[,PATH]" (an SSH agent socket or keys)', value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _fail("a number", value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _fail("a number", value)


def _scalar_to_str(value: Any) -> str:
    """Fields the specification types as string-or-number(-or-boolean)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    raise _fail("a string or a number", value)


def _to_bytes_int(value: Any) -> int:
    """Sizes the specification types integer-or-string."""
    if isinstance(value, float):
        raise _fail("an integer or a size such as 512m", value)
    return _to_bytes(value)


def _to_bytes_str(value: Any) -> int:
    """Sizes the specification types as strings only (deploy.resources.*.memory)."""
    if not isinstance(value, str):
        raise _fail("a size such as 512m (a string)", value)
    return _to_bytes(value)


def _to_bytes(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        return 0  # docker compose silently reads a fractional byte count as 0 (unset)
    try:
        return parse_bytes(value)
    except ValueError as exc:
        raise PydanticCustomError("compose", str(exc)) from None


def _to_size(value: Any) -> int:
    size = _to_bytes_int(value)
    if size < 0:
        raise PydanticCustomError(
            "compose", "must be greater than or equal to 0, got {got}", {"got": size}
        )
    return size


def _to_duration(value: Any) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("compose", str(exc)) from None


def _to_file_mode(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            pass
    raise _fail("a file mode such as 0440", value)


def _to_mode_number(value: Any) -> int:
    """A file mode printed as a plain number (tmpfs ``mode``, an unsigned 32-bit integer)."""
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
        return value
    raise _fail("a file mode such as 0755 (a number)", value)


def _to_str_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise _fail("a string or a list of strings", value)


def _only(kinds: type | tuple[type, ...], expected: str) -> Callable[[Any], Any]:
    """A check that lets values of ``kinds`` through (canonical made the long syntax)."""

    def check(value: Any) -> Any:
        if isinstance(value, kinds):
            return value
        raise _fail(expected, value)

    return check


_check_list = _only(list, "a list")
_check_command = _only((type(None), list), "a string, a list of strings or null")
_check_map = _only(dict, "a mapping (or a list of KEY=VALUE strings)")


def _to_device_count(value: Any) -> int:
    if isinstance(value, str) and value.lower() == "all":
        return -1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise PydanticCustomError(
        "compose",
        "invalid value {got}, the only value allowed is 'all' or a number",
        {"got": describe(value)},
    )


def _map_value(null: str | None) -> Callable[[Any], str | None]:
    """A value of a string mapping: scalars become strings; null becomes ``null``."""

    def convert(value: Any) -> str | None:
        if value is None:
            return null
        if isinstance(value, dict | list):
            raise _fail("a string, a number or a boolean", value)
        return _scalar_to_str(value)

    return convert


_Scalar = str | int | float | bool
Bool = Annotated[bool, BeforeValidator(_to_bool, json_schema_input_type=bool | str)]
Int = Annotated[int, BeforeValidator(_to_int, json_schema_input_type=int | str)]
UInt = Annotated[int, BeforeValidator(_to_uint, json_schema_input_type=int | str)]
NumberInt = Annotated[int, BeforeValidator(_to_number_int, json_schema_input_type=float)]
IntNumber = Annotated[int, BeforeValidator(_to_int_number, json_schema_input_type=float | str)]
UIntNumber = Annotated[int, BeforeValidator(_to_uint_number, json_schema_input_type=float | str)]
BoolStr = Annotated[str, BeforeValidator(_bool_or_str, json_schema_input_type=bool | str)]
Float = Annotated[float, BeforeValidator(_to_float, json_schema_input_type=float | str)]
Str = Annotated[str, Strict()]
ScalarStr = Annotated[str, BeforeValidator(_scalar_to_str, json_schema_input_type=_Scalar)]
Bytes = Annotated[int, BeforeValidator(_to_bytes, json_schema_input_type=int | str)]
BytesInt = Annotated[int, BeforeValidator(_to_bytes_int, json_schema_input_type=int | str)]
BytesStr = Annotated[int, BeforeValidator(_to_bytes_str, json_schema_input_type=str)]
Size = Annotated[int, BeforeValidator(_to_size, json_schema_input_type=int | str)]
Duration = Annotated[int, BeforeValidator(_to_duration, json_schema_input_type=str)]
FileMode = Annotated[int, BeforeValidator(_to_file_mode, json_schema_input_type=int | str)]
StrList = Annotated[
    list[Str], BeforeValidator(_to_str_list, json_schema_input_type=str | list[str])
]
ScalarList = Annotated[
    list[ScalarStr], BeforeValidator(_check_list, json_schema_input_type=list[_Scalar])
]
Command = Annotated[
    list[Str] | None,
    BeforeValidator(_check_command, json_schema_input_type=str | list[str] | None),
]
_MapValue = _Scalar | None
Labels = Annotated[
    dict[str, Annotated[str, BeforeValidator(_map_value(""), json_schema_input_type=_MapValue)]],
    BeforeValidator(_check_map, json_schema_input_type=dict[str, _MapValue]),
]
Environment = Annotated[
    dict[
        str,
        Annotated[str | None, BeforeValidator(_map_value(None), json_schema_input_type=_MapValue)],
    ],
    BeforeValidator(_check_map, json_schema_input_type=dict[str, _MapValue]),
]
Options = Labels
DeviceCount = Annotated[int, BeforeValidator(_to_device_count, json_schema_input_type=int | str)]
