"""Container networking: bridges, endpoints, IPAM, embedded DNS, published ports and NAT.

Modules, one job each (only :mod:`engine.network.netlink` imports pyroute2):

    ipam       pure: subnets from the engine's pool around host routes; endpoint addresses
    ports      pure: Compose port specs, host port assignment
    files      pure + write: /etc/resolv.conf, /etc/hosts, /etc/hostname of a container
    dns        the embedded resolver on 127.0.0.11 in every sandbox, records per network
    nftables   the engine's two nftables tables, rendered from data and swapped atomically
    coexist    accept rules in iptables FORWARD when Docker's policy would drop our traffic
    proxy      userland relay for TCP ports on [::1], the one case the kernel cannot DNAT
    netlink    blocking netlink/netns calls (run in worker threads)
    manager    NetworkEngine: the async API the daemon calls (networks, ports, state)
    endpoints  its sandboxes (netns, resolver) and endpoints (veths, addresses, DNS names)
    settings   NetworkSettings: where the engine keeps things and how it names them
    host_rules bridges on the host, the nftables ruleset, [::1] relays, orphan removal
    naming     bridge and veth names, endpoint ids, MACs, MTUs
    records    Network, Sandbox, Endpoint records and their JSON form (export/restore)

See :mod:`engine.network.manager` for the lifecycle.

Defaults: subnets from 10.208.0.0/12 in /22s (IPv6: fd5c:a7c0:fe00::/48 in /64s), configurable
with ``NetworkSettings.ipv4_pools`` / ``ipv6_pools`` (``AddressPool.parse("10.0.0.0/8,size=24")``);
bridges ``pcbr-<id>``, host-side veths ``pcv<hash>``; namespaces under
``/run/pycompose/network/netns``.

Coexistence with Docker: the engine's rules live in its own nftables tables only, match only
its own bridges and subnets, and are removed with the networks. Docker's iptables FORWARD
policy DROP (with br_netfilter loaded) would still drop our forwarded traffic, since an accept
in another table is not final; so the engine then adds two accept rules per bridge, commented
``pycompose``, to ``DOCKER-USER`` (or ``FORWARD``), and deletes them with the network
(:mod:`engine.network.coexist`). It never changes Docker's chains otherwise, nor the policy.
The engine sets net.ipv4.ip_forward=1 (and IPv6 forwarding for IPv6 networks), as Docker
does, and leaves them set.
"""

from engine.network.errors import (
    AddressInUse,
    AddressPoolExhausted,
    BridgeFull,
    InvalidNetworkConfig,
    NetworkSetupFailed,
)
from engine.network.files import (
    ResolvConf,
    container_resolv_conf,
    etc_files,
    parse_extra_hosts,
    parse_resolv_conf,
    render_hostname,
    render_hosts,
    render_resolv_conf,
    resolver_upstreams,
    write_container_files,
)
from engine.network.ipam import AddressPool, SubnetPlan, SubnetRequest
from engine.network.manager import (
    NetworkEngine,
    NetworkSettings,
    open_network_engine,
    settings_for_instance,
)
from engine.network.ports import PortBinding, PortRequest, parse_port_spec
from engine.network.records import Endpoint, Network, Sandbox

__all__ = [
    "AddressInUse",
    "AddressPool",
    "AddressPoolExhausted",
    "BridgeFull",
    "Endpoint",
    "InvalidNetworkConfig",
    "Network",
    "NetworkEngine",
    "NetworkSettings",
    "NetworkSetupFailed",
    "PortBinding",
    "PortRequest",
    "ResolvConf",
    "Sandbox",
    "SubnetPlan",
    "SubnetRequest",
    "container_resolv_conf",
    "etc_files",
    "open_network_engine",
    "parse_extra_hosts",
    "parse_port_spec",
    "parse_resolv_conf",
    "render_hostname",
    "render_hosts",
    "render_resolv_conf",
    "resolver_upstreams",
    "settings_for_instance",
    "write_container_files",
]
