"""The grammar of ``pycompose kube ...``."""

from __future__ import annotations

from typing import Any

KUBE_HELP = "Kubernetes: generate manifests, play them on the engine, apply them to a cluster"


def add_kube_commands(commands: Any) -> None:
    kube = commands.add_parser("kube", help=KUBE_HELP)
    actions = kube.add_subparsers(dest="kube_command", metavar="COMMAND", required=True)

    generate = actions.add_parser("generate", help="write Kubernetes manifests for the project")
    generate.add_argument("services", nargs="*", metavar="SERVICE")
    generate.add_argument(
        "-o", "--output", metavar="DIR", help="write one file per object to DIR (- for stdout)"
    )
    generate.add_argument(
        "--explain",
        action="store_true",
        help="print what every key of the stack file becomes (mapped, approximated, dropped)",
    )
    generate.add_argument(
        "--strict", action="store_true", help="fail when any key is approximated or dropped"
    )
    generate.add_argument(
        "--service-type",
        choices=["ClusterIP", "NodePort", "LoadBalancer"],
        default="ClusterIP",
        help="the type of the Services of published ports (default ClusterIP)",
    )
    generate.add_argument(
        "--volume-size", default="1Gi", help="the storage each volume's claim requests"
    )

    play = actions.add_parser("play", help="run Kubernetes manifests on pycompose's engine")
    play.add_argument("manifests", nargs="+", metavar="FILE")
    play.add_argument("--wait-timeout", type=int, default=300, metavar="SECONDS")
    down = actions.add_parser("down", help="remove what `kube play` of these manifests made")
    down.add_argument("manifests", nargs="+", metavar="FILE")
    down.add_argument("-v", "--volumes", action="store_true", help="remove the claims' volumes")

    apply = actions.add_parser("apply", help="send the manifests to a cluster (server-side apply)")
    delete = actions.add_parser("delete", help="delete the manifests' objects from a cluster")
    for command in (apply, delete):
        command.add_argument("manifests", nargs="*", metavar="FILE")
        command.add_argument("-n", "--namespace", default=None)
        command.add_argument("--context", default=None, help="the kubeconfig context to use")
        command.add_argument("--kubeconfig", default=None, help="the kubeconfig file")
    apply.add_argument(
        "--no-wait", action="store_true", help="do not wait for the rollouts to finish"
    )
    apply.add_argument("--timeout", type=int, default=300, metavar="SECONDS")
