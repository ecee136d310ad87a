import engine.images


def test_public_names():
    assert sorted(engine.images.__all__) == engine.images.__all__
    for name in engine.images.__all__:
        assert hasattr(engine.images, name), name
