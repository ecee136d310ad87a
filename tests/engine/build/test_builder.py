"""Real builds: overlay mounts, runc, the image store. A busybox base made by the tests.

What a build makes and reuses; its failures and refusals are in test_builder_failures.py.
"""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
import time
from pathlib import Path

import anyio
import pytest

from engine.build import BuildContext, BuildOptions, build

from .build_helpers import Recorder, image_files, leftovers
from .conftest import needs_root

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_root]

EVERYTHING = """\
# syntax=docker/dockerfile:1
ARG BASE=test/busybox
FROM --platform=$BUILDPLATFORM ${BASE} AS base
ARG GREETING=hello
ENV APP_HOME=/app PATH_EXTRA="a b"
LABEL org.example.name="demo app" version=1
WORKDIR $APP_HOME
COPY --chown=app:staff --chmod=640 src/ ./src/
COPY *.txt /data/
ADD archive.tar.gz /unpacked/
ADD --chown=app:staff archive.tar.gz /owned/
ADD http://127.0.0.1:PORT/remote.txt /remote/
COPY <<EOF /etc/motd
greeting=${GREETING}
EOF
RUN echo "$GREETING from $APP_HOME" > /greeting && \\
    rm /bin/vi && \\
    mkdir -p /tmp/opaque && echo x > /tmp/opaque/file
USER app
RUN id -u > /tmp/uid && cat /etc/hosts > /tmp/hosts
RUN <<SCRIPT
echo heredoc-run > /tmp/heredoc
SCRIPT
RUN <<PY
#!/bin/sh
echo "script $0" > /tmp/shebang
PY
EXPOSE 8080 53/udp
VOLUME /data
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD test -f /greeting
STOPSIGNAL SIGINT
SHELL ["/bin/sh", "-ec"]
RUN echo shell-form > /tmp/shell
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /greeting"]

FROM test/busybox AS other
RUN echo other > /other.txt

FROM base
COPY --from=other /other.txt /copied/
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "remote.txt").write_text("from the server\n")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _tar_gz(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))


@pytest.fixture
def app_context(tmp_path, http_server):
    root = tmp_path / "app"
    (root / "src/sub").mkdir(parents=True)
    (root / "src/main.py").write_text("print('hi')\n")
    (root / "src/sub/util.py").write_text("X = 1\n")
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    (root / "ignored.txt").write_text("never copied\n")
    (root / ".dockerignore").write_text("ignored.txt\n")
    _tar_gz(root / "archive.tar.gz", {"inner/file.txt": b"unpacked\n"})
    (root / "Dockerfile").write_text(EVERYTHING.replace("PORT", str(http_server)))
    return root


async def test_every_instruction(images, busybox_image, runc, app_context):
    progress = Recorder()
    record = await build(
        BuildContext(app_context),
        BuildOptions(
            tags=["test/app:1"],
            build_args={"GREETING": "hi"},
            network="none",
            extra_hosts=["db.local:10.1.2.3"],
        ),
        images,
        runc,
        progress,
    )
    assert images.resolve("test/app:1").id == record.id
    config = images.config(record)
    run = config["config"]
    assert run["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "APP_HOME=/app",
        "PATH_EXTRA=a b",
    ]
    assert run["Cmd"] == ["cat /greeting"]
    assert run["Entrypoint"] == ["/bin/sh", "-c"]
    assert run["WorkingDir"] == "/app"
    assert run["User"] == "app"
    assert run["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert run["Labels"] == {"org.example.name": "demo app", "version": "1"}
    assert run["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -f /greeting"],
        "Interval": 5_000_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 3,
    }
    assert run["StopSignal"] == "SIGINT"
    assert run["Volumes"] == {"/data": {}}
    assert run["Shell"] == ["/bin/sh", "-ec"]
    assert not run.get("OnBuild")
    # one layer per COPY/ADD/RUN, and WORKDIR's mkdir of /app
    # (busybox: 1; base: workdir + 5 copies + 5 runs + heredoc copy; final: 2)
    assert len(record.layers) == 1 + 12 + 2
    assert len(config["rootfs"]["diff_ids"]) == len(record.layers)
    history = config["history"]
    assert sum(not entry.get("empty_layer") for entry in history) == len(record.layers)
    assert any(entry["created_by"].startswith("ENV APP_HOME=/app") for entry in history)

    files = await image_files(images, "test/app:1")
    assert files["/app/src/main.py"][:3] == (0o640, 1000, 50)
    assert files["/app/src/sub/util.py"][:3] == (0o640, 1000, 50)
    assert files["/data/a.txt"] == (0o644, 0, 0, "a\n")
    assert "/data/ignored.txt" not in files
    assert files["/unpacked/inner/file.txt"] == (0o644, 0, 0, "unpacked\n")
    assert files["/owned/inner/file.txt"][:3] == (0o644, 1000, 50)
    assert files["/remote/remote.txt"] == (0o600, 0, 0, "from the server\n")
    assert files["/etc/motd"][3] == "greeting=hi\n"
    assert files["/greeting"][3] == "hi from /app\n"
    assert "/bin/vi" not in files and "/bin/sh" in files
    assert files["/tmp/uid"][3] == "1000\n"
    assert "10.1.2.3\tdb.local\n" in files["/tmp/hosts"][3]
    assert files["/tmp/heredoc"][3] == "heredoc-run\n"
    assert files["/tmp/shebang"][3] == "script /dev/pipes/PY\n"
    assert not any(name.startswith("/dev/") for name in files)
    assert files["/tmp/shell"][3] == "shell-form\n"
    assert files["/tmp/onbuild"][3] == "triggered\n"
    assert files["/copied/other.txt"][3] == "other\n"
    assert "/etc/hosts" not in files and "/etc/resolv.conf" not in files

    text = progress.text
    assert "Step 1/" in text and " : FROM --platform=$BUILDPLATFORM ${BASE} AS base\n" in text
    assert "# Executing 1 build trigger\n" in text
    assert f"Successfully built {record.id[7:19]}\n" in text
    assert "Successfully tagged test/app:1\n" in text
    assert progress.events[-1].to_message() == {"aux": {"ID": record.id}}
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


async def test_rebuild_reuses_every_layer_and_a_changed_source_invalidates_from_there(
    images, busybox_image, runc, app_context
):
    options = BuildOptions(tags=["test/app"], network="none")
    first = await build(BuildContext(app_context), options, images, runc)

    progress = Recorder()
    started = time.perf_counter()
    second = await build(BuildContext(app_context), options, images, runc, progress)
    elapsed = time.perf_counter() - started
    assert second.id == first.id
    steps = progress.text.split("Step ")[1:]
    assert len(steps) == 29
    assert all("Using cache" in step for step in steps if " : FROM " not in step)
    assert " ---> Running in" not in progress.text
    # bounded, not a benchmark: 29 cached steps must not redo work (seconds, even loaded)
    assert elapsed < 30.0, f"a cached rebuild took {elapsed:.2f}s"

    (app_context / "src/main.py").write_text("print('changed')\n")
    progress = Recorder()
    third = await build(BuildContext(app_context), options, images, runc, progress)
    assert third.id != first.id
    steps = progress.text.split("Step ")[1:]
    cached = [step.splitlines()[0].split(" : ", 1)[1] for step in steps if "Using cache" in step]
    rebuilt = [step.splitlines()[0] for step in steps if "Running in" in step or "COPY" in step]
    # cached: the steps before the changed COPY, and the other stage
    assert cached == [
        "ARG GREETING=hello",
        'ENV APP_HOME=/app PATH_EXTRA="a b"',
        'LABEL org.example.name="demo app" version=1',
        "WORKDIR $APP_HOME",
        "RUN echo other > /other.txt",
    ]
    assert any("COPY --chown=app:staff" in line for line in rebuilt)
    # the busybox layer and the other stage are the same
    assert third.layers[0] == first.layers[0]
    assert images.resolve("test/app").id == third.id

    progress = Recorder()
    await build(
        BuildContext(app_context),
        BuildOptions(tags=["test/app"], network="none", no_cache=True),
        images,
        runc,
        progress,
    )
    assert " ---> Using cache" not in progress.text
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


async def test_a_change_late_in_the_file_keeps_the_earlier_steps(
    images, busybox_image, runc, tmp_path
):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "one").write_text("1")
    (context / "two").write_text("2")
    dockerfile = "FROM test/busybox\nCOPY one /one\nRUN echo a > /a\nCOPY two /two\nRUN cat /two\n"
    await build(
        BuildContext(context),
        BuildOptions(dockerfile_inline=dockerfile, network="none"),
        images,
        runc,
    )
    (context / "two").write_text("changed")
    progress = Recorder()
    await build(
        BuildContext(context),
        BuildOptions(dockerfile_inline=dockerfile, network="none"),
        images,
        runc,
        progress,
    )
    steps = progress.text.split("Step ")[1:]
    assert ["Using cache" in step for step in steps] == [False, True, True, False, False]
    assert "changed" in steps[4]


async def test_target_builds_only_the_stages_it_needs(images, busybox_image, runc, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    dockerfile = (
        "FROM test/busybox AS one\nRUN echo one > /one\n"
        "FROM test/busybox AS never\nRUN exit 1\n"
        "FROM one AS two\nRUN cat /one > /two\n"
    )
    progress = Recorder()
    record = await build(
        BuildContext(context),
        BuildOptions(
            dockerfile_inline=dockerfile,
            target="two",
            tags=["test/two"],
            network="none",
            build_args={"UNUSED": "1", "ZZZ": "2"},
        ),
        images,
        runc,
        progress,
    )
    assert "never" not in progress.text
    assert "[Warning] One or more build-args [UNUSED ZZZ] were not consumed\n" in progress.text
    files = await image_files(images, "test/two")
    assert files["/two"][3] == "one\n"
    assert len(record.layers) == 3


async def test_only_from_keeps_the_base_image_created_time_and_rebuilds_identically(
    images, busybox_image, runc, tmp_path
):
    context = tmp_path / "ctx"
    context.mkdir()
    options = BuildOptions(dockerfile_inline="FROM test/busybox\nENV A=1\n", network="none")
    first = await build(BuildContext(context), options, images, runc)
    second = await build(BuildContext(context), options, images, runc)
    assert first.id == second.id
    only_from = await build(
        BuildContext(context),
        BuildOptions(dockerfile_inline="FROM test/busybox\n", network="none"),
        images,
        runc,
    )
    assert images.config(only_from)["created"] == images.config(busybox_image)["created"]


async def test_builds_run_side_by_side_in_one_store(images, busybox_image, runc, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "shared.txt").write_text("shared\n")
    records = {}

    async def one(name):
        records[name] = await build(
            BuildContext(context),
            BuildOptions(
                dockerfile_inline=f"FROM test/busybox\nCOPY shared.txt /\nRUN echo {name} > /name\n",
                tags=[f"test/{name}"],
                network="none",
            ),
            images,
            runc,
        )

    async with anyio.create_task_group() as group:
        for name in ("left", "right", "middle"):
            group.start_soon(one, name)
    # the same COPY on the same parent: one layer, shared
    assert len({record.layers[1].chain_id for record in records.values()}) == 1
    for name, record in records.items():
        assert images.resolve(f"test/{name}").id == record.id
        files = await image_files(images, f"test/{name}")
        assert files["/name"][3] == f"{name}\n"
    assert leftovers(images, runc) == {"containers": [], "runc": [], "mounts": []}


async def test_proxy_args_reach_run_but_not_the_history_or_the_cache(
    images, busybox_image, runc, tmp_path
):
    dockerfile = 'FROM test/busybox\nRUN echo "[$HTTP_PROXY][$no_proxy]" > /proxy\n'
    first = await build(
        BuildContext(tmp_path),
        BuildOptions(
            dockerfile_inline=dockerfile,
            tags=["test/proxy"],
            network="none",
            build_args={"HTTP_PROXY": "http://127.0.0.1:3128", "no_proxy": "local"},
        ),
        images,
        runc,
    )
    files = await image_files(images, "test/proxy")
    assert files["/proxy"][3] == "[http://127.0.0.1:3128][local]\n"
    assert all("3128" not in entry["created_by"] for entry in images.config(first)["history"])
    progress = Recorder()
    second = await build(
        BuildContext(tmp_path),
        BuildOptions(
            dockerfile_inline=dockerfile,
            network="none",
            build_args={"HTTP_PROXY": "http://127.0.0.1:8080"},
        ),
        images,
        runc,
        progress,
    )
    assert second.id == first.id and "Using cache" in progress.text
    assert "[Warning]" not in progress.text


async def test_run_output_without_newlines_is_passed_on_in_pieces(
    images, busybox_image, runc, tmp_path
):
    progress = Recorder()
    await build(
        BuildContext(tmp_path),
        BuildOptions(
            dockerfile_inline="FROM test/busybox\nRUN head -c 300000 /dev/zero | tr '\\0' x\n",
            network="none",
        ),
        images,
        runc,
        progress,
    )
    pieces = [e.stream for e in progress.events if e.stream.startswith("xxx")]
    assert sum(len(piece) - 1 for piece in pieces) == 300000
    assert max(len(piece) for piece in pieces) <= 64 * 1024 + 1 + 65536


async def test_copy_from_an_additional_context(images, busybox_image, runc, tmp_path):
    main = tmp_path / "main"
    extra = tmp_path / "extra"
    main.mkdir()
    (extra / "assets").mkdir(parents=True)
    (extra / "assets/logo.svg").write_text("<svg/>")
    (extra / "assets/skip.tmp").write_text("ignored")
    (extra / ".dockerignore").write_text("**/*.tmp\n")
    await build(
        BuildContext(main),
        BuildOptions(
            dockerfile_inline="FROM test/busybox\nCOPY --from=extra assets /srv/assets/\n",
            tags=["test/extra"],
            network="none",
            additional_contexts={"extra": extra},
        ),
        images,
        runc,
    )
    files = await image_files(images, "test/extra")
    assert files["/srv/assets/logo.svg"] == (0o644, 0, 0, "<svg/>")
    assert "/srv/assets/skip.tmp" not in files
