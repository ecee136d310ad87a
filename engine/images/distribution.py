"""``GET /distribution/{name}/json``: what the registry holds under a reference, asked of
the registry (never the local store), as dockerd answers it: the top descriptor (manifest
or index) and the platforms it serves.

Everything the registry sends is hostile: manifests are bounded and digest-verified by
:meth:`RegistryClient.get_manifest`, and the config blob read for a single manifest's
platform is bounded by :data:`MAX_CONFIG_SIZE` and checked against its digest.
"""

from __future__ import annotations

import json
from typing import Any

from engine.images import manifest as mf
from engine.images.errors import InvalidImage
from engine.images.reference import Reference
from engine.images.registry import RegistryClient

MAX_CONFIG_SIZE = 1 << 20


def _platform(platform: mf.Platform) -> dict[str, Any]:
    out: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        out["variant"] = platform.variant
    return out


async def inspect_distribution(client: RegistryClient, ref: Reference) -> dict[str, Any]:
    """dockerd's ``registry.DistributionInspect`` of ``ref``."""
    data, media_type, digest = await client.get_manifest(ref)
    parsed = mf.parse(data, media_type)
    descriptor = {"mediaType": parsed.media_type, "digest": digest, "size": len(data)}
    platforms: list[dict[str, Any]] = []
    if isinstance(parsed, mf.Index):
        platforms = [_platform(d.platform) for d in parsed.manifests if d.platform]
    else:
        if parsed.config.size > MAX_CONFIG_SIZE:
            raise InvalidImage(
                f"the config of {ref} is too large ({parsed.config.size} bytes, "
                f"at most {MAX_CONFIG_SIZE})"
            )
        config = await client.get_small_blob(ref, parsed.config)
        try:
            raw = json.loads(config)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidImage(f"the config of {ref} is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidImage(f"the config of {ref} is not a JSON object")
        os_name, arch = raw.get("os"), raw.get("architecture")
        if isinstance(os_name, str) and isinstance(arch, str):
            variant = raw.get("variant")
            platforms = [
                _platform(mf.Platform(os_name, arch, variant if isinstance(variant, str) else None))
            ]
    return {"Descriptor": descriptor, "Platforms": platforms}
