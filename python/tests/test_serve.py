"""serve_provider's unary methods, errors, deadlines and cancellation, as vifplugd calls them."""

from __future__ import annotations

import logging
import threading
import time

import grpc

from vifplug_provider import Decline, Plug, PlugError, PortCtxOut, Representor
from vifplug_provider._gen import provider_pb2 as pb

from .support import PATIENCE, LogCapture, Recorder, ServedTestCase, create, provider


class GetInfoTest(ServedTestCase):
    def test_describes_the_provider_and_announces_what_the_sdk_serves(self) -> None:
        served = self.serve(provider(type="nic-1.a_b", version="7.1", maintained_iface_options=("mtu_request",)))
        info = self.stub(served).GetInfo(pb.GetInfoRequest(), timeout=PATIENCE)
        self.assertEqual(info.type, "nic-1.a_b")
        self.assertEqual(list(info.api_versions), ["v1"])
        self.assertEqual(list(info.maintained_iface_options), ["mtu_request"])
        self.assertEqual(info.provider_version, "7.1")
        caps = info.capabilities
        self.assertEqual((caps.list_representors, caps.watch, caps.prepare_ports, caps.port_stream), (False, True, True, True))
        self.assertEqual(served.endpoint, "unix://%s/p.sock" % self.dir)

    def test_announces_list_representors_only_with_its_callback(self) -> None:
        served = self.serve(provider(list_representors=lambda: []))
        self.assertTrue(self.stub(served).GetInfo(pb.GetInfoRequest(), timeout=PATIENCE).capabilities.list_representors)

    def test_refuses_a_bad_type_or_socket_path_before_serving(self) -> None:
        with self.assertRaisesRegex(ValueError, r"1 to 64 characters of \[A-Za-z0-9_.-\]"):
            self.serve(provider(type="has space"))
        with self.assertRaisesRegex(ValueError, "must be an absolute path"):
            from vifplug_provider import serve_provider

            serve_provider(provider(), socket="relative.sock")
        with self.assertRaisesRegex(ValueError, "longer than 107 bytes"):
            self.serve(name="x" * 120 + ".sock")


