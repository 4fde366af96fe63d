"""Keeping a provider registered with vifplugd across restarts of either, as
kubelet device plugins stay registered with the kubelet.

Register once serving, then watch the daemon (a grpc.health.v1 Watch stream
on its socket); when the stream ends or breaks, vifplugd stopped or
restarted and forgot us, so register again, retrying with backoff until it
answers. A refusal (the type is taken, registration is off) is retried too,
up to the longest backoff: an operator may fix it without restarting the
provider.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import grpc

from . import _pbwire
from .errors import STATUS_DETAILS_KEY

log = logging.getLogger("vifplug_provider")

_FIRST_BACKOFF = 0.1
_REGISTER_TIMEOUT = 10.0
_REGISTER = "/vifplug.v1.VifPlug/Register"
_HEALTH_WATCH = "/grpc.health.v1.Health/Watch"


class RegistrationError(Exception):
    """An attempt to register that failed: vifplugd not up yet, or the registration refused."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__("%s%s: %s" % (code.name, " (%s)" % reason if reason else "", message))
        self.code = code
        #: The ErrorInfo reason vifplugd answered with, e.g. REGISTRATION_NOT_ALLOWED; "" when none.
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RegisterOptions:
    """Register with vifplugd, and again whenever it restarts."""

    #: vifplugd's gRPC target, e.g. "unix:///run/vifplug/vifplug.sock".
    daemon: str
    #: For a daemon reached over TCP (TLS); unix sockets need none.
    credentials: Optional[grpc.ChannelCredentials] = None
    #: Longest wait between attempts, in seconds; the first retry comes after 0.1 s.
    max_backoff: float = 5.0
    #: Told of every attempt that failed; default: logged as a warning.
    on_error: Optional[Callable[[RegistrationError], None]] = None
    #: Told after every successful registration (the first, and after each restart of vifplugd).
    on_registered: Optional[Callable[[], None]] = None


class Registration:
    """The thread that keeps one provider registered."""

    def __init__(self, provider_type: str, endpoint: str, options: RegisterOptions) -> None:
        self._type = provider_type
        self._endpoint = endpoint
        self._options = options
        self._stopped = threading.Event()
        self._first = threading.Event()
        self._lock = threading.Lock()
        # The call under way (Register, then the health Watch), cancelled by stop().
        self._call: Optional[grpc.Future] = None
        self._thread = threading.Thread(target=self._loop, name="vifplug-registration", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_registered(self, timeout: Optional[float]) -> bool:
        return self._first.wait(timeout)

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=_REGISTER_TIMEOUT)

    def _channel(self) -> grpc.Channel:
        # A channel per attempt: one that saw vifplugd go would wait out its
        # own reconnect backoff (up to two minutes) before trying again.
        if self._options.credentials is not None:
            return grpc.secure_channel(self._options.daemon, self._options.credentials)
        return grpc.insecure_channel(self._options.daemon)

    def _loop(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopped.is_set():
            channel = self._channel()
            try:
                register = channel.unary_unary(_REGISTER, request_serializer=bytes, response_deserializer=bytes)
                self._under_way(register.future(_pbwire.encode_register_request(self._type, self._endpoint), timeout=_REGISTER_TIMEOUT)).result()
                backoff = _FIRST_BACKOFF
                log.info('registered "%s" with vifplugd at %s', self._type, self._options.daemon)
                self._first.set()
                if self._options.on_registered is not None:
                    _tell(self._options.on_registered)
                self._watch_daemon(channel)
                if self._stopped.is_set():
                    return
                log.info("lost vifplugd at %s; registering again once it is back", self._options.daemon)
            except (grpc.RpcError, grpc.FutureCancelledError) as err:
                if self._stopped.is_set() or not isinstance(err, grpc.RpcError):
                    return
                error = _registration_error(err)
                if self._options.on_error is not None:
                    _tell(self._options.on_error, error)
                else:
                    log.warning("cannot register with vifplugd at %s: %s", self._options.daemon, error)
                backoff = min(backoff * 2, self._options.max_backoff)
            finally:
                channel.close()
            self._stopped.wait(backoff)

    def _watch_daemon(self, channel: grpc.Channel) -> None:
        """Returns when vifplugd's health stream ends: it stopped, restarted or is draining."""
        watch = channel.unary_stream(_HEALTH_WATCH, request_serializer=bytes, response_deserializer=bytes)
        stream = self._under_way(watch(_pbwire.encode_health_request("")))
        try:
            for _ in stream:
                pass
        except grpc.RpcError:
            pass

    def _under_way(self, call: grpc.Future) -> grpc.Future:
        """Keeps call where stop() can cancel it; cancels it at once if stop() came first."""
        with self._lock:
            self._call = call
        if self._stopped.is_set():
            call.cancel()
        return call


def _tell(listener: Callable[..., None], *args: object) -> None:
    try:
        listener(*args)
    except Exception:  # noqa: BLE001 - a listener's bug must not stop the registration
        log.exception("a registration listener failed")


def _registration_error(err: grpc.RpcError) -> RegistrationError:
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = (err.details() if isinstance(err, grpc.Call) else None) or str(err)
    reason = ""
    if isinstance(err, grpc.Call):
        for key, value in err.trailing_metadata() or ():
            if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
                try:
                    reason = _pbwire.decode_status(value).reason
                except (ValueError, UnicodeDecodeError):
                    pass
    return RegistrationError(code, reason, message)
