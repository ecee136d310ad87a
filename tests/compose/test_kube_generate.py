"""``kube generate``: Compose projects as Kubernetes objects that a 1.33 API server
accepts (strict schema plus its own rules), with an explanation per key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from compose.errors import PlanError
from compose.kube import rules
from compose.kube.checks import api_server_problems
from compose.kube.generate import DEPENDS_ON_ANNOTATION, NAME_LABEL, PART_OF_LABEL
from compose.load_text import load_from_text
from compose.model import Config, Network, Secret, Service, Volume
from tests.compose.kube_helpers import MemoryFiles, assert_valid, bundle_of, find, schema_errors

ROOT = Path(__file__).resolve().parents[2]

RICH = """
services:
  web_front:
    image: nginx:1.27
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: ["/docker-entrypoint.sh"]
    ports:
      - "8080:80"
      - target: 443
        published: "8443"
        protocol: tcp
        app_protocol: https
    expose: ["9000"]
    environment:
      MODE: production
      UNSET:
    user: "101:101"
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    read_only: true
    security_opt: ["no-new-privileges:true"]
    sysctls: {net.core.somaxconn: "1024"}
    extra_hosts: ["db.local=10.0.0.5", "cache.local:10.0.0.6"]
    dns: [1.1.1.1]
    dns_search: [example.org]
    dns_opt: ["ndots:2", "edns0"]
    working_dir: /srv
    stop_grace_period: 1m30s
    tmpfs: ["/run:size=64m"]
    shm_size: 256m
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 512M}
        reservations: {cpus: "0.25", memory: 128M}
      update_config: {order: start-first, parallelism: 2, monitor: 10s}
    networks:
      front:
        aliases: [www]
      back: {}
    configs:
      - source: site
        target: /etc/nginx/conf.d/site.conf
        mode: 0440
    secrets:
      - source: token
        gid: "101"
    healthcheck:
      test: ["CMD-SHELL", "curl -fs localhost || exit 1"]
      interval: 500ms
      timeout: 3s
      retries: 4
      start_period: 30s
      start_interval: 2s
    depends_on:
      api: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
      cache: {condition: service_started}
  api:
    image: example/api:2
    volumes: [data:/var/lib/api]
    networks: [back]
    healthcheck:
      test: ["CMD", "true"]
  migrate:
    image: example/api:2
    command: migrate
    restart: "no"
    networks: [back]
  cache:
    image: redis:7
    networks: [back]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
volumes:
  data: {}
networks:
  front: {}
  back: {}
configs:
  site:
    content: "server { listen 80; }"
secrets:
  token:
    environment: API_TOKEN
