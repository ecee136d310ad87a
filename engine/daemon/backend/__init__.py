"""The engine behind the API: :class:`EngineBackend` and the parts it hands verbs to.

engine          EngineBackend: opens the subsystems, one method per API verb
index           ContainerIndex: container records by reference, runtime state
events          EventSink: emitted events, stored and streamed
containers      Containers: create, start, stop, remove, logs, cp...
container_view  ContainerViews: summaries and inspect documents
attach          AttachSession: docker attach
execs           Execs, ExecSession: docker exec
images          Images: /images/... and /build
networks        Networks: /networks/...
volumes         Volumes: /volumes/...
system          System: /version, /info, /system/df
shapes          small conversions to Docker's wire formats
"""

from engine.daemon.backend.engine import EngineBackend

__all__ = ["EngineBackend"]
