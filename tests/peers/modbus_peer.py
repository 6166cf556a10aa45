#!/usr/bin/env python3
"""A real Modbus/TCP server and client (pymodbus) talking over loopback, for otwatch's live tests.

Usage: modbus_peer.py server|client|both HOST PORT
The server answers device identification (FC 43/14) as vendor "OtwatchTest", product code "OTW-PLC-1",
revision "2.7.1", model "OTW Model 5". The client reads holding/input registers and coils, writes a
single register and multiple registers, asks for the device identification, then both stop.
"""
import asyncio
import sys

from peerutil import wait_for_port

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusTcpServer


async def serve(host: str, port: int, seconds: float) -> None:
    block = ModbusSequentialDataBlock(1, [7] * 200)
    device = ModbusDeviceContext(di=block, co=block, hr=block, ir=block)
    context = ModbusServerContext(devices=device, single=True)
    ident = ModbusDeviceIdentification(
        info_name={
            "VendorName": "OtwatchTest",
            "ProductCode": "OTW-PLC-1",
            "MajorMinorRevision": "2.7.1",
            "ProductName": "OTW Controller",
            "ModelName": "OTW Model 5",
        }
    )
    server = ModbusTcpServer(context, identity=ident, address=(host, port))
    task = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(seconds)
    await server.shutdown()
    task.cancel()


async def run_client(host: str, port: int) -> None:
    wait_for_port(host, port)
    client = AsyncModbusTcpClient(host, port=port)
    for _ in range(50):
        await client.connect()
        if client.connected:
            break
        await asyncio.sleep(0.2)
    assert client.connected, "client did not connect"
    rr = await client.read_holding_registers(0, count=10, device_id=1)
    assert not rr.isError(), rr
    await client.read_input_registers(10, count=5, device_id=1)
    await client.read_coils(0, count=16, device_id=1)
    await client.write_register(5, 1234, device_id=1)
    await client.write_registers(20, [1, 2, 3], device_id=1)
    info = await client.read_device_information(read_code=1, object_id=0, device_id=1)
    assert not info.isError(), info
    info = await client.read_device_information(read_code=2, object_id=0, device_id=1)
    assert not info.isError(), info
    client.close()


async def both(host: str, port: int) -> None:
    server = asyncio.create_task(serve(host, port, 5.0))
    await asyncio.sleep(0.5)
    await run_client(host, port)
    await server


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        asyncio.run(serve(host, port, float(sys.argv[4]) if len(sys.argv) > 4 else 20.0))
    elif role == "client":
        asyncio.run(run_client(host, port))
    else:
        asyncio.run(both(host, port))
