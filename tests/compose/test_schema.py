"""schemas/pycompose.schema.json: generated from compose.model, never stale, and sound."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import pytest

from compose.schema import SCHEMA_PATH, render
from compose.source import parse


def test_the_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run: python -m compose.schema"


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


GOOD = """
name: demo
x-common: &common {restart: always}
services:
  web:
    <<: *common
    build: ./web
    image: web
    command: npm start
    ports: ["8080:80", 9000, {target: 443, published: "8443"}]
    volumes: ["./src:/src:ro", {type: volume, source: data, target: /data}]
    environment: [A=1, B]
    labels: {a: b}
    depends_on: [db]
    networks: [front]
    healthcheck: {test: curl -f localhost, interval: 10s, retries: 3}
    deploy: {resources: {limits: {memory: 512m, cpus: "0.5"}}}
    secrets: [token, {source: token, target: /t, mode: 0440}]
    ulimits: {nproc: 100, nofile: {soft: 1, hard: 2}}
    tty: "yes"
    x-anything: [1, 2]
  db:
    image: postgres
volumes:
  data:
networks:
  front: {driver: bridge}
secrets:
  token: {file: ./token}
"""


def test_a_typical_file_is_valid() -> None:
    tree = parse(GOOD, "compose.yaml")
    errors = list(validator().iter_errors(json.loads(json.dumps(tree))))
    assert errors == []


@pytest.mark.parametrize(
    "text",
    [
        "services:\n  web:\n    image: [a]\n",
        "services:\n  web:\n    enviroment: {}\n",
        "services:\n  web:\n    ports: [{target: 80, publish: 8080}]\n",
        "services:\n  web:\n    user: 1000\n",
        "services:\n  web:\n    volumes: [{type: tmpfs, target: /t, foo: 1}]\n",
        "networks:\n  n: {drivr: bridge}\n",
    ],
)
def test_what_the_model_rejects_the_schema_rejects(text: str) -> None:
    tree = json.loads(json.dumps(parse(text, "compose.yaml")))
    assert list(validator().iter_errors(tree))


def test_real_world_files_of_the_corpus_are_valid() -> None:
    cases = Path(__file__).resolve().parents[1] / "data" / "conformance" / "cases"
    checker = validator()
    paths = sorted(cases.glob("rw-*/*.y*ml"))
    assert paths, f"no real-world stacks under {cases}"
    for path in paths:
        tree = json.loads(json.dumps(parse(path.read_text(), path.name)))
        assert list(checker.iter_errors(tree)) == [], path
