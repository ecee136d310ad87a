"""Detach keys (``--detach-keys``, ``detachKeys=``): the key sequence that leaves an attached
terminal with the container still running, as Docker spells and applies it.

A sequence is comma-separated keys, each a single character (``a``) or ``ctrl-X`` with X
one of ``a``-``z``, ``@``, ``[``, ``\\``, ``]``, ``^``, ``_``; Docker's default is
``ctrl-p,ctrl-q``. :class:`EscapeScanner` watches a terminal's input for it: bytes that
may begin the sequence are held back until the next ones tell, so the process never sees
a sequence that detaches, and sees held bytes unchanged when they turn out not to be one.
Shared by the client (``pycompose attach``) and the engine (``POST /containers/{id}/attach``).
"""

from __future__ import annotations

from engine.errors import InvalidParameter

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# a sequence is typed by a person: a few keys; the bound keeps a client's value small
MAX_DETACH_KEYS = 16
MAX_DETACH_KEYS_TEXT = 256

_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str) -> bytes:
    """The bytes of a detach-key sequence; :class:`InvalidParameter` for a bad one."""
    if len(text) > MAX_DETACH_KEYS_TEXT:
        raise InvalidParameter(
            f"Invalid detach keys: {len(text)} characters (at most {MAX_DETACH_KEYS_TEXT})"
        )
    keys = text.split(",")
    if len(keys) > MAX_DETACH_KEYS:
        raise InvalidParameter(
            f"Invalid detach keys ({text}) provided: more than {MAX_DETACH_KEYS} keys"
        )
    sequence = bytearray()
    for key in keys:
        if len(key) == 1 and key.isascii() and key.isprintable():
            sequence.append(ord(key))
            continue
        name = key.lower()
        if name.startswith("ctrl-") and len(name) == 6:
            char = name[5]
            if "a" <= char <= "z":
                sequence.append(ord(char) - ord("a") + 1)
                continue
            if char in _CTRL_SPECIAL:
                sequence.append(_CTRL_SPECIAL[char])
                continue
        raise InvalidParameter(
            f"Invalid detach keys ({text}) provided",
            hint="comma-separated keys: a letter, or ctrl-<a-z, @, [, \\, ], ^ or _>",
        )
    return bytes(sequence)


class EscapeScanner:
    """Finds a detach sequence in input that comes in pieces (see the module's docstring)."""

    def __init__(self, sequence: bytes) -> None:
        self.sequence = sequence
        self._held = 0  # how many bytes of the sequence the last input ended with
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to pass on; after the whole sequence, ``detached`` is set and the
        rest of ``data`` is dropped (nothing is sent after a detach)."""
        if self.detached or not self.sequence:
            return b"" if self.detached else data
        out = bytearray()
        for byte in data:
            if byte == self.sequence[self._held]:
                self._held += 1
                if self._held == len(self.sequence):
                    self.detached = True
                    self._held = 0
                    return bytes(out)
                continue
            # not the sequence after all: what was held goes on, then this byte is looked at
            # afresh (it may start the sequence itself)
            if self._held:
                out += self.sequence[: self._held]
                self._held = 0
                if byte == self.sequence[0]:
                    self._held = 1
                    if len(self.sequence) == 1:
                        self.detached = True
                        return bytes(out)
                    continue
            out.append(byte)
        return bytes(out)

    def flush(self) -> bytes:
        """The bytes still held when the input ends (they were not a sequence)."""
        held, self._held = self.sequence[: self._held], 0
        return b"" if self.detached else held
