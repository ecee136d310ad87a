"""Resolve Docker's ``user`` string against a root file system's /etc/passwd and /etc/group.

Pure: the caller passes the two files' text (empty when absent). Semantics follow runc's
``user.GetExecUser`` as Docker uses it:

- ``name``, ``uid``, ``name:group``, ``uid:gid`` (each part a name or a number);
- a name that is not in passwd is an error; a number that is not there is used as is,
  with group 0 unless a group is given;
- the primary group comes from passwd unless a group is given;
- supplementary groups are the primary group (as Docker since 20.10.18, CVE-2022-36109),
  the groups in /etc/group that list the user by name, then ``group_add`` (names resolved
  through /etc/group, or numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import InvalidParameter


@dataclass(frozen=True, slots=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str = "/"


def _records(text: str, min_fields: int) -> Iterator[list[str]]:
    """The colon-separated fields of each line with at least ``min_fields`` (no comments)."""
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) >= min_fields and not line.startswith("#"):
            yield fields


def _number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None  # the line is skipped, as libc skips it


def parse_passwd(text: str) -> list[PasswdEntry]:
    entries: list[PasswdEntry] = []
    for fields in _records(text, 4):
        uid, gid = _number(fields[2]), _number(fields[3])
        if uid is not None and gid is not None:
            home = fields[5] if len(fields) > 5 else "/"
            entries.append(PasswdEntry(fields[0], uid, gid, home))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    entries: list[GroupEntry] = []
    for fields in _records(text, 3):
        gid = _number(fields[2])
        if gid is not None:
            members = tuple(m for m in (fields[3].split(",") if len(fields) > 3 else []) if m)
            entries.append(GroupEntry(fields[0], gid, members))
    return entries


def _find_group(groups: list[GroupEntry], spec: str, what: str) -> int:
    for group in groups:
        if group.name == spec:
            return group.gid
    if spec.isdigit():
        return int(spec)
    raise InvalidParameter(
        f"unable to find group {spec}: no matching entries in group file",
        hint=f"add the group to the image's /etc/group or give a numeric gid for {what}",
    )


def resolve_user(
    user: str, passwd_text: str, group_text: str, group_add: list[str] | tuple[str, ...] = ()
) -> ResolvedUser:
    """``resolve_user("nobody:nogroup", passwd, group)`` -> uid, gid and supplementary gids."""
    passwd = parse_passwd(passwd_text)
    groups = parse_group(group_text)
    user_part, _, group_part = (user or "0").partition(":")
    user_part = user_part or "0"

    entry: PasswdEntry | None = None
    for candidate in passwd:
        if candidate.name == user_part or (user_part.isdigit() and candidate.uid == int(user_part)):
            entry = candidate
            break
    if entry is None and not user_part.isdigit():
        raise InvalidParameter(
            f"unable to find user {user_part}: no matching entries in passwd file",
            hint="use a user that exists in the image, or a numeric uid",
        )
    uid = entry.uid if entry is not None else int(user_part)
    gid = entry.gid if entry is not None else 0
    if group_part:
        gid = _find_group(groups, group_part, "the user option")

    additional: list[int] = [gid]
    if entry is not None and not group_part:
        additional += [g.gid for g in groups if entry.name in g.members and g.gid != gid]
    for extra in group_add:
        gid_extra = _find_group(groups, extra, "group_add")
        if gid_extra not in additional:
            additional.append(gid_extra)
    return ResolvedUser(uid, gid, tuple(additional), entry.home if entry is not None else "/")
