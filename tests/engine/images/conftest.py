"""Fixtures: the real CNCF distribution registry on 127.0.0.1 (anonymous, htpasswd,
token auth with a token service), test images pushed with skopeo, an ImageService."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import imagekit as kit

HERE = Path(__file__).parent
REGISTRY_BINARY = "/usr/bin/docker-registry"
needs_tools = pytest.mark.skipif(
    not (os.path.exists(REGISTRY_BINARY) and shutil.which("skopeo") and shutil.which("umoci")),
    reason="docker-registry, skopeo and umoci are needed (scripts/install.sh)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Registry:
    host: str  # 127.0.0.1:port
    creds: str | None = None  # user:password for skopeo

    def push_layout(
        self, layout: Path, tag: str, repo: str, *, all_images=False, docker_format=False
    ) -> None:
        kit.skopeo_push(
            layout,
            tag,
            f"{self.host}/{repo}",
            creds=self.creds,
            all_images=all_images,
            docker_format=docker_format,
        )


def start_registry(tmp: Path, auth_yaml: str = "") -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n" + auth_yaml
    )
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", process)
    except BaseException:
        stop(process)
        raise
    return process, f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    process, host = start_registry(tmp)
    yield Registry(host)
    stop(process)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-basic")
    htpasswd = tmp / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "alice", "s3cret"], check=True, capture_output=True
    )
    process, host = start_registry(
        tmp, f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    )
    yield Registry(host, "alice:s3cret")
    stop(process)


def make_cert(tmp: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token issuer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "key.pem", tmp / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-token")
    key_path, cert_path = make_cert(tmp)
    port_file = tmp / "token-port"
    token = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "tokenserver.py"),
            str(key_path),
            str(cert_path),
            "test-issuer",
            "test-registry",
            "bob:t0ken",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or token.poll() is not None:
                raise RuntimeError("the token service did not start")
            time.sleep(0.05)
        realm = f"http://127.0.0.1:{port_file.read_text()}/token"
        process, host = start_registry(
            tmp,
            "auth:\n  token:\n"
            f"    realm: {realm}\n    service: test-registry\n    issuer: test-issuer\n"
            f"    rootcertbundle: {cert_path}\n",
        )
    except BaseException:
        stop(token)
        raise
    yield Registry(host, "bob:t0ken")
    stop(process)
    stop(token)


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory):
    """An OCI layout with the test images: 'base' (busybox), 'layered' (whiteouts,
    opaque dirs, links, devices, owners, modes), 'multi' (an amd64 + arm64 index)."""
    path = tmp_path_factory.mktemp("layout") / "oci"
    layout = kit.Layout(path)
    base = kit.busybox_entries()
    layout.tag(layout.image([base]), "base")
    layout.tag(layout.image(LAYERED, compression="gzip"), "layered")
    layout.tag(layout.image(LAYERED[:2], compression="zstd"), "zstd")
    layout.tag(layout.image(LAYERED[:2], compression="none"), "two")
    amd = layout.image([base, [kit.f("arch", b"amd64\n")]], arch="amd64")
    arm = layout.image([base, [kit.f("arch", b"arm64\n")]], arch="arm64")
    layout.tag(layout.index([amd, arm]), "multi")
    return path


LAYERED = [
    kit.busybox_entries(),
    [
        kit.d("data"),
        kit.f("data/keep", b"keep\n"),
        kit.f("data/gone", b"gone\n"),
        kit.d("data/sub"),
        kit.f("data/sub/old", b"old\n"),
        kit.d("opaque"),
        kit.f("opaque/hidden", b"hidden\n"),
        kit.d("opaque/deep"),
        kit.f("opaque/deep/x", b"x\n"),
        kit.d("replaced"),
        kit.f("replaced/y", b"y\n"),
    ],
    [
        kit.d("data"),
        kit.whiteout("data/gone"),
        kit.whiteout("data/sub"),
        kit.d("opaque", mode=0o750, uid=1000, gid=1000),
        kit.opaque("opaque"),
        kit.f("opaque/new", b"new\n"),
        kit.whiteout("replaced"),
        kit.f("replaced", b"now a file\n", mode=0o600),
        kit.d("special"),
        kit.f("special/setuid", b"#!/bin/sh\n", mode=0o4755),
        kit.f("special/owned", b"owned\n", mode=0o640, uid=1234, gid=5678),
        kit.d("special/sticky", mode=0o1777),
        kit.hard("special/hardlink", "special/owned"),
        kit.sym("special/abs-link", "/etc/passwd"),
        kit.sym("special/dotdot-link", "../../../../etc/passwd"),
        kit.fifo("special/fifo"),
        kit.chardev("special/null", 1, 3),
        kit.f("special/xattr", b"x", xattrs={"user.test": "hello"}),
        kit.f("special/empty", b"", mode=0o000),
    ],
]


@pytest.fixture(scope="session")
def pushed(registry, busybox_layout):
    """The test images in the anonymous registry: repo 'test/<tag>:latest'."""
    for tag in ("base", "layered", "zstd"):
        registry.push_layout(busybox_layout, tag, f"test/{tag}:latest")
    registry.push_layout(busybox_layout, "multi", "test/multi:latest", all_images=True)
    # Docker v2 schema 2: a manifest list and a manifest
    registry.push_layout(busybox_layout, "layered", "test/docker:latest", docker_format=True)
    registry.push_layout(
        busybox_layout, "multi", "test/docker-multi:latest", all_images=True, docker_format=True
    )
    # Docker v2 schema 2: a manifest list and a manifest
    registry.push_layout(busybox_layout, "layered", "test/docker:latest", docker_format=True)
    registry.push_layout(
        busybox_layout, "multi", "test/docker-multi:latest", all_images=True, docker_format=True
    )
    return registry


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    yield root
    # unmount anything a failing test left mounted below the root
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts if str(root) in line.split()[4]]
    for point in reversed(points):
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def anyio_backend():
    return "asyncio"
