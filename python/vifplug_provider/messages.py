"""The provider API's messages as the SDK's types, and the answers back as messages."""

from __future__ import annotations

from typing import Optional

from google.protobuf import wrappers_pb2

from ._gen import provider_pb2 as pb
from .errors import malformed
from .provider import CREATE, REMOVE, Decline, Plug, PortCtxIn, PortCtxOut, Representor

_OP_TYPES = {pb.OP_TYPE_CREATE: CREATE, pb.OP_TYPE_REMOVE: REMOVE}


def ctx_in_of(message: pb.PortCtxIn, present: bool = True) -> PortCtxIn:
    """The port a request asks about; a missing one, or one without an op_type, is a malformed request."""
    op_type = _OP_TYPES.get(message.op_type) if present else None
    if op_type is None:
        raise malformed("ctx_in is missing or has no op_type")
    return PortCtxIn(
        op_type=op_type,
        lport_name=message.lport_name,
        lport_options=dict(message.lport_options),
        use_dpdk=message.use_dpdk,
        iface_name=message.iface_name,
        iface_type=message.iface_type,
        iface_options=dict(message.iface_options),
    )


def ctx_out_of(message: pb.PortCtxOut, present: bool) -> Optional[PortCtxOut]:
    if not present:
        return None
    return PortCtxOut(name=message.name, type=message.type, iface_options=dict(message.iface_options))


def answer_message(answer: object) -> pb.PreparePortResponse:
    """A callback's answer as PreparePortResponse; vifplugd checks it against the API's rules."""
    if isinstance(answer, Plug):
        if not answer.name and not answer.type and not answer.iface_options:
            return pb.PreparePortResponse(plug=True, handle=answer.handle)
        out = pb.PortCtxOut(name=answer.name, type=answer.type, iface_options=answer.iface_options)
        return pb.PreparePortResponse(plug=True, ctx_out=out, handle=answer.handle)
    if isinstance(answer, Decline):
        return pb.PreparePortResponse(plug=False, decline_reason=answer.reason, decline_message=answer.message)
    raise TypeError("prepare_port answered %r; it must answer Plug(...) or Decline(reason, message)" % (answer,))


def _uint32(value: Optional[int]) -> Optional[wrappers_pb2.UInt32Value]:
    return None if value is None else wrappers_pb2.UInt32Value(value=value)


def representor_message(r: Representor) -> pb.Representor:
    return pb.Representor(
        netdev=r.netdev,
        ifindex=r.ifindex,
        flavour=r.flavour,
        device=r.device,
        port_index=_uint32(r.port_index),
        controller=_uint32(r.controller),
        pfnum=_uint32(r.pfnum),
        vfnum=_uint32(r.vfnum),
        sfnum=_uint32(r.sfnum),
        external=None if r.external is None else wrappers_pb2.BoolValue(value=r.external),
        pf_mac=r.pf_mac,
        source=r.source,
        phys_port_name=r.phys_port_name,
        lport_options=r.lport_options,
    )
