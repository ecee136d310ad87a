"""Differential tests: the same Dockerfile and context built by ``docker build`` (classic
builder, DOCKER_BUILDKIT=0) and by engine.build; the configs and file systems must agree.

Runs where a Docker engine answers (DOCKER_HOST or the default socket). The busybox root
goes into Docker with ``docker import`` and into our store with FROM scratch + COPY. The
Dockerfile sticks to what the classic builder knows (no heredocs, no --chmod).

Compared: the config fields Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels,
Healthcheck, StopSignal, Volumes, Shell, OnBuild; and the file system (``docker export``
of a container against our image mounted): every path with its type, mode, owner, content
digest or link target. Not compared: timestamps, and what Docker adds to every container
(``/.dockerenv``, ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``, ``/etc/mtab``,
``/dev``, ``/proc``, ``/sys`` contents). Docker here is the classic builder: a WORKDIR makes
its directory, COPY --chown owns the directories it makes, ADD keeps a tar's owners.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from engine.build import BuildContext, BuildOptions, build
from tests.oracle import DOCKER_HOST, docker_answers

from .conftest import make_busybox_root, needs_root
from .test_builder import http_server

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKERFILE = f"""\
FROM BASE AS build
ENV PATH={PATH}
RUN echo built > /artifact && mkdir -p /out/deep && cp /artifact /out/deep/

FROM BASE
ENV PATH={PATH} APP=/srv/app
ARG VERSION=1.0
LABEL version=$VERSION maintainer="someone else"
WORKDIR /srv/app
COPY --chown=1000:1000 src/ ./src/
COPY single.txt .
COPY *.cfg /etc/app/
ADD bundle.tar.gz /opt/
COPY --from=build /out /from-build
RUN echo "v=$VERSION" > version.txt && rm -f /bin/vi && rm -rf /home && chmod 700 src && \\
    mkdir /data && touch /data/keep && ln -s /srv/app/version.txt /version
