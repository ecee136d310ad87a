"""A service's mounts as pod volumes and volume mounts (for :mod:`compose.kube.workload`).

Named volumes become claims, tmpfs mounts memory emptyDirs, ``configs``/``secrets``
their ConfigMap/Secret mounted file by file (subPath) with the same mode. A read-only
bind mount of a small directory becomes a ConfigMap holding a snapshot of its files,
with their modes (a CGI script stays executable); any other bind mount has no cluster
form and is dropped, with the reason in the explanation.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from compose.kube.names import dns_label

if TYPE_CHECKING:
    from compose.kube.workload import WorkloadBuilder


class MountBuilder:
    def __init__(self, owner: WorkloadBuilder) -> None:
        self.owner = owner
        self.context = owner.context
        self.service = owner.service

    def add(self, volume: dict[str, Any], mount: dict[str, Any]) -> None:
        name = f"vol-{len(self.owner.volumes)}"
        self.owner.volumes.append({"name": name, **volume})
        self.owner.mounts.append({"name": name, **mount})

    def build(self) -> None:
        for index, mount in enumerate(self.service.volumes or []):
            self.volume_entry(index, mount)
        for index, entry in enumerate(self.service.tmpfs or []):
            target, _, options = entry.partition(":")
            empty: dict[str, Any] = {"medium": "Memory"}
            for option in options.split(","):
                key, _, value = option.partition("=")
                if key == "size" and value:
                    empty["sizeLimit"] = _size_quantity(value)
            self.add({"emptyDir": empty}, {"mountPath": target})
            if options and "size=" not in options:
                self.owner.note(
                    ("tmpfs", index),
                    "approximated",
                    "mount options other than size are the kubelet's",
                )
        if self.service.shm_size:
            from compose.kube.workload import quantity_bytes

            self.add(
                {
                    "emptyDir": {
                        "medium": "Memory",
                        "sizeLimit": quantity_bytes(self.service.shm_size),
                    }
                },
                {"mountPath": "/dev/shm"},
            )
        self.file_mounts("configs")
        self.file_mounts("secrets")

    def volume_entry(self, index: int, mount: Any) -> None:
        target = mount.target
        read_only = bool(mount.read_only)
        extra: dict[str, Any] = {"readOnly": True} if read_only else {}
        if mount.type == "volume" and mount.source:
            volume = self.context.project.volumes.get(mount.source)
            claim = dns_label(mount.source, letter_first=False)
            if volume is not None and volume.external and volume.name:
                claim = dns_label(volume.name, letter_first=False)
            if mount.volume and mount.volume.subpath:
                extra["subPath"] = mount.volume.subpath
            self.add(
                {"persistentVolumeClaim": {"claimName": claim}}, {"mountPath": target, **extra}
            )
            self.owner.note(("volumes", index), "mapped", f"the PersistentVolumeClaim {claim}")
        elif mount.type == "volume":
            self.add({"emptyDir": {}}, {"mountPath": target, **extra})
            self.owner.note(
                ("volumes", index),
                "approximated",
                "an anonymous volume: an emptyDir, gone with the pod",
            )
        elif mount.type == "tmpfs":
            empty: dict[str, Any] = {"medium": "Memory"}
            if mount.tmpfs and mount.tmpfs.size:
                from compose.kube.workload import quantity_bytes

                empty["sizeLimit"] = quantity_bytes(mount.tmpfs.size)
            self.add({"emptyDir": empty}, {"mountPath": target})
            self.owner.note(("volumes", index), "mapped", "an emptyDir of medium Memory")
        elif mount.type == "bind":
            self.bind(index, mount)
        else:
            self.owner.note(
                ("volumes", index), "dropped", f"a mount of type {mount.type} has no cluster form"
            )

    def bind(self, index: int, mount: Any) -> None:
        from compose.kube.generate import MAX_CONFIGMAP_BYTES, MAX_CONFIGMAP_FILES, _config_map

        if not mount.read_only:
            self.owner.note(
                ("volumes", index),
                "dropped",
                "a writable bind mount shares a host directory, which a cluster does not have;"
                " use a named volume",
            )
            return
        tree = self.context.files.small_tree(mount.source, MAX_CONFIGMAP_FILES, MAX_CONFIGMAP_BYTES)
        if tree is None:
            self.owner.note(
                ("volumes", index),
                "dropped",
                "a bind mount of a host path that is not a directory of at most"
                f" {MAX_CONFIGMAP_FILES} files and 1 MiB",
            )
            return
        name = f"{self.owner.kname}-files-{index}"[:63]
        data = {f"f{number}": item.content for number, item in enumerate(tree)}
        items = [
            {"key": f"f{number}", "path": item.path, "mode": item.mode & 0o777}
            for number, item in enumerate(tree)
        ]
        self.owner.extra_data.append(
            _config_map(self.context.metadata(name, owner=self.owner.kname), data)
        )
        self.add(
            {"configMap": {"name": name, "items": items}},
            {"mountPath": mount.target, "readOnly": True},
        )
        self.owner.note(
            ("volumes", index),
            "approximated",
            f"the ConfigMap {name}: a snapshot of the directory's {len(tree)} files"
            " at generate time, read-only",
        )

    def file_mounts(self, section: str) -> None:
        from compose.kube.generate import config_key

        entries = getattr(self.service, section) or []
        definitions = getattr(self.context.project, section)
        for entry in entries:
            source = entry.source or ""
            definition = definitions.get(source)
            target = entry.target or (
                f"/run/secrets/{source}" if section == "secrets" else f"/{source}"
            )
            if section == "secrets" and not target.startswith("/"):
                target = f"/run/secrets/{target}"
            object_name = dns_label(source, letter_first=False)
            if definition is not None and definition.external and definition.name:
                object_name = dns_label(definition.name, letter_first=False)
            item: dict[str, Any] = {"key": config_key(source), "path": PurePosixPath(target).name}
            if entry.mode is not None:
                item["mode"] = entry.mode & 0o777
            kind = "configMap" if section == "configs" else "secret"
            reference = (
                {"name": object_name} if kind == "configMap" else {"secretName": object_name}
            )
            self.add(
                {kind: {**reference, "items": [item]}},
                {"mountPath": target, "subPath": item["path"], "readOnly": True},
            )
            if entry.gid is not None and entry.gid.isdigit():
                self.owner.fs_group = int(entry.gid)


def _size_quantity(value: str) -> str:
    text = value.strip().lower()
    for suffix, unit in (("g", "Gi"), ("m", "Mi"), ("k", "Ki")):
        if text.endswith(suffix) and text[:-1].isdigit():
            return text[:-1] + unit
    return text if text.isdigit() else "64Mi"
