"""``pycompose kube apply|delete``: manifests to a Kubernetes cluster.

The kubeconfig is read by the official client library (``kubernetes.config``), so the
file, context, namespace, certificates, tokens and exec plugins are those kubectl
uses; requests go out over httpx with the TLS and credentials it found. Objects are
sent by server-side apply (``PATCH`` with ``application/apply-patch+yaml``, field
manager ``pycompose``), in the order a cluster needs them: the namespace, access,
configuration and storage before Services and workloads. ``apply`` then waits for
the rollouts (Deployments, StatefulSets) and Jobs, with their progress.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
from collections.abc import Iterable
from typing import Any

import httpx

from compose.errors import PlanError

FIELD_MANAGER = "pycompose"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# kind -> (API path prefix, plural, namespaced); the order of this table is the order
# objects are applied in
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Service": ("/api/v1", "services", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "Pod": ("/api/v1", "pods", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
}
_ORDER = {kind: index for index, kind in enumerate(KINDS)}
_ROLLOUTS = ("Deployment", "StatefulSet")
REQUEST_TIMEOUT = 30.0


class ClusterError(PlanError):
    """The cluster refused a request, or could not be reached."""


def ordered(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects in the order a cluster needs them (stable within a kind)."""
    listed = list(objects)
    for document in listed:
        if document.get("kind") not in KINDS:
            raise PlanError(
                f"kube apply does not know the kind {document.get('kind')!r}",
                hint=f"it sends {', '.join(KINDS)}",
            )
    return sorted(listed, key=lambda d: _ORDER[d["kind"]])


def object_path(document: dict[str, Any], namespace: str) -> str:
    prefix, plural, namespaced = KINDS[document["kind"]]
    name = document["metadata"]["name"]
    if namespaced:
        return f"{prefix}/namespaces/{namespace}/{plural}/{name}"
    return f"{prefix}/{plural}/{name}"


class Cluster:
    """One cluster, as the kubeconfig's context names it."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        from kubernetes import client
        from kubernetes import config as kube_config
        from kubernetes.config import ConfigException

        config: Any = kube_config  # the library's functions carry no type hints

        configuration: Any = client.Configuration()
        try:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as error:
            raise ClusterError(
                f"cannot read the kubeconfig: {error}",
                hint="point KUBECONFIG or --kubeconfig at a cluster's config (as for kubectl)",
            ) from None
        chosen: Any = active
        if context:
            chosen = next((c for c in contexts if c["name"] == context), active)
        self.default_namespace = str((chosen.get("context") or {}).get("namespace") or "default")
        headers = {"Accept": "application/json"}
        for setting in configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        verify: ssl.SSLContext | bool = False
        if configuration.verify_ssl:
            verify = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if configuration.cert_file:
                verify.load_cert_chain(configuration.cert_file, configuration.key_file)
        self.http = httpx.Client(
            base_url=configuration.host, headers=headers, verify=verify, timeout=REQUEST_TIMEOUT
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClusterError(f"{method} {path}: {error}") from None

    def apply(self, document: dict[str, Any], namespace: str) -> dict[str, Any]:
        body = json.loads(json.dumps(document))
        if KINDS[document["kind"]][2]:
            body["metadata"]["namespace"] = namespace
        response = self.request(
            "PATCH",
            object_path(document, namespace),
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content=json.dumps(body).encode(),  # JSON is YAML: the apply patch takes either
            headers={"Content-Type": APPLY_CONTENT_TYPE},
        )
        if response.status_code >= 400:
            raise ClusterError(_refusal("apply", document, response))
        result: dict[str, Any] = response.json()
        return result

    def delete(self, document: dict[str, Any], namespace: str) -> bool:
        response = self.request(
            "DELETE",
            object_path(document, namespace),
            params={"propagationPolicy": "Foreground"},
        )
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise ClusterError(_refusal("delete", document, response))
        return True

    def get(self, document: dict[str, Any], namespace: str) -> dict[str, Any] | None:
        response = self.request("GET", object_path(document, namespace))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ClusterError(_refusal("read", document, response))
        result: dict[str, Any] = response.json()
        return result


def _refusal(action: str, document: dict[str, Any], response: httpx.Response) -> str:
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    name = f"{document['kind'].lower()}/{document['metadata']['name']}"
    return f"the cluster refused to {action} {name} ({response.status_code}): {message[:500]}"


def rollout_state(document: dict[str, Any]) -> tuple[bool, str]:
    """Whether a workload is done rolling out (or a Job complete), and how far it is."""
    status = document.get("status") or {}
    if document["kind"] == "Job":
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Complete" and condition.get("status") == "True":
                return True, "complete"
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                raise ClusterError(
                    f"job/{document['metadata']['name']} failed: {condition.get('message', '')}"
                )
        return False, f"{status.get('succeeded', 0)} succeeded"
    wanted = int((document.get("spec") or {}).get("replicas", 1))
    generation = int((document.get("metadata") or {}).get("generation", 0))
    observed = int(status.get("observedGeneration", 0))
    updated = int(status.get("updatedReplicas", 0))
    ready = int(status.get("readyReplicas", 0))
    done = observed >= generation and updated >= wanted and ready >= wanted
    return done, f"{ready}/{wanted} ready"


def apply(documents: list[dict[str, Any]], args: argparse.Namespace) -> int:
    if not documents:
        raise PlanError(
            "no manifests given", hint="pycompose kube generate -o DIR, then apply DIR/*"
        )
    cluster = Cluster(args.kubeconfig, args.context)
    try:
        namespace = args.namespace or cluster.default_namespace
        objects = [dict(d) for d in documents]
        if args.namespace:
            objects.append(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        for document in ordered(objects):
            cluster.apply(document, namespace)
            print(f"{document['kind'].lower()}/{document['metadata']['name']} applied")
        if not args.no_wait:
            _wait(
                cluster,
                [d for d in objects if d["kind"] in (*_ROLLOUTS, "Job")],
                namespace,
                args.timeout,
            )
    finally:
        cluster.close()
    return 0


def _wait(
    cluster: Cluster, workloads: list[dict[str, Any]], namespace: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(workloads)
    shown: dict[str, str] = {}
    while pending:
        for document in list(pending):
            current = cluster.get(document, namespace)
            name = f"{document['kind'].lower()}/{document['metadata']['name']}"
            if current is None:
                raise ClusterError(f"{name} disappeared while waiting for it")
            done, progress = rollout_state(current)
            if shown.get(name) != progress:
                print(f"{name}: {progress}", file=sys.stderr)
                shown[name] = progress
            if done:
                pending.remove(document)
                print(f"{name} rolled out")
        if pending:
            if time.monotonic() > deadline:
                names = ", ".join(f"{d['kind'].lower()}/{d['metadata']['name']}" for d in pending)
                raise ClusterError(f"timed out waiting for {names}", hint="raise --timeout")
            time.sleep(1)


def delete(documents: list[dict[str, Any]], args: argparse.Namespace) -> int:
    if not documents:
        raise PlanError("no manifests given")
    cluster = Cluster(args.kubeconfig, args.context)
    try:
        namespace = args.namespace or cluster.default_namespace
        for document in reversed(ordered(documents)):
            gone = cluster.delete(document, namespace)
            state = "deleted" if gone else "not found"
            print(f"{document['kind'].lower()}/{document['metadata']['name']} {state}")
    finally:
        cluster.close()
    return 0
