"""The whole decision of `up` and `down`, as pure functions of values.

``reconcile(desired, observed, options) -> Plan`` compares what the project
wants with what the engine has (docker compose's convergence):

- networks and volumes the project uses are created when missing; an external
  one that is missing is an error;
- each service gets ``replicas`` containers named ``<project>-<service>-<n>``:
  missing numbers are created, numbers above ``replicas`` are removed (scale
  down leaves the other replicas alone);
- an existing container is recreated when its config hash differs, its image
  was rebuilt or re-pulled, or it lacks a network or a named volume the service
  now has (``--force-recreate`` / ``--no-recreate`` override); the cause names
  what changed when pycompose made the container;
- containers that are not running are started, after the operations of the
  services they depend on, and wait for the depends_on conditions;
- a dependency that is recreated restarts the dependents whose depends_on
  says ``restart: true``;
- containers of services no longer in the project are orphans: reported, and
  removed with ``remove_orphans``.

``plan_down`` removes the project's containers (dependents first), networks and,
when asked, volumes. Neither function performs I/O: ``compose.apply`` observes
before and executes after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from compose import file_mounts, labels, pull_policy, pycompose_ext, update_order
from compose.desired import DesiredService, DesiredState, container_name
from compose.errors import PlanError
from compose.observed import ObservedContainer, ObservedState
from compose.plan import OperationType, Plan, PlanBuilder, WaitCondition
from engine.api.models.extensions import ON_UNHEALTHY


@dataclasses.dataclass(frozen=True, slots=True)
class ReconcileOptions:
    services: tuple[str, ...] = ()  # only these (and, unless no_deps, what they need)
    no_deps: bool = False
    force_recreate: bool = False
    no_recreate: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    scale: Mapping[str, int] = dataclasses.field(default_factory=dict)
    pull: str | None = None  # --pull: always | missing | never (default: the service's pull_policy)
    build: bool = False  # --build: build images before starting
    no_build: bool = False  # --no-build: never build, even a missing image
    resources_only: bool = False  # networks, volumes and images only (for `run`)
    recreate: tuple[str, ...] = ()  # recreated whatever changed (--always-recreate-deps)


def _pull_reason(
    service: str, policy: str, present: bool, image: str, observed: ObservedState
) -> str | None:
    pulled = observed.image_pulled.get(image)
    try:
        return pull_policy.pull_reason(policy, present, pulled, observed.observed_at)
    except pull_policy.PullPolicyError as error:
        raise PlanError(
            f"service {service}: pull_policy {policy!r}: {error}",
            hint="every_ takes a duration such as every_12h or every_2d",
        ) from None


def _changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two configs differ (leaves, or whole lists)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append(f"{sub} added")
            elif key not in new:
                found.append(f"{sub} removed")
            else:
                found.extend(_changes(old[key], new[key], sub))
        return found
    if old != new:
        return [f"{path} changed"]
    return []


def recreate_cause(
    container: ObservedContainer,
    service: DesiredService,
    image_id: str | None,
    options: ReconcileOptions,
) -> str | None:
    """Why ``container`` must be recreated, or None (docker compose's mustRecreate)."""
    if options.no_recreate:
        return None
    if options.force_recreate:
        return "--force-recreate"
    if container.config_hash != service.config_hash:
        recorded = container.recorded_config
        if recorded is None:
            return "configuration changed"
        changes = _changes(labels.hashed_config(recorded), labels.hashed_config(service.config))
        if not changes:
            return "configuration changed"
        shown = ", ".join(changes[:3])
        return shown + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
    wanted = pycompose_ext.settings_of(service.service.extensions).on_unhealthy
    if container.labels.get(ON_UNHEALTHY, "none") != wanted:
        return f"{pycompose_ext.KEY}.on_unhealthy changed"
    if service.files and (
        labels.SERVICE_CONFIG in container.labels or file_mounts.FILES_LABEL in container.labels
    ):  # pycompose made it: compare the contents it copied in (docker compose does not)
        changed = file_mounts.changed(container.labels.get(file_mounts.FILES_LABEL), service.files)
        if changed:
            return ", ".join(changed)
    recorded_image = container.labels.get(labels.IMAGE)
    if image_id and recorded_image and recorded_image != image_id:
        return "image updated"
    if container.state == "running":
        missing = sorted(set(service.networks) - set(container.networks))
        if missing:
            return f"not attached to network {missing[0]}"
    missing_volumes = sorted(set(service.volumes) - set(container.volumes))
    if missing_volumes:
        return f"volume {missing_volumes[0]} not mounted"
    return None


def _joined(config: Mapping[str, Any]) -> list[str]:
    """The services whose container this one's namespaces or volumes_from name."""
    found = [
        value.removeprefix("service:")
        for key in ("network_mode", "ipc", "pid", "uts", "cgroup")
        if isinstance(value := config.get(key), str) and value.startswith("service:")
    ]
    for entry in config.get("volumes_from") or []:
        if isinstance(entry, str) and not entry.startswith("container:"):
            found.append(entry.split(":", 1)[0])
    return found


def _selected_services(desired: DesiredState, options: ReconcileOptions) -> list[str]:
    if not options.services:
        return desired.graph.start_order()
    unknown = sorted(set(options.services) - set(desired.services))
    if unknown:
        raise PlanError(f"no such service: {unknown[0]}")
    wanted = (
        set(options.services)
        if options.no_deps
        else set(desired.graph.with_dependencies(list(options.services)))
    )
    return [name for name in desired.graph.start_order() if name in wanted]


def reconcile(desired: DesiredState, observed: ObservedState, options: ReconcileOptions) -> Plan:
    """The plan of ``up``: see the module docstring for the rules."""
    plan = PlanBuilder()
    selected = _selected_services(desired, options)
    for name in selected:  # before anything is made: a secret or config that cannot be had
        files_error = desired.services[name].files_error
        if files_error is not None:
            raise files_error

    # networks and volumes the selected services use
    resource_ops: dict[str, int | None] = {}
    used_networks = {name for s in selected for name in desired.services[s].networks}
    for network in sorted(desired.networks.values(), key=lambda n: n.name):
        if network.name not in used_networks:
            continue
        existing_network = observed.networks.get(network.name)
        if existing_network is None:
            if network.external:
                raise PlanError(
                    f"external network {network.name!r} not found",
                    hint=f"create it first (docker network create {network.name}) "
                    "or drop `external: true`",
                )
            resource_ops[network.name] = plan.add(
                OperationType.CREATE_NETWORK,
                network.name,
                "not found",
                details={"key": network.key},
            )
        elif (
            not network.external
            and existing_network.config_hash
            and existing_network.config_hash != network.config_hash
        ):
            plan.warnings.append(
                f"network {network.name} exists with a different configuration; "
                "run `pycompose down` to recreate it"
            )
    used_volumes = {name for s in selected for name in desired.services[s].volumes}
    for volume in sorted(desired.volumes.values(), key=lambda v: v.name):
        if volume.name not in used_volumes:
            continue
        if volume.name not in observed.volumes:
            if volume.external:
                raise PlanError(
                    f"external volume {volume.name!r} not found",
                    hint=f"create it first (docker volume create {volume.name})",
                )
            resource_ops[volume.name] = plan.add(
                OperationType.CREATE_VOLUME, volume.name, "not found", details={"key": volume.key}
            )

    # images: pulled when missing (or always, by policy), built when the service says how
    image_ops: dict[str, int] = {}
    for service_name in selected:
        service = desired.services[service_name]
        if service.image in image_ops:
            continue
        policy = options.pull or str(service.config.get("pull_policy") or "missing")
        has_build = bool(service.config.get("build")) and not options.no_build
        present = service.image in observed.images
        if has_build and (options.build or policy == "build" or not present):
            cause = "not found" if not present else "pull_policy: build"
            image_ops[service.image] = plan.add(
                OperationType.BUILD_IMAGE,
                service.image,
                "--build" if options.build else cause,
                service=service_name,
            )
        elif (
            not present
            and options.no_build
            and service.config.get("build")
            and not service.config.get("image")
        ):
            raise PlanError(
                f"image {service.image!r} of service {service_name} has not been built",
                hint="build it first (pycompose build), or leave out --no-build",
            )
        elif reason := _pull_reason(service_name, policy, present, service.image, observed):
            image_ops[service.image] = plan.add(
                OperationType.PULL_IMAGE, service.image, reason, service=service_name
            )
        elif not present:
            raise PlanError(
                f"image {service.image!r} of service {service_name} is not present "
                f"and its pull policy is {policy!r}",
                hint="pull or load the image first",
            )

    if options.resources_only:
        _orphans(plan, desired, observed, options)
        return plan.build()

    # containers, service by service in dependency order
    ready_op: dict[str, list[int]] = {}  # service -> ops after which it is started
    recreated: set[str] = set()
    for service_name in selected:
        service = desired.services[service_name]
        replicas = options.scale.get(service_name, service.replicas)
        image_id = observed.images.get(service.image)
        needs = [resource_ops.get(name) for name in (*service.networks, *service.volumes)]
        needs.append(image_ops.get(service.image))
        waits: list[WaitCondition] = []
        after_dependencies: list[int] = []
        restart_for_dependency = False
        for dependency, spec in sorted(service.depends_on.items()):
            if dependency not in desired.services:
                continue
            if dependency in selected or not options.no_deps:
                waits.append(
                    WaitCondition(
                        dependency,
                        str(spec.get("condition", "service_started")),
                        bool(spec.get("required", True)),
                    )
                )
            after_dependencies.extend(ready_op.get(dependency, []))
            if spec.get("restart") and dependency in recreated:
                restart_for_dependency = True
        waits.extend(
            WaitCondition(other.service, other.condition, project=other.project)
            for other in pycompose_ext.settings_of(service.service.extensions).wait_for
        )
        # a container that joins another's namespaces or mounts its volumes is created once
        # that one exists and runs (docker compose creates in dependency order)
        joins = [op for source in _joined(service.config) for op in ready_op.get(source, [])]
        linked_ops = [
            op
            for link in service.service.links or []
            for op in ready_op.get(link.partition(":")[0], [])
        ]
        service_ops: list[int] = []
        rolling_ops: list[int] = []  # its start-first recreates, paced by parallelism
        by_number: dict[int, ObservedContainer] = {}
        for container in observed.containers_of(service_name):
            if container.number in by_number or container.number > replicas:
                # scale down (highest numbers go) and duplicates
                stop = plan.add(
                    OperationType.STOP_CONTAINER,
                    container.name,
                    f"scale {service_name} to {replicas}"
                    if container.number > replicas
                    else "duplicate container number",
                    service=service_name,
                    number=container.number,
                    container_id=container.id,
                )
                plan.add(
                    OperationType.REMOVE_CONTAINER,
                    container.name,
                    "scaled down" if container.number > replicas else "duplicate",
                    after=[stop],
                    service=service_name,
                    number=container.number,
                    container_id=container.id,
                )
                continue
            by_number[container.number] = container
        for number in range(1, replicas + 1):
            name = container_name(desired.project, service_name, number, service.config)
            current = by_number.get(number)
            if current is None:
                created = plan.add(
                    OperationType.CREATE_CONTAINER,
                    name,
                    "not found",
                    # a link is resolved when the container is made: its target exists first
                    after=[*needs, *joins, *linked_ops],
                    service=service_name,
                    number=number,
                )
                if not options.no_start:
                    service_ops.append(
                        plan.add(
                            OperationType.START_CONTAINER,
                            name,
                            "created",
                            after=[created, *after_dependencies],
                            waits_for=tuple(waits),
                            service=service_name,
                            number=number,
                        )
                    )
                else:
                    service_ops.append(created)
                continue
            why = recreate_cause(current, service, image_id, options)
            if why is None and service_name in options.recreate and not options.no_recreate:
                why = "--always-recreate-deps"
            if why is None and restart_for_dependency:
                why = "a dependency was recreated (depends_on restart: true)"
            if why is not None:
                recreated.add(service_name)
                details: dict[str, Any] = {"start": not options.no_start}
                rolling = None if options.no_start else update_order.start_first(service.service)
                earlier: list[int] = []
                if rolling is not None:
                    parallelism = rolling["parallelism"]
                    batch = len(rolling_ops) // parallelism if parallelism else 0
                    details["update"] = {**rolling, "batch": batch}
                    if parallelism and len(rolling_ops) >= parallelism:
                        earlier = [rolling_ops[-parallelism]]
                    why += "; start-first"
                elif not options.no_start and (note := update_order.why_not(service.service)):
                    plan.warnings.append(f"service {service_name}: {note}")
                operation = plan.add(
                    OperationType.RECREATE_CONTAINER,
                    name,
                    why,
                    after=[*needs, *after_dependencies, *earlier],
                    waits_for=tuple(waits) if not options.no_start else (),
                    service=service_name,
                    number=number,
                    container_id=current.id,
                    details=details,
                )
                if rolling is not None:
                    rolling_ops.append(operation)
                service_ops.append(operation)
            elif not current.running and not options.no_start:
                state = current.state + (
                    f" ({current.exit_code})" if current.state == "exited" else ""
                )
                service_ops.append(
                    plan.add(
                        OperationType.START_CONTAINER,
                        name,
                        state,
                        after=after_dependencies,
                        waits_for=tuple(waits),
                        service=service_name,
                        number=number,
                        container_id=current.id,
                    )
                )
        ready_op[service_name] = service_ops

    _orphans(plan, desired, observed, options)
    return plan.build()


def _orphans(
    plan: PlanBuilder, desired: DesiredState, observed: ObservedState, options: ReconcileOptions
) -> None:
    """Containers of services the project no longer has: removed with ``remove_orphans``,
    else a warning."""
    orphans = [c for c in observed.containers if not c.oneoff and c.service not in desired.services]
    if orphans and options.remove_orphans:
        for container in sorted(orphans, key=lambda c: c.name):
            stop = plan.add(
                OperationType.STOP_CONTAINER,
                container.name,
                f"orphan (service {container.service} is not in the project)",
                container_id=container.id,
                service=container.service,
            )
            plan.add(
                OperationType.REMOVE_CONTAINER,
                container.name,
                "orphan",
                after=[stop],
                container_id=container.id,
                service=container.service,
            )
    elif orphans:
        names = ", ".join(sorted(c.name for c in orphans))
        plan.warnings.append(
            f"found orphan containers ({names}) for this project; if you removed or renamed "
            "their service, run this command with --remove-orphans to clean them up"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class DownOptions:
    remove_volumes: bool = False
    remove_orphans: bool = False
    remove_images: str | None = None  # "all" | "local" | None


def plan_down(
    observed: ObservedState,
    desired: DesiredState | None,
    options: DownOptions,
    images: Sequence[str] = (),
) -> Plan:
    """The plan of ``down``: containers (dependents first), then networks, volumes, images."""
    plan = PlanBuilder()
    known = set(desired.services) if desired else None
    order = desired.graph.stop_order() if desired else []
    rank = {name: index for index, name in enumerate(order)}
    containers = [
        c
        for c in observed.containers
        if known is None or c.service in known or options.remove_orphans or c.oneoff
    ]
    skipped = [c for c in observed.containers if c not in containers]
    if skipped:
        names = ", ".join(sorted(c.name for c in skipped))
        plan.warnings.append(
            f"found orphan containers ({names}); run with --remove-orphans to remove them"
        )
    removals: dict[str, list[int]] = {}
    stops_of: dict[str, list[int]] = {}
    for service in sorted({c.service for c in containers}, key=lambda s: (rank.get(s, -1), s)):
        # a service stops once the services that depend on it have stopped (dependents first);
        # unrelated services stop in parallel
        dependents = desired.graph.dependents(service) if desired and service in rank else []
        wait_for = [op for dependent in dependents for op in stops_of.get(dependent, [])]
        for container in sorted(
            (c for c in containers if c.service == service), key=lambda c: c.name
        ):
            stop = None
            if container.running:
                stop = plan.add(
                    OperationType.STOP_CONTAINER,
                    container.name,
                    "down",
                    after=wait_for,
                    container_id=container.id,
                    service=service,
                )
                stops_of.setdefault(service, []).append(stop)
            removal = plan.add(
                OperationType.REMOVE_CONTAINER,
                container.name,
                "down",
                after=[stop],
                container_id=container.id,
                service=service,
                details={"volumes": options.remove_volumes},
            )
            removals.setdefault(service, []).append(removal)
    all_removals = [op for ops in removals.values() for op in ops]
    for network in sorted(observed.networks.values(), key=lambda n: n.name):
        if desired is not None and any(
            n.external and n.name == network.name for n in desired.networks.values()
        ):
            continue
        plan.add(
            OperationType.REMOVE_NETWORK,
            network.name,
            "down",
            after=all_removals,
            details={"id": network.id},
        )
    if options.remove_volumes:
        for volume in sorted(observed.volumes.values(), key=lambda v: v.name):
            if desired is not None and any(
                v.external and v.name == volume.name for v in desired.volumes.values()
            ):
                continue
            plan.add(OperationType.REMOVE_VOLUME, volume.name, "down -v", after=all_removals)
    for image in images:
        plan.add(
            OperationType.REMOVE_IMAGE,
            image,
            f"down --rmi {options.remove_images}",
            after=all_removals,
        )
    return plan.build()
