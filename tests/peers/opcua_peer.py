#!/usr/bin/env python3
"""A real OPC UA server and client (asyncua) talking over loopback without security, for otwatch's
live tests.

Usage: opcua_peer.py server|client|both HOST PORT
The server publishes one variable and one method; the client (application name "otwatch-test-client")
opens a session, browses, reads, writes the variable and calls the method.
"""
import asyncio
import sys

from peerutil import wait_for_port

from asyncua import Client, Server, ua


async def serve(host: str, port: int, seconds: float, client_too: bool) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{host}:{port}/otwatch/")
    server.set_server_name("otwatch test server")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:otwatch:test")
    obj = await server.nodes.objects.add_object(idx, "Tank")
    level = await obj.add_variable(idx, "Level", 1.5)
    await level.set_writable()

    async def reset(parent):
        return [ua.Variant(True, ua.VariantType.Boolean)]

    await obj.add_method(idx, "Reset", reset, [], [ua.VariantType.Boolean])
    async with server:
        if client_too:
            await run_client(host, port)
        else:
            await asyncio.sleep(seconds)


async def run_client(host: str, port: int) -> None:
    wait_for_port(host, port)
    client = Client(f"opc.tcp://{host}:{port}/otwatch/")
    client.name = "otwatch-test-client"
    client.application_uri = "urn:otwatch:test:client"
    for attempt in range(50):
        try:
            await client.connect()
            break
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    try:
        objects = client.nodes.objects
        idx = await client.get_namespace_index("urn:otwatch:test")
        tank = await objects.get_child([f"{idx}:Tank"])
        level = await tank.get_child([f"{idx}:Level"])
        await objects.get_children()
        await level.read_value()
        await level.write_value(2.5)
        await tank.call_method(f"{idx}:Reset")
    finally:
        await client.disconnect()


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        asyncio.run(serve(host, port, float(sys.argv[4]) if len(sys.argv) > 4 else 20.0, False))
    elif role == "client":
        asyncio.run(run_client(host, port))
    else:
        asyncio.run(serve(host, port, 0.0, True))
