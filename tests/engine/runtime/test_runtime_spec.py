"""engine.runtime.spec: Docker's defaults and overrides, as plain data (no root needed)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.api.errors import InvalidParameter
from engine.api.models import ContainerCreate, HostConfig, ImageConfig
from engine.runtime.mounts import parse_bind, user_mounts
from engine.runtime.spec import (
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    SpecContext,
    build_spec,
    exec_process,
    merge_image_config,
)
from engine.runtime.users import resolve_user

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
)
GROUP = "root:x:0:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\naudio:x:29:\n"
CONTEXT = SpecContext(
    container_id="0123456789abcdef0123", rootfs="/r", passwd_text=PASSWD, group_text=GROUP
)


def spec_of(image: ImageConfig | None = None, **fields):
    return build_spec(
        ContainerCreate.model_validate(fields), image or ImageConfig(cmd=["sh"]), CONTEXT
    )


def test_default_spec_has_dockers_capabilities_for_root():
    caps = spec_of()["process"]["capabilities"]
    assert len(DEFAULT_CAPABILITIES) == 14
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == list(DEFAULT_CAPABILITIES)


def test_non_root_user_keeps_capabilities_only_in_the_bounding_set():
    process = spec_of(User="app")["process"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]}
    assert process["capabilities"] == {"bounding": list(DEFAULT_CAPABILITIES)}


def test_cap_add_and_drop_accept_short_names_and_all():
    spec = spec_of(HostConfig={"CapAdd": ["net_admin"], "CapDrop": ["CHOWN", "cap_kill"]})
    bounding = spec["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_CHOWN" not in bounding
    assert "CAP_KILL" not in bounding
    only = spec_of(HostConfig={"CapDrop": ["ALL"], "CapAdd": ["NET_BIND_SERVICE"]})
    assert only["process"]["capabilities"]["bounding"] == ["CAP_NET_BIND_SERVICE"]
    with pytest.raises(InvalidParameter, match="unknown capability"):
        spec_of(HostConfig={"CapAdd": ["FLY"]})


def test_masked_and_readonly_paths_and_default_mounts():
    spec = spec_of()
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert spec["linux"]["readonlyPaths"] == [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    by_target = {m["destination"]: m for m in spec["mounts"]}
    assert "size=67108864" in by_target["/dev/shm"]["options"]
    assert "ro" in by_target["/sys"]["options"]
    assert by_target["/dev/mqueue"]["type"] == "mqueue"
    assert by_target["/dev/pts"]["type"] == "devpts"


def test_readonly_paths_given_replace_the_defaults_and_are_checked():
    paths = ["/proc/sys", "/run/secrets/db"]
    assert spec_of(HostConfig={"ReadonlyPaths": paths})["linux"]["readonlyPaths"] == paths
    assert "readonlyPaths" not in spec_of(HostConfig={"ReadonlyPaths": []})["linux"]
    unconfined = spec_of(HostConfig={"SecurityOpt": ["systempaths=unconfined"]})
    assert "readonlyPaths" not in unconfined["linux"]
    privileged = spec_of(HostConfig={"Privileged": True, "ReadonlyPaths": paths})
    assert "readonlyPaths" not in privileged["linux"]
    for bad in (["etc/x"], ["/a/../../etc"], ["/a/./b"], ["/x\0y"], ["/x"] * 257):
        with pytest.raises(InvalidParameter, match="ReadonlyPaths"):
            spec_of(HostConfig={"ReadonlyPaths": bad})


def test_privileged_drops_confinement():
    spec = spec_of(HostConfig={"Privileged": True})
    assert "maskedPaths" not in spec["linux"]
    assert "seccomp" not in spec["linux"]
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["effective"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_default_seccomp_profile_is_selected_for_the_capabilities():
    seccomp = spec_of()["linux"]["seccomp"]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    assert seccomp["architectures"][0] == "SCMP_ARCH_X86_64"
    allowed = {
        n
        for rule in seccomp["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and "args" not in rule
        for n in rule["names"]
    }
    assert "read" in allowed and "arch_prctl" in allowed
    assert "mount" not in allowed and "unshare" not in allowed
    clone3 = [r for r in seccomp["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    admin = spec_of(HostConfig={"CapAdd": ["SYS_ADMIN"]})["linux"]["seccomp"]
    assert any("mount" in rule["names"] for rule in admin["syscalls"])
    assert not any(
        rule["names"] == ["clone3"] and rule["action"] == "SCMP_ACT_ERRNO"
        for rule in admin["syscalls"]
    )


def test_security_options():
    spec = spec_of(HostConfig={"SecurityOpt": ["seccomp=unconfined", "no-new-privileges:true"]})
    assert "seccomp" not in spec["linux"]
    assert spec["process"]["noNewPrivileges"] is True
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
    }
    custom = spec_of(HostConfig={"SecurityOpt": ["seccomp=" + json.dumps(profile)]})
    assert custom["linux"]["seccomp"]["syscalls"] == [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}
    ]
    with pytest.raises(InvalidParameter):
        spec_of(HostConfig={"SecurityOpt": ["bogus=1"]})


def test_entrypoint_and_cmd_are_resolved_as_docker_does():
    image = ImageConfig(entrypoint=["/entry"], cmd=["default"])
    assert spec_of(image)["process"]["args"] == ["/entry", "default"]
    assert spec_of(image, Cmd=["mine"])["process"]["args"] == ["/entry", "mine"]
    assert spec_of(image, Entrypoint=["/other"])["process"]["args"] == ["/other"]
    assert spec_of(image, Entrypoint=[], Cmd=["ls"])["process"]["args"] == ["ls"]
    assert spec_of(image, Entrypoint=[])["process"]["args"] == ["default"]
    assert spec_of(ImageConfig(cmd="echo $HOME"))["process"]["args"] == [
        "/bin/sh",
        "-c",
        "echo $HOME",
    ]
    assert spec_of(image, HostConfig={"Init": True})["process"]["args"][:2] == [
        "/sbin/docker-init",
        "--",
    ]
    with pytest.raises(InvalidParameter, match="no command"):
        spec_of(ImageConfig())


def test_environment_image_then_container_and_defaults():
    image = ImageConfig(env=["PATH=/image/bin", "A=image", "B=image"], cmd=["x"])
    env = spec_of(image, Env=["B=container", "C=c"], Tty=True)["process"]["env"]
    assert env == [
        "PATH=/image/bin",
        "HOSTNAME=0123456789ab",
        "TERM=xterm",
        "A=image",
        "B=container",
        "C=c",
    ]


def test_hostname_domainname_workdir_readonly_rootfs():
    spec = spec_of(
        Hostname="web",
        Domainname="example.org",
        WorkingDir="/srv",
        HostConfig={"ReadonlyRootfs": True},
    )
    assert (
        spec["hostname"] == "web" and spec["linux"]["sysctl"]["kernel.domainname"] == "example.org"
    )
    assert "domainname" not in spec  # runc 1.1 ignores it: the sysctl sets it
    host_uts = spec_of(Domainname="example.org", HostConfig={"UTSMode": "host"})
    assert "kernel.domainname" not in host_uts["linux"]["sysctl"]
    assert spec["process"]["cwd"] == "/srv"
    assert spec["root"] == {"path": "/r", "readonly": True}
    assert spec_of(ImageConfig(cmd=["x"], working_dir="/img"))["process"]["cwd"] == "/img"
    with pytest.raises(InvalidParameter, match="absolute"):
        spec_of(WorkingDir="relative")


def test_users_resolve_through_passwd_and_group():
    assert resolve_user("", PASSWD, GROUP).uid == 0
    # The primary group comes first, as Docker does since CVE-2022-36109.
    assert resolve_user("root", PASSWD, GROUP).additional_gids == (0, 10)
    by_name = resolve_user("nobody:nogroup", PASSWD, GROUP)
    by_number = resolve_user("65534:65534", PASSWD, GROUP)
    assert by_name == by_number
    assert (by_name.uid, by_name.gid, by_name.additional_gids) == (65534, 65534, (65534,))
    numeric = resolve_user("4242", PASSWD, GROUP)
    assert (numeric.uid, numeric.gid, numeric.additional_gids) == (4242, 0, (0,))
    app = resolve_user("app", PASSWD, GROUP, ["audio", "777"])
    assert app.additional_gids == (1000, 10, 29, 777)
    with pytest.raises(InvalidParameter, match="unable to find user ghost"):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(InvalidParameter, match="unable to find group"):
        resolve_user("app:ghosts", PASSWD, GROUP)


def test_resources_and_ulimits_and_sysctls():
    spec = spec_of(
        HostConfig={
            "Memory": 64 << 20,
            "NanoCpus": 1_500_000_000,
            "CpuShares": 512,
            "CpusetCpus": "0",
            "PidsLimit": 100,
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
            "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "100"},
        }
    )
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert resources["cpu"] == {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0"}
    assert resources["pids"] == {"limit": 100}
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
    assert spec["linux"]["sysctl"] == {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": "0 2147483647",
        "net.ipv4.ip_forward": "1",
        "kernel.shmmax": "100",
    }
    # Docker's network defaults: a namespace of the container's own only; the user's value wins
    assert spec_of(HostConfig={"NetworkMode": "host"})["linux"]["sysctl"] == {}
    joined = build_spec(
        ContainerCreate.model_validate({"HostConfig": {"NetworkMode": "container:x"}}),
        ImageConfig(cmd=["sh"]),
        dataclasses.replace(CONTEXT, namespace_paths={"network": "/proc/1/ns/net"}),
    )
    assert joined["linux"]["sysctl"] == {}
    none = spec_of(
        HostConfig={"NetworkMode": "none", "Sysctls": {"net.ipv4.ping_group_range": "1 1"}}
    )
    assert none["linux"]["sysctl"] == {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": "1 1",
        "net.ipv6.conf.all.disable_ipv6": "1",
    }
    unlimited = spec_of(HostConfig={"Memory": 1 << 30, "MemorySwap": -1})
    assert unlimited["linux"]["resources"]["memory"]["swap"] == -1
    with pytest.raises(InvalidParameter, match="not allowed"):
        spec_of(HostConfig={"Sysctls": {"vm.swappiness": "1"}})
    with pytest.raises(InvalidParameter, match="ipc mode host"):
        spec_of(HostConfig={"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}})


def test_namespaces_follow_the_modes():
    spec = build_spec(
        ContainerCreate.model_validate(
            {"HostConfig": {"PidMode": "host", "IpcMode": "container:x"}}
        ),
        ImageConfig(cmd=["x"]),
        SpecContext(
            container_id="c",
            rootfs="/r",
            namespace_paths={"network": "/run/netns/n", "ipc": "/proc/9/ns/ipc"},
        ),
    )
    namespaces = spec["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/n"} in namespaces
    assert {"type": "ipc", "path": "/proc/9/ns/ipc"} in namespaces
    assert not any(ns["type"] == "pid" for ns in namespaces)
    assert not any(m["destination"] == "/dev/shm" for m in spec["mounts"])
    v2 = build_spec(
        ContainerCreate(),
        ImageConfig(cmd=["x"]),
        SpecContext(container_id="c", rootfs="/r", cgroup_version=2),
    )
    assert {"type": "cgroup"} in v2["linux"]["namespaces"]


def test_default_device_rules_deny_all_then_allow_the_basic_nodes():
    rules = spec_of()["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules
    with_rule = spec_of(HostConfig={"DeviceCgroupRules": ["c 42:* rmw"]})
    assert with_rule["linux"]["resources"]["devices"][-1] == {
        "allow": True,
        "type": "c",
        "major": 42,
        "access": "rmw",
    }


def test_user_mounts_binds_volumes_tmpfs_and_shm_override():
    host_config = HostConfig.model_validate(
        {
            "Binds": ["/host/data:/data:ro", "cache:/cache"],
            "Mounts": [
                {
                    "Type": "tmpfs",
                    "Target": "/dev/shm",
                    "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o1777},
                }
            ],
            "Tmpfs": {"/run": "size=1m,exec"},
        }
    )
    mounts = user_mounts(host_config, {"cache": "/var/lib/pycompose/volumes/cache/_data"})
    assert mounts[0] == {
        "destination": "/data",
        "type": "bind",
        "source": "/host/data",
        "options": ["rbind", "rprivate", "ro"],
    }
    assert mounts[1]["source"].endswith("cache/_data")
    assert mounts[2]["options"] == ["noexec", "nosuid", "nodev", "size=1024", "mode=1777"]
    assert mounts[3]["options"] == ["nosuid", "nodev", "size=1m", "exec"]
    spec = build_spec(
        ContainerCreate(cmd=["x"]),
        ImageConfig(),
        SpecContext(container_id="c", rootfs="/r", mounts=mounts),
    )
    shm = [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]
    assert len(shm) == 1 and "size=1024" in shm[0]["options"]
    assert parse_bind("v:/x:nocopy,rshared").propagation == "rshared"
    with pytest.raises(InvalidParameter):
        parse_bind("/only")


def test_exec_process_overrides_env_user_workdir():
    spec = spec_of(Env=["A=1"])
    process = exec_process(
        spec,
        ["id"],
        env=["A=2", "B=3"],
        user="nobody",
        working_dir="/tmp",
        tty=True,
        passwd_text=PASSWD,
        group_text=GROUP,
    )
    assert process["args"] == ["id"] and process["cwd"] == "/tmp" and process["terminal"] is True
    assert "A=2" in process["env"] and "B=3" in process["env"] and "TERM=xterm" in process["env"]
    assert process["user"] == {"uid": 65534, "gid": 65534, "additionalGids": [65534]}
    assert "effective" not in process["capabilities"]


def test_merge_keeps_image_healthcheck_and_volumes():
    image = ImageConfig(volumes={"/data": {}}, healthcheck={"Test": ["CMD", "true"]}, cmd=["x"])
    merged = merge_image_config(ContainerCreate(), image)
    assert merged.volumes == {"/data": {}}
    assert merged.healthcheck is not None and merged.healthcheck.test == ["CMD", "true"]
    assert len(MASKED_PATHS) >= 10


def test_uts_host_drops_the_hostname_and_docker_aliases_are_read():
    spec = spec_of(Hostname="ignored", HostConfig={"UTSMode": "host"})
    assert "hostname" not in spec
    assert not any(ns["type"] == "uts" for ns in spec["linux"]["namespaces"])
