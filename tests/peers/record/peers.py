#!/usr/bin/env python3
"""Protocol peers for tests/peers/record/record.py: one role per call, run inside a network
namespace by record.py (`ip netns exec otwrec-... python3 peers.py ROLE ARGS...`).

Servers run until they are sent SIGTERM; clients do their fixed sequence and exit (non-zero on an
unexpected failure). A request the server refuses is not a failure: what matters for the recordings
is that the request crossed the wire. Every role is deterministic in what it sends (fixed values,
fixed timings); only TCP ports/sequence numbers and timestamps vary between runs.

Roles (HOST is the server's address):
  modbus-server HOST               pymodbus TCP server on 502 (device id "OtwatchTest OTW-PLC-1")
  modbus-poll HOST SECONDS         HMI: FC3 read 10 holding registers + FC6 setpoint, every 1 s
  modbus-writer HOST               FC15 write 8 coils, FC16 write 4 registers
  modbus-diag HOST restart|listen  FC8 sub-function 1 (restart communications) / 4 (listen only)
  modbus-malformed HOST            raw socket: malformed Modbus/TCP frames, one connection each
  s7-server HOST                   python-snap7 server on 102 (DB1 100 bytes, DB2 256 bytes)
  s7-client HOST OP [ARG]          OP: stop, start, upload, download FILE, delete, clock, password,
                                   poll SECONDS, save-block FILE (full_upload of DB1 into FILE)
  iec104-server HOST               c104 server on 2404, common address 47
  iec104-master HOST SECONDS INTERVAL   c104 client: start-up (GI + clock sync), then C_CS_NA_1 every INTERVAL
  iec104-sync-once HOST            c104 client without GI: STARTDT, one C_CS_NA_1, close
  iec104-reset HOST                raw IEC 104 client: STARTDT, C_RP_NA_1 (QRP 1 general reset), STOPDT
  opcua-server HOST                asyncua server on 4840 (Controller object with variables and the
                                   methods UpdateFirmware / DownloadProgram)
  opcua-client HOST methods|benign methods: browse + call both methods; benign: read + subscribe
  ftp-server HOST USER PASSWORD    pyftpdlib server on 21
  ftp-login HOST USER PASSWORD     ftplib: login, PWD, LIST, RETR one file, QUIT
  telnet-login HOST USER PASSWORD  telnetlib: login, run `id; uname -s`, exit
  tcp-listen HOST PORT...          plain TCP listeners (accept, then close after 1 s)
  bacnet-server CIDR               bacpypes3 device 1020 "AHU-1"
  bacnet-client CIDR TARGET        bacpypes3: Who-Is, ReadProperty, ReinitializeDevice(coldstart),
                                   AtomicWriteFile, DeviceCommunicationControl(disable, 5 min)
  dcp-responder IFACE MAC          answers PROFINET DCP Identify / Set (scapy, crafted frames)
  dcp-controller IFACE MAC DST     DCP Identify, Set IP, Set NameOfStation, Set Reset-to-Factory
  ads-server HOST                  pyads AdsTestServer (BasicHandler) on 48898 (tests/peers/ads_peer.py)
  ads-client HOST                  pyads (bundled AdsLib router), AMS Net ID <own address>.1.1:
                                   ReadDeviceInfo, ReadState, Read, Write, ReadWrite,
                                   AddDeviceNotification, WriteControl STOP then RUN, to HOST.1.1:851
  slmp-server HOST                 virtual-plc (Q profile) MC protocol server on 5007 (tests/peers/slmp_peer.py)
  slmp-client HOST                 pymcprotocol: 3E binary (CPU model, reads, writes, random write,
                                   remote STOP, latch clear, RUN, PAUSE, STOP, RESET), then 3E ASCII
                                   and 4E binary sessions (CPU model, read, write)
  srtp-server HOST                 GE-SRTP Series 90-30 simulator on 18245 (tests/peers/srtp_peer.py)
  srtp-client HOST                 GE-SRTP engineering session: identity, reads, writes, privilege
                                   change, STOP, program load and store, clock, RUN
  arp-spoof IFACE                  unsolicited ARP replies "10.77.5.1 is-at 02:00:00:00:05:66"
  garp-storm IFACE COUNT           COUNT gratuitous ARPs from 02:00:00:00:05:77 / 10.77.5.77
"""
import asyncio
import datetime
import os
import signal
import socket
import struct
import sys
import time

