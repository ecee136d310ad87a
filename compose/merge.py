"""Merge: canonical trees (override files, extends) with the Compose rules.

Default rules (Compose Specification, "Merge and override"):

- mapping + mapping: merged key by key;
- sequence + sequence: the override's items appended, then de-duplicated for the
  paths of :data:`UNIQUE_BY` (the later item wins, in the first one's place);
- anything else: the override replaces the base.

Per-path exceptions are in :data:`MERGE_RULES`, one line a rule, so "how is
``ports`` merged?" has a one-line answer. A value tagged ``!override`` replaces
the base whatever its type; a key tagged ``!reset`` removes the base value.

Locations travel with the values: the merged tree still says which file every
value came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compose.source import MapNode, SeqNode

Path = tuple[str | int, ...]
Merger = Callable[[Any, Any, Path], Any]
Indexer = Callable[[Any], Any]


def _matches(pattern: tuple[str, ...], path: Path) -> bool:
    if len(pattern) != len(path):
        return False
    for want, got in zip(pattern, path, strict=True):
        if want == "*":
            continue
        if want == "[]":
            if not isinstance(got, int):
                return False
        elif want != got:
            return False
    return True


# --- indexers: what makes two items of a sequence "the same" ------------------------------


def _scalar_key(item: Any) -> Any:
    if isinstance(item, str) and "=" in item:
        return item.split("=", 1)[0]
    if isinstance(item, dict | list):
        return repr(item)
    return item


def _field_key(field: str) -> Indexer:
    def index(item: Any) -> Any:
        if isinstance(item, dict) and field in item:
            return item[field]
        return _scalar_key(item)

    return index


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return (
            item.get("host_ip"),
            str(item.get("published")) if item.get("published") is not None else None,
            item.get("target"),
            item.get("protocol") or "tcp",
            item.get("mode") or "ingress",
        )
    return _scalar_key(item)


def _mount_key(default_dir: str) -> Indexer:
    def index(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("target")
            if target:
                return target
            source = item.get("source")
            return f"{default_dir}/{source}" if default_dir else source
        return _scalar_key(item)

    return index


def _device_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return _scalar_key(item)


UNIQUE_BY: dict[tuple[str, ...], Indexer] = {
    ("networks", "*", "ipam", "config"): _field_key("subnet"),
    ("services", "*", "build", "platforms"): _scalar_key,
    ("services", "*", "build", "tags"): _scalar_key,
    ("services", "*", "cap_add"): _scalar_key,
    ("services", "*", "cap_drop"): _scalar_key,
    ("services", "*", "configs"): _mount_key(""),
    ("services", "*", "devices"): _device_key,
    ("services", "*", "dns"): _scalar_key,
    ("services", "*", "dns_opt"): _scalar_key,
    ("services", "*", "dns_search"): _scalar_key,
    ("services", "*", "env_file"): _field_key("path"),
    ("services", "*", "label_file"): _scalar_key,
    ("services", "*", "expose"): str,
    ("services", "*", "links"): _scalar_key,
    ("services", "*", "networks", "*", "aliases"): _scalar_key,
    ("services", "*", "networks", "*", "link_local_ips"): _scalar_key,
    ("services", "*", "ports"): _port_key,
    ("services", "*", "profiles"): _scalar_key,
    ("services", "*", "secrets"): _mount_key("/run/secrets"),
    ("services", "*", "tmpfs"): _scalar_key,
    ("services", "*", "volumes"): _field_key("target"),
    ("services", "*", "volumes_from"): _scalar_key,
    ("services", "*", "group_add"): _scalar_key,
}


def _indexer_for(path: Path) -> Indexer | None:
    """The UNIQUE_BY rule for ``path`` (all rules sit at depth 3 to 5; most paths have none)."""
    if not 3 <= len(path) <= 5:
        return None
    for pattern, indexer in UNIQUE_BY.items():
        if _matches(pattern, path):
            return indexer
    return None


def _unique(items: SeqNode, indexer: Indexer) -> SeqNode:
    out = SeqNode(items.loc)
    seen: dict[Any, int] = {}
    for item, loc in zip(items, items.item_locs, strict=False):
        try:
            key = indexer(item)
            hash(key)
        except TypeError:
            key = repr(item)
        if key in seen:
            out[seen[key]] = item
            out.item_locs[seen[key]] = loc
        else:
            seen[key] = len(out)
            out.add(item, loc)
    return out


def enforce_unicity(tree: Any, path: Path = ()) -> Any:
    """De-duplicate the sequences of :data:`UNIQUE_BY` inside one tree (in place)."""
    if isinstance(tree, MapNode):
        if len(path) >= 5:
            return tree  # no rule is deeper than services.*.networks.*.aliases
        for key, value in list(tree.items()):
            if isinstance(value, MapNode | SeqNode):
                tree[key] = enforce_unicity(value, (*path, key))
        return tree
    if isinstance(tree, SeqNode):
        indexer = _indexer_for(path)
        if indexer is not None:
            return _unique(tree, indexer)
    return tree


# --- special mergers -----------------------------------------------------------------------


def _override(base: Any, override: Any, path: Path) -> Any:
    return override


def _merge_logging(base: Any, override: Any, path: Path) -> Any:
    """Options merge only when both name the same driver (or the override names none)."""
    if not isinstance(base, MapNode) or not isinstance(override, MapNode):
        return override
    base_driver, override_driver = base.get("driver"), override.get("driver")
    if override_driver is None or base_driver is None or base_driver == override_driver:
        return _merge_mappings(base, override, path)
    return override


def _merge_ulimit(base: Any, override: Any, path: Path) -> Any:
    if isinstance(base, MapNode) and isinstance(override, MapNode):
        return _merge_mappings(base, override, path)
    return override


def _merge_build(base: Any, override: Any, path: Path) -> Any:
    if isinstance(base, MapNode) and isinstance(override, MapNode):
        return _merge_mappings(base, override, path)
    return override


def _merge_ipam_config(base: Any, override: Any, path: Path) -> Any:
    """Entries of the same subnet merge field by field (aux_addresses key by key)."""
    if not isinstance(base, SeqNode) or not isinstance(override, SeqNode):
        return override
    combined = SeqNode(override.loc)
    combined.extend(base)
    combined.item_locs = list(base.item_locs)
    by_subnet = {
        item["subnet"]: index
        for index, item in enumerate(base)
        if isinstance(item, MapNode) and isinstance(item.get("subnet"), str)
    }
    for item, loc in zip(override, override.item_locs, strict=False):
        subnet = item.get("subnet") if isinstance(item, MapNode) else None
        index = by_subnet.get(subnet) if isinstance(subnet, str) else None
        if index is not None and isinstance(item, MapNode):
            combined[index] = _merge_mappings(combined[index], item, path)
            combined.item_locs[index] = loc
        else:
            combined.add(item, loc)
    return combined


MERGE_RULES: dict[tuple[str, ...], Merger] = {
    ("networks", "*", "ipam", "config"): _merge_ipam_config,
    ("services", "*", "command"): _override,
    ("services", "*", "entrypoint"): _override,
    ("services", "*", "healthcheck", "test"): _override,
    ("services", "*", "logging"): _merge_logging,
    ("services", "*", "ulimits", "*"): _merge_ulimit,
    ("services", "*", "build"): _merge_build,
}


def _rule_for(path: Path) -> Merger | None:
    for pattern, rule in MERGE_RULES.items():
        if _matches(pattern, path):
            return rule
    return None


# --- the merge -----------------------------------------------------------------------------


def _merge_mappings(base: MapNode, override: MapNode, path: Path) -> MapNode:
    merged = base.copy_node()
    merged.overrides = set()
    merged.resets = set(base.resets)
    for key in override.resets:
        merged.pop(key, None)
        merged.key_locs.pop(key, None)
        merged.value_locs.pop(key, None)
    for key, value in override.items():
        child_path = (*path, key)
        if key in merged and key not in override.overrides:
            value = merge_values(merged[key], value, child_path)
        merged[key] = value
        if key in override.key_locs:
            merged.key_locs[key] = override.key_locs[key]
        if key in override.value_locs:
            merged.value_locs[key] = override.value_locs[key]
    return merged


def merge_values(base: Any, override: Any, path: Path) -> Any:
    """Merge one value of an override file onto the base value at ``path``."""
    rule = _rule_for(path)
    if rule is not None:
        return rule(base, override, path)
    if isinstance(base, MapNode) and isinstance(override, MapNode):
        return _merge_mappings(base, override, path)
    if isinstance(base, SeqNode) and isinstance(override, SeqNode):
        combined = SeqNode(override.loc)
        combined.extend(base)
        combined.item_locs = list(base.item_locs)
        combined.extend(override)
        combined.item_locs.extend(override.item_locs)
        indexer = _indexer_for(path)
        return _unique(combined, indexer) if indexer is not None else combined
    return override


def merge_trees(base: Any, override: Any) -> Any:
    """Merge two whole stack-file trees (``-f a.yaml -f b.yaml``)."""
    if not isinstance(base, MapNode) or not isinstance(override, MapNode):
        return override if override is not None else base
    return _merge_mappings(base, override, ())
