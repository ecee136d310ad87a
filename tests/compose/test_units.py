"""compose.units: sizes and durations read and printed as docker compose does."""

from __future__ import annotations

import pytest

from compose.units import format_duration, parse_bytes, parse_duration

MS = 1_000_000
S = 1_000 * MS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (512000, 512000),
        ("1024", 1024),
        ("1k", 1024),
        ("640kb", 655360),
        ("64m", 64 << 20),
        ("512M", 512 << 20),
        ("1g", 1 << 30),
        ("1gb", 1 << 30),
        ("1GiB", 1 << 30),
        ("2G", 2 << 30),
        ("1.5g", 1610612736),
        ("1 t", 1 << 40),
        (-1, -1),
    ],
)
def test_sizes_are_binary_byte_counts(text: object, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "1x", "", "-1g", "1.2.3q", True, None, [1]])
def test_sizes_that_are_not_sizes_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        parse_bytes(text)


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("10s", 10 * S),
        ("1m30s", 90 * S),
        ("1.5s", 1500 * MS),
        ("100ms", 100 * MS),
        ("2h", 7200 * S),
        ("1h2m3.004s", 3723 * S + 4 * MS),
        ("1d", 86400 * S),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("5ns", 5),
        ("0", 0),
        (0, 0),
        ("-1s", -S),
    ],
)
def test_go_durations_parse_to_nanoseconds(text: object, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize("text", ["forever", "10", 10, "1x", "s", "", "1.s5"])
def test_bad_durations_name_the_value(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (60 * S, "1m0s"),
        (90 * S, "1m30s"),
        (3600 * S, "1h0m0s"),
        (3723 * S + 4 * MS, "1h2m3.004s"),
        (1500 * MS, "1.5s"),
        (100 * MS, "100ms"),
        (1_500, "1.5µs"),
        (5, "5ns"),
        (25 * 3600 * S, "25h0m0s"),
        (-90 * S, "-1m30s"),
    ],
)
def test_durations_print_as_go_does(nanoseconds: int, text: str) -> None:
    assert format_duration(nanoseconds) == text


def test_parse_and_format_round_trip() -> None:
    for text in ("1m30s", "1h2m3.004s", "100ms", "10s", "2h0m0s"):
        assert format_duration(parse_duration(text)) == format_duration(
            parse_duration(format_duration(parse_duration(text)))
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e3", 1000),
        ("2.5k", 2560),
        ("1 GB", 1 << 30),
        ("1kib", 1024),
        ("1.5", 1),
        ("1.1g", 1181116006),
    ],
)
def test_sizes_read_the_number_as_a_float_like_go_units(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", [" 1k", "1e", "1_000", "kb", "1.2.3", "1kbb"])
def test_sizes_go_units_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bytes(text)
