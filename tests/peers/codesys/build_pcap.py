#!/usr/bin/env python3
"""Writes tests/data/codesys_built.pcap: a CODESYS conversation built here, message by message,
from the published descriptions of the protocol, because no public capture of CODESYS exists and
no independent CODESYS peer is packaged (no Wireshark dissector either). It is NOT traffic of a
real runtime: it shows what otwatch makes of the layers as the sources describe them, nothing more.

Sources of every layer (the same the dissector cites in sensor/analysis/src/protocols/codesys/wire.rs):
the CODESYS runtime SDK headers published with kendrion/cds-rts-econo (service groups and services,
tags, name service layouts, ports), Microsoft's ics-forensics-tools CodeSysV3 plugin and FieldFuzz
(momalab/ICSQuartz) for the block driver, datagram and channel headers, Digital Bond's
codesys-v2-discover.nse for the V2 read identity.

Usage: python3 tests/peers/codesys/build_pcap.py tests/data/codesys_built.pcap
Deterministic: fixed addresses, ports, times and sequence numbers (the same bytes every run).

Hosts: engineering workstation 10.77.1.10, CODESYS V3 controller 10.77.1.20 (TCP 11740, UDP 1740),
CODESYS V2 controller 10.77.1.21 (TCP 2455).
"""
import struct
import sys
import zlib

EWS = ("10.77.1.10", bytes.fromhex("024d0000010a"))
PLC = ("10.77.1.20", bytes.fromhex("024d00000114"))
PLC2 = ("10.77.1.21", bytes.fromhex("024d00000115"))
T0 = 1_760_000_000


def ip_bytes(a):
    return bytes(int(x) for x in a.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pcap:
    def __init__(self):
        self.frames = []
        self.t = 0.0
        self.ip_id = 1

    def frame(self, src, dst, proto, l4):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ip_id, 0x4000, 64, proto, 0,
                         ip_bytes(src[0]), ip_bytes(dst[0]))
        self.ip_id += 1
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = dst[1] + src[1] + b"\x08\x00"
        self.t += 0.002
        self.frames.append((self.t, eth + ip + l4))

    def udp(self, src, sport, dst, dport, payload):
        hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        pseudo = ip_bytes(src[0]) + ip_bytes(dst[0]) + struct.pack("!BBH", 0, 17, len(hdr) + len(payload))
        c = csum(pseudo + hdr + payload) or 0xFFFF
        self.frame(src, dst, 17, hdr[:6] + struct.pack("!H", c) + payload)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, data in self.frames:
                sec = T0 + int(t)
                usec = int(round((t - int(t)) * 1e6))
                f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
                f.write(data)


class Tcp:
    """One TCP connection: handshake, data segments (acknowledged by the peer), close."""

    def __init__(self, pcap, client, cport, server, sport, cseq, sseq):
        self.p, self.c, self.s = pcap, (client, cport), (server, sport)
        self.seq = {0: cseq, 1: sseq}
        self.seg(0, 0x02, b"")
        self.seq[0] += 1
        self.seg(1, 0x12, b"")
        self.seq[1] += 1
        self.seg(0, 0x10, b"")

    def seg(self, side, flags, payload):
        (src, sp), (dst, dp) = (self.c, self.s) if side == 0 else (self.s, self.c)
        ack = self.seq[1 - side] if flags != 0x02 else 0
        hdr = struct.pack("!HHIIBBHHH", sp, dp, self.seq[side], ack, 5 << 4, flags, 64240, 0, 0)
        pseudo = ip_bytes(src[0]) + ip_bytes(dst[0]) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
        c = csum(pseudo + hdr + payload)
        self.p.frame(src, dst, 6, hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload)

    def send(self, side, payload):
        self.seg(side, 0x18, payload)
        self.seq[side] += len(payload)
        self.seg(1 - side, 0x10, b"")

    def close(self):
        self.seg(0, 0x11, b"")
        self.seq[0] += 1
        self.seg(1, 0x11, b"")
        self.seq[1] += 1
        self.seg(0, 0x10, b"")


# ---- CODESYS V3 layers -------------------------------------------------------------------------

def varint(v):
    out = b""
    while True:
        b, v = v & 0x7F, v >> 7
        if v == 0:
            return out + bytes([b])
        out += bytes([b | 0x80])


def tag(tid, value):
    return varint(tid) + varint(len(value)) + value


def wide(s):
    return s.encode("utf-16-le")


def service(group, svc, session, tags):
    return struct.pack("<HHHHII", 0xCD55, 12, group, svc, session, len(tags)) + tags


def app_blocks(request, channel, blk, ack, pdu, first_max=470):
    """The service PDU in application blocks: the first with the PDU's length and CRC-32."""
    flags = 0x80 if request else 0x00
    out = [struct.pack("<BBHIIII", 0x01, flags | 0x01, channel, blk, ack, len(pdu), zlib.crc32(pdu))
           + pdu[:first_max]]
    rest = pdu[first_max:]
    while rest:
        blk += 1
        out.append(struct.pack("<BBHII", 0x01, flags, channel, blk, ack) + rest[:480])
        rest = rest[480:]
    return out


