"""``pycompose kube generate``: a Compose project as Kubernetes manifests (pure).

    generate(loaded, options, files) -> Bundle

One workload per service (a Deployment; a StatefulSet when it owns named volumes and
runs one replica; a Job when another service waits for it to complete), one Service per
service (headless when it publishes no port, so that its name still resolves), claims
for named volumes, ConfigMaps and Secrets for ``configs``/``secrets`` (and for
read-only bind mounts of small directories), a NetworkPolicy per Compose network, and
init containers that wait for what ``depends_on`` names. Every object carries
``app.kubernetes.io/name`` and ``app.kubernetes.io/part-of``.

Alongside the objects the bundle holds an explanation per key path of the stack file
(:mod:`compose.kube.rules`, refined here where the value decides the verdict). Files
(config sources, bind-mounted directories) are read through ``files``; nothing here
touches the disk itself.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Sequence
from typing import Any, Literal, Protocol

from compose.errors import PlanError
from compose.kube import rules
from compose.kube.checks import api_server_problems
from compose.kube.names import dns_label, is_label_key
from compose.kube.services import published_policy, service_objects
from compose.kube.workload import WorkloadBuilder
from compose.load import LoadResult
from compose.model import Project, Service
from compose.source import MapNode

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
NETWORK_LABEL_PREFIX = "network.pycompose.io/"
# the waits of depends_on, recognised by `kube play` (which orders with its own planner)
DEPENDS_ON_ANNOTATION = "pycompose.io/depends-on"
WAITER_ACCOUNT = "pycompose-wait"
# a ConfigMap holds at most 1 MiB: larger bind-mounted directories are not copied
MAX_CONFIGMAP_BYTES = 1 << 20
MAX_CONFIGMAP_FILES = 256


@dataclasses.dataclass(frozen=True)
class HostFile:
    """A regular file below a bind-mounted directory: its path relative to the
    directory, permission bits and content."""

    path: str
    mode: int
    content: bytes


class Files(Protocol):
    """The disk, for the sources generate reads."""

    def read_bytes(self, path: str) -> bytes: ...

    def small_tree(self, path: str, max_files: int, max_bytes: int) -> list[HostFile] | None:
        """The regular files below ``path`` (symlinks not followed), or None when it is
        not a directory or holds more than the limits."""
        ...


@dataclasses.dataclass(frozen=True)
class GenerateOptions:
    services: Sequence[str] = ()
    service_type: ServiceType = "ClusterIP"
    volume_size: str = "1Gi"
    wait_image: str = "busybox:1.36"
    kubectl_image: str = "registry.k8s.io/kubectl:v1.33.0"


@dataclasses.dataclass(frozen=True)
class Explanation:
    path: str
    verdict: rules.Verdict
    text: str
    key: tuple[str | int, ...] = ()

    def line(self) -> str:
        return f"{self.path} {self.verdict}: {self.text}"


@dataclasses.dataclass
class Bundle:
    objects: list[dict[str, Any]]
    explanations: list[Explanation]

    def approximations(self) -> list[Explanation]:
        return [e for e in self.explanations if e.verdict != "mapped"]


Path = tuple[str | int, ...]


class Decisions:
    """Verdicts for concrete key paths, where the value (not the key) decides. A verdict
    on a mapping covers every key below it (a bind mount dropped as a whole) unless it
    is noted for the node alone (``subtree=False``: a service renamed)."""

    def __init__(self) -> None:
        self.below: dict[tuple[str, ...], tuple[rules.Verdict, str]] = {}
        self.alone: dict[tuple[str, ...], tuple[rules.Verdict, str]] = {}

    def note(self, path: Path, verdict: rules.Verdict, text: str, *, subtree: bool = True) -> None:
        (self.below if subtree else self.alone)[tuple(str(p) for p in path)] = (verdict, text)

    def verdict(self, path: tuple[str, ...]) -> tuple[rules.Verdict, str]:
        for length in range(len(path), 0, -1):
            found = self.below.get(path[:length])
            if found is not None:
                return found
        rule = rules.rule_for(path)
        if rule is not None:
            return rule.verdict, rule.text
        return "dropped", rules.NO_RULE


def generate(loaded: LoadResult, options: GenerateOptions, files: Files) -> Bundle:
    from compose.kube.checks import QUANTITY

    if not QUANTITY.match(options.volume_size):
        raise PlanError(
            f"--volume-size {options.volume_size!r} is not a Kubernetes quantity",
            hint="write it as 1Gi, 500Mi or 10G",
        )
    project = loaded.project
    selected = _selected(project, options.services)
    decisions = Decisions()
    context = _Context(project, options, files, decisions, selected)
    context.environment = dict(loaded.environment)
    objects = context.build()
    problems = api_server_problems(objects)
    if problems:  # the generator's own mistake: never hand out what a cluster refuses
        raise PlanError(
            "the generated manifests break the API server's rules: " + "; ".join(problems[:5])
        )
    explanations = _explain(loaded, decisions, selected)
    return Bundle(objects, explanations)


def _selected(project: Project, names: Sequence[str]) -> list[str]:
    if not names:
        return list(project.services)
    unknown = [n for n in names if n not in project.services]
    if unknown:
        raise PlanError(
            f"no such service: {', '.join(unknown)}",
            hint=f"the project's services: {', '.join(project.services)}",
        )
    # a dependency goes along: without it the waits of its dependants never end
    wanted: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.append(name)
        todo.extend(d for d in project.services[name].depends_on if d in project.services)
    return [n for n in project.services if n in wanted]


def _explain(loaded: LoadResult, decisions: Decisions, selected: list[str]) -> list[Explanation]:
    from compose.errors import format_path

    out: list[Explanation] = []

    def visit(node: Any, path: Path) -> None:
        if path[:1] == ("services",) and len(path) >= 2 and path[1] not in selected:
            return
        if path[:1] == ("x-pycompose",) or (path and str(path[-1]).startswith("x-")):
            return
        alone = decisions.alone.get(tuple(str(p) for p in path))
        if alone is not None:
            out.append(Explanation(format_path(path), *alone, path))
        if isinstance(node, dict) and node:
            for key, child in node.items():
                # a key with no place in a file is a default pycompose added: not the user's
                if isinstance(node, MapNode) and not (
                    key in node.value_locs or key in node.key_locs
                ):
                    continue
                visit(child, (*path, key))
            return
        if isinstance(node, list) and node:
            for index, child in enumerate(node):
                visit(child, (*path, index))
            return
        if not path:
            return
        verdict, text = decisions.verdict(tuple(str(p) for p in path))
        out.append(Explanation(format_path(path), verdict, text, path))

    visit(loaded.tree, ())
    return out


class _Context:
    """The state of one generation: the project, the options and what was made."""

    def __init__(
        self,
        project: Project,
        options: GenerateOptions,
        files: Files,
        decisions: Decisions,
        selected: list[str],
    ) -> None:
        self.project = project
        self.options = options
        self.files = files
        self.decisions = decisions
        self.selected = selected
        self.part_of = project.name
        self.environment: dict[str, str] = {}
        self.names = {name: dns_label(name) for name in project.services}
        waited = {
            dependency
            for name in selected
            for dependency, condition in project.services[name].depends_on.items()
            if condition.condition == "service_completed_successfully"
        }
        self.kinds = {name: _kind(project.services[name], name in waited) for name in selected}
        for name, label in self.names.items():
            if label != name:
                decisions.note(
                    ("services", name),
                    "approximated",
                    f"named {label}: Kubernetes names are DNS labels",
                    subtree=False,
                )

    def kind_of(self, name: str) -> str:
        return self.kinds[name]

    def labels(self, name: str) -> dict[str, str]:
        part_of = dns_label(self.part_of, letter_first=False)
        return {NAME_LABEL: name, PART_OF_LABEL: part_of}

    def metadata(
        self,
        name: str,
        annotations: dict[str, str] | None = None,
        owner: str | None = None,
        where: Path = (),
    ) -> dict[str, Any]:
        """``owner``: the service an object belongs to, when it is not named after it;
        ``where``: the key path of ``annotations``, to explain keys Kubernetes refuses."""
        meta: dict[str, Any] = {"name": name, "labels": self.labels(owner or name)}
        kept = {}
        for key, value in (annotations or {}).items():
            if is_label_key(key):
                kept[key] = value
            else:
                self.decisions.note((*where, key), "dropped", "not a valid annotation key")
        if kept:
            meta["annotations"] = kept
        return meta

    # --- the whole bundle ---------------------------------------------------------------

    def build(self) -> list[dict[str, Any]]:
        needs_waiter = any(
            d.condition != "service_started"
            for name in self.selected
            for d in self.project.services[name].depends_on.values()
        )
        access: list[dict[str, Any]] = self._waiter_access() if needs_waiter else []
        data: list[dict[str, Any]] = [*self._configs(), *self._secrets()]
        claims = self._claims()
        services: list[dict[str, Any]] = []
        policies = self._network_policies()
        workloads: list[dict[str, Any]] = []
        for name in self.selected:
            service = self.project.services[name]
            builder = WorkloadBuilder(self, name, service)
            workload, extra_data = builder.workload(as_job=self.kinds[name] == "Job")
            data.extend(extra_data)
            workloads.append(workload)
            services.extend(service_objects(builder))
            policies.extend(published_policy(builder))
        # the order `kubectl apply -f` and a cluster like: access and data before workloads
        return [*access, *data, *claims, *services, *policies, *workloads]

    def _waiter_access(self) -> list[dict[str, Any]]:
        """What the waiting init containers may read: the rollouts and Jobs of the bundle."""
        meta = self.metadata(WAITER_ACCOUNT)
        return [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta,
                "rules": [
                    {
                        "apiGroups": ["apps"],
                        "resources": ["deployments", "statefulsets", "replicasets"],
                        "verbs": ["get", "list", "watch"],
                    },
                    {
                        "apiGroups": ["batch"],
                        "resources": ["jobs"],
                        "verbs": ["get", "list", "watch"],
                    },
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": WAITER_ACCOUNT,
                },
                "subjects": [{"kind": "ServiceAccount", "name": WAITER_ACCOUNT}],
            },
        ]

    def _used(self, section: str) -> list[str]:
        used: list[str] = []
        for name in self.selected:
            mounts = getattr(self.project.services[name], section) or []
            used.extend(m.source for m in mounts if m.source and m.source not in used)
        return used

    def _configs(self) -> list[dict[str, Any]]:
        out = []
        for key in self._used("configs"):
            config = self.project.configs.get(key)
            if config is None or config.external:
                continue
            if config.content is not None:
                content = config.content.encode()
            elif config.environment is not None:
                content = self._environment(("configs", key), config.environment)
            elif config.file is not None:
                content = self.files.read_bytes(config.file)
            else:
                continue
            meta = self.metadata(
                dns_label(key, letter_first=False), config.labels, where=("configs", key, "labels")
            )
            out.append(_config_map(meta, {config_key(key): content}))
        return out

    def _secrets(self) -> list[dict[str, Any]]:
        out = []
        for key in self._used("secrets"):
            secret = self.project.secrets.get(key)
            if secret is None or secret.external:
                continue
            if secret.environment is not None:
                content = self._environment(("secrets", key), secret.environment)
            elif secret.file is not None:
                content = self.files.read_bytes(secret.file)
            else:
                continue
            meta = self.metadata(
                dns_label(key, letter_first=False), secret.labels, where=("secrets", key, "labels")
            )
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": meta,
                    "type": "Opaque",
                    "data": {config_key(key): _base64(content)},
                }
            )
        return out

    def _environment(self, path: Path, variable: str) -> bytes:
        value = self.environment.get(variable)
        if value is None:
            raise PlanError(
                f"{'.'.join(map(str, path))}: the variable {variable} is not set",
                hint="set it in the environment or an env file, as `up` needs it too",
            )
        return value.encode()

    def _claims(self) -> list[dict[str, Any]]:
        used: list[str] = []
        for name in self.selected:
            for mount in self.project.services[name].volumes or []:
                if mount.type == "volume" and mount.source and mount.source not in used:
                    used.append(mount.source)
        out = []
        for key in used:
            volume = self.project.volumes.get(key)
            if volume is not None and volume.external:
                continue
            meta = self.metadata(
                dns_label(key, letter_first=False),
                volume.labels if volume else None,
                where=("volumes", key, "labels"),
            )
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": meta,
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": self.options.volume_size}},
                    },
                }
            )
        return out

    def _network_policies(self) -> list[dict[str, Any]]:
        used: list[str] = []
        for name in self.selected:
            service = self.project.services[name]
            if service.network_mode:
                continue
            used.extend(n for n in service.networks if n not in used)
        out = []
        for network in used:
            member = {NETWORK_LABEL_PREFIX + network_label(network): "true"}
            out.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": self.metadata(f"network-{network_label(network)}"),
                    "spec": {
                        "podSelector": {"matchLabels": dict(member)},
                        "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"podSelector": {"matchLabels": dict(member)}}]}],
                    },
                }
            )
        return out


def network_label(network: str) -> str:
    return dns_label(network, letter_first=False)


def config_key(name: str) -> str:
    """A ConfigMap/Secret data key for a Compose config or secret name."""
    key = "".join(c if c.isalnum() or c in "-._" else "-" for c in name)
    return key or "content"


def _base64(content: bytes) -> str:
    import base64

    return base64.b64encode(content).decode("ascii")


def _config_map(meta: dict[str, Any], data: dict[str, bytes]) -> dict[str, Any]:
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, content in data.items():
        try:
            text[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = _base64(content)
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if text:
        out["data"] = text
    if binary:
        out["binaryData"] = binary
    return out


def _kind(service: Service, completion_waited: bool) -> str:
    if completion_waited and _runs_once(service):
        return "Job"
    owns_volume = any(m.type == "volume" and m.source for m in service.volumes or [])
    replicas = (
        service.deploy.replicas
        if service.deploy and service.deploy.replicas is not None
        else service.scale
    )
    if owns_volume and (replicas is None or replicas == 1):
        return "StatefulSet"
    return "Deployment"


def _runs_once(service: Service) -> bool:
    restart = service.restart or "no"
    policy = service.deploy.restart_policy if service.deploy else None
    if policy is not None and policy.condition:
        return policy.condition in ("none", "on-failure")
    return restart == "no" or restart.startswith("on-failure")


def seconds(nanoseconds: int | None, default: int) -> int:
    if nanoseconds is None:
        return default
    return max(1, math.ceil(nanoseconds / 1_000_000_000))


def depends_on_annotation(service: Service, present: Collection[str]) -> str:
    """The conditions of ``depends_on`` on the services of the bundle, for ``kube play``."""
    conditions = {
        dns_label(name): d.condition for name, d in service.depends_on.items() if name in present
    }
    return json.dumps(conditions, sort_keys=True)


__all__ = [
    "DEPENDS_ON_ANNOTATION",
    "NAME_LABEL",
    "PART_OF_LABEL",
    "Bundle",
    "Explanation",
    "Files",
    "GenerateOptions",
    "HostFile",
    "generate",
]
