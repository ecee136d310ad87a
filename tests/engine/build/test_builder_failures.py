"""Real builds that fail or are refused: the error cites the Dockerfile's line, and a
failed or cancelled build leaves no image, container, runc state or mount behind."""

from __future__ import annotations

import io
import tarfile

import anyio
import pytest

from engine.api.errors import InvalidParameter
from engine.build import (
    BuildContext,
    BuildOptions,
    BuildStepFailed,
    DockerfileError,
    build,
    error_message,
)

from .build_helpers import Recorder, leftovers
from .conftest import needs_root

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_root]


async def test_a_failing_run_cites_its_line_and_leaves_nothing(
    images, busybox_image, runc, tmp_path
):
    context = tmp_path / "ctx"
    context.mkdir()
    before = {record.id for record in images.images()}
    dockerfile = (
        "FROM test/busybox\nRUN echo first > /first\nRUN echo oops-output; exit 3\nRUN true\n"
    )
    with pytest.raises(BuildStepFailed) as info:
        await build(
            BuildContext(context),
            BuildOptions(dockerfile_inline=dockerfile, tags=["test/broken"], network="none"),
            images,
            runc,
        )
    error = info.value
    assert str(error).startswith("Dockerfile:3: RUN echo oops-output; exit 3: ")
    assert "returned a non-zero code: 3" in str(error)
    assert error.exit_code == 3
    assert "oops-output" in error.output
    assert {record.id for record in images.images()} == before
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


@pytest.mark.parametrize(
    ("dockerfile", "line", "message"),
    [
        ("FROM test/busybox\nCOPY secret.txt /\n", 2, "excluded by .dockerignore"),
        ("FROM test/busybox\nRUN true\nCOPY ../outside /\n", 3, "outside the build context"),
        ("FROM test/busybox\nCOPY missing /\n", 2, "not found in the build context"),
        ("FROM test/busybox AS a\nFROM a\nCOPY --from=a /nothing /\n", 3, "not found in a"),
        ("FROM test/busybox\nUSER nobody-here\nRUN true\n", 3, "nobody-here"),
        ("FROM test/busybox\nCOPY --chown=ghost ok.txt /\n", 2, "no such user: ghost"),
        ("FROM test/busybox\nSTOPSIGNAL SIGNOPE\n", 2, "invalid signal"),
        ("FROM --platform=linux/s390x test/busybox\n", 1, "no emulation"),
        ("FROM test/busybox\nADD evil.tar /x/\n", 2, "cannot extract the archive"),
        ("FROM test/busybox\nADD https://127.0.0.1:1/x.git /src\n", 2, "git repository"),
        ("FROM test/busybox\nADD http://127.0.0.1:1/file /f\n", 2, "cannot download"),
        (
            "FROM test/busybox\nRUN --network=host true\nFROM 127.0.0.1:1/nothing:1\n",
            3,
            "cannot reach the registry 127.0.0.1:1",
        ),
    ],
)
async def test_bad_builds_cite_the_line(
    images, busybox_image, runc, tmp_path, dockerfile, line, message
):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "secret.txt").write_text("s")
    (context / "ok.txt").write_text("ok")
    (context / ".dockerignore").write_text("secret.txt\n")
    with tarfile.open(context / "evil.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("../../escape"), io.BytesIO(b""))
    before = {record.id for record in images.images()}
    with pytest.raises(DockerfileError) as info:
        await build(
            BuildContext(context),
            BuildOptions(dockerfile_inline=dockerfile, tags=["test/bad"], network="none"),
            images,
            runc,
        )
    assert str(info.value).startswith(f"Dockerfile:{line}: "), str(info.value)
    assert message in str(info.value)
    assert {record.id for record in images.images()} == before
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


async def test_a_cancelled_build_leaves_nothing(images, busybox_image, runc, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    before = {record.id for record in images.images()}
    progress = Recorder()
    scope = anyio.CancelScope()

    def cancel_once_running(event):
        progress(event)
        if event.stream == "started\n":  # the RUN's container is running: cancel now
            scope.cancel()

    with anyio.fail_after(60), scope:
        await build(
            BuildContext(context),
            BuildOptions(
                dockerfile_inline="FROM test/busybox\nRUN echo started; sleep 60\n",
                tags=["test/cancelled"],
                network="none",
            ),
            images,
            runc,
            cancel_once_running,
        )
    assert scope.cancelled_caught
    assert {record.id for record in images.images()} == before
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


def test_error_message_has_dockers_shape():
    error = BuildStepFailed("Dockerfile:3: RUN false: ... code: 1", exit_code=1, output="")
    assert error_message(error) == {
        "errorDetail": {"message": "Dockerfile:3: RUN false: ... code: 1", "code": 1},
        "error": "Dockerfile:3: RUN false: ... code: 1",
    }


async def test_a_foreign_platform_is_refused_before_anything_runs(images, tmp_path):
    with pytest.raises(InvalidParameter, match="builds only for linux/") as info:
        await build(
            BuildContext(tmp_path),
            BuildOptions(dockerfile_inline="FROM scratch\n", platform="linux/s390x"),
            images,
        )
    assert "no emulation" in str(info.value)


@pytest.mark.parametrize("tag", ["Bad Tag", "x@sha256:" + "0" * 64])
async def test_a_bad_tag_is_refused_before_the_build(images, tmp_path, tag):
    progress = Recorder()
    with pytest.raises(InvalidParameter):
        await build(
            BuildContext(tmp_path),
            BuildOptions(dockerfile_inline="FROM scratch\n", tags=[tag]),
            images,
            None,
            progress,
        )
    assert progress.events == []
