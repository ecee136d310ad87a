"""The models read what a real dockerd sent and what the real clients sent (the captures).

Every JSON body recorded between the docker CLI / docker compose and dockerd 20.10
(tests/data/reference/captures) is validated with the model of its endpoint, and the model
dumps it back without losing a key: the client works against a real dockerd and the engine
accepts the real clients' bodies.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine.api import models

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "reference" / "captures"

RESPONSES: list[tuple[str, str, type[BaseModel], bool]] = [
    # (method, path regex, model, is a list)
    ("GET", r"/containers/json$", models.ContainerSummary, True),
    ("GET", r"/containers/[^/]+/json$", models.ContainerInspect, False),
    ("GET", r"/images/json$", models.ImageSummary, True),
    ("GET", r"/images/.+/json$", models.ImageInspect, False),
    ("GET", r"/networks$", models.Network, True),
    ("GET", r"/networks/[^/]+$", models.Network, False),
    ("GET", r"/volumes/[^/]+$", models.Volume, False),
    ("GET", r"/volumes$", models.VolumeList, False),
    ("GET", r"/version$", models.Version, False),
    ("GET", r"/info$", models.Info, False),
    ("GET", r"/exec/[^/]+/json$", models.ExecInspect, False),
    ("GET", r"/containers/[^/]+/top$", models.ContainerTop, False),
    ("POST", r"/containers/create$", models.ContainerCreateResponse, False),
    ("POST", r"/networks/create$", models.NetworkCreateResponse, False),
    ("POST", r"/volumes/create$", models.Volume, False),
]
REQUESTS: list[tuple[str, str, type[BaseModel]]] = [
    ("POST", r"/containers/create$", models.ContainerCreate),
    ("POST", r"/containers/[^/]+/exec$", models.ExecCreate),
    ("POST", r"/exec/[^/]+/start$", models.ExecStart),
    ("POST", r"/networks/create$", models.NetworkCreate),
    ("POST", r"/networks/[^/]+/connect$", models.NetworkConnect),
    ("POST", r"/networks/[^/]+/disconnect$", models.NetworkDisconnect),
    ("POST", r"/volumes/create$", models.VolumeCreate),
]


def exchanges() -> list[dict[str, Any]]:
    found = []
    for path in sorted(CAPTURES.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                record["_file"] = path.name
                found.append(record)
    return found


EXCHANGES = exchanges()


def test_the_captures_are_in_the_repository():
    assert len({record["_file"] for record in EXCHANGES}) >= 70, CAPTURES


def api_path(record: dict[str, Any]) -> str:
    return re.sub(r"^/v\d+\.\d+", "", record.get("path") or "")


def keys_kept(original: Any, dumped: Any, where: str) -> None:
    if isinstance(original, dict):
        assert isinstance(dumped, dict), where
        for key, value in original.items():
            assert key in dumped, f"{where}.{key} lost"
            keys_kept(value, dumped[key], f"{where}.{key}")


def test_response_bodies_of_dockerd_validate() -> None:
    checked = 0
    for record in EXCHANGES:
        body = (record.get("resp_body") or {}).get("json")
        if body is None or record.get("status", 500) >= 300:
            continue
        for method, pattern, model, many in RESPONSES:
            if record["method"] == method and re.search(pattern, api_path(record)):
                items = body if many else [body]
                for item in items:
                    parsed = model.model_validate(item)
                    keys_kept(
                        item,
                        parsed.model_dump(mode="json", by_alias=True),
                        f"{record['_file']}:{method}",
                    )
                    checked += 1
                break
    assert checked > 50


def test_request_bodies_of_the_clients_validate() -> None:
    checked = 0
    for record in EXCHANGES:
        body = (record.get("req_body") or {}).get("json")
        if body is None:
            continue
        for method, pattern, model in REQUESTS:
            if record["method"] == method and re.search(pattern, api_path(record)):
                parsed = model.model_validate(body)
                keys_kept(
                    body,
                    parsed.model_dump(mode="json", by_alias=True),
                    f"{record['_file']}:{method}",
                )
                checked += 1
                break
    assert checked > 20
