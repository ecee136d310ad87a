"""Shared pieces of the compose.load tests (tests/compose/test_load_*.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from compose.errors import ComposeError
from compose.load import LoadResult
from compose.output import config_dict

Loader = Callable[..., LoadResult]

WEB = "services:\n  web:\n    image: nginx\n"


def services_of(result: LoadResult) -> dict[str, Any]:
    return config_dict(result.project)["services"]


def issues_of(error: pytest.ExceptionInfo[ComposeError]) -> list[tuple[str, str]]:
    """(location, message) of every issue, in the order the error lists them."""
    return [(str(issue.location), issue.message) for issue in error.value.issues]
