"""The dependency rules of DESIGN.md and STYLE.md, checked on the source (no imports run).

- compose's pure modules import no os/subprocess/anyio/engine and never call
  open() or print(): the environment and file access are passed in;
- networkx lives only in compose/graph.py, ruamel only in compose/source.py,
  pyroute2 only under engine/network/ (their exceptions are translated there);
- compose/ talks to the engine only through engine.api; nothing in engine/ imports compose/;
- engine.api (the client side) imports nothing of the engine but engine.errors, the bottom
  of the engine, which imports nothing of pycompose at all;
- engine.api.models (the one ContainerCreate) and engine.api.ports are pure data and
  parsing: they import pydantic, the standard library and engine.errors only, so the layers
  below the daemon (runtime, volumes, build, images, network, state, fs) may read them; of
  engine.api those layers import nothing else (not the client).

A deliberate exception goes in KNOWN_EXCEPTIONS with its reason, so that it stays
visible; an exception that no longer happens fails the test, so the list shrinks.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PURE_MODULES = (
    "kube/generate",
    "kube/rules",
    "kube/names",
    "kube/checks",
    "kube/workload",
    "kube/mounts",
    "kube/play",
    "kube/play_volumes",
    "kube/services",
    "source",
    "pycompose_ext",
    "update_order",
    "interpolate",
    "dotenv",
    "merge",
    "canonical",
    "canonical_base",
    "paths",
    "short_syntax",
    "units",
    "normalize",
    "file_mounts",
    "model",
    "output",
    "load",
    "load_text",
    "graph",
    "explain",
    "errors",
    "environment",
    "profiles",
    "references",
    "labels",
    "observed",
    "plan",
    "reconcile",
    "convert",
    "watch/rules",
    "keys/table",
    "keys/checks",
)
FORBIDDEN_IN_PURE = ("os", "subprocess", "anyio", "engine")
# the parts of engine.api that are pure data and parsing, shared by client and engine
PURE_ENGINE_API = ("engine.api.ports", "engine.api.models")
# what a pure engine.api module may import beside the standard library
PURE_API_MAY_IMPORT = ("pydantic", "engine.errors", *PURE_ENGINE_API)
# the engine below the daemon: it may read engine.api's pure modules, nothing else of it
BELOW_THE_DAEMON = (
    "engine/runtime/**/*.py",
    "engine/volumes.py",
    "engine/build/**/*.py",
    "engine/images/**/*.py",
    "engine/network/**/*.py",
    "engine/state.py",
    "engine/fs/**/*.py",
    "engine/errors.py",
)
FORBIDDEN_CALLS = ("open", "print")
CONFINED = {
    # top-level package: where it may be imported (files or directories, relative to ROOT)
    "networkx": ("compose/graph.py",),
    "ruamel": ("compose/source.py",),
    "pyroute2": ("engine/network/",),
    "kubernetes": ("compose/kube/cluster.py",),
}

# (file, imported module or called name): why it is allowed
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def python_files(*patterns: str) -> list[Path]:
    return sorted({path for pattern in patterns for path in ROOT.glob(pattern)})


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imported_modules(path: Path) -> Iterator[tuple[str, int]]:
    """Every module a file imports (absolute names), with its line; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = relative(path).removesuffix(".py").replace("/", ".").rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:  # `from engine import images` imports engine.images
                yield f"{module}.{alias.name}", node.lineno


