"""Phase 7 (after merge, extends, include and profiles): project-wide defaults.

Contract (called by compose.load):

    normalize(tree, project_name, all_resources=False) -> tree
        Adds what docker compose adds: the ``default`` network where a service is
        attached to it (and ``networks: {default: null}`` on services that name no
        network and have no network_mode), ``name`` of networks/volumes/configs/
        secrets (``<project>_<key>`` unless set or external), ``command``/
        ``entrypoint`` null, port/volume defaults, ...; drops networks, volumes,
        secrets and configs that no service uses unless ``all_resources``.
"""

from __future__ import annotations

from typing import Any


def normalize(tree: Any, project_name: str, all_resources: bool = False) -> Any:
    return tree
