"""engine.volumes: named and anonymous volumes, copy-up, in-use refusal, prune; in containers."""

from __future__ import annotations

import pytest
from runtime_helpers import needs_runtime, runtime_in

from engine.api.errors import Conflict, InvalidParameter, NotFound
from engine.api.models import ContainerCreate, ImageConfig
from engine.volumes import ANONYMOUS_LABEL, VolumeStore, prepare_mounts, release_mounts

pytestmark = pytest.mark.anyio


async def test_create_get_list_remove_and_prune(tmp_path):
    store = VolumeStore(tmp_path / "volumes")
    data = store.create("data", labels={"com.docker.compose.project": "demo"})
    assert data.mountpoint.is_dir() and not data.anonymous
    assert store.create("data").created_at == data.created_at  # idempotent, as Docker
    anonymous = store.create()
    assert anonymous.anonymous and ANONYMOUS_LABEL in anonymous.labels
    assert len(anonymous.name) == 64
    assert [v.name for v in store.all(label={"com.docker.compose.project": "demo"})] == ["data"]
    with pytest.raises(InvalidParameter):
        store.create("bad/name")

    store.add_user("data", "c1")
    with pytest.raises(Conflict, match="in use"):
        await store.remove("data")
    report = await store.prune()
    assert report.removed == (anonymous.name,)
    assert (await store.prune(all_volumes=True)).removed == ()  # data is in use
    store.remove_user("data", "c1")
    (data.mountpoint / "file").write_bytes(b"x" * 100)
    report = await store.prune(all_volumes=True)
    assert report.removed == ("data",) and report.space_reclaimed == 100
    with pytest.raises(NotFound):
        store.get("data")


async def test_prepare_mounts_creates_fills_and_releases(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "srv/data").mkdir(parents=True)
    (rootfs / "srv/data/seed.txt").write_text("from the image")
    (rootfs / "cache").mkdir()
    (rootfs / "cache/c").write_text("cached")
    store = VolumeStore(tmp_path / "volumes")
    config = ContainerCreate.model_validate(
        {
            "Cmd": ["x"],
            "HostConfig": {
                "Binds": ["named:/srv/data", f"{tmp_path}/made/by/bind:/host"],
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "quiet",
                        "Target": "/cache",
                        "VolumeOptions": {"NoCopy": True},
                    }
                ],
            },
        }
    )
    image = ImageConfig(volumes={"/srv/data": {}, "/var/lib/anon": {}})
    paths = await prepare_mounts(store, "c1", config, image, rootfs)
    assert (tmp_path / "made/by/bind").is_dir()  # short syntax creates the host path
    assert (store.get("named").mountpoint / "seed.txt").read_text() == "from the image"
    assert list(store.get("quiet").mountpoint.iterdir()) == []  # nocopy
    assert set(paths) == {"named", "quiet", "anonymous:/var/lib/anon"}
    # Filled once only: a later mount over an emptied volume does not copy again.
    (store.get("named").mountpoint / "seed.txt").unlink()
    await prepare_mounts(store, "c2", config, ImageConfig(), rootfs)
    assert not (store.get("named").mountpoint / "seed.txt").exists()
    assert store.get("named").users == ("c1", "c2")

    removed = await release_mounts(store, "c1", remove_anonymous=True)
    assert len(removed) == 1 and store.get("named").users == ("c2",)
    long_bind = ContainerCreate.model_validate(
        {
            "HostConfig": {
                "Mounts": [{"Type": "bind", "Source": f"{tmp_path}/absent", "Target": "/x"}]
            }
        }
    )
    with pytest.raises(InvalidParameter, match="does not exist"):
        await prepare_mounts(store, "c3", long_bind, ImageConfig(), rootfs)


@pytest.mark.root
@needs_runtime
async def test_volumes_bind_mounts_and_tmpfs_inside_containers(tmp_path, rootfs):
    (rootfs / "data").mkdir()
    (rootfs / "data/seed").write_text("seeded\n")
    store = VolumeStore(tmp_path / "volumes")
    host_dir = tmp_path / "host"
    config = ContainerCreate.model_validate(
        {
            "Cmd": [
                "sh",
                "-c",
                "cat /data/seed; echo written > /data/new; echo hi > /host/from-container; "
                "grep -E ' /scratch ' /proc/self/mountinfo; stat -c %a /scratch; "
                "touch /ro/x 2>/dev/null || echo read-only",
            ],
            "HostConfig": {
                "Binds": ["shared:/data", f"{host_dir}:/host", f"{tmp_path}:/ro:ro"],
                "Tmpfs": {"/scratch": "size=1m,mode=1770"},
            },
        }
    )
    async with runtime_in(tmp_path) as runtime:
        paths = await prepare_mounts(store, "first", config, ImageConfig(), rootfs)
        info = await runtime.create(config, rootfs=str(rootfs), volume_paths=paths)
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        lines = [entry.message.decode() async for entry in runtime.logs(info.id)]
        assert lines[0] == "seeded"
        assert "size=1024k" in lines[1] and "tmpfs" in lines[1]
        assert lines[2] == "1770" and lines[3] == "read-only"
        assert (host_dir / "from-container").read_text() == "hi\n"
        assert (store.get("shared").mountpoint / "new").read_text() == "written\n"
        with pytest.raises(Conflict):
            await store.remove("shared")
        await runtime.remove(info.id)
        await release_mounts(store, info.id)
        await release_mounts(store, "first")
        await store.remove("shared")


@pytest.mark.root
@needs_runtime
async def test_a_volume_subpath_is_mounted_alone(tmp_path, rootfs):
    store = VolumeStore(tmp_path / "volumes")
    volume = store.create("site")
    (volume.mountpoint / "public").mkdir()
    (volume.mountpoint / "public/index.html").write_text("hello\n")
    (volume.mountpoint / "secret").write_text("hidden\n")
    config = ContainerCreate.model_validate(
        {
            "Cmd": ["sh", "-c", "ls /srv; cat /srv/index.html"],
            "HostConfig": {
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "site",
                        "Target": "/srv",
                        "ReadOnly": True,
                        "VolumeOptions": {"Subpath": "public"},
                    }
                ]
            },
        }
    )
    async with runtime_in(tmp_path) as runtime:
        paths = await prepare_mounts(store, "c", config, ImageConfig(), rootfs)
        info = await runtime.create(config, rootfs=str(rootfs), volume_paths=paths)
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        lines = [entry.message async for entry in runtime.logs(info.id)]
        assert lines == [b"index.html", b"hello"]
