"""Parsing: YAML text to a plain tree that remembers where every value came from.

The tree is made of :class:`MapNode` (a ``dict``) and :class:`SeqNode` (a
``list``) holding plain scalars (``str``, ``int``, ``float``, ``bool``,
``None``). Each container knows its own :class:`Location` and those of its keys
and values, so every later phase (interpolation, merge, extends, include,
validation) can cite file:line:column, whichever file a value came from: the
locations travel with the data instead of living in a side table.

The parser is libyaml (ruamel.yaml's C extension) at the event level; this
module builds the tree itself, iteratively, so that hostile input is bounded:

- files larger than ``MAX_FILE_BYTES`` are refused before parsing;
- nesting deeper than ``MAX_DEPTH`` is refused (no recursion anywhere);
- alias expansion is counted and refused past ``MAX_NODES`` ("billion laughs").

Plain scalars are resolved the way Docker Compose's YAML library (go-yaml v3)
resolves them, not as YAML 1.1: ``yes``/``no``/``on``/``off`` stay strings,
``0755`` is octal, ``08`` is the float 8.0. ``!reset`` and ``!override`` tags
are recorded on the parent mapping for the merge phase; ``<<`` merge keys are
applied here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from compose.errors import Issue, Location, YamlSyntaxError

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 200
MAX_NODES = 2_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
RESET_TAG = "!reset"
OVERRIDE_TAG = "!override"


class MapNode(dict[Any, Any]):
    """A YAML mapping with the locations of its keys and values.

    ``resets`` holds keys whose value was tagged ``!reset`` (the key is absent
    from the mapping); ``overrides`` the keys tagged ``!override``.
    """

    __slots__ = ("key_locs", "loc", "overrides", "resets", "value_locs")

    def __init__(self, loc: Location | None = None) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[Any, Location] = {}
        self.value_locs: dict[Any, Location] = {}
        self.resets: set[Any] = set()
        self.overrides: set[Any] = set()

    def set(
        self, key: Any, value: Any, key_loc: Location | None, value_loc: Location | None
    ) -> None:
        self[key] = value
        if key_loc is not None:
            self.key_locs[key] = key_loc
        if value_loc is not None:
            self.value_locs[key] = value_loc

    def location_of(self, key: Any) -> Location | None:
        """Where the value of ``key`` is written (falling back to the key, then the map)."""
        return self.value_locs.get(key) or self.key_locs.get(key) or self.loc

    def copy_node(self) -> MapNode:
        clone = MapNode(self.loc)
        clone.update(self)
        clone.key_locs = dict(self.key_locs)
        clone.value_locs = dict(self.value_locs)
        clone.resets = set(self.resets)
        clone.overrides = set(self.overrides)
        return clone


class SeqNode(list[Any]):
    """A YAML sequence with the locations of its items."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, loc: Location | None = None) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[Location | None] = []

    def add(self, value: Any, loc: Location | None) -> None:
        self.append(value)
        self.item_locs.append(loc)

    def location_of(self, index: int) -> Location | None:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index] or self.loc
        return self.loc


def location_of(tree: Any, path: tuple[Any, ...]) -> Location | None:
    """The location of the deepest node on ``path`` that has one.

    Used to place validation errors: a path into a value that a later phase
    expanded (``"8080:80"`` became a mapping) still finds the original item.
    """
    best: Location | None = getattr(tree, "loc", None)
    node = tree
    for part in path:
        if isinstance(node, MapNode):
            if part not in node:
                return node.key_locs.get(part, best) if part in node.key_locs else best
            best = node.location_of(part) or best
            node = node[part]
        elif isinstance(node, SeqNode) and isinstance(part, int):
            if not 0 <= part < len(node):
                return best
            best = node.location_of(part) or best
            node = node[part]
        else:
            return best
    return best


def key_location_of(tree: Any, path: tuple[Any, ...]) -> Location | None:
    """The location of the last key of ``path`` (for "unknown key" errors)."""
    if not path:
        return getattr(tree, "loc", None)
    parent_path, last = path[:-1], path[-1]
    node = tree
    for part in parent_path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return location_of(tree, path)
    if isinstance(node, MapNode) and last in node.key_locs:
        return node.key_locs[last]
    return location_of(tree, path)


