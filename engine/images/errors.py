"""Errors of the image subsystem; all are kinds of :mod:`engine.errors`.

EngineError
├── InvalidParameter
│   ├── InvalidReference     "Redis" / "a//b" / "x@sha256:12" are not image references
│   └── InvalidImage         a manifest, config or layer that breaks the image spec
│       ├── DigestMismatch   bytes whose sha256 or size is not what was announced
│       └── UnsafeLayer      a layer entry that would escape the layer's root
├── NotFound
│   └── ImageNotFound        no such image in the store, or no such manifest/blob remotely
├── Conflict
│   └── ImageInUse           removal refused: a container uses the image / several tags
├── Unsupported
│   └── UnsupportedMediaType a manifest or layer type this engine cannot handle
└── EngineInternal
    └── RegistryError        the registry answered something unexpected, or is unreachable
        └── AuthError        credentials refused or the token service failed
"""

from __future__ import annotations

from engine.errors import Conflict, EngineInternal, InvalidParameter, NotFound, Unsupported


class InvalidReference(InvalidParameter):
    pass


class InvalidImage(InvalidParameter):
    pass


class DigestMismatch(InvalidImage):
    pass


class UnsafeLayer(InvalidImage):
    pass


class ImageNotFound(NotFound):
    pass


class ImageInUse(Conflict):
    pass


class UnsupportedMediaType(Unsupported):
    pass


class RegistryError(EngineInternal):
    pass


class AuthError(RegistryError):
    pass
