"""The content store: verified, atomic blobs; image records with moving tags."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from engine.images import DigestMismatch, ImageRecord
from engine.images.auth import load_credentials, parse_challenge
from engine.images.manifest import Platform, chain_ids, host, parse_platform
from engine.images.registry import is_insecure_default
from engine.images.store import BlobStore, ImageRecords


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_blob_is_stored_only_when_digest_and_size_match(tmp_path):
    store = BlobStore(tmp_path)
    data = b"hello" * 1000
    with store.ingest() as ingest:
        ingest.write(data[:10])
        ingest.write(data[10:])
        assert ingest.commit(digest(data), len(data)) == digest(data)
    assert store.read_bytes(digest(data)) == data
    for expected, size in ((digest(b"other"), len(data)), (digest(data), len(data) + 1)):
        with store.ingest() as ingest:
            ingest.write(data + b"!")
            with pytest.raises(DigestMismatch):
                ingest.commit(expected, size)
    assert list(store.digests()) == [digest(data)]
    assert os.listdir(store.ingest_dir) == []


def test_tags_move_between_records(tmp_path):
    records = ImageRecords(tmp_path / "images.db")
    one = ImageRecord(id=digest(b"1"), config_digest=digest(b"1"), repo_tags=("a:1",))
    two = ImageRecord(id=digest(b"2"), config_digest=digest(b"2"), repo_tags=("a:1", "b:1"))
    records.add(one)
    records.add(two)
    assert records.get(one.id).repo_tags == ()
    records.tag(one.id, "b:1")
    assert records.get(two.id).repo_tags == ("a:1",)
    assert records.get(one.id).repo_tags == ("b:1",)
    records.close()
    reopened = ImageRecords(tmp_path / "images.db")
    assert [r.id for r in reopened.all()] == sorted([one.id, two.id])


def test_last_tag_time_is_set_by_a_tagging_add_or_a_tag_and_survives_a_reopen(tmp_path):
    records = ImageRecords(tmp_path / "images.db")
    untagged = ImageRecord(id=digest(b"1"), config_digest=digest(b"1"))
    assert records.add(untagged).last_tag_time is None  # by digest: no tag, no time
    first = records.add(untagged.model_copy(update={"repo_tags": ("a:1",)})).last_tag_time
    assert first is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]{8}\.\d{9}Z", first)
    assert records.add(untagged).last_tag_time == first  # a digest-only add keeps it
    again = records.add(untagged.model_copy(update={"repo_tags": ("a:1",)})).last_tag_time
    assert again is not None and again > first  # a re-pull of the same image refreshes it
    tagged = records.tag(untagged.id, "b:1").last_tag_time
    assert tagged is not None and tagged > again
    records.close()
    reopened = ImageRecords(tmp_path / "images.db")
    assert reopened.get(untagged.id).last_tag_time == tagged
    reopened.close()


def test_chain_ids():
    a, b = digest(b"a"), digest(b"b")
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


def test_platforms():
    assert parse_platform("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert parse_platform("x86_64") == Platform("linux", "amd64")
    assert host().os == "linux"


def test_credentials_from_docker_config(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        '{"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"},'
        ' "localhost:5000": {"username": "x", "password": "y"}}}'
    )
    creds = load_credentials(config)
    assert (creds["docker.io"].username, creds["docker.io"].password) == ("u", "p")
    assert creds["localhost:5000"].password == "y"
    assert load_credentials(tmp_path / "missing.json") == {}


def test_challenge_parsing():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a:pull,push",
    }


@pytest.mark.parametrize(
    ("host_name", "insecure"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.8.9.1", True),
        ("[::1]:5000", True),
        ("example.com", False),
        ("10.0.0.1:5000", False),
    ],
)
def test_plain_http_only_for_loopback(host_name, insecure):
    assert is_insecure_default(host_name) is insecure


async def _base_urls():
    from engine.images.registry import RegistryClient

    async with RegistryClient(insecure_registries=["reg.local:5000"]) as client:
        return [client.base_url(h) for h in ("reg.local:5000", "docker.io", "quay.io")]


def test_scheme_per_registry():
    import anyio

    assert anyio.run(_base_urls) == [
        "http://reg.local:5000/v2/",
        "https://registry-1.docker.io/v2/",
        "https://quay.io/v2/",
    ]
