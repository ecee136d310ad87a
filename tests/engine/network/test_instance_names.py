"""Two engines on one host name their bridges and veths apart: each takes the links with
its prefixes that it has no record of for orphans, so prefixes that met would let one
engine's start delete the other's bridges (seen in CI as "bridge pc7a2-… does not exist")."""

from __future__ import annotations

from engine.network.naming import IFNAME_MAX, bridge_name, veth_name
from engine.network.settings import settings_for_instance


def test_engines_whose_instances_share_three_digits_have_distinct_prefixes() -> None:
    one, other = settings_for_instance("7a2353"), settings_for_instance("7a2e91")
    assert one.bridge_prefix != other.bridge_prefix
    assert one.veth_prefix != other.veth_prefix
    assert not other.bridge_prefix.startswith(one.bridge_prefix)


def test_instance_names_fit_an_interface_name() -> None:
    settings = settings_for_instance("7a2353")
    bridge = bridge_name("net", "f" * 64, {}, settings.bridge_prefix)
    veth = veth_name(settings.veth_prefix, "s" * 64, "n" * 64)
    assert len(bridge) <= IFNAME_MAX and len(veth) <= IFNAME_MAX
    assert bridge.startswith(settings.bridge_prefix) and veth.startswith(settings.veth_prefix)
    assert len(bridge) - len(settings.bridge_prefix) >= 6  # room for the network id