class PreparePortTest(ServedTestCase):
    def test_answers_plug_with_the_interface_and_handle(self) -> None:
        seen = []

        def prepare(ctx_in, _call):
            seen.append(ctx_in)
            return Plug(name="pf0vf2", type="internal", iface_options={"k": "v"}, handle=b"\x00h")

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        ctx_in = pb.PortCtxIn(op_type=pb.OP_TYPE_CREATE, lport_name="lsp1", use_dpdk=True, lport_options={"vif-plug:tested:x": "1"}, iface_name="old", iface_type="t", iface_options={"a": "b"})
        res = stub.PreparePort(pb.PreparePortRequest(instance_id="i1", ctx_in=ctx_in), timeout=PATIENCE)
        self.assertTrue(res.plug)
        self.assertEqual((res.ctx_out.name, res.ctx_out.type, dict(res.ctx_out.iface_options), res.handle), ("pf0vf2", "internal", {"k": "v"}, b"\x00h"))
        (got,) = seen
        self.assertEqual((got.op_type, got.lport_name, got.use_dpdk, got.iface_name, got.iface_type), ("create", "lsp1", True, "old", "t"))
        self.assertEqual((dict(got.lport_options), dict(got.iface_options)), ({"vif-plug:tested:x": "1"}, {"a": "b"}))

    def test_answers_a_remove_without_an_interface(self) -> None:
        stub = self.stub(self.serve())
        res = stub.PreparePort(pb.PreparePortRequest(ctx_in=pb.PortCtxIn(op_type=pb.OP_TYPE_REMOVE, lport_name="x")), timeout=PATIENCE)
        self.assertTrue(res.plug)
        self.assertFalse(res.HasField("ctx_out"))

    def test_declines_with_a_reason_and_a_message(self) -> None:
        stub = self.stub(self.serve(provider(prepare_port=lambda ctx_in, call: Decline("NO_VF_NUM", "set vf-num on " + ctx_in.lport_name))))
        res = stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE)
        self.assertEqual((res.plug, res.decline_reason, res.decline_message, res.HasField("ctx_out")), (False, "NO_VF_NUM", "set vf-num on lsp1", False))

    def test_a_plug_error_is_the_status_with_error_info_and_retry_info(self) -> None:
        def prepare(_ctx_in, _call):
            raise PlugError("UNAVAILABLE", "VF_NOT_READY", "VF 3 is still resetting; retry", metadata={"vf": "3"}, retry_after=1.5)

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        with self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.UNAVAILABLE, "VF_NOT_READY")
        self.assertEqual((status.message, status.metadata), ("VF 3 is still resetting; retry", {"vf": "3"}))

    def test_any_other_exception_is_internal_and_logged_with_its_traceback(self) -> None:
        def prepare(_ctx_in, _call):
            raise KeyError("pf0")

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        with LogCapture() as logs, self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.INTERNAL, "INTERNAL_ERROR")
        self.assertIn("KeyError", status.message)
        errors = [r for r in logs.records if r.levelno == logging.ERROR]
        self.assertEqual(len(errors), 1)
        self.assertIsNotNone(errors[0].exc_info)

    def test_an_answer_that_is_neither_plug_nor_decline_is_internal(self) -> None:
        stub = self.stub(self.serve(provider(prepare_port=lambda ctx_in, call: {"plug": True})))
        with LogCapture(), self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.INTERNAL, "INTERNAL_ERROR")
        self.assertIn("must answer Plug(...) or Decline(reason, message)", status.message)

    def test_plug_error_refuses_codes_and_reasons_vifplugd_could_not_pass_on(self) -> None:
        with self.assertRaisesRegex(ValueError, "not a gRPC status code"):
            PlugError("NOPE", "REASON", "m")
        with self.assertRaisesRegex(ValueError, "not a gRPC status code"):
            PlugError(grpc.StatusCode.OK, "REASON", "m")
        with self.assertRaisesRegex(ValueError, "not UPPER_SNAKE"):
            PlugError("NOT_FOUND", "no-such-vf", "m")
        self.assertEqual(PlugError(grpc.StatusCode.NOT_FOUND, "NO_SUCH_VF", "m").code, grpc.StatusCode.NOT_FOUND)

    def test_long_messages_and_metadata_are_bounded(self) -> None:
        def prepare(_ctx_in, _call):
            raise PlugError("NOT_FOUND", "NO_SUCH_VF", "m" * 5000, metadata={"k": "v" * 1000})

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        with self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.NOT_FOUND, "NO_SUCH_VF")
        self.assertEqual((len(status.message), len(status.metadata["k"])), (1024, 256))

    def test_a_request_that_breaks_the_api_is_invalid_argument(self) -> None:
        served = self.serve()
        stub = self.stub(served)
        for request in (pb.PreparePortRequest(), pb.PreparePortRequest(ctx_in=pb.PortCtxIn(lport_name="no-op-type"))):
            with self.assertRaises(grpc.RpcError) as caught:
                stub.PreparePort(request, timeout=PATIENCE)
            status = self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
            self.assertIn("ctx_in is missing or has no op_type", status.message)
        raw = self.channel(served).unary_unary("/vifplug.provider.v1.Provider/PreparePort")
        with self.assertRaises(grpc.RpcError) as caught:
            raw(b"\xff\xff\xff", timeout=PATIENCE)
        self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")


class BudgetTest(ServedTestCase):
    def test_the_callback_has_the_callers_deadline_and_sees_it_pass(self) -> None:
        seen = {}
        done = threading.Event()

        def prepare(_ctx_in, call):
            seen["remaining"] = call.time_remaining()
            call.on_cancel(lambda: seen.setdefault("listener", time.monotonic()))
            seen["gave_up"] = call.wait_cancelled(PATIENCE)
            seen["cancelled"] = call.cancelled
            done.set()
            return Plug(name="late")

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        with self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=0.5)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertTrue(done.wait(PATIENCE))
        # The caller's 0.5 s, as the gRPC timeout header carries it (rounded to its units).
        self.assertLessEqual(seen["remaining"], 0.51)
        self.assertGreater(seen["remaining"], 0)
        self.assertEqual((seen["gave_up"], seen["cancelled"]), (True, True))
        self.assertIn("listener", seen)

    def test_the_callback_sees_the_caller_cancel(self) -> None:
        started = threading.Event()
        cancelled = threading.Event()

        def prepare(_ctx_in, call):
            call.on_cancel(cancelled.set)
            started.set()
            call.wait_cancelled(PATIENCE)
            return Plug(name="late")

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        future = stub.PreparePort.future(pb.PreparePortRequest(ctx_in=create("lsp1")), timeout=PATIENCE * 3)
        self.assertTrue(started.wait(PATIENCE))
        future.cancel()
        self.assertTrue(cancelled.wait(PATIENCE))

    def test_without_a_deadline_time_remaining_is_none_and_an_answered_call_is_never_cancelled(self) -> None:
        seen = []
        fired = []

        def prepare(_ctx_in, call):
            seen.append(call.time_remaining())
            call.on_cancel(lambda: fired.append(True))
            return Plug(name="x")

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        stub.PreparePort(pb.PreparePortRequest(ctx_in=create("lsp1")))
        time.sleep(0.2)
        self.assertEqual((seen, fired), ([None], []))


