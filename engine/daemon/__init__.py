"""The engine daemon: HTTP/1.1 on a unix socket, the route table, the backend interface.

    server       h11 over anyio streams: keep-alive, limits, chunked streams, hijacking
    routes       (method, path) -> handler, by resource; version negotiation; error shape
    backend_api  Backend: the narrow interface routes call (every method 501 by default)
    backend      EngineBackend: Backend over state, images, volumes, runtime, network,
                 split by resource (containers, execs, images, networks, volumes, system)
    networking   API shapes <-> engine.network; archive (docker cp); stats (cgroups)
    cli          ``pycompose engine start|stop|status|logs`` (register/run)
    __main__     ``python -m engine.daemon``

Only the light modules are re-exported here (the CLI imports this package); import
``engine.daemon.backend`` for the engine itself.
"""

from engine.daemon.backend_api import Backend
from engine.daemon.routes import Router, route_table
from engine.daemon.server import Limits, serve

__all__ = ["Backend", "Limits", "Router", "route_table", "serve"]