def called_names(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            yield node.func.id, node.lineno


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def allowed(file: str, module: str) -> bool:
    return any(
        file == known_file and is_within(module, known_module)
        for known_file, known_module in KNOWN_EXCEPTIONS
    )


ALL_SOURCES = python_files("compose/**/*.py", "engine/**/*.py")
PURE_SOURCES = [ROOT / "compose" / f"{name}.py" for name in PURE_MODULES]


def test_the_rules_see_the_source_tree() -> None:
    assert len(ALL_SOURCES) > 20
    assert all(path.exists() for path in PURE_SOURCES)


@pytest.mark.parametrize("path", PURE_SOURCES, ids=relative)
def test_pure_compose_modules_import_no_os_subprocess_anyio_or_engine(path: Path) -> None:
    file = relative(path)
    offending = [
        f"{file}:{line}: imports {module}"
        for module, line in imported_modules(path)
        if any(is_within(module, banned) for banned in FORBIDDEN_IN_PURE)
        and not any(is_within(module, pure) for pure in PURE_ENGINE_API)
        and not allowed(file, module)
    ]
    assert offending == []


@pytest.mark.parametrize("path", PURE_SOURCES, ids=relative)
def test_pure_compose_modules_never_call_open_or_print(path: Path) -> None:
    file = relative(path)
    offending = [
        f"{file}:{line}: calls {name}()"
        for name, line in called_names(path)
        if name in FORBIDDEN_CALLS and not allowed(file, name)
    ]
    assert offending == []


@pytest.mark.parametrize("package", sorted(CONFINED))
def test_third_party_packages_are_confined_to_the_module_that_wraps_them(package: str) -> None:
    homes = CONFINED[package]
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in ALL_SOURCES
        if not any(relative(path) == home or relative(path).startswith(home) for home in homes)
        for module, line in imported_modules(path)
        if is_within(module, package)
    ]
    assert offending == []


def test_compose_reaches_the_engine_only_through_engine_api() -> None:
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in python_files("compose/**/*.py")
        for module, line in imported_modules(path)
        if is_within(module, "engine")
        and not is_within(module, "engine.api")
        and module != "engine"
        and not allowed(relative(path), module)
    ]
    assert offending == []


def test_the_engine_never_imports_compose() -> None:
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in python_files("engine/**/*.py")
        for module, line in imported_modules(path)
        if is_within(module, "compose")
    ]
    assert offending == []


def test_the_api_client_imports_nothing_of_the_engine_but_its_errors() -> None:
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in python_files("engine/api/**/*.py")
        for module, line in imported_modules(path)
        if is_within(module, "engine")
        and not is_within(module, "engine.api")
        and not is_within(module, "engine.errors")
        and module != "engine"
    ]
    assert offending == []


def test_the_pure_api_modules_import_only_pydantic_the_stdlib_and_engine_errors() -> None:
    files = python_files("engine/api/models/**/*.py", "engine/api/ports.py")
    assert len(files) > 5
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in files
        for module, line in imported_modules(path)
        if module.partition(".")[0] not in sys.stdlib_module_names
        and not any(is_within(module, allowed_module) for allowed_module in PURE_API_MAY_IMPORT)
        and module != "engine"
    ]
    assert offending == []


def test_below_the_daemon_only_the_pure_api_modules_are_imported() -> None:
    files = python_files(*BELOW_THE_DAEMON)
    assert len(files) > 30
    seen = {m for path in files for m, _ in imported_modules(path)}
    assert "engine.api.models" in seen  # the runtime reads the one ContainerCreate
    offending = [
        f"{relative(path)}:{line}: imports {module}"
        for path in files
        for module, line in imported_modules(path)
        if is_within(module, "engine.api")
        and not any(is_within(module, pure) for pure in PURE_ENGINE_API)
        and module != "engine.api"
    ]
    assert offending == []


def test_the_engine_errors_module_imports_nothing_of_pycompose() -> None:
    path = ROOT / "engine" / "errors.py"
    offending = [
        f"errors.py:{line}: imports {module}"
        for module, line in imported_modules(path)
        if is_within(module, "engine") or is_within(module, "compose")
    ]
    assert offending == []


def test_the_engine_rules_see_the_engine_imports() -> None:
    """The engine rules read real import statements (a rule over no imports cannot fail)."""
    assert len(python_files("engine/**/*.py")) > 50
    seen = {module for module, _ in imported_modules(ROOT / "engine" / "api" / "errors.py")}
    assert "engine.errors" in seen and "engine.errors.EngineError" in seen


def test_every_known_exception_still_happens() -> None:
    """When an exception is fixed, take it off the list so the rule is enforced again."""
    for file, name in KNOWN_EXCEPTIONS:
        path = ROOT / file
        seen = {module for module, _ in imported_modules(path)} | {
            called for called, _ in called_names(path)
        }
        assert any(is_within(module, name) for module in seen), (file, name)
