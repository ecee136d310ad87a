"""pycompose's engine: a root daemon serving a subset of the Docker Engine API on a unix socket.

Images on overlayfs, containers through runc and conmon, bridge networks with nftables and
an embedded DNS, named volumes and Dockerfile builds. ``engine.api`` is what clients use
(payload models and the async client); the layers below it are in docs/architecture.md.
"""
