"""The volume mounts of a played container (for :mod:`compose.kube.play`): claims as named
volumes, emptyDirs as tmpfs or anonymous volumes, hostPaths as binds, ConfigMaps and
Secrets as the project's configs and secrets mounted where the pod mounts them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose.kube.names import dns_label

if TYPE_CHECKING:
    from compose.kube.play import Translator, Workload


def container_mounts(
    translator: Translator,
    workload: Workload,
    container: Any,
    path: tuple[Any, ...],
    service: dict[str, Any],
) -> None:
    volumes = {str(v.get("name")): v for v in workload.pod.get("volumes") or []}
    entries: list[dict[str, Any]] = []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        where = (*path, "volumeMounts", index)
        volume = volumes.get(str(mount.get("name")))
        if volume is None:
            translator.fail(
                workload.document,
                where,
                f"the volume {mount.get('name')} is not declared in the pod",
            )
            continue
        target = str(mount.get("mountPath"))
        read_only = bool(mount.get("readOnly"))
        sub_path = mount.get("subPath")
        if volume.get("persistentVolumeClaim"):
            claim = str(volume["persistentVolumeClaim"].get("claimName"))
            translator.tree.setdefault("volumes", {})[claim] = {}
            entry: dict[str, Any] = {
                "type": "volume",
                "source": claim,
                "target": target,
                "read_only": read_only,
            }
            if sub_path:
                entry["volume"] = {"subpath": str(sub_path)}
            entries.append(entry)
        elif "emptyDir" in volume:
            empty = volume.get("emptyDir") or {}
            if empty.get("medium") == "Memory":
                entry = {"type": "tmpfs", "target": target}
                if empty.get("sizeLimit"):
                    entry["tmpfs"] = {"size": memory_quantity(str(empty["sizeLimit"]))}
                entries.append(entry)
            else:
                entries.append({"type": "volume", "target": target})
        elif volume.get("hostPath"):
            entries.append(
                {
                    "type": "bind",
                    "source": str(volume["hostPath"].get("path")),
                    "target": target,
                    "read_only": read_only,
                }
            )
        elif volume.get("configMap") or volume.get("secret"):
            _file_mounts(translator, workload, volume, target, sub_path, where, service)
        else:
            translator.fail(
                workload.document,
                where,
                "kube play mounts claims, emptyDir, hostPath, configMap and secret volumes",
            )
    if entries:
        service["volumes"] = entries


def _file_mounts(
    translator: Translator,
    workload: Workload,
    volume: Any,
    target: str,
    sub_path: Any,
    where: tuple[Any, ...],
    service: dict[str, Any],
) -> None:
    is_config = bool(volume.get("configMap"))
    source = volume.get("configMap") or volume.get("secret")
    object_name = str(source.get("name") if is_config else source.get("secretName"))
    store = translator.config_maps if is_config else translator.secrets
    data = store.get(object_name)
    if data is None:
        if not source.get("optional"):
            translator.fail(
                workload.document,
                where,
                f"the {'ConfigMap' if is_config else 'Secret'} {object_name}"
                " is not in these manifests",
            )
        return
    default_mode = source.get("defaultMode")
    items = source.get("items") or [{"key": key, "path": key} for key in data]
    section = "configs" if is_config else "secrets"
    for item in items:
        key, relative = str(item.get("key")), str(item.get("path"))
        if key not in data:
            translator.fail(workload.document, where, f"the key {key} is not in {object_name}")
            continue
        if sub_path is not None and relative != str(sub_path):
            continue
        file_target = target if sub_path is not None else f"{target.rstrip('/')}/{relative}"
        resource = dns_label(f"{object_name}-{key}", letter_first=False)
        definitions = translator.tree.setdefault(section, {})
        if is_config:
            definitions[resource] = {"content": data[key].decode(errors="surrogateescape")}
        else:
            variable = "PYCOMPOSE_KUBE_SECRET_" + resource.upper().replace("-", "_")
            translator.environment[variable] = data[key].decode(errors="surrogateescape")
            definitions[resource] = {"environment": variable}
        entry: dict[str, Any] = {"source": resource, "target": file_target}
        mode = item.get("mode", default_mode)
        if mode is not None:
            entry["mode"] = int(mode)
        service.setdefault(section, []).append(entry)


_MEMORY_UNITS = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}


def memory_quantity(quantity: str) -> str:
    for unit, suffix in _MEMORY_UNITS.items():
        if quantity.endswith(unit):
            return quantity[: -len(unit)] + suffix
    return quantity
