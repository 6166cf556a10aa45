#!/usr/bin/env python3
"""Decodes SLMP request frames with virtual-plc 0.3.0's own codec, an implementation independent
of otwatch's, for sensor/tests/ot_slmp.rs (as tshark, which has no SLMP dissector, does for
other protocols).

Reads one request frame a line on stdin, as hex of its bytes; writes one line a frame:
  FRAME CODE SERIAL NETWORK STATION IO MULTIDROP TIMER COMMAND SUBCOMMAND [DEVICE HEAD POINTS]
numbers in decimal, the device part for batch reads and writes (0x0401, 0x1401); "error WHY"
for a frame the codec refuses.
"""
import sys

from virtual_plc.codec import Reader, decode_request, read_device
from virtual_plc.profiles import PROFILES


def describe(frame: bytes) -> str:
    r = decode_request(frame)
    network, station, io, multidrop = r.route
    code = "ascii" if r.wire == "ascii" else "binary"
    out = [r.frame, code, r.serial, network, station, io, multidrop, r.timer, r.command, r.subcommand]
    if r.command in (0x0401, 0x1401):
        profile = PROFILES["iQ-R" if r.subcommand & 2 else "Q"]
        reader = Reader(r.data, r.wire)
        device, head = read_device(reader, profile)
        out += [device.name, head, reader.number(2)]
    return " ".join(str(x) for x in out)


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        print(describe(bytes.fromhex(line)))
    except Exception as e:  # noqa: BLE001 - reported per frame
        print(f"error {e}")
