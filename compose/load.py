"""The load pipeline: stack files and environment in, a validated Project out.

Phases, each a function of its own (see the module named in brackets):

1. options     which files, which project directory, which env files and profiles
               (-f, COMPOSE_FILE, discovery upwards, --project-directory, --env-file,
               COMPOSE_ENV_FILES, .env, --profile, COMPOSE_PROFILES)
2. parse       YAML to trees that keep file:line:column            [compose.source]
3. interpolate ${VAR} in values, per file                            [compose.interpolate]
4. canonical   short syntax to long syntax, relative paths resolved [compose.canonical]
5. extends     services built on other services, across files
6. include     other projects imported whole, with their own env
7. merge       override files on the first one                      [compose.merge]
8. environment env_file and label_file read into environment/labels
9. profiles    only enabled services (and the ones they need)
10. normalize  project-wide defaults docker compose adds             [compose.normalize]
11. validate   pydantic models; every issue with its location       [compose.model]
12. references undefined services/networks/volumes/..., cycles       [compose.graph]

Nothing here touches the process environment or the disk directly: the
environment is a Mapping argument and files are read through ``files``
(:class:`FileSystem`), so every phase can be tested with plain data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from compose import canonical, normalize, paths
from compose.dotenv import parse_dotenv
from compose.environment import null_environments, resolve_service_environment
from compose.errors import (
    ComposeError,
    InterpolationError,
    Issue,
    Location,
    ModelError,
    ProjectError,
    UndefinedReferenceError,
)
from compose.extends import extend_service
from compose.include import apply_include
from compose.interpolate import Interpolator, interpolate_tree
from compose.merge import enforce_unicity, merge_trees
from compose.model import Project, check_shapes, validate_project
from compose.profiles import select_services
from compose.pycompose_ext import check_extensions
from compose.references import check_references
from compose.source import MapNode, parse

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_TRUTHY = ("1", "true", "yes", "y", "on")


class FileSystem(Protocol):
    """What the loader needs from the disk; the CLI passes the real one."""

    def read_text(self, path: Path) -> str: ...

    def is_file(self, path: Path) -> bool: ...

    def is_dir(self, path: Path) -> bool: ...


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """What the user asked for: the command line and the environment."""

    cwd: Path
    environment: Mapping[str, str]
    files: Sequence[str] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: Sequence[str] = ()
    profiles: Sequence[str] = ()
    services: Sequence[str] = ()  # `config SERVICE...`: only these and what they need
    enable_services: Sequence[str] = ()  # `up SERVICE...`: enabled whatever their profiles
    interpolate: bool = True
    normalize: bool = True
    resolve_paths: bool = True
    all_resources: bool = False
    consistency: bool = True  # False: `config --no-consistency`, the checks compose-go skips
    home: str | None = None
    # the text of the file named "-" in ``files`` (docker compose's "from stdin"), read by
    # the caller: the loader does no I/O of its own
    stdin: str | None = None


STDIN_NAME = "-"


@dataclasses.dataclass
class LoadResult:
    """A loaded project and what went into it."""

    project: Project
    tree: MapNode
    files: list[Path]
    working_dir: Path
    environment: dict[str, str]
    env_sources: dict[str, str]
    profiles: list[str]
    warnings: list[str]
    used_variables: dict[Location, list[str]] = dataclasses.field(default_factory=dict)
    # the path that stands for the file read from stdin (``-f -``): "-" in the working dir
    stdin_file: Path | None = None
    stdin_text: str | None = None

    def file_text(self, path: Path) -> str | None:
        """The text of a file given on stdin; None for a file on disk."""
        return self.stdin_text if path == self.stdin_file else None


# --- 1. options -----------------------------------------------------------------------------


def normalize_project_name(name: str) -> str:
    """docker compose's rule for names it derives: lower case, [a-z0-9_-], starting alnum."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def check_project_name(name: str, source: str) -> str:
    if not _PROJECT_NAME.match(name):
        raise ProjectError(
            [
                Issue(
                    f"invalid project name {name!r} (from {source})",
                    hint="a project name is lower-case letters, digits, '-' and '_', "
                    "starting with a letter or digit",
                )
            ]
        )
    return name


