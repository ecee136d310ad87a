"""Shared pieces of the real-build tests: a progress recorder, what a build left behind,
the files of an image."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.images.overlay import is_mounted


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    @property
    def text(self):
        return "".join(event.stream for event in self.events)


def leftovers(images, runc):
    containers = images.root / "containers"
    return {
        "containers": sorted(os.listdir(containers)) if containers.is_dir() else [],
        "runc": sorted(os.listdir(runc.state_root)),
        "mounts": [
            line.split()[4]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(images.root) in line.split()[4]
        ],
    }


async def image_files(images, name):
    path = await images.mount(name)
    try:
        seen = {}
        for directory, dirs, files in os.walk(path):
            for entry in dirs + files:
                full = os.path.join(directory, entry)
                info = os.lstat(full)
                content = None
                if stat.S_ISREG(info.st_mode) and info.st_size < 4096:
                    content = Path(full).read_text(errors="replace")
                seen["/" + os.path.relpath(full, path)] = (
                    stat.S_IMODE(info.st_mode),
                    info.st_uid,
                    info.st_gid,
                    content,
                )
        return seen
    finally:
        await images.umount(name)
        assert not is_mounted(path)
