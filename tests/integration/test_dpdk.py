#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The DPDK backend end to end, in network namespaces (root; Python 3 stdlib).

usage: test_dpdk.py SBC_BINARY SOURCE_DIR [-k PATTERN]... [-v]

Skipped (exit 77) when the binary was built without DPDK, or when not root
outside CI. Everything the test creates lives in three network namespaces
named after its PID, deleted at the end whatever happens (try/finally, atexit,
SIGTERM from meson's timeout); the only process it kills is the sbc it
started, by PID.

    netns A (phones)                  netns S (the SBC host)            netns C (core)
    a0 10.10.0.2/24   --- veth --- s0 [net_af_packet0]  sbc  [net_tap0] ~~~ sbcp1 10.20.0.2/24
       2001:db8:10::2/64              kernel_tap sbcx0 10.10.0.1/24,       (the TAP, moved into C)
                                        2001:db8:10::1/64 (TCP listener)

Port 0 (access realm, 10.10.0.1) is af_packet on a veth: the kernel reassembles
IPv4 fragments before af_packet sees them (PACKET_FANOUT_FLAG_DEFRAG), so its
frames may exceed the MTU (framesz=4096, mbuf_size 4224). Port 1 (core realm,
10.20.0.1) is a net_tap device whose kernel interface the test moves into
netns C and gives the UAS's address: C's kernel talks to the SBC's data plane
directly, and its fragments reach the SBC as fragments, which exercises the
data plane's own reassembly (rte_ip_frag). Both ports send the SBC's large
datagrams as fragments it builds itself. (No bridge: nothing depends on
br_netfilter or host sysctls.)

Checks: ARP (answer for our address, none for others; the SBC resolving its
next hop), ICMP echo, OPTIONS answered, the exception path (a TCP connection
to a kernel listener on the SBC host through the DPDK port, IPv4 and IPv6), a
basic call through the SBC (INVITE/100/180/200/ACK/BYE with the UAS in its own
namespace), an INVITE and a 200 with SDP large enough to be fragmented in both
directions; IPv6: neighbour discovery both ways, ICMPv6 echo, OPTIONS, and an
INVITE from an IPv6 phone to the IPv4 core with IPv6 fragments each way (the
af_packet defragmentation is IPv4 only, so these reach the SBC's own
reassembly); RTP relayed both ways through the relay ports the SBC put in
the SDP (handed between workers when RSS lands it on the wrong one); the
data-plane counters at the end, and the start-up errors (port not found,
not enough queues, no hugepages, configuration errors).
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import (CLEANUP as _CLEANUP, cleanup as _cleanup, die_with_parent,  # noqa: E402
                   dpdk_preflight, make_netns, netns, on_sigterm as _on_sigterm,
                   quiet_ipv6, run, sweep_stale, tx_checksum_off)
from sipua import (UA, SipMessage, make_request, new_branch, new_call_id, new_tag,  # noqa: E402
                   sdp, sdp_rewrite_problem)

SBC = None
SRC = None
TAG = "sbct%d" % (os.getpid() % 100000)
NS_S, NS_A, NS_C = TAG + "s", TAG + "a", TAG + "c"
MAC0 = "02:00:00:00:0a:01"
MAC1 = "02:00:00:00:14:01"
SBC_A, PHONE = "10.10.0.1", "10.10.0.2"
SBC_A6, PHONE6 = "2001:db8:10::1", "2001:db8:10::2"
SBC_C, UAS_IP = "10.20.0.1", "10.20.0.2"
TCP_PORT = 7777
UAS_PORT = 5062
ACCESS_MEDIA, CORE_MEDIA = (40000, 40999), (42000, 42999)
T1 = 0.1

# ---------------------------------------------------------------------------
# Topology and daemon, torn down whatever happens (netns.py: the namespace
# plumbing and the cleanup registry, shared with test_callflows.py)


class Daemon:
    """sbc in netns S on a configuration; stopped by its PID."""

    def __init__(self, workdir, text, ns=NS_S):
        self.cfg = os.path.join(workdir, "sbc.yaml")
        with open(self.cfg, "w") as f:
            f.write(text)
        self.logpath = os.path.join(workdir, "sbc.log")
        self.log = open(self.logpath, "w+")
        self.proc = subprocess.Popen(die_with_parent(["ip", "netns", "exec", ns, SBC, "-c",
                                                      self.cfg]),
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        _CLEANUP.append(self.stop)

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def counters(log):
    """Sum of the data-plane counters the workers log when they stop."""
    total = {}
    for m in re.finditer(r"dpdk: worker \d+: (.*)", log):
        for item in m.group(1).split(", "):
            name, _, value = item.rpartition(" ")
            total[name] = total.get(name, 0) + int(value)
    return total


CONFIG = """\
workers: {workers}
log_level: info
sip: {{ t1_ms: 100, t2_ms: 400, t4_ms: 500, timer_c_ms: 3000, user_agent: sbc-dpdk-test }}
control: {{ metrics: "" }}
io:
  backend: dpdk
  eal_args: ["--no-huge", "-m", "512", "--file-prefix={prefix}", "--no-telemetry"]
  mbufs: 16383
  mbuf_size: 4224
  rx_queue_size: 256
  tx_queue_size: 256
  power_saving: true
  idle_sleep_us: 200
  ports:
    - device: "net_af_packet0,iface=s0,framesz=4096,blocksz=4096"
      mac: "{mac0}"
      addresses: [ {sbc_a}/24, "{sbc_a6}/64" ]
      kernel_tap: sbcx0
    - device: "net_tap0,iface=sbcp1"
      mac: "{mac1}"
      addresses: [ {sbc_c}/24 ]
realms:
  - name: access
    hide_topology: false
    listen:
      - {{ address: {sbc_a}, port: 5060 }}
      - {{ address: "{sbc_a6}", port: 5060 }}
    media: {{ address: {sbc_a}, ports: 40000-40999 }}
  - name: core
    trusted: true
    hide_topology: false
    listen:
      - {{ address: {sbc_c}, port: 5060 }}
    media: {{ address: {sbc_c}, ports: 42000-42999 }}
routes:
  - name: to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: {uas_ip}, port: {uas_port} }}
  - name: to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def big_sdp(user, ip, port, size):
    """An SDP offer/answer padded with attribute lines to about size bytes."""
    body = sdp(user, ip, port)
    lines, i = [], 0
    while len(body) + sum(len(x) for x in lines) < size:
        lines.append(b"a=x-pad-%04d:%s\r\n" % (i, b"0123456789abcdef" * 4))
        i += 1
    return body + b"".join(lines)


class Phone6:
    """A bare SIP endpoint on IPv6 (sipua's UA is IPv4): builds requests,
    reads responses; enough for OPTIONS and an INVITE transaction."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind((PHONE6, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)

    def close(self):
        self.sock.close()

    def discard(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
        except OSError:
            pass
        finally:
            self.sock.settimeout(0.2)

    def request(self, method, ruri, call_id, branch, cseq, from_tag, to_tag=None, body=b""):
        h = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/UDP [%s]:%d;branch=%s;rport" % (PHONE6, self.port, branch),
             "Max-Forwards: 70",
             "From: <sip:carol@[%s]>;tag=%s" % (PHONE6, from_tag),
             "To: <%s>%s" % (ruri, ";tag=" + to_tag if to_tag else ""),
             "Call-ID: " + call_id,
             "CSeq: %d %s" % (cseq, method),
             "Contact: <sip:carol@[%s]:%d>" % (PHONE6, self.port)]
        if body:
            h.append("Content-Type: application/sdp")
        h.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(h) + "\r\n\r\n").encode() + body
        self.sock.sendto(data, (SBC_A6, 5060))
        return data

    def expect(self, call_id, status, timeout=3.0):
        """The first response with this status to call_id; others skipped."""
        deadline, seen = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            m = SipMessage.parse(data)
            seen.append(m.summary() if hasattr(m, "summary") else repr(data[:60]))
            if m.call_id == call_id and m.status == status:
                assert addr[0] == SBC_A6, addr
                return m
        raise AssertionError("phone6: no %d for %s within %.1f s; got %s"
                             % (status, call_id, timeout, seen))


# ---------------------------------------------------------------------------

class DpdkBackend(unittest.TestCase):
    """One SBC on the two-port topology for all the traffic tests."""

    done = set()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sbc-dpdk-")
        _CLEANUP.append(cls.tmp.cleanup)
        for ns in (NS_S, NS_A, NS_C):
            make_netns(ns)
        run("ip", "link", "add", "s0", "netns", NS_S, "type", "veth", "peer", "name", "a0",
            "netns", NS_A)
        quiet_ipv6(NS_S, "s0")
        run("ip", "link", "set", "s0", "up", ns=NS_S)
        # The kernel of S owns 10.10.0.1 (on the exception TAP): it must not
        # answer ARP for it on the DPDK port's veth as well.
        run("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=8", ns=NS_S)
        run("ip", "addr", "add", PHONE + "/24", "dev", "a0", ns=NS_A)
        run("ip", "-6", "addr", "add", PHONE6 + "/64", "dev", "a0", "nodad", ns=NS_A)
        run("ip", "link", "set", "a0", "up", ns=NS_A)
        # veth leaves UDP checksums to "hardware": af_packet would see them
        # unfinished. Real NICs and TAPs deliver them complete.
        tx_checksum_off(NS_A, "a0")
        text = CONFIG.format(workers=2, prefix=TAG, mac0=MAC0, mac1=MAC1, sbc_a=SBC_A,
                             sbc_a6=SBC_A6, sbc_c=SBC_C, uas_ip=UAS_IP, uas_port=UAS_PORT)
        cls.sbc = Daemon(cls.tmp.name, text)
        # The core port is a TAP the SBC creates in S: move its kernel side
        # into C, where it becomes the core host's interface.
        wait_for(lambda: cls.sbc_failed() or "sbcp1" in run("ip", "-o", "link", ns=NS_S),
                 20, "the SBC to create its net_tap interface sbcp1")
        cls.assert_running()
        wait_for(lambda: cls.sbc_failed() or "listening on" in cls.sbc.log_text(), 20,
                 "the SBC to listen")
        cls.assert_running()
        run("ip", "link", "set", "sbcp1", "netns", NS_C, ns=NS_S)
        quiet_ipv6(NS_C, "sbcp1")
        run("ip", "addr", "add", UAS_IP + "/24", "dev", "sbcp1", ns=NS_C)
        run("ip", "link", "set", "sbcp1", "up", ns=NS_C)
        with netns(NS_C):
            cls.uas = UA(UAS_IP, UAS_PORT, name="uas", user="bob", t1=T1)
        _CLEANUP.append(cls.uas.close)
        with netns(NS_A):
            cls.phone = UA(PHONE, 0, name="phone", user="alice", t1=T1)
            cls.phone6 = Phone6()
        _CLEANUP.append(cls.phone.close)
        _CLEANUP.append(cls.phone6.close)
        cls.wait_options()

    @classmethod
    def sbc_failed(cls):
        return not cls.sbc.alive()

    @classmethod
    def assert_running(cls):
        if not cls.sbc.alive():
            raise AssertionError("sbc exited with %s:\n%s" % (cls.sbc.proc.returncode,
                                                               cls.sbc.log_text()))

    @classmethod
    def options(cls, ua, dest, timeout=0.5):
        req = make_request("OPTIONS", "sip:%s:%d" % dest,
                           from_="<sip:probe@%s>;tag=%s" % (ua.host, new_tag()),
                           to="<sip:%s:%d>" % dest, call_id=new_call_id(ua.host), cseq=1,
                           via_host=ua.host, via_port=ua.port)
        ua.send(req, dest)
        return ua.expect(call_id=req.call_id, timeout=timeout)

    @classmethod
    def wait_options(cls):
        deadline = time.monotonic() + 15
        while True:
            cls.assert_running()
            try:
                cls.options(cls.phone, (SBC_A, 5060))
                cls.phone.discard()
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise AssertionError("no answer to OPTIONS at %s:5060:\n%s"
                                         % (SBC_A, cls.sbc.log_text()))

    @classmethod
    def tearDownClass(cls):
        cls.sbc.stop()

    def tearDown(self):
        type(self).done.add(self._testMethodName)
        self.phone6.discard()
        self.phone.discard()
        self.uas.discard()

    # -- L2/L3 --------------------------------------------------------------------
    def arp_query(self, target_ip, timeout=1.0):
        """ARP request from a0 for target_ip; the replies' sender MACs."""
        with netns(NS_A):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        try:
            s.bind(("a0", 0))
            me = s.getsockname()[4]
            req = (b"\xff" * 6 + me + b"\x08\x06" +
                   struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + me + socket.inet_aton(PHONE) +
                   b"\0" * 6 + socket.inet_aton(target_ip))
            s.send(req)
            s.settimeout(0.1)
            got, deadline = [], time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    f = s.recv(2048)
                except socket.timeout:
                    continue
                if len(f) < 42:
                    continue
                op, = struct.unpack("!H", f[20:22])
                sha, spa, tha, tpa = struct.unpack("!6s4s6s4s", f[22:42])
                if op == 2 and spa == socket.inet_aton(target_ip):
                    self.assertEqual(tha, me, "ARP reply not addressed to the asker")
                    self.assertEqual(tpa, socket.inet_aton(PHONE))
                    self.assertEqual(f[0:6], me, "Ethernet destination of the reply")
                    got.append(sha)
            return got
        finally:
            s.close()

    def test_01_arp(self):
        self.assertEqual(self.arp_query(SBC_A), [mac_bytes(MAC0)],
                         "exactly one ARP reply, from the SBC's port MAC")
        self.assertEqual(self.arp_query("10.10.0.77", timeout=0.5), [],
                         "no ARP reply for an address the SBC does not own")

    def test_02_icmp_echo(self):
        with netns(NS_A):
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            s.settimeout(1.0)
            for seq in range(3):
                payload = os.urandom(56 + seq * 500)
                hdr = struct.pack("!BBHHH", 8, 0, 0, 0x5bc, seq)
                ck = inet_csum(hdr + payload)
                s.sendto(struct.pack("!BBHHH", 8, 0, ck, 0x5bc, seq) + payload, (SBC_A, 0))
                while True:
                    data, addr = s.recvfrom(4096)
                    icmp = data[(data[0] & 15) * 4:]
                    if icmp[0] == 0 and icmp[4:8] == struct.pack("!HH", 0x5bc, seq):
                        break
                self.assertEqual(addr[0], SBC_A)
                self.assertEqual(icmp[8:], payload, "echo reply payload")
                self.assertEqual(inet_csum(icmp), 0, "echo reply checksum")
        finally:
            s.close()

    def test_03_options(self):
        for dest, ua in (((SBC_A, 5060), self.phone), ((SBC_C, 5060), self.uas)):
            got = self.options(ua, dest, timeout=2.0)
            self.assertEqual(got.status, 200, str(got))
            self.assertIn("INVITE", got.get("allow"))

    def tcp_through_kernel(self, family, server, client):
        with netns(NS_S):
            ls = socket.socket(family, socket.SOCK_STREAM)
        result = {}

        def serve():
            try:
                c, a = ls.accept()
                with c:
                    c.settimeout(5)
                    data = b""
                    while not data.endswith(b"\n"):
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    result["peer"] = a
                    c.sendall(b"kernel says " + data)
            except OSError as e:
                result["error"] = e
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((server, TCP_PORT))
            ls.listen(1)
            ls.settimeout(10)
            t = threading.Thread(target=serve, daemon=True)
            t.start()
            with netns(NS_A):
                c = socket.socket(family, socket.SOCK_STREAM)
            with c:
                c.settimeout(10)
                c.connect((server, TCP_PORT))
                msg = b"x" * 20000 + b"\n"   # several segments each way
                c.sendall(msg)
                want, data = len(b"kernel says ") + len(msg), b""
                while len(data) < want:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            t.join(10)
            self.assertNotIn("error", result)
            self.assertEqual(result.get("peer", ("",))[0], client)
            self.assertEqual(data, b"kernel says " + msg)
        finally:
            ls.close()

    def test_04_exception_path_tcp(self):
        """A TCP connection from the phone's namespace to a kernel listener on
        the SBC host: TAP in, the kernel's replies out of the DPDK port
        (the kernel resolves the phone itself, by ARP through the port)."""
        self.tcp_through_kernel(socket.AF_INET, SBC_A, PHONE)

    def test_04b_exception_path_tcp_ipv6(self):
        """The same over IPv6: the kernel's neighbour discovery goes out of
        the port and the answer comes back to it through the TAP."""
        self.tcp_through_kernel(socket.AF_INET6, SBC_A6, PHONE6)

    # -- calls ----------------------------------------------------------------------
    def setup_call(self, offer, answer):
        """INVITE/100/180/200/ACK from the phone to the UAS; the SDP each side
        receives is the other's as a media-anchoring SBC rewrites it (its
        media address, relay ports), all else byte for byte. Returns the
        phone's dialog and the two rewritten bodies."""
        alice, bob = self.phone, self.uas
        inv = alice.invite((SBC_A, 5060), "sip:bob@%s:%d" % (UAS_IP, bob.port), body=offer)
        alice.expect(status=100, call_id=inv.call_id, timeout=3)
        b_inv = bob.expect(method="INVITE", call_id=inv.call_id, timeout=5)
        problem = sdp_rewrite_problem(offer, b_inv.body, SBC_C, CORE_MEDIA)
        self.assertIsNone(problem, "INVITE SDP towards the core: %s" % problem)
        self.assertEqual(len(b_inv.get_all("via")), 2, "the SBC's Via on top of the phone's")
        bob.answer(b_inv, 180)
        alice.expect(status=180, call_id=inv.call_id, timeout=3)
        r200 = bob.answer(b_inv, 200, body=answer)
        a200 = alice.expect(status=200, cseq_method="INVITE", call_id=inv.call_id, timeout=3)
        problem = sdp_rewrite_problem(answer, a200.body, SBC_A, ACCESS_MEDIA)
        self.assertIsNone(problem, "200 SDP towards the phone: %s" % problem)
        d_alice = alice.dialog(a200)
        d_alice.ack(a200)
        bob.expect(method="ACK", call_id=inv.call_id, timeout=3)
        self.assertIsNotNone(r200.dialog)
        return d_alice, b_inv.body, a200.body

    def hang_up(self, d_alice):
        bye = d_alice.request("BYE")
        got = self.uas.expect(method="BYE", call_id=bye.call_id, timeout=3)
        self.uas.answer(got, 200)
        self.phone.expect(status=200, cseq_method="BYE", call_id=bye.call_id, timeout=3)

    def call(self, offer, answer):
        self.hang_up(self.setup_call(offer, answer)[0])

    def test_05_basic_call(self):
        self.call(sdp("alice", PHONE, 40000), sdp("bob", UAS_IP, 50000))

    def test_06_fragmented_invite_and_200(self):
        """~3.5 kB SDP each way: IPv4 fragments on both links."""
        offer = big_sdp("alice", PHONE, 40002, 3500)
        answer = big_sdp("bob", UAS_IP, 50002, 3500)
        self.assertGreater(len(offer), 3000)
        self.call(offer, answer)

    def test_07_unresolved_next_hop_is_not_fatal(self):
        """OPTIONS to the SBC keep being answered while traffic waits for ARP."""
        for _ in range(3):
            self.assertEqual(self.options(self.phone, (SBC_A, 5060), timeout=2.0).status, 200)

    # -- IPv6 -------------------------------------------------------------------------
    def test_08_icmpv6_echo_and_nd(self):
        """The phone's kernel resolves the SBC by neighbour discovery, then
        pings it; the SBC resolves the phone the same way to answer."""
        with netns(NS_A):
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            s.settimeout(1.0)
            for seq in range(3):
                payload = os.urandom(56 + seq * 400)
                # The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
                s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x6bc, seq) + payload, (SBC_A6, 0))
                while True:
                    data, addr = s.recvfrom(4096)
                    if data[0] == 129 and data[4:8] == struct.pack("!HH", 0x6bc, seq):
                        break
                self.assertEqual(addr[0], SBC_A6)
                self.assertEqual(data[8:], payload, "echo reply payload")
        finally:
            s.close()
        neigh = run("ip", "-6", "neigh", "show", SBC_A6, ns=NS_A)
        self.assertIn(MAC0.lower(), neigh.lower(), "the phone learnt the SBC's MAC by ND")

    def test_09_options_ipv6(self):
        p6, cid = self.phone6, new_call_id("v6")
        p6.request("OPTIONS", "sip:[%s]" % SBC_A6, cid, new_branch(), 1, new_tag())
        got = p6.expect(cid, 200)
        self.assertIn("INVITE", got.get("allow"))

    def test_10_invite_ipv6_to_ipv4_fragmented(self):
        """A v6 phone calls the v4 core with a ~3 kB SDP (IPv6 fragments the
        SBC reassembles); the UAS answers 183 with a ~3 kB SDP (fragments the
        SBC builds in IPv6), then 486; the phone ACKs."""
        p6, bob = self.phone6, self.uas
        cid, branch, ftag = new_call_id("v6"), new_branch(), new_tag()
        offer = big_sdp("carol", PHONE6, 40010, 3000).replace(b"IN IP4", b"IN IP6")
        ruri = "sip:bob@%s:%d" % (UAS_IP, UAS_PORT)
        p6.request("INVITE", ruri, cid, branch, 1, ftag, body=offer)
        p6.expect(cid, 100)
        b_inv = bob.expect(method="INVITE", call_id=cid, timeout=5)
        problem = sdp_rewrite_problem(offer, b_inv.body, SBC_C, CORE_MEDIA)
        self.assertIsNone(problem, "INVITE SDP from IPv6 to the IPv4 core: %s" % problem)
        early = big_sdp("bob", UAS_IP, 50010, 3000)
        bob.answer(b_inv, 183, body=early)
        r183 = p6.expect(cid, 183)
        problem = sdp_rewrite_problem(early, r183.body, SBC_A, ACCESS_MEDIA)
        self.assertIsNone(problem, "183 SDP towards the IPv6 phone: %s" % problem)
        bob.answer(b_inv, 486)
        r486 = p6.expect(cid, 486)
        p6.request("ACK", ruri, cid, branch, 1, ftag, to_tag=r486.to_tag)
        bob.expect(method="ACK", call_id=cid, timeout=3)

    # -- media ------------------------------------------------------------------------
    # RTP payload sizes of a burst (odd ones: the checksum's padding byte),
    # bursts each way, and the datagrams relayed in all
    RTP_SIZES = (160, 20, 1, 161, 1000, 80, 33, 160)
    RTP_ROUNDS = 3
    RTP_PACKETS = 2 * RTP_ROUNDS * len(RTP_SIZES)
    UNUSED_PORT_PACKETS = 5

    def sniff_from_sbc(self, sock, port, count, timeout=3.0):
        """The next `count` UDP/IPv4 frames to the phone's `port` that the
        SBC sent on a0 (sock: an AF_PACKET socket on a0), each checked as
        the phone's NIC would not (veth leaves received checksums
        unverified): the SBC's MAC, a valid IPv4 header checksum, a UDP
        checksum present and valid. Returns their (source, payload)."""
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                frame, addr = sock.recvfrom(65535)
            except socket.timeout:
                break
            if addr[2] == socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 17 or struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != port:
                continue
            tot = struct.unpack("!H", ip[2:4])[0]
            udp = ip[ihl:tot]
            self.assertEqual(frame[6:12], mac_bytes(MAC0), "Ethernet source: the SBC's port")
            self.assertEqual(inet_csum(ip[:ihl]), 0, "IPv4 header checksum")
            self.assertNotEqual(udp[6:8], b"\0\0", "a UDP checksum is present")
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
            self.assertEqual(inet_csum(pseudo + udp), 0, "UDP checksum")
            src = (socket.inet_ntoa(ip[12:16]), struct.unpack("!H", udp[0:2])[0])
            got.append((src, udp[8:]))
        self.assertEqual(len(got), count, "frames from the SBC seen on a0")
        return got

    def test_11_rtp_relay(self):
        """RTP both ways through the relay ports the SBC put in the SDP: from
        the phone's namespace through af_packet, to the core through the
        TAP, and back; source addresses are the SBC's relay ports (symmetric
        RTP). With two workers a packet that lands on the worker not owning
        its relay port is handed to the owner (MEDIA_HANDOFF). Bursts of
        back-to-back packets of several sizes (odd ones too) arrive intact
        and in order; the frames reaching the phone carry the SBC's MAC and
        valid IPv4 and UDP checksums (relayed in place: the checksum is
        updated, not recomputed; test_99 checks MEDIA_INPLACE moved and
        MEDIA_COPIED did not)."""
        with netns(NS_A):
            ra = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ra.bind((PHONE, 40020))
            sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
            sniff.bind(("a0", 0x0800))
        with netns(NS_C):
            rb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rb.bind((UAS_IP, 50020))
        try:
            ra.settimeout(2)
            rb.settimeout(2)
            d, to_core, to_phone = self.setup_call(sdp("alice", PHONE, 40020),
                                                   sdp("bob", UAS_IP, 50020))
            port_b = int(re.search(rb"m=audio (\d+)", to_core).group(1))
            port_a = int(re.search(rb"m=audio (\d+)", to_phone).group(1))
            sizes = self.RTP_SIZES
            seq = 0
            for rnd in range(self.RTP_ROUNDS):
                out = []
                for n in sizes:
                    out.append(struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) +
                               os.urandom(n))
                    seq += 1
                for pkt in out:
                    ra.sendto(pkt, (SBC_A, port_a))
                got = [rb.recvfrom(2048) for _ in out]
                self.assertEqual(got, [(pkt, (SBC_C, port_b)) for pkt in out],
                                 "RTP phone -> core, round %d: payloads, order, source" % rnd)
                back = [struct.pack("!BBHII", 0x80, 0, seq + i, (seq + i) * 160, 0x5678) +
                        os.urandom(n) for i, n in enumerate(sizes)]
                seq += len(sizes)
                for pkt in back:
                    rb.sendto(pkt, (SBC_C, port_b))
                got = [ra.recvfrom(2048) for _ in back]
                self.assertEqual(got, [(pkt, (SBC_A, port_a)) for pkt in back],
                                 "RTP core -> phone, round %d: payloads, order, source" % rnd)
                self.assertEqual(self.sniff_from_sbc(sniff, 40020, len(back)),
                                 [((SBC_A, port_a), pkt) for pkt in back],
                                 "RTP core -> phone on the wire, round %d" % rnd)
            self.hang_up(d)
        finally:
            ra.close()
            rb.close()
            sniff.close()

    def test_12_rtp_to_unused_relay_port(self):
        """Datagrams to a relay port no call holds (in the range, so the data
        plane lends them to the port's worker): the relay drops them as
        unknown and the worker gives the frames back (MEDIA_RELEASED in
        test_99); nothing is sent anywhere."""
        with netns(NS_A):
            ra = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ra.bind((PHONE, 40022))
        try:
            ra.settimeout(0.3)
            for seq in range(self.UNUSED_PORT_PACKETS):
                ra.sendto(struct.pack("!BBHII", 0x80, 0, seq, 0, 0x4321) + os.urandom(40),
                          (SBC_A, ACCESS_MEDIA[1] - 1))
            with self.assertRaises(socket.timeout, msg="nothing comes back"):
                ra.recvfrom(2048)
        finally:
            ra.close()

    def test_99_counters_and_clean_stop(self):
        cls = type(self)
        status = cls.sbc.stop()
        log = cls.sbc.log_text()
        self.assertEqual(status, 0, "sbc exit status; log:\n" + log)
        c = counters(log)
        if os.environ.get("SBC_TEST_VERBOSE"):
            print("\n" + log, file=sys.stderr)
        want = {  # counters each test must have moved, if it ran (-k)
            "test_01_arp": (("ARP_REPLIED", 1),),
            "test_02_icmp_echo": (("ICMP_ECHO", 3),),
            "test_04_exception_path_tcp": (("TO_KERNEL", 5), ("FROM_KERNEL", 5)),
            "test_05_basic_call": (("NBR_LEARNT", 1), ("RX_DGRAMS", 8), ("TX_DGRAMS", 8)),
            "test_06_fragmented_invite_and_200": (("TX_FRAGS", 4), ("FRAG_IN", 3),
                                                  ("REASSEMBLED", 1)),
            "test_08_icmpv6_echo_and_nd": (("ICMP6_ECHO", 3), ("ND_NA_SENT", 1)),
            "test_10_invite_ipv6_to_ipv4_fragmented": (("FRAG_IN", 3), ("REASSEMBLED", 1),
                                                       ("TX_FRAGS", 3)),
            # every relayed datagram was a single-segment frame: lent to the
            # worker and sent in place, none copied (checked below)
            "test_11_rtp_relay": (("MEDIA_IN", cls.RTP_PACKETS), ("MEDIA_LENT", cls.RTP_PACKETS),
                                  ("MEDIA_INPLACE", cls.RTP_PACKETS)),
            "test_12_rtp_to_unused_relay_port": (("MEDIA_RELEASED", cls.UNUSED_PORT_PACKETS),),
        }
        for name, least in [x for t in cls.done for x in want.get(t, ())]:
            self.assertGreaterEqual(c.get(name, 0), least, "%s in %s\nlog:\n%s" % (name, c, log))
        for bad in ("RX_BAD_UDP", "RX_BAD_IP", "RX_BAD_IP6", "ICMP6_BAD", "TX_FULL",
                    "TX_NOMBUF", "NBR_QUEUE_FULL", "MEDIA_HANDOFF_LOST", "MEDIA_COPIED"):
            self.assertEqual(c.get(bad, 0), 0, "%s in %s" % (bad, c))
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, log)


def inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


# ---------------------------------------------------------------------------

BAD_BASE = """\
workers: {workers}
control: {{ metrics: "" }}
io:
  backend: dpdk
  eal_args: [{eal}]
  mbufs: 8191
  rx_queue_size: 128
  tx_queue_size: 128
  ports:
    - device: "{device}"
      addresses: [ 10.30.0.1/24 ]
realms:
  - name: access
    listen:
      - {{ address: {listen}, port: 5060 }}
    media: {{ address: 10.30.0.1, ports: 40000-40999 }}
"""


class StartupErrors(unittest.TestCase):
    """What commonly goes wrong, said clearly: exit 2 for the configuration,
    exit 1 and a message for the run-time environment."""

    @classmethod
    def setUpClass(cls):
        cls.ns = TAG + "e"
        make_netns(cls.ns)
        run("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1", ns=cls.ns)
        run("ip", "link", "set", "e0", "up", ns=cls.ns)
        run("ip", "link", "set", "e1", "up", ns=cls.ns)
        cls.tmp = tempfile.TemporaryDirectory(prefix="sbc-dpdk-err-")
        _CLEANUP.append(cls.tmp.cleanup)

    def start(self, name, workers=1, device="net_af_packet0,iface=e0",
              eal='"--no-huge", "-m", "128", "--file-prefix=%s", "--no-telemetry"' % (TAG + "e"),
              listen="10.30.0.1"):
        d = os.path.join(self.tmp.name, name)
        os.makedirs(d)
        return Daemon(d, BAD_BASE.format(workers=workers, device=device, eal=eal,
                                         listen=listen), ns=self.ns)

    def expect_failure(self, daemon, pattern):
        status = daemon.wait_exit(20)
        log = daemon.log_text()
        daemon.stop()
        self.assertEqual(status, 1, "exit status; log:\n" + log)
        self.assertRegex(log, pattern)

    def test_port_not_found(self):
        self.expect_failure(self.start("nodev", device="net_af_packet0,iface=nosuchif0"),
                            r"io\.ports\[0\]\.device: no DPDK port \"net_af_packet0\"")

    def test_not_enough_queues(self):
        self.expect_failure(self.start("queues", workers=2,
                                       device="net_af_packet0,iface=e0,qpairs=1"),
                            r"not enough queues: the device has 1 RX and 1 TX queues, 2 "
                            r"workers need one of each \(add qpairs=N")

    def test_no_hugepages(self):
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            if int(f.read()) != 0:
                self.skipTest("this host has free hugepages")
        self.expect_failure(self.start("nohuge", eal='"--file-prefix=%s"' % (TAG + "h")),
                            r"no free hugepages for DPDK.*--no-huge")

    def test_example_config(self):
        r = subprocess.run([SBC, "-t", "-c", os.path.join(SRC, "conf", "dpdk.yaml")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_listen_not_on_a_port(self):
        cfg = os.path.join(self.tmp.name, "badlisten.yaml")
        with open(cfg, "w") as f:
            f.write(BAD_BASE.format(workers=1, device="net_af_packet0,iface=e0", eal="",
                                    listen="10.30.0.9"))
        r = subprocess.run([SBC, "-t", "-c", cfg], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("badlisten.yaml:15: realms[0].listen[0].address: 10.30.0.9 is not an "
                      "address of any io.ports[].addresses", r.stderr)


# ---------------------------------------------------------------------------
# RTP over IPv6: its own SBC, since the main topology's realms have IPv4
# media addresses (a realm has one).

from sipua import make_response  # noqa: E402 (only this section answers by hand)

MEDIA6_CONFIG = """\
workers: 2
log_level: info
sip: {{ t1_ms: 100, t2_ms: 400, t4_ms: 500, timer_c_ms: 3000, user_agent: sbc-dpdk-test }}
control: {{ metrics: "" }}
io:
  backend: dpdk
  eal_args: ["--no-huge", "-m", "512", "--file-prefix={prefix}", "--no-telemetry"]
  mbufs: 16383
  mbuf_size: 4224
  rx_queue_size: 256
  tx_queue_size: 256
  power_saving: true
  idle_sleep_us: 200
  ports:
    - device: "net_af_packet0,iface=m0,framesz=4096,blocksz=4096"
      mac: "02:00:00:00:28:01"
      addresses: [ "{sbc_4}/24", "{sbc_a6}/64", "{sbc_b6}/64" ]
realms:
  - name: a6
    hide_topology: false
    listen: [ {{ address: "{sbc_a6}", port: 5060 }} ]
    media: {{ address: "{sbc_a6}", ports: 44000-44999 }}
  - name: b6
    trusted: true
    hide_topology: false
    listen: [ {{ address: "{sbc_b6}", port: 5060 }} ]
    media: {{ address: "{sbc_b6}", ports: 45000-45999 }}
  - name: c4
    trusted: true
    hide_topology: false
    listen: [ {{ address: "{sbc_4}", port: 5060 }} ]
    media: {{ address: "{sbc_4}", ports: 46000-46999 }}
routes:
  - name: to-six
    from_realm: a6
    to_realm: b6
    ruri_user_prefix: six
    next_hops: [ {{ host: "{callee6}", port: 5062 }} ]
  - name: to-four
    from_realm: a6
    to_realm: c4
    ruri_user_prefix: four
    next_hops: [ {{ host: "{callee4}", port: 5062 }} ]
"""


class DpdkMediaIPv6(unittest.TestCase):
    """RTP from an IPv6 caller (realm a6) on the DPDK backend: to an IPv6
    callee through realm b6, relayed in place both ways (the IPv6 rewrite:
    addresses, ports, incremental UDP checksum), and to an IPv4 callee
    through realm c4, between families, which goes out from a copy both
    ways. One af_packet port on a veth to a namespace holding all three
    peers; two workers, so relay ports are handed between them too."""

    SBC_A6, SBC_B6, SBC_4 = "2001:db8:40::1", "2001:db8:40::11", "10.40.0.1"
    CALLER, CALLEE6, CALLEE4 = "2001:db8:40::2", "2001:db8:40::3", "10.40.0.2"
    SIZES = (160, 1, 33, 1000, 80, 161)   # RTP payload bytes, one burst each way
    ROUNDS = 2
    done = set()

    @classmethod
    def setUpClass(cls):
        cls.ns_s, cls.ns_p = TAG + "ms", TAG + "mp"
        cls.tmp = tempfile.TemporaryDirectory(prefix="sbc-dpdk6-")
        _CLEANUP.append(cls.tmp.cleanup)
        for ns in (cls.ns_s, cls.ns_p):
            make_netns(ns)
        run("ip", "link", "add", "m0", "netns", cls.ns_s, "type", "veth", "peer", "name", "m1",
            "netns", cls.ns_p)
        quiet_ipv6(cls.ns_s, "m0")
        run("ip", "link", "set", "m0", "up", ns=cls.ns_s)
        run("ip", "addr", "add", cls.CALLEE4 + "/24", "dev", "m1", ns=cls.ns_p)
        for a in (cls.CALLER, cls.CALLEE6):
            run("ip", "-6", "addr", "add", a + "/64", "dev", "m1", "nodad", ns=cls.ns_p)
        run("ip", "link", "set", "m1", "up", ns=cls.ns_p)
        tx_checksum_off(cls.ns_p, "m1")
        text = MEDIA6_CONFIG.format(prefix=TAG + "m", sbc_4=cls.SBC_4, sbc_a6=cls.SBC_A6,
                                    sbc_b6=cls.SBC_B6, callee6=cls.CALLEE6, callee4=cls.CALLEE4)
        cls.sbc = Daemon(cls.tmp.name, text, ns=cls.ns_s)
        wait_for(lambda: not cls.sbc.alive() or "listening on" in cls.sbc.log_text(), 20,
                 "the SBC to listen")
        if not cls.sbc.alive():
            raise AssertionError("sbc exited:\n" + cls.sbc.log_text())
        with netns(cls.ns_p):
            cls.caller = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            cls.caller.bind((cls.CALLER, 5060))
            cls.callee6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            cls.callee6.bind((cls.CALLEE6, 5062))
            cls.callee4 = UA(cls.CALLEE4, 5062, name="callee4", user="four", t1=T1)
            cls.sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
            cls.sniff.bind(("m1", 0x86dd))
        for x in (cls.caller, cls.callee6, cls.callee4, cls.sniff):
            _CLEANUP.append(x.close)

    @classmethod
    def tearDownClass(cls):
        cls.sbc.stop()

    def tearDown(self):
        type(self).done.add(self._testMethodName)

    def sip_wait(self, sock, pred, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data, addr = sock.recvfrom(65535)
            except socket.timeout:
                break
            m = SipMessage.parse(data)
            if pred(m):
                return m, addr
        raise AssertionError("no %s within %.1f s" % (what, timeout))

    def invite(self, user, callee, offer_port):
        """INVITE from the caller to user@callee through the SBC; returns
        its Call-ID, From tag, Request-URI and the offer sent."""
        cid, ftag = new_call_id("m6"), new_tag()
        ruri = "sip:%s@%s:5062" % (user, callee if ":" not in callee else "[%s]" % callee)
        offer = sdp("carol", self.CALLER, offer_port).replace(b"IN IP4", b"IN IP6")
        inv = make_request("INVITE", ruri, from_="<sip:carol@[%s]>;tag=%s" % (self.CALLER, ftag),
                           to="<%s>" % ruri, call_id=cid, cseq=1, via_host="[%s]" % self.CALLER,
                           via_port=5060, contact="<sip:carol@[%s]:5060>" % self.CALLER,
                           body=offer, content_type="application/sdp")
        self.caller.sendto(bytes(inv), (self.SBC_A6, 5060))
        return cid, offer

    def caller_200(self, cid, answer_sent, media_ip):
        r200, _ = self.sip_wait(self.caller, lambda m: m.call_id == cid and m.status == 200,
                                "200 at the caller")
        problem = sdp_rewrite_problem(answer_sent, r200.body, media_ip, (44000, 44999))
        self.assertIsNone(problem, "200 SDP towards the IPv6 caller: %s" % problem)
        return int(re.search(rb"m=audio (\d+)", r200.body).group(1))

    def sniff_rtp6(self, dport, count, timeout=3.0):
        """The next `count` UDP/IPv6 frames the SBC sent to port dport on the
        peers' link, checked as the peers' kernel would not (veth leaves
        checksums unverified): the SBC's MAC, a valid UDP checksum (never
        0 over IPv6). Returns their (source, payload)."""
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count:
            self.sniff.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                frame, addr = self.sniff.recvfrom(65535)
            except socket.timeout:
                break
            if addr[2] == socket.PACKET_OUTGOING or frame[12:14] != b"\x86\xdd":
                continue
            ip = frame[14:]
            if ip[6] != 17 or struct.unpack("!H", ip[42:44])[0] != dport:
                continue
            plen = struct.unpack("!H", ip[4:6])[0]
            udp = ip[40:40 + plen]
            self.assertEqual(frame[6:12], mac_bytes("02:00:00:00:28:01"), "Ethernet source")
            self.assertNotEqual(udp[6:8], b"\0\0", "UDP checksum present (mandatory in IPv6)")
            pseudo = ip[8:40] + struct.pack("!IxxxB", len(udp), 17)
            self.assertEqual(inet_csum(pseudo + udp), 0, "UDP checksum")
            src = (socket.inet_ntop(socket.AF_INET6, ip[8:24]), struct.unpack("!H", udp[:2])[0])
            got.append((src, udp[8:]))
        self.assertEqual(len(got), count, "IPv6 frames from the SBC seen on m1")
        return got

    def relay(self, a, a_dst, b, b_dst, b_family, sniff_a, sniff_b):
        """Bursts each way between RTP sockets a (the caller's) and b
        through the SBC: payloads intact, in order, from the relay
        addresses; with sniff_x, the IPv6 frames towards x checked on the
        wire too."""
        seq = 0
        for rnd in range(self.ROUNDS):
            out = [struct.pack("!BBHII", 0x80, 0, seq + i, 0, 0x1234) + os.urandom(n)
                   for i, n in enumerate(self.SIZES)]
            seq += len(out)
            for pkt in out:
                a.sendto(pkt, a_dst)
            got = [b.recvfrom(2048) for _ in out]
            self.assertEqual([(d, src[:2]) for d, src in got], [(p, b_dst) for p in out],
                             "RTP caller -> callee, round %d" % rnd)
            if sniff_b:
                self.assertEqual(self.sniff_rtp6(b.getsockname()[1], len(out)),
                                 [(b_dst, p) for p in out], "on the wire, round %d" % rnd)
            back = [struct.pack("!BBHII", 0x80, 0, seq + i, 0, 0x5678) + os.urandom(n)
                    for i, n in enumerate(self.SIZES)]
            seq += len(back)
            for pkt in back:
                b.sendto(pkt, b_dst)
            got = [a.recvfrom(2048) for _ in back]
            self.assertEqual([(d, src[:2]) for d, src in got], [(p, a_dst) for p in back],
                             "RTP callee -> caller, round %d" % rnd)
            if sniff_a:
                self.assertEqual(self.sniff_rtp6(a.getsockname()[1], len(back)),
                                 [(a_dst, p) for p in back], "on the wire, round %d" % rnd)

    def rtp_sockets(self, callee_family, callee_ip, caller_port, callee_port):
        with netns(self.ns_p):
            ra = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            ra.bind((self.CALLER, caller_port))
            rb = socket.socket(callee_family, socket.SOCK_DGRAM)
            rb.bind((callee_ip, callee_port))
        ra.settimeout(2)
        rb.settimeout(2)
        return ra, rb

    def test_01_ipv6_to_ipv6_in_place(self):
        ra, rb = self.rtp_sockets(socket.AF_INET6, self.CALLEE6, 40100, 50100)
        try:
            cid, offer = self.invite("six", self.CALLEE6, 40100)
            inv, src = self.sip_wait(self.callee6, lambda m: m.method == "INVITE",
                                     "INVITE at the IPv6 callee")
            problem = sdp_rewrite_problem(offer, inv.body, self.SBC_B6, (45000, 45999))
            self.assertIsNone(problem, "INVITE SDP towards the IPv6 callee: %s" % problem)
            port_b = int(re.search(rb"m=audio (\d+)", inv.body).group(1))
            answer = sdp("six", self.CALLEE6, 50100).replace(b"IN IP4", b"IN IP6")
            self.callee6.sendto(bytes(make_response(
                inv, 200, to_tag=new_tag(), contact="<sip:six@[%s]:5062>" % self.CALLEE6,
                body=answer, content_type="application/sdp")), src[:2])
            port_a = self.caller_200(cid, answer, self.SBC_A6)
            self.sniff_drain()
            self.relay(ra, (self.SBC_A6, port_a), rb, (self.SBC_B6, port_b), socket.AF_INET6,
                       True, True)
        finally:
            ra.close()
            rb.close()

    def test_02_ipv6_to_ipv4_copied(self):
        ra, rb = self.rtp_sockets(socket.AF_INET, self.CALLEE4, 40102, 50102)
        try:
            cid, offer = self.invite("four", self.CALLEE4, 40102)
            inv = self.callee4.expect(method="INVITE", call_id=cid, timeout=5)
            problem = sdp_rewrite_problem(offer, inv.body, self.SBC_4, (46000, 46999))
            self.assertIsNone(problem, "INVITE SDP from IPv6 towards IPv4: %s" % problem)
            port_b = int(re.search(rb"m=audio (\d+)", inv.body).group(1))
            answer = sdp("four", self.CALLEE4, 50102)
            self.callee4.answer(inv, 200, body=answer, content_type="application/sdp")
            port_a = self.caller_200(cid, answer.replace(b"IN IP4 " + self.CALLEE4.encode(),
                                                         b"IN IP6 " + self.CALLER.encode()),
                                     self.SBC_A6)
            self.sniff_drain()
            self.relay(ra, (self.SBC_A6, port_a), rb, (self.SBC_4, port_b), socket.AF_INET,
                       True, False)
        finally:
            ra.close()
            rb.close()

    def sniff_drain(self):
        self.sniff.setblocking(False)
        try:
            while True:
                self.sniff.recv(65535)
        except OSError:
            pass

    def test_99_counters(self):
        cls = type(self)
        status = cls.sbc.stop()
        log = cls.sbc.log_text()
        self.assertEqual(status, 0, "sbc exit status; log:\n" + log)
        c = counters(log)
        per_call = 2 * self.ROUNDS * len(self.SIZES)
        inplace = per_call if "test_01_ipv6_to_ipv6_in_place" in cls.done else 0
        copied = per_call if "test_02_ipv6_to_ipv4_copied" in cls.done else 0
        self.assertEqual(c.get("MEDIA_INPLACE", 0), inplace, "%s\nlog:\n%s" % (c, log))
        self.assertEqual(c.get("MEDIA_COPIED", 0), copied, "%s\nlog:\n%s" % (c, log))
        self.assertEqual(c.get("MEDIA_LENT", 0), inplace + copied, "%s" % c)
        for bad in ("RX_BAD_UDP", "RX_BAD_IP6", "TX_BAD", "MEDIA_HANDOFF_LOST"):
            self.assertEqual(c.get(bad, 0), 0, "%s in %s" % (bad, c))
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(marker, log)


def main():
    global SBC, SRC
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    SBC, SRC = os.path.abspath(sys.argv[1]), sys.argv[2]
    status = dpdk_preflight(SBC, "the DPDK integration test")
    if status is not None:
        return status
    # meson's timeout SIGKILLs the test 0.5 s after its SIGTERM, which may
    # cut the cleanup short: what a killed run left (its PID no longer
    # runs) goes now. The daemons die with the test (die_with_parent).
    stale = sweep_stale(r"sbct(\d+)(?:s|a|c|e|ms|mp)", r"sbct(\d+)[ehm]?")
    if stale:
        print("deleted what killed runs left: %s" % " ".join(stale), file=sys.stderr)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        prog = unittest.main(argv=[sys.argv[0]] + sys.argv[3:], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        _cleanup()


if __name__ == "__main__":
    sys.exit(main())