USER 1000:1000
RUN id > /tmp/id
EXPOSE 80 53/udp
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --retries=2 CMD test -e /srv/app/version.txt
STOPSIGNAL SIGQUIT
SHELL ["/bin/sh", "-eu", "-c"]
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hello
"""
CONFIG_FIELDS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "Volumes",
    "Shell",
    "OnBuild",
)
__all__ = ["http_server"]

DOCKER_ADDS = {"/.dockerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab"}


@pytest.fixture(autouse=True)
def _docker_cli_reaches_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", DOCKER_HOST)


pytestmark = [
    pytest.mark.oracle,
    pytest.mark.root,
    pytest.mark.anyio,
    needs_root,
    pytest.mark.skipif(not docker_answers(), reason=f"no Docker engine answers at {DOCKER_HOST}"),
]


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker", *args],
        check=False,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        timeout=300,
        **kwargs,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise AssertionError(f"docker {args[0]} failed:\n{output}")
    return result


def _normal(path: str) -> str:
    return "/" + path.strip("/").removeprefix("./") if path.strip("./") else "/"


def _skipped(path: str) -> bool:
    return path in DOCKER_ADDS or path.startswith(("/dev/", "/proc/", "/sys/"))


def tree_of_tar(path: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    with tarfile.open(path) as tar:
        members = {_normal(member.name): member for member in tar.getmembers()}
        for name, member in members.items():
            if name == "/" or _skipped(name):
                continue
            if member.islnk():
                target = members[_normal(member.linkname)]
                file = tar.extractfile(target)
                digest = hashlib.sha256(file.read() if file else b"").hexdigest()
                out[name] = ("file", target.mode & 0o7777, target.uid, target.gid, digest)
            elif member.isreg():
                file = tar.extractfile(member)
                digest = hashlib.sha256(file.read() if file else b"").hexdigest()
                out[name] = ("file", member.mode & 0o7777, member.uid, member.gid, digest)
            elif member.issym():
                out[name] = ("link", 0, member.uid, member.gid, member.linkname)
            elif member.isdir():
                out[name] = ("dir", member.mode & 0o7777, member.uid, member.gid, "")
            else:
                out[name] = ("other", member.mode & 0o7777, member.uid, member.gid, "")
    return out


def tree_of_dir(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for directory, dirs, files in os.walk(root):
        for entry in dirs + files:
            full = os.path.join(directory, entry)
            name = "/" + os.path.relpath(full, root)
            if _skipped(name):
                continue
            info = os.lstat(full)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                out[name] = ("link", 0, info.st_uid, info.st_gid, os.readlink(full))
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(Path(full).read_bytes()).hexdigest()
                out[name] = ("file", mode, info.st_uid, info.st_gid, digest)
            elif stat.S_ISDIR(info.st_mode):
                out[name] = ("dir", mode, info.st_uid, info.st_gid, "")
            else:
                out[name] = ("other", mode, info.st_uid, info.st_gid, "")
    return out


@pytest.fixture
def oracle_context(tmp_path):
    root = tmp_path / "context"
    (root / "src/pkg").mkdir(parents=True)
    (root / "src/main.py").write_text("print('main')\n")
    (root / "src/pkg/mod.py").write_text("VALUE = 1\n")
    (root / "src/run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "src/run.sh").chmod(0o755)
    (root / "single.txt").write_text("single\n")
    (root / "a.cfg").write_text("a=1\n")
    (root / "b.cfg").write_text("b=2\n")
    with tarfile.open(root / "bundle.tar.gz", "w:gz") as tar:
        for name, content in (("bundle/readme", b"inside\n"), ("bundle/bin/tool", b"#!/bin/sh\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755 if "bin" in name else 0o644
            info.uid, info.gid = 123, 456
            tar.addfile(info, io.BytesIO(content))
    return root


async def compare_with_docker(
    images, runc, tmp_path, dockerfile: str, context: Path, build_args=None
) -> None:
    """Build ``dockerfile`` (``BASE`` stands for the busybox image) in ``context`` on both
    engines; assert the configs and the file systems agree."""
    suffix = uuid.uuid4().hex[:8]
    base_tag = f"pycompose-build-oracle-base:{suffix}"
    app_tag = f"pycompose-build-oracle-app:{suffix}"
    container = f"pycompose-build-oracle-{suffix}"
    rootfs = make_busybox_root(tmp_path / "base" / "rootfs")
    try:
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-cf", "-", "."], stdout=subprocess.PIPE)
        docker("import", "-", base_tag, stdin=tar.stdout)
        tar.wait()
        (context / "Dockerfile").write_text(dockerfile.replace("BASE", base_tag))
        arg_flags = [f"--build-arg={k}={v}" for k, v in (build_args or {}).items()]
        docker("build", "--network", "none", "-q", *arg_flags, "-t", app_tag, str(context))
        expected_config = json.loads(docker("image", "inspect", app_tag).stdout)[0]["Config"]
        docker("create", "--name", container, app_tag, "true")
        export = tmp_path / "export.tar"
        docker("export", "-o", str(export), container)
        expected_tree = tree_of_tar(export)

        await build(
            BuildContext(rootfs.parent),
            BuildOptions(dockerfile_inline="FROM scratch\nCOPY rootfs/ /\n", tags=["oracle/base"]),
            images,
            runc,
        )
        (context / "Dockerfile").write_text(dockerfile.replace("BASE", "oracle/base"))
        record = await build(
            BuildContext(context),
            BuildOptions(tags=["oracle/app"], network="none", build_args=build_args or {}),
            images,
            runc,
        )
        config = images.config(record)["config"]
        for field in CONFIG_FIELDS:
            assert (config.get(field) or None) == (expected_config.get(field) or None), field
        path = await images.mount("oracle/app")
        try:
            seen_tree = tree_of_dir(path)
        finally:
            await images.umount("oracle/app")
        missing = sorted(set(expected_tree) - set(seen_tree))
        extra = sorted(set(seen_tree) - set(expected_tree))
        different = sorted(
            (name, expected_tree[name], seen_tree[name])
            for name in set(expected_tree) & set(seen_tree)
            if expected_tree[name] != seen_tree[name]
        )
        assert (missing, extra, different) == ([], [], [])
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", app_tag, base_tag], capture_output=True, check=False)


async def test_same_config_and_file_system_as_docker_build(images, runc, oracle_context, tmp_path):
    await compare_with_docker(images, runc, tmp_path, DOCKERFILE, oracle_context)


# (Dockerfile, context files) pairs, each on one point of the classic builder's semantics
CASES = {
    "arg-scopes-and-env-precedence": (
        f"""\
ARG V=global
ARG ONLY_GLOBAL=g
FROM BASE
ENV PATH={PATH}
RUN echo "[$V][$ONLY_GLOBAL]" > /v1
ARG V
RUN echo "[$V]" > /v2
ARG V=local
RUN echo "[$V]" > /v3
ENV V=from-env
ARG V=ignored
RUN echo "[$V]" > /v4
ENV A=1 B=$A
ENV A=2 C=$A
ENV PATH=/opt/bin:$PATH
ENV LEGACY some words  here
LABEL "quoted key"="a value" plain=x multi="a \\
b"
""",
        {},
    ),
    "copy-semantics": (
        f"""\
FROM BASE
ENV PATH={PATH}
WORKDIR rel
WORKDIR deeper
COPY file.txt renamed.txt
COPY file.txt other.txt /multi/
COPY dir /into-existing/
COPY dir/ /etc/
COPY link.txt /links/
COPY . /whole/
COPY ["file.txt", "/json form/"]
""",
        {
            "file.txt": "file\n",
            "other.txt": "other\n",
            "dir/a": "a\n",
            "dir/nested/b": "b\n",
            "link.txt": ("link", "file.txt"),
            "keep/me.log": "kept by an exception\n",
            "drop/me.log": "dropped\n",
            "drop/keep.txt": "kept\n",
            ".dockerignore": "**/*.log\n!keep/*.log\ndrop/*\n!drop/keep.txt\nDockerfile\n",
        },
    ),
    "whiteouts-and-opaque-directories": (
        f"""\
