#!/usr/bin/python3
"""An out-of-process VIF plug provider in Python.

The same provider as examples/typescript/provider.ts, for a NIC that numbers
its VFs from 1 (as Marvell OCTEON does) while its representors are named from
0: a port asking for `vif-plug:<type>:vf-num=N` gets the representor
pf0vf<N-1>. It uses nothing but gRPC: Debian's python3-grpcio, and code that
python3-grpc-tools generates from the repository's proto:

    /usr/bin/python3 -m grpc_tools.protoc -Iproto \\
        --python_out=examples/python/gen --grpc_python_out=examples/python/gen \\
        proto/vifplug/provider/v1/provider.proto

Run it in the directory vifplugd watches (vifplugd --provider-dir DIR), and
vifplugd registers it under the type it serves:

    PYTHONPATH=examples/python/gen /usr/bin/python3 examples/python/provider.py \\
        --socket /run/vifplug/providers/onebased-py.sock --type onebased-py

It serves only what the provider API requires (GetInfo, PreparePort) and
answers UNIMPLEMENTED to the rest, which vifplugd takes as "nothing to do".
"""

import argparse
import os
import re
import signal
import sys
import threading
from concurrent import futures

import grpc

from vifplug.provider.v1 import provider_pb2, provider_pb2_grpc

VF_NUM = re.compile(r"^[1-9][0-9]{0,4}$")


class OneBasedProvider(provider_pb2_grpc.ProviderServicer):
    def __init__(self, provider_type):
        self.type = provider_type
        self.option = "vif-plug:%s:vf-num" % provider_type

    def GetInfo(self, request, context):
        return provider_pb2.GetInfoResponse(type=self.type, api_versions=["v1"], provider_version="example-1")

    def PreparePort(self, request, context):
        ctx_in = request.ctx_in
        if ctx_in.op_type == provider_pb2.OP_TYPE_REMOVE:
            return provider_pb2.PreparePortResponse(plug=True)
        vf_num = ctx_in.lport_options.get(self.option)
        if vf_num is None:
            return provider_pb2.PreparePortResponse(
                plug=False,
                decline_reason="NO_VF_NUM",
                decline_message="lport %s has no %s option; set it to the 1-based VF number" % (ctx_in.lport_name, self.option),
            )
        if not VF_NUM.match(vf_num) or int(vf_num) > 65536:
            # The reason travels in the "vifplug-reason" trailer: Debian's
            # python3-grpcio has no google.rpc protos for an ErrorInfo.
            context.set_trailing_metadata((("vifplug-reason", "INVALID_OPTION"),))
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, '%s="%s" is not a VF number from 1 to 65536' % (self.option, vf_num))
        name = "pf0vf%d" % (int(vf_num) - 1)
        return provider_pb2.PreparePortResponse(plug=True, ctx_out=provider_pb2.PortCtxOut(name=name))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True, help="absolute path of the unix socket to serve on")
    parser.add_argument("--type", default="onebased-py", help="the provider type (default onebased-py)")
    args = parser.parse_args()

    # A socket left by a provider that was killed would make the bind fail.
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    provider_pb2_grpc.add_ProviderServicer_to_server(OneBasedProvider(args.type), server)
    old_umask = os.umask(0o177)
    try:
        server.add_insecure_port("unix:" + args.socket)
        server.start()
    finally:
        os.umask(old_umask)
    print('serving provider "%s" at unix://%s' % (args.type, args.socket), flush=True)

    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    # Removing the socket tells vifplugd's --provider-dir watcher that we are gone.
    server.stop(1).wait()
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
