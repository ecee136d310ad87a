"""The commands on a project that docker compose added after the classic set: scale,
volumes, commit, export and publish (compose.commands runs them)."""

from __future__ import annotations

from typing import Any

from compose.arguments.base import GoBool
from compose.arguments.refused import refuse


def add_project_commands(commands: Any) -> None:
    scale = commands.add_parser("scale", help="set the number of containers of services")
    scale.add_argument("services", nargs="+", metavar="SERVICE=REPLICAS")
    scale.add_argument(
        "--no-deps", action="store_true", help="do not start the services' dependencies"
    )

    volumes = commands.add_parser("volumes", help="list the project's volumes")
    volumes.add_argument("services", nargs="*", metavar="SERVICE")
    volumes.add_argument("-q", "--quiet", action="store_true", help="only volume names")
    volumes.add_argument(
        "--format", default="table", help="table, json, or a Go template ({{.Name}})"
    )

    commit = commands.add_parser(
        "commit", help="create an image from a service container's changes"
    )
    commit.add_argument("service", metavar="SERVICE")
    commit.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    commit.add_argument("-a", "--author", help="author of the image")
    commit.add_argument("-m", "--message", help="commit message")
    commit.add_argument(
        "-p",
        "--pause",
        action=GoBool,
        default=True,
        help="pause the container while committing (default)",
    )
    commit.add_argument("--index", type=int, default=1)
    commit.add_argument(
        "-c",
        "--change",
        action="append",
        metavar="INSTRUCTION",
        help="apply a Dockerfile instruction to the image (CMD, ENV, LABEL...)",
    )

    export = commands.add_parser(
        "export", help="write a service container's filesystem as a tar archive"
    )
    export.add_argument("service", metavar="SERVICE")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    export.add_argument("--index", type=int, default=1)

    publish = commands.add_parser(
        "publish", help="push the project's compose files to a registry as an OCI artifact"
    )
    publish.add_argument("repository", metavar="REPOSITORY[:TAG]")
    refuse(publish, "publish", "--resolve-image-digests")
    publish.add_argument("--with-env", action="store_true", help="also publish environment values")
    publish.add_argument("-y", "--yes", action="store_true", help='answer "yes" to every question')
    refuse(publish, "publish", "--app")
    refuse(publish, "publish", "--oci-version", value=True)
