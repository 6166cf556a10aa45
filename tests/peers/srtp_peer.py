#!/usr/bin/env python3
"""A GE-SRTP client and a small Series 90-30 PLC simulator for otwatch's recordings
(tests/peers/record, scenario srtp_ops), both written here from GE's SNP manual GFK-0529C
(chapter 3: mailbox messages; chapter 6: service requests) and the SRTP header of the DFRWS
2017 paper (Denton et al., tables 1 and 4), laid out as a PACSystems RX3i sends it (the
gesrtp-py driver's logs). No SRTP peer can be installed from a package registry: this is not
an independent implementation, only real TCP between two processes.

Usage: srtp_peer.py server|client HOST PORT [SECONDS]

The PLC: Series 90-30 CPU 331 (major 0x10, minor 0x23), controller ID "0A12F3", program
"WATER1", privilege level 1 until a Change Privilege Level; %R, %AI, %AQ, %I, %Q, %M, %T
memory. It answers like an RX3i: the 56-byte ACK header and its text buffer in two sends. A
request it does not serve, or one above its privilege level, gets an error NACK.

The client (one connection): the connection request, Return Controller Type and ID, Return
Control Program Name, PLC Short Status, Read System Memory (%R1-%R10, %I1-%I32 as bytes,
%AI1-%AI2), Set PLC State stop (refused: privilege 1), Change Privilege Level to 4 with a
password, Write System Memory %R100-%R101 (in the mailbox) and %Q1-%Q80 (with a text
buffer), Set PLC State stop, Program Load of the logic block (upload), Program Store of it
(download, with a text buffer), Set PLC Time/Date, Set PLC State run.
"""
import socket
import struct
import sys
import threading
import time

HEADER = 56

# Mailbox types (GFK-0529 tables 3-6 to 3-11).
REQUEST, REQUEST_TEXT, ACK, ACK_TEXT, NACK = 0xC0, 0x80, 0xD4, 0x94, 0xD1

# Segment selectors (GFK-0529 table 6-4): selector -> (memory, bytes per unit or 0 for bits).
SELECTORS = {
    0x08: ("R", 2), 0x0A: ("AI", 2), 0x0C: ("AQ", 2),
    0x10: ("I", 1), 0x12: ("Q", 1), 0x14: ("T", 1), 0x16: ("M", 1),
    0x46: ("I", 0), 0x48: ("Q", 0), 0x4A: ("T", 0), 0x4C: ("M", 0),
}


def header(kind: int, seq: int, mailbox: int, text_len: int) -> bytearray:
    h = bytearray(HEADER)
    h[0] = kind
    struct.pack_into("<HH", h, 2, seq, text_len)
    h[9] = 1 if kind == 2 else 0
    h[17] = 1
    t = time.localtime()
    h[26], h[27], h[28] = t.tm_sec, t.tm_min, t.tm_hour
    h[30] = seq & 0xFF
    h[31] = mailbox
    if kind == 2:
        h[36:40] = bytes([0x10, 0x0E, 0, 0])
    else:
        h[32:36] = bytes([0x10, 0x0E, 0, 0])
        h[36:40] = bytes([0x20, 0x5A, 0, 0])
    return h


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def recv_message(sock: socket.socket):
    h = recv_exact(sock, HEADER)
    text_len = struct.unpack_from("<H", h, 4)[0]
    return h, recv_exact(sock, text_len) if text_len else b""


# ------------------------------------------------------------------------------ the PLC


