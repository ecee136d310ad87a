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
receive_context       POST /build's body (a tar stream) -> BuildContext in a temp dir

Modules: dockerfile (parser; dockerfile_words: substitution, stages: the parsed stages),
context (.dockerignore, sources, digests), instructions (config instructions), copy_step
and copying (COPY/ADD), run_step and run (RUN in runc), scratch (a step's overlay root and
its layer), files (paths in a root, layer tars), cache (step cache), builder (the build),
options (requests), events (progress and failures), cli (``python -m engine.build``).

The daemon's ``POST /build``, in outline::

    options = options_from_query(query)                  # InvalidParameter, Unsupported
    context = await receive_context(body_chunks, tmp_dir)
    record = await build(context, options, images, runc, lambda e: send(e.to_message()))
    # on a PycomposeError: send(error_message(error)); either way remove tmp_dir
    # POST /session and POST /grpc: raise refuse_buildkit()
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
from engine.build.context import (
    BuildContext,
    extract_context_tar,
    parse_dockerignore,
    receive_context,
)
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
    "receive_context",
    "refuse_buildkit",
]
