#!/usr/bin/env python3
"""A real IEEE C37.118.2 PMU and PDC (pyPMU, the `synchrophasor` package) over TCP, for otwatch's
live tests.

Usage: c37_118_peer.py server|client HOST PORT [SECONDS]
The server is pyPMU's sample PMU (station "Station A", ID 7734, 4 phasors, 3 analog values, one
digital word) with a header frame, streaming its sample data frame while a PDC is connected. The
client is a PDC (ID 7) that asks for the header and CFG-2, turns transmission on, reads a few
data frames and turns it off.
"""
import collections
import collections.abc
import logging
import sys
import time

from peerutil import wait_for_port

# synchrophasor 1.0.0a0 (2017) names collections.Sequence, which Python 3.10 moved to
# collections.abc: give it the old name before it is imported.
collections.Sequence = collections.abc.Sequence  # type: ignore[attr-defined]

from synchrophasor.pdc import Pdc  # noqa: E402
from synchrophasor.pmu import Pmu  # noqa: E402


def serve(host: str, port: int, seconds: float) -> None:
    pmu = Pmu(ip=host, port=port)
    pmu.logger.setLevel(logging.WARNING)
    pmu.set_configuration()
    pmu.set_header()
    pmu.run()
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pmu.clients:
            pmu.send(pmu.ieee_data_sample)
        time.sleep(0.02)


def run_client(host: str, port: int) -> None:
    wait_for_port(host, port)
    pdc = Pdc(pdc_id=7, pmu_ip=host, pmu_port=port)
    pdc.logger.setLevel(logging.WARNING)
    pdc.run()
    header = pdc.get_header()
    assert header is not None, "no header frame"
    config = pdc.get_config()
    assert config is not None, "no configuration frame"
    pdc.start()
    for _ in range(5):
        assert pdc.get() is not None, "no data frame"
    pdc.stop()
    time.sleep(0.2)
    pdc.quit()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        serve(host, port, float(sys.argv[4]) if len(sys.argv) > 4 else 20.0)
    else:
        run_client(host, port)