def datagram(service_id, receiver, sender, payload, hop=13):
    lengths = ((len(sender) // 2) << 4) | (len(receiver) // 2)
    d = bytes([0xC5, (hop << 3) | 3, 0x40, service_id, 0, lengths]) + receiver + sender
    d += b"\0" * (-len(d) % 4)
    return d + payload


def block(dg):
    return struct.pack("<II", 0xE8170100, len(dg) + 8) + dg


def tcp_address(ip, port):
    return struct.pack("!H", port) + ip_bytes(ip)


def meta(cmd, body):
    """A channel manager meta request or reply, its CRC-32 over the packet with a zero CRC."""
    head = struct.pack("<BBH", cmd, 0, 0x0101)
    return head + struct.pack("<I", zlib.crc32(head + b"\0\0\0\0" + body)) + body


def identification(node, device, vendor, version, serial):
    body = struct.pack("<HBBHHHHIII", 4, 1, 0, 0, len(node), len(device), len(vendor),
                       0x1002, 0x0000_0010, version)
    body += struct.pack("<IBBBBII", 0, len(serial), 0, 2, 0, 0, 0)
    for s in (node, device, vendor):
        body += wide(s) + b"\0\0"
    body += serial.encode() + b"\0"
    return struct.pack("<HHI", 0xC280, 0x0400, 1) + body


def main(path):
    p = Pcap()
    # Name service over UDP: the tool's resolve-all request, the runtime's identification.
    ews_addr, plc_addr = bytes.fromhex("010a"), bytes.fromhex("0114")
    p.udp(EWS, 1740, PLC, 1740, datagram(3, b"", ews_addr, struct.pack("<HHI", 0xC202, 0x0400, 1)))
    p.udp(PLC, 1740, EWS, 1740, datagram(4, ews_addr, plc_addr, identification(
        "plc-line-3", "CODESYS Control for Linux SL", "CODESYS GmbH", 0x04_0A_00_00, "0815-4711")))

    # The engineering session over block driver TCP.
    c = Tcp(p, EWS, 50312, PLC, 11740, 0x1000_0000, 0x2000_0000)
    to_plc = tcp_address(PLC[0], 11740)
    to_ews = tcp_address(EWS[0], 50312)

    def send(side, payload):
        receiver, sender = (to_plc, to_ews) if side == 0 else (to_ews, to_plc)
        c.send(side, block(datagram(0x40, receiver, sender, payload)))

    send(0, meta(0xC3, struct.pack("<III", 0x8321D481, 0x001F4000, 5)))
    send(1, meta(0x83, struct.pack("<IHHII", 0x8321D481, 0, 0x0007, 0x001F4000, 4)))
    chan, blk = 0x0007, {0: 1, 1: 1}

    def call(group, svc, tags, reply_tags, session=0):
        for side, g, t in ((0, group, tags), (1, group | 0x80, reply_tags)):
            pdu = service(g, svc, session, t)
            for b in app_blocks(side == 0, chan, blk[side], blk[1 - side] - 1, pdu):
                send(side, b)
                blk[side] += 1
            send(1 - side, struct.pack("<BBHI", 0x02, 0x80 if side else 0x00, chan, blk[side] - 1))

    ident = tag(0x81, tag(0x04, wide("plc-line-3")) + tag(0x02, wide("CODESYS Control for Linux SL"))
                + tag(0x03, wide("CODESYS GmbH")) + tag(0x06, struct.pack("<I", 0x04_0A_00_00)))
    call(0x01, 0x01, b"", ident)

    def login(password):
        xor = bytes(b ^ 0x5A for b in password.ljust(32, b"\0"))
        return (tag(0x22, struct.pack("<I", 1)) + tag(0x23, struct.pack("<I", 0x12345678))
                + tag(0x81, tag(0x10, b"admin\0") + tag(0x11, xor)))

    refused = tag(0x82, tag(0x20, struct.pack("<H", 0x0010)))
    granted = tag(0x82, tag(0x20, struct.pack("<H", 0)) + tag(0x21, struct.pack("<I", 0x5E55_1001)))
    call(0x01, 0x02, login(b"wrong"), refused)
    call(0x01, 0x02, login(b"admin"), granted)
    s = 0x5E55_1001
    call(0x02, 0x18, tag(0x01, bytes.fromhex("0000000000ffffff7f")), tag(0x81, tag(0x03, b"Application\0")), s)
    call(0x02, 0x01, tag(0x01, b"Application\0"), tag(0x81, tag(0x10, b"\0\0" + struct.pack("<I", 0x0A99))), s)
    call(0x02, 0x11, tag(0x81, tag(0x11, struct.pack("<I", 0x0A99))), tag(0x01, b"\0\0"), s)
    # An application download whose PDU spans three blocks.
    code = bytes(range(256)) * 4
    call(0x02, 0x05, tag(0x81, tag(0x11, struct.pack("<I", 0x0A99))) + tag(0x82, code), tag(0x01, b"\0\0"), s)
    call(0x02, 0x10, tag(0x81, tag(0x11, struct.pack("<I", 0x0A99))), tag(0x01, b"\0\0"), s)
    call(0x1B, 0x02, tag(0x01, struct.pack("<II", 0x0A99, 0) + b"\0" * 12), tag(0x40, b"\0\0\0\0"), s)
    call(0x08, 0x02, tag(0x01, b"/PlcLogic/Application/Application.app\0"), tag(0x84, b"\0" * 8), s)
    send(0, meta(0xC4, struct.pack("<HH", chan, 0)))
    c.close()

    # CODESYS V2: the read identity request of codesys-v2-discover.nse, and an answer.
    v2 = Tcp(p, EWS, 50400, PLC2, 2455, 0x3000_0000, 0x4000_0000)
    v2.send(0, bytes.fromhex("bbbb0100000001"))
    answer = bytearray(160)
    answer[0:2] = b"\xbb\xbb"
    for at, s2 in ((64, b"Nucleus PLUS"), (96, b"Nucleus PLUS version 1.14"), (128, b"CoDeSys SP RISC")):
        answer[at:at + len(s2)] = s2
    v2.send(1, bytes(answer))
    v2.close()
    p.write(path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "codesys_built.pcap")
