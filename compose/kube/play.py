"""``pycompose kube play``: Kubernetes manifests as a Compose project (pure).

    to_compose(documents, project_name) -> Played

Each workload (Pod, Deployment, StatefulSet, ReplicaSet, Job) becomes a service named
after it; a pod's second and later containers become services that share its network
namespace (``network_mode: service:``), as the containers of a pod do. A Service gives
its name as a network alias to the workloads it selects and, when it is a NodePort or
LoadBalancer, publishes its ports on the host. Claims become named volumes, ConfigMaps
and Secrets the ``configs``/``secrets`` mounted where the pod mounts them. Init
containers run in order as one-off services the main one waits for; the waiting init
containers that ``kube generate`` writes are replaced by the ``depends_on`` they stand
for (the engine's planner gates on health itself). The NetworkPolicies of ``kube
generate`` (one per Compose network) become networks again; other policies, service
accounts and RBAC objects have nothing to run and are listed as warnings.

What cannot run is an error naming the object and its place in the file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from compose.errors import ComposeError, Issue
from compose.kube.generate import DEPENDS_ON_ANNOTATION, NETWORK_LABEL_PREFIX, PART_OF_LABEL
from compose.kube.names import dns_label
from compose.kube.play_volumes import container_mounts, memory_quantity
from compose.source import location_of

WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "ReplicaSet", "Job")
IGNORED_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
MAX_OBJECTS = 1000


class PlayError(ComposeError):
    """Manifests that ``kube play`` cannot run."""


@dataclasses.dataclass
class Played:
    """The project ``kube play`` runs: a Compose tree, the environment its secrets read
    from, and what was not run."""

    name: str
    tree: dict[str, Any]
    environment: dict[str, str]
    warnings: list[str]


@dataclasses.dataclass
class Workload:
    kind: str
    name: str
    document: Any
    pod: dict[str, Any]
    labels: dict[str, str]
    annotations: dict[str, str]
    replicas: int


def to_compose(documents: Sequence[Any], project_name: str | None) -> Played:
    return Translator(documents).translate(project_name)


class Translator:
    def __init__(self, documents: Sequence[Any]) -> None:
        self.documents = [d for d in documents if d is not None]
        self.issues: list[Issue] = []
        self.warnings: list[str] = []
        self.config_maps: dict[str, dict[str, bytes]] = {}
        self.secrets: dict[str, dict[str, bytes]] = {}
        self.claims: list[str] = []
        self.services: list[Any] = []
        self.policies: list[Any] = []
        self.workloads: list[Workload] = []
        self.tree: dict[str, Any] = {"services": {}}
        self.environment: dict[str, str] = {}

    def fail(self, node: Any, path: tuple[Any, ...], message: str, hint: str | None = None) -> None:
        self.issues.append(Issue(message, location_of(node, path), path, hint))

    # --- sorting the objects ------------------------------------------------------------

    def translate(self, project_name: str | None) -> Played:
        if len(self.documents) > MAX_OBJECTS:
            raise PlayError([Issue(f"more than {MAX_OBJECTS} objects")])
        for document in self.documents:
            self.collect(document)
        if self.issues:
            raise PlayError(self.issues)
        for workload in self.workloads:
            self.workload(workload)
        self.networks()
        for service in self.services:
            self.service(service)
        if self.issues:
            raise PlayError(self.issues)
        if not self.tree["services"]:
            raise PlayError(
                [
                    Issue(
                        "the manifests hold no workload"
                        " (Pod, Deployment, StatefulSet, ReplicaSet or Job)"
                    )
                ]
            )
        name = project_name or self.part_of() or "kube"
        return Played(
            dns_label(name, letter_first=False), self.tree, self.environment, self.warnings
        )

    def part_of(self) -> str | None:
        for document in self.documents:
            labels = (document.get("metadata") or {}).get("labels") or {}
            if isinstance(labels, dict) and labels.get(PART_OF_LABEL):
                return str(labels[PART_OF_LABEL])
        return None

    def collect(self, document: Any) -> None:
        if not isinstance(document, dict):
            self.fail(
                document, (), "a manifest must be a mapping (an object with kind and metadata)"
            )
            return
        kind = document.get("kind")
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if kind == "List":
            for item in document.get("items") or []:
                self.collect(item)
            return
        if not isinstance(name, str) or not name:
            self.fail(document, ("metadata",), f"a {kind or 'manifest'} needs metadata.name")
            return
        if kind == "ConfigMap":
            data = {k: str(v).encode() for k, v in (document.get("data") or {}).items()}
            for key, value in (document.get("binaryData") or {}).items():
                data[key] = self.decode(document, ("binaryData", key), value)
            self.config_maps[name] = data
        elif kind == "Secret":
            data = {}
            for key, value in (document.get("data") or {}).items():
                data[key] = self.decode(document, ("data", key), value)
            for key, value in (document.get("stringData") or {}).items():
                data[key] = str(value).encode()
            self.secrets[name] = data
        elif kind == "PersistentVolumeClaim":
            self.claims.append(name)
        elif kind == "Service":
            self.services.append(document)
        elif kind == "NetworkPolicy":
            self.policies.append(document)
        elif kind in WORKLOAD_KINDS:
            self.collect_workload(kind, name, document)
        elif kind in IGNORED_KINDS:
            self.warnings.append(f"{kind} {name}: nothing to run on one machine, skipped")
        else:
            self.fail(
                document,
                ("kind",),
                f"kube play cannot run a {kind!r}",
                hint="it runs Pods, Deployments, StatefulSets, ReplicaSets, Jobs, Services, "
                "ConfigMaps, Secrets, PersistentVolumeClaims and NetworkPolicies",
            )

    def decode(self, document: Any, path: tuple[Any, ...], value: Any) -> bytes:
        try:
            return base64.b64decode(str(value), validate=True)
        except ValueError:
            self.fail(document, path, "not base64")
            return b""

    def collect_workload(self, kind: str, name: str, document: Any) -> None:
        spec = document.get("spec") or {}
        if kind == "Pod":
            pod, metadata = spec, document.get("metadata") or {}
            replicas = 1
        else:
            template = spec.get("template") or {}
            pod, metadata = template.get("spec") or {}, template.get("metadata") or {}
            replicas = 1 if kind == "Job" else int(spec.get("replicas", 1))
        if not pod.get("containers"):
            self.fail(document, ("spec",), f"{kind} {name} has no containers")
            return
        self.workloads.append(
            Workload(
                kind,
                name,
                document,
                pod,
                {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
                {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
                replicas,
            )
        )

    # --- workloads as services ----------------------------------------------------------

    def workload(self, workload: Workload) -> None:
        pod = workload.pod
        prefix = ("spec",) if workload.kind == "Pod" else ("spec", "template", "spec")
        services: dict[str, Any] = self.tree["services"]
        name = dns_label(workload.name, letter_first=False)
        depends_on: dict[str, Any] = {}
        generated = workload.annotations.get(DEPENDS_ON_ANNOTATION)
        if generated:
            try:
                conditions = json.loads(generated)
            except ValueError:
                conditions = None
            if not isinstance(conditions, dict):
                self.fail(
                    workload.document,
                    (),
                    f"the annotation {DEPENDS_ON_ANNOTATION} is not a JSON object",
                )
                return
            depends_on = {str(k): {"condition": str(v)} for k, v in conditions.items()}
        previous: str | None = None
        for index, init in enumerate(pod.get("initContainers") or []):
            init_name = str(init.get("name", index))
            if generated and init_name.startswith("wait-for-"):
                continue  # stands for a depends_on above
            service_name = f"{name}-init-{dns_label(init_name, letter_first=False)}"
            service = self.container(workload, init, (*prefix, "initContainers", index))
            service["restart"] = "no"
            if previous:
                service["depends_on"] = {previous: {"condition": "service_completed_successfully"}}
            elif depends_on:
                service["depends_on"] = dict(depends_on)
            services[service_name] = service
            previous = service_name
        for index, container in enumerate(pod.get("containers") or []):
            service = self.container(workload, container, (*prefix, "containers", index))
            if index == 0:
                service_name = name
                self.pod_level(workload, service, prefix)
                needs = dict(depends_on)
                if previous:
                    needs[previous] = {"condition": "service_completed_successfully"}
                if needs:
                    service["depends_on"] = needs
                if workload.replicas != 1:
                    service["scale"] = workload.replicas
            else:
                service_name = (
                    f"{name}-{dns_label(str(container.get('name', index)), letter_first=False)}"
                )
                service["network_mode"] = f"service:{name}"
                service["depends_on"] = {name: {"condition": "service_started"}}
            services[service_name] = service

    def pod_level(
        self, workload: Workload, service: dict[str, Any], prefix: tuple[Any, ...]
    ) -> None:
        pod = workload.pod
        if workload.kind == "Job":
            policy = pod.get("restartPolicy", "Never")
            service["restart"] = "on-failure" if policy == "OnFailure" else "no"
        else:
            service["restart"] = "always"
        if pod.get("hostname"):
            service["hostname"] = str(pod["hostname"])
        if pod.get("hostNetwork"):
            service["network_mode"] = "host"
        hosts = [
            f"{h}={a['ip']}" for a in pod.get("hostAliases") or [] for h in a.get("hostnames") or []
        ]
        if hosts:
            service["extra_hosts"] = hosts
        dns = pod.get("dnsConfig") or {}
        if dns.get("nameservers"):
            service["dns"] = [str(s) for s in dns["nameservers"]]
        if dns.get("searches"):
            service["dns_search"] = [str(s) for s in dns["searches"]]
        if dns.get("options"):
            service["dns_opt"] = [
                f"{o['name']}:{o['value']}" if o.get("value") is not None else str(o["name"])
                for o in dns["options"]
            ]
        if pod.get("terminationGracePeriodSeconds") is not None:
            service["stop_grace_period"] = f"{int(pod['terminationGracePeriodSeconds'])}s"
        sysctls = (pod.get("securityContext") or {}).get("sysctls") or []
        if sysctls:
            service["sysctls"] = {str(s["name"]): str(s["value"]) for s in sysctls}
        labels = {k: v for k, v in workload.annotations.items() if k != DEPENDS_ON_ANNOTATION}
        if labels:
            service["labels"] = labels

    def container(
        self, workload: Workload, container: Any, path: tuple[Any, ...]
    ) -> dict[str, Any]:
        document = workload.document
        service: dict[str, Any] = {}
        if not container.get("image"):
            self.fail(document, path, "a container needs an image")
            return service
        service["image"] = str(container["image"])
        if container.get("command") is not None:
            service["entrypoint"] = [str(a) for a in container["command"]]
        if container.get("args") is not None:
            service["command"] = [str(a) for a in container["args"]]
        if container.get("workingDir"):
            service["working_dir"] = str(container["workingDir"])
        environment = self.environment_of(document, container, path)
        if environment:
            service["environment"] = environment
        if container.get("stdin"):
            service["stdin_open"] = True
        if container.get("tty"):
            service["tty"] = True
        self.security(container, service, workload.pod)
        self.resources(document, container, path, service)
        check = self.healthcheck(document, container, path)
        if check:
            service["healthcheck"] = check
        container_mounts(self, workload, container, path, service)
        lifecycle = container.get("lifecycle") or {}
        for key, field in (("postStart", "post_start"), ("preStop", "pre_stop")):
            command = ((lifecycle.get(key) or {}).get("exec") or {}).get("command")
            if command:
                service[field] = [{"command": [str(c) for c in command]}]
            elif lifecycle.get(key):
                self.fail(document, (*path, "lifecycle", key), "kube play runs exec hooks only")
        return service

    def environment_of(
        self, document: Any, container: Any, path: tuple[Any, ...]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for index, source in enumerate(container.get("envFrom") or []):
            prefix = str(source.get("prefix") or "")
            if source.get("configMapRef"):
                data = self.config_maps.get(str(source["configMapRef"].get("name")))
            else:
                data = self.secrets.get(str((source.get("secretRef") or {}).get("name")))
            if data is None:
                self.fail(
                    document,
                    (*path, "envFrom", index),
                    "names no ConfigMap or Secret of these manifests",
                )
                continue
            for key, value in data.items():
                out[prefix + key] = value.decode(errors="replace")
        for index, entry in enumerate(container.get("env") or []):
            name = str(entry.get("name"))
            if "valueFrom" not in entry:
                out[name] = str(entry.get("value", ""))
                continue
            source = entry["valueFrom"] or {}
            reference = source.get("configMapKeyRef") or source.get("secretKeyRef")
            if reference is None:
                self.fail(
                    document,
                    (*path, "env", index, "valueFrom"),
                    "kube play reads values from ConfigMaps and Secrets only"
                    " (no fieldRef or resourceFieldRef)",
                )
                continue
            store = self.config_maps if "configMapKeyRef" in source else self.secrets
            data = store.get(str(reference.get("name")), {})
            key = str(reference.get("key"))
            if key not in data:
                if not reference.get("optional"):
                    self.fail(
                        document,
                        (*path, "env", index, "valueFrom"),
                        f"the key {key} is not in {reference.get('name')}",
                    )
                continue
            out[name] = data[key].decode(errors="replace")
        return out

    def security(self, container: Any, service: dict[str, Any], pod: Any) -> None:
        context = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
        user = context.get("runAsUser")
        if user is not None:
            group = context.get("runAsGroup")
            service["user"] = f"{user}:{group}" if group is not None else str(user)
        capabilities = context.get("capabilities") or {}
        if capabilities.get("add"):
            service["cap_add"] = [str(c) for c in capabilities["add"]]
        if capabilities.get("drop"):
            service["cap_drop"] = [str(c) for c in capabilities["drop"]]
        if context.get("privileged"):
            service["privileged"] = True
        if context.get("readOnlyRootFilesystem"):
            service["read_only"] = True
        if context.get("allowPrivilegeEscalation") is False:
            service["security_opt"] = ["no-new-privileges:true"]

    def resources(
        self, document: Any, container: Any, path: tuple[Any, ...], service: dict[str, Any]
    ) -> None:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        deploy: dict[str, Any] = {}
        for section, values in (("limits", limits), ("reservations", requests)):
            entry: dict[str, Any] = {}
            if values.get("cpu") is not None:
                try:
                    entry["cpus"] = _cpus(str(values["cpu"]))
                except ValueError:
                    self.fail(
                        document, (*path, "resources"), f"cpu {values['cpu']!r} is not a quantity"
                    )
            if values.get("memory") is not None:
                entry["memory"] = memory_quantity(str(values["memory"]))
            if entry:
                deploy[section] = entry
        if deploy:
            service["deploy"] = {"resources": deploy}

    def healthcheck(
        self, document: Any, container: Any, path: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        probe = container.get("readinessProbe") or container.get("livenessProbe")
        if not probe:
            return None
        name = "readinessProbe" if container.get("readinessProbe") else "livenessProbe"
        command = (probe.get("exec") or {}).get("command")
        if not command:
            self.fail(
                document,
                (*path, name),
                "kube play runs exec probes only (no httpGet, tcpSocket or grpc)",
            )
            return None
        check: dict[str, Any] = {
            "test": ["CMD", *[str(c) for c in command]],
            "interval": f"{int(probe.get('periodSeconds', 10))}s",
            "timeout": f"{int(probe.get('timeoutSeconds', 1))}s",
            "retries": int(probe.get("failureThreshold", 3)),
        }
        startup = container.get("startupProbe")
        if startup:
            every = int(startup.get("periodSeconds", 10))
            check["start_period"] = f"{every * int(startup.get('failureThreshold', 3))}s"
            check["start_interval"] = f"{every}s"
        return check

    # --- Services and networks ----------------------------------------------------------

    def selected(self, selector: dict[str, Any]) -> list[Workload]:
        return [
            w
            for w in self.workloads
            if selector and all(w.labels.get(str(k)) == str(v) for k, v in selector.items())
        ]

    def networks(self) -> None:
        """The policies ``kube generate`` writes, one per Compose network, as networks."""
        memberships: dict[str, list[Workload]] = {}
        for policy in self.policies:
            name = str(policy["metadata"]["name"])
            selector = ((policy.get("spec") or {}).get("podSelector") or {}).get(
                "matchLabels"
            ) or {}
            keys = [str(k) for k in selector]
            if len(keys) == 1 and keys[0].startswith(NETWORK_LABEL_PREFIX):
                network = keys[0].removeprefix(NETWORK_LABEL_PREFIX)
                memberships[network] = self.selected(selector)
            elif not name.startswith("published-"):
                self.warnings.append(f"NetworkPolicy {name}: not enforced by kube play")
        if not memberships:
            return
        services = self.tree["services"]
        self.tree["networks"] = {network: {} for network in memberships}
        for network, members in memberships.items():
            for workload in members:
                service = services.get(dns_label(workload.name, letter_first=False))
                if service is not None and "network_mode" not in service:
                    service.setdefault("networks", {})[network] = {}

    def service(self, document: Any) -> None:
        spec = document.get("spec") or {}
        name = str(document["metadata"]["name"])
        selector = spec.get("selector") or {}
        targets = self.selected(selector)
        if not targets:
            self.warnings.append(f"Service {name}: selects no workload of these manifests")
            return
        kind = spec.get("type", "ClusterIP")
        for workload in targets:
            service = self.tree["services"][dns_label(workload.name, letter_first=False)]
            if (
                name != dns_label(workload.name, letter_first=False)
                and "network_mode" not in service
            ):
                networks = service.setdefault("networks", {"default": {}})
                for attachment in networks.values():
                    attachment.setdefault("aliases", [])
                    if name not in attachment["aliases"]:
                        attachment["aliases"].append(name)
            if kind in ("NodePort", "LoadBalancer"):
                for index, port in enumerate(spec.get("ports") or []):
                    target = port.get("targetPort", port.get("port"))
                    if not isinstance(target, int):
                        target = self.named_port(workload, str(target))
                    if target is None:
                        self.fail(
                            document,
                            ("spec", "ports", index, "targetPort"),
                            "names no container port",
                        )
                        continue
                    published = (
                        port.get("nodePort")
                        if kind == "NodePort" and port.get("nodePort")
                        else port.get("port")
                    )
                    service.setdefault("ports", []).append(
                        {
                            "target": int(target),
                            "published": str(published),
                            "host_ip": PUBLISH_ADDRESS,
                            "protocol": str(port.get("protocol", "TCP")).lower(),
                        }
                    )

    def named_port(self, workload: Workload, name: str) -> int | None:
        for container in workload.pod.get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == name:
                    return int(port["containerPort"])
        return None


# the host address NodePort and LoadBalancer Services are published on: a played bundle
# is tried on one machine, not exposed to the network
PUBLISH_ADDRESS = "127.0.0.1"

_CPU_SUFFIX = "m"


def _cpus(quantity: str) -> float:
    if quantity.endswith(_CPU_SUFFIX):
        return int(quantity[:-1]) / 1000
    return float(quantity)
