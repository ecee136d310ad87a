"""The table of every key of the Compose Specification: honoured, refused or ignored, and why.

:data:`KEYS` is keyed by the key's path in the specification's schema
(``services.*.deploy.resources.limits.pids``: ``*`` is a name, ``[]`` an item of a list).
Where the engine decides (cgroup files of this host, a block device), the engine refuses
with the option's name; such keys are honoured here, with the condition in their reason.
"""

from __future__ import annotations

import dataclasses
import enum


class Status(enum.Enum):
    HONOURED = "honoured"
    REFUSED = "refused"
    IGNORED = "ignored"  # as docker compose ignores it: a warning when used


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    status: Status
    why: str


def _h(why: str) -> Key:
    return Key(Status.HONOURED, why)


def _r(why: str) -> Key:
    return Key(Status.REFUSED, why)


def _i(why: str) -> Key:
    return Key(Status.IGNORED, why)


_SWARM = "a swarm setting; docker compose ignores it outside swarm"
_WINDOWS = "Windows containers only; Docker on Linux discards it"
_BUILD_UNSUPPORTED = "pycompose's builder has no such option"
_COPIED = "copied into the container before it starts (uid, gid and mode honoured; read-only)"
_NO_GPU = "the engine has no device-request runtime (no GPU support)"
_LOADER = "read by the loader"
_SERVICE_BUILD = "a POST /build parameter"