# --- scalar resolution (go-yaml v3 rules) -----------------------------------------------

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_SPECIAL_FLOATS = {
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}  # fmt: skip
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INT_RE = re.compile(r"^[-+]?(0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)\Z")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def resolve_plain(text: str) -> Any:
    """Type a plain (unquoted, untagged) scalar as go-yaml v3 does."""
    if text in _NULLS:
        return None
    first = text[0]
    if first in "tTfF":
        if text in _TRUES:
            return True
        if text in _FALSES:
            return False
        return text
    if first not in "+-.0123456789":
        return text
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if _INT_RE.match(text) and not text.endswith("_"):
        body = text.lstrip("+-")
        sign = -1 if text.startswith("-") else 1
        digits = body.replace("_", "")
        if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789_":
            value = int(digits, 8)  # Go's ParseInt(s, 0, 64): a leading 0 means octal
        else:
            value = int(digits, 0)
        value *= sign
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
    if _FLOAT_RE.match(text):
        return float(text)
    return text


# --- tree building ---------------------------------------------------------------------


class _SyntaxFailure(YamlSyntaxError):
    """The parser itself rejected the text (as opposed to a rule of this module)."""


class _PureParser:
    """ruamel's pure-Python parser behind the C parser's ``get_event`` interface.

    libyaml (YAML 1.1) refuses a few things go-yaml accepts, such as a ``:`` inside
    a plain scalar in a flow sequence (``[no-new-privileges:true]``); such files
    are parsed again with this slower, YAML 1.2 parser.
    """

    def __init__(self, text: str) -> None:
        from ruamel.yaml import YAML

        self._events = iter(YAML(typ="safe", pure=True).parse(text))

    def get_event(self) -> Any:
        return next(self._events, None)

    def dispose(self) -> None:
        pass