FROM BASE
ENV PATH={PATH}
RUN mkdir -p /data/sub && echo old > /data/sub/old && echo keep > /data/keep
RUN rm -rf /data/sub && rm /data/keep && echo new > /data/new
RUN rm -rf /home && mkdir /home && echo only > /home/only
RUN rm /bin/vi && ln -s /bin/busybox /bin/vi2 && mv /bin/ls /bin/ls2
RUN chmod 4755 /bin/busybox && chown 5:6 /etc/group && touch /tmp/empty
""",
        {},
    ),
    "more-copy-add-and-build-args": (
        f"""\
ARG UNUSED_GLOBAL=unused
FROM BASE AS zero
ENV PATH={PATH}
RUN mkdir -p /made/sub && echo z > /made/sub/z && chown -R 1000:1000 /made
FROM BASE
ENV PATH={PATH} EMPTY=
ARG GIVEN=default
ARG DEFAULTED=kept
LABEL given=$GIVEN defaulted=$DEFAULTED empty=
USER app
WORKDIR /home/app/work
COPY --chown=app:app single.txt ./
COPY dir /newdir
COPY single.txt /not/yet/there
COPY --from=0 /made /from-zero/
ADD plain.tar /plain/
ADD fake.tar.gz /fake/
RUN echo "$GIVEN" > /tmp/given.txt
EXPOSE 8080/UDP
""",
        {
            "single.txt": "single\n",
            "dir/a": "a\n",
            "dir/b/c": "c\n",
            "fake.tar.gz": "not an archive\n",
            "plain.tar": None,
        },
        {"GIVEN": "from the command line"},
    ),
    "edge-paths-and-modes": (
        f"""\
FROM BASE
ENV PATH={PATH}
RUN mkdir -p /usr && ln -s ../bin /usr/bin2 && mkdir -p /srv/existing && chown 7:8 /srv/existing
COPY tool.sh /usr/bin2/
COPY --chown=1000:1000 private.key /srv/existing/
WORKDIR /srv/existing
RUN mkdir -p /x/dir /x/empty && echo f > /x/file && echo h > /x/a && ln /x/a /x/hardlink && \\
    chmod 1777 /x/dir && chmod 2755 /x/empty && mkfifo /x/fifo
RUN rm -rf /x/dir && echo now-a-file > /x/dir && rm /x/file && mkdir /x/file && \\
    echo inside > /x/file/inside
USER app:staff
RUN echo mine > /tmp/mine && mkdir /tmp/mydir
USER root
ADD bundle.tar.xz /xz/
""",
        {
            "tool.sh": "#!/bin/sh\n",
            "private.key": "secret\n",
            "bundle.tar.xz": None,
        },
    ),
    "entrypoint-cmd-shell-user": (
        """\
FROM BASE AS with-cmd
CMD ["from", "base"]
FROM with-cmd AS reset
ENTRYPOINT ["echo"]
FROM reset
SHELL ["/bin/sh", "-xc"]
CMD echo in shell form
USER app
RUN id > /tmp/whoami
USER 0
EXPOSE 7000-7002/tcp 9/udp
VOLUME /v1 /v2
HEALTHCHECK NONE
STOPSIGNAL 9
""",
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_same_result_as_docker_build(images, runc, tmp_path, case):
    dockerfile, files, *rest = CASES[case]
    context = tmp_path / "context"
    context.mkdir()
    modes = {"tool.sh": 0o755, "private.key": 0o600}
    for name, content in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            path.symlink_to(content[1])
        elif content is None:  # a small tar (compressed by its name) with owners and a dir
            mode = "w:xz" if name.endswith(".xz") else "w"
            with tarfile.open(path, mode) as tar:
                folder = tarfile.TarInfo("pkg")
                folder.type, folder.mode, folder.uid = tarfile.DIRTYPE, 0o750, 42
                tar.addfile(folder)
                info = tarfile.TarInfo("pkg/data")
                info.size, info.mode, info.uid, info.gid = 4, 0o600, 42, 43
                tar.addfile(info, io.BytesIO(b"data"))
        else:
            path.write_text(content)
        if name in modes:
            path.chmod(modes[name])
    await compare_with_docker(images, runc, tmp_path, dockerfile, context, *rest)


async def test_add_from_a_url_as_docker_build(images, runc, tmp_path, http_server):
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = (
        f"FROM BASE\nENV PATH={PATH}\n"
        "ADD http://127.0.0.1:PORT/remote.txt /downloads/\n"
        "ADD http://127.0.0.1:PORT/remote.txt /renamed.txt\n"
        "ADD http://127.0.0.1:PORT/remote.txt?query=1 /q/\n"
    ).replace("PORT", str(http_server))
    await compare_with_docker(images, runc, tmp_path, dockerfile, context)
