#!/usr/bin/env python3
"""A real ADS client (pyads with its bundled AdsLib router) and pyads' ADS test server, for
otwatch's live tests (sensor/tests/live_peers.rs) and recordings (tests/peers/record).

Usage: ads_peer.py server|client HOST PORT [SECONDS]
The client (AMS Net ID: its address on HOST's network + .1.1) talks to AMS Net ID HOST.1.1
port 851: ReadDeviceInfo, ReadState, Read and Write of %MB0 (index group 0x4020), a handle by
name (ReadWrite 0xF003), AddDeviceNotification, WriteControl STOP then RUN. AdsLib always
connects to TCP 48898, so PORT must be 48898.
"""
import socket
import sys
import time

from peerutil import wait_for_port


def start_server(host: str, port: int):
    from pyads.testserver import AdsTestServer, BasicHandler

    server = AdsTestServer(handler=BasicHandler(), ip_address=host, port=port, logging=False)
    server.start()
    return server


def local_address(host: str) -> str:
    """The address this host reaches HOST from (no packet is sent: a UDP connect only routes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 48898))
        return s.getsockname()[0]


def run_client(host: str, port: int, wait: bool = True) -> None:
    """`wait`: make sure the server listens first (one empty TCP connection before the session)."""
    import pyads

    if wait:
        wait_for_port(host, port)
    pyads.open_port()
    pyads.set_local_address(f"{local_address(host)}.1.1")
    pyads.add_route(f"{host}.1.1", host)
    plc = pyads.Connection(f"{host}.1.1", pyads.PORT_TC3PLC1, host)
    plc.open()
    steps = [
        lambda: plc.read_device_info(),
        lambda: plc.read_state(),
        lambda: plc.read(0x4020, 0, pyads.PLCTYPE_DINT),
        lambda: plc.write(0x4020, 0, 0x1234, pyads.PLCTYPE_INT),
        lambda: plc.get_handle("MAIN.counter"),
        lambda: plc.add_device_notification(
            (0x4020, 0), pyads.NotificationAttrib(4), lambda *a: None),
        lambda: plc.write_control(pyads.ADSSTATE_STOP, 0, 0, pyads.PLCTYPE_INT),
        lambda: plc.write_control(pyads.ADSSTATE_RUN, 0, 0, pyads.PLCTYPE_INT),
    ]
    for step in steps:
        try:
            step()
        except Exception as e:  # the test server may refuse: the request crossed the wire
            print(f"ads step: {e}", file=sys.stderr)
        time.sleep(0.1)
    plc.close()
    pyads.close_port()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        srv = start_server(host, port)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 20.0)
        srv.close()
    else:
        run_client(host, port)
