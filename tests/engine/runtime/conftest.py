"""Fixtures of the runtime tests (defined in runtime_helpers, which tests also import)."""

from runtime_helpers import anyio_backend, busybox_template, rootfs

__all__ = ["anyio_backend", "busybox_template", "rootfs"]