class Loader:
    """One load: the options, the file system, and what the phases gather on the way."""

    def __init__(self, options: LoadOptions, files: FileSystem) -> None:
        self.options = options
        self.fs = files
        self.warnings: list[str] = []
        self.environment: dict[str, str] = dict(options.environment)
        self.env_sources: dict[str, str] = {name: "environment" for name in options.environment}
        self.used_variables: dict[Location, list[str]] = {}
        # issues of phases that can go on past a bad value (interpolation, canonical);
        # reported with the later phases' issues so that a load lists every problem
        self.deferred: list[tuple[type[ComposeError], Issue]] = []
        self.home = options.home if options.home is not None else options.environment.get("HOME")
        self.stdin_file: Path | None = None

    def is_file(self, path: Path) -> bool:
        return path == self.stdin_file or self.fs.is_file(path)

    # paths
    def absolute(self, path: str, base: Path) -> Path:
        expanded = path
        if path.startswith("~") and self.home:
            expanded = self.home + path[1:]
        p = Path(expanded)
        return _clean(p if p.is_absolute() else base / p)

    def read(self, path: Path, what: str, location: Location | None = None) -> str:
        if path == self.stdin_file and self.options.stdin is not None:
            return self.options.stdin
        try:
            return self.fs.read_text(path)
        except FileNotFoundError:
            raise ProjectError(
                [Issue(f"{what} {path} not found", location, hint="check the path")]
            ) from None
        except IsADirectoryError:
            raise ProjectError([Issue(f"{what} {path} is a directory", location)]) from None
        except UnicodeDecodeError:
            raise ProjectError([Issue(f"{what} {path} is not UTF-8 text", location)]) from None
        except OSError as exc:
            raise ProjectError(
                [Issue(f"cannot read {what} {path}: {exc.strerror}", location)]
            ) from None

    # env files
    def read_env_files(
        self, paths: Sequence[Path], shell: Mapping[str, str], *, required: bool
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Values of env files read in order (later files win) and the file each came from.

        Expansion inside a file sees ``shell`` first, then what earlier lines and files set.
        """
        collected: dict[str, str] = {}
        sources: dict[str, str] = {}

        def lookup(key: str) -> str | None:
            value = shell.get(key)
            return value if value is not None else collected.get(key)

        for path in paths:
            if not required and not self.fs.is_file(path):
                continue
            for key, value in parse_dotenv(self.read(path, "env file"), str(path), lookup).items():
                collected[key] = value
                sources[key] = str(path)
        return collected, sources

    def load_env_files(self, paths: Sequence[Path], *, required: bool) -> None:
        """Add env files' values to the project environment; the shell's values win."""
        collected, sources = self.read_env_files(paths, self.environment, required=required)
        for key, value in collected.items():
            if key not in self.environment:
                self.environment[key] = value
                self.env_sources[key] = sources[key]

    def env_file_paths(self, working_dir: Path) -> tuple[list[Path], bool]:
        """The env files to read and whether they must exist."""
        if self.options.env_files:
            return [self.absolute(f, self.options.cwd) for f in self.options.env_files], True
        listed = self.environment.get("COMPOSE_ENV_FILES")
        if listed:
            return [self.absolute(f, working_dir) for f in listed.split(",") if f], True
        if self.environment.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in _TRUTHY:
            return [], False
        return [working_dir / ".env"], False

    def find_config_files(self) -> list[Path]:
        options = self.options
        if options.files:
            on_disk = [self.absolute(f, options.cwd) for f in options.files if f != STDIN_NAME]
            if len(on_disk) == len(options.files):
                return on_disk
            # relative paths in the file from stdin are the working dir's, as docker compose
            base = self.project_dir_option() or (
                options.cwd if options.files[0] == STDIN_NAME else on_disk[0].parent
            )
            self.stdin_file = base / STDIN_NAME
            if self.stdin_file in on_disk:
                raise ProjectError(
                    [
                        Issue(
                            "-f - reads the compose file from stdin as the file "
                            f"{self.stdin_file}, and another -f names that same file",
                            hint="rename the file on disk, or leave out -f -",
                        )
                    ]
                )
            return [
                self.stdin_file if f == STDIN_NAME else self.absolute(f, options.cwd)
                for f in options.files
            ]
        from_env = self.environment.get("COMPOSE_FILE")
        if from_env:
            separator = self.environment.get("COMPOSE_PATH_SEPARATOR") or ":"
            base = self.project_dir_option() or options.cwd
            return [self.absolute(f, base) for f in from_env.split(separator) if f]
        start = self.project_dir_option() or options.cwd
        directory = start
        while True:
            for name in DEFAULT_FILES:
                candidate = directory / name
                if self.fs.is_file(candidate):
                    found = [candidate]
                    for override in OVERRIDE_FILES[name]:
                        if self.fs.is_file(directory / override):
                            found.append(directory / override)
                            break
                    return found
            if directory.parent == directory:
                break
            directory = directory.parent
        raise ProjectError(
            [
                Issue(
                    f"no configuration file provided: no {' / '.join(DEFAULT_FILES)} "
                    f"in {start} or any parent directory",
                    hint="run pycompose where your compose.yaml is, or name it with -f",
                )
            ]
        )

    def project_dir_option(self) -> Path | None:
        if self.options.project_directory:
            return self.absolute(self.options.project_directory, self.options.cwd)
        return None

    # --- the whole pipeline ---------------------------------------------------------------

    def load(self) -> LoadResult:
        options = self.options
        # .env of the first working directory: may set COMPOSE_FILE, COMPOSE_PROFILES, ...
        first_dir = self.project_dir_option()
        if first_dir is None:
            first_dir = (
                self.absolute(options.files[0], options.cwd).parent
                if options.files and options.files[0] != STDIN_NAME
                else options.cwd
            )
        env_paths, required = self.env_file_paths(first_dir)
        self.load_env_files(env_paths, required=required)
        config_files = self.find_config_files()
        for path in config_files:
            if not self.is_file(path):
                raise ProjectError(
                    [
                        Issue(
                            f"compose file {path} not found",
                            hint="check the -f option and COMPOSE_FILE",
                        )
                    ]
                )
        working_dir = self.project_dir_option() or config_files[0].parent
        if working_dir != first_dir and not options.env_files:
            env_paths, required = self.env_file_paths(working_dir)
            self.load_env_files(env_paths, required=required)

        profiles = list(options.profiles)
        if not profiles and self.environment.get("COMPOSE_PROFILES"):
            profiles = [
                p.strip() for p in self.environment["COMPOSE_PROFILES"].split(",") if p.strip()
            ]

        raw_trees = [(path, self.parse_file(path)) for path in config_files]
        project_name = self.project_name(raw_trees, working_dir)
        self.environment.setdefault("COMPOSE_PROJECT_NAME", project_name)

        merged: MapNode | None = None
        for path, tree in raw_trees:
            tree = self.process_file(tree, path, working_dir, self.environment, (path,))
            merged = tree if merged is None else merge_trees(merged, tree)
        assert merged is not None
        merged = enforce_unicity(merged)
        merged.pop("include", None)
        merged["name"] = project_name

        resolve_service_environment(merged, self.environment, self)
        services_before = merged.get("services")
        all_services = dict(services_before) if isinstance(services_before, MapNode) else {}
        select_services(merged, profiles, options.services, options.enable_services)
        # docker compose validates the services profiles disabled too
        kept = merged.get("services") if isinstance(merged.get("services"), MapNode) else {}
        disabled = MapNode()
        disabled["services"] = MapNode()
        for name, service in all_services.items():
            if name not in (kept or {}):
                disabled["services"][name] = service
        shape_issues = check_shapes(disabled) if disabled["services"] else []
        if options.normalize and not self.deferred:
            # normalize expects the shapes canonical produces; after a rejected value
            # it is skipped, and validation still reports everything else it finds
            merged = normalize.normalize(merged, project_name, options.all_resources)
        issues: list[tuple[type[ComposeError], Issue]] = [
            (ModelError, issue) for issue in shape_issues
        ]
        project: Project | None = None
        try:
            project = validate_project(merged, consistency=options.consistency)
        except ModelError as error:
            issues.extend((ModelError, issue) for issue in error.issues)
        try:
            if options.consistency:
                check_references(merged)
        except UndefinedReferenceError as error:
            issues.extend((UndefinedReferenceError, issue) for issue in error.issues)
        try:
            check_extensions(merged)
        except ModelError as error:
            issues.extend((ModelError, issue) for issue in error.issues)
        if issues or self.deferred:
            raise _combined(self.deferred, issues)
        assert project is not None
        if options.consistency:
            from compose.graph import build_graph

            build_graph(project, merged)
        return LoadResult(
            project=project,
            tree=merged,
            files=config_files,
            working_dir=working_dir,
            environment=self.environment,
            env_sources=self.env_sources,
            profiles=profiles,
            warnings=self.warnings,
            used_variables=self.used_variables,
            stdin_file=self.stdin_file,
            stdin_text=self.options.stdin if self.stdin_file else None,
        )

    # --- 2. parse ---------------------------------------------------------------------------

    def parse_file(self, path: Path, location: Location | None = None) -> MapNode:
        text = self.read(path, "compose file", location)
        tree = parse(text, str(path))
        if tree is None:
            raise ProjectError(
                [Issue("empty compose file", Location(str(path), 1, 1), hint="add services:")]
            )
        if not isinstance(tree, MapNode):
            raise ModelError(
                [
                    Issue(
                        "the top level of a compose file must be a mapping (services:, ...)",
                        getattr(tree, "loc", None) or Location(str(path), 1, 1),
                    )
                ]
            )
        for key in ("services", "networks", "volumes", "secrets", "configs"):
            if key in tree and tree[key] is None and key == "services":
                raise ModelError(
                    [Issue("services must be a mapping", tree.location_of(key), ("services",))]
                )
        if "version" in tree:
            self.warnings.append(
                f"{path}: the attribute `version` is obsolete, it will be ignored, "
                "please remove it to avoid potential confusion"
            )
        return tree

    def project_name(self, raw_trees: list[tuple[Path, MapNode]], working_dir: Path) -> str:
        options = self.options
        if options.project_name:
            return check_project_name(options.project_name, "-p")
        from_env = self.environment.get("COMPOSE_PROJECT_NAME")
        if from_env:
            return check_project_name(from_env, "COMPOSE_PROJECT_NAME")
        from_file = ""
        for _path, tree in raw_trees:
            name = tree.get("name")
            if isinstance(name, str) and name:
                from_file = name
        if from_file and options.interpolate:
            interpolator = Interpolator(self.environment)
            from_file = interpolator.substitute(from_file) if "$" in from_file else from_file
        name = normalize_project_name(from_file)
        if name:
            return name
        name = normalize_project_name(working_dir.name)
        if not name:
            raise ProjectError(
                [
                    Issue(
                        f"cannot derive a project name from the directory {working_dir}",
                        hint="give one with -p NAME or `name:` in the compose file",
                    )
                ]
            )
        return name

    # --- 3..6: one file -------------------------------------------------------------------

    def interpolate(self, tree: MapNode, environment: Mapping[str, str]) -> None:
        if not self.options.interpolate:
            return
        interpolator = Interpolator(environment)
        try:
            interpolate_tree(tree, interpolator, self.used_variables)
        except InterpolationError as error:
            self.deferred.extend((InterpolationError, issue) for issue in error.issues)
        for name in sorted(interpolator.unset):
            warning = f'The "{name}" variable is not set. Defaulting to a blank string.'
            if warning not in self.warnings:
                self.warnings.append(warning)

    def process_file(
        self,
        tree: MapNode,
        path: Path,
        working_dir: Path,
        environment: Mapping[str, str],
        chain: tuple[Path, ...],
    ) -> MapNode:
        """Interpolate, canonicalize, resolve paths, extends and include for one file."""
        self.interpolate(tree, environment)
        self.check_top_level(tree)
        # checked as written: canonical drops the null
        self.deferred.extend((ModelError, issue) for issue in null_environments(tree))
        tree = self.canonicalize(tree)
        if self.options.resolve_paths:
            tree = paths.resolve_paths(tree, working_dir, self.home)
        tree = enforce_unicity(tree)
        services = tree.get("services")
        if isinstance(services, MapNode):
            cache: dict[Path, MapNode] = {path: tree}
            for name in list(services):
                services[name] = extend_service(
                    self, tree, path, name, working_dir, environment, cache, ()
                )
        if "include" in tree:
            tree = apply_include(self, tree, path, working_dir, chain)
        return tree

    def canonicalize(self, tree: MapNode) -> MapNode:
        """Long syntax; values it cannot read are left as written and reported later."""
        try:
            result: MapNode = canonical.canonicalize(tree)
        except ModelError as error:
            self.deferred.extend((ModelError, issue) for issue in error.issues)
            return tree  # canonicalized in place, apart from the values it rejected
        return result

    def check_top_level(self, tree: MapNode) -> None:
        services = tree.get("services")
        if isinstance(services, MapNode):
            for name, service in list(services.items()):
                if service is None:
                    services[name] = MapNode(services.location_of(name))


def _combined(
    early: list[tuple[type[ComposeError], Issue]], late: list[tuple[type[ComposeError], Issue]]
) -> ComposeError:
    """One error with every issue; a late issue about a value an early phase rejected is dropped.

    A value rejected early (bad interpolation, unreadable short syntax) stays in the
    tree as written, and validation would report it again, less clearly.
    """
    rejected = [tuple(issue.path) for _, issue in early if issue.path]
    kept = list(early)
    for kind, issue in late:
        path = tuple(issue.path)
        if path and any(path[: len(prefix)] == prefix for prefix in rejected):
            continue
        kept.append((kind, issue))
    kinds = {kind for kind, _ in kept}
    error_class = kept[0][0] if len(kinds) == 1 else ComposeError
    return error_class([issue for _, issue in kept])


def _clean(path: Path) -> Path:
    """Normalise ``..`` and ``.`` without touching the disk (no symlink resolution)."""
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return Path(*parts) if parts else Path("/")


def load_project(
    options: LoadOptions,
    files: FileSystem,
) -> LoadResult:
    """Load, merge, normalise and validate a project (the Python API's entry point).

    ``files`` gives access to the disk (``compose.cli.LocalFileSystem`` for the
    real one); ``options.environment`` is the environment to interpolate from.
    Raises a :class:`~compose.errors.ComposeError` listing every problem found.
    """
    return Loader(options, files).load()


__all__ = [
    "ComposeError",
    "FileSystem",
    "LoadOptions",
    "LoadResult",
    "check_project_name",
    "load_project",
    "normalize_project_name",
]
