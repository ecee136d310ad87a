"""Modes on disk: nothing under the data root is reachable by an unprivileged host user.

A container's layers hold the image's setuid binaries and its volumes whatever the container
wrote; the databases and bundle files hold environment values and secrets. As dockerd
(CVE-2021-41091), the data root is ``0710 root:root`` so that no host user can traverse it,
and each area below it is ``0700`` besides; files holding configuration are ``0600``.
:func:`secure_data_root` applies this at every engine start, so that data roots made by an
older engine are fixed up too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DATA_ROOT_MODE = 0o710
EXEC_ROOT_MODE = 0o711  # traversable: the API socket may live in it (group access)
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

_PRIVATE_AREAS = ("containers", "volumes", "images")
_PRIVATE_FILE_GLOBS = (
    "*.db",
    "*.db-wal",
    "*.db-shm",
    "*.json",
    "*.log",
    "images/*.db*",
    "containers/*/*.json",
    "containers/*/*.log",
    "volumes/*/*.json",
)


def private_directory(path: Path) -> None:
    """``mkdir -p`` of ``path``, then ``0700`` (whatever mode it had)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)


def private_database(path: Path) -> None:
    """Create the SQLite file ``path`` as ``0600`` before SQLite opens it (SQLite gives its
    ``-wal`` and ``-shm`` files the database's mode); an existing one is set to ``0600``."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, PRIVATE_FILE))
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", PRIVATE_FILE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by root only."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    with open(fd, "w") as file:
        file.write(text)


def secure_data_root(data_root: Path, exec_root: Path | None = None) -> None:
    """Modes of the data root (``0710``), its areas (``0700``), their container directories
    (``0700``) and configuration files (``0600``); the exec root ``0711``."""
    data_root.mkdir(parents=True, exist_ok=True)
    os.chown(data_root, 0, 0)
    os.chmod(data_root, DATA_ROOT_MODE)
    for area in _PRIVATE_AREAS:
        private_directory(data_root / area)
    for directory in (data_root / "containers").iterdir():
        if directory.is_dir() and not directory.is_symlink():
            os.chmod(directory, PRIVATE_DIR)
    for pattern in _PRIVATE_FILE_GLOBS:
        for path in data_root.glob(pattern):
            if path.is_file() and not path.is_symlink():
                os.chmod(path, PRIVATE_FILE)
    if exec_root is not None:
        exec_root.mkdir(parents=True, exist_ok=True)
        os.chmod(exec_root, EXEC_ROOT_MODE)
        private_directory(exec_root / "attach")
