"""The hand-written encodings of _pbwire against protobuf's own, for the
repository's copies of google/rpc, grpc/health/v1 and vifplug/v1: protoc
compiles them here into a descriptor set, loaded into a pool of its own (so
that nothing is registered in the default one, as the SDK promises)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest
from typing import Any, Dict

from google.protobuf import descriptor_pb2, message_factory

from vifplug_provider import _pbwire

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto", "grpc/health/v1/health.proto", "vifplug/v1/vifplug.proto"]


def load_messages() -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run(["/usr/bin/protoc", "-I" + os.path.join(ROOT, "proto"), "--include_imports", "--descriptor_set_out=" + out, *PROTOS], check=True)
        with open(out, "rb") as f:
            files = descriptor_pb2.FileDescriptorSet.FromString(f.read()).file
    return message_factory.GetMessages(list(files))


class PbWireTest(unittest.TestCase):
    m: Dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        cls.m = load_messages()

    def test_status_is_google_rpc_status_with_error_info_and_retry_info(self) -> None:
        raw = _pbwire.encode_status(8, "every VF is taken \u2014 free one", "NO_FREE_VF", "vifplug", {"pf": "0", "é": "ü"}, 1.5)
        status = self.m["google.rpc.Status"].FromString(raw)
        self.assertEqual((status.code, status.message), (8, "every VF is taken \u2014 free one"))
        self.assertEqual([d.type_url for d in status.details], ["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.RetryInfo"])
        info = self.m["google.rpc.ErrorInfo"].FromString(status.details[0].value)
        self.assertEqual((info.reason, info.domain, dict(info.metadata)), ("NO_FREE_VF", "vifplug", {"pf": "0", "é": "ü"}))
        retry = self.m["google.rpc.RetryInfo"].FromString(status.details[1].value)
        self.assertEqual((retry.retry_delay.seconds, retry.retry_delay.nanos), (1, 500_000_000))
        self.assertEqual(len(self.m["google.rpc.Status"].FromString(_pbwire.encode_status(5, "m", "R", "d", {}, None)).details), 1)

    def test_decode_status_reads_what_protobuf_writes_skipping_other_details(self) -> None:
        m = self.m
        info = m["google.rpc.ErrorInfo"](reason="REGISTRATION_NOT_ALLOWED", domain="vifplug", metadata={"type": "x"})
        bad = m["google.rpc.BadRequest"](field_violations=[{"field": "type", "description": "d"}])
        any_cls = m["google.protobuf.Any"]
        status = m["google.rpc.Status"](code=9, message="off", details=[any_cls(type_url="type.googleapis.com/google.rpc.BadRequest", value=bad.SerializeToString()), any_cls(type_url=_pbwire.ERROR_INFO_URL, value=info.SerializeToString())])
        decoded = _pbwire.decode_status(status.SerializeToString())
        self.assertEqual((decoded.code, decoded.message, decoded.reason, decoded.domain, decoded.metadata), (9, "off", "REGISTRATION_NOT_ALLOWED", "vifplug", {"type": "x"}))

    def test_health_messages_both_ways(self) -> None:
        m = self.m
        self.assertEqual(m["grpc.health.v1.HealthCheckRequest"].FromString(_pbwire.encode_health_request("vifplug.provider.v1.Provider")).service, "vifplug.provider.v1.Provider")
        self.assertEqual(_pbwire.decode_health_request(m["grpc.health.v1.HealthCheckRequest"](service="s").SerializeToString()), "s")
        self.assertEqual(_pbwire.decode_health_request(b""), "")
        for status in (_pbwire.UNKNOWN, _pbwire.SERVING, _pbwire.NOT_SERVING, _pbwire.SERVICE_UNKNOWN):
            self.assertEqual(m["grpc.health.v1.HealthCheckResponse"].FromString(_pbwire.encode_health_response(status)).status, status)
            self.assertEqual(_pbwire.decode_health_response(m["grpc.health.v1.HealthCheckResponse"](status=status).SerializeToString()), status)
        listed = m["grpc.health.v1.HealthListResponse"].FromString(_pbwire.encode_health_list({"": 1, "a.B": 2}))
        self.assertEqual({k: v.status for k, v in listed.statuses.items()}, {"": 1, "a.B": 2})

    def test_register_request(self) -> None:
        req = self.m["vifplug.v1.RegisterRequest"].FromString(_pbwire.encode_register_request("onebased-py", "unix:///run/vifplug/p.sock"))
        self.assertEqual((req.type, req.endpoint), ("onebased-py", "unix:///run/vifplug/p.sock"))

    def test_bad_bytes_are_value_errors(self) -> None:
        for raw in (b"\x0a\x05ab", b"\x08", b"\x0f", b"\x00\x01", b"\x08" + b"\xff" * 11):
            with self.assertRaises(ValueError, msg=repr(raw)):
                list(_pbwire.fields(raw))
        # Fixed-size fields of other versions of a message are skipped, not misread.
        self.assertEqual(list(_pbwire.fields(b"\x11" + b"\x00" * 8 + b"\x1d" + b"\x00" * 4 + b"\x08\x01")), [(2, b"\x00" * 8), (3, b"\x00" * 4), (1, 1)])

    def test_the_sdk_registers_no_file_of_these_protos_in_the_default_pool(self) -> None:
        from google.protobuf import descriptor_pool

        import vifplug_provider  # noqa: F401 - imported for its registrations

        for name in PROTOS:
            with self.assertRaises(KeyError, msg=name):
                descriptor_pool.Default().FindFileByName(name)
        self.assertEqual(descriptor_pool.Default().FindFileByName("vifplug/provider/v1/provider.proto").package, "vifplug.provider.v1")
