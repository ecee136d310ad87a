"""Rules the Kubernetes API server enforces that its OpenAPI schema does not carry:
names, label syntax, quantities, selectors that match their template, mounts that
name a declared volume, Service ports. ``generate`` runs them on its own output, and
``kube play`` on what it is given.

    api_server_problems(objects) -> list[str]     (empty when every object passes)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from compose.kube.names import (
    CONFIG_KEY,
    is_dns1035_label,
    is_dns_label,
    is_label_key,
    is_label_value,
    is_port_name,
    is_subdomain,
)

# resource.Quantity: a signed decimal with an optional binary or decimal suffix
QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?\Z")
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def api_server_problems(objects: Iterable[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for document in objects:
        kind = str(document.get("kind", "?"))
        metadata = document.get("metadata") or {}
        name = str(metadata.get("name", ""))
        where = f"{kind} {name!r}"
        if (kind, name) in seen:
            problems.append(f"{where}: two objects of this kind have this name")
        seen.add((kind, name))
        _check_name(kind, name, where, problems)
        _check_labels(metadata.get("labels") or {}, where, problems)
        _check_annotations(metadata.get("annotations") or {}, where, problems)
        if kind in _WORKLOADS or kind == "Pod":
            _check_workload(document, where, problems)
        elif kind == "Service":
            _check_service(document.get("spec") or {}, where, problems)
        elif kind in ("ConfigMap", "Secret"):
            for section in ("data", "binaryData", "stringData"):
                for key in document.get(section) or {}:
                    if len(key) > 253 or not CONFIG_KEY.match(key):
                        problems.append(f"{where}: {section} key {key!r} is not [-._a-zA-Z0-9]+")
        elif kind == "PersistentVolumeClaim":
            storage = (
                ((document.get("spec") or {}).get("resources") or {}).get("requests") or {}
            ).get("storage")
            if storage is None or not QUANTITY.match(str(storage)):
                problems.append(f"{where}: spec.resources.requests.storage must be a quantity")
        elif kind == "NetworkPolicy":
            _check_selector_syntax(
                (document.get("spec") or {}).get("podSelector") or {}, where, problems
            )
    return problems


def _check_name(kind: str, name: str, where: str, problems: list[str]) -> None:
    if kind == "Service":
        ok = is_dns1035_label(name)
        rule = "an RFC 1035 label (a-z, 0-9, '-', starting with a letter, at most 63)"
    elif kind in ("Namespace", "StatefulSet", "Job"):
        ok = is_dns_label(name)
        rule = "a DNS label (a-z, 0-9, '-', at most 63)"
    else:
        ok = is_subdomain(name)
        rule = "a DNS subdomain (a-z, 0-9, '-', '.', at most 253)"
    if not ok:
        problems.append(f"{where}: the name must be {rule}")


def _check_labels(labels: dict[str, Any], where: str, problems: list[str]) -> None:
    for key, value in labels.items():
        if not is_label_key(str(key)):
            problems.append(f"{where}: label key {key!r} is not valid")
        if not isinstance(value, str) or not is_label_value(value):
            problems.append(
                f"{where}: label {key}={value!r}: values are at most 63 of [-A-Za-z0-9_.]"
            )


def _check_annotations(annotations: dict[str, Any], where: str, problems: list[str]) -> None:
    for key, value in annotations.items():
        if not is_label_key(str(key)):
            problems.append(f"{where}: annotation key {key!r} is not valid")
        if not isinstance(value, str):
            problems.append(f"{where}: annotation {key} must be a string")


def _check_selector_syntax(selector: dict[str, Any], where: str, problems: list[str]) -> None:
    _check_labels(selector.get("matchLabels") or {}, where + " selector", problems)


def _check_workload(document: dict[str, Any], where: str, problems: list[str]) -> None:
    kind = document["kind"]
    spec = document.get("spec") or {}
    if kind == "Pod":
        pod = spec
        template_labels = (document.get("metadata") or {}).get("labels") or {}
    else:
        template = spec.get("template") or {}
        pod = template.get("spec") or {}
        template_labels = (template.get("metadata") or {}).get("labels") or {}
        _check_labels(template_labels, where + " template", problems)
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        _check_annotations(annotations, where + " template", problems)
        selector = (spec.get("selector") or {}).get("matchLabels")
        if kind != "Job" or selector is not None:
            if not selector:
                problems.append(f"{where}: spec.selector.matchLabels is required")
            for key, value in (selector or {}).items():
                if template_labels.get(key) != value:
                    problems.append(
                        f"{where}: the selector {key}={value} does not match the template's labels"
                    )
        restart = pod.get("restartPolicy", "Always")
        if kind == "Job" and restart not in ("Never", "OnFailure"):
            problems.append(f"{where}: a Job's restartPolicy must be Never or OnFailure")
        if kind != "Job" and restart != "Always":
            problems.append(f"{where}: a {kind}'s restartPolicy must be Always")
    _check_pod(pod, where, problems)


def _check_pod(pod: dict[str, Any], where: str, problems: list[str]) -> None:
    volumes = [v.get("name") for v in pod.get("volumes") or []]
    for volume in volumes:
        if not isinstance(volume, str) or not is_dns_label(volume):
            problems.append(f"{where}: volume name {volume!r} is not a DNS label")
    if len(set(volumes)) != len(volumes):
        problems.append(f"{where}: two volumes have one name")
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    if not pod.get("containers"):
        problems.append(f"{where}: a pod needs at least one container")
    names = [c.get("name") for c in containers]
    if len(set(names)) != len(names):
        problems.append(f"{where}: two containers have one name")
    for container in containers:
        cname = container.get("name")
        here = f"{where} container {cname!r}"
        if not isinstance(cname, str) or not is_dns_label(cname):
            problems.append(f"{here}: the name is not a DNS label")
        if not container.get("image"):
            problems.append(f"{here}: an image is required")
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                path, name = mount.get("mountPath"), mount.get("name")
                problems.append(f"{here}: the mount {path} names no declared volume ({name})")
            if not str(mount.get("mountPath", "")).startswith("/"):
                problems.append(f"{here}: mountPath must be absolute")
        for env in container.get("env") or []:
            if not env.get("name") or "=" in str(env.get("name")):
                problems.append(f"{here}: env name {env.get('name')!r} is empty or has '='")
        for section in ("limits", "requests"):
            for resource, value in ((container.get("resources") or {}).get(section) or {}).items():
                if not QUANTITY.match(str(value)):
                    problems.append(
                        f"{here}: resources.{section}.{resource} {value!r} is not a quantity"
                    )
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            settings = container.get(probe)
            if settings:
                for field in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
                    if field in settings and settings[field] < 1:
                        problems.append(f"{here}: {probe}.{field} must be at least 1")


def _check_service(spec: dict[str, Any], where: str, problems: list[str]) -> None:
    ports = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
        problems.append(f"{where}: spec.ports is required unless the Service is headless")
    names = [p.get("name") for p in ports]
    if len(ports) > 1 and (None in names or len(set(names)) != len(names)):
        problems.append(f"{where}: a Service with several ports names each, uniquely")
    for port in ports:
        if port.get("name") is not None and not is_port_name(str(port["name"])):
            problems.append(f"{where}: port name {port['name']!r} is not an IANA service name")
        number = port.get("port")
        if not isinstance(number, int) or not 0 < number < 65536:
            problems.append(f"{where}: port {number!r} is out of range")
    _check_selector_syntax({"matchLabels": spec.get("selector") or {}}, where, problems)