"""


@pytest.fixture(scope="module")
def rich() -> list[dict]:
    return bundle_of(RICH, environment={"API_TOKEN": "s3cret"}).objects


def test_every_object_passes_the_strict_schema_and_the_api_server_rules(rich: list[dict]) -> None:
    assert_valid(rich)
    kinds = [d["kind"] for d in rich]
    assert kinds.index("ConfigMap") < kinds.index("Service") < kinds.index("Deployment")
    assert kinds.index("PersistentVolumeClaim") < kinds.index("StatefulSet")


def test_the_example_stack_validates_too() -> None:
    example = ROOT / "examples" / "webapp"
    files = MemoryFiles(
        {
            str(example / "web" / "index.html"): (example / "web" / "index.html").read_bytes(),
            str(example / "api" / "cgi-bin" / "health"): b"#!/bin/sh\necho ok\n",
        },
        {str(example / "api" / "cgi-bin" / "health"): 0o755},
    )
    loaded = load_from_text(
        (example / "compose.yaml").read_text(), name="webapp", working_dir=example
    )
    from compose.kube.generate import GenerateOptions, generate

    objects = generate(loaded, GenerateOptions(), files).objects
    assert_valid(objects)
    api = find(objects, "Deployment", "api")
    items = api["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]
    assert items == [{"key": "f0", "path": "cgi-bin/health", "mode": 0o755}]
    db = find(objects, "StatefulSet", "db")  # it owns the named volume `notes`
    assert db["spec"]["serviceName"] == "db"


def test_names_become_dns_labels_and_every_object_is_labelled(rich: list[dict]) -> None:
    deployment = find(rich, "Deployment", "web-front")
    assert deployment["metadata"]["labels"] == {NAME_LABEL: "web-front", PART_OF_LABEL: "demo"}
    template = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template.items()
    assert all(d["metadata"]["labels"][PART_OF_LABEL] == "demo" for d in rich)


def test_the_container_carries_the_service(rich: list[dict]) -> None:
    pod = find(rich, "Deployment", "web-front")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["/docker-entrypoint.sh"]
    assert container["args"] == ["nginx", "-g", "daemon off;"]
    assert container["env"] == [{"name": "MODE", "value": "production"}]
    assert container["workingDir"] == "/srv"
    assert container["resources"] == {
        "limits": {"cpu": "500m", "memory": "512Mi"},
        "requests": {"cpu": "250m", "memory": "128Mi"},
    }
    assert container["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "runAsUser": 101,
        "runAsGroup": 101,
    }
    assert pod["securityContext"]["sysctls"] == [{"name": "net.core.somaxconn", "value": "1024"}]
    assert pod["securityContext"]["fsGroup"] == 101  # the secret's gid
    assert pod["hostAliases"] == [
        {"ip": "10.0.0.5", "hostnames": ["db.local"]},
        {"ip": "10.0.0.6", "hostnames": ["cache.local"]},
    ]
    assert pod["dnsPolicy"] == "None"
    assert pod["dnsConfig"]["options"] == [{"name": "ndots", "value": "2"}, {"name": "edns0"}]
    assert pod["terminationGracePeriodSeconds"] == 90
    deployment = find(rich, "Deployment", "web-front")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": 0}
    assert deployment["spec"]["minReadySeconds"] == 10


def test_the_health_check_becomes_readiness_and_startup_probes(rich: list[dict]) -> None:
    container = find(rich, "Deployment", "web-front")["spec"]["template"]["spec"]["containers"][0]
    command = ["/bin/sh", "-c", "curl -fs localhost || exit 1"]
    assert container["readinessProbe"] == {
        "exec": {"command": command},
        "periodSeconds": 1,  # 500ms, rounded up: the probe counts whole seconds
        "timeoutSeconds": 3,
        "failureThreshold": 4,
    }
    startup = container["startupProbe"]
    assert startup["periodSeconds"] == 2
    assert startup["failureThreshold"] == 15 + 4  # covers start_period, then the retries
    assert "livenessProbe" not in container  # a Compose health check never restarts


def test_depends_on_waits_in_init_containers(rich: list[dict]) -> None:
    pod_template = find(rich, "Deployment", "web-front")["spec"]["template"]
    waits = {c["name"]: c for c in pod_template["spec"]["initContainers"]}
    assert waits["wait-for-api"]["command"][:4] == [
        "kubectl",
        "rollout",
        "status",
        "statefulset/api",
    ]
    assert waits["wait-for-migrate"]["command"][:4] == [
        "kubectl",
        "wait",
        "--for=condition=complete",
        "job/migrate",
    ]
    assert "nslookup cache" in waits["wait-for-cache"]["command"][2]
    assert pod_template["spec"]["serviceAccountName"] == "pycompose-wait"
    assert json.loads(pod_template["metadata"]["annotations"][DEPENDS_ON_ANNOTATION]) == {
        "api": "service_healthy",
        "migrate": "service_completed_successfully",
        "cache": "service_started",
    }
    job = find(rich, "Job", "migrate")  # waited for to complete, and runs once
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    role = find(rich, "Role", "pycompose-wait")
    assert {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["get", "list", "watch"],
    } in role["rules"]


def test_services_publish_ports_and_answer_for_aliases(rich: list[dict]) -> None:
    web = find(rich, "Service", "web-front")
    assert web["spec"]["ports"] == [
        {"name": "tcp-8080", "port": 8080, "targetPort": 80, "protocol": "TCP"},
        {
            "name": "tcp-8443",
            "port": 8443,
            "targetPort": 443,
            "protocol": "TCP",
            "appProtocol": "https",
        },
        {"name": "tcp-9000", "port": 9000, "targetPort": 9000, "protocol": "TCP"},
    ]
    assert "type" not in web["spec"]  # ClusterIP unless asked
    assert find(rich, "Service", "www")["spec"]["selector"] == web["spec"]["selector"]
    assert find(rich, "Service", "api")["spec"]["clusterIP"] == "None"  # DNS only: headless
    exposed = bundle_of(RICH, environment={"API_TOKEN": "x"}, service_type="LoadBalancer").objects
    assert find(exposed, "Service", "web-front")["spec"]["type"] == "LoadBalancer"
    assert "type" not in find(exposed, "Service", "api")["spec"]


def test_networks_become_policies_between_their_members(rich: list[dict]) -> None:
    back = find(rich, "NetworkPolicy", "network-back")
    member = {"network.pycompose.io/back": "true"}
    assert back["spec"]["podSelector"]["matchLabels"] == member
    assert back["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": member}}]}]
    cache = find(rich, "Deployment", "cache")["spec"]["template"]["metadata"]["labels"]
    assert cache.get("network.pycompose.io/back") == "true"
    assert "network.pycompose.io/front" not in cache
    published = find(rich, "NetworkPolicy", "published-web-front")
    assert published["spec"]["ingress"] == [
        {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}
    ]


def test_configs_secrets_and_volumes(rich: list[dict]) -> None:
    assert find(rich, "ConfigMap", "site")["data"] == {"site": "server { listen 80; }"}
    secret = find(rich, "Secret", "token")
    assert base64.b64decode(secret["data"]["token"]) == b"s3cret"
    pod = find(rich, "Deployment", "web-front")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    site = mounts["/etc/nginx/conf.d/site.conf"]
    assert site["subPath"] == "site.conf" and site["readOnly"] is True
    assert volumes[site["name"]]["configMap"]["items"] == [
        {"key": "site", "path": "site.conf", "mode": 0o440}
    ]
    assert volumes[mounts["/run/secrets/token"]["name"]]["secret"]["secretName"] == "token"
    assert volumes[mounts["/run"]["name"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert volumes[mounts["/dev/shm"]["name"]]["emptyDir"] == {
        "medium": "Memory",
        "sizeLimit": "256Mi",
    }
    claim = find(rich, "PersistentVolumeClaim", "data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    cache = find(rich, "Deployment", "cache")["spec"]["template"]["spec"]
    assert "volumes" not in cache  # a writable bind mount has no cluster form


def test_a_missing_secret_variable_is_an_error_naming_it() -> None:
    with pytest.raises(PlanError, match="API_TOKEN is not set"):
        bundle_of(RICH)


def test_explain_gives_every_written_key_a_verdict() -> None:
    bundle = bundle_of(RICH, environment={"API_TOKEN": "x"})
    lines = {e.path: (e.verdict, e.text) for e in bundle.explanations}
    assert lines["services.web_front.image"][0] == "mapped"
    assert lines["services.cache.volumes[0].source"][0] == "dropped"
    assert "named volume" in lines["services.cache.volumes[0].source"][1]
    assert lines["services.web_front.healthcheck.interval"][0] == "approximated"
    assert lines["services.web_front.deploy.update_config.order"][0] == "mapped"
    assert lines["services.migrate.restart"] == (
        "mapped",
        "a Job (another service waits for it to complete)",
    )
    assert lines["services.web_front"][0] == "approximated"  # renamed web-front
    assert all(
        line.verdict in ("mapped", "approximated", "dropped") for line in bundle.explanations
    )


def test_strict_refuses_and_output_writes_one_file_per_object(tmp_path: Path) -> None:
    from compose.cli import main

    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    init: true\n    ulimits:\n      nofile: 1024\n"
    )
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["kube", "generate", "--strict"]) == 1
        assert main(["kube", "generate", "-o", str(tmp_path / "out")]) == 0
    finally:
        os.chdir(cwd)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [
        "0-service-app.yaml",
        "1-networkpolicy-network-default.yaml",
        "2-deployment-app.yaml",
    ]


def test_strict_error_names_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from compose.cli import main

    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    init: true\n"
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = main(["kube", "generate", "--strict"])
    finally:
        os.chdir(cwd)
    assert status == 1
    err = capsys.readouterr().err
    assert (
        "compose.yaml:4:11: services.app.init: dropped on Kubernetes: the kubelet runs no init process"
        in err
    )


def test_every_key_of_the_service_model_has_a_rule() -> None:
    missing = []
    for model, prefix in (
        (Service, "services.*"),
        (Volume, "volumes.*"),
        (Network, "networks.*"),
        (Config, "configs.*"),
        (Secret, "secrets.*"),
    ):
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            path = tuple(f"{prefix}.{name}".replace("*", "x").split("."))
            rule = rules.rule_for(path)
            if rule is None or len(rule.pattern.split(".")) < len(path):
                missing.append(f"{prefix}.{name}")
    assert missing == []


def test_the_documentation_table_is_generated_from_the_rules() -> None:
    doc = (ROOT / "docs" / "kubernetes.md").read_text()
    assert rules.markdown_table() in doc, "docs/kubernetes.md is stale: run scripts/kube-docs.py"


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda d: d["spec"]["selector"]["matchLabels"].update({"extra": "x"}), "does not match"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
                volumeMounts=[{"name": "nope", "mountPath": "/x"}]
            ),
            "names no declared volume",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
                resources={"limits": {"memory": "lots"}}
            ),
            "is not a quantity",
        ),
        (lambda d: d["metadata"].update(name="Web_Front"), "must be a DNS subdomain"),
        (
            lambda d: d["spec"]["template"]["spec"].update(restartPolicy="Never"),
            "restartPolicy must be Always",
        ),
    ],
)
def test_the_api_server_rules_catch_what_the_schema_lets_through(mutate, complaint: str) -> None:
    objects = bundle_of(RICH, environment={"API_TOKEN": "x"}).objects
    deployment = json.loads(json.dumps(find(objects, "Deployment", "web-front")))
    mutate(deployment)
    assert schema_errors(deployment) is None  # the schema alone accepts it
    problems = api_server_problems([deployment])
    assert any(complaint in p for p in problems), problems


def test_the_strict_schema_refuses_unknown_fields() -> None:
    objects = bundle_of(RICH, environment={"API_TOKEN": "x"}).objects
    service = json.loads(json.dumps(find(objects, "Service", "web-front")))
    service["spec"]["bogus"] = True
    assert "bogus" in (schema_errors(service) or "")


def test_selecting_services_brings_their_dependencies() -> None:
    objects = bundle_of(RICH, environment={"API_TOKEN": "x"}, services=["api"]).objects
    assert {
        d["metadata"]["name"] for d in objects if d["kind"] in ("Deployment", "StatefulSet", "Job")
    } == {"api"}
    with pytest.raises(PlanError, match="no such service: nope"):
        bundle_of(RICH, environment={"API_TOKEN": "x"}, services=["nope"])


CORPUS = ROOT / "tests" / "data" / "conformance" / "cases"


class _AnyFiles:
    """Every config or secret file holds a line; no bind-mounted directory is small."""

    def read_bytes(self, path: str) -> bytes:
        return b"content\n"

    def small_tree(self, path: str, max_files: int, max_bytes: int) -> None:
        return None


@pytest.mark.parametrize(
    "case",
    sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith("bad"))
    if CORPUS.exists()
    else [],
)
def test_every_project_of_the_corpus_generates_valid_objects_that_play_back(case: str) -> None:
    from compose.cli import LocalFileSystem
    from compose.errors import PycomposeError
    from compose.kube.generate import GenerateOptions, generate
    from compose.kube.play import PlayError, to_compose
    from compose.load import LoadOptions, load_project
    from compose.output import yaml_text

    directory = CORPUS / case
    environment = {"HOME": "/root", "PATH": "/usr/bin"}
    environ = directory / "environ"
    if environ.exists():
        for line in environ.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                environment[key] = value
    try:
        loaded = load_project(
            LoadOptions(cwd=directory, environment=environment), LocalFileSystem()
        )
    except PycomposeError:
        return  # a case for several files or special arguments: covered by the conformance tests
    try:
        objects = generate(loaded, GenerateOptions(), _AnyFiles()).objects
    except PlanError as error:
        assert "is not set" in str(error)  # a secret from an unset variable: refused, named
        return
    assert_valid(objects)
    try:
        played = to_compose(json.loads(json.dumps(objects)), None)
    except PlayError as error:  # external configs and secrets, or no service at all
        assert "not in these manifests" in error.render() or "no workload" in error.render()
        return
    load_from_text(yaml_text(played.tree), environment=played.environment, name=played.name)


def test_a_volume_size_that_is_no_quantity_is_refused() -> None:
    with pytest.raises(PlanError, match="'lots' is not a Kubernetes quantity"):
        bundle_of(RICH, environment={"API_TOKEN": "x"}, volume_size="lots")
