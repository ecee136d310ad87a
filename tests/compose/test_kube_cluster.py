"""``kube apply`` and ``kube delete`` against a fake Kubernetes API on loopback that checks
what a real API server would: server-side apply requests (content type, field manager,
force), credentials from the kubeconfig, namespaces in paths, and the order of objects."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from compose.cli import main
from compose.kube.cluster import APPLY_CONTENT_TYPE, FIELD_MANAGER

STACK = """
name: shop
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: example/migrate:1
    restart: "no"
    configs: [settings]
    volumes: [data:/data]
volumes:
  data: {}
configs:
  settings:
    content: "level=debug"
"""


class FakeKubernetes:
    """A Kubernetes API in a dict: what it was sent, and what it answers."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.reads: dict[str, int] = {}
        self.token = "test-token"


def _handler(fake: FakeKubernetes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fake.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": query,
                    "content_type": self.headers.get("Content-Type"),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self.reply(401, {"kind": "Status", "message": "Unauthorized"})
                return
            if method == "PATCH":
                document = json.loads(body)
                if document["metadata"]["name"] == "refuse-me":
                    self.reply(422, {"kind": "Status", "message": 'Service "refuse-me" is invalid'})
                    return
                document["metadata"]["generation"] = 1
                fake.objects[url.path] = document
                self.reply(200, document)
            elif method == "GET":
                found = fake.objects.get(url.path)
                if found is None:
                    self.reply(404, {"kind": "Status", "message": "not found"})
                    return
                reads = fake.reads[url.path] = fake.reads.get(url.path, 0) + 1
                answer = json.loads(json.dumps(found))
                if reads >= 2:  # the rollout finishes on the second look
                    replicas = answer["spec"].get("replicas", 1)
                    answer["status"] = (
                        {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}
                        if answer["kind"] == "Job"
                        else {
                            "observedGeneration": 1,
                            "replicas": replicas,
                            "updatedReplicas": replicas,
                            "readyReplicas": replicas,
                        }
                    )
                self.reply(200, answer)
            elif method == "DELETE":
                if fake.objects.pop(url.path, None) is None:
                    self.reply(404, {"kind": "Status", "message": "not found"})
                else:
                    self.reply(200, {"kind": "Status", "status": "Success"})

        def do_PATCH(self) -> None:
            self.handle_any("PATCH")

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_DELETE(self) -> None:
            self.handle_any("DELETE")

    return Handler


@pytest.fixture
def fake_cluster(tmp_path: Path) -> Iterator[tuple[FakeKubernetes, Path]]:
    fake = FakeKubernetes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}
users:
  - name: tester
    user: {{token: {fake.token}}}
contexts:
  - name: fake
    context: {{cluster: fake, user: tester, namespace: team}}
  - name: elsewhere
    context: {{cluster: fake, user: tester}}
current-context: fake
"""
    )
    try:
        yield fake, kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_in(directory: Path, *argv: str) -> int:
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        return main(list(argv))
    finally:
        os.chdir(cwd)


def test_apply_sends_server_side_apply_in_order_and_waits(
    fake_cluster: tuple[FakeKubernetes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, kubeconfig = fake_cluster
    (tmp_path / "compose.yaml").write_text(STACK)
    assert run_in(tmp_path, "kube", "apply", "-n", "demo", "--kubeconfig", str(kubeconfig)) == 0
    patches = [r for r in fake.requests if r["method"] == "PATCH"]
    assert all(r["content_type"] == APPLY_CONTENT_TYPE for r in patches)
    assert all(r["query"] == {"fieldManager": [FIELD_MANAGER], "force": ["true"]} for r in patches)
    paths = [r["path"] for r in patches]
    assert paths[0] == "/api/v1/namespaces/demo"  # the namespace before what lives in it
    kinds = [p.split("/")[-2] for p in paths]
    assert kinds == [
        "namespaces",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "configmaps",
        "persistentvolumeclaims",
        "services",
        "services",
        "networkpolicies",
        "networkpolicies",
        "deployments",
        "jobs",
    ]
    assert all("/namespaces/demo/" in p for p in paths[1:])
    assert "/apis/apps/v1/namespaces/demo/deployments/web" in paths
    stored = fake.objects["/apis/apps/v1/namespaces/demo/deployments/web"]
    assert stored["metadata"]["namespace"] == "demo"
    out = capsys.readouterr()
    assert "deployment/web rolled out" in out.out
    assert "deployment/web: 0/1 ready" in out.err and "deployment/web: 1/1 ready" in out.err


def test_the_context_names_the_namespace_and_credentials_are_sent(
    fake_cluster: tuple[FakeKubernetes, Path], tmp_path: Path
) -> None:
    fake, kubeconfig = fake_cluster
    (tmp_path / "compose.yaml").write_text(STACK)
    assert run_in(tmp_path, "kube", "apply", "--no-wait", "--kubeconfig", str(kubeconfig)) == 0
    assert all(r["authorization"] == "Bearer test-token" for r in fake.requests)
    assert "/api/v1/namespaces/team/configmaps/settings" in fake.objects  # the context's namespace
    fake.requests.clear()
    assert (
        run_in(
            tmp_path,
            "kube",
            "apply",
            "--no-wait",
            "--context",
            "elsewhere",
            "--kubeconfig",
            str(kubeconfig),
        )
        == 0
    )
    assert "/api/v1/namespaces/default/configmaps/settings" in fake.objects


def test_delete_goes_in_reverse_order_and_tolerates_what_is_gone(
    fake_cluster: tuple[FakeKubernetes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, kubeconfig = fake_cluster
    (tmp_path / "compose.yaml").write_text(STACK)
    assert run_in(tmp_path, "kube", "apply", "--no-wait", "--kubeconfig", str(kubeconfig)) == 0
    del fake.objects["/api/v1/namespaces/team/configmaps/settings"]
    fake.requests.clear()
    assert run_in(tmp_path, "kube", "delete", "--kubeconfig", str(kubeconfig)) == 0
    deletes = [r["path"].split("/")[-2] for r in fake.requests if r["method"] == "DELETE"]
    assert deletes.index("deployments") < deletes.index("services") < deletes.index("configmaps")
    assert fake.objects == {}
    assert "configmap/settings not found" in capsys.readouterr().out


def test_a_refusal_is_reported_with_the_servers_message(
    fake_cluster: tuple[FakeKubernetes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = fake_cluster
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: refuse-me}\nspec: {ports: [{port: 80}]}\n"
    )
    assert run_in(tmp_path, "kube", "apply", str(manifest), "--kubeconfig", str(kubeconfig)) == 1
    err = capsys.readouterr().err
    assert (
        'the cluster refused to apply service/refuse-me (422): Service "refuse-me" is invalid'
        in err
    )


def test_no_cluster_and_no_kubeconfig_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(STACK)
    assert run_in(tmp_path, "kube", "apply", "--kubeconfig", str(tmp_path / "missing")) == 1
    assert "cannot read the kubeconfig" in capsys.readouterr().err
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    assert run_in(tmp_path, "kube", "apply", "--kubeconfig", str(unreachable)) == 1
    assert "PATCH /api/v1/namespaces/default/" in capsys.readouterr().err
