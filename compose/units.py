"""Byte sizes and durations, read and written the way docker compose does.

Sizes follow docker's ``go-units`` ``RAMInBytes``: ``"512m"``, ``"1.5g"``,
``"1gb"``, ``"640kB"`` with binary multipliers (k = 1024); plain integers are
byte counts. Durations follow Go's ``time.ParseDuration`` (plus ``d`` and
``w``, which compose accepts) and are rendered as Go's ``Duration.String()``:
``1m30s``, ``1h2m3.004s``, ``100ms``. Durations are held as integer
nanoseconds so that rendering is exact.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal


def _shown(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_NUMBER_CHARS = "0123456789. "


def parse_bytes(value: object) -> int:
    """A size in bytes from an int or a string such as ``"1.5g"``, as docker's go-units reads it.

    >>> parse_bytes("512m")
    536870912

    The number is everything up to the last digit, dot or space (so ``"1e3"``
    is 1000), the suffix one of b, k, m, g, t, p with an optional ``b`` or
    ``ib``, case-insensitive, multiples of 1024. Raises ValueError with a
    message fit for users when ``value`` is not a size.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}")
    separator = max(value.rfind(char) for char in _NUMBER_CHARS)
    if separator < 0:
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}")
    if value[separator] == " ":
        number, suffix = value[:separator], value[separator + 1 :]
    else:
        number, suffix = value[: separator + 1], value[separator + 1 :]
    if not number or number != number.strip() or "_" in number:
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}")
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}") from None
    if amount < 0 or not math.isfinite(amount):
        raise ValueError(f"expected a size such as 512m or 1g, got {_shown(value)}")
    suffix = suffix.lower()
    if not suffix or suffix == "b":
        return int(amount)
    multiplier = _SIZE_UNITS.get(suffix[0])
    if multiplier is None or len(suffix) > 3 or suffix[1:] not in ("", "b", "ib"):
        raise ValueError(
            f"expected a size such as 512m or 1g, got {_shown(value)} (unknown unit {suffix!r})"
        )
    return int(amount * multiplier)


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 24 * 3600 * 1_000_000_000,
    "w": 7 * 24 * 3600 * 1_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(value: object) -> int:
    """Nanoseconds from a Go duration string (``"1m30s"``, ``"1.5s"``, ``"2h"``).

    Raises ValueError (``time: invalid duration "forever"``, Go's wording).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as 10s or 1m30s, got {_shown(value)}")
    if isinstance(value, int | float):
        if value == 0:
            return 0
        raise ValueError(f'time: missing unit in duration "{value}" (use e.g. 10s or 1m30s)')
    text = value
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{value}"')
    total = Decimal(0)
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{value}" (use e.g. 10s or 1m30s)')
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * int(total)


def _format_fraction(value: int, precision: int) -> str:
    """``value`` / 10**precision without trailing zeros (Go's fmtFrac + fmtInt)."""
    whole, fraction = divmod(value, 10**precision)
    if fraction == 0:
        return str(whole)
    digits = str(fraction).rjust(precision, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.004s``, ``1m0s``, ``100ms``, ``0s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        if ns < 1_000:
            return f"{sign}{ns}ns"
        if ns < 1_000_000:
            return f"{sign}{_format_fraction(ns, 3)}µs"
        return f"{sign}{_format_fraction(ns, 6)}ms"
    seconds_ns = ns % 60_000_000_000
    minutes_total = ns // 60_000_000_000
    hours, minutes = divmod(minutes_total, 60)
    out = f"{_format_fraction(seconds_ns, 9)}s"
    if minutes_total:
        out = f"{minutes}m{out}"
        if hours:
            out = f"{hours}h{out}"
    return sign + out


def size_text(size: float, *, binary: bool = False) -> str:
    """A byte count as docker prints it: decimal units to 3 digits (``docker images``), or
    binary ones to 4 (``docker stats``)."""
    step, digits = (1024, 4) if binary else (1000, 3)
    units = ("B", "KiB", "MiB", "GiB", "TiB") if binary else ("B", "kB", "MB", "GB", "TB")
    for unit in units[:-1]:
        if size < step:
            return f"{size:.{digits}g}{unit}"
        size /= step
    return f"{size:.{digits}g}{units[-1]}"
