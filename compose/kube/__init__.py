"""Compose projects on Kubernetes and Kubernetes manifests on pycompose's engine.

==============  =========================================================================
generate        a project as manifests, with an explanation per key (pure)
rules           what each Compose key becomes: the table behind --explain and the docs
workload        one service's workload and pod; services: its Services; mounts: its volumes
checks          the API server's rules that its schema does not carry
play            manifests as a Compose project (pure); play_volumes: their mounts
cluster         server-side apply and delete through the Kubernetes API
==============  =========================================================================
"""