MODBUS_PORT = 502


def _forever() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------- Modbus (pymodbus 3.16.1)


def modbus_server(host: str) -> None:
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.pdu.device import ModbusDeviceIdentification
    from pymodbus.server import ModbusTcpServer

    async def serve() -> None:
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
        server = ModbusTcpServer(context, identity=ident, address=(host, MODBUS_PORT))
        await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(serve())


def _modbus_client(host: str, timeout: float = 2.0):
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient(host, port=MODBUS_PORT, timeout=timeout, retries=0)
    if not client.connect():
        raise SystemExit(f"modbus: cannot connect to {host}")
    return client


def modbus_poll(host: str, seconds: str) -> None:
    client = _modbus_client(host)
    end = time.monotonic() + float(seconds)
    tick = time.monotonic()
    while time.monotonic() < end:
        rr = client.read_holding_registers(0, count=10, device_id=1)
        assert not rr.isError(), rr
        wr = client.write_register(5, 1200, device_id=1)
        assert not wr.isError(), wr
        tick += 1.0
        time.sleep(max(0.0, tick - time.monotonic()))
    client.close()


def modbus_writer(host: str) -> None:
    client = _modbus_client(host)
    r = client.write_coils(0, [True, False, True, True, False, False, True, False], device_id=1)
    assert not r.isError(), r
    time.sleep(0.3)
    r = client.write_registers(20, [100, 200, 300, 400], device_id=1)
    assert not r.isError(), r
    time.sleep(0.3)
    client.close()


def modbus_diag(host: str, what: str) -> None:
    client = _modbus_client(host, timeout=1.0)
    rr = client.read_holding_registers(0, count=4, device_id=1)
    assert not rr.isError(), rr
    time.sleep(0.3)
    try:
        if what == "restart":
            # FC 8 sub-function 1, data 0x0000 (do not clear the event log)
            print(client.diag_restart_communication(False, device_id=1))
        else:
            # FC 8 sub-function 4: the device answers nothing by definition
            print(client.diag_force_listen_only(device_id=1))
    except Exception as e:  # noqa: BLE001 - a silent or refusing device is fine here
        print(f"diag {what}: {e}", file=sys.stderr)
    time.sleep(1.0)
    client.close()


def modbus_malformed(host: str) -> None:
    frames = [
        # MBAP length says 20 bytes follow, only 6 do (FC3 read of 2 registers)
        ("length-too-long", struct.pack(">HHHB", 0x0101, 0, 20, 1) + bytes.fromhex("0300000002")),
        # MBAP length says 2, but a 6-byte PDU follows
        ("length-too-short", struct.pack(">HHHB", 0x0102, 0, 2, 1) + bytes.fromhex("0300000002")),
        # protocol identifier 0x1234 instead of 0
        ("bad-protocol-id", struct.pack(">HHHB", 0x0103, 0x1234, 6, 1) + bytes.fromhex("0300000002")),
        # unassigned function code 0x5B followed by garbage (0x5A would be Schneider UMAS)
        ("illegal-function", struct.pack(">HHHB", 0x0104, 0, 9, 1) + bytes.fromhex("5bdeadbeefcafe00")),
        # length 0 (not even a unit id)
        ("length-zero", struct.pack(">HHH", 0x0105, 0, 0)),
        # length 1: unit id only, no function code
        ("length-one", struct.pack(">HHHB", 0x0106, 0, 1, 1)),
    ]
    for name, frame in frames:
        s = socket.create_connection((host, MODBUS_PORT), timeout=2.0)
        s.sendall(frame)
        s.settimeout(0.7)
        try:
            got = s.recv(512)
            print(f"{name}: answer {got.hex()}")
        except (socket.timeout, ConnectionError) as e:
            print(f"{name}: no answer ({e})")
        s.close()
        time.sleep(0.3)


