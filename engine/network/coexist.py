"""Coexistence with Docker's iptables rules.

Docker sets the iptables ``FORWARD`` policy to DROP and loads br_netfilter, so every packet
between two containers on one of our bridges, and every packet leaving one, also crosses
iptables' FORWARD chain (iptables-nft: ``table ip filter``), where an accept in our own
nftables table does not help: in netfilter only a drop is final across base chains. When that
chain would drop (policy DROP, or Docker's ``DOCKER-USER`` chain exists), the engine inserts
two accept rules per bridge, marked with the comment ``pycompose``, into ``DOCKER-USER``
(which Docker evaluates first and never flushes) or else at the top of ``FORWARD``. They are
deleted with the network. Our own nftables chain has already dropped what isolation forbids
(drops are final), so these accepts open nothing more than the engine allows.
"""

from __future__ import annotations

import shutil

import anyio

COMMENT = "pycompose"


def _command(netns: str | None, *args: str) -> list[str]:
    command = ["iptables", "-w", *args]
    if netns is not None:
        command = ["nsenter", f"--net={netns}", *command]
    return command


async def _run(netns: str | None, *args: str) -> tuple[int, str]:
    result = await anyio.run_process(_command(netns, *args), check=False)
    return result.returncode, result.stdout.decode(errors="replace")


async def forward_chain_to_patch(netns: str | None) -> str | None:
    """``DOCKER-USER`` or ``FORWARD`` when iptables would drop our traffic; None otherwise."""
    if shutil.which("iptables") is None:
        return None
    code, _ = await _run(netns, "-S", "DOCKER-USER")
    if code == 0:
        return "DOCKER-USER"
    code, text = await _run(netns, "-S", "FORWARD")
    if code == 0 and "-P FORWARD DROP" in text:
        return "FORWARD"
    return None


def _rules(bridge: str) -> list[list[str]]:
    marker = ["-m", "comment", "--comment", COMMENT]
    return [["-i", bridge, *marker, "-j", "ACCEPT"], ["-o", bridge, *marker, "-j", "ACCEPT"]]


async def allow_bridge(bridge: str, netns: str | None = None) -> str | None:
    """Insert accept rules for ``bridge`` where iptables would drop; returns the chain used."""
    chain = await forward_chain_to_patch(netns)
    if chain is None:
        return None
    for rule in _rules(bridge):
        code, _ = await _run(netns, "-C", chain, *rule)
        if code != 0:
            await _run(netns, "-I", chain, "1", *rule)
    return chain


async def disallow_bridge(bridge: str, chain: str, netns: str | None = None) -> None:
    """Delete the rules :func:`allow_bridge` inserted (missing rules are fine)."""
    if shutil.which("iptables") is None:
        return
    for rule in _rules(bridge):
        while (await _run(netns, "-C", chain, *rule))[0] == 0:
            await _run(netns, "-D", chain, *rule)
