"""PortStream as vifplugd drives it: calls as messages under ids, answered as
they finish, given up on by `cancel` or when their time runs out."""

from __future__ import annotations

import queue
import threading
from typing import Any, Dict, List

import grpc

from vifplug_provider import Plug, PlugError
from vifplug_provider._gen import provider_pb2 as pb

from .support import PATIENCE, LogCapture, ServedTestCase, create, provider

_END = object()


class Stream:
    """The client's end of one PortStream: requests are sent as they are put."""

    def __init__(self, stub: Any) -> None:
        self._requests: "queue.Queue[object]" = queue.Queue()
        self.call = stub.PortStream(iter(self._requests.get, _END), timeout=PATIENCE * 6)

    def send(self, msg: pb.PortStreamRequest) -> None:
        self._requests.put(msg)

    def prepare(self, call_id: int, lport: str, timeout_ms: int = 60_000) -> None:
        self.send(pb.PortStreamRequest(id=call_id, prepare=pb.PortStreamPrepare(request=pb.PreparePortRequest(instance_id="i", ctx_in=create(lport)), timeout_ms=timeout_ms)))

    def cancel(self, call_id: int) -> None:
        self.send(pb.PortStreamRequest(id=call_id, cancel=pb.PortStreamCancel()))

    def half_close(self) -> None:
        self._requests.put(_END)

    def answers(self, n: int) -> List[pb.PortStreamResponse]:
        return [next(self.call) for _ in range(n)]


class Held:
    """Ports whose names start with "hold" wait until their call is given up on (then answer anyway), or released."""

    def __init__(self) -> None:
        self.calls: Dict[str, Any] = {}
        self.given_up: Dict[str, threading.Event] = {}
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)

    def prepare(self, ctx_in: Any, call: Any) -> Plug:
        name = ctx_in.lport_name
        if name.startswith("fail"):
            raise PlugError("RESOURCE_EXHAUSTED", "NO_FREE_VF", "every VF is taken", metadata={"pf": "0"})
        if name.startswith("bug"):
            raise ZeroDivisionError("division by zero")
        if not name.startswith("hold"):
            return Plug(name=name)
        gave_up = threading.Event()
        call.on_cancel(gave_up.set)
        with self._lock:
            self.calls[name] = call
            self.given_up[name] = gave_up
            self.arrived.notify_all()
        while not gave_up.is_set() and not self.release.is_set():
            gave_up.wait(0.01)
        return Plug(name=name + "-late")

    def wait_for(self, name: str) -> Any:
        with self._lock:
            if not self.arrived.wait_for(lambda: name in self.calls, PATIENCE):
                raise AssertionError("%s never reached prepare_port" % name)
            return self.calls[name]


