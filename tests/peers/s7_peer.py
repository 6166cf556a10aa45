#!/usr/bin/env python3
"""A real S7 server and client (python-snap7) talking over loopback, for otwatch's live tests.

Usage: s7_peer.py server|client|both HOST PORT
The client connects to rack 0 slot 2, reads and writes DB1, reads the module identification
(SZL 0x0011) and component identification (SZL 0x001C), lists blocks, stops and starts the CPU.
"""
import sys

from peerutil import wait_for_port
import time

import snap7
from snap7.server import Server
from snap7.type import SrvArea


def start_server(host: str, port: int) -> Server:
    server = Server()
    db1 = (snap7.type.WordLen.Byte.ctype * 100)()
    server.register_area(SrvArea.DB, 1, db1)
    server.start_to(host, tcp_port=port)
    return server


def run_client(host: str, port: int) -> None:
    wait_for_port(host, port)
    client = snap7.client.Client()
    for attempt in range(50):
        try:
            client.connect(host, 0, 2, tcp_port=port)
            break
        except Exception:
            if attempt == 49:
                raise
            time.sleep(0.2)
    client.db_read(1, 0, 10)
    client.db_write(1, 0, bytearray(b"\x01\x02\x03\x04"))
    for szl in (0x0011, 0x001C):
        try:
            client.read_szl(szl, 0)
        except Exception as e:  # the emulated CPU may not know every list
            print(f"read_szl {szl:#x}: {e}", file=sys.stderr)
    for call in (client.list_blocks, client.plc_stop, client.plc_hot_start, client.get_cpu_state):
        try:
            call()
        except Exception as e:
            print(f"{call.__name__}: {e}", file=sys.stderr)
    client.disconnect()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        srv = start_server(host, port)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 20.0)
        srv.stop()
    elif role == "client":
        run_client(host, port)
    else:
        srv = start_server(host, port)
        time.sleep(0.3)
        run_client(host, port)
        srv.stop()