# ---------------------------------------------------------------- S7comm (python-snap7 3.3.0)


def s7_server(host: str) -> None:
    import snap7
    from snap7.type import SrvArea

    server = snap7.server.Server(log=False)
    db1 = bytearray(b"OTW-RECIPE-01\x00" + bytes(range(86)))
    db2 = bytearray(256)
    server.register_area(SrvArea.DB, 1, db1)
    server.register_area(SrvArea.DB, 2, db2)
    server.start_to(host, tcp_port=102)
    _forever()


def s7_client(host: str, op: str, arg: str = "") -> None:
    import snap7
    from snap7.type import Block

    client = snap7.client.Client()
    client.connect(host, 0, 2)

    def attempt(name, call):
        try:
            r = call()
            print(f"{name}: {r if not isinstance(r, (bytes, bytearray, tuple)) else 'ok'}")
        except Exception as e:  # noqa: BLE001 - a refusal still crossed the wire
            print(f"{name}: {e}", file=sys.stderr)

    if op == "stop":
        attempt("db_read", lambda: client.db_read(1, 0, 16))
        time.sleep(0.5)
        attempt("plc_stop", client.plc_stop)
    elif op == "start":
        attempt("plc_hot_start", client.plc_hot_start)
        time.sleep(0.5)
        attempt("plc_cold_start", client.plc_cold_start)
    elif op == "upload":
        attempt("full_upload", lambda: client.full_upload(Block.DB, 1))
        time.sleep(0.3)
        attempt("upload", lambda: client.upload(1))
    elif op == "save-block":
        data, size = client.full_upload(Block.DB, 1)
        with open(arg, "wb") as f:
            f.write(bytes(data[:size]))
    elif op == "download":
        with open(arg, "rb") as f:
            block = bytearray(f.read())
        block[6:8] = struct.pack(">H", 2)  # the block header names the target block: DB2
        attempt("download", lambda: client.download(block, 2))
    elif op == "delete":
        # python-snap7 3.3.0's delete() writes the block address as "4100002P" (Wireshark: malformed
        # PI service). This sends the _DELE PI request in the layout of Snap7's C client
        # (TSnap7MicroClient::opDelete): 28, Uk7 00..00 FD, Len_1 000A, 1 block, 00, '0', 'A' (DB),
        # "00002", SFun_Delete 'B', Len_2 5, "_DELE" - over the python-snap7 connection.
        param = bytes.fromhex("28000000000000fd000a0100") + b"0A00002B" + b"\x05_DELE"
        pdu = struct.pack(">BBHHHH", 0x32, 0x01, 0, 0x0400, len(param), 0) + param
        attempt("delete DB2", lambda: client._send_receive(pdu))
    elif op == "clock":
        attempt("get_plc_datetime", client.get_plc_datetime)
        time.sleep(0.3)
        attempt("set_plc_datetime", lambda: client.set_plc_datetime(datetime.datetime(2024, 6, 1, 12, 0, 0)))
    elif op == "password":
        attempt("set_session_password", lambda: client.set_session_password("Otw4pass"))
        time.sleep(0.3)
        attempt("db_read", lambda: client.db_read(1, 0, 16))
        time.sleep(0.3)
        attempt("clear_session_password", client.clear_session_password)
    elif op == "poll":
        end = time.monotonic() + float(arg)
        tick = time.monotonic()
        while time.monotonic() < end:
            client.db_read(1, 0, 16)
            tick += 0.1
            time.sleep(max(0.0, tick - time.monotonic()))
    else:
        raise SystemExit(f"unknown s7 op {op}")
    time.sleep(0.3)
    client.disconnect()


# ---------------------------------------------------------------- IEC 60870-5-104 (c104 2.2.1)


