"""An engine holding more than FD_SETSIZE (1024) descriptors (hundreds of containers) still
applies nftables rules: libnftables select()s on its netlink socket, and glibc aborts the
whole process for a descriptor above 1024, so the engine then uses the nft command.

Runs in a child process in a network namespace of its own (``unshare --net``): an abort
there must not take pytest along, and the rules touch only that namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace"),
]

CHILD = """
import os, resource, anyio
from engine.network.nftables import run_nft

anyio.run(run_nft, "add table inet few_fds_probe\\n")
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
anyio.run(run_nft, "add table inet many_fds_probe\\n")
os.execvp("nft", ["nft", "list", "tables"])
"""


def test_rules_apply_with_more_than_fd_setsize_descriptors_open() -> None:
    if shutil.which("unshare") is None or shutil.which("nft") is None:
        pytest.fail("unshare and nft are needed (util-linux, nftables)")
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "table inet few_fds_probe" in result.stdout
    assert "table inet many_fds_probe" in result.stdout