class _Frame:
    """A container being built: a mapping waiting for its next key, or a sequence."""

    __slots__ = ("anchor", "key", "key_loc", "key_tag", "merges", "node", "tag")

    def __init__(self, node: MapNode | SeqNode, anchor: str | None, tag: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.tag = tag
        self.key: Any = _NO_KEY
        self.key_loc: Location | None = None
        self.key_tag: str | None = None
        self.merges: list[tuple[Any, Location | None]] = []


_NO_KEY = object()


# libyaml (YAML 1.1) refuses a ":" inside a plain scalar of a flow sequence, which go-yaml
# and ruamel's pure parser (YAML 1.2) read as part of the scalar (`volumes: [data:/data]`).
# Rather than parse such a file with the pure parser (ten times slower), the ":" of such
# items on simple one-line flow sequences are hidden behind a private-use character of the
# same width, so locations stay right, and put back in every scalar.
_HIDDEN_COLON = "\ue000"
_FLOW_LINE = re.compile(
    r"^[ \t]*(?:-[ \t]+)?[^\s#'\"\[\]{}!&*|>%@`-][^#'\"\[\]{}]*?:[ \t]+"
    r"\[(?P<items>[^\[\]{}#'\"&*!|>%@`\r]*)\][ \t]*$",
    re.MULTILINE,
)
_ITEM_COLON = re.compile(r":(?=[^\s,\]])")


def _hide_flow_colons(text: str) -> str | None:
    """``text`` with the colons libyaml refuses hidden, or None when there are none."""
    if _HIDDEN_COLON in text:
        return None

    def hide(match: re.Match[str]) -> str:
        line, start = match.group(0), match.start()
        items = _ITEM_COLON.sub(_HIDDEN_COLON, match.group("items"))
        return line[: match.start("items") - start] + items + line[match.end("items") - start :]

    hidden = _FLOW_LINE.sub(hide, text)
    return hidden if hidden != text else None


class _Builder:
    def __init__(self, file: str, text: str = "", hidden_colons: bool = False) -> None:
        self.file = file
        self.text = text
        self.hidden_colons = hidden_colons
        self.anchors: dict[str, Any] = {}
        self.nodes = 0
        self.issues: list[Issue] = []

    def loc(self, mark: Any) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def fail(self, message: str, loc: Location | None, hint: str | None = None) -> YamlSyntaxError:
        return YamlSyntaxError([Issue(message, loc, (), hint)])

    def count(self, amount: int, loc: Location | None) -> None:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            raise self.fail(
                f"the document expands to more than {MAX_NODES:,} values through YAML aliases",
                loc,
                "this looks like an alias bomb ('billion laughs'); use fewer nested aliases",
            )

    def expand(self, value: Any, loc: Location | None) -> Any:
        """A fresh copy of an anchored value (each alias use gets its own nodes)."""
        if not isinstance(value, MapNode | SeqNode):
            self.count(1, loc)
            return value
        root_copy: MapNode | SeqNode = (
            value.copy_node() if isinstance(value, MapNode) else _copy_seq(value)
        )
        self.count(1 + len(value), loc)
        stack: list[MapNode | SeqNode] = [root_copy]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, MapNode) else enumerate(node)
            for key, child in list(items):
                if isinstance(child, MapNode | SeqNode):
                    child_copy = (
                        child.copy_node() if isinstance(child, MapNode) else _copy_seq(child)
                    )
                    self.count(1 + len(child), loc)
                    node[key] = child_copy
                    stack.append(child_copy)
        return root_copy

    def build(self, parser: Any) -> list[Any]:
        documents: list[Any] = []
        stack: list[_Frame] = []
        root: list[Any] = []

        def attach(value: Any, loc: Location | None, tag: str | None) -> None:
            if not stack:
                root.append(value)
                return
            frame = stack[-1]
            node = frame.node
            if isinstance(node, SeqNode):
                node.add(value, loc)
                return
            if frame.key is _NO_KEY:
                if isinstance(value, MapNode | SeqNode):
                    raise self.fail("a mapping or sequence cannot be used as a key", loc)
                frame.key, frame.key_loc, frame.key_tag = value, loc, tag
                return
            key, key_loc = frame.key, frame.key_loc
            frame.key = _NO_KEY
            if frame.key_tag == _MERGE_TAG or (key == "<<" and frame.key_tag is None):
                frame.merges.append((value, loc))
                return
            if key in node or key in node.resets:
                raise self.fail(
                    f"duplicate key {key!r} (first defined at line {node.key_locs[key].line})"
                    if key in node.key_locs
                    else f"duplicate key {key!r}",
                    key_loc,
                    "remove one of the two definitions",
                )
            if tag == RESET_TAG:
                node.resets.add(key)
                node.key_locs[key] = key_loc  # type: ignore[assignment]
                return
            if tag == OVERRIDE_TAG:
                node.overrides.add(key)
            node.set(key, value, key_loc, loc)

        while True:
            try:
                event = parser.get_event()
            except MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                problem = exc.problem or exc.context or "invalid YAML"
                raise _SyntaxFailure(
                    [Issue(f"invalid YAML: {problem}", self.loc(mark) if mark else None)]
                ) from exc
            except YAMLError as exc:
                raise _SyntaxFailure([self.reader_issue(exc)]) from exc
            if event is None:
                break
            kind = type(event).__name__
            if kind == "ScalarEvent":
                loc = self.loc(event.start_mark)
                self.count(1, loc)
                tag = event.tag
                text = event.value
                if self.hidden_colons:
                    text = text.replace(_HIDDEN_COLON, ":")
                if tag in (None, "!") and event.implicit[0] and not event.style:
                    value: Any = resolve_plain(text)
                elif tag in (None, "!", _STR_TAG, RESET_TAG, OVERRIDE_TAG) or tag == _MERGE_TAG:
                    value = text
                    if tag in (RESET_TAG, OVERRIDE_TAG) and not event.style:
                        value = resolve_plain(text)
                else:
                    value = _resolve_tagged(text, tag, self, loc)
                if event.anchor:
                    self.anchors[event.anchor] = value
                attach(value, loc, tag if tag not in (None, "!") else None)
            elif kind in ("MappingStartEvent", "SequenceStartEvent"):
                loc = self.loc(event.start_mark)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(
                        f"the document is nested more than {MAX_DEPTH} levels deep", loc
                    )
                self.count(1, loc)
                container: MapNode | SeqNode = (
                    MapNode(loc) if kind == "MappingStartEvent" else SeqNode(loc)
                )
                tag = event.tag if event.tag not in (None, "!") else None
                stack.append(_Frame(container, event.anchor, tag))
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                frame = stack.pop()
                node = frame.node
                if isinstance(node, MapNode) and frame.merges:
                    self.apply_merges(node, frame.merges)
                if frame.anchor:
                    self.anchors[frame.anchor] = node
                attach(node, node.loc, frame.tag)
            elif kind == "AliasEvent":
                loc = self.loc(event.start_mark)
                if event.anchor not in self.anchors:
                    raise self.fail(f"unknown anchor {event.anchor!r}", loc)
                attach(self.expand(self.anchors[event.anchor], loc), loc, None)
            elif kind == "DocumentEndEvent":
                documents.extend(root)
                root.clear()
                self.anchors.clear()
            elif kind == "StreamEndEvent":
                break
        return documents

    def reader_issue(self, exc: YAMLError) -> Issue:
        """A character the reader refused (a control character): placed by its offset."""
        position, reason = getattr(exc, "position", None), getattr(exc, "reason", None)
        if not isinstance(position, int) or not reason or position > len(self.text):
            return Issue(f"invalid YAML: {exc}", None)
        line = self.text.count("\n", 0, position) + 1
        column = position - (self.text.rfind("\n", 0, position) + 1) + 1
        character = getattr(exc, "character", None)
        what = f"character #x{character:04x}" if isinstance(character, int) else "character"
        location = Location(self.file, line, column)
        return Issue(f"invalid YAML: unacceptable {what}: {reason}", location)

    def apply_merges(self, node: MapNode, merges: list[tuple[Any, Location | None]]) -> None:
        """``<<: *base`` and ``<<: [*a, *b]``: keys already present win, earlier sources win."""
        sources: list[tuple[Any, Location | None]] = []
        for value, loc in merges:
            if isinstance(value, SeqNode):
                sources.extend(zip(value, value.item_locs, strict=False))
            else:
                sources.append((value, loc))
        for source, loc in sources:
            if not isinstance(source, MapNode):
                raise self.fail("a merge key (<<) needs a mapping or a list of mappings", loc)
            for key, value in source.items():
                if key not in node and key not in node.resets:
                    node.set(key, value, source.key_locs.get(key), source.value_locs.get(key))
                    if key in source.overrides:
                        node.overrides.add(key)