def iec104_server(host: str) -> None:
    import c104

    server = c104.Server(ip=host, port=2404)
    station = server.add_station(common_address=47)
    station.add_point(io_address=11, type=c104.Type.M_ME_NC_1)
    station.add_point(io_address=12, type=c104.Type.C_SC_NA_1)
    server.start()
    _forever()


def _c104_connect(host: str, init):
    import c104

    client = c104.Client()
    connection = client.add_connection(ip=host, port=2404, init=init)
    station = connection.add_station(common_address=47)
    station.add_point(io_address=11, type=c104.Type.M_ME_NC_1)
    client.start()
    # OPEN = TCP up and STARTDT confirmed; only then may commands go out
    deadline = time.time() + 15
    while connection.state != c104.ConnectionState.OPEN and time.time() < deadline:
        time.sleep(0.05)
    assert connection.state == c104.ConnectionState.OPEN, f"iec104: not open ({connection.state})"
    time.sleep(0.5)  # let the start-up interrogation / clock sync (Init.ALL) finish
    return client, connection


def iec104_master(host: str, seconds: str, interval: str) -> None:
    import c104

    client, connection = _c104_connect(host, c104.Init.ALL)
    end = time.monotonic() + float(seconds)
    tick = time.monotonic()
    while True:
        tick += float(interval)
        if tick > end:
            break
        time.sleep(max(0.0, tick - time.monotonic()))
        print("clock_sync", connection.clock_sync(common_address=47))
    time.sleep(0.5)
    client.stop()


def iec104_sync_once(host: str) -> None:
    import c104

    client, connection = _c104_connect(host, c104.Init.NONE)
    print("clock_sync", connection.clock_sync(common_address=47))
    time.sleep(0.5)
    client.stop()


def iec104_reset(host: str) -> None:
    """c104 has no API for C_RP_NA_1, so this client speaks APCI/ASDU itself."""
    s = socket.create_connection((host, 2404), timeout=3.0)

    def recv_apdu() -> bytes:
        head = s.recv(2)
        if len(head) < 2 or head[0] != 0x68:
            raise ConnectionError(f"bad start {head.hex()}")
        body = b""
        while len(body) < head[1]:
            body += s.recv(head[1] - len(body))
        return head + body

    s.sendall(bytes.fromhex("680407000000"))  # STARTDT act
    print("startdt:", recv_apdu().hex())
    time.sleep(0.3)
    # I-frame N(S)=0 N(R)=0; ASDU: type 105 C_RP_NA_1, VSQ 1, COT 6 activation, OA 0, CA 47,
    # IOA 0, QRP 1 (general reset of process)
    asdu = bytes([105, 0x01, 6, 0]) + struct.pack("<H", 47) + bytes(3) + bytes([1])
    s.sendall(bytes([0x68, len(asdu) + 4]) + struct.pack("<HH", 0, 0) + asdu)
    received = 0
    s.settimeout(1.5)
    try:
        while True:
            apdu = recv_apdu()
            print("answer:", apdu.hex())
            if apdu[2] & 1 == 0:
                received += 1
    except (socket.timeout, ConnectionError):
        pass
    s.sendall(bytes([0x68, 4, 0x01, 0]) + struct.pack("<H", received << 1))  # S-frame
    time.sleep(0.2)
    s.sendall(bytes.fromhex("680413000000"))  # STOPDT act
    s.settimeout(1.5)
    try:
        print("stopdt:", recv_apdu().hex())
    except (socket.timeout, ConnectionError):
        pass
    s.close()


# ---------------------------------------------------------------- OPC UA (asyncua 2.1.0)


