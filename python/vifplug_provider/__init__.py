"""vifplug_provider: write a VIF plug provider for vifplugd in Python.

A provider is a Provider of plain callbacks; serve_provider serves it on a
unix socket as vifplug.provider.v1.Provider (with gRPC health, PreparePorts
and PortStream) and, with RegisterOptions, keeps it registered with vifplugd
across restarts of either. See docs/providers.md of the vifplug repository.

    from vifplug_provider import Decline, Plug, Provider, RegisterOptions, serve_provider

    def prepare_port(ctx_in, call):
        if ctx_in.op_type == "remove":
            return Plug()
        vf = ctx_in.lport_options.get("vif-plug:mynic:vf-num")
        if vf is None:
            return Decline("NO_VF_NUM", "set vif-plug:mynic:vf-num")
        return Plug(name="pf0vf%s" % vf)

    served = serve_provider(Provider(type="mynic", prepare_port=prepare_port),
                            socket="/run/vifplug/mynic.sock",
                            register=RegisterOptions(daemon="unix:///run/vifplug/vifplug.sock"))
    served.wait_for_termination()
"""

import logging as _logging

from .call import Call
from .errors import PlugError
from .registration import RegisterOptions, RegistrationError
from .serve import API_VERSIONS, PROVIDER_SERVICE, ServedProvider, serve_provider
from .provider import CREATE, REMOVE, Answer, Decline, Plug, PortCtxIn, PortCtxOut, Provider, Representor

__version__ = "0.1.0"

__all__ = [
    "API_VERSIONS",
    "Answer",
    "CREATE",
    "Call",
    "Decline",
    "PROVIDER_SERVICE",
    "Plug",
    "PlugError",
    "PortCtxIn",
    "PortCtxOut",
    "Provider",
    "REMOVE",
    "RegisterOptions",
    "RegistrationError",
    "Representor",
    "ServedProvider",
    "serve_provider",
]

# A library logs only where its application says: nowhere until then.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
