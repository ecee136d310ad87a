"""engine.build: Dockerfiles to ordinary layered images, with a layer cache.

build(context, options, images, runc, on_progress) -> ImageRecord   the whole build (async)
BuildContext          a context directory (+ .dockerignore); extract_context_tar for tars
BuildOptions          docker build's flags / compose's build keys
BuildEvent            one piece of progress (``Step 2/5 : RUN ...``, output, ``---> id``)
refuse_buildkit()     the error for BuildKit's /session and /grpc
error_message(error)  the JSON line POST /build streams for a failed build
parse                 Dockerfile text -> stages (pure); DockerfileError cites Dockerfile:LINE
options_from_compose  a compose build: section -> (context dir, BuildOptions)   (pure)
options_from_query    POST /build's query -> BuildOptions (refuses version=2)    (pure)
"""

from engine.build.builder import (
    BuildEvent,
    BuildOptions,
    BuildStepFailed,
    ProgressCallback,
    build,
    error_message,
    refuse_buildkit,
)
from engine.build.context import BuildContext, extract_context_tar, parse_dockerignore
from engine.build.dockerfile import Dockerfile, DockerfileError, expand, parse
from engine.build.options import options_from_compose, options_from_query

__all__ = [
    "BuildContext",
    "BuildEvent",
    "BuildOptions",
    "BuildStepFailed",
    "Dockerfile",
    "DockerfileError",
    "ProgressCallback",
    "build",
    "error_message",
    "expand",
    "extract_context_tar",
    "options_from_compose",
    "options_from_query",
    "parse",
    "parse_dockerignore",
    "refuse_buildkit",
]
