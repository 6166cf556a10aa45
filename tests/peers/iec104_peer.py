#!/usr/bin/env python3
"""A real IEC 60870-5-104 server and client (c104) talking over loopback, for otwatch's live tests.

Usage: iec104_peer.py server|client|both HOST PORT
The server is station 47 with a measured value and a single command point. The client starts data
transfer, interrogates the station, synchronises the clock, sends a single command and reads a point.
"""
import sys

from peerutil import wait_for_port
import time

import c104


def start_server(host: str, port: int) -> c104.Server:
    server = c104.Server(ip=host, port=port)
    station = server.add_station(common_address=47)
    station.add_point(io_address=11, type=c104.Type.M_ME_NC_1)
    station.add_point(io_address=12, type=c104.Type.C_SC_NA_1)
    server.start()
    return server


def run_client(host: str, port: int) -> None:
    wait_for_port(host, port)
    client = c104.Client()
    connection = client.add_connection(ip=host, port=port, init=c104.Init.ALL)
    cstation = connection.add_station(common_address=47)
    measured = cstation.add_point(io_address=11, type=c104.Type.M_ME_NC_1)
    command = cstation.add_point(io_address=12, type=c104.Type.C_SC_NA_1)
    client.start()
    deadline = time.time() + 10
    while not connection.is_connected and time.time() < deadline:
        time.sleep(0.1)
    assert connection.is_connected, "client did not connect"
    time.sleep(1.0)  # let init (STARTDT, interrogation, clock sync) complete
    connection.interrogation(common_address=47)
    connection.clock_sync(common_address=47)
    command.value = True
    command.transmit(cause=c104.Cot.ACTIVATION)
    measured.read()
    time.sleep(0.5)
    client.stop()


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
        run_client(host, port)
        srv.stop()