def opcua_server(host: str) -> None:
    from asyncua import Server, ua

    async def serve() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{host}:4840/otwatch/")
        server.set_server_name("OTW Controller OPC UA")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace("urn:otwatch:controller")
        ctl = await server.nodes.objects.add_object(ua.NodeId("Controller", idx), ua.QualifiedName("Controller", idx))
        temp = await ctl.add_variable(ua.NodeId("Controller.Temperature", idx), ua.QualifiedName("Temperature", idx), 21.5)
        pres = await ctl.add_variable(ua.NodeId("Controller.Pressure", idx), ua.QualifiedName("Pressure", idx), 1.2)

        async def update_firmware(parent, url):
            return [ua.Variant(True, ua.VariantType.Boolean)]

        async def download_program(parent, image):
            return [ua.Variant(True, ua.VariantType.Boolean)]

        await ctl.add_method(
            ua.NodeId("Controller.UpdateFirmware", idx), ua.QualifiedName("UpdateFirmware", idx),
            update_firmware, [ua.VariantType.String], [ua.VariantType.Boolean],
        )
        await ctl.add_method(
            ua.NodeId("Controller.DownloadProgram", idx), ua.QualifiedName("DownloadProgram", idx),
            download_program, [ua.VariantType.ByteString], [ua.VariantType.Boolean],
        )
        async with server:
            step = 0
            while True:
                await asyncio.sleep(0.5)
                step += 1
                await temp.write_value(21.5 + (step % 10) * 0.1)
                await pres.write_value(1.2 + (step % 4) * 0.01)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(serve())


def opcua_client(host: str, what: str) -> None:
    from asyncua import Client, ua

    class Handler:
        def datachange_notification(self, node, val, data):
            print("datachange", node, val)

    async def run() -> None:
        client = Client(f"opc.tcp://{host}:4840/otwatch/")
        client.name = "OTW Engineering Station"
        client.application_uri = "urn:otwatch:ews"
        await client.connect()
        try:
            idx = await client.get_namespace_index("urn:otwatch:controller")
            ctl = await client.nodes.objects.get_child([f"{idx}:Controller"])
            temp = await ctl.get_child([f"{idx}:Temperature"])
            pres = await ctl.get_child([f"{idx}:Pressure"])
            if what == "methods":
                for child in await ctl.get_children():  # Browse: the names cross the wire
                    print("child", await child.read_browse_name())
                print("UpdateFirmware", await ctl.call_method(
                    f"{idx}:UpdateFirmware", ua.Variant("http://10.77.1.10/fw/otw-plc-2.8.0.bin", ua.VariantType.String)))
                await asyncio.sleep(0.3)
                print("DownloadProgram", await ctl.call_method(
                    f"{idx}:DownloadProgram", ua.Variant(b"OTWPRG01" + bytes(range(56)), ua.VariantType.ByteString)))
            else:
                print("values", await temp.read_value(), await pres.read_value())
                sub = await client.create_subscription(500, Handler())
                await sub.subscribe_data_change([temp, pres])
                await asyncio.sleep(5.0)
                print("values", await temp.read_value(), await pres.read_value())
                await sub.delete()
            await asyncio.sleep(0.3)
        finally:
            await client.disconnect()

    asyncio.run(run())


# ---------------------------------------------------------------- FTP (pyftpdlib) and telnet


def ftp_server(host: str, user: str, password: str) -> None:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    home = os.path.join(os.getcwd(), "ftp-home")  # record.py runs peers in its temporary directory
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "recipe_01.csv"), "w") as f:
        f.write("step,setpoint\n1,1200\n2,1350\n")
    with open(os.path.join(home, "plc_backup.cfg"), "w") as f:
        f.write("ip=10.77.1.20\nmask=255.255.255.0\n")
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, home, perm="elr")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.banner = "OTW-PLC-1 FTP server ready."
    handler.passive_ports = range(50000, 50011)
    handler.auth_failed_timeout = 0.5
    server = FTPServer((host, 21), handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


def ftp_login(host: str, user: str, password: str) -> None:
    import ftplib

    ftp = ftplib.FTP()
    ftp.connect(host, 21, timeout=5)
    ftp.login(user, password)
    print(ftp.pwd())
    ftp.retrlines("LIST")
    ftp.retrbinary("RETR recipe_01.csv", lambda b: None)
    ftp.quit()


def telnet_login(host: str, user: str, password: str) -> None:
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    import telnetlib

    tn = telnetlib.Telnet(host, 23, timeout=10)
    print(tn.read_until(b"login: ", 10))
    tn.write(user.encode() + b"\n")
    print(tn.read_until(b"Password:", 10))
    tn.write(password.encode() + b"\n")
    print(tn.read_until(b"$ ", 15))
    tn.write(b"id; uname -s\n")
    time.sleep(0.5)
    print(tn.read_until(b"$ ", 5))
    tn.write(b"exit\n")
    print(tn.read_all())
    tn.close()


def tcp_listen(host: str, *ports: str) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(p)))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        for key, _ in sel.select():
            try:
                conn, _ = key.fileobj.accept()
                time.sleep(0.05)
                conn.close()
            except OSError:
                pass