class PreparePortsTest(ServedTestCase):
    def test_answers_each_port_in_order_one_failure_failing_only_its_port(self) -> None:
        def prepare(ctx_in, _call):
            if ctx_in.lport_name == "bad":
                raise PlugError("NOT_FOUND", "NO_SUCH_VF", "no VF for bad", metadata={"lport": "bad"})
            if ctx_in.lport_name == "no":
                return Decline("NO_VF_NUM", "no vf-num")
            if ctx_in.lport_name == "bug":
                raise RuntimeError("oops")
            return Plug(name=ctx_in.lport_name)

        stub = self.stub(self.serve(provider(prepare_port=prepare)))
        ports = [create("a"), create("bad"), create("no"), pb.PortCtxIn(lport_name="no-op"), create("bug"), create("b")]
        with LogCapture():
            res = stub.PreparePorts(pb.PreparePortsRequest(instance_id="i", ports=ports), timeout=PATIENCE)
        kinds = [r.WhichOneof("result") for r in res.results]
        self.assertEqual(kinds, ["prepared", "error", "prepared", "error", "error", "prepared"])
        self.assertEqual((res.results[0].prepared.ctx_out.name, res.results[5].prepared.ctx_out.name), ("a", "b"))
        bad = res.results[1].error
        self.assertEqual((bad.code, bad.reason, bad.message, dict(bad.metadata)), (5, "NO_SUCH_VF", "no VF for bad", {"lport": "bad"}))
        self.assertEqual(res.results[2].prepared.decline_reason, "NO_VF_NUM")
        self.assertEqual((res.results[3].error.code, res.results[3].error.reason), (3, "MALFORMED_REQUEST"))
        self.assertEqual((res.results[4].error.code, res.results[4].error.reason), (13, "INTERNAL_ERROR"))

    def test_refuses_more_than_1024_ports(self) -> None:
        stub = self.stub(self.serve())
        with self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePorts(pb.PreparePortsRequest(ports=[create("p%d" % i) for i in range(1025)]), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
        self.assertIn("1025 ports; at most 1024", status.message)


class LifecycleCallbacksTest(ServedTestCase):
    def test_every_callback_gets_what_vifplugd_sent(self) -> None:
        record = Recorder()
        changed = [False, True]
        served = self.serve(
            provider(
                init=lambda: record("init"),
                destroy=lambda: record("destroy"),
                open=lambda instance_id: record("open " + instance_id),
                close=lambda instance_id: record("close " + instance_id),
                run=lambda call: changed.pop(0),
                finish_port=lambda ctx_in, ctx_out, call: record("finish %s %s %r" % (ctx_in.lport_name, ctx_out and ctx_out.name, call.handle)),
                destroy_port_ctx=lambda ctx_in, ctx_out, call: record("destroyCtx %s %s %r" % (ctx_in.lport_name, ctx_out, call.handle)),
            )
        )
        stub = self.stub(served)
        stub.Init(pb.InitRequest(api_version="v1"), timeout=PATIENCE)
        stub.Open(pb.OpenRequest(instance_id="i1"), timeout=PATIENCE)
        self.assertEqual([stub.Run(pb.RunRequest(instance_id="i1"), timeout=PATIENCE).changed for _ in range(2)], [False, True])
        out = pb.PortCtxOut(name="pf0vf1", type="", iface_options={"k": "v"})
        stub.FinishPort(pb.FinishPortRequest(instance_id="i1", ctx_in=create("lsp1"), ctx_out=out, handle=b"h1"), timeout=PATIENCE)
        stub.FinishPort(pb.FinishPortRequest(instance_id="i1", ctx_in=pb.PortCtxIn(op_type=pb.OP_TYPE_REMOVE, lport_name="lsp2")), timeout=PATIENCE)
        stub.DestroyPortCtx(pb.DestroyPortCtxRequest(instance_id="i1", ctx_in=create("lsp1"), ctx_out=out, handle=b"h1"), timeout=PATIENCE)
        stub.Close(pb.CloseRequest(instance_id="i1"), timeout=PATIENCE)
        stub.Destroy(pb.DestroyRequest(), timeout=PATIENCE)
        self.assertEqual(
            record.snapshot(),
            [
                "init",
                "open i1",
                "finish lsp1 pf0vf1 b'h1'",
                "finish lsp2 None b''",
                "destroyCtx lsp1 %r b'h1'" % (PortCtxOut(name="pf0vf1", type="", iface_options={"k": "v"}),),
                "close i1",
                "destroy",
            ],
        )

    def test_callbacks_left_out_are_nothing_to_do(self) -> None:
        stub = self.stub(self.serve())
        stub.Init(pb.InitRequest(), timeout=PATIENCE)
        stub.Open(pb.OpenRequest(instance_id="i"), timeout=PATIENCE)
        self.assertFalse(stub.Run(pb.RunRequest(instance_id="i"), timeout=PATIENCE).changed)
        stub.FinishPort(pb.FinishPortRequest(ctx_in=create("x")), timeout=PATIENCE)
        stub.DestroyPortCtx(pb.DestroyPortCtxRequest(ctx_in=create("x"), ctx_out=pb.PortCtxOut(name="x")), timeout=PATIENCE)
        stub.Close(pb.CloseRequest(instance_id="i"), timeout=PATIENCE)
        stub.Destroy(pb.DestroyRequest(), timeout=PATIENCE)
        with self.assertRaises(grpc.RpcError) as caught:
            stub.ListRepresentors(pb.ListRepresentorsRequest(), timeout=PATIENCE)
        self.assertStatus(caught.exception, grpc.StatusCode.UNIMPLEMENTED, "NOT_IMPLEMENTED")

    def test_destroy_port_ctx_without_ctx_out_breaks_the_api(self) -> None:
        stub = self.stub(self.serve())
        with self.assertRaises(grpc.RpcError) as caught:
            stub.DestroyPortCtx(pb.DestroyPortCtxRequest(ctx_in=create("x")), timeout=PATIENCE)
        status = self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
        self.assertIn("ctx_out is missing", status.message)

    def test_an_init_error_is_answered_with_its_status(self) -> None:
        def init():
            raise PlugError("FAILED_PRECONDITION", "NO_HARDWARE", "no NIC of mine on this host")

        stub = self.stub(self.serve(provider(init=init)))
        with self.assertRaises(grpc.RpcError) as caught:
            stub.Init(pb.InitRequest(api_version="v1"), timeout=PATIENCE)
        self.assertStatus(caught.exception, grpc.StatusCode.FAILED_PRECONDITION, "NO_HARDWARE")

    def test_list_representors_keeps_unknown_numbers_absent(self) -> None:
        reps = [
            Representor(netdev="pf0vf0", ifindex=7, flavour="pcivf", device="pci/0000:07:00.0", pfnum=0, vfnum=0, external=False, pf_mac="10:70:fd:df:9c:3a", source="devlink", lport_options={"vif-plug:tested:vf-num": "1"}),
            Representor(netdev="", flavour="pcisf", sfnum=3),
        ]
        stub = self.stub(self.serve(provider(list_representors=lambda: reps)))
        got = stub.ListRepresentors(pb.ListRepresentorsRequest(), timeout=PATIENCE).representors
        self.assertEqual([r.netdev for r in got], ["pf0vf0", ""])
        self.assertEqual((got[0].ifindex, got[0].vfnum.value, got[0].external.value, dict(got[0].lport_options)), (7, 0, False, {"vif-plug:tested:vf-num": "1"}))
        self.assertTrue(got[0].HasField("vfnum") and got[0].HasField("external") and not got[0].HasField("sfnum"))
        self.assertTrue(got[1].HasField("sfnum") and not got[1].HasField("vfnum"))


class WatchTest(ServedTestCase):
    def test_sends_the_generation_at_once_then_after_every_change_and_ends_at_close(self) -> None:
        served = self.serve()
        stream = self.stub(served).Watch(pb.WatchRequest(), timeout=PATIENCE * 3)
        self.assertEqual(next(stream).generation, 1)
        served.changed()
        self.assertEqual(next(stream).generation, 2)
        served.changed()
        self.assertEqual(next(stream).generation, 3)
        served.close()
        self.assertEqual(list(stream), [])
        self.assertEqual(stream.code(), grpc.StatusCode.OK)
