"""How a provider says no: PlugError, and how any failure is answered.

A callback raises PlugError to answer with a gRPC status code, an
UPPER_SNAKE reason and a message, which vifplugd passes on to the
controller (the codes it passes on are listed under "Errors" in
proto/vifplug/provider/v1/provider.proto). The status carries a
google.rpc.Status with an ErrorInfo (and a RetryInfo when retry_after is
given) in the grpc-status-details-bin trailer, as the TypeScript SDK sends
it. Anything else a callback raises is a bug of the provider: it is logged
with its traceback and answered INTERNAL (INTERNAL_ERROR), which vifplugd
reports as the provider's error.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional, Union

import grpc

from . import _pbwire
from ._gen import provider_pb2 as pb

#: ErrorInfo.domain of the errors the SDK answers with (the TypeScript SDK's too).
ERROR_DOMAIN = "vifplug"

#: The trailer that carries a serialized google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"

_REASON = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")
# Messages and metadata may quote what a caller sent; bounded, trailers stay
# far below the 8 KiB metadata limit of common clients.
_MAX_MESSAGE = 1024
_MAX_METADATA_VALUE = 256

_CODES: Dict[str, grpc.StatusCode] = {code.name: code for code in grpc.StatusCode if code is not grpc.StatusCode.OK}


class PlugError(Exception):
    """A failure a caller can act on.

    code: a gRPC status code, by name ("INVALID_ARGUMENT") or as grpc.StatusCode.
    reason: UPPER_SNAKE and stable: which failure it is, for machines.
    message: what went wrong and what to do, for people.
    metadata: short machine-readable facts (google.rpc.ErrorInfo.metadata).
    retry_after: seconds a caller should wait before retrying (google.rpc.RetryInfo).
    """

    def __init__(
        self,
        code: Union[str, grpc.StatusCode],
        reason: str,
        message: str,
        metadata: Optional[Mapping[str, str]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        status = _CODES.get(code) if isinstance(code, str) else code
        if status is None or status is grpc.StatusCode.OK:
            raise ValueError("PlugError: %r is not a gRPC status code other than OK (e.g. 'INVALID_ARGUMENT')" % (code,))
        if not _REASON.match(reason):
            raise ValueError("PlugError: reason %r is not UPPER_SNAKE (e.g. 'NO_SUCH_VF')" % (reason,))
        super().__init__(message)
        self.code: grpc.StatusCode = status
        self.reason = reason
        self.message = message
        self.metadata: Dict[str, str] = dict(metadata or {})
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return "PlugError(%s, %s, %r)" % (self.code.name, self.reason, self.message)


def internal_error(err: BaseException) -> PlugError:
    """What a callback's unexpected exception is answered with."""
    what = str(err) or type(err).__name__
    return PlugError("INTERNAL", "INTERNAL_ERROR", "internal error: %s: %s; please report it with the provider's log" % (type(err).__name__, what))


def malformed(what: str) -> PlugError:
    return PlugError("INVALID_ARGUMENT", "MALFORMED_REQUEST", "the request breaks the provider API: %s" % what)


def draining() -> PlugError:
    return PlugError("UNAVAILABLE", "DRAINING", "the provider is shutting down; retry against its replacement", retry_after=1.0)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _status_code(err: PlugError) -> int:
    return err.code.value[0]


def status_details(err: PlugError) -> bytes:
    """The google.rpc.Status of err, as sent in the grpc-status-details-bin trailer."""
    metadata = {k: _bounded(v, _MAX_METADATA_VALUE) for k, v in err.metadata.items()}
    return _pbwire.encode_status(_status_code(err), _bounded(err.message, _MAX_MESSAGE), err.reason, ERROR_DOMAIN, metadata, err.retry_after)


def abort(context: grpc.ServicerContext, err: PlugError) -> None:
    """Ends the call with err's status and details; raises, as context.abort does."""
    context.set_trailing_metadata(((STATUS_DETAILS_KEY, status_details(err)),))
    context.abort(err.code, _bounded(err.message, _MAX_MESSAGE))


def port_error(err: PlugError) -> pb.PortError:
    """One port's failure in a PreparePorts or PortStream answer."""
    return pb.PortError(
        code=_status_code(err),
        reason=err.reason,
        message=_bounded(err.message, _MAX_MESSAGE),
        metadata={k: _bounded(v, _MAX_METADATA_VALUE) for k, v in err.metadata.items()},
    )