class PortStreamTest(ServedTestCase):
    def start(self) -> "tuple[Any, Held, Stream]":
        held = Held()
        served = self.serve(provider(prepare_port=held.prepare))
        return served, held, Stream(self.stub(served))

    def test_answers_under_each_id_as_calls_finish_a_slow_one_holding_up_none(self) -> None:
        _, held, stream = self.start()
        stream.prepare(7, "hold-7")
        held.wait_for("hold-7")
        stream.prepare(8, "fast-8")
        (first,) = stream.answers(1)
        self.assertEqual((first.id, first.result.prepared.ctx_out.name), (8, "fast-8"))
        held.release.set()
        (second,) = stream.answers(1)
        self.assertEqual((second.id, second.result.prepared.ctx_out.name), (7, "hold-7-late"))
        stream.half_close()
        self.assertEqual(list(stream.call), [])
        self.assertEqual(stream.call.code(), grpc.StatusCode.OK)

    def test_gives_each_call_the_time_sent_and_gives_it_up_on_cancel_without_answering(self) -> None:
        _, held, stream = self.start()
        stream.prepare(7, "hold-7", timeout_ms=60_000)
        call = held.wait_for("hold-7")
        remaining = call.time_remaining()
        self.assertGreater(remaining, 50)
        self.assertLessEqual(remaining, 60)
        self.assertFalse(call.cancelled)
        stream.cancel(7)
        self.assertTrue(held.given_up["hold-7"].wait(PATIENCE))
        self.assertTrue(call.cancelled)
        # A later call is answered; the cancelled one never is, though its callback answered.
        stream.prepare(8, "fast-8")
        self.assertEqual([a.id for a in stream.answers(1)], [8])
        stream.half_close()
        self.assertEqual(list(stream.call), [])

    def test_gives_up_on_a_call_whose_time_runs_out_and_does_not_answer_it(self) -> None:
        _, held, stream = self.start()
        stream.prepare(1, "hold-1", timeout_ms=200)
        call = held.wait_for("hold-1")
        self.assertTrue(held.given_up["hold-1"].wait(PATIENCE))
        self.assertEqual(call.time_remaining(), 0)
        stream.prepare(2, "fast-2")
        self.assertEqual([a.id for a in stream.answers(1)], [2])
        stream.half_close()
        self.assertEqual(list(stream.call), [])

    def test_a_failure_is_a_port_error_under_its_id(self) -> None:
        _, _, stream = self.start()
        with LogCapture():
            stream.prepare(1, "fail-1")
            stream.prepare(2, "bug-2")
            stream.send(pb.PortStreamRequest(id=3))
            stream.send(pb.PortStreamRequest(id=4, prepare=pb.PortStreamPrepare(request=pb.PreparePortRequest(instance_id="i"), timeout_ms=1000)))
            answers = {a.id: a.result.error for a in stream.answers(4)}
        self.assertEqual((answers[1].code, answers[1].reason, answers[1].message, dict(answers[1].metadata)), (8, "NO_FREE_VF", "every VF is taken", {"pf": "0"}))
        self.assertEqual((answers[2].code, answers[2].reason), (13, "INTERNAL_ERROR"))
        self.assertIn("ZeroDivisionError", answers[2].message)
        self.assertEqual((answers[3].code, answers[3].reason), (3, "MALFORMED_REQUEST"))
        self.assertIn("neither prepare nor cancel", answers[3].message)
        self.assertEqual((answers[4].code, answers[4].reason), (3, "MALFORMED_REQUEST"))
        stream.half_close()

    def test_a_message_that_is_no_port_stream_request_ends_the_stream_invalid_argument(self) -> None:
        served, held, _ = self.start()
        requests: "queue.Queue[object]" = queue.Queue()
        raw = self.channel(served).stream_stream("/vifplug.provider.v1.Provider/PortStream")
        call = raw(iter(requests.get, _END), timeout=PATIENCE * 3)
        requests.put(pb.PortStreamRequest(id=1, prepare=pb.PortStreamPrepare(request=pb.PreparePortRequest(ctx_in=create("hold-1")), timeout_ms=60_000)).SerializeToString())
        call_1 = held.wait_for("hold-1")
        requests.put(b"\xff\xff\xff")
        with self.assertRaises(grpc.RpcError) as caught:
            list(call)
        self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
        self.assertTrue(held.given_up["hold-1"].wait(PATIENCE))
        self.assertTrue(call_1.cancelled)
        requests.put(_END)

    def test_ending_the_stream_gives_up_on_the_calls_under_way(self) -> None:
        _, held, stream = self.start()
        stream.prepare(1, "hold-1")
        held.wait_for("hold-1")
        stream.half_close()
        self.assertTrue(held.given_up["hold-1"].wait(PATIENCE))
        self.assertEqual(list(stream.call), [])

    def test_the_client_leaving_gives_up_on_the_calls_under_way(self) -> None:
        _, held, stream = self.start()
        stream.prepare(1, "hold-1")
        held.wait_for("hold-1")
        stream.call.cancel()
        self.assertTrue(held.given_up["hold-1"].wait(PATIENCE))

    def test_at_close_answers_the_calls_under_way_refuses_new_ones_then_ends_draining(self) -> None:
        served, held, stream = self.start()
        stream.prepare(1, "hold-1")
        held.wait_for("hold-1")
        closer = threading.Thread(target=served.close)
        closer.start()
        self.until("the stream drains", lambda: bool(served._service._draining))
        stream.prepare(2, "fast-2")
        (refused,) = stream.answers(1)
        self.assertEqual((refused.id, refused.result.error.code, refused.result.error.reason), (2, 14, "DRAINING"))
        held.release.set()
        (answered,) = stream.answers(1)
        self.assertEqual((answered.id, answered.result.prepared.ctx_out.name), (1, "hold-1-late"))
        with self.assertRaises(grpc.RpcError) as caught:
            list(stream.call)
        # The status says DRAINING, unless the server's end of the connection
        # closed right after it and the client saw that first.
        if caught.exception.trailing_metadata():
            self.assertStatus(caught.exception, grpc.StatusCode.UNAVAILABLE, "DRAINING")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        closer.join(PATIENCE)
        self.assertFalse(closer.is_alive())
        stream.half_close()
