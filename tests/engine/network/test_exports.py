"""engine.network's public surface is exactly what __all__ lists."""

import engine.network


def test_every_exported_name_exists_and_is_listed_once():
    names = engine.network.__all__
    assert len(names) == len(set(names))
    assert names == sorted(names)
    for name in names:
        assert hasattr(engine.network, name), name
    public = {n for n in vars(engine.network) if not n.startswith("_")}
    modules = {
        "dns",
        "errors",
        "files",
        "ipam",
        "manager",
        "modes",
        "nftables",
        "coexist",
        "netlink",
        "ports",
        "proxy",
    }
    assert public - modules == set(names)
