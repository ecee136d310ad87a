"""Docker seccomp profiles -> the OCI ``linux.seccomp`` section.

A profile in Docker's format (``seccomp_default.json``, or a user's file given as
``security_opt: seccomp=<json>``) selects its rules with ``includes``/``excludes`` on the
container's capabilities, the architecture and the kernel version. This module applies that
selection for one container and returns the plain OCI section runc understands. Pure.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from engine.errors import InvalidParameter

# Go's GOARCH names, as used in profile "arches" filters, per seccomp architecture.
_GOARCH_BY_MACHINE = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "s390x": "s390x",
    "ppc64le": "ppc64le",
    "riscv64": "riscv64",
}
_SECCOMP_ARCH_BY_MACHINE = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
}


@cache
def _default_profile_text() -> str:
    return resources.files("engine.runtime").joinpath("seccomp_default.json").read_text()


def default_profile() -> dict[str, Any]:
    """Docker's default profile, parsed (a fresh copy each call)."""
    profile: dict[str, Any] = json.loads(_default_profile_text())
    return profile


def _kernel_at_least(kernel: str, minimum: str) -> bool:
    def parts(version: str) -> tuple[int, ...]:
        numbers: list[int] = []
        for piece in version.split("-", maxsplit=1)[0].split(".")[:2]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            numbers.append(int(digits or 0))
        return tuple(numbers)

    return parts(kernel) >= parts(minimum)


def _selected(rule: dict[str, Any], caps: set[str], goarch: str, kernel: str) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and goarch not in includes["arches"]:
        return False
    if includes.get("caps") and not set(includes["caps"]) <= caps:
        return False
    if includes.get("minKernel") and not _kernel_at_least(kernel, includes["minKernel"]):
        return False
    if excludes.get("arches") and goarch in excludes["arches"]:
        return False
    if excludes.get("caps") and set(excludes["caps"]) & caps:
        return False
    return not (excludes.get("minKernel") and _kernel_at_least(kernel, excludes["minKernel"]))


def to_oci(
    profile: dict[str, Any], *, capabilities: list[str], machine: str, kernel: str
) -> dict[str, Any]:
    """Select ``profile``'s rules for a container with ``capabilities`` on ``machine``.

    ``machine`` is ``uname -m`` (``x86_64``), ``kernel`` is ``uname -r``.
    """
    if "defaultAction" not in profile:
        raise InvalidParameter(
            "the seccomp profile has no defaultAction",
            hint="give a profile in Docker's format (see moby profiles/seccomp/default.json)",
        )
    caps = set(capabilities)
    goarch = _GOARCH_BY_MACHINE.get(machine, machine)
    architectures: list[str] = list(profile.get("architectures") or [])
    native = _SECCOMP_ARCH_BY_MACHINE.get(machine)
    for entry in profile.get("archMap") or []:
        if native is not None and entry.get("architecture") == native:
            architectures = [native, *(entry.get("subArchitectures") or [])]
    section: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if "defaultErrnoRet" in profile:
        section["defaultErrnoRet"] = profile["defaultErrnoRet"]
    if architectures:
        section["architectures"] = architectures
    syscalls: list[dict[str, Any]] = []
    for rule in profile.get("syscalls") or []:
        if not _selected(rule, caps, goarch, kernel):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        oci_rule: dict[str, Any] = {"names": names, "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            oci_rule["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            oci_rule["args"] = [
                {
                    "index": arg["index"],
                    "value": arg["value"],
                    "valueTwo": arg.get("valueTwo", 0),
                    "op": arg["op"],
                }
                for arg in rule["args"]
            ]
        syscalls.append(oci_rule)
    section["syscalls"] = syscalls
    return section


def default_section(capabilities: list[str], *, machine: str, kernel: str) -> dict[str, Any]:
    """``to_oci`` of Docker's default profile (a fresh copy each call): selected once per
    set of capabilities, instead of parsing and selecting the whole profile per container."""
    return dict(json.loads(_default_section_text(frozenset(capabilities), machine, kernel)))


@lru_cache(maxsize=64)  # bounded: capability sets come from API clients
def _default_section_text(capabilities: frozenset[str], machine: str, kernel: str) -> str:
    section = to_oci(
        default_profile(), capabilities=sorted(capabilities), machine=machine, kernel=kernel
    )
    return json.dumps(section)
