"""``kube play``'s translation: Kubernetes manifests as a Compose project (pure), and the
round trip of ``kube generate`` through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.kube.generate import GenerateOptions, generate
from compose.kube.play import PlayError, to_compose
from compose.load_text import load_from_text
from compose.output import yaml_text
from compose.source import parse_documents
from tests.compose.kube_helpers import MemoryFiles
from tests.compose.test_kube_generate import RICH

MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  LEVEL: debug
  app.conf: "listen 80"
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data:
  password: c2VjcmV0
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: store}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, labels: {app.kubernetes.io/part-of: mall}}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      initContainers:
        - name: prepare
          image: busybox
          command: [sh, -c, "echo one"]
        - name: seed
          image: busybox
          args: [echo, two]
      containers:
        - name: main
          image: example/shop:1
          command: [/bin/shop]
          args: [--port, "8080"]
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: PLAIN, value: "x"}
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: creds, key: password}}
          envFrom: [{configMapRef: {name: settings}, prefix: CFG_}]
          readinessProbe:
            exec: {command: [test, -f, /tmp/ready]}
            periodSeconds: 2
            failureThreshold: 5
          resources: {limits: {cpu: 500m, memory: 256Mi}}
          securityContext: {runAsUser: 1000, readOnlyRootFilesystem: true}
          volumeMounts:
            - {name: data, mountPath: /data}
            - {name: conf, mountPath: /etc/shop/app.conf, subPath: app.conf}
            - {name: scratch, mountPath: /scratch}
        - name: sidecar
          image: example/logger:1
      volumes:
        - {name: data, persistentVolumeClaim: {claimName: store}}
        - {name: conf, configMap: {name: settings, items: [{key: app.conf, path: app.conf, mode: 0400}]}}
        - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: storefront}
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports: [{port: 9090, targetPort: http}]
"""


def played(text: str, name: str | None = None):
    return to_compose(parse_documents(text, "bundle.yaml"), name)


