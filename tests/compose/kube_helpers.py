"""Shared pieces of the kube tests: a project from text, files in memory, and validation
against Kubernetes' strict JSON schema (unknown fields, wrong types, missing required
fields refused) plus the API server's own rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate

from compose.kube.checks import api_server_problems
from compose.kube.generate import Bundle, GenerateOptions, HostFile, generate
from compose.load_text import load_from_text

KUBERNETES_VERSION = "1.33.0"


class MemoryFiles:
    """Files for ``generate``: plain files and directories held in a dict."""

    def __init__(self, files: dict[str, bytes] | None = None, modes: dict[str, int] | None = None):
        self.files = files or {}
        self.modes = modes or {}

    def read_bytes(self, path: str) -> bytes:
        return self.files[path]

    def small_tree(self, path: str, max_files: int, max_bytes: int) -> list[HostFile] | None:
        prefix = path.rstrip("/") + "/"
        found = [
            HostFile(name[len(prefix) :], self.modes.get(name, 0o644), content)
            for name, content in sorted(self.files.items())
            if name.startswith(prefix)
        ]
        if not found or len(found) > max_files or sum(len(f.content) for f in found) > max_bytes:
            return None
        return found


def bundle_of(
    text: str,
    files: MemoryFiles | None = None,
    environment: dict[str, str] | None = None,
    **options: Any,
) -> Bundle:
    loaded = load_from_text(
        text, environment=environment or {}, name="demo", working_dir=Path("/p")
    )
    return generate(loaded, GenerateOptions(**options), files or MemoryFiles())


def schema_errors(document: dict[str, Any]) -> str | None:
    """Why the strict schema of Kubernetes 1.33 refuses ``document``, or None."""
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{error.message} at {list(error.absolute_path)}"
    return None


def assert_valid(objects: list[dict[str, Any]]) -> None:
    for document in objects:
        problem = schema_errors(document)
        assert problem is None, f"{document['kind']} {document['metadata']['name']}: {problem}"
    assert api_server_problems(objects) == []


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for document in objects:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(
        f"no {kind} {name} in {[(d['kind'], d['metadata']['name']) for d in objects]}"
    )
