"""The public surface of the compose package: what `import compose` offers."""

from __future__ import annotations

import inspect

import compose
from compose import errors


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in compose.__all__ if not hasattr(compose, name)]
    assert missing == []


def test_all_is_sorted_and_has_no_duplicates() -> None:
    assert list(compose.__all__) == sorted(set(compose.__all__))


def test_the_loading_api_is_exported() -> None:
    for name in (
        "load_project",
        "load_from_text",
        "LoadOptions",
        "LoadResult",
        "FileSystem",
        "build_graph",
        "ServiceGraph",
        "Project",
    ):
        assert name in compose.__all__


def test_every_error_class_is_exported() -> None:
    error_classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, errors.PycomposeError)
        and value.__module__ == errors.__name__
    }
    assert error_classes <= set(compose.__all__)


def test_exported_errors_form_one_hierarchy() -> None:
    assert issubclass(compose.ComposeError, compose.PycomposeError)
    for name in (
        "YamlSyntaxError",
        "InterpolationError",
        "ModelError",
        "UndefinedReferenceError",
        "DependencyCycleError",
        "ProjectError",
    ):
        assert issubclass(getattr(compose, name), compose.ComposeError)
    assert not issubclass(compose.PlanError, compose.ComposeError)


def test_the_package_loads_a_project_end_to_end() -> None:
    result = compose.load_from_text("services:\n  web:\n    image: nginx\n")
    assert isinstance(result.project, compose.Project)
    assert compose.build_graph(result.project).start_order() == ["web"]
