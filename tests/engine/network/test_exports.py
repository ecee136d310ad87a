"""engine.network's public surface is exactly what __all__ lists (submodules aside)."""

import types

import engine.network


def test_every_exported_name_exists_and_is_listed_once():
    names = engine.network.__all__
    assert len(names) == len(set(names))
    assert names == sorted(names)
    for name in names:
        assert hasattr(engine.network, name), name
    public = {
        name
        for name, value in vars(engine.network).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(names)
