"""The services' pull and push, and `pycompose image ...` over the fake engine's API."""

from __future__ import annotations

import datetime
import json
import tarfile
from pathlib import Path

import pytest
from command_harness import Harness

from compose.commands.images import familiar, since, split_tag
from engine.api.errors import EngineError, NotFound

pytestmark = pytest.mark.anyio

BUILT = {
    "compose.yaml": """
services:
  app:
    build: .
  cache:
    image: cache:7
  broken:
    image: cache:broken
"""
}


async def test_pull_pulls_every_named_image_and_skips_build_only_services(harness: Harness) -> None:
    assert await harness.run("pull", "web", "db") == 0
    assert ("pull", "web:1") in harness.backend.calls and ("pull", "db:1") in harness.backend.calls
    assert " Image web:1  Pulled" in harness.err.getvalue()
    with pytest.raises(EngineError, match="registry went away"):
        await harness.run("pull", files=BUILT)
    assert await harness.run("pull", "--ignore-pull-failures", files=BUILT) == 0
    pulled = [name for call, name in harness.backend.calls if call == "pull"]
    assert not any(name.startswith("demo-app") for name in pulled)
    assert " Image cache:broken  Error" in harness.err.getvalue()


async def test_push_pushes_the_services_that_name_an_image(harness: Harness) -> None:
    assert await harness.run("push", "db") == 0
    assert [c for c in harness.backend.calls if c[0] == "push"] == [("push", "db:1")]
    assert " Image db:1  Pushed" in harness.err.getvalue()
    with pytest.raises(NotFound):
        await harness.run("push", "cache", files=BUILT)
    assert await harness.run("push", "--ignore-push-failures", "cache", files=BUILT) == 0


async def test_image_ls_table_json_quiet(harness: Harness) -> None:
    harness.backend.images.clear()
    harness.backend.add_image("example.com/team/app:2", "app:latest")
    assert await harness.run("image", "ls") == 0
    header, *rows = harness.out.getvalue().splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert [row.split()[:2] for row in rows] == [["example.com/team/app", "2"], ["app", "latest"]]
    assert rows[0].split()[-1] == "4.2MB"
    await harness.run("image", "ls", "--digests")
    assert "DIGEST" in harness.out.getvalue() and "sha256:ddd" in harness.out.getvalue()
    await harness.run("image", "list", "--format", "json")
    row = json.loads(harness.out.getvalue().splitlines()[0])
    assert set(row) == {"Repository", "Tag", "Digest", "ID", "CreatedAt", "CreatedSince", "Size"}
    assert row["CreatedAt"] == "2020-09-13T12:26:40Z"
    await harness.run("image", "ls", "-q")
    assert harness.out.getvalue().split() == [next(iter(harness.backend.images))[7:19]]


async def test_image_inspect_tag_rm(harness: Harness) -> None:
    assert await harness.run("image", "tag", "db:1", "registry.local:5000/db") == 0
    assert "registry.local:5000/db:latest" in harness.backend.find_image("db:1").tags
    assert await harness.run("image", "inspect", "registry.local:5000/db") == 0
    [found] = json.loads(harness.out.getvalue())
    assert found["RepoTags"] == ["db:1", "registry.local:5000/db:latest"]
    assert await harness.run("image", "rm", "registry.local:5000/db") == 0
    assert harness.out.getvalue() == "Untagged: registry.local:5000/db:latest\n"
    assert await harness.run("image", "remove", "-f", "db:1") == 0
    assert harness.out.getvalue().splitlines()[1].startswith("Deleted: sha256:")
    with pytest.raises(NotFound, match="No such image: db:1"):
        await harness.run("image", "inspect", "db:1")


async def test_image_pull_and_push_print_the_id_and_the_digest(harness: Harness) -> None:
    assert await harness.run("image", "pull", "--platform", "linux/arm64", "cache:9") == 0
    assert harness.out.getvalue().strip() == harness.backend.find_image("cache:9").id
    assert ("pull", "cache:9 linux/arm64") in harness.backend.calls
    assert await harness.run("image", "pull", "-q", "docker.io/library/cache") == 0
    assert harness.out.getvalue() == "cache:latest\n"
    with pytest.raises(NotFound, match="manifest unknown"):
        await harness.run("image", "pull", "cache:missing")
    assert await harness.run("image", "push", "-q", "cache:9") == 0
    assert harness.out.getvalue() == "sha256:" + "e" * 64 + "\n"


async def test_image_import_save_prune(harness: Harness, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"a docker save archive")
    assert await harness.run("image", "import", str(archive), "-t", "mine:1") == 0
    assert harness.out.getvalue() == "Loaded image: loaded/image:1\n"
    assert harness.backend.loaded_archives == [b"a docker save archive"]
    assert "mine:1" in harness.backend.find_image("loaded/image:1").tags
    # an OCI layout directory is sent as a tar of its content
    layout = tmp_path / "layout"
    (layout / "blobs").mkdir(parents=True)
    (layout / "index.json").write_text("{}")
    (layout / "oci-layout").write_text("{}")
    assert await harness.run("image", "load", str(layout)) == 0
    (tmp_path / "sent.tar").write_bytes(harness.backend.loaded_archives[-1])
    with tarfile.open(tmp_path / "sent.tar") as tar:
        assert sorted(tar.getnames()) == ["blobs", "index.json", "oci-layout"]
    output = tmp_path / "saved.tar"
    assert await harness.run("image", "save", "db:1", "web:1", "-o", str(output)) == 0
    assert output.read_bytes() == b"archive of db:1\narchive of web:1\n"
    with pytest.raises(NotFound):
        await harness.run("image", "save", "nothing:1", "-o", str(tmp_path / "no.tar"))
    assert not (tmp_path / "no.tar").exists() and not (tmp_path / "no.tar.partial").exists()
    harness.backend.add_image("dangling").tags.clear()
    assert await harness.run("image", "prune") == 0
    assert harness.out.getvalue().count("Deleted: ") == 1
    assert await harness.run("image", "prune", "-a", "-f") == 0
    assert harness.backend.images == {}


def test_reference_helpers() -> None:
    assert split_tag("localhost:5000/a/b") == ("localhost:5000/a/b", "latest")
    assert split_tag("localhost:5000/a/b:2") == ("localhost:5000/a/b", "2")
    assert familiar("docker.io/library/redis") == "redis:latest"
    assert familiar("docker.io/me/app:3") == "me/app:3"
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    two_years = int(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC).timestamp())
    assert since(two_years, now) == "2 years ago"
    assert since(int(now.timestamp()) - 3600, now) == "1 hour ago"
    assert since(int(now.timestamp()) - 30, now) == "Less than a minute ago"
    assert since(0, now) == "N/A"