def test_a_deployment_becomes_services_that_run_as_its_pod_does() -> None:
    result = played(MANIFESTS)
    assert result.name == "mall"  # app.kubernetes.io/part-of
    services = result.tree["services"]
    shop = services["shop"]
    assert shop["image"] == "example/shop:1"
    assert shop["entrypoint"] == ["/bin/shop"] and shop["command"] == ["--port", "8080"]
    assert shop["scale"] == 2
    assert shop["environment"] == {
        "CFG_LEVEL": "debug",
        "CFG_app.conf": "listen 80",
        "PLAIN": "x",
        "PASSWORD": "secret",
    }
    assert shop["healthcheck"] == {
        "test": ["CMD", "test", "-f", "/tmp/ready"],
        "interval": "2s",
        "timeout": "1s",
        "retries": 5,
    }
    assert shop["deploy"] == {"resources": {"limits": {"cpus": 0.5, "memory": "256m"}}}
    assert shop["user"] == "1000" and shop["read_only"] is True
    assert shop["volumes"] == [
        {"type": "volume", "source": "store", "target": "/data", "read_only": False},
        {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": "64m"}},
    ]
    assert shop["configs"] == [
        {"source": "settings-app-conf", "target": "/etc/shop/app.conf", "mode": 0o400}
    ]
    assert result.tree["configs"]["settings-app-conf"] == {"content": "listen 80"}
    # the second container shares the pod's network namespace
    assert services["shop-sidecar"]["network_mode"] == "service:shop"
    # a LoadBalancer Service: its name as an alias, its port published on loopback
    assert shop["networks"]["default"]["aliases"] == ["storefront"]
    assert shop["ports"] == [
        {"target": 8080, "published": "9090", "host_ip": "127.0.0.1", "protocol": "tcp"}
    ]


def test_init_containers_run_in_order_before_the_main_container() -> None:
    services = played(MANIFESTS).tree["services"]
    assert services["shop-init-prepare"]["restart"] == "no"
    assert services["shop-init-seed"]["depends_on"] == {
        "shop-init-prepare": {"condition": "service_completed_successfully"}
    }
    assert services["shop"]["depends_on"] == {
        "shop-init-seed": {"condition": "service_completed_successfully"}
    }


def test_the_played_project_loads() -> None:
    result = played(MANIFESTS)
    loaded = load_from_text(
        yaml_text(result.tree), environment=result.environment, name=result.name
    )
    assert set(loaded.project.services) == {
        "shop",
        "shop-sidecar",
        "shop-init-prepare",
        "shop-init-seed",
    }


def test_a_generated_bundle_comes_back_as_the_same_stack() -> None:
    environment = {"API_TOKEN": "s3cret"}
    original = load_from_text(RICH, environment=environment, name="demo", working_dir=Path("/p"))
    objects = generate(
        original, GenerateOptions(service_type="LoadBalancer"), MemoryFiles()
    ).objects
    result = to_compose(
        [__import__("json").loads(__import__("json").dumps(o)) for o in objects], None
    )
    assert result.name == "demo"
    loaded = load_from_text(
        yaml_text(result.tree), environment=result.environment, name=result.name
    )
    project = loaded.project
    assert set(project.services) == {"web-front", "api", "migrate", "cache"}
    web = project.services["web-front"]
    # depends_on comes back from the annotation, not as waiting containers
    assert {n: d.condition for n, d in web.depends_on.items()} == {
        "api": "service_healthy",
        "migrate": "service_completed_successfully",
        "cache": "service_started",
    }
    assert project.services["migrate"].restart == "no"
    # the networks come back from their policies, with their members
    assert set(web.networks) == {"front", "back"}
    assert set(project.services["cache"].networks) == {"back"}
    assert "www" in (web.networks["front"].aliases or [])
    assert sorted(p.target for p in web.ports or []) == [80, 443, 9000]
    mounts = {c.target: c for c in web.configs or []}
    assert mounts["/etc/nginx/conf.d/site.conf"].mode == 0o440
    secrets = {s.target: s for s in web.secrets or []}
    assert "/run/secrets/token" in secrets
    assert (
        loaded.environment[
            project.secrets[secrets["/run/secrets/token"].source or ""].environment or ""
        ]
        == "s3cret"
    )


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        (
            "kind: CronJob\nmetadata: {name: x}\n",
            "kube play cannot run a 'CronJob'",
            "bundle.yaml:1:7",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: i\n      readinessProbe:\n        httpGet: {path: /, port: 80}\n",
            "exec probes only",
            "bundle.yaml:8:9",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: i\n      env:\n        - name: N\n          valueFrom: {fieldRef: {fieldPath: metadata.name}}\n",
            "ConfigMaps and Secrets only",
            "bundle.yaml:9:22",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: i\n      volumeMounts: [{name: nope, mountPath: /x}]\n",
            "the volume nope is not declared",
            "bundle.yaml:7:22",
        ),
        ("kind: Pod\nspec: {}\n", "needs metadata.name", None),
        ("kind: Secret\nmetadata: {name: s}\ndata: {k: '%%%'}\n", "not base64", "bundle.yaml:3:11"),
    ],
)
def test_what_cannot_run_is_an_error_with_its_place(
    text: str, message: str, where: str | None
) -> None:
    with pytest.raises(PlayError) as caught:
        played(text)
    rendered = caught.value.render()
    assert message in rendered
    if where:
        assert rendered.startswith(where), rendered


def test_service_accounts_and_foreign_policies_are_skipped_with_a_warning() -> None:
    text = (
        MANIFESTS
        + "---\nkind: ServiceAccount\nmetadata: {name: robot}\n---\nkind: NetworkPolicy\nmetadata: {name: deny-all}\nspec: {podSelector: {}}\n"
    )
    result = played(text)
    assert "ServiceAccount robot: nothing to run on one machine, skipped" in result.warnings
    assert "NetworkPolicy deny-all: not enforced by kube play" in result.warnings