# ---------------------------------------------------------------- BACnet/IP (bacpypes3)


def _bacnet_app(cidr: str, instance: int, name: str):
    from bacpypes3.ipv4.app import NormalApplication
    from bacpypes3.local.device import DeviceObject
    from bacpypes3.pdu import IPv4Address
    from bacpypes3.service.device import DeviceCommunicationControlServices

    class App(NormalApplication, DeviceCommunicationControlServices):
        @property
        def smap(self):  # bacpypes3 0.0.110's DCC service looks for the access point as "smap"
            return self.asap

    device = DeviceObject(
        objectIdentifier=("device", instance),
        objectName=name,
        vendorIdentifier=999,
        vendorName="otwatch test",
        modelName="OTW-BAC-1",
    )
    return App(device, IPv4Address(cidr))


def bacnet_server(cidr: str) -> None:
    async def run() -> None:
        _bacnet_app(cidr, 1020, "AHU-1")
        await asyncio.Future()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(run())


def bacnet_client(cidr: str, target: str) -> None:
    from bacpypes3.apdu import (
        AtomicWriteFileRequest,
        DeviceCommunicationControlRequest,
        ReinitializeDeviceRequest,
    )
    from bacpypes3.basetypes import AtomicWriteFileRequestAccessMethodChoice, AtomicWriteFileRequestAccessMethodChoiceStreamAccess
    from bacpypes3.pdu import Address

    async def run() -> None:
        app = _bacnet_app(cidr, 999, "OTW-EWS")
        addr = Address(target)
        try:
            print("who-is", await asyncio.wait_for(app.who_is(1020, 1020, addr), 3))
        except Exception as e:  # noqa: BLE001
            print("who-is:", e)
        try:
            print("name", await app.read_property(addr, "device,1020", "object-name"))
        except Exception as e:  # noqa: BLE001
            print("read:", e)
        requests = [
            ReinitializeDeviceRequest(reinitializedStateOfDevice="coldstart", password="otw"),
            AtomicWriteFileRequest(
                fileIdentifier=("file", 1),
                accessMethod=AtomicWriteFileRequestAccessMethodChoice(
                    streamAccess=AtomicWriteFileRequestAccessMethodChoiceStreamAccess(
                        fileStartPosition=0, fileData=b"OTW-FIRMWARE-IMAGE-0001" + bytes(32)
                    )
                ),
            ),
            DeviceCommunicationControlRequest(timeDuration=5, enableDisable="disable", password="otw"),
        ]
        for req in requests:
            req.pduDestination = addr
            await asyncio.sleep(0.5)
            try:
                print(type(req).__name__, "->", await asyncio.wait_for(app.request(req), 5))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 - an Error/Reject answer (bacpypes3 raises the
                # RejectPDU/ErrorPDU itself) still means the request crossed the wire
                print(type(req).__name__, "->", repr(e))
        await asyncio.sleep(0.5)
        app.close()

    asyncio.run(run())


# ---------------------------------------------------------------- PROFINET DCP and ARP (scapy)


def _dcp_header(service_id: int, service_type: int, xid: int, blocks: bytes, delay: int = 0) -> bytes:
    return struct.pack(">BBIHH", service_id, service_type, xid, delay, len(blocks)) + blocks


def _dcp_block(option: int, sub: int, payload: bytes) -> bytes:
    b = struct.pack(">BBH", option, sub, len(payload)) + payload
    return b + (b"\x00" if len(payload) % 2 else b"")


def _pad60(frame):
    """Ethernet padding to the 60-byte minimum, as a real PROFINET device's MAC adds it."""
    from scapy.all import Padding

    short = 60 - len(frame)
    return frame / Padding(b"\x00" * short) if short > 0 else frame


def dcp_responder(iface: str, mac: str) -> None:
    from scapy.all import Ether, Raw, sendp, sniff

    name = b"otw-plc-1"

    def identify_response(xid: int) -> bytes:
        blocks = b"".join([
            _dcp_block(2, 1, b"\x00\x00" + b"S7-1500"),  # type of station
            _dcp_block(2, 2, b"\x00\x00" + name),  # name of station
            _dcp_block(2, 3, b"\x00\x00" + struct.pack(">HH", 0x002A, 0x010E)),  # vendor/device id
            _dcp_block(2, 4, b"\x00\x00" + b"\x02\x00"),  # role: IO controller
            _dcp_block(1, 2, b"\x00\x01" + socket.inet_aton("10.77.1.20") + socket.inet_aton("255.255.255.0")
                       + socket.inet_aton("0.0.0.0")),
        ])
        return struct.pack(">H", 0xFEFF) + _dcp_header(5, 1, xid, blocks)

    def handle(p) -> None:
        raw = bytes(p[Ether].payload)
        if p[Ether].type != 0x8892 or len(raw) < 12 or p[Ether].src == mac:
            return
        frame_id, sid, stype, xid = struct.unpack(">HBBI", raw[:8])
        if stype != 0:
            return
        if frame_id == 0xFEFE and sid == 5:
            reply = identify_response(xid)
        elif frame_id == 0xFEFD and sid == 4:
            opt, sub = raw[12], raw[13]
            reply = struct.pack(">H", 0xFEFD) + _dcp_header(4, 1, xid, _dcp_block(5, 4, bytes([opt, sub, 0])))
        else:
            return
        time.sleep(0.01)
        sendp(_pad60(Ether(src=mac, dst=p[Ether].src, type=0x8892) / Raw(reply)), iface=iface, verbose=False)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sniff(iface=iface, prn=handle, store=False, filter="ether proto 0x8892")


def dcp_controller(iface: str, mac: str, dst: str) -> None:
    from scapy.all import Ether, Raw, sendp
    from scapy.contrib.pnio import ProfinetIO
    from scapy.contrib.pnio_dcp import ProfinetDCP

    def send(frame) -> None:
        sendp(_pad60(frame), iface=iface, verbose=False)
        time.sleep(0.5)

    # Identify all (scapy's ProfinetDCP builds the request)
    send(Ether(src=mac, dst="01:0e:cf:00:00:00") / ProfinetIO(frameID=0xFEFE)
         / ProfinetDCP(service_id=5, service_type=0, xid=0x1001, reserved=1, option=255, sub_option=255,
                       dcp_data_length=4))
    # Set IP parameter (qualifier 1 = permanent)
    ip_block = _dcp_block(1, 2, b"\x00\x01" + socket.inet_aton("10.77.1.99") + socket.inet_aton("255.255.255.0")
                          + socket.inet_aton("10.77.1.1"))
    send(Ether(src=mac, dst=dst, type=0x8892) / Raw(struct.pack(">H", 0xFEFD) + _dcp_header(4, 0, 0x1002, ip_block)))
    # Set NameOfStation
    name_block = _dcp_block(2, 2, b"\x00\x01" + b"rogue-station")
    send(Ether(src=mac, dst=dst, type=0x8892) / Raw(struct.pack(">H", 0xFEFD) + _dcp_header(4, 0, 0x1003, name_block)))
    # Control / Reset to Factory (option 5, sub-option 6), qualifier 0x0004 = mode 2 (reset communication)
    reset_block = _dcp_block(5, 6, b"\x00\x04")
    send(Ether(src=mac, dst=dst, type=0x8892) / Raw(struct.pack(">H", 0xFEFD) + _dcp_header(4, 0, 0x1004, reset_block)))
    # Control / Reset Factory Settings (option 5, sub-option 5), the older form
    reset_old = _dcp_block(5, 5, b"\x00\x00")
    send(Ether(src=mac, dst=dst, type=0x8892) / Raw(struct.pack(">H", 0xFEFD) + _dcp_header(4, 0, 0x1005, reset_old)))


def arp_spoof(iface: str) -> None:
    from scapy.all import ARP, Ether, sendp

    frame = Ether(src="02:00:00:00:05:66", dst="02:00:00:00:05:10") / ARP(
        op=2, hwsrc="02:00:00:00:05:66", psrc="10.77.5.1", hwdst="02:00:00:00:05:10", pdst="10.77.5.10")
    for _ in range(20):  # every 200 ms for 4 s
        sendp(frame, iface=iface, verbose=False)
        time.sleep(0.2)


def garp_storm(iface: str, count: str) -> None:
    from scapy.all import ARP, Ether, sendp

    mac = "02:00:00:00:05:77"
    frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac, psrc="10.77.5.77", hwdst="00:00:00:00:00:00", pdst="10.77.5.77")
    sendp(frame, iface=iface, count=int(count), inter=0.006, verbose=False)


