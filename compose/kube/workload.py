"""One Compose service as Kubernetes objects: its workload, pod, Services and the
NetworkPolicy for its published ports (for :mod:`compose.kube.generate`)."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from compose.kube.names import is_dns_label, is_label_key
from compose.model import Service

if TYPE_CHECKING:
    from compose.kube.generate import _Context

_GIB = 1 << 30
_MIB = 1 << 20
_KIB = 1 << 10
_PULL_POLICIES = {
    "always": "Always",
    "never": "Never",
    "missing": "IfNotPresent",
    "if_not_present": "IfNotPresent",
    "build": "IfNotPresent",
    "refresh": "Always",
    "daily": "Always",
    "weekly": "Always",
}


def quantity_bytes(value: int) -> str:
    for unit, size in (("Gi", _GIB), ("Mi", _MIB), ("Ki", _KIB)):
        if value % size == 0 and value >= size:
            return f"{value // size}{unit}"
    return str(value)


def quantity_cpus(value: float) -> str:
    return f"{round(value * 1000)}m"


def selector_labels(context: _Context, name: str) -> dict[str, str]:
    return context.labels(name)


def pod_labels(context: _Context, name: str, service: Service) -> dict[str, str]:
    from compose.kube.generate import NETWORK_LABEL_PREFIX, network_label

    labels = context.labels(name)
    if not service.network_mode:
        for network in service.networks:
            labels[NETWORK_LABEL_PREFIX + network_label(network)] = "true"
    return labels


def _seconds(nanoseconds: int | None, default: float) -> tuple[int, bool]:
    """Whole seconds (at least 1) and whether that rounding changed the value."""
    value = default if nanoseconds is None else nanoseconds / 1e9
    whole = max(1, math.ceil(value))
    return whole, whole != value


class WorkloadBuilder:
    def __init__(self, context: _Context, name: str, service: Service) -> None:
        self.context = context
        self.name = name
        self.service = service
        self.kname = context.names[name]
        self.path: tuple[str | int, ...] = ("services", name)
        self.volumes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        self.extra_data: list[dict[str, Any]] = []
        self.fs_group: int | None = None

    def note(self, suffix: tuple[str | int, ...], verdict: Any, text: str) -> None:
        self.context.decisions.note((*self.path, *suffix), verdict, text)

    # --- the workload -------------------------------------------------------------------

    def kind(self) -> str:
        return self.context.kind_of(self.name)

    def workload(self, *, as_job: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        service = self.service
        pod = self.pod_spec(job=as_job)
        annotations = self.annotations()
        if service.depends_on:
            from compose.kube.generate import DEPENDS_ON_ANNOTATION, depends_on_annotation

            annotations[DEPENDS_ON_ANNOTATION] = depends_on_annotation(service, self.context.kinds)
        template: dict[str, Any] = {
            "metadata": {"labels": pod_labels(self.context, self.kname, service)}
        }
        if annotations:
            template["metadata"]["annotations"] = annotations
        template["spec"] = pod
        deploy_labels = service.deploy.labels if service.deploy else None
        metadata = self.context.metadata(self.kname, deploy_labels)
        replicas = self.replicas()
        kind = self.kind()
        if kind == "Job":
            policy = service.deploy.restart_policy if service.deploy else None
            spec: dict[str, Any] = {
                "backoffLimit": (
                    policy.max_attempts if policy and policy.max_attempts is not None else 6
                ),
                "template": template,
            }
            self.note(("restart",), "mapped", "a Job (another service waits for it to complete)")
            return {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": metadata,
                "spec": spec,
            }, self.extra_data
        spec = {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(self.context, self.kname)},
            "template": template,
        }
        if kind == "StatefulSet":
            spec = {"serviceName": self.kname, **spec}
        else:
            spec.update(self.strategy())
        api = "apps/v1"
        return {
            "apiVersion": api,
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
        }, self.extra_data

    def annotations(self) -> dict[str, str]:
        """The service's labels and annotations, whose keys Kubernetes can hold."""
        out: dict[str, str] = {}
        for field in ("labels", "annotations"):
            for key, value in (getattr(self.service, field) or {}).items():
                if is_label_key(key):
                    out[key] = value
                else:
                    self.note(
                        (field, key),
                        "dropped",
                        "an annotation key is an optional DNS prefix and a name of at most 63"
                        " characters [-A-Za-z0-9_.]",
                    )
        return out

    def replicas(self) -> int:
        service = self.service
        if service.deploy and service.deploy.replicas is not None:
            return service.deploy.replicas
        return service.scale if service.scale is not None else 1

    def strategy(self) -> dict[str, Any]:
        update = self.service.deploy.update_config if self.service.deploy else None
        if update is None:
            return {}
        batch = update.parallelism or 1
        out: dict[str, Any] = {}
        if update.order == "start-first":
            rolling = {"maxSurge": batch, "maxUnavailable": 0}
        else:
            rolling = {"maxSurge": 0, "maxUnavailable": batch}
        out["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
        if update.monitor:
            out["minReadySeconds"] = _seconds(update.monitor, 0)[0]
        return out

    # --- the pod ------------------------------------------------------------------------

    def pod_spec(self, *, job: bool) -> dict[str, Any]:
        service = self.service
        container = self.container()
        pod: dict[str, Any] = {}
        inits = self.wait_containers()
        if inits:
            pod["initContainers"] = inits
            if any(c["image"] == self.context.options.kubectl_image for c in inits):
                from compose.kube.generate import WAITER_ACCOUNT

                pod["serviceAccountName"] = WAITER_ACCOUNT
        pod["containers"] = [container]
        if self.volumes:
            pod["volumes"] = self.volumes
        if job:
            restart = service.restart or "no"
            policy = service.deploy.restart_policy if service.deploy else None
            on_failure = restart.startswith("on-failure") or (
                policy is not None and policy.condition == "on-failure"
            )
            pod["restartPolicy"] = "OnFailure" if on_failure else "Never"
        if service.hostname:
            if is_dns_label(service.hostname):
                pod["hostname"] = service.hostname
            else:
                self.note(("hostname",), "dropped", "a pod's hostname must be a DNS label")
        aliases = self.host_aliases()
        if aliases:
            pod["hostAliases"] = aliases
        dns = self.dns_config()
        if dns:
            pod.update(dns)
        if service.stop_grace_period is not None:
            pod["terminationGracePeriodSeconds"] = math.ceil(service.stop_grace_period / 1e9)
        security = self.pod_security()
        if security:
            pod["securityContext"] = security
        if service.runtime:
            pod["runtimeClassName"] = service.runtime
        if service.platform:
            os_name, _, arch = service.platform.partition("/")
            selector = {"kubernetes.io/os": os_name}
            if arch:
                selector["kubernetes.io/arch"] = arch.split("/")[0]
            pod["nodeSelector"] = selector
        if service.network_mode == "host":
            pod["hostNetwork"] = True
            self.note(("network_mode",), "mapped", "Deployment.spec.template.spec.hostNetwork")
        if service.pid == "host":
            pod["hostPID"] = True
            self.note(("pid",), "mapped", "Deployment.spec.template.spec.hostPID")
        if service.ipc == "host":
            pod["hostIPC"] = True
            self.note(("ipc",), "mapped", "Deployment.spec.template.spec.hostIPC")
        return pod

    def wait_containers(self) -> list[dict[str, Any]]:
        options = self.context.options
        out = []
        restart = self.service.restart or "no"
        if self.kind() != "Job" and (restart == "no" or restart.startswith("on-failure")):
            self.note(
                ("restart",),
                "approximated",
                f"restart: {restart}, but the pods of a {self.kind()} always restart",
            )
        for dependency, condition in self.service.depends_on.items():
            if dependency not in self.context.kinds:
                self.note(
                    ("depends_on", dependency),
                    "dropped",
                    "the dependency is not part of the bundle (an optional service of a profile)",
                )
                continue
            if not condition.required:
                self.note(
                    ("depends_on", dependency, "required"),
                    "approximated",
                    "an optional dependency is still waited for when it is part of the bundle",
                )
            target = self.context.names[dependency]
            kind = self.context.kind_of(dependency)
            if condition.condition == "service_started":
                command = ["sh", "-c", f"until nslookup {target} >/dev/null 2>&1; do sleep 1; done"]
                image = options.wait_image
            elif condition.condition == "service_healthy" and kind != "Job":
                command = [
                    "kubectl",
                    "rollout",
                    "status",
                    f"{kind.lower()}/{target}",
                    "--timeout=1h",
                ]
                image = options.kubectl_image
            else:
                command = [
                    "kubectl",
                    "wait",
                    "--for=condition=complete",
                    f"job/{target}",
                    "--timeout=24h",
                ]
                image = options.kubectl_image
            out.append(
                {"name": f"wait-for-{target}"[:63].rstrip("-"), "image": image, "command": command}
            )
        return out

    def host_aliases(self) -> list[dict[str, Any]]:
        by_ip: dict[str, list[str]] = {}
        for index, entry in enumerate(self.service.extra_hosts or []):
            host, sep, address = entry.partition("=")
            if not sep:
                host, _, address = entry.partition(":")
            if address == "host-gateway":
                self.note(
                    ("extra_hosts", index), "dropped", "the host's gateway has no cluster meaning"
                )
                continue
            by_ip.setdefault(address.strip("[]"), []).append(host)
        return [{"ip": ip, "hostnames": names} for ip, names in by_ip.items()]

    def dns_config(self) -> dict[str, Any]:
        service = self.service
        config: dict[str, Any] = {}
        if service.dns:
            config["nameservers"] = list(service.dns)[:3]
        if service.dns_search:
            config["searches"] = list(service.dns_search)
        if service.dns_opt:
            options = []
            for option in service.dns_opt:
                name, sep, value = option.partition(":")
                options.append({"name": name, "value": value} if sep else {"name": name})
            config["options"] = options
        if not config:
            return {}
        out: dict[str, Any] = {"dnsConfig": config}
        if service.dns:
            out["dnsPolicy"] = "None"
        return out

    def pod_security(self) -> dict[str, Any]:
        service = self.service
        security: dict[str, Any] = {}
        if service.sysctls:
            security["sysctls"] = [{"name": k, "value": v} for k, v in service.sysctls.items()]
        groups = []
        for index, group in enumerate(service.group_add or []):
            if group.isdigit():
                groups.append(int(group))
            else:
                self.note(("group_add", index), "dropped", "supplementalGroups takes numeric ids")
        if groups:
            security["supplementalGroups"] = groups
        if self.fs_group is not None:
            security["fsGroup"] = self.fs_group
        return security

    # --- the container ------------------------------------------------------------------

    def container(self) -> dict[str, Any]:
        from compose.kube.mounts import MountBuilder

        service = self.service
        container: dict[str, Any] = {"name": self.kname, "image": self.image()}
        if service.entrypoint is not None:
            container["command"] = list(service.entrypoint)
        if service.command is not None:
            container["args"] = list(service.command)
        if service.working_dir:
            container["workingDir"] = service.working_dir
        env = [
            {"name": k, "value": v} for k, v in (service.environment or {}).items() if v is not None
        ]
        if env:
            container["env"] = env
        ports = self.container_ports()
        if ports:
            container["ports"] = ports
        resources = self.resources()
        if resources:
            container["resources"] = resources
        MountBuilder(self).build()
        if self.mounts:
            container["volumeMounts"] = self.mounts
        container.update(self.probes())
        lifecycle = self.lifecycle()
        if lifecycle:
            container["lifecycle"] = lifecycle
        security = self.container_security()
        if security:
            container["securityContext"] = security
        if service.pull_policy:
            policy = service.pull_policy
            container["imagePullPolicy"] = _PULL_POLICIES.get(policy, "Always")
        if service.stdin_open:
            container["stdin"] = True
        if service.tty:
            container["tty"] = True
        return container

    def image(self) -> str:
        if self.service.image:
            return self.service.image
        return f"{self.context.project.name}-{self.name}"

    def container_ports(self) -> list[dict[str, Any]]:
        seen: set[tuple[int, str]] = set()
        out = []
        for port, protocol in self.target_ports():
            if (port, protocol) not in seen:
                seen.add((port, protocol))
                out.append({"containerPort": port, "protocol": protocol})
        return out

    def target_ports(self) -> list[tuple[int, str]]:
        out = []
        for port in self.service.ports or []:
            if port.target is not None:
                out.append((port.target, (port.protocol or "tcp").upper()))
        for index, entry in enumerate(self.service.expose or []):
            text, _, protocol = str(entry).partition("/")
            first, _, last = text.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                self.note(("expose", index), "dropped", "not a port number")
                continue
            for number in range(int(first), int(last or first) + 1):
                out.append((number, (protocol or "tcp").upper()))
        return out

    def resources(self) -> dict[str, Any]:
        service = self.service
        resources = service.deploy.resources if service.deploy else None
        limits: dict[str, str] = {}
        requests: dict[str, str] = {}
        cpus = resources.limits.cpus if resources and resources.limits else None
        cpus = cpus if cpus is not None else service.cpus
        if cpus:
            limits["cpu"] = quantity_cpus(cpus)
        memory = resources.limits.memory if resources and resources.limits else None
        memory = memory if memory is not None else service.mem_limit
        if memory:
            limits["memory"] = quantity_bytes(memory)
        reserved = resources.reservations if resources else None
        if reserved and reserved.cpus:
            requests["cpu"] = quantity_cpus(reserved.cpus)
        reserved_memory = reserved.memory if reserved else None
        reserved_memory = (
            reserved_memory if reserved_memory is not None else service.mem_reservation
        )
        if reserved_memory:
            requests["memory"] = quantity_bytes(reserved_memory)
        out: dict[str, Any] = {}
        if limits:
            out["limits"] = limits
        if requests:
            out["requests"] = requests
        return out

    def probes(self) -> dict[str, Any]:
        check = self.service.healthcheck
        if check is None or not check.test:
            return {}
        if check.disable or check.test[0] == "NONE":
            self.note(("healthcheck",), "mapped", "no probe (the health check is disabled)")
            return {}
        if check.test[0] == "CMD":
            command = list(check.test[1:])
        else:
            command = ["/bin/sh", "-c", " ".join(check.test[1:])]
        period, rounded_period = _seconds(check.interval, 30)
        timeout, rounded_timeout = _seconds(check.timeout, 30)
        if rounded_period:
            self.note(
                ("healthcheck", "interval"),
                "approximated",
                "periodSeconds takes whole seconds (rounded up, at least 1)",
            )
        if rounded_timeout:
            self.note(
                ("healthcheck", "timeout"),
                "approximated",
                "timeoutSeconds takes whole seconds (rounded up, at least 1)",
            )
        retries = check.retries if check.retries else 3
        readiness = {
            "exec": {"command": command},
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": retries,
        }
        out: dict[str, Any] = {"readinessProbe": readiness}
        if check.start_period:
            start_period = check.start_period / 1e9
            every, _ = (
                _seconds(check.start_interval, 5) if check.start_interval else (period, False)
            )
            out["startupProbe"] = {
                "exec": {"command": command},
                "periodSeconds": every,
                "timeoutSeconds": timeout,
                "failureThreshold": math.ceil(start_period / every) + retries,
            }
        return out

    def lifecycle(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, field in (("postStart", "post_start"), ("preStop", "pre_stop")):
            hooks = getattr(self.service, field) or []
            if not hooks:
                continue
            if hooks[0].command:
                out[key] = {"exec": {"command": list(hooks[0].command)}}
            for index in range(1, len(hooks)):
                self.note((field, index), "dropped", "Kubernetes runs one hook of each kind")
        return out

    def container_security(self) -> dict[str, Any]:
        service = self.service
        security: dict[str, Any] = {}
        capabilities: dict[str, list[str]] = {}
        if service.cap_add:
            capabilities["add"] = [c.upper().removeprefix("CAP_") for c in service.cap_add]
        if service.cap_drop:
            capabilities["drop"] = [c.upper().removeprefix("CAP_") for c in service.cap_drop]
        if capabilities:
            security["capabilities"] = capabilities
        if service.privileged:
            security["privileged"] = True
        if service.read_only:
            security["readOnlyRootFilesystem"] = True
        for index, option in enumerate(service.security_opt or []):
            if option in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
                security["allowPrivilegeEscalation"] = False
                self.note(
                    ("security_opt", index),
                    "mapped",
                    "securityContext.allowPrivilegeEscalation: false",
                )
        if service.user:
            user, _, group = service.user.partition(":")
            if user.isdigit() and (not group or group.isdigit()):
                security["runAsUser"] = int(user)
                if group:
                    security["runAsGroup"] = int(group)
            else:
                self.note(
                    ("user",),
                    "dropped",
                    "runAsUser takes numeric ids: the kubelet does not know the image's user names",
                )
        return security


def basename(path: str) -> str:
    return PurePosixPath(path).name