class Plc:
    def __init__(self):
        self.memory = {m: bytearray(2048) for m in ("R", "AI", "AQ", "I", "Q", "T", "M")}
        self.memory["R"][0:4] = struct.pack("<HH", 1234, 5678)
        self.state = 0  # run I/O enabled
        self.logic = bytes(range(64)) * 2  # the logic block, 128 bytes

    def status_word(self) -> int:
        return (self.state << 12) | 0x0100  # RUN switch on

    def answer(self, h: bytes, text: bytes, privilege: list):
        """(mailbox, data in the mailbox (<= 6 bytes), text buffer) or (NACK, major, minor)."""
        mailbox = h[31]
        code, data = (h[42], h[43:56]) if mailbox == REQUEST else (h[50], h[51:56])
        need = {0x07: 2, 0x21: 1, 0x23: 2, 0x24: 2, 0x3F: 3, 0x40: 1}.get(code, 1)
        if privilege[0] < need:
            return NACK, 0x02, 0x00  # insufficient privilege
        if code == 0x43:  # Return Controller Type and ID (GFK-0529 6-39)
            text = b"0A12F3\0\0" + bytes([0x10, 0x23, 1, 0]) + b"WATER1\0\0"
            text += struct.pack("<HIHIHHI", 1, len(self.logic), 0x19A, 0xCD9B, 0x6D6, 0x122, 0xEBC8)
            return ACK_TEXT, b"", text
        if code == 0x03:  # Return Control Program Name (6-36)
            return ACK_TEXT, b"", struct.pack("<H", 1) + b"WATER1\0\0"
        if code == 0x00:  # Short Status (6-32): programs 1, no programmer attached
            return ACK, bytes([0, 1, 0, 0, 0, 0]), b""
        if code in (0x04, 0x07):
            selector, offset, length = data[0], *struct.unpack_from("<HH", data, 1)
            if selector not in SELECTORS:
                return NACK, 0x05, 0xE4  # segment for this selector does not exist
            mem, unit = SELECTORS[selector]
            size = length * unit if unit else (length + 7) // 8
            start = offset * unit if unit else offset // 8
            if code == 0x04:
                out = bytes(self.memory[mem][start:start + size])
                return (ACK, out, b"") if size <= 6 else (ACK_TEXT, b"", out)
            payload = bytes(data[5:5 + size]) if mailbox == REQUEST else text[:size]
            self.memory[mem][start:start + size] = payload
            return ACK, b"", b""
        if code == 0x21:  # Change Privilege Level (6-2)
            privilege[0] = 4 if data[0] == 0xFF else data[0]
            return ACK, b"", b""
        if code == 0x23:  # Set PLC State (6-70)
            if data[0] not in (0, 1, 2, 6):
                return NACK, 0x05, 0xF6  # invalid sweep state to set
            self.state = data[0]
            return ACK, b"", b""
        if code == 0x24:  # Set PLC Time/Date (6-67)
            return ACK, b"", b""
        if code == 0x40:  # Program Load (6-114): the block to the master
            return ACK_TEXT, b"", self.logic
        if code == 0x3F:  # Program Store (6-119): the block from the master
            if self.state not in (2, 6):
                return NACK, 0x05, 0xF0  # request only valid in stop mode
            self.logic = bytes(text)
            return ACK, b"", b""
        return NACK, 0x01, 0x00  # illegal service request

    def serve(self, conn: socket.socket) -> None:
        privilege = [1]
        with conn:
            try:
                while True:
                    h, text = recv_message(conn)
                    if h[0] == 0:  # connection request: answered as an RX3i does
                        a = bytearray(HEADER)
                        a[0], a[8] = 1, 0x0F
                        conn.sendall(a)
                        continue
                    seq = struct.unpack_from("<H", h, 2)[0]
                    result = self.answer(h, text, privilege)
                    if result[0] == NACK:
                        r = header(3, seq, NACK, 0)
                        r[40], r[41], r[42], r[43] = 1, 1, result[1], result[2]
                        conn.sendall(r)
                        continue
                    mailbox, data, out = result
                    r = header(3, seq, mailbox, len(out))
                    if mailbox == ACK:
                        r[40], r[41] = 1, 1
                        r[44:44 + len(data)] = data
                    else:
                        r[41] = 1
                        struct.pack_into("<H", r, 42, len(out))
                        r[48], r[49] = 1, 1
                    r[50], r[51] = 0xFF, privilege[0]
                    struct.pack_into("<HH", r, 52, 12, self.status_word())
                    conn.sendall(r)
                    if out:
                        time.sleep(0.002)
                        conn.sendall(out)
            except ConnectionError:
                return


def start_server(host: str, port: int):
    plc = Plc()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(4)

    def loop():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=plc.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv


# ------------------------------------------------------------------------------ the client


class Client:
    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.seq = 0
        self.sock.sendall(bytes(HEADER))
        recv_exact(self.sock, HEADER)

    def call(self, code: int, data: bytes = b"", text: bytes = b""):
        self.seq += 1
        if text:
            h = header(2, self.seq, REQUEST_TEXT, len(text))
            h[41] = 1
            struct.pack_into("<H", h, 42, len(text))
            h[48], h[49], h[50] = 1, 1, code
            h[51:51 + len(data)] = data
        else:
            h = header(2, self.seq, REQUEST, 0)
            h[40], h[41], h[42] = 1, 1, code
            h[43:43 + len(data)] = data
        self.sock.sendall(bytes(h) + text)
        return recv_message(self.sock)

    def close(self):
        self.sock.close()


def run_client(host: str, port: int) -> None:
    c = Client(host, port)
    c.call(0x43)  # Return Controller Type and ID
    c.call(0x03)  # Return Control Program Name
    c.call(0x00)  # PLC Short Status
    c.call(0x04, struct.pack("<BHH", 0x08, 0, 10))  # %R1-%R10
    c.call(0x04, struct.pack("<BHH", 0x10, 0, 4))  # %I1-%I32 as 4 bytes
    c.call(0x04, struct.pack("<BHH", 0x0A, 0, 2))  # %AI1-%AI2
    c.call(0x23, bytes([6]))  # stop: refused at privilege 1
    c.call(0x21, bytes([4]) + b"PLC2024\0")  # Change Privilege Level to 4
    c.call(0x07, struct.pack("<BHHHH", 0x08, 99, 2, 0x1234, 0x5678))  # %R100-%R101
    c.call(0x07, struct.pack("<BHH", 0x12, 0, 10), bytes([0xFF] * 10))  # %Q1-%Q80
    c.call(0x23, bytes([6]))  # Set PLC State: stop I/O enabled
    _, logic = c.call(0x40, bytes([0, 0, 0, 0, 0]))  # Program Load of the logic block
    c.call(0x3F, struct.pack("<BHH", 0, 0, len(logic)), logic)  # Program Store of it
    t = time.gmtime()
    bcd = lambda v: ((v // 10) << 4) | (v % 10)  # noqa: E731
    clock = [bcd(t.tm_sec), bcd(t.tm_min), bcd(t.tm_hour), bcd(t.tm_mday), bcd(t.tm_mon), bcd(t.tm_year % 100)]
    c.call(0x24, bytes([1] + clock + [0]))  # Set PLC Time/Date
    c.call(0x23, bytes([0]))  # Set PLC State: run I/O enabled
    c.close()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        srv = start_server(host, port)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 3600)
    else:
        run_client(host, port)
