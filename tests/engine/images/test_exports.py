import engine.images


def test_public_names():
    assert sorted(engine.images.__all__) == engine.images.__all__
    for name in engine.images.__all__:
        assert hasattr(engine.images, name), name


def test_progress_as_docker_json_message():
    from engine.images import Progress

    assert Progress("abc", "Downloading", 5, 10).to_message() == {
        "status": "Downloading",
        "id": "abc",
        "progressDetail": {"current": 5, "total": 10},
    }
    assert Progress("", "Digest: sha256:x").to_message() == {"status": "Digest: sha256:x"}
