"""The engine with its defaults (host_netns=None, the process's own namespace), as the daemon
runs it; the test process is put in a fresh namespace with ``unshare --net`` first, so the real
host is not touched."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

CHILD = textwrap.dedent(
    """
    import subprocess, sys
    from pathlib import Path
    import anyio
    from engine.network import NetworkSettings, PortRequest, open_network_engine

    run_dir = Path(sys.argv[1])

    async def main() -> None:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        (run_dir / "resolv.conf").write_text("nameserver 127.0.0.1\\n")
        settings = NetworkSettings(run_dir=run_dir, resolv_conf=run_dir / "resolv.conf")
        www = run_dir / "www"
        www.mkdir()
        (www / "index.html").write_text("hello\\n")
        async with open_network_engine(settings) as engine:
            try:
                network = await engine.create_network("app_default")
                box = await engine.create_sandbox("c-web", name="app-web-1")
                await engine.connect(box.id, network.id, aliases=["web"])
                server = subprocess.Popen(
                    ["nsenter", f"--net={box.netns}", "busybox", "httpd", "-f", "-p", "80",
                     "-h", str(www)]
                )
                try:
                    await engine.publish_ports(box.id, [PortRequest(80, host_port=8080)])
                    for _ in range(300):  # up to a minute on a loaded machine
                        got = subprocess.run(
                            ["timeout", "2", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/"],
                            capture_output=True, text=True,
                        )
                        if got.returncode == 0:
                            break
                        await anyio.sleep(0.1)
                    assert got.stdout == "hello\\n", got
                finally:
                    server.kill()
                    server.wait()
            finally:
                await engine.teardown()
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True)
        assert ruleset.stdout.strip() == "", ruleset.stdout
        links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        assert "pcbr-" not in links and "pcv" not in links, links
        print("ok")

    anyio.run(main)
    """
)


def test_engine_in_its_own_namespace_with_default_settings(tmp_path: Path):
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nft") is None:
        pytest.skip("needs root, unshare and nft")
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    # the child's namespace dies with it; its namespace files are unmounted by teardown
    leftovers = list((tmp_path / "netns").glob("*")) if (tmp_path / "netns").exists() else []
    for path in leftovers:
        subprocess.run(["umount", "-l", str(path)], check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert leftovers == []
