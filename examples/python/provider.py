#!/usr/bin/python3
"""An out-of-process VIF plug provider in Python, on the vifplug_provider SDK.

The same provider as examples/typescript/provider.ts, for a NIC that numbers
its VFs from 1 (as Marvell OCTEON does) while its representors are named from
0: a port asking for `vif-plug:<type>:vf-num=N` gets the representor
pf0vf<N-1>.

    PYTHONPATH=python /usr/bin/python3 examples/python/provider.py \\
        --socket /run/vifplug/onebased-py.sock [--type onebased-py] \\
        [--register unix:///run/vifplug/vifplug.sock] [--verbose]

It serves vifplug.provider.v1.Provider on --socket and, with --register,
registers itself with vifplugd there, and again whenever vifplugd restarts.
Without --register, put its socket in the directory vifplugd watches
(vifplugd --provider-dir DIR), and vifplugd registers it under the type it
serves. --verbose logs every call it answers. SIGTERM or SIGINT stops it
cleanly: calls in flight are answered, the socket is removed.
"""

import argparse
import logging
import re
import sys

from vifplug_provider import Decline, Plug, PlugError, Provider, RegisterOptions, serve_provider

VF_NUM = re.compile(r"^[1-9][0-9]{0,4}$")


def one_based(provider_type):
    option = "vif-plug:%s:vf-num" % provider_type

    def prepare_port(ctx_in, call):
        if ctx_in.op_type == "remove":
            return Plug()
        vf_num = ctx_in.lport_options.get(option)
        if vf_num is None:
            return Decline("NO_VF_NUM", "lport %s has no %s option; set it to the 1-based VF number" % (ctx_in.lport_name, option))
        if not VF_NUM.match(vf_num) or int(vf_num) > 65536:
            raise PlugError("INVALID_ARGUMENT", "INVALID_OPTION", '%s="%s" is not a VF number from 1 to 65536' % (option, vf_num), metadata={"option": option})
        return Plug(name="pf0vf%d" % (int(vf_num) - 1))

    return Provider(type=provider_type, version="example-1", prepare_port=prepare_port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True, help="absolute path of the unix socket to serve on")
    parser.add_argument("--type", default="onebased-py", help="the provider type (default onebased-py)")
    parser.add_argument("--register", help="vifplugd's socket, e.g. unix:///run/vifplug/vifplug.sock: register there")
    parser.add_argument("--verbose", action="store_true", help="log every call answered")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")

    served = serve_provider(
        one_based(args.type),
        socket=args.socket,
        register=None if args.register is None else RegisterOptions(daemon=args.register),
    )
    print('serving provider "%s" at %s' % (args.type, served.endpoint), flush=True)
    served.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
