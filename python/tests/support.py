"""What the tests share: a provider served in a temporary directory, a client
stub on its socket, and a way to read google.rpc.Status out of an error."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, List, Optional

import grpc

from vifplug_provider import Plug, Provider, serve_provider
from vifplug_provider._gen import provider_pb2 as pb
from vifplug_provider._gen import provider_pb2_grpc
from vifplug_provider._pbwire import DecodedStatus, decode_status

# Long enough for a loaded 2-core machine; the tests never wait this long when all is well.
PATIENCE = 10.0


def plug_named_after_lport(ctx_in: Any, _call: Any) -> Plug:
    return Plug(name=ctx_in.lport_name[:15]) if ctx_in.op_type == "create" else Plug()


def provider(**callbacks: Any) -> Provider:
    callbacks.setdefault("type", "tested")
    callbacks.setdefault("prepare_port", plug_named_after_lport)
    return Provider(**callbacks)


class ServedTestCase(unittest.TestCase):
    """A test with a temporary directory, providers served in it, and clients of them."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vifplug-py-")
        os.chmod(self.dir, 0o755)
        self.served: List[Any] = []
        self.channels: List[grpc.Channel] = []

    def tearDown(self) -> None:
        for channel in self.channels:
            channel.close()
        for served in self.served:
            served.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, p: Optional[Provider] = None, name: str = "p.sock", **options: Any) -> Any:
        options.setdefault("shutdown_grace", 2.0)
        served = serve_provider(p or provider(), socket=os.path.join(self.dir, name), **options)
        self.served.append(served)
        return served

    def channel(self, served: Any) -> grpc.Channel:
        channel = grpc.insecure_channel(served.endpoint)
        self.channels.append(channel)
        return channel

    def stub(self, served: Any) -> provider_pb2_grpc.ProviderStub:
        return provider_pb2_grpc.ProviderStub(self.channel(served))

    def assertStatus(self, err: grpc.RpcError, code: grpc.StatusCode, reason: str) -> DecodedStatus:
        """The error's code, and the google.rpc.Status with ErrorInfo in its trailer; returns the status."""
        self.assertEqual(err.code(), code, err.details())
        details = [v for k, v in err.trailing_metadata() or () if k == "grpc-status-details-bin"]
        self.assertEqual(len(details), 1, "one grpc-status-details-bin trailer")
        status = decode_status(details[0])
        self.assertEqual((status.code, status.reason, status.domain), (code.value[0], reason, "vifplug"))
        self.assertEqual(status.message, err.details())
        return status

    def until(self, what: str, check: Callable[[], bool], timeout: float = PATIENCE) -> None:
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                self.fail("timed out waiting for " + what)
            time.sleep(0.01)


def create(lport: str, **options: str) -> pb.PortCtxIn:
    return pb.PortCtxIn(op_type=pb.OP_TYPE_CREATE, lport_name=lport, lport_options=options)


class Recorder:
    """Lines a provider's callbacks record, readable from the test's thread."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def snapshot(self) -> List[str]:
        with self._lock:
            return list(self.lines)


class LogCapture(logging.Handler):
    """The SDK's log records, to check what it says about failures."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "LogCapture":
        logger = logging.getLogger("vifplug_provider")
        self._level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        logger = logging.getLogger("vifplug_provider")
        logger.removeHandler(self)
        logger.setLevel(self._level)
