"""What a provider is written with: the port it is asked about, its answers,
and the provider itself as plain callbacks (the TypeScript SDK's
ProviderDefinition, in Python's words).

proto/vifplug/provider/v1/provider.proto says when vifplugd calls each
callback and what it must answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence, Union

if TYPE_CHECKING:
    from .call import Call

#: PortCtxIn.op_type of a port being created or updated on the chassis.
CREATE = "create"
#: PortCtxIn.op_type of a port being removed from the chassis.
REMOVE = "remove"


@dataclass(frozen=True)
class PortCtxIn:
    """What the controller tells about the port (the seed's plug_port_ctx_in)."""

    #: CREATE or REMOVE.
    op_type: str
    lport_name: str
    #: The logical port's options; by convention a provider reads only its own "vif-plug:<type>:<key>" keys.
    lport_options: Mapping[str, str] = field(default_factory=dict)
    use_dpdk: bool = False
    #: The existing interface, when the controller knows one (usually for REMOVE).
    iface_name: str = ""
    iface_type: str = ""
    iface_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PortCtxOut:
    """The interface a provider asked for (the seed's plug_port_ctx_out)."""

    name: str
    type: str = ""
    iface_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plug:
    """Yes. For CREATE: plug the interface `name` (required), of `type` ("" for a
    system netdev), with `iface_options`. For REMOVE: the controller may remove
    it (give no name). `handle` (at most 4096 bytes) comes back in finish_port
    and destroy_port_ctx, e.g. the key of what the provider allocated."""

    name: str = ""
    type: str = ""
    iface_options: Mapping[str, str] = field(default_factory=dict)
    handle: bytes = b""


@dataclass(frozen=True)
class Decline:
    """No: `reason` (UPPER_SNAKE) for machines, `message` for people."""

    reason: str
    message: str


Answer = Union[Plug, Decline]


@dataclass(frozen=True)
class Representor:
    """A port of an SR-IOV / SmartNIC eswitch the provider can plug (ListRepresentors)."""

    netdev: str = ""
    ifindex: int = 0
    #: devlink flavour: "physical", "pcipf", "pcivf", "pcisf" or "virtual".
    flavour: str = ""
    #: The devlink device, e.g. "pci/0000:07:00.0".
    device: str = ""
    port_index: Optional[int] = None
    controller: Optional[int] = None
    pfnum: Optional[int] = None
    vfnum: Optional[int] = None
    sfnum: Optional[int] = None
    external: Optional[bool] = None
    pf_mac: str = ""
    #: Where the port was seen: "devlink" or "sysfs".
    source: str = ""
    phys_port_name: str = ""
    #: The lport options that select this port.
    lport_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Provider:
    """A provider as plain callbacks. Only `type` and `prepare_port` are required.

    A callback raises PlugError to answer with its status and reason; anything
    else it raises answers INTERNAL. Callbacks run on the server's worker
    threads, several at once: guard shared state with a lock.
    """

    #: The provider type it serves: 1 to 64 characters of [A-Za-z0-9_.-], starting with a letter or digit.
    type: str
    #: prepare_port(ctx_in, call) -> Plug or Decline. Cheap and side-effect free,
    #: apart from what `handle` refers to: controllers call it for every port on every pass.
    prepare_port: Callable[[PortCtxIn, "Call"], Answer]
    #: Interface option keys the provider owns (GetInfo.maintained_iface_options).
    maintained_iface_options: Sequence[str] = ()
    #: The provider's own version, for people.
    version: str = ""
    #: init(): a new session; forget every instance and ctx of an earlier one.
    init: Optional[Callable[[], None]] = None
    #: destroy(): the type is unregistered.
    destroy: Optional[Callable[[], None]] = None
    #: open(instance_id) and close(instance_id): the type's one instance.
    open: Optional[Callable[[str], None]] = None
    close: Optional[Callable[[str], None]] = None
    #: run(call) -> bool: periodic work; True if something changed a controller should act on.
    run: Optional[Callable[["Call"], bool]] = None
    #: finish_port(ctx_in, ctx_out or None for a REMOVE, call): the change was committed; call.handle is the answer's handle.
    finish_port: Optional[Callable[[PortCtxIn, Optional[PortCtxOut], "Call"], None]] = None
    #: destroy_port_ctx(ctx_in, ctx_out, call): release what a CREATE's answer holds.
    destroy_port_ctx: Optional[Callable[[PortCtxIn, PortCtxOut, "Call"], None]] = None
    #: list_representors() -> the hardware ports the provider can plug.
    list_representors: Optional[Callable[[], Sequence[Representor]]] = None
