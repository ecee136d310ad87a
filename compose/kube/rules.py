"""What becomes of each Compose key on Kubernetes: the table behind ``kube generate
--explain``, ``--strict`` and docs/kubernetes.md.

A rule names a key path (``*`` stands for any service, resource name or list index)
and one of three verdicts:

- ``mapped``: the Kubernetes field carries the same meaning;
- ``approximated``: the closest Kubernetes form, which differs in a way the text says;
- ``dropped``: Kubernetes has no place for it; the text says why.

The most specific rule wins (``services.*.volumes`` is refined by the generator per
entry: a named volume is mapped, a writable bind mount dropped). A key with no rule
is dropped with "no Kubernetes equivalent is known", so nothing is lost quietly; a test
keeps the table complete for every key of the service model.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Verdict = Literal["mapped", "approximated", "dropped"]

POD = "Deployment.spec.template.spec"
CONTAINER = f"{POD}.containers[0]"


@dataclasses.dataclass(frozen=True)
class Rule:
    pattern: str
    verdict: Verdict
    text: str  # the Kubernetes field (mapped), how it differs (approximated) or why (dropped)


def _rules(*rows: tuple[str, Verdict, str]) -> tuple[Rule, ...]:
    return tuple(Rule(pattern, verdict, text) for pattern, verdict, text in rows)


SERVICE_RULES = _rules(
    (
        "services.*",
        "mapped",
        "a Deployment (a StatefulSet when it owns named volumes and runs one replica; a Job when another service waits for it to complete) and a Service",
    ),
    ("services.*.image", "mapped", f"{CONTAINER}.image"),
    ("services.*.command", "mapped", f"{CONTAINER}.args"),
    ("services.*.entrypoint", "mapped", f"{CONTAINER}.command"),
    ("services.*.environment", "mapped", f"{CONTAINER}.env"),
    ("services.*.env_file", "mapped", f"{CONTAINER}.env (the files are read at generate time)"),
    ("services.*.working_dir", "mapped", f"{CONTAINER}.workingDir"),
    (
        "services.*.user",
        "mapped",
        f"{CONTAINER}.securityContext.runAsUser/runAsGroup (numeric ids only)",
    ),
    ("services.*.cap_add", "mapped", f"{CONTAINER}.securityContext.capabilities.add"),
    ("services.*.cap_drop", "mapped", f"{CONTAINER}.securityContext.capabilities.drop"),
    ("services.*.privileged", "mapped", f"{CONTAINER}.securityContext.privileged"),
    ("services.*.read_only", "mapped", f"{CONTAINER}.securityContext.readOnlyRootFilesystem"),
    (
        "services.*.security_opt",
        "dropped",
        "Docker security options have no Kubernetes field (no-new-privileges:true is mapped to allowPrivilegeEscalation: false)",
    ),
    ("services.*.stdin_open", "mapped", f"{CONTAINER}.stdin"),
    ("services.*.tty", "mapped", f"{CONTAINER}.tty"),
    (
        "services.*.labels",
        "mapped",
        f"{POD.removesuffix('.spec')}.metadata.annotations (label values are too strict for Compose labels)",
    ),
    (
        "services.*.label_file",
        "mapped",
        f"{POD.removesuffix('.spec')}.metadata.annotations (the files are read at generate time)",
    ),
    ("services.*.annotations", "mapped", f"{POD.removesuffix('.spec')}.metadata.annotations"),
    ("services.*.hostname", "mapped", f"{POD}.hostname"),
    (
        "services.*.domainname",
        "dropped",
        "a pod's domain is the cluster's; subdomain needs a headless Service of that name",
    ),
    ("services.*.extra_hosts", "mapped", f"{POD}.hostAliases"),
    ("services.*.dns", "mapped", f"{POD}.dnsConfig.nameservers (dnsPolicy None)"),
    ("services.*.dns_opt", "mapped", f"{POD}.dnsConfig.options"),
    ("services.*.dns_search", "mapped", f"{POD}.dnsConfig.searches"),
    (
        "services.*.stop_grace_period",
        "mapped",
        f"{POD}.terminationGracePeriodSeconds (whole seconds)",
    ),
    (
        "services.*.stop_signal",
        "dropped",
        "Kubernetes stops containers with the image's STOPSIGNAL (or SIGTERM)",
    ),
    (
        "services.*.sysctls",
        "mapped",
        f"{POD}.securityContext.sysctls (unsafe ones need the kubelet's allow-list)",
    ),
    (
        "services.*.group_add",
        "mapped",
        f"{POD}.securityContext.supplementalGroups (numeric ids only)",
    ),
    (
        "services.*.runtime",
        "mapped",
        f"{POD}.runtimeClassName (a RuntimeClass of that name must exist)",
    ),
    (
        "services.*.platform",
        "mapped",
        f"{POD}.nodeSelector kubernetes.io/os and kubernetes.io/arch",
    ),
    (
        "services.*.pull_policy",
        "mapped",
        f"{CONTAINER}.imagePullPolicy (daily/weekly/every_*: Always; build: IfNotPresent)",
    ),
    (
        "services.*.restart",
        "mapped",
        "always and unless-stopped: the pods of a Deployment always restart (no and on-failure are approximated, unless the service becomes a Job)",
    ),
    ("services.*.scale", "mapped", "Deployment.spec.replicas"),
    (
        "services.*.healthcheck",
        "mapped",
        f"{CONTAINER}.readinessProbe (exec; a Compose health check gates readiness and dependants, it never restarts the container)",
    ),
    (
        "services.*.healthcheck.start_period",
        "mapped",
        f"{CONTAINER}.startupProbe (its failureThreshold covers start_period)",
    ),
    ("services.*.healthcheck.start_interval", "mapped", f"{CONTAINER}.startupProbe.periodSeconds"),
    (
        "services.*.healthcheck.interval",
        "mapped",
        f"{CONTAINER}.readinessProbe.periodSeconds (whole seconds, at least 1)",
    ),
    (
        "services.*.healthcheck.timeout",
        "mapped",
        f"{CONTAINER}.readinessProbe.timeoutSeconds (whole seconds, at least 1)",
    ),
    ("services.*.healthcheck.retries", "mapped", f"{CONTAINER}.readinessProbe.failureThreshold"),
    (
        "services.*.depends_on",
        "mapped",
        f"{POD}.initContainers that wait: started, the Service answers DNS; healthy, the workload's rollout is ready; completed_successfully, its Job completes",
    ),
    (
        "services.*.depends_on.*.restart",
        "dropped",
        "Kubernetes does not restart dependants when a dependency restarts",
    ),
    (
        "services.*.depends_on.*.required",
        "mapped",
        "the wait is part of the pod (required: false is approximated: an optional dependency is still waited for when it is part of the bundle)",
    ),
    (
        "services.*.ports",
        "mapped",
        "Service.spec.ports (port = published, targetPort = target); ClusterIP unless --service-type",
    ),
    (
        "services.*.ports.*.host_ip",
        "dropped",
        "a Service listens on the cluster's addresses, not a host address",
    ),
    (
        "services.*.ports.*.mode",
        "mapped",
        "a Service balances over its pods as ingress mode does (host mode has no Service form)",
    ),
    ("services.*.ports.*.app_protocol", "mapped", "Service.spec.ports[].appProtocol"),
    ("services.*.ports.*.name", "mapped", "Service.spec.ports[].name"),
    ("services.*.expose", "mapped", "Service.spec.ports (port = targetPort)"),
    (
        "services.*.networks",
        "mapped",
        "pod labels network.pycompose.io/<network> and one NetworkPolicy per network: pods reach each other only on a shared network",
    ),
    ("services.*.networks.*.aliases", "mapped", "a Service per alias selecting the same pods"),
    (
        "services.*.networks.*.ipv4_address",
        "dropped",
        "pod addresses are assigned by the cluster's network plugin",
    ),
    (
        "services.*.networks.*.ipv6_address",
        "dropped",
        "pod addresses are assigned by the cluster's network plugin",
    ),
    ("services.*.networks.*.mac_address", "dropped", "pod interfaces are the network plugin's"),
    (
        "services.*.networks.*.link_local_ips",
        "dropped",
        "pod addresses are assigned by the cluster's network plugin",
    ),
    ("services.*.networks.*.priority", "dropped", "a pod has one network interface"),
    ("services.*.networks.*.gw_priority", "dropped", "a pod has one network interface"),
    ("services.*.networks.*.interface_name", "dropped", "a pod has one network interface"),
    ("services.*.networks.*.driver_opts", "dropped", "driver options of a Docker network"),
    (
        "services.*.network_mode",
        "dropped",
        "only network_mode: host has a Kubernetes form (hostNetwork); sharing another container's namespace needs both in one pod",
    ),
    (
        "services.*.links",
        "approximated",
        "every Service of the namespace resolves by name; link aliases are not kept",
    ),
    (
        "services.*.external_links",
        "dropped",
        "containers outside the bundle do not exist in the cluster",
    ),
    (
        "services.*.volumes",
        "mapped",
        f"{POD}.volumes and {CONTAINER}.volumeMounts: named volumes as PersistentVolumeClaims, tmpfs as memory emptyDirs, read-only bind mounts of small directories as ConfigMaps",
    ),
    ("services.*.volumes.*.consistency", "dropped", "a Docker Desktop setting"),
    (
        "services.*.volumes.*.bind",
        "dropped",
        "bind propagation and SELinux relabelling are the kubelet's",
    ),
    (
        "services.*.volumes.*.volume.nocopy",
        "dropped",
        "a PersistentVolumeClaim starts empty: the image's files are never copied",
    ),
    ("services.*.volumes.*.volume.subpath", "mapped", f"{CONTAINER}.volumeMounts[].subPath"),
    ("services.*.volumes.*.tmpfs.size", "mapped", f"{POD}.volumes[].emptyDir.sizeLimit"),
    ("services.*.volumes.*.tmpfs.mode", "dropped", "emptyDir directories are created 0777"),
    (
        "services.*.volumes_from",
        "dropped",
        "containers of different pods cannot share volumes that way; use a named volume",
    ),
    ("services.*.tmpfs", "mapped", f"{POD}.volumes[].emptyDir (medium Memory)"),
    (
        "services.*.shm_size",
        "approximated",
        "a memory emptyDir with that sizeLimit mounted at /dev/shm",
    ),
    (
        "services.*.configs",
        "mapped",
        "a ConfigMap volume with subPath mounts at the same target and mode",
    ),
    (
        "services.*.secrets",
        "mapped",
        "a Secret volume with subPath mounts at the same target and mode",
    ),
    (
        "services.*.configs.*.uid",
        "dropped",
        "projected files belong to root (or to the pod's fsGroup)",
    ),
    ("services.*.configs.*.gid", "approximated", f"{POD}.securityContext.fsGroup"),
    (
        "services.*.secrets.*.uid",
        "dropped",
        "projected files belong to root (or to the pod's fsGroup)",
    ),
    ("services.*.secrets.*.gid", "approximated", f"{POD}.securityContext.fsGroup"),
    ("services.*.mem_limit", "mapped", f"{CONTAINER}.resources.limits.memory"),
    ("services.*.mem_reservation", "mapped", f"{CONTAINER}.resources.requests.memory"),
    ("services.*.cpus", "mapped", f"{CONTAINER}.resources.limits.cpu"),
    ("services.*.deploy", "mapped", "the workload's spec"),
    ("services.*.deploy.replicas", "mapped", "Deployment.spec.replicas"),
    ("services.*.deploy.resources.limits.cpus", "mapped", f"{CONTAINER}.resources.limits.cpu"),
    ("services.*.deploy.resources.limits.memory", "mapped", f"{CONTAINER}.resources.limits.memory"),
    (
        "services.*.deploy.resources.limits.pids",
        "dropped",
        "pod pid limits are the kubelet's setting",
    ),
    (
        "services.*.deploy.resources.reservations.cpus",
        "mapped",
        f"{CONTAINER}.resources.requests.cpu",
    ),
    (
        "services.*.deploy.resources.reservations.memory",
        "mapped",
        f"{CONTAINER}.resources.requests.memory",
    ),
    (
        "services.*.deploy.resources.reservations.devices",
        "dropped",
        "device requests need a device plugin's resource name",
    ),
    (
        "services.*.deploy.resources.reservations.generic_resources",
        "dropped",
        "swarm generic resources",
    ),
    (
        "services.*.deploy.resources.limits.devices",
        "dropped",
        "device requests need a device plugin's resource name",
    ),
    ("services.*.deploy.resources.limits.generic_resources", "dropped", "swarm generic resources"),
    (
        "services.*.deploy.restart_policy",
        "approximated",
        "Deployment pods always restart; a Job's restartPolicy is OnFailure or Never",
    ),
    (
        "services.*.deploy.update_config",
        "mapped",
        "Deployment.spec.strategy.rollingUpdate (start-first: maxSurge 1, maxUnavailable 0)",
    ),
    (
        "services.*.deploy.update_config.parallelism",
        "mapped",
        "Deployment.spec.strategy.rollingUpdate.maxUnavailable / maxSurge",
    ),
    (
        "services.*.deploy.update_config.delay",
        "dropped",
        "a rollout has no delay between batches (minReadySeconds is the nearest)",
    ),
    (
        "services.*.deploy.update_config.failure_action",
        "dropped",
        "a failed rollout stops (progressDeadlineSeconds); roll back with kubectl rollout undo",
    ),
    ("services.*.deploy.update_config.monitor", "mapped", "Deployment.spec.minReadySeconds"),
    ("services.*.deploy.update_config.max_failure_ratio", "dropped", "a swarm setting"),
    (
        "services.*.deploy.rollback_config",
        "dropped",
        "Kubernetes rolls back with kubectl rollout undo",
    ),
    ("services.*.deploy.labels", "mapped", "Deployment.metadata.annotations"),
    (
        "services.*.deploy.mode",
        "approximated",
        "replicated only: global (one per node) needs a DaemonSet",
    ),
    (
        "services.*.deploy.placement",
        "dropped",
        "swarm placement constraints name swarm nodes; use nodeSelector or affinity",
    ),
    (
        "services.*.deploy.endpoint_mode",
        "mapped",
        "Service.spec.clusterIP (dnsrr: None, a headless Service)",
    ),
    (
        "services.*.container_name",
        "approximated",
        "pod names are generated; the Service keeps the service's name",
    ),
    (
        "services.*.profiles",
        "approximated",
        "only the services of the enabled profiles are generated",
    ),
    (
        "services.*.build",
        "approximated",
        "Kubernetes pulls images: build and push them first (pycompose build --push); the image name is used",
    ),
    ("services.*.develop", "dropped", "local development only (watch)"),
    ("services.*.attach", "dropped", "a setting of the local CLI's output"),
    (
        "services.*.init",
        "dropped",
        "the kubelet runs no init process; use an image with one (tini)",
    ),
    ("services.*.ipc", "dropped", "only ipc: host has a Kubernetes form (hostIPC)"),
    ("services.*.pid", "dropped", "only pid: host has a Kubernetes form (hostPID)"),
    ("services.*.uts", "dropped", "the UTS namespace is the pod's"),
    ("services.*.userns_mode", "dropped", "user namespaces are the kubelet's (hostUsers)"),
    ("services.*.isolation", "dropped", "a Windows setting"),
    ("services.*.credential_spec", "dropped", "a Windows setting"),
    ("services.*.logging", "dropped", "the cluster collects container logs"),
    ("services.*.blkio_config", "dropped", "Kubernetes has no block-I/O limits"),
    ("services.*.cgroup", "dropped", "cgroups are the kubelet's"),
    ("services.*.cgroup_parent", "dropped", "cgroups are the kubelet's"),
    ("services.*.cpu_count", "dropped", "a Windows setting"),
    ("services.*.cpu_percent", "dropped", "a Windows setting"),
    ("services.*.cpu_period", "dropped", "the CFS period is the kubelet's"),
    ("services.*.cpu_quota", "dropped", "use cpus (limits.cpu)"),
    ("services.*.cpu_rt_period", "dropped", "Kubernetes has no real-time scheduling settings"),
    ("services.*.cpu_rt_runtime", "dropped", "Kubernetes has no real-time scheduling settings"),
    ("services.*.cpu_shares", "dropped", "the CPU weight follows requests.cpu"),
    ("services.*.cpuset", "dropped", "CPU pinning is the kubelet's CPU manager's"),
    ("services.*.memswap_limit", "dropped", "swap is the kubelet's setting"),
    ("services.*.mem_swappiness", "dropped", "swap is the kubelet's setting"),
    ("services.*.oom_kill_disable", "dropped", "the kubelet sets OOM behaviour from the QoS class"),
    ("services.*.oom_score_adj", "dropped", "the kubelet sets OOM scores from the QoS class"),
    ("services.*.pids_limit", "dropped", "pod pid limits are the kubelet's setting"),
    ("services.*.ulimits", "dropped", "Kubernetes has no per-container ulimits"),
    (
        "services.*.storage_opt",
        "dropped",
        "ephemeral storage is limited with resources.limits.ephemeral-storage",
    ),
    ("services.*.devices", "dropped", "host devices need a device plugin (or privileged)"),
    ("services.*.device_cgroup_rules", "dropped", "device access is the device plugins'"),
    ("services.*.gpus", "dropped", "GPUs need a device plugin's resource (nvidia.com/gpu)"),
    ("services.*.mac_address", "dropped", "pod interfaces are the network plugin's"),
    ("services.*.use_api_socket", "dropped", "there is no Docker socket in a cluster"),
    (
        "services.*.post_start",
        "approximated",
        f"{CONTAINER}.lifecycle.postStart (the first hook; its user, privileges and environment are the container's)",
    ),
    (
        "services.*.pre_stop",
        "approximated",
        f"{CONTAINER}.lifecycle.preStop (the first hook; its user, privileges and environment are the container's)",
    ),
    ("services.*.provider", "dropped", "provider services are run by a local plugin"),
    ("services.*.models", "dropped", "AI models are run by Docker Model Runner"),
    ("services.*.extends", "mapped", "resolved before mapping"),
)

RESOURCE_RULES = _rules(
    ("name", "mapped", "the label app.kubernetes.io/part-of"),
    (
        "volumes.*",
        "mapped",
        "a PersistentVolumeClaim (ReadWriteOnce; the size is --volume-size, Compose volumes have none)",
    ),
    ("volumes.*.name", "mapped", "the claim is named after the volume's key"),
    ("volumes.*.driver", "dropped", "the storage class chooses the provisioner"),
    ("volumes.*.driver_opts", "dropped", "the storage class chooses the provisioner's options"),
    ("volumes.*.labels", "mapped", "PersistentVolumeClaim.metadata.annotations"),
    ("volumes.*.external", "approximated", "the claim is expected to exist and is not generated"),
    ("networks.*", "mapped", "a NetworkPolicy: ingress only from pods on the same network"),
    (
        "networks.*.name",
        "mapped",
        "the NetworkPolicy network-<key> and the pods' label network.pycompose.io/<key>",
    ),
    ("networks.*.driver", "dropped", "the cluster's network plugin is the driver"),
    ("networks.*.driver_opts", "dropped", "the cluster's network plugin is the driver"),
    ("networks.*.ipam", "dropped", "pod addresses are assigned by the cluster's network plugin"),
    ("networks.*.external", "dropped", "networks are pod labels in Kubernetes"),
    (
        "networks.*.internal",
        "dropped",
        "egress is not restricted (a NetworkPolicy with egress rules would be)",
    ),
    ("networks.*.attachable", "dropped", "a swarm setting"),
    ("networks.*.labels", "dropped", "networks are pod labels in Kubernetes"),
    (
        "networks.*.enable_ipv4",
        "dropped",
        "the cluster's address families are the network plugin's",
    ),
    (
        "networks.*.enable_ipv6",
        "dropped",
        "the cluster's address families are the network plugin's",
    ),
    (
        "configs.*",
        "mapped",
        "a ConfigMap (file, environment and content sources, read at generate time)",
    ),
    (
        "configs.*.external",
        "approximated",
        "the ConfigMap is expected to exist and is not generated",
    ),
    ("configs.*.file", "mapped", "ConfigMap.data (the file read at generate time)"),
    ("configs.*.environment", "mapped", "ConfigMap.data (the variable read at generate time)"),
    ("configs.*.content", "mapped", "ConfigMap.data"),
    ("configs.*.labels", "mapped", "ConfigMap.metadata.annotations"),
    ("configs.*.template_driver", "dropped", "a swarm setting"),
    ("configs.*.name", "approximated", "the ConfigMap is named after the config's key"),
    (
        "secrets.*",
        "mapped",
        "a Secret of type Opaque (file and environment sources, read at generate time)",
    ),
    ("secrets.*.file", "mapped", "Secret.data (the file read at generate time)"),
    ("secrets.*.environment", "mapped", "Secret.data (the variable read at generate time)"),
    ("secrets.*.external", "approximated", "the Secret is expected to exist and is not generated"),
    ("secrets.*.labels", "mapped", "Secret.metadata.annotations"),
    ("secrets.*.driver", "dropped", "a swarm setting"),
    ("secrets.*.driver_opts", "dropped", "a swarm setting"),
    ("secrets.*.template_driver", "dropped", "a swarm setting"),
    ("secrets.*.name", "approximated", "the Secret is named after the secret's key"),
    ("models", "dropped", "AI models are run by Docker Model Runner"),
)

RULES: tuple[Rule, ...] = SERVICE_RULES + RESOURCE_RULES
_BY_PATTERN = {rule.pattern: rule for rule in RULES}

NO_RULE = "no Kubernetes equivalent is known to pycompose"


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(pattern) <= len(path) and all(
        p in ("*", k) for p, k in zip(pattern, path, strict=False)
    )


def rule_for(path: tuple[str, ...]) -> Rule | None:
    """The most specific rule whose pattern is a prefix of ``path`` (segments as str)."""
    best: Rule | None = None
    best_length = -1
    for rule in RULES:
        pattern = tuple(rule.pattern.split("."))
        if _matches(pattern, path) and len(pattern) > best_length:
            best, best_length = rule, len(pattern)
    return best


def rule_named(pattern: str) -> Rule:
    return _BY_PATTERN[pattern]


def markdown_table() -> str:
    """The rules as the Markdown table of docs/kubernetes.md."""
    rows = ["| Compose key | verdict | Kubernetes |", "| --- | --- | --- |"]
    for rule in RULES:
        text = rule.text.replace("|", "\\|")
        rows.append(f"| `{rule.pattern}` | {rule.verdict} | {text} |")
    return "\n".join(rows) + "\n"