def _copy_seq(seq: SeqNode) -> SeqNode:
    clone = SeqNode(seq.loc)
    clone.extend(seq)
    clone.item_locs = list(seq.item_locs)
    return clone


def _resolve_tagged(text: str, tag: str, builder: _Builder, loc: Location) -> Any:
    short = tag.removeprefix("tag:yaml.org,2002:")
    if short == "int":
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            raise builder.fail(f"cannot read {text!r} as an integer (tagged !!int)", loc) from None
    if short == "float":
        try:
            return float(text)
        except ValueError:
            raise builder.fail(f"cannot read {text!r} as a number (tagged !!float)", loc) from None
    if short == "bool":
        if text in _TRUES:
            return True
        if text in _FALSES:
            return False
        raise builder.fail(f"cannot read {text!r} as a boolean (tagged !!bool)", loc)
    if short == "null":
        return None
    if short in ("binary", "timestamp"):
        return text
    raise builder.fail(f"unsupported YAML tag {tag!r}", loc, "pycompose knows !reset and !override")


def parse_documents(text: str, file: str) -> list[Any]:
    """Parse every YAML document of ``text``; ``file`` names it in locations."""
    if len(text) > MAX_FILE_BYTES:
        raise YamlSyntaxError(
            [
                Issue(
                    f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                    Location(file, 1, 1),
                    hint="split it with include or -f",
                )
            ]
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    parser = CParser(text)
    try:
        return _Builder(file, text).build(parser)
    except _SyntaxFailure as failure:
        hidden = _hide_flow_colons(text)
        if hidden is not None:
            retry = CParser(hidden)
            try:
                return _Builder(file, text, hidden_colons=True).build(retry)
            except _SyntaxFailure:
                pass
            finally:
                retry.dispose()
        try:
            return _Builder(file, text).build(_PureParser(text))
        except _SyntaxFailure:
            raise YamlSyntaxError(failure.issues) from None
    finally:
        parser.dispose()


def parse(text: str, file: str) -> Any:
    """Parse a stack file: its documents merged in order, or ``None`` when empty."""
    documents = [doc for doc in parse_documents(text, file) if doc is not None]
    if not documents:
        return None
    if len(documents) == 1:
        return documents[0]
    from compose.merge import merge_trees

    merged = documents[0]
    for document in documents[1:]:
        merged = merge_trees(merged, document)
    return merged


def walk(tree: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) of a tree, depth first, iteratively."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend(((*path, key), child) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), child) for index, child in enumerate(value))
