"""grpc.health.v1.Health (Check, Watch, List) for a provider: "" for the whole
server and "vifplug.provider.v1.Provider", which vifplugd probes. NOT_SERVING
until the socket is bound, SERVING while it serves, NOT_SERVING again from the
start of shutdown, when every Watch stream is ended.
"""

from __future__ import annotations

import threading
from typing import Dict, Iterable, Iterator

import grpc

from . import _pbwire
from .errors import PlugError, abort, malformed
from .streams import Changes

SERVICE = "grpc.health.v1.Health"


class Health:
    def __init__(self, services: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._statuses: Dict[str, int] = {name: _pbwire.NOT_SERVING for name in ("", *services)}
        self._changes = Changes()

    def set_all(self, status: int) -> None:
        with self._lock:
            for name in self._statuses:
                self._statuses[name] = status
        self._changes.changed()

    def end_watches(self) -> None:
        self._changes.end_all()

    def status(self, service: str) -> int:
        with self._lock:
            return self._statuses.get(service, _pbwire.SERVICE_UNKNOWN)

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Check": grpc.unary_unary_rpc_method_handler(self._check, request_deserializer=_request, response_serializer=bytes),
                "List": grpc.unary_unary_rpc_method_handler(self._list, request_deserializer=_request, response_serializer=bytes),
                "Watch": grpc.unary_stream_rpc_method_handler(self._watch, request_deserializer=_request, response_serializer=bytes),
            },
        )

    def _check(self, service: object, context: grpc.ServicerContext) -> bytes:
        if not isinstance(service, str):
            abort(context, malformed("not a HealthCheckRequest"))
        with self._lock:
            status = self._statuses.get(service)  # type: ignore[arg-type]
            known = ", ".join('"%s"' % name for name in self._statuses if name)
        if status is None:
            abort(context, PlugError("NOT_FOUND", "SERVICE_UNKNOWN", 'no health status for service "%s"; known: "" (the whole server), %s' % (str(service)[:128], known)))
        return _pbwire.encode_health_response(status)  # type: ignore[arg-type]

    def _list(self, _request: object, _context: grpc.ServicerContext) -> bytes:
        with self._lock:
            return _pbwire.encode_health_list(dict(self._statuses))

    def _watch(self, service: object, context: grpc.ServicerContext) -> Iterator[bytes]:
        if not isinstance(service, str):
            abort(context, malformed("not a HealthCheckRequest"))
        for status in self._changes.follow(context, lambda: self.status(service)):  # type: ignore[arg-type]
            yield _pbwire.encode_health_response(status)


def _request(data: bytes) -> object:
    """The service named, or None for bytes that are not a HealthCheckRequest (answered INVALID_ARGUMENT)."""
    try:
        return _pbwire.decode_health_request(data)
    except (ValueError, UnicodeDecodeError):
        return None
