#!/usr/bin/env python3
"""Records tests/data/knxip_xknx.pcap: the real KNXnet/IP client of xknx (PyPI `xknx` 4.0.0)
searching for a gateway, opening a tunnel and sending a GroupValueWrite and a GroupValueRead.

No KNXnet/IP server exists on PyPI, so the server side is a minimal responder written here
(`serve`): it answers with frames built by xknx's own encoder (xknx.knxip), as a KNX IP
interface would: a search response with a device information DIB (name "otwatch KNX IP",
individual address 1.1.250, serial 00fa:01020304, MAC 02:4d:00:00:09:14), a connect response,
tunnelling acks and the L_Data.con confirmations xknx waits for, connection state and
disconnect responses.

Usage (as root): python3 tests/peers/knxip/record_knxip.py OUT.pcap  (with xknx installed)
Every address is in 10.77.9.0/24 inside two namespaces made here (otwknx-s, otwknx-c) joined by
one veth pair; no default route; everything is torn down at the end.
"""
import asyncio
import os
import signal
import socket
import struct
import subprocess
import sys
import time

SERVER, CLIENT = "10.77.9.20", "10.77.9.10"
NS_S, NS_C = "otwknx-s", "otwknx-c"


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check)


def serve() -> None:
    from xknx.knxip import (HPAI, KNXIPFrame, ConnectResponse, ConnectionStateResponse,
                            DisconnectResponse, SearchResponse, TunnellingAck, TunnellingRequest,
                            DescriptionResponse)
    from xknx.knxip.connect_response import ConnectResponseData
    from xknx.knxip.dib import DIBDeviceInformation, DIBSuppSVCFamilies
    from xknx.knxip.knxip_enum import DIBServiceFamily, KNXIPServiceType
    from xknx.telegram import IndividualAddress

    def dibs():
        info = DIBDeviceInformation()
        info.individual_address = IndividualAddress("1.1.250")
        info.name = "otwatch KNX IP"
        info.serial_number = "00:fa:01:02:03:04"
        info.mac_address = "02:4d:00:00:09:14"
        fam = DIBSuppSVCFamilies()
        fam.families = [DIBSuppSVCFamilies.Family(f, 1) for f in (
            DIBServiceFamily.CORE, DIBServiceFamily.DEVICE_MANAGEMENT, DIBServiceFamily.TUNNELING)]
        return [info, fam]

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 3671))
    mreq = struct.pack("4s4s", socket.inet_aton("224.0.23.12"), socket.inet_aton(SERVER))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    seq = 0
    while True:
        data, peer = sock.recvfrom(2048)
        frame, _ = KNXIPFrame.from_knx(data)
        b = frame.body
        st = frame.header.service_type_ident
        def reply(body, to=peer):
            sock.sendto(KNXIPFrame.init_from_body(body).to_knx(), to)
        def back(hpai):
            return (hpai.ip_addr, hpai.port) if hpai.ip_addr != "0.0.0.0" else peer
        if st == KNXIPServiceType.SEARCH_REQUEST:
            r = SearchResponse(control_endpoint=HPAI(SERVER, 3671))
            r.dibs = dibs()
            reply(r, back(b.discovery_endpoint))
        elif st == KNXIPServiceType.DESCRIPTION_REQUEST:
            r = DescriptionResponse()
            r.dibs = dibs()
            reply(r, back(b.control_endpoint))
        elif st == KNXIPServiceType.CONNECT_REQUEST:
            reply(ConnectResponse(communication_channel=1, data_endpoint=HPAI(SERVER, 3671),
                                  crd=ConnectResponseData(individual_address=IndividualAddress("1.1.251"))),
                  back(b.control_endpoint))
        elif st == KNXIPServiceType.CONNECTIONSTATE_REQUEST:
            reply(ConnectionStateResponse(communication_channel_id=1), back(b.control_endpoint))
        elif st == KNXIPServiceType.DISCONNECT_REQUEST:
            reply(DisconnectResponse(communication_channel_id=1), back(b.control_endpoint))
        elif st == KNXIPServiceType.TUNNELLING_REQUEST:
            reply(TunnellingAck(communication_channel_id=1, sequence_counter=b.sequence_counter))
            # L_Data.con: the request with message code 0x2e and source 1.1.251.
            cemi = bytearray(b.raw_cemi)
            cemi[0] = 0x2E
            off = 2 + cemi[1]
            cemi[off + 2:off + 4] = bytes((0x11, 0xFB))
            reply(TunnellingRequest(communication_channel_id=1, sequence_counter=seq, raw_cemi=bytes(cemi)))
            seq = (seq + 1) % 256
        elif st == KNXIPServiceType.TUNNELLING_ACK:
            pass


async def client() -> None:
    from xknx import XKNX
    from xknx.dpt import DPTBinary
    from xknx.io import ConnectionConfig, ConnectionType, GatewayScanner
    from xknx.telegram import GroupAddress, Telegram
    from xknx.telegram.apci import GroupValueRead, GroupValueWrite

    found = await GatewayScanner(XKNX(), local_ip=CLIENT, timeout_in_seconds=1.0).scan()
    print("gateways:", found, file=sys.stderr)
    xknx = XKNX(connection_config=ConnectionConfig(
        connection_type=ConnectionType.TUNNELING, gateway_ip=SERVER, local_ip=CLIENT))
    await xknx.start()
    await xknx.telegrams.put(Telegram(destination_address=GroupAddress("1/2/3"),
                                      payload=GroupValueWrite(DPTBinary(1))))
    await xknx.telegrams.put(Telegram(destination_address=GroupAddress("1/2/3"),
                                      payload=GroupValueRead()))
    await asyncio.sleep(1.5)
    await xknx.stop()


def record(out: str) -> None:
    for ns in (NS_S, NS_C):
        sh("ip", "netns", "del", ns, check=False)
    procs = []
    try:
        sh("ip", "netns", "add", NS_S)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", "knx-s", "netns", NS_S, "address", "02:4d:00:00:09:14",
           "type", "veth", "peer", "name", "knx-c", "netns", NS_C, "address", "02:4d:00:00:09:0a")
        for ns, dev, ip in ((NS_S, "knx-s", SERVER), (NS_C, "knx-c", CLIENT)):
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        procs.append(subprocess.Popen(["ip", "netns", "exec", NS_S, "tcpdump", "-i", "knx-s",
                                       "-U", "-w", out, "udp port 3671 or arp"]))
        time.sleep(1.5)
        procs.append(subprocess.Popen(["ip", "netns", "exec", NS_S, sys.executable, __file__, "serve"]))
        time.sleep(1.0)
        sh("ip", "netns", "exec", NS_C, sys.executable, __file__, "client")
        time.sleep(1.0)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in (NS_S, NS_C):
            sh("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    elif sys.argv[1:] == ["client"]:
        asyncio.run(client())
    else:
        record(os.path.abspath(sys.argv[1]))