# ---------------------------------------------------------------- Beckhoff ADS (pyads 3.6.0)


def _peer_module(name: str):
    """A peer script of tests/peers (shared with sensor/tests/live_peers.rs)."""
    import importlib

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    return importlib.import_module(name)


def _ads_peer():
    return _peer_module("ads_peer")


def ads_server(host: str) -> None:
    _ads_peer().start_server(host, 48898)
    _forever()


def ads_client(host: str) -> None:
    # record.py waits for the listening socket without a probe connection.
    _ads_peer().run_client(host, 48898, wait=False)


# ---------------------------------------------------------------- SLMP / MC protocol (pymcprotocol 0.3.0, virtual-plc 0.3.0)

SLMP_PORT = 5007


def slmp_server(host: str) -> None:
    _peer_module("slmp_peer").start_server(host, SLMP_PORT)
    _forever()


def slmp_client(host: str) -> None:
    _peer_module("slmp_peer").run_client(host, SLMP_PORT, wait=False)


SRTP_PORT = 18245


def srtp_server(host: str) -> None:
    _peer_module("srtp_peer").start_server(host, SRTP_PORT)
    _forever()


def srtp_client(host: str) -> None:
    _peer_module("srtp_peer").run_client(host, SRTP_PORT)


ROLES = {
    "modbus-server": modbus_server,
    "modbus-poll": modbus_poll,
    "modbus-writer": modbus_writer,
    "modbus-diag": modbus_diag,
    "modbus-malformed": modbus_malformed,
    "s7-server": s7_server,
    "s7-client": s7_client,
    "iec104-server": iec104_server,
    "iec104-master": iec104_master,
    "iec104-sync-once": iec104_sync_once,
    "iec104-reset": iec104_reset,
    "opcua-server": opcua_server,
    "opcua-client": opcua_client,
    "ftp-server": ftp_server,
    "ftp-login": ftp_login,
    "telnet-login": telnet_login,
    "tcp-listen": tcp_listen,
    "bacnet-server": bacnet_server,
    "bacnet-client": bacnet_client,
    "dcp-responder": dcp_responder,
    "dcp-controller": dcp_controller,
    "ads-server": ads_server,
    "ads-client": ads_client,
    "slmp-server": slmp_server,
    "slmp-client": slmp_client,
    "srtp-server": srtp_server,
    "srtp-client": srtp_client,
    "arp-spoof": arp_spoof,
    "garp-storm": garp_storm,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
        sys.exit(__doc__)
    ROLES[sys.argv[1]](*sys.argv[2:])
