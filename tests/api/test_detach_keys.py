"""Detach keys as Docker spells them, and the scanner that finds them in typed input."""

from __future__ import annotations

import pytest

from engine.api.models.detach_keys import (
    DEFAULT_DETACH_KEYS,
    EscapeScanner,
    parse_detach_keys,
)
from engine.errors import InvalidParameter


def test_docker_spellings() -> None:
    assert parse_detach_keys(DEFAULT_DETACH_KEYS) == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == bytes(
        [0, 27, 28, 29, 30, 31]
    )
    assert parse_detach_keys("CTRL-P") == b"\x10"


@pytest.mark.parametrize(
    "text", ["", "ctrl-", "ctrl-1", "ab", "ctrl-p,,q", "é", "\n", "a," * 40, "x" * 300]
)
def test_bad_sequences_are_refused(text: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_detach_keys(text)


def test_the_sequence_in_pieces_detaches_and_is_not_passed_on() -> None:
    scanner = EscapeScanner(b"\x10\x11")
    assert scanner.feed(b"ls\r\x10") == b"ls\r"
    assert not scanner.detached
    assert scanner.feed(b"\x11after") == b""
    assert scanner.detached
    assert scanner.feed(b"more") == b""


def test_held_bytes_that_are_no_sequence_go_on_unchanged() -> None:
    scanner = EscapeScanner(b"\x10\x11")
    assert scanner.feed(b"a\x10") == b"a"
    assert scanner.feed(b"b") == b"\x10b"
    assert scanner.feed(b"\x10\x10") == b"\x10"  # the second may begin the sequence
    assert scanner.feed(b"\x11") == b""
    assert scanner.detached


def test_held_bytes_at_the_end_of_input_are_flushed() -> None:
    scanner = EscapeScanner(b"\x10\x11")
    assert scanner.feed(b"x\x10") == b"x"
    assert scanner.flush() == b"\x10"


def test_no_sequence_passes_everything() -> None:
    scanner = EscapeScanner(b"")
    assert scanner.feed(b"\x10\x11") == b"\x10\x11"
    assert not scanner.detached
