"""The protobuf wire format of the few messages of other APIs the SDK speaks.

google.rpc.Status with its ErrorInfo and RetryInfo (error details),
grpc.health.v1 (the health service) and vifplug.v1's RegisterRequest are
encoded here by hand rather than generated: a generated module registers its
.proto file in protobuf's default descriptor pool, where googleapis-common-protos
(pulled in by grpcio-status and most Google client libraries),
grpcio-health-checking or a controller's own vifplug_pb2 register theirs, and
two different versions of one file cannot be loaded into one process
("A file with this name is already in the pool"). These messages are a few
scalar fields each; their field numbers are fixed by their protos.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

FieldValue = Union[int, bytes]


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def varint_field(field: int, n: int) -> bytes:
    return b"" if n == 0 else _key(field, _VARINT) + _varint(n)


def bytes_field(field: int, data: bytes) -> bytes:
    return b"" if not data else _key(field, _LEN) + _varint(len(data)) + data


def string_field(field: int, text: str) -> bytes:
    return bytes_field(field, text.encode("utf-8"))


def message_field(field: int, encoded: bytes) -> bytes:
    """A sub-message: present even when empty."""
    return _key(field, _LEN) + _varint(len(encoded)) + encoded


def string_map_field(field: int, entries: Mapping[str, str]) -> bytes:
    return b"".join(message_field(field, string_field(1, k) + string_field(2, v)) for k, v in entries.items())


def _read_varint(data: bytes, i: int) -> Tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return n, i
        shift += 7


def fields(data: bytes) -> Iterator[Tuple[int, FieldValue]]:
    """Every (field number, value) of an encoded message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise ValueError("field number 0")
        value: FieldValue
        if wire_type == _VARINT:
            value, i = _read_varint(data, i)
        elif wire_type in (_I64, _I32, _LEN):
            if wire_type == _LEN:
                size, i = _read_varint(data, i)
            else:
                size = 8 if wire_type == _I64 else 4
            if i + size > len(data):
                raise ValueError("truncated field")
            value = bytes(data[i : i + size])
            i += size
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
        yield field, value


def _text(value: FieldValue) -> str:
    if not isinstance(value, bytes):
        raise ValueError("a string field with a varint value")
    return value.decode("utf-8")


def _string_map_entry(value: FieldValue) -> Tuple[str, str]:
    if not isinstance(value, bytes):
        raise ValueError("a map entry with a varint value")
    key = val = ""
    for f, v in fields(value):
        if f == 1:
            key = _text(v)
        elif f == 2:
            val = _text(v)
    return key, val


# --- google.rpc.Status, ErrorInfo, RetryInfo ------------------------------------------

ERROR_INFO_URL = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO_URL = "type.googleapis.com/google.rpc.RetryInfo"


def encode_status(
    code: int, message: str, reason: str, domain: str, metadata: Mapping[str, str], retry_after: Optional[float]
) -> bytes:
    """google.rpc.Status {code, message, details: [ErrorInfo, RetryInfo when retry_after is set]}."""
    error_info = string_field(1, reason) + string_field(2, domain) + string_map_field(3, metadata)
    details = [(ERROR_INFO_URL, error_info)]
    if retry_after is not None:
        ms = max(0, round(retry_after * 1000))
        duration = varint_field(1, ms // 1000) + varint_field(2, (ms % 1000) * 1_000_000)
        details.append((RETRY_INFO_URL, message_field(1, duration)))
    out = varint_field(1, code) + string_field(2, message)
    for type_url, value in details:
        out += message_field(3, string_field(1, type_url) + bytes_field(2, value))
    return out


class DecodedStatus:
    """What a google.rpc.Status says: its code, message, and ErrorInfo when it has one."""

    def __init__(self, code: int, message: str, reason: str, domain: str, metadata: Dict[str, str]) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = metadata


def decode_status(data: bytes) -> DecodedStatus:
    code, message = 0, ""
    details: List[Tuple[str, bytes]] = []
    for f, v in fields(data):
        if f == 1 and isinstance(v, int):
            code = v
        elif f == 2:
            message = _text(v)
        elif f == 3 and isinstance(v, bytes):
            type_url, value = "", b""
            for af, av in fields(v):
                if af == 1:
                    type_url = _text(av)
                elif af == 2 and isinstance(av, bytes):
                    value = av
            details.append((type_url, value))
    reason = domain = ""
    metadata: Dict[str, str] = {}
    for type_url, value in details:
        if type_url != ERROR_INFO_URL:
            continue
        for f, v in fields(value):
            if f == 1:
                reason = _text(v)
            elif f == 2:
                domain = _text(v)
            elif f == 3:
                k, val = _string_map_entry(v)
                metadata[k] = val
    return DecodedStatus(code, message, reason, domain, metadata)


# --- grpc.health.v1 ----------------------------------------------------------------------

UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3


def decode_health_request(data: bytes) -> str:
    """HealthCheckRequest {service = 1}, also HealthListRequest (no fields)."""
    service = ""
    for f, v in fields(data):
        if f == 1:
            service = _text(v)
    return service


def encode_health_request(service: str) -> bytes:
    return string_field(1, service)


def encode_health_response(status: int) -> bytes:
    """HealthCheckResponse {status = 1}."""
    return varint_field(1, status)


def decode_health_response(data: bytes) -> int:
    status = UNKNOWN
    for f, v in fields(data):
        if f == 1 and isinstance(v, int):
            status = v
    return status


def encode_health_list(statuses: Mapping[str, int]) -> bytes:
    """HealthListResponse {map<string, HealthCheckResponse> statuses = 1}."""
    return b"".join(
        message_field(1, string_field(1, service) + message_field(2, encode_health_response(status)))
        for service, status in statuses.items()
    )


# --- vifplug.v1 ----------------------------------------------------------------------------


def encode_register_request(provider_type: str, endpoint: str) -> bytes:
    """vifplug.v1.RegisterRequest {type = 1, endpoint = 2}."""
    return string_field(1, provider_type) + string_field(2, endpoint)
