"""A provider built with the Python SDK, scripted by the JSON in argv[1], for
the tests that drive it through a real vifplugd (test/python-sdk/sdk.test.ts).

It prints every callback on stdout, one line each ("serving", "registered",
"register-error CODE REASON", "init", "open ID", "prepare LPORT",
"cancelled LPORT", "finish LPORT HANDLE", "destroyCtx LPORT HANDLE",
"close ID", "destroy"), so that a test sees what vifplugd asked of it.

Lports named "plug-error-*" are answered with a PlugError (RESOURCE_EXHAUSTED,
NO_FREE_VF), "bug-*" with an exception, "slow-*" after `slow_seconds` unless
vifplugd gives up on the call first.
"""

import json
import sys
import threading

from vifplug_provider import Plug, PlugError, Provider, RegisterOptions, serve_provider

cfg = json.loads(sys.argv[1])
lock = threading.Lock()


def say(line):
    with lock:
        print(line, flush=True)


def prepare_port(ctx_in, call):
    name = ctx_in.lport_name
    say("prepare " + name)
    if name.startswith("plug-error-"):
        raise PlugError("RESOURCE_EXHAUSTED", "NO_FREE_VF", "every VF of pf0 is taken; free one", metadata={"pf": "0"})
    if name.startswith("bug-"):
        raise ZeroDivisionError("division by zero")
    if name.startswith("slow-") and call.wait_cancelled(cfg.get("slow_seconds", 5)):
        say("cancelled " + name)
    if ctx_in.op_type == "remove":
        return Plug(handle=b"rm:" + name.encode())
    return Plug(name=name[:15], type="internal", iface_options={"scripted-option": "on"}, handle=b"h:" + name.encode())


def registration_failed(err):
    say("register-error %s %s" % (err.code.name, err.reason or "-"))


provider = Provider(
    type=cfg["type"],
    version="scripted",
    maintained_iface_options=["scripted-option"],
    prepare_port=prepare_port,
    init=lambda: say("init"),
    destroy=lambda: say("destroy"),
    open=lambda instance_id: say("open " + instance_id),
    close=lambda instance_id: say("close " + instance_id),
    finish_port=lambda ctx_in, ctx_out, call: say("finish %s %s" % (ctx_in.lport_name, call.handle.decode())),
    destroy_port_ctx=lambda ctx_in, ctx_out, call: say("destroyCtx %s %s" % (ctx_in.lport_name, call.handle.decode())),
)
register = cfg.get("register")
served = serve_provider(
    provider,
    socket=cfg["socket"],
    register=None if register is None else RegisterOptions(daemon=register, max_backoff=0.3, on_error=registration_failed, on_registered=lambda: say("registered")),
)
say("serving")
served.wait_for_termination()
