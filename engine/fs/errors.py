"""Errors of the engine's file-system primitives; kinds of :mod:`engine.api.errors`.

InvalidParameter
└── ArchiveError   a tar (context, layer, archive, ``cp`` body) that is broken, over a
                   limit, or asks for something refused; the message names the member
    └── EscapingEntry   a member whose name or link climbs out of the destination with
                        ``..``, or a whiteout of ``.``/``..``
"""

from __future__ import annotations

from engine.errors import InvalidParameter


class ArchiveError(InvalidParameter):
    """A tar the engine refuses. ``member`` is the entry's name ("" before the first)."""

    def __init__(self, message: str, member: str = "") -> None:
        super().__init__(f"archive entry {member!r}: {message}" if member else message)
        self.member = member


class EscapingEntry(ArchiveError):
    """A member that would land outside the destination (refused, never clamped)."""
