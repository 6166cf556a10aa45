#!/usr/bin/env python3
"""Publishes IEC 61850 GOOSE and Sampled Values with libiec61850 (pyiec61850-ng), as a protection IED
and a merging unit would, to record tests/data/iec61850_goose_sv_libiec61850.pcap.

Usage (as root, on an interface of a network namespace made for it): iec61850_publish.py IFACE
GOOSE: gocbRef otwIEDPROT/LLN0$GO$gcbTrip, goID otwIED_TRIP, data set otwIEDPROT/LLN0$dsTrip, APPID
0x0101, confRev 2, TAL 500 ms; five frames of a quiet state (stNum 1), then a trip (stNum 2, five
frames). SV: svID otwMU01, APPID 0x4000, confRev 1, 4000 samples/s, 20 ASDUs of eight INT32 values.
"""
import sys
import time

from pyiec61850.goose import GoosePublisher
from pyiec61850.sv import SVPublisher


def main(iface: str) -> None:
    goose = GoosePublisher(iface)
    goose.set_go_cb_ref("otwIEDPROT/LLN0$GO$gcbTrip")
    goose.set_go_id("otwIED_TRIP")
    goose.set_data_set("otwIEDPROT/LLN0$dsTrip")
    goose.set_app_id(0x0101)
    goose.set_conf_rev(2)
    goose.set_time_allowed_to_live(500)
    goose.start()
    for _ in range(5):
        goose.publish([False, 0, 1.5])
        time.sleep(0.05)
    goose.increase_st_num()
    for _ in range(5):
        goose.publish([True, 1, 1.5])
        time.sleep(0.05)
    goose.stop()

    sv = SVPublisher(iface)
    sv.set_sv_id("otwMU01")
    sv.set_app_id(0x4000)
    sv.set_conf_rev(1)
    sv.set_smp_rate(4000)
    sv.set_num_entries(8)
    sv.start()
    for i in range(20):
        sv.publish_samples([100 * i + k for k in range(8)])
        time.sleep(0.01)
    sv.stop()


if __name__ == "__main__":
    main(sys.argv[1])
