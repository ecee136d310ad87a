"""``pycompose engine install-service | uninstall-service``: start the engine at boot.

The unit runs the very command ``pycompose engine start`` would (the same Python, the same
engine package, :func:`engine.api.autostart.engine_command`), so the engine that boot
starts is the one this pycompose talks to. ``KillMode=process``: stopping the unit stops
the engine only; containers run on under conmon (live-restore), and at the next start the
engine restores, in dependency order, those whose restart policy wants them running.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from compose.commands.terminal import Terminal
from engine.api.autostart import data_root_from_env, engine_command
from engine.api.client import socket_from_host

DEFAULT_UNIT_DIR = "/etc/systemd/system"
DEFAULT_NAME = "pycompose-engine"


def _quote(argument: str) -> str:
    """One ExecStart word, quoted as systemd reads it (``%`` and ``$`` are its own)."""
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def unit_text(socket_path: str, data_root: str) -> str:
    command, environment = engine_command(socket_path, data_root)
    lines = [
        "[Unit]",
        f"Description=pycompose engine (Docker Engine API on {socket_path.replace('%', '%%')})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_quote(word) for word in command),
        *(
            "Environment=" + _quote(f"{name}={value}")
            for name, value in sorted(environment.items())
            if name != "HOME"
        ),
        "KillMode=process",
        "Restart=on-failure",
        "RestartSec=2",
        "TimeoutStopSec=60",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def _systemctl(terminal: Terminal, *args: str) -> bool:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        print("warning: no systemctl here: the unit is written but not enabled", file=terminal.err)
        return False
    done = subprocess.run([systemctl, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"warning: systemctl {' '.join(args)}: {done.stderr.strip()}", file=terminal.err)
        return False
    return True


def install(args: argparse.Namespace, terminal: Terminal) -> int:
    socket_path = socket_from_host(args.host)
    data_root = data_root_from_env(args.data_root)
    path = Path(args.unit_dir) / f"{args.name}.service"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".service.tmp")
        temporary.write_text(unit_text(socket_path, data_root))
        temporary.chmod(0o644)
        temporary.replace(path)
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=terminal.err)
        return 1
    print(f"wrote {path}", file=terminal.out)
    if args.no_enable:
        print(f"    enable it with: systemctl enable --now {args.name}", file=terminal.out)
        return 0
    if _systemctl(terminal, "daemon-reload") and _systemctl(terminal, "enable", args.name):
        print(f"enabled {args.name}: the engine starts at boot", file=terminal.out)
    return 0


def uninstall(args: argparse.Namespace, terminal: Terminal) -> int:
    path = Path(args.unit_dir) / f"{args.name}.service"
    if not path.exists():
        print(f"no unit at {path}", file=terminal.out)
        return 0
    if not args.no_enable:
        _systemctl(terminal, "disable", args.name)
    try:
        path.unlink()
    except OSError as exc:
        print(f"error: cannot remove {path}: {exc.strerror}", file=terminal.err)
        return 1
    if not args.no_enable:
        _systemctl(terminal, "daemon-reload")
    print(f"removed {path}", file=terminal.out)
    return 0
