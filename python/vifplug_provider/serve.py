"""serve_provider: a provider written as plain callbacks (Provider), served as
vifplug.provider.v1.Provider with grpc.health.v1 on a unix socket, and
optionally kept registered with vifplugd; the Python twin of the TypeScript
SDK's serveProvider.

Every method answers as the contract says (proto/vifplug/provider/v1): what a
callback raises becomes a status with ErrorInfo (errors.py), a request that
breaks the API is INVALID_ARGUMENT (MALFORMED_REQUEST), each call's deadline
and cancellation reach the callback (call.py), PreparePorts and PortStream
run the same prepare_port, and shutdown drains: new calls are refused with
UNAVAILABLE (DRAINING), streams are ended, calls in flight get the grace
period, and the socket is removed.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional, Sequence, Type, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from . import _pbwire, socket_file
from ._gen import provider_pb2 as pb
from .call import Call, UnaryCall
from .errors import PlugError, abort, draining, internal_error, malformed, port_error
from .health import Health
from .messages import answer_message, ctx_in_of, ctx_out_of, representor_message
from .port_stream import Malformed, PortStream
from .registration import RegisterOptions, Registration
from .streams import Changes
from .provider import Provider

log = logging.getLogger("vifplug_provider")

#: The service a provider serves, and the name its health is reported under.
PROVIDER_SERVICE = "vifplug.provider.v1.Provider"
#: The provider API versions the SDK speaks.
API_VERSIONS = ("v1",)
#: At most this many ports in one PreparePorts.
MAX_BATCH = 1024

# vifplugd's rule for a type (src/api/validate.ts isProviderType): Register refuses any other.
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

M = TypeVar("M", bound=Message)


def serve_provider(
    provider: Provider,
    *,
    socket: str,
    socket_mode: int = 0o660,
    register: Optional[RegisterOptions] = None,
    workers: int = 16,
    shutdown_grace: float = 10.0,
) -> "ServedProvider":
    """Serves provider on the unix socket `socket` (an absolute path; a stale
    socket there is replaced, a live one refused) and returns once it serves.

    socket_mode: permission bits of the socket (default 0660: vifplugd runs
      as root or in the socket's group).
    register: register with vifplugd, and again whenever it restarts.
    workers: threads that run callbacks (PortStream calls have as many again).
    shutdown_grace: seconds calls in flight get at close() before they are cancelled.
    """
    if not _TYPE.match(provider.type):
        raise ValueError('provider type "%s" must be 1 to 64 characters of [A-Za-z0-9_.-], starting with a letter or digit' % provider.type)
    socket_file.check_path(socket)
    return ServedProvider(provider, socket, socket_mode, register, workers, shutdown_grace)


class ServedProvider:
    """A provider being served; made by serve_provider."""

    def __init__(
        self, provider: Provider, path: str, mode: int, register: Optional[RegisterOptions], workers: int, grace: float
    ) -> None:
        #: What Register is given: unix:///path.sock.
        self.endpoint = "unix://" + path
        self._path = path
        self._grace = grace
        self._health = Health([PROVIDER_SERVICE])
        self._port_workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vifplug-port")
        self._service = _ProviderService(provider, self._port_workers)
        self._grpc_workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vifplug-grpc")
        self._server = grpc.server(self._grpc_workers, handlers=[self._service.handler(), self._health.handler()])
        self._closing = threading.Lock()
        self._closed = threading.Event()
        self._stop_asked = threading.Event()
        self._force = threading.Event()
        try:
            self._inode = self._bind(path, mode)
        except BaseException:
            self._server.stop(None)
            raise
        self._health.set_all(_pbwire.SERVING)
        self._registration = None if register is None else Registration(provider.type, self.endpoint, register)
        if self._registration is not None:
            self._registration.start()

    def _bind(self, path: str, mode: int) -> int:
        def listen(at: str) -> None:
            try:
                bound = self._server.add_insecure_port("unix:" + at)
            except RuntimeError as err:
                raise RuntimeError("cannot listen on unix://%s: %s" % (path, err)) from None
            if not bound:
                raise RuntimeError("cannot listen on unix://%s" % path)

        inode = socket_file.bind(path, mode, listen)
        self._server.start()
        return inode

    def changed(self) -> None:
        """Tells vifplugd (through Watch) that what the provider can plug changed."""
        self._service.changed()

    def wait_registered(self, timeout: Optional[float] = None) -> bool:
        """Waits until registered with vifplugd (never true without `register`)."""
        if self._registration is None:
            return False
        return self._registration.wait_registered(timeout)

    def close(self) -> None:
        """Stops registering and serving, and removes the socket. Safe to call more than once."""
        self._stop_asked.set()
        with self._closing:
            if self._closed.is_set():
                return
            if self._registration is not None:
                self._registration.stop()
            self._service.drain()
            self._health.set_all(_pbwire.NOT_SERVING)
            self._health.end_watches()
            stopped = self._server.stop(self._grace)
            while not stopped.wait(0.1):
                if self._force.is_set():
                    self._server.stop(0)
            self._port_workers.shutdown(wait=False)
            self._grpc_workers.shutdown(wait=False)
            socket_file.release(self._path, self._inode)
            self._closed.set()
            log.info("stopped serving at %s", self.endpoint)

    def wait_for_termination(self, signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Serves until one of `signals` (or close() from another thread), then
        closes gracefully; a second signal cuts the grace period short. Call it
        from the main thread."""

        def on_signal(signum: int, _frame: Any) -> None:
            if self._stop_asked.is_set():
                self._force.set()
            else:
                log.info("%s: stopping", signal.Signals(signum).name)
                self._stop_asked.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in signals}
        try:
            while not self._stop_asked.wait(0.5):
                pass
            self.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _ProviderService:
    """vifplug.provider.v1.Provider over a Provider's callbacks."""

    def __init__(self, provider: Provider, port_workers: ThreadPoolExecutor) -> None:
        self._provider = provider
        self._port_workers = port_workers
        self._draining = False
        self._lock = threading.Lock()
        self._generation = 1
        self._changes = Changes()
        self._streams: "set[PortStream]" = set()

    def changed(self) -> None:
        with self._lock:
            self._generation += 1
        self._changes.changed()

    def drain(self) -> None:
        """Shutdown: new calls are refused, Watch streams end, PortStreams end once their calls are answered."""
        with self._lock:
            self._draining = True
            streams = list(self._streams)
        self._changes.end_all()
        for stream in streams:
            stream.drain()

    def handler(self) -> grpc.GenericRpcHandler:
        unary = self._unary
        return grpc.method_handlers_generic_handler(
            PROVIDER_SERVICE,
            {
                "GetInfo": unary("GetInfo", self._get_info, pb.GetInfoRequest, pb.GetInfoResponse),
                "Init": unary("Init", self._init, pb.InitRequest, pb.InitResponse),
                "Destroy": unary("Destroy", self._destroy, pb.DestroyRequest, pb.DestroyResponse),
                "Open": unary("Open", self._open, pb.OpenRequest, pb.OpenResponse),
                "Close": unary("Close", self._close, pb.CloseRequest, pb.CloseResponse),
                "Run": unary("Run", self._run, pb.RunRequest, pb.RunResponse),
                "PreparePort": unary("PreparePort", self._prepare_port, pb.PreparePortRequest, pb.PreparePortResponse),
                "PreparePorts": unary("PreparePorts", self._prepare_ports, pb.PreparePortsRequest, pb.PreparePortsResponse),
                "FinishPort": unary("FinishPort", self._finish_port, pb.FinishPortRequest, pb.FinishPortResponse),
                "DestroyPortCtx": unary("DestroyPortCtx", self._destroy_port_ctx, pb.DestroyPortCtxRequest, pb.DestroyPortCtxResponse),
                "ListRepresentors": unary("ListRepresentors", self._list_representors, pb.ListRepresentorsRequest, pb.ListRepresentorsResponse),
                "PortStream": grpc.stream_stream_rpc_method_handler(
                    self._port_stream, request_deserializer=_tolerant(pb.PortStreamRequest), response_serializer=pb.PortStreamResponse.SerializeToString
                ),
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self._watch, request_deserializer=_tolerant(pb.WatchRequest), response_serializer=pb.WatchResponse.SerializeToString
                ),
            },
        )

    # --- the one place where a unary call's failures become statuses ---------------------

    def _unary(self, name: str, handler: Callable[[Any, UnaryCall], Message], request: Type[M], response: Type[Message]) -> grpc.RpcMethodHandler:
        def serve(req: Any, context: grpc.ServicerContext) -> Message:
            if self._draining:
                abort(context, draining())
            if isinstance(req, Malformed):
                abort(context, req.error())
            call = UnaryCall(context, getattr(req, "handle", b""))
            try:
                answer = handler(req, call)
            except PlugError as err:
                error = err
                log.debug("%s: %s (%s): %s", name, err.code.name, err.reason, err.message)
            except Exception as err:  # noqa: BLE001 - a callback's bug is answered INTERNAL, and logged
                log.exception("%s failed", name)
                error = internal_error(err)
            else:
                call.answered()
                return answer
            call.answered()
            abort(context, error)
            raise AssertionError("unreachable: abort raises")

        return grpc.unary_unary_rpc_method_handler(serve, request_deserializer=_tolerant(request), response_serializer=response.SerializeToString)

    # --- the methods ---------------------------------------------------------------------------------

    def _get_info(self, _req: pb.GetInfoRequest, _call: UnaryCall) -> pb.GetInfoResponse:
        p = self._provider
        return pb.GetInfoResponse(
            type=p.type,
            api_versions=API_VERSIONS,
            maintained_iface_options=list(p.maintained_iface_options),
            capabilities=pb.Capabilities(list_representors=p.list_representors is not None, watch=True, prepare_ports=True, port_stream=True),
            provider_version=p.version,
        )

    def _init(self, _req: pb.InitRequest, _call: UnaryCall) -> pb.InitResponse:
        if self._provider.init is not None:
            self._provider.init()
        return pb.InitResponse()

    def _destroy(self, _req: pb.DestroyRequest, _call: UnaryCall) -> pb.DestroyResponse:
        if self._provider.destroy is not None:
            self._provider.destroy()
        return pb.DestroyResponse()

    def _open(self, req: pb.OpenRequest, _call: UnaryCall) -> pb.OpenResponse:
        if self._provider.open is not None:
            self._provider.open(req.instance_id)
        return pb.OpenResponse()

    def _close(self, req: pb.CloseRequest, _call: UnaryCall) -> pb.CloseResponse:
        if self._provider.close is not None:
            self._provider.close(req.instance_id)
        return pb.CloseResponse()

    def _run(self, _req: pb.RunRequest, call: UnaryCall) -> pb.RunResponse:
        changed = self._provider.run is not None and self._provider.run(call) is True
        return pb.RunResponse(changed=changed)

    def _prepare_port(self, req: pb.PreparePortRequest, call: UnaryCall) -> pb.PreparePortResponse:
        ctx_in = ctx_in_of(req.ctx_in, req.HasField("ctx_in"))
        response = answer_message(self._provider.prepare_port(ctx_in, call))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("PreparePort %s: %s", ctx_in.lport_name, _described(response))
        return response

    def _prepare_ports(self, req: pb.PreparePortsRequest, call: UnaryCall) -> pb.PreparePortsResponse:
        if len(req.ports) > MAX_BATCH:
            raise malformed("%d ports; at most %d" % (len(req.ports), MAX_BATCH))
        return pb.PreparePortsResponse(results=[self.port_result(port, True, call, "PreparePorts: ") for port in req.ports])

    def port_result(self, port: pb.PortCtxIn, present: bool, call: Call, where: str) -> pb.PortResult:
        """One port's outcome, as PreparePorts and PortStream answer it: its answer, or its error."""
        try:
            ctx_in = ctx_in_of(port, present)
            prepared = answer_message(self._provider.prepare_port(ctx_in, call))
        except PlugError as err:
            log.debug("%sPreparePort %s: %s (%s): %s", where, port.lport_name, err.code.name, err.reason, err.message)
            return pb.PortResult(error=port_error(err))
        except Exception as err:  # noqa: BLE001 - a callback's bug fails its port only, and is logged
            log.exception("%sPreparePort %s failed", where, port.lport_name)
            return pb.PortResult(error=port_error(internal_error(err)))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%sPreparePort %s: %s", where, ctx_in.lport_name, _described(prepared))
        return pb.PortResult(prepared=prepared)

    def _finish_port(self, req: pb.FinishPortRequest, call: UnaryCall) -> pb.FinishPortResponse:
        ctx_in = ctx_in_of(req.ctx_in, req.HasField("ctx_in"))
        if self._provider.finish_port is not None:
            self._provider.finish_port(ctx_in, ctx_out_of(req.ctx_out, req.HasField("ctx_out")), call)
        return pb.FinishPortResponse()

    def _destroy_port_ctx(self, req: pb.DestroyPortCtxRequest, call: UnaryCall) -> pb.DestroyPortCtxResponse:
        ctx_in = ctx_in_of(req.ctx_in, req.HasField("ctx_in"))
        ctx_out = ctx_out_of(req.ctx_out, req.HasField("ctx_out"))
        if ctx_out is None:
            raise malformed("ctx_out is missing")
        if self._provider.destroy_port_ctx is not None:
            self._provider.destroy_port_ctx(ctx_in, ctx_out, call)
        return pb.DestroyPortCtxResponse()

    def _list_representors(self, _req: pb.ListRepresentorsRequest, _call: UnaryCall) -> pb.ListRepresentorsResponse:
        if self._provider.list_representors is None:
            raise PlugError("UNIMPLEMENTED", "NOT_IMPLEMENTED", "this provider does not implement ListRepresentors")
        return pb.ListRepresentorsResponse(representors=[representor_message(r) for r in self._provider.list_representors()])

    def _port_stream(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[pb.PortStreamResponse]:
        if self._draining:
            abort(context, draining())
        stream = PortStream(self.port_result, self._port_workers)
        with self._lock:
            self._streams.add(stream)
        log.debug("PortStream opened")
        try:
            yield from stream.serve(requests, context)
        finally:
            with self._lock:
                self._streams.discard(stream)
            log.debug("PortStream ended")

    def _watch(self, req: Any, context: grpc.ServicerContext) -> Iterator[pb.WatchResponse]:
        if isinstance(req, Malformed):
            abort(context, req.error())
        for generation in self._changes.follow(context, lambda: self._generation):
            yield pb.WatchResponse(generation=generation)


def _tolerant(message: Type[M]) -> Callable[[bytes], Any]:
    """Decoding that cannot raise: grpc answers a request it cannot decode
    INTERNAL, which says "our bug"; such a request is the caller's, and is
    answered INVALID_ARGUMENT (MALFORMED_REQUEST)."""
    parse = message.FromString

    def decode(data: bytes) -> Any:
        try:
            return parse(data)
        except (DecodeError, RuntimeWarning, ValueError) as err:
            return Malformed(err)

    return decode


def _described(response: pb.PreparePortResponse) -> str:
    if not response.plug:
        return "declined %s" % response.decline_reason
    if response.HasField("ctx_out"):
        return "plug %s" % response.ctx_out.name
    return "plug"
