#!/usr/bin/env python3
"""A real SLMP (MELSEC MC protocol) client, pymcprotocol 0.3.0, and an MC protocol PLC
simulator, virtual-plc 0.3.0, for otwatch's live tests (sensor/tests/live_peers.rs) and
recordings (tests/peers/record).

Usage: slmp_peer.py server|client HOST PORT [SECONDS]
The server is virtual-plc's Q profile (CPU "VirtualPLC-Q", code 0xFFFF) in RUN. The client
makes three connections, one each in 3E binary, 3E ASCII and 4E binary (serial 0x1234): read
CPU model (0x0101), batch read and write of D100 (0x0401/0x1401 words) and M0 (bits), random
write (0x1402), remote STOP (0x1002), latch clear (0x1005), RUN (0x1001), PAUSE (0x1003),
STOP and RESET (0x1006) on the first; the CPU model, a read and a write on the others.
"""
import sys
import time

from peerutil import wait_for_port


def start_server(host: str, port: int):
    from virtual_plc.server import Server

    server = Server(host=host, port=port, profile="Q")
    server.start()
    return server


def _session(host: str, port: int, frame: str, commtype: str, full: bool) -> None:
    import pymcprotocol

    plc = pymcprotocol.Type4E("Q") if frame == "4E" else pymcprotocol.Type3E("Q")
    if frame == "4E":
        plc.set_subheaderserial(0x1234)
    plc.setaccessopt(commtype=commtype)
    plc.connect(host, port)
    steps = [
        lambda: plc.read_cputype(),
        lambda: plc.batchread_wordunits("D100", 10),
        lambda: plc.batchwrite_wordunits("D100", [1, 2, 3]),
    ]
    if full:
        steps += [
            lambda: plc.batchread_bitunits("M0", 8),
            lambda: plc.batchwrite_bitunits("M10", [1, 0, 1]),
            lambda: plc.randomwrite(["D200", "D210"], [7, 8], ["D300"], [70000]),
            lambda: plc.remote_stop(),
            lambda: plc.remote_latchclear(),
            lambda: plc.remote_run(clear_mode=0),
            lambda: plc.remote_pause(),
            lambda: plc.remote_stop(),
            lambda: plc.remote_reset(),
        ]
    for step in steps:
        try:
            step()
        except Exception as e:  # a refusal is fine: the request crossed the wire
            print(f"slmp step: {e}", file=sys.stderr)
        time.sleep(0.05)
    plc.close()


def run_client(host: str, port: int, wait: bool = True) -> None:
    """`wait`: make sure the server listens first (one empty TCP connection before the sessions)."""
    if wait:
        wait_for_port(host, port)
    _session(host, port, "3E", "binary", True)
    # remote_reset closes the server's side of the connection on some PLCs: a new one each.
    time.sleep(0.2)
    _session(host, port, "3E", "ascii", False)
    time.sleep(0.2)
    _session(host, port, "4E", "binary", False)


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        srv = start_server(host, port)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 20.0)
        srv.stop()
    else:
        run_client(host, port)
