"""develop.watch as rules: which changed host path means which action (pure, no I/O).

A :class:`Rule` is one ``develop.watch`` trigger of one service, with its ``ignore`` and
``include`` patterns compiled the way ``.dockerignore`` patterns are (moby's
patternmatcher: ``*``, ``?``, ``[...]``, ``**`` across directories, ``!`` to re-include,
the last matching pattern wins, a pattern that matches a directory matches everything
below it). On top of the trigger's own ``ignore`` come, as in docker compose, the build
context's ``.dockerignore`` (read by the caller), editors' temporary files and ``.git``.

:func:`plan_batch` turns one debounced batch of changed paths into what to do, in docker
compose's order: rebuild, then sync, then restart, then the ``exec`` hooks.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable, Sequence

# editors' temporary and backup files (GoLand, Emacs, Vim), ignored as docker compose does
EPHEMERAL_PATTERNS = (
    "**/*___jb_old___",
    "**/*___jb_tmp___",
    "**/.idea/**",
    "**/.#*",
    "**/4913",
    "**/*~",
    "**/.*.swp",
    "**/.*.swx",
    "**/.*.swo",
    "**/.*.swn",
)


def _translate(pattern: str) -> str:
    """A cleaned, absolute dockerignore pattern as a regular expression (anchored)."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if pattern.startswith("**", index):
                index += 2
                if pattern.startswith("/", index):
                    index += 1
                    out.append("(?:.*/)?")  # zero or more whole directories
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class PatternMatcher:
    """dockerignore-style patterns, made absolute against ``root``."""

    patterns: tuple[tuple[bool, re.Pattern[str]], ...]  # (exclusion, regex)

    @classmethod
    def compile(cls, root: str, patterns: Iterable[str]) -> PatternMatcher:
        compiled = []
        for raw in patterns:
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
            text = text.rstrip("/") or "/"
            absolute = posixpath.normpath(posixpath.join(root, text))
            compiled.append((exclusion, re.compile(_translate(absolute) + r"\Z")))
        return cls(tuple(compiled))

    @property
    def has_exclusions(self) -> bool:
        return any(exclusion for exclusion, _ in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (absolute, normalised) or one of its parents is matched."""
        candidates = [path]
        parent = posixpath.dirname(path)
        while parent and parent != candidates[-1]:
            candidates.append(parent)
            parent = posixpath.dirname(parent)
        matched = False
        for exclusion, regex in self.patterns:
            if exclusion != matched:
                continue  # an exclusion only matters after a match, a match only before
            if any(regex.match(candidate) for candidate in candidates):
                matched = not exclusion
        return matched


def is_within(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A changed host path and where it goes in the container ('' for no target)."""

    host: str
    container: str


@dataclasses.dataclass(frozen=True)
class Rule:
    """One trigger of one service, with its patterns compiled."""

    service: str
    index: int  # the trigger's position in the service's develop.watch
    action: str
    path: str  # absolute, normalised host path
    target: str | None
    ignore: PatternMatcher
    context_ignore: PatternMatcher  # the build context's .dockerignore
    include: PatternMatcher | None

    def ignored(self, path: str) -> bool:
        """Whether ``path`` below this trigger's path is left out."""
        relative = posixpath.relpath(path, self.path) if path != self.path else ""
        if ".git" in relative.split("/"):
            return True
        if EPHEMERAL.matches(path) or self.context_ignore.matches(path):
            return True
        return self.ignore.matches(path)

    def matches(self, path: str) -> Mapping | None:
        if not is_within(self.path, path):
            return None
        if self.include is not None and not self.include.matches(path):
            return None
        if self.ignored(path):
            return None
        container = ""
        if self.target:
            relative = posixpath.relpath(path, self.path)
            container = posixpath.normpath(posixpath.join(self.target, relative))
        return Mapping(path, container)


EPHEMERAL = PatternMatcher.compile("/", EPHEMERAL_PATTERNS)


def make_rule(
    service: str,
    index: int,
    action: str,
    path: str,
    target: str | None,
    ignore: Sequence[str] = (),
    include: Sequence[str] = (),
    context: str | None = None,
    dockerignore: Sequence[str] = (),
) -> Rule:
    path = posixpath.normpath(path)
    return Rule(
        service=service,
        index=index,
        action=action,
        path=path,
        target=target,
        ignore=PatternMatcher.compile(path, ignore),
        context_ignore=PatternMatcher.compile(context or path, dockerignore),
        include=PatternMatcher.compile(path, include) if include else None,
    )


SYNC_ACTIONS = ("sync", "sync+restart", "sync+exec")


@dataclasses.dataclass
class BatchPlan:
    """What one batch of changes asks for, per service."""

    rebuild: list[str] = dataclasses.field(default_factory=list)
    sync: dict[str, list[tuple[Mapping, Rule]]] = dataclasses.field(default_factory=dict)
    restart: list[str] = dataclasses.field(default_factory=list)
    exec: dict[str, list[Rule]] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.rebuild or self.sync or self.restart or self.exec)


def plan_batch(rules: Sequence[Rule], paths: Iterable[str]) -> BatchPlan:
    """The actions a batch of changed host paths triggers (every matching rule counts).

    A service that is rebuilt is recreated from its new image: its syncs, restart and
    hooks of the same batch are moot, so they are dropped.
    """
    plan = BatchPlan()
    for path in sorted(set(paths)):
        for rule in rules:
            mapping = rule.matches(path)
            if mapping is None:
                continue
            if rule.action == "rebuild":
                if rule.service not in plan.rebuild:
                    plan.rebuild.append(rule.service)
                continue
            if rule.action in SYNC_ACTIONS:
                plan.sync.setdefault(rule.service, []).append((mapping, rule))
            if rule.action in ("restart", "sync+restart") and rule.service not in plan.restart:
                plan.restart.append(rule.service)
            if rule.action == "sync+exec":
                hooks = plan.exec.setdefault(rule.service, [])
                if rule not in hooks:
                    hooks.append(rule)
    for service in plan.rebuild:
        plan.sync.pop(service, None)
        plan.exec.pop(service, None)
        if service in plan.restart:
            plan.restart.remove(service)
    return plan


def watched_roots(rules: Sequence[Rule]) -> list[str]:
    """The host paths to watch: each trigger's path, nested ones folded into their parent."""
    roots: list[str] = []
    for path in sorted({rule.path for rule in rules}):
        if not any(is_within(root, path) for root in roots):
            roots.append(path)
    return roots


def directory_skipped(rules: Sequence[Rule], directory: str) -> bool:
    """Whether no rule can act on anything below ``directory`` (so it needs no watch).

    Only sure cases count: a directory every covering rule ignores (node_modules, .git).
    """
    covering = [rule for rule in rules if is_within(rule.path, directory)]
    if not covering:
        return not any(is_within(directory, rule.path) for rule in rules)
    if any(rule.ignore.has_exclusions or rule.context_ignore.has_exclusions for rule in covering):
        return False  # a "!" pattern may take back something below it
    return all(rule.ignored(directory) for rule in covering)
