"""engine.build's public names are the ones __all__ lists, and each exists."""

import engine.build


def test_exports():
    assert sorted(engine.build.__all__) == engine.build.__all__
    for name in engine.build.__all__:
        assert getattr(engine.build, name) is not None
    assert set(engine.build.__all__) >= {
        "build",
        "BuildContext",
        "BuildOptions",
        "BuildEvent",
        "refuse_buildkit",
        "options_from_compose",
        "options_from_query",
    }
