"""The engine's own file-system safety primitives: every path it touches inside an image,
layer, build context or container resolves beneath a root fd, and every tar it reads or
writes goes through one routine of its own.

- :mod:`engine.fs.resolve`: ``open_beneath``, ``resolve_parent_beneath``, ``mkdirs_beneath``
  (``openat2`` with ``RESOLVE_IN_ROOT``, or an ``O_NOFOLLOW`` walk where it is missing).
- :mod:`engine.fs.tar_reader`: tar headers parsed within limits; decompression.
- :mod:`engine.fs.tar_extract`: ``extract_tar`` (contexts, ``ADD``, layers, ``cp`` into a
  container).
- :mod:`engine.fs.tar_create`: ``iter_tar`` / ``write_tar`` / ``stat_beneath`` (``cp`` out of
  a container, ``export``) with owner names read from the container's files as data.
"""

from engine.fs.errors import ArchiveError
from engine.fs.resolve import mkdirs_beneath, open_beneath, resolve_parent_beneath
from engine.fs.tar_create import OwnerNames, PathStat, iter_tar, stat_beneath, write_tar
from engine.fs.tar_extract import ExtractOptions, ExtractStats, extract_tar, extract_tar_into
from engine.fs.tar_reader import Limits

__all__ = [
    "ArchiveError",
    "ExtractOptions",
    "ExtractStats",
    "Limits",
    "OwnerNames",
    "PathStat",
    "extract_tar",
    "extract_tar_into",
    "iter_tar",
    "mkdirs_beneath",
    "open_beneath",
    "resolve_parent_beneath",
    "stat_beneath",
    "write_tar",
]
