"""An out-of-process provider built with the Python SDK (python/), answering
exactly as the built-in dummy does (an internal interface named after the
lport, cut to 15 bytes, with plug-dummy-option=value), so that its replies
through vifplugd have the dummy's size. Started by python-provider.ts; prints
"serving ENDPOINT" once it serves on the socket given as argv[2]."""

import sys

from vifplug_provider import Plug, Provider, serve_provider

OPTION = "plug-dummy-option"
OPTIONS = {OPTION: "value"}


def interface_name(lport_name):
    """The lport name cut to IFNAMSIZ - 1 bytes, never in the middle of a UTF-8 sequence."""
    raw = lport_name.encode("utf-8")
    if len(raw) < 16:
        return lport_name
    return raw[:15].decode("utf-8", errors="ignore")


def prepare_port(ctx_in, _call):
    if ctx_in.op_type != "create":
        return Plug()
    return Plug(name=interface_name(ctx_in.lport_name), type="internal", iface_options=OPTIONS)


served = serve_provider(Provider(type=sys.argv[1], maintained_iface_options=[OPTION], prepare_port=prepare_port), socket=sys.argv[2])
print("serving " + served.endpoint, flush=True)
served.wait_for_termination()
