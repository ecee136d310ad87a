"""engine.build: Dockerfiles to ordinary layered images, with a layer cache.

build(context, options, images, runc, on_progress) -> ImageRecord   the whole build (async)
BuildContext          a context directory (+ .dockerignore); extract_context_tar for tars
BuildOptions          docker build's flags / compose's build keys
BuildEvent            one piece of progress (``Step 2/5 : RUN ...``, output, ``---> id``)
refuse_buildkit()     the error for BuildKit's /session and /grpc
parse                 Dockerfile text -> stages (pure); DockerfileError cites Dockerfile:LINE
"""

from engine.build.builder import (
    BuildEvent,
    BuildOptions,
    BuildStepFailed,
    ProgressCallback,
    build,
    refuse_buildkit,
)
from engine.build.context import BuildContext, extract_context_tar, parse_dockerignore
from engine.build.dockerfile import Dockerfile, DockerfileError, expand, parse

__all__ = [
    "BuildContext",
    "BuildEvent",
    "BuildOptions",
    "BuildStepFailed",
    "Dockerfile",
    "DockerfileError",
    "ProgressCallback",
    "build",
    "expand",
    "extract_context_tar",
    "parse",
    "parse_dockerignore",
    "refuse_buildkit",
]
