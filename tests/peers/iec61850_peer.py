#!/usr/bin/env python3
"""A real IEC 61850 MMS server and client (libiec61850 through pyiec61850-ng), for otwatch's live tests.

Usage: iec61850_peer.py server|client HOST PORT [SECONDS]
The server is an IED named "otwIED" with one logical device CTRL (LLN0, LPHD1 with its rating
plate, GGIO1 with a controllable SPCSO1 and a measured AnIn1), answering Identify with vendor
"otwatch-test", model "TESTIED", revision "1.2.3", with its file service on a scratch directory.
The client reads the server directory and identity, reads a measurement, writes a configuration
value, operates SPCSO1 (direct control, an MMS write of Oper) and lists the file store.
"""
import os
import sys
import tempfile
import time

from peerutil import wait_for_port

import pyiec61850.pyiec61850 as iec

IED = "otwIED"
LD = IED + "CTRL"


def start_server(host: str, port: int):
    model = iec.IedModel_create(IED)
    ld = iec.LogicalDevice_create("CTRL", model)
    lln0 = iec.LogicalNode_create("LLN0", ld)
    iec.CDC_ENS_create("Mod", iec.toModelNode(lln0), 0)
    lphd = iec.LogicalNode_create("LPHD1", ld)
    iec.CDC_DPL_create(
        "PhyNam", iec.toModelNode(lphd), iec.CDC_OPTION_DPL_MODEL | iec.CDC_OPTION_DPL_SWREV
    )
    ggio = iec.LogicalNode_create("GGIO1", ld)
    iec.CDC_SPC_create("SPCSO1", iec.toModelNode(ggio), 0, iec.CDC_CTL_MODEL_DIRECT_NORMAL)
    iec.CDC_MV_create("AnIn1", iec.toModelNode(ggio), 0, False)

    files = tempfile.mkdtemp(prefix="otw-iec61850-")
    with open(os.path.join(files, "settings.cfg"), "w") as f:
        f.write("protection settings\n")
    server = iec.IedServer_create(model)
    iec.IedServer_setFilestoreBasepath(server, files + "/")
    iec.IedServer_setServerIdentity(server, "otwatch-test", "TESTIED", "1.2.3")
    iec.IedServer_setWriteAccessPolicy(server, iec.IEC61850_FC_CF, iec.ACCESS_POLICY_ALLOW)
    iec.IedServer_start(server, port)
    if not iec.IedServer_isRunning(server):
        raise SystemExit(f"the IEC 61850 server could not listen on {host}:{port}")
    return server


def run_client(host: str, port: int) -> None:
    from pyiec61850.mms import MMSClient
    from pyiec61850.mms.control import ControlClient
    from pyiec61850.mms.files import FileClient

    wait_for_port(host, port)
    client = MMSClient()
    client.connect(host, port)
    identity = client.get_server_identity()
    assert identity.vendor == "otwatch-test", identity
    devices = client.get_logical_devices()
    assert devices == [LD], devices
    client.get_logical_nodes(LD)
    client.read_value(LD + "/GGIO1.AnIn1.mag.f", iec.IEC61850_FC_MX)
    client.write_value(LD + "/GGIO1.SPCSO1.ctlModel", 1, iec.IEC61850_FC_CF)
    assert ControlClient(client).direct_operate(LD + "/GGIO1.SPCSO1", True)
    FileClient(client).list_files("/")
    local = tempfile.mktemp(prefix="otw-iec61850-get-")
    client.download_file("settings.cfg", local)
    with open(local) as f:
        assert f.read() == "protection settings\n"
    os.unlink(local)
    client.disconnect()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        srv = start_server(host, port)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 20.0)
        iec.IedServer_stop(srv)
    elif role == "client":
        run_client(host, port)
    else:
        raise SystemExit("usage: iec61850_peer.py server|client HOST PORT [SECONDS]")
