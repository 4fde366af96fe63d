"""Health as vifplugd probes it, the socket's life, and a graceful close."""

from __future__ import annotations

import os
import socket
import stat
import threading

import grpc

from vifplug_provider import Plug, serve_provider
from vifplug_provider._gen import provider_pb2 as pb
from vifplug_provider._pbwire import NOT_SERVING, SERVICE_UNKNOWN, SERVING, decode_health_response, encode_health_request, fields

from .support import PATIENCE, ServedTestCase, create, provider

CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
LIST = "/grpc.health.v1.Health/List"


class HealthTest(ServedTestCase):
    def check(self, served, service: str) -> int:
        call = self.channel(served).unary_unary(CHECK, request_serializer=encode_health_request, response_deserializer=decode_health_response)
        return call(service, timeout=PATIENCE)

    def test_the_server_and_the_provider_service_serve(self) -> None:
        served = self.serve()
        self.assertEqual(self.check(served, ""), SERVING)
        self.assertEqual(self.check(served, "vifplug.provider.v1.Provider"), SERVING)

    def test_an_unknown_service_is_not_found(self) -> None:
        served = self.serve()
        with self.assertRaises(grpc.RpcError) as caught:
            self.check(served, "nope.Service")
        status = self.assertStatus(caught.exception, grpc.StatusCode.NOT_FOUND, "SERVICE_UNKNOWN")
        self.assertIn('known: "" (the whole server), "vifplug.provider.v1.Provider"', status.message)

    def test_list_names_every_service(self) -> None:
        served = self.serve()
        raw = self.channel(served).unary_unary(LIST)(b"", timeout=PATIENCE)
        entries = {}
        for _, entry in fields(raw):
            name, status = "", 0
            for f, v in fields(entry):
                if f == 1:
                    name = v.decode()
                elif f == 2:
                    status = decode_health_response(v)
            entries[name] = status
        self.assertEqual(entries, {"": SERVING, "vifplug.provider.v1.Provider": SERVING})

    def test_watch_follows_the_status_and_ends_at_close(self) -> None:
        served = self.serve()
        watch = self.channel(served).unary_stream(WATCH, request_serializer=encode_health_request, response_deserializer=decode_health_response)
        stream = watch("vifplug.provider.v1.Provider", timeout=PATIENCE * 3)
        self.assertEqual(next(stream), SERVING)
        unknown = watch("nope", timeout=PATIENCE * 3)
        self.assertEqual(next(unknown), SERVICE_UNKNOWN)
        served.close()
        self.assertIn(list(stream), ([NOT_SERVING], []))
        self.assertEqual(stream.code(), grpc.StatusCode.OK)


class SocketTest(ServedTestCase):
    def path(self, name: str = "p.sock") -> str:
        return os.path.join(self.dir, name)

    def test_is_made_with_mode_0660_in_a_directory_made_0755_and_removed_at_close(self) -> None:
        served = self.serve(name="sub/p.sock")
        st = os.lstat(self.path("sub/p.sock"))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(stat.S_IMODE(os.lstat(self.path("sub")).st_mode), 0o755)
        served.close()
        self.assertFalse(os.path.exists(self.path("sub/p.sock")))
        served.close()

    def test_takes_the_mode_asked_for(self) -> None:
        self.serve(socket_mode=0o600)
        self.assertEqual(stat.S_IMODE(os.lstat(self.path()).st_mode), 0o600)

    def test_replaces_a_stale_socket_and_refuses_a_live_one_or_a_file(self) -> None:
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(self.path())
        stale.close()
        served = self.serve()
        self.assertEqual(self.stub(served).GetInfo(pb.GetInfoRequest(), timeout=PATIENCE).type, "tested")
        with self.assertRaisesRegex(RuntimeError, "another process is serving on"):
            serve_provider(provider(), socket=self.path())
        with open(self.path("file.sock"), "w") as f:
            f.write("mine")
        with self.assertRaisesRegex(RuntimeError, "exists and is not a socket"):
            serve_provider(provider(), socket=self.path("file.sock"))
        with open(self.path("file.sock")) as f:
            self.assertEqual(f.read(), "mine")

    def test_leaves_a_socket_another_process_put_in_its_place(self) -> None:
        served = self.serve()
        os.unlink(self.path())
        other = socket.socket(socket.AF_UNIX)
        other.bind(self.path())
        try:
            served.close()
            self.assertTrue(stat.S_ISSOCK(os.lstat(self.path()).st_mode))
        finally:
            other.close()


class CloseTest(ServedTestCase):
    def test_a_call_in_flight_is_answered_and_a_new_one_refused(self) -> None:
        started, release = threading.Event(), threading.Event()
        seen = []

        def prepare(ctx_in, _call):
            seen.append(ctx_in.lport_name)
            if ctx_in.lport_name == "slow":
                started.set()
                release.wait(PATIENCE)
            return Plug(name=ctx_in.lport_name)

        served = self.serve(provider(prepare_port=prepare))
        stub = self.stub(served)
        stub.GetInfo(pb.GetInfoRequest(), timeout=PATIENCE)
        in_flight = stub.PreparePort.future(pb.PreparePortRequest(ctx_in=create("slow")), timeout=PATIENCE)
        self.assertTrue(started.wait(PATIENCE))
        closer = threading.Thread(target=served.close)
        closer.start()
        self.until("close starts", lambda: bool(served._service._draining))
        with self.assertRaises(grpc.RpcError) as caught:
            stub.PreparePort(pb.PreparePortRequest(ctx_in=create("new")), timeout=PATIENCE)
        # DRAINING while the server still takes calls; once it stopped taking
        # them, gRPC's own refusal (UNAVAILABLE or CANCELLED, without details).
        self.assertIn(caught.exception.code(), (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED))
        if caught.exception.trailing_metadata():
            self.assertStatus(caught.exception, grpc.StatusCode.UNAVAILABLE, "DRAINING")
        release.set()
        self.assertEqual(in_flight.result().ctx_out.name, "slow")
        closer.join(PATIENCE)
        self.assertFalse(closer.is_alive())
        self.assertEqual(seen, ["slow"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "p.sock")))
