"""The provider's end of PortStream: one stream from vifplugd carrying many
PreparePort calls, each with its own budget, answered as they finish.

gRPC's synchronous server gives a stream one thread, which sends the
answers; a reader thread takes the calls off the stream and runs each on the
provider's workers, so that a slow port does not hold up the others. A
`cancel`, a call's time running out, or the end of the stream gives up on a
call under way (its budget says so), whose answer is then not sent.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Executor
from typing import Callable, Dict, Iterator, Union

import grpc

from ._gen import provider_pb2 as pb
from .call import StreamCall
from .errors import PlugError, abort, draining, malformed, port_error

log = logging.getLogger("vifplug_provider")

#: One port's outcome, from the provider's callback (see serve.py).
PortOutcome = Callable[[pb.PortCtxIn, bool, StreamCall, str], pb.PortResult]


class Malformed:
    """A request whose bytes are not the message they claim to be."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause

    def error(self) -> PlugError:
        return malformed("not a valid protobuf message of this method (%s)" % (self.cause,))


_END = object()


class PortStream:
    """One PortStream call, from the first message to the end of the stream."""

    def __init__(self, outcome: PortOutcome, workers: Executor) -> None:
        self._outcome = outcome
        self._workers = workers
        self._lock = threading.Lock()
        self._under_way: Dict[int, StreamCall] = {}
        self._out: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._draining = False

    def serve(self, requests: Iterator[Union[pb.PortStreamRequest, Malformed]], context: grpc.ServicerContext) -> Iterator[pb.PortStreamResponse]:
        if not context.add_callback(self._ended):
            return
        threading.Thread(target=self._read, args=(requests,), name="vifplug-portstream", daemon=True).start()
        while True:
            item = self._out.get()
            if item is _END:
                return
            if isinstance(item, PlugError):
                abort(context, item)
            yield item  # type: ignore[misc]

    def drain(self) -> None:
        """Shutdown: take no new calls, end the stream once the calls under way are answered."""
        with self._lock:
            self._draining = True
            idle = not self._under_way
        if idle:
            self._out.put(draining())

    def _read(self, requests: Iterator[Union[pb.PortStreamRequest, Malformed]]) -> None:
        try:
            for msg in requests:
                if isinstance(msg, Malformed):
                    # No id to answer under: the stream ends with the request's error.
                    self._give_up_all()
                    self._out.put(msg.error())
                    return
                self._received(msg)
        except Exception:  # noqa: BLE001 - the stream broke (vifplugd left): calls under way are given up
            pass
        self._give_up_all()
        # vifplugd half-closed the stream, or left: nothing more will come.
        self._out.put(_END)

    def _received(self, msg: pb.PortStreamRequest) -> None:
        kind = msg.WhichOneof("kind")
        if kind == "cancel":
            with self._lock:
                call = self._under_way.pop(msg.id, None)
            if call is not None:
                log.debug("PortStream call %d: cancelled by vifplugd", msg.id)
                call.cancel()
            return
        if kind != "prepare":
            self._out.put(_error(msg.id, malformed("a PortStream message that is neither prepare nor cancel")))
            return
        prepare = msg.prepare
        if self._draining:
            self._out.put(_error(msg.id, draining()))
            return
        call = StreamCall(prepare.timeout_ms / 1000.0)
        call.on_cancel(lambda: self._forget(msg.id, call))
        with self._lock:
            self._under_way[msg.id] = call
        request = prepare.request
        self._workers.submit(self._run, msg.id, call, request.ctx_in, request.HasField("ctx_in"))

    def _run(self, call_id: int, call: StreamCall, ctx_in: pb.PortCtxIn, present: bool) -> None:
        result = self._outcome(ctx_in, present, call, "PortStream call %d: " % call_id)
        with self._lock:
            if self._under_way.get(call_id) is not call:
                return
            del self._under_way[call_id]
            drained = self._draining and not self._under_way
        call.settle()
        self._out.put(pb.PortStreamResponse(id=call_id, result=result))
        if drained:
            self._out.put(draining())

    def _forget(self, call_id: int, call: StreamCall) -> None:
        """A call given up on (cancel, its time ran out): its answer is not sent."""
        with self._lock:
            if self._under_way.get(call_id) is call:
                del self._under_way[call_id]
            drained = self._draining and not self._under_way
        if drained:
            self._out.put(draining())

    def _give_up_all(self) -> None:
        with self._lock:
            calls = list(self._under_way.values())
            self._under_way.clear()
        for call in calls:
            call.cancel()

    def _ended(self) -> None:
        """The RPC is over (cancelled, or the server stops): stop sending."""
        self._give_up_all()
        self._out.put(_END)


def _error(call_id: int, err: PlugError) -> pb.PortStreamResponse:
    return pb.PortStreamResponse(id=call_id, result=pb.PortResult(error=port_error(err)))