KEYS: dict[str, Key] = {
    # --- top level ------------------------------------------------------------------------
    "version": _i("obsolete: docker compose warns and ignores it, as pycompose does"),
    "name": _h("the project name"),
    "include": _h(_LOADER),
    "include[].path": _h(_LOADER),
    "include[].project_directory": _h(_LOADER),
    "include[].env_file": _h(_LOADER),
    "services": _h("the services"),
    "networks": _h("the project's networks"),
    "volumes": _h("the project's volumes"),
    "secrets": _h("the project's secrets, copied into the services that use them"),
    "configs": _h("the project's configs, copied into the services that use them"),
    "models": _r("models need Docker Model Runner, which pycompose does not have"),
    "models.*.model": _r("models need Docker Model Runner"),
    "models.*.name": _r("models need Docker Model Runner"),
    "models.*.context_size": _r("models need Docker Model Runner"),
    "models.*.runtime_flags": _r("models need Docker Model Runner"),
    # --- secrets and configs (the definitions) --------------------------------------------
    **{
        f"{kind}.*.{field}": _h("read when a service that uses it is created or compared")
        for kind in ("secrets", "configs")
        for field in ("name", "file", "environment", "labels")
    },
    **{
        f"{kind}.*.{field}": _h(
            "swarm only: a service that uses an external one is refused, as docker compose does"
        )
        for kind in ("secrets", "configs")
        for field in ("external", "external.name")
    },
    "configs.*.content": _h("read when a service that uses it is created or compared"),
    "secrets.*.driver": _r(_SWARM + "; pycompose refuses it"),
    "secrets.*.driver_opts": _r(_SWARM + "; pycompose refuses it"),
    "secrets.*.template_driver": _r(_SWARM + "; pycompose refuses it"),
    "configs.*.template_driver": _r(_SWARM + "; pycompose refuses it"),
    # --- networks -------------------------------------------------------------------------
    "networks.*.name": _h("the network's name"),
    "networks.*.driver": _h("bridge (the engine refuses other drivers)"),
    "networks.*.driver_opts": _h(
        "bridge.name, driver.mtu and bridge.enable_ip_masquerade; the engine refuses others"
    ),
    "networks.*.attachable": _h("Attachable"),
    "networks.*.enable_ipv4": _h("EnableIPv4"),
    "networks.*.enable_ipv6": _h("EnableIPv6"),
    "networks.*.external": _h("an existing network, never created or removed"),
    "networks.*.external.name": _h("an existing network's name"),
    "networks.*.internal": _h("Internal: no route out"),
    "networks.*.labels": _h("Labels"),
    "networks.*.ipam": _h("IPAM"),
    "networks.*.ipam.driver": _h("default (the engine refuses other drivers)"),
    "networks.*.ipam.options": _h("IPAM Options"),
    "networks.*.ipam.config": _h("IPAM Config"),
    "networks.*.ipam.config[].subnet": _h("Subnet"),
    "networks.*.ipam.config[].gateway": _h("Gateway"),
    "networks.*.ipam.config[].ip_range": _h("IPRange"),
    "networks.*.ipam.config[].aux_addresses": _h(
        "AuxiliaryAddresses: reserved, never given to a container"
    ),
    # --- volumes --------------------------------------------------------------------------
    "volumes.*.name": _h("the volume's name"),
    "volumes.*.driver": _h("local (the engine refuses other drivers)"),
    "volumes.*.driver_opts": _h(
        "local driver: type tmpfs (o: size, uid, gid, mode, nr_inodes) or type none with o bind "
        "and an existing device; the engine refuses block file systems and other options"
    ),
    "volumes.*.external": _h("an existing volume, never created or removed"),
    "volumes.*.external.name": _h("an existing volume's name"),
    "volumes.*.labels": _h("Labels"),
    # --- services -------------------------------------------------------------------------
    "services.*.annotations": _h("HostConfig.Annotations, the OCI spec's annotations"),
    "services.*.attach": _h("whether `up` attaches to the service's output"),
    "services.*.blkio_config": _h("HostConfig.Blkio*"),
    "services.*.blkio_config.weight": _h(
        "HostConfig.BlkioWeight (the engine refuses it where the cgroup has no blkio weight)"
    ),
    "services.*.blkio_config.weight_device": _h("HostConfig.BlkioWeightDevice (as weight)"),
    "services.*.blkio_config.weight_device[].path": _h("a block device of the host"),
    "services.*.blkio_config.weight_device[].weight": _h("10-1000"),
    **{
        f"services.*.blkio_config.device_{way}_{unit}{suffix}": _h(
            f"HostConfig.BlkioDevice{way.capitalize()}{'Bps' if unit == 'bps' else 'IOps'}"
            ": the cgroup's throttle"
        )
        for way in ("read", "write")
        for unit in ("bps", "iops")
        for suffix in ("", "[].path", "[].rate")
    },
    "services.*.build": _h("the image is built through POST /build"),
    "services.*.build.context": _h("the build context (a directory)"),
    "services.*.build.dockerfile": _h(_SERVICE_BUILD),
    "services.*.build.dockerfile_inline": _h("sent as a Dockerfile in the context"),
    "services.*.build.args": _h(_SERVICE_BUILD),
    "services.*.build.labels": _h(_SERVICE_BUILD),
    "services.*.build.target": _h(_SERVICE_BUILD),
    "services.*.build.no_cache": _h(_SERVICE_BUILD),
    "services.*.build.pull": _h(_SERVICE_BUILD),
    "services.*.build.network": _h(_SERVICE_BUILD),
    "services.*.build.shm_size": _h(_SERVICE_BUILD),
    "services.*.build.extra_hosts": _h(_SERVICE_BUILD),
    "services.*.build.tags": _h("tagged after the build"),
    **{
        f"services.*.build.{field}": _r(_BUILD_UNSUPPORTED)
        for field in (
            "additional_contexts",
            "cache_from",
            "cache_to",
            "entitlements",
            "platforms",
            "privileged",
            "provenance",
            "sbom",
            "ssh",
            "ulimits",
            "ulimits.*.soft",
            "ulimits.*.hard",
            "secrets",
            "secrets[].source",
            "secrets[].target",
            "secrets[].uid",
            "secrets[].gid",
            "secrets[].mode",
        )
    },
    "services.*.build.isolation": _r(_WINDOWS),
    "services.*.cap_add": _h("HostConfig.CapAdd"),
    "services.*.cap_drop": _h("HostConfig.CapDrop"),
    "services.*.cgroup": _h("HostConfig.CgroupnsMode (private needs cgroup v2: the engine says)"),
    "services.*.cgroup_parent": _h("HostConfig.CgroupParent: the container's cgroup path"),
    "services.*.command": _h("Cmd"),
    "services.*.configs": _h(_COPIED),
    **{
        f"services.*.configs[].{f}": _h(_COPIED) for f in ("source", "target", "uid", "gid", "mode")
    },
    "services.*.container_name": _h("the container's name"),
    "services.*.cpu_count": _r(_WINDOWS),
    "services.*.cpu_percent": _r(_WINDOWS),
    "services.*.cpu_period": _h("HostConfig.CpuPeriod: cpu.cfs_period_us / cpu.max"),
    "services.*.cpu_quota": _h("HostConfig.CpuQuota: cpu.cfs_quota_us / cpu.max"),
    "services.*.cpu_rt_period": _h(
        "HostConfig.CpuRealtimePeriod (needs CONFIG_RT_GROUP_SCHED on cgroup v1: the engine says)"
    ),
    "services.*.cpu_rt_runtime": _h("HostConfig.CpuRealtimeRuntime (as cpu_rt_period)"),
    "services.*.cpu_shares": _h("HostConfig.CpuShares"),
    "services.*.cpus": _h("HostConfig.NanoCpus"),
    "services.*.cpuset": _h("HostConfig.CpusetCpus"),
    "services.*.credential_spec": _r(_WINDOWS),
    "services.*.credential_spec.config": _r(_WINDOWS),
    "services.*.credential_spec.file": _r(_WINDOWS),
    "services.*.credential_spec.registry": _r(_WINDOWS),
    "services.*.depends_on": _h("start order and conditions"),
    "services.*.depends_on.*.condition": _h("started, healthy or completed successfully"),
    "services.*.depends_on.*.required": _h("a missing optional dependency is skipped"),
    "services.*.depends_on.*.restart": _h("restarted with its dependency"),
    "services.*.deploy": _h("the parts docker compose applies outside swarm"),
    "services.*.deploy.endpoint_mode": _i(_SWARM),
    "services.*.deploy.labels": _i(_SWARM + " (labels of the swarm service)"),
    "services.*.deploy.mode": _i(_SWARM),
    "services.*.deploy.placement": _i(_SWARM),
    "services.*.deploy.placement.constraints": _i(_SWARM),
    "services.*.deploy.placement.max_replicas_per_node": _i(_SWARM),
    "services.*.deploy.placement.preferences": _i(_SWARM),
    "services.*.deploy.placement.preferences[].spread": _i(_SWARM),
    "services.*.deploy.replicas": _h("the number of containers"),
    "services.*.deploy.resources": _h("limits and memory reservation"),
    "services.*.deploy.resources.limits": _h("over mem_limit, cpus and pids_limit"),
    "services.*.deploy.resources.limits.cpus": _h("HostConfig.NanoCpus"),
    "services.*.deploy.resources.limits.memory": _h("HostConfig.Memory"),
    "services.*.deploy.resources.limits.pids": _h("HostConfig.PidsLimit"),
    "services.*.deploy.resources.reservations": _h("memory; devices are refused"),
    "services.*.deploy.resources.reservations.cpus": _i(_SWARM + " (a scheduling hint)"),
    "services.*.deploy.resources.reservations.memory": _h("HostConfig.MemoryReservation"),
    "services.*.deploy.resources.reservations.devices": _r(_NO_GPU),
    **{
        f"services.*.deploy.resources.reservations.devices[].{field}": _r(_NO_GPU)
        for field in ("capabilities", "count", "device_ids", "driver", "options")
    },
    "services.*.deploy.resources.reservations.generic_resources": _i(_SWARM),
    **{
        f"services.*.deploy.resources.reservations.generic_resources[].{field}": _i(_SWARM)
        for field in (
            "discrete_resource_spec",
            "discrete_resource_spec.kind",
            "discrete_resource_spec.value",
        )
    },
    "services.*.deploy.restart_policy": _h("HostConfig.RestartPolicy, over restart"),
    "services.*.deploy.restart_policy.condition": _h(
        "none (no), on-failure or any (always); unset: no restart, as docker compose"
    ),
    "services.*.deploy.restart_policy.max_attempts": _h("MaximumRetryCount"),
    "services.*.deploy.restart_policy.delay": _i(_SWARM),
    "services.*.deploy.restart_policy.window": _i(_SWARM),
    "services.*.deploy.rollback_config": _i(_SWARM),
    "services.*.deploy.update_config": _i(_SWARM),
    **{
        f"services.*.deploy.{section}.{field}": _i(_SWARM)
        for section in ("rollback_config", "update_config")
        for field in (
            "delay",
            "failure_action",
            "max_failure_ratio",
            "monitor",
            "order",
            "parallelism",
        )
    },
    "services.*.develop": _h("read by `watch` and `up --watch`; `up` alone ignores it"),
    "services.*.develop.watch": _h("read by `watch`"),
    **{
        f"services.*.develop.watch[].{field}": _h("read by `watch`")
        for field in (
            "action",
            "exec",
            "exec.command",
            "exec.environment",
            "exec.privileged",
            "exec.user",
            "exec.working_dir",
            "ignore",
            "include",
            "initial_sync",
            "path",
            "target",
        )
    },
    "services.*.device_cgroup_rules": _h("HostConfig.DeviceCgroupRules: the device cgroup"),
    "services.*.devices": _h("HostConfig.Devices"),
    "services.*.devices[].source": _h("a device of the host"),
    "services.*.devices[].target": _h("its path in the container"),
    "services.*.devices[].permissions": _h("the cgroup permissions (rwm)"),
    "services.*.dns": _h("HostConfig.Dns"),
    "services.*.dns_opt": _h("HostConfig.DnsOptions"),
    "services.*.dns_search": _h("HostConfig.DnsSearch"),
    "services.*.domainname": _h("Domainname"),
    "services.*.entrypoint": _h("Entrypoint"),
    "services.*.env_file": _h(_LOADER),
    "services.*.env_file[].path": _h(_LOADER),
    "services.*.env_file[].required": _h(_LOADER),
    "services.*.env_file[].format": _h(_LOADER),
    "services.*.environment": _h("Env"),
    "services.*.expose": _h("ExposedPorts"),
    "services.*.extends": _h(_LOADER),
    "services.*.extends.file": _h(_LOADER),
    "services.*.extends.service": _h(_LOADER),
    "services.*.external_links": _h(
        "HostConfig.Links: the name resolves in this container (a shared network is needed)"
    ),
    "services.*.extra_hosts": _h("HostConfig.ExtraHosts: /etc/hosts"),
    "services.*.gpus": _r(_NO_GPU),
    **{
        f"services.*.gpus[].{field}": _r(_NO_GPU)
        for field in ("capabilities", "count", "device_ids", "driver", "options")
    },
    "services.*.group_add": _h("HostConfig.GroupAdd"),
    "services.*.healthcheck": _h("Healthcheck"),
    **{
        f"services.*.healthcheck.{field}": _h("Healthcheck")
        for field in (
            "disable",
            "interval",
            "retries",
            "start_interval",
            "start_period",
            "test",
            "timeout",
        )
    },
    "services.*.hostname": _h("Hostname"),
    "services.*.image": _h("Image"),
    "services.*.init": _h("HostConfig.Init"),
    "services.*.ipc": _h("HostConfig.IpcMode"),
    "services.*.isolation": _r(_WINDOWS),
    "services.*.label_file": _h(_LOADER),
    "services.*.labels": _h("Labels"),
    "services.*.links": _h("HostConfig.Links: service, alias and replica names resolve here"),
    "services.*.logging": _h("HostConfig.LogConfig"),
    "services.*.logging.driver": _h("json-file, local or none (other drivers are refused)"),
    "services.*.logging.options": _h("max-size, max-file"),
    "services.*.mac_address": _h("the endpoint's MacAddress"),
    "services.*.mem_limit": _h("HostConfig.Memory"),
    "services.*.mem_reservation": _h("HostConfig.MemoryReservation"),
    "services.*.mem_swappiness": _h(
        "HostConfig.MemorySwappiness (cgroup v1 only: the engine refuses it on v2)"
    ),
    "services.*.memswap_limit": _h("HostConfig.MemorySwap"),
    "services.*.models": _r("models need Docker Model Runner, which pycompose does not have"),
    "services.*.models.*.endpoint_var": _r("models need Docker Model Runner"),
    "services.*.models.*.model_var": _r("models need Docker Model Runner"),
    "services.*.network_mode": _h("HostConfig.NetworkMode"),
    "services.*.networks": _h("EndpointsConfig, network connect"),
    "services.*.networks.*.aliases": _h("the endpoint's Aliases (DNS names)"),
    "services.*.networks.*.driver_opts": _h("the endpoint's DriverOpts"),
    "services.*.networks.*.gw_priority": _r("needs Engine API 1.48; the engine speaks 1.41"),
    "services.*.networks.*.interface_name": _r("needs Engine API 1.49; the engine speaks 1.41"),
    "services.*.networks.*.ipv4_address": _h("the endpoint's IPAMConfig"),
    "services.*.networks.*.ipv6_address": _h("the endpoint's IPAMConfig"),
    "services.*.networks.*.link_local_ips": _r("the engine assigns no link-local addresses"),
    "services.*.networks.*.mac_address": _h("the endpoint's MacAddress"),
    "services.*.networks.*.priority": _h("the order the networks are connected in"),
    "services.*.oom_kill_disable": _h("HostConfig.OomKillDisable"),
    "services.*.oom_score_adj": _h("HostConfig.OomScoreAdj: /proc/<pid>/oom_score_adj"),
    "services.*.pid": _h("HostConfig.PidMode"),
    "services.*.pids_limit": _h("HostConfig.PidsLimit"),
    "services.*.platform": _h("the platform pulled (up, pull); the engine refuses unknown ones"),
    "services.*.ports": _h("PortBindings"),
    "services.*.ports[].target": _h("PortBindings"),
    "services.*.ports[].published": _h("PortBindings"),
    "services.*.ports[].host_ip": _h("PortBindings"),
    "services.*.ports[].protocol": _h("PortBindings"),
    "services.*.ports[].mode": _i(_SWARM + " (ingress or host)"),
    "services.*.ports[].name": _i("docker compose sends no port names to the engine"),
    "services.*.ports[].app_protocol": _i("docker compose sends no application protocol"),
    "services.*.post_start": _h("an exec after the container starts; failing fails `up`"),
    "services.*.pre_stop": _h("an exec before `stop`/`down` stops the container"),
    **{
        f"services.*.{hook}[].{field}": _h("the hook's exec")
        for hook in ("post_start", "pre_stop")
        for field in ("command", "environment", "privileged", "user", "working_dir")
    },
    "services.*.privileged": _h("HostConfig.Privileged"),
    "services.*.profiles": _h(_LOADER),
    "services.*.provider": _r(
        "provider services need a provider plugin, which pycompose does not run"
    ),
    "services.*.provider.type": _r("provider services need a provider plugin"),
    "services.*.provider.options": _r("provider services need a provider plugin"),
    "services.*.pull_policy": _h(
        "always, never, missing, build; daily, weekly, every_<duration> against the image's "
        "Metadata.LastTagTime; refresh and other words as missing (as docker compose)"
    ),
    "services.*.pull_refresh_after": _i("not printed by docker compose 2.40"),
    "services.*.read_only": _h("HostConfig.ReadonlyRootfs"),
    "services.*.restart": _h("HostConfig.RestartPolicy"),
    "services.*.runtime": _h("runc, the engine's one runtime (others are refused)"),
    "services.*.scale": _h("the number of containers"),
    "services.*.secrets": _h(_COPIED),
    **{
        f"services.*.secrets[].{f}": _h(_COPIED) for f in ("source", "target", "uid", "gid", "mode")
    },
    "services.*.security_opt": _h("HostConfig.SecurityOpt"),
    "services.*.shm_size": _h("HostConfig.ShmSize"),
    "services.*.stdin_open": _h("OpenStdin"),
    "services.*.stop_grace_period": _h("StopTimeout"),
    "services.*.stop_signal": _h("StopSignal"),
    "services.*.storage_opt": _r(
        "the engine's overlay storage has no per-container quota (Docker needs xfs with pquota)"
    ),
    "services.*.sysctls": _h("HostConfig.Sysctls"),
    "services.*.tmpfs": _h("HostConfig.Tmpfs"),
    "services.*.tty": _h("Tty"),
    "services.*.ulimits": _h("HostConfig.Ulimits"),
    "services.*.ulimits.*.soft": _h("HostConfig.Ulimits"),
    "services.*.ulimits.*.hard": _h("HostConfig.Ulimits"),
    "services.*.use_api_socket": _h("the engine's socket bound at /var/run/docker.sock"),
    "services.*.user": _h("User"),
    "services.*.userns_mode": _h("host (the engine does not remap users: others are refused)"),
    "services.*.uts": _h("HostConfig.UTSMode"),
    "services.*.volumes": _h("Binds and Mounts"),
    "services.*.volumes[].type": _h("bind, volume or tmpfs (the engine refuses others)"),
    "services.*.volumes[].source": _h("Binds and Mounts"),
    "services.*.volumes[].target": _h("Binds and Mounts"),
    "services.*.volumes[].read_only": _h("Binds and Mounts"),
    "services.*.volumes[].consistency": _i("macOS only; Docker on Linux ignores it"),
    "services.*.volumes[].bind": _h("BindOptions"),
    "services.*.volumes[].bind.propagation": _h("BindOptions.Propagation"),
    "services.*.volumes[].bind.create_host_path": _h("BindOptions.CreateMountpoint"),
    "services.*.volumes[].bind.recursive": _r("the engine mounts binds recursively only"),
    "services.*.volumes[].bind.selinux": _r("SELinux relabelling is not done by the engine"),
    "services.*.volumes[].volume": _h("VolumeOptions"),
    "services.*.volumes[].volume.nocopy": _h("VolumeOptions.NoCopy"),
    "services.*.volumes[].volume.subpath": _h("VolumeOptions.Subpath"),
    "services.*.volumes[].volume.labels": _h("VolumeOptions.Labels"),
    "services.*.volumes[].tmpfs": _h("TmpfsOptions"),
    "services.*.volumes[].tmpfs.size": _h("TmpfsOptions.SizeBytes"),
    "services.*.volumes[].tmpfs.mode": _h("TmpfsOptions.Mode"),
    "services.*.volumes[].image": _r("the engine has no image mounts"),
    "services.*.volumes[].image.subpath": _r("the engine has no image mounts"),
    "services.*.volumes_from": _h("HostConfig.VolumesFrom"),
    "services.*.working_dir": _h("WorkingDir"),
}
