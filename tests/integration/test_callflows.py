#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""SIP call flows through the sbc proxy core (Python 3 standard library only).

usage: test_callflows.py SBC_BINARY SOURCE_DIR [-k PATTERN]... [-v] [--trace]
                         [--log-level LEVEL] [--hide on|off|both]
                         [--backend socket|dpdk]
       test_callflows.py --direct [-k PATTERN]...   # UAs talk to each other,
                                                    # no SBC: proves the harness
       test_callflows.py --mock [-k PATTERN]...     # a Python model of the spec'd
                                                    # proxy (sipua.RefProxy)

Topology (every test starts its own daemon on a temporary configuration with
free ports, and stops it, by PID, when the test ends):

    phones 127.0.0.4:*  --  access 127.0.0.1:PA  [sbc]  core 127.0.0.2:PC  --  127.0.0.3:PU1 (hop 1)
                                                                           --  127.0.0.3:PU2 (hop 2)
                                                                           --  127.0.0.3:*   (core UAs)

--backend dpdk (root; exit 77 when the sbc has no DPDK, or when not root
outside CI) runs the same flows with the daemon on its DPDK backend. Each of
the two mode processes builds its own network, named after its PID:

    netns <tag>u (the UAs)                          netns <tag>s (the SBC host)
    ua PHONE_IP 10.31.0.2/24  ------ veth ------  sa [net_af_packet0] access 10.31.0.1:5060
    uc UAS_IP   10.32.0.2/24  ------ veth ------  sc [net_af_packet1] core   10.32.0.1:5070
                                                         [sbc, 2 workers, power_saving]

(the hidden-mode process uses 10.33.0.0/24 and 10.34.0.0/24, so the two
runs' ladders and logs never look alike). The daemon runs under `ip netns
exec <tag>s`; the test process moves its main thread into <tag>u before it
makes any socket or thread, so every UA lives there. The SBC owns its
addresses entirely, so its SIP ports are fixed (distinct per realm, which the
leak scanner needs to tell them apart). Tx checksum offload is off on the
UA ends (the af_packet ports would see partial checksums). Namespaces,
veths and daemons go whatever happens: try/finally, atexit, SIGTERM (the
mode processes run in their own sessions, so meson's kill of the test's
process group reaches them only as the SIGTERM their parent forwards, and
its SIGKILL 0.5 s later not at all), PR_SET_PDEATHSIG on every child, and
a sweep of the namespaces of runs whose PID is gone (a SIGKILLed run).

Every relayed message is compared with what the sender sent, transformed as a
stateful double-Record-Route proxy must (one Via of the SBC on top, Max-Forwards
decremented or 70 added, Record-Route of both SBC sides on dialog-creating
requests, its own Route entries consumed, its Via removed from responses; all
else, body included, byte for byte, except SDP: media is anchored in both
modes, so an SDP of an offer/answer (INVITE, UPDATE, PRACK, ACK and their
1xx/2xx) arrives with o= and c= naming the SBC's media address of the
receiver's realm and every m= (a=rtcp) port a relay port of that realm's
range, the rest byte for byte; an SDP outside offer/answer (OPTIONS, MESSAGE)
is untouched, or only has its o=/c= addresses hidden when hiding). A mismatch prints a diff of expected
versus received and the ladder of the whole test (every datagram of every UA)
plus the end of the SBC log.

Two modes, by default both at once in two processes (--hide both):
  plain   (--hide off) hide_topology false on both realms: the expectations
          above.
  hidden  (--hide on) the default configuration: access hide_topology true,
          core false. A request crossing the SBC carries exactly one Via (the
          SBC's), no Record-Route and no Route (but the stored route set of
          the target side, in dialog), every Contact replaced by
          <sip:sbc+28 base32@SBC address of that realm> plus the original
          header params, Server/User-Agent/Warning/Path/Error-Info/Call-Info/
          P-Preferred-Identity removed (P-Asserted-Identity too from the
          untrusted access realm), SDP anchored as above. Responses get the Via stack of the
          request back exactly, Contacts tokenised the same way. The UAs behave
          per RFC 3261: the route set is empty, the remote target is the
          token, and requests to a token arrive with the receiver's own
          Contact as Request-URI (towards the access realm: at the address
          the phone's messages came from). Net.expected_request /
          expected_response hold both modes' rules.
          A leak scanner (leakscan.py) records every datagram the SBC sends
          to a UA and fails the test (and the run, scanned again at its end)
          if one sent into a realm holds an address, port, host name or token
          of the other realm (headers and SDP, c=/m= included: the SBC's
          relay addresses and ports only).
The plain run also proves the scanner bites (ScannerCheck).
UAs use AORs of a service domain (example.com) and Call-IDs without @host:
From, To and Call-ID cross the SBC unchanged (Call-ID masking is optional
and not built).

-k PATTERN runs the tests whose name contains PATTERN (unittest -k rules).
--trace prints the ladder with full messages for every test, pass or fail.
"""
import atexit
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import leakscan  # noqa: E402
import netns  # noqa: E402
import sipua  # noqa: E402
from sbcproc import free_port  # noqa: E402  (also cf.free_port for the suites built on this one)
from sipua import (UA, DEFAULT_TIMEOUT, Expected, Match, NameAddr, RefProxy, SipMessage,  # noqa: E402
                   Uri, Via, assert_message, canon, format_params, ladder, make_request,
                   new_call_id, new_tag, sdp_rewrite_problem)

# Addresses: loopback with the socket backend; --backend dpdk replaces them
# all (dpdk_network()) before any test runs, so read them at call time,
# never into a default argument.
ACCESS_IP = "127.0.0.1"   # SBC, access realm
CORE_IP = "127.0.0.2"     # SBC, core realm
UAS_IP = "127.0.0.3"      # core side: next hops, registrar, core UAs
PHONE_IP = "127.0.0.4"    # access side: phones

T1 = 0.1
TIMER_B = 64 * T1          # 6.4 s
TIMER_C = 3.0
# Branches of the SBC's Via: "z9hG4bK-sbc-" (stateful) or "z9hG4bK-sbcsl-"
# (ACK of a 2xx, forwarded statelessly): both start with this.
SBC_BRANCH_PREFIX = "z9hG4bK-sbc"
# AORs and request targets use a service domain, not an address of either
# realm: From/To/Call-ID cross the SBC unchanged, so an IP there would be a
# leak the UAs made themselves. (Call-IDs carry no "@host" for the same
# reason: Call-ID masking is optional and not built.)
DOMAIN = "example.com"
RURI_BOB = "sip:bob@%s" % DOMAIN
TRUSTED = {"access": False, "core": True}
MEDIA_IP = {"access": ACCESS_IP, "core": CORE_IP}   # realm media.address in CONFIG
# Relay port ranges (below the ephemeral ports). The plain and hidden runs
# go at once, and other suites use this harness in parallel (they set
# MEDIA_RANGES): each needs its own, or their daemons' relay sockets would
# collide on one address.
MEDIA_RANGES_BY_MODE = {
    False: {"access": (24000, 24499), "core": (25000, 25499)},
    True: {"access": (24500, 24999), "core": (25500, 25999)},
}
MEDIA_RANGES = None        # None: by mode (above)
# Removed when hiding (P-Asserted-Identity too when it comes from an
# untrusted realm): they name equipment or hosts.
HIDE_HEADERS = {"server", "user-agent", "warning", "path", "error-info", "call-info",
                "p-preferred-identity"}
TOKEN_USER = re.compile(r"^sbc[a-z2-7]{28}$")

MODE = "sbc"               # sbc | direct | mock
BACKEND = "socket"         # socket | dpdk: the daemon's io backend (--backend)
NS_SBC = None              # dpdk: the network namespace the daemon runs in
SIP_PORTS = None           # dpdk: fixed listen ports by realm (None: free ports)
IO_CONFIG = ""             # dpdk: the io: section of CONFIG
HIDE = False               # topology hiding on the access realm (core: off)
SCANNER = None             # leakscan.LeakScanner of a hidden-mode run
SBC = None
SRC = None
LOG_LEVEL = "info"
TRACE = False

CONFIG = """\
workers: 2
log_level: {log_level}
sip:
  t1_ms: 100
  t2_ms: 400
  t4_ms: 500
  timer_c_ms: 3000
  user_agent: "sbc-callflows"
control:
  metrics: ""
{io}realms:
  - name: access
    trusted: false
    hide_topology: {hide_access}
    listen:
      - {{ address: {access_ip}, port: {pa}, transport: udp }}
    advertise: {access_ip}
    media: {{ address: {access_ip}, ports: {access_ports} }}
  - name: core
    trusted: true
    hide_topology: false
    listen:
      - {{ address: {core_ip}, port: {pc}, transport: udp }}
    advertise: {core_ip}
    media: {{ address: {core_ip}, ports: {core_ports} }}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
{hops}
  - name: core-to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""

PIDF_OPEN = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
             "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:bob@example.com\">\r\n"
             "  <tuple id=\"t1\"><status><basic>open</basic></status></tuple>\r\n"
             "</presence>\r\n").encode()
PIDF_CLOSED = PIDF_OPEN.replace(b"open", b"closed")
UTF8_TEXT = "Grüße — ☎ héllo, ça marche? ✓\r\nline two;with,commas <and> \"quotes\"".encode("utf-8")


# --backend dpdk: two af_packet ports on veths (the module doc). Frames up to
# 4 kB (af_packet hands the SBC IPv4 datagrams the kernel reassembled),
# power_saving because both mode processes run a 2-worker daemon at once on
# what may be a 2-core machine; no hugepages needed (--no-huge), nothing
# shared between the two runs' EALs (--no-shconf, a --file-prefix each).
DPDK_IO = """\
io:
  backend: dpdk
  eal_args: ["--no-huge", "-m", "256", "--no-shconf", "--file-prefix={prefix}", "--no-telemetry",
             "--log-level=notice"]
  mbufs: 8191
  mbuf_size: 4224
  rx_queue_size: 256
  tx_queue_size: 256
  power_saving: true
  idle_sleep_us: 200
  ports:
    - device: "net_af_packet0,iface=sa,framesz=4096,blocksz=4096"
      addresses: [ {access_ip}/24 ]
    - device: "net_af_packet1,iface=sc,framesz=4096,blocksz=4096"
      addresses: [ {core_ip}/24 ]
"""
# Subnets (access, core) by mode (hidden?): separate namespaces already keep
# the two runs apart; distinct subnets keep their logs and ladders apart.
DPDK_SUBNETS = {False: ("10.31.0", "10.32.0"), True: ("10.33.0", "10.34.0")}
NS_PREFIX = "sbcf"         # + PID + "s" (the SBC host) / "u" (the UAs)


def sdp(user="ua", ip=None, port=40000, direction="sendrecv", version=1):
    """sipua.sdp with the phones' address by default (read at call time:
    --backend dpdk moves the phones off loopback)."""
    return sipua.sdp(user, PHONE_IP if ip is None else ip, port, direction, version)


def rr(addr):
    return "<sip:%s:%d;lr;r2=on>" % addr


# ---------------------------------------------------------------------------
# The SBC under test

_RUNNING = set()   # daemons this process started and has not stopped yet


def _stop_all():
    for d in list(_RUNNING):
        d.stop()


def _on_sigterm(signum, frame):
    # meson's timeout: unwind (tearDown / atexit stop our daemon) instead of dying
    raise KeyboardInterrupt("SIGTERM")


atexit.register(_stop_all)


class Daemon:
    """The sbc binary on a temporary configuration (in netns NS_SBC when
    set); stopped by PID, and sent SIGTERM by the kernel if this process
    dies without stopping it."""

    def __init__(self, workdir, config_text):
        self.cfg = os.path.join(workdir, "sbc.yaml")
        with open(self.cfg, "w") as f:
            f.write(config_text)
        self.logpath = os.path.join(workdir, "sbc.log")
        self.log = open(self.logpath, "w+")
        cmd = [SBC, "-c", self.cfg]
        if NS_SBC:
            cmd = ["ip", "netns", "exec", NS_SBC] + cmd
        self.proc = subprocess.Popen(netns.die_with_parent(cmd), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        _RUNNING.add(self)

    def alive(self):
        return self.proc.poll() is None

    def exit_code(self):
        return self.proc.poll()

    def log_text(self):
        try:
            if not self.log.closed:
                self.log.flush()
            with open(self.logpath, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        _RUNNING.discard(self)
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    # (DPDK: EAL and port teardown, ~0.4 s; room for ASan and load)
                    self.proc.wait(timeout=10 if NS_SBC else 3)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            if not self.log.closed:
                self.log.close()


class Mock:
    """sipua.RefProxy in place of the daemon (--mock)."""

    def __init__(self, access, core, hops):
        self.proxy = RefProxy(access, core, hops, t1=T1, timer_c=TIMER_C)

    def alive(self):
        return self.proxy.alive()

    def exit_code(self):
        return None

    def log_text(self):
        return "\n".join(self.proxy.log)

    def stop(self):
        self.proxy.close()


def wait_ready(sbc, addrs, timeout=10.0, sources=None):
    """Any SIP answer to an OPTIONS on every listen address = up. sources:
    the address to probe each from (default: a phone's), one of its realm's
    subnet with the DPDK backend (the SBC answers on-link peers only)."""
    for addr, src in zip(addrs, sources or [PHONE_IP] * len(addrs)):
        probe = UA(src, 0, name="probe")
        try:
            deadline = time.monotonic() + timeout
            while True:
                if not sbc.alive():
                    return "exited with status %s" % sbc.exit_code()
                req = make_request("OPTIONS", "sip:%s:%d" % addr, from_="<sip:probe@%s>;tag=%s"
                                   % (src, new_tag()), to="<sip:%s:%d>" % addr,
                                   call_id=new_call_id(None), cseq=1, via_host=probe.host,
                                   via_port=probe.port)
                probe.send(req, addr)
                try:
                    probe.expect(call_id=req.call_id, timeout=0.05)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        return "no answer to OPTIONS at %s:%d within %.0f s" % (addr + (timeout,))
        finally:
            probe.close()
    return None


# Data-plane counters (DPDK workers log theirs when they stop) that must not
# move on the test network: malformed or truncated frames, failed address
# resolution, full queues or pools, relay-port frames lost between workers.
DPDK_NEVER = ("RX_BAD_L2", "RX_BAD_IP", "RX_TRUNCATED", "RX_BAD_UDP", "ARP_BAD", "ARP_CONFLICT",
              "NBR_SYNC_LOST", "NBR_QUEUE_FULL", "NBR_UNRESOLVED", "NBR_EVICTED",
              "MEDIA_HANDOFF_LOST", "TX_BAD", "TX_NO_ROUTE", "TX_NOMBUF", "TX_FULL")


def dpdk_stop_problems(status, log):
    """What is wrong with a DPDK daemon's stop: its exit status, a sanitizer
    report made at exit (leaks), counters of DPDK_NEVER that moved."""
    problems = []
    if status != 0:
        problems.append("exit status %s" % status)
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if marker in log:
            problems.append("sanitizer report (%s)" % marker)
    for m in re.finditer(r"dpdk: worker (\d+): (.*)", log):
        for item in m.group(2).split(", "):
            name, _, value = item.rpartition(" ")
            if name in DPDK_NEVER:
                problems.append("worker %s: %s %s" % (m.group(1), name, value))
    if problems:
        problems.append("log (last 40 lines):\n" + "\n".join(log.splitlines()[-40:]))
    return problems


def wait_listening(sbc, timeout):
    """DPDK: wait for the daemon to say it listens before probing it. Probes
    sent while its ports are not up yet wait in the UAs' kernel for ARP and
    reach it as one burst, more than its neighbour queue holds while it
    resolves the sender in turn (NBR_QUEUE_FULL, a bounded queue doing its
    job, but not what a flow should start with)."""
    deadline = time.monotonic() + timeout
    while "listening on" not in sbc.log_text():
        if not sbc.alive():
            return "exited with status %s" % sbc.exit_code()
        if time.monotonic() > deadline:
            return "not listening within %.0f s" % timeout
        time.sleep(0.02)
    return None


# ---------------------------------------------------------------------------
# The network of one test: SBC (or not), UAs, expectation builders

class Net:
    """hide: topology hiding on the access realm (default: the run's mode,
    HIDE); scanner: a leakscan.LeakScanner that records what the SBC sends
    to every UA of this network (default: the run's, in hidden mode)."""

    def __init__(self, test, single_hop=False, hide=None, scanner=None):
        self.test = test
        self.t0 = time.monotonic()
        self.uas = []
        self.sbc = None
        self.tmp = None
        self.access = self.core = None
        self.hidden = (HIDE if hide is None else hide) and MODE == "sbc"
        self.scanner = scanner if scanner is not None else (SCANNER if self.hidden else None)
        self.scope = test.id().rpartition(".")[2] if test is not None else "net"
        self.reg_map = {}        # binding token -> the device's Contact URI (hidden REGISTER)
        self.media_ranges = MEDIA_RANGES or MEDIA_RANGES_BY_MODE[self.hidden]
        if self.scanner is not None:
            self.scanner.begin(self.scope)
        self.uas1 = self.ua(UAS_IP, "bob", "uas1")      # next hop 1 / registrar
        self.uas2 = self.ua(UAS_IP, "bob", "uas2")      # next hop 2
        if MODE == "direct":
            return
        hops = [(UAS_IP, self.uas1.port, 1)] + ([] if single_hop else [(UAS_IP, self.uas2.port, 2)])
        err = None
        # A probed port may be taken before the daemon binds it: retry. (DPDK:
        # the SBC owns its addresses, so its ports are fixed and never taken.)
        for _attempt in range(1 if SIP_PORTS else 3):
            if SIP_PORTS:
                self.access = (ACCESS_IP, SIP_PORTS["access"])
                self.core = (CORE_IP, SIP_PORTS["core"])
            else:
                self.access = (ACCESS_IP, free_port(ACCESS_IP))
                self.core = (CORE_IP, free_port(CORE_IP))
            if MODE == "mock":
                self.sbc = Mock(self.access, self.core, hops)
                return
            self.tmp = tempfile.TemporaryDirectory(prefix="sbc-callflows-")
            text = CONFIG.format(
                log_level=LOG_LEVEL, io=IO_CONFIG, access_ip=ACCESS_IP, core_ip=CORE_IP,
                access_ports="%d-%d" % self.media_ranges["access"],
                core_ports="%d-%d" % self.media_ranges["core"],
                hide_access="true" if self.hidden else "false",
                pa=self.access[1], pc=self.core[1],
                hops="\n".join("      - { host: %s, port: %d, priority: %d, weight: 1 }" % h
                               for h in hops))
            self.sbc = Daemon(self.tmp.name, text)
            err = wait_listening(self.sbc, 20.0) if NS_SBC else None
            err = err or wait_ready(self.sbc, [self.access, self.core], sources=[PHONE_IP, UAS_IP])
            if err is None:
                if self.scanner is not None:
                    self.scanner.add_sbc_face("access", self.access)
                    self.scanner.add_sbc_face("core", self.core)
                    # SDP into a realm names the SBC's media address there only
                    self.scanner.add_media_address("access", MEDIA_IP["access"])
                    self.scanner.add_media_address("core", MEDIA_IP["core"])
                return
            self.sbc_log_at_failure = self.sbc.log_text()
            self.sbc.stop()
            self.tmp.cleanup()
            self.sbc = self.tmp = None
        self.close()
        raise RuntimeError("sbc did not start (%s); configuration:\n%s\nlog:\n%s"
                           % (err, text, self.sbc_log_at_failure))

    # -- UAs -----------------------------------------------------------------------
    def ua(self, host, user, name=None):
        ua = UA(host, 0, name=name or user, user=user, t1=T1, clock=self.t0, domain=DOMAIN,
                call_id_host=None)
        self.uas.append(ua)
        if self.scanner is not None:
            self.scanner.attach(ua, self.side(ua))
        return ua

    def phone(self, user="alice", name=None):
        return self.ua(PHONE_IP, user, name)

    def core_ua(self, user="carol", name=None):
        return self.ua(UAS_IP, user, name)

    @property
    def proxied(self):
        return MODE != "direct"

    def side(self, ua):
        return "core" if ua.host == UAS_IP else "access"

    def aor(self, user):
        return "sip:%s@%s" % (user, DOMAIN)

    def sbc_addr(self, side):
        return self.access if side == "access" else self.core

    def to_core(self):
        """Where a phone sends requests for the core (SBC access side; direct:
        next hop 1)."""
        return self.access if self.proxied else self.uas1.addr

    def to_access(self, phone):
        return self.core if self.proxied else phone.addr

    def sbc_routes(self, side):
        """Route set a UA on that side uses towards the SBC (double RR)."""
        if not self.proxied:
            return []
        me, other = self.sbc_addr(side), self.sbc_addr("core" if side == "access" else "access")
        return [rr(me), rr(other)]

    # -- expectations --------------------------------------------------------------
    def sbc_via(self, side):
        addr = self.sbc_addr(side)

        def ok(v):
            via = Via(v)
            return (via.transport == "UDP" and via.host == addr[0] and via.port == addr[1]
                    and (via.branch or "").startswith(SBC_BRANCH_PREFIX))
        return Match("SIP/2.0/UDP %s:%d;branch=%s..." % (addr[0], addr[1], SBC_BRANCH_PREFIX), ok)

    def is_sbc_uri(self, value):
        try:
            u = NameAddr(value).uri
        except sipua.SipParseError:
            return False
        return self.proxied and (u.host, u.port or 5060) in (self.access, self.core)

    def src_for(self, receiver, sender):
        """Source address a message from sender arrives at receiver with."""
        return self.sbc_addr(self.side(receiver)) if self.proxied else sender.addr

    # -- topology hiding: what the other side sees instead ---------------------------
    def is_token_uri(self, text, side=None):
        """A URI the SBC minted: sip:sbc<28 base32>@<SBC address of side>."""
        try:
            u = Uri(text)
        except sipua.SipParseError:
            return False
        addrs = [self.sbc_addr(side)] if side else [self.access, self.core]
        return bool(u.user and TOKEN_USER.match(u.user)) and (u.host, u.port or 5060) in addrs

    def token_contact(self, side, original):
        """Match for a Contact value rewritten towards `side`: the SBC's
        address there with a token user part, the original header params
        (;expires=, ;+sip.instance ...) kept, nothing else of the original."""
        na = NameAddr(original)
        addr = self.sbc_addr(side)

        def ok(v):
            g = NameAddr(v)
            return (bool(g.uri.user and TOKEN_USER.match(g.uri.user)) and g.uri.scheme == "sip"
                    and (g.uri.host, g.uri.port) == addr and not g.uri.params
                    and not g.uri.headers and g.params == na.params)
        return Match("<sip:sbc<28 base32>@%s:%d>%s (token for %s)" % (
            addr[0], addr[1], format_params(na.params), original), ok)

    def check_remote_target(self, dlg, real):
        """The remote target a UA's dialog has: the peer's Contact (plain)
        or a token of the SBC on the UA's side (hidden)."""
        if self.hidden:
            self.test.assertTrue(self.is_token_uri(dlg.remote_target, self.side(dlg.ua)),
                                 "%s's remote target %r is not an SBC token on its side"
                                 % (dlg.ua.name, dlg.remote_target))
        else:
            self.test.assertEqual(dlg.remote_target, real)

    def local_contact(self, ua, call_id, local_tag):
        """The Contact URI ua advertised last in the dialog (call_id, its tag
        local_tag): the Request-URI the hiding SBC puts on requests to it."""
        with ua.lock:
            sent = [m for _, d, _, m, note in ua.history
                    if d == "out" and not note.startswith("DROPPED") and isinstance(m, SipMessage)]
        for m in reversed(sent):
            if m.call_id != call_id or m.contact_uri is None:
                continue
            if m.is_request and m.from_tag == local_tag and m.method in sipua.TARGET_REFRESH:
                return str(m.contact_uri)
            if m.is_response and m.to_tag == local_tag and 100 < m.status < 300:
                return str(m.contact_uri)
        return str(Uri(ua.contact[1:-1]))

    def request_of(self, ua, resp):
        """The request ua sent that resp answers (same Call-ID and CSeq)."""
        reqs = ua.sent(call_id=resp.call_id,
                       match=lambda m: m.is_request and m.cseq == resp.cseq and m.method != "ACK")
        return reqs[-1] if reqs else None

    def media_body(self, msg, side):
        """msg's body as it reaches `side`: SDP anchored (see the module doc;
        checked by sipua.sdp_rewrite_problem), other bodies byte for byte."""
        ct = (msg.get("content-type") or "").split(";")[0].strip().lower()
        if ct != "application/sdp" or not msg.body or not self.proxied or MODE != "sbc":
            return msg.body
        method = msg.method or msg.cseq_method
        oa = method in ("INVITE", "UPDATE", "PRACK", "ACK") and (
            msg.is_request or 100 < msg.status < 300)
        if not oa and not self.hidden:
            return msg.body
        ip, ports = MEDIA_IP[side], (self.media_ranges[side] if oa else None)
        strip = oa and not TRUSTED[side]

        def ok(got, sent=msg.body):
            return sdp_rewrite_problem(sent, got, ip, ports, strip) is None
        return Match("SDP anchored towards %s: o=/c= %s, m= ports %s" % (
            side, ip, "%d-%d" % ports if ports else "unchanged"), ok)

    hidden_body = media_body   # (the name of topology hiding's o= rewrite)

    def hidden_removes(self, name, sender_side):
        c = canon(name)
        return c in HIDE_HEADERS or (c == "p-asserted-identity" and not TRUSTED[sender_side])

    # -- expectations ------------------------------------------------------------------
    def expected_request(self, sent, receiver, record_route=None, title=None, ruri=None,
                         route=None):
        """sent (as its UA sent it), as receiver must get it. ruri: the
        Request-URI it must arrive with if not the one sent (hidden: a
        request to a token arrives with the receiver's own Contact). route
        (hidden): the Route values of the target side's stored route set."""
        if self.hidden:
            return self._expected_hidden_request(sent, receiver, title, ruri, route or ())
        rs, ss = self.side(receiver), self.side(sent.ua)
        if record_route is None:
            record_route = sent.method in sipua.DIALOG_CREATING and sent.to_tag is None
        hdrs, absent = [], set()
        if self.proxied:
            hdrs.append(("Via", self.sbc_via(rs)))
        if self.proxied and record_route:
            hdrs += [("Record-Route", rr(self.sbc_addr(rs))), ("Record-Route", rr(self.sbc_addr(ss)))]
        for name, value in sent.headers:
            c = canon(name)
            if c in sipua.LIST_HEADERS:
                values = sipua.split_commas(value)
            else:
                values = [value]
            for v in values:
                if self.proxied and c == "max-forwards":
                    v = str(int(v) - 1)
                if self.proxied and c == "route" and self.is_sbc_uri(v):
                    continue
                hdrs.append((name, v))
        if self.proxied and sent.get("max-forwards") is None:
            hdrs.append(("Max-Forwards", "70"))
        if not any(canon(n) == "route" for n, _ in hdrs):
            absent.add("route")
        if not any(canon(n) == "record-route" for n, _ in hdrs):
            absent.add("record-route")
        start = sent.start_line if ruri is None else "%s %s SIP/2.0" % (sent.method, ruri)
        return Expected(start, hdrs, self.media_body(sent, rs), absent=absent,
                        src=self.src_for(receiver, sent.ua),
                        title=title or "%s from %s relayed to %s" % (sent.method, sent.ua.name,
                                                                   receiver.name))

    def _expected_hidden_request(self, sent, receiver, title, ruri, route=()):
        """Hiding: exactly one Via (the SBC's), no Record-Route, no Route (the
        target side's stored route set would go there: our UAs add no
        Record-Route of their own, so it is empty unless the test says
        otherwise), Contacts tokenised,
        equipment headers gone, SDP o= rewritten, Max-Forwards - 1; a
        request to a token arrives with the receiver's own Contact as
        Request-URI. Everything else byte for byte."""
        rs, ss = self.side(receiver), self.side(sent.ua)
        if ruri is None and self.is_token_uri(sent.ruri):
            ruri = self.local_contact(receiver, sent.call_id, sent.to_tag)
        start = sent.start_line if ruri is None else "%s %s SIP/2.0" % (sent.method, ruri)
        hdrs = [("Via", self.sbc_via(rs))] + [("Route", r) for r in route]
        absent = {"record-route"} | (set() if route else {"route"})
        for name, value in sent.headers:
            c = canon(name)
            if c in ("via", "route", "record-route"):
                continue
            if self.hidden_removes(c, ss):
                absent.add(c)
                continue
            for v in (sipua.split_commas(value) if c in sipua.LIST_HEADERS else [value]):
                if c == "max-forwards":
                    v = str(int(v) - 1)
                elif c == "contact" and v.strip() != "*":
                    v = self.token_contact(rs, v)
                hdrs.append((name, v))
        if sent.get("max-forwards") is None:
            hdrs.append(("Max-Forwards", "70"))
        return Expected(start, hdrs, self.hidden_body(sent, rs), absent=absent,
                        src=self.src_for(receiver, sent.ua),
                        title=title or "%s from %s relayed (hidden) to %s" % (
                            sent.method, sent.ua.name, receiver.name))

    def check_request(self, got, sent, **kw):
        assert_message(self.expected_request(sent, got.ua, **kw), got)
        if self.hidden and got.method == "REGISTER" and not TRUSTED[self.side(sent.ua)]:
            for sv, gv in zip(sent.values("contact"), got.values("contact")):
                if sv.strip() != "*":
                    self.reg_map[NameAddr(gv).uri.user] = str(NameAddr(sv).uri)
        return got

    def expected_response(self, sent, receiver, title=None):
        title = title or "%d %s (CSeq %s) from %s relayed to %s" % (
            sent.status, sent.reason, sent.get("cseq"), sent.ua.name, receiver.name)
        if self.hidden:
            return self._expected_hidden_response(sent, receiver, title)
        hdrs = []
        vias_done = False
        for name, value in sent.headers:
            c = canon(name)
            if c == "via":
                if vias_done:
                    continue
                vias_done = True
                vias = sent.values("via")
                for v in (vias[1:] if self.proxied else vias):
                    hdrs.append(("Via", v))
                continue
            for v in (sipua.split_commas(value) if c in sipua.LIST_HEADERS else [value]):
                hdrs.append((name, v))
        absent = {"record-route"} if not sent.has("record-route") else set()
        return Expected(sent.start_line, hdrs, self.media_body(sent, self.side(receiver)),
                        absent=absent, src=self.src_for(receiver, sent.ua), title=title)

    def _expected_hidden_response(self, sent, receiver, title):
        """Hiding: the Via stack of the request as the receiver sent it,
        no Record-Route, Contacts tokenised towards the receiver (a 2xx to
        a REGISTER from an untrusted realm: the device's own Contacts back,
        ;expires= as granted, other bindings of the AOR dropped), equipment
        headers gone, SDP o= rewritten."""
        rs, ss = self.side(receiver), self.side(sent.ua)
        req = self.request_of(receiver, sent)
        vias = req.values("via") if req is not None else sent.values("via")[1:]
        # restored exactly: not even a received= or rport value added
        hdrs = [("Via", Match("%s (byte for byte)" % v, lambda r, v=v: r == v)) for v in vias]
        absent = {"record-route"}
        reg_2xx = (sent.cseq_method == "REGISTER" and not TRUSTED[rs] and 200 <= sent.status < 300)
        for name, value in sent.headers:
            c = canon(name)
            if c in ("via", "record-route"):
                continue
            if self.hidden_removes(c, ss):
                absent.add(c)
                continue
            if c == "contact" and reg_2xx:
                continue
            for v in (sipua.split_commas(value) if c in sipua.LIST_HEADERS else [value]):
                # (a non-2xx to a device's REGISTER keeps its Contacts as
                # the registrar sent them)
                if c == "contact" and v.strip() != "*" and not (sent.cseq_method == "REGISTER"
                                                                and not TRUSTED[rs]):
                    v = self.token_contact(rs, v)
                hdrs.append((name, v))
        if reg_2xx:
            hdr_exp = sent.get("expires") or "3600"
            for v in sent.values("contact"):
                if v.strip() == "*":
                    continue
                na = NameAddr(v)
                dev = (self.reg_map.get(na.uri.user)
                       if self.is_token_uri(str(na.uri), "core" if rs == "access" else "access") else None)
                if dev is not None:
                    hdrs.append(("Contact", "<%s>;expires=%s" % (dev, na.params.get("expires") or hdr_exp)))
            if not any(canon(n) == "contact" for n, _ in hdrs):
                absent.add("contact")
        return Expected(sent.start_line, hdrs, self.hidden_body(sent, rs), absent=absent,
                        src=self.src_for(receiver, sent.ua), title=title + " (hidden)")

    def check_response(self, got, sent, **kw):
        return assert_message(self.expected_response(sent, got.ua, **kw), got)

    def check_local_response(self, got, req, status, reason_has=None):
        """A response the SBC generated itself to req (as sent by the UA)."""
        to = req.get("to")

        def to_ok(v):
            if NameAddr(v).uri.normalized() != NameAddr(to).uri.normalized():
                return False
            return status == 100 or req.to_tag is not None or NameAddr(v).tag
        hdrs = [("Via", v) for v in req.values("via")]
        hdrs += [("From", req.get("from")), ("To", Match("%s;tag=<any> (To of the request + tag)" % to, to_ok)),
                 ("Call-ID", req.call_id), ("CSeq", req.get("cseq"))]
        start = Match("SIP/2.0 %d %s" % (status, "<reason containing %r>" % reason_has if reason_has else "<reason>"),
                      lambda s: s.startswith("SIP/2.0 %d " % status)
                      and (reason_has is None or reason_has.lower() in s.lower()))
        return assert_message(Expected(start, hdrs, None, extra_ok=True,
                                       src=self.sbc_addr(self.side(got.ua)),
                                       title="%d from the SBC to %s's %s" % (status, req.ua.name, req.method)),
                              got)

    def check_hop_ack(self, got, invite_received, final_sent):
        """ACK for a non-2xx final, hop by hop: the branch, R-URI, From,
        Call-ID, CSeq number and Route of the INVITE this hop received, the
        To of the final (RFC 3261 17.1.1.3)."""
        hdrs = [("Via", invite_received.values("via")[0])]
        hdrs += [("Route", r) for r in invite_received.values("route")]
        hdrs += [("From", invite_received.get("from")), ("To", final_sent.get("to")),
                 ("Call-ID", invite_received.call_id), ("CSeq", "%d ACK" % invite_received.cseq[0])]
        return assert_message(Expected("ACK %s SIP/2.0" % invite_received.ruri, hdrs, b"",
                                       extra_ok={"max-forwards", "reason"},
                                       src=invite_received.src,
                                       title="hop-by-hop ACK of %d at %s" % (final_sent.status, got.ua.name)),
                              got)

    def check_only_hop_acks(self, ua, invite_received, settle=0.5):
        """Every ACK ua ever received for this INVITE (absorbed duplicates
        included) is the hop-by-hop one: a single Via with the INVITE's
        branch. An end-to-end ACK for a non-2xx (the caller's, relayed)
        would carry the SBC's Via on top of the caller's."""
        time.sleep(settle)
        acks = ua.received(method="ACK", call_id=invite_received.call_id,
                           match=lambda m: m.cseq[0] == invite_received.cseq[0])
        self.test.assertTrue(acks, "%s received no ACK" % ua.name)
        bad = [a for a in acks if len(a.values("via")) != 1 or a.branch != invite_received.branch]
        if bad:
            raise AssertionError(
                "%s received an ACK for a non-2xx that is not hop by hop (the caller's own "
                "ACK must end at the SBC):\n%s" % (ua.name, "\n".join(str(a) for a in bad)))

    def check_cancel(self, got, invite_received):
        """CANCEL of the INVITE this hop received (RFC 3261 9.1): its top Via
        (same branch) only, R-URI, From, To, Call-ID, CSeq number, Route."""
        hdrs = [("Via", invite_received.values("via")[0])]
        hdrs += [("Route", r) for r in invite_received.values("route")]
        hdrs += [("From", invite_received.get("from")), ("To", invite_received.get("to")),
                 ("Call-ID", invite_received.call_id), ("CSeq", "%d CANCEL" % invite_received.cseq[0])]
        return assert_message(Expected("CANCEL %s SIP/2.0" % invite_received.ruri, hdrs, b"",
                                       extra_ok={"max-forwards", "reason"},
                                       src=invite_received.src,
                                       title="CANCEL at %s" % got.ua.name), got)

    def check_route_set(self, dlg):
        """Plain: the SBC's double Record-Route; hidden: none (its Contact
        token points at it), so in-dialog requests go to the remote target."""
        exp = [] if self.hidden else self.sbc_routes(self.side(dlg.ua))
        got = [NameAddr(r).uri.normalized() for r in dlg.route_set]
        want = [NameAddr(r).uri.normalized() for r in exp]
        self.test.assertEqual(got, want, "%s's route set (from Record-Route) %r, expected %r"
                              % (dlg.ua.name, dlg.route_set, exp))
        if self.proxied:
            self.test.assertEqual(dlg.next_hop(), self.sbc_addr(self.side(dlg.ua)),
                                  "%s sends in-dialog requests to the SBC" % dlg.ua.name)

    # -- flow helpers ---------------------------------------------------------------
    def expect_request(self, ua, sent, timeout=DEFAULT_TIMEOUT, to_tag=None, **kw):
        key = sent.cseq
        got = ua.expect(method=sent.method, to_tag=to_tag, match=lambda m: m.cseq == key,
                        timeout=timeout, what="%s (CSeq %s%s) sent by %s" % (
                            sent.method, sent.get("cseq"), ", To tag %s" % to_tag if to_tag else "",
                            sent.ua.name))
        self.check_request(got, sent, **kw)
        return got

    def expect_response(self, ua, sent, timeout=DEFAULT_TIMEOUT):
        key = sent.cseq
        got = ua.expect(status=sent.status, to_tag=sent.to_tag, match=lambda m: m.cseq == key,
                        timeout=timeout, what="%d to %s (To tag %s) sent by %s" % (
                            sent.status, sent.get("cseq"), sent.to_tag, sent.ua.name))
        self.check_response(got, sent)
        return got

    def expect_trying(self, ua, req):
        """The SBC answers an initial INVITE with 100 Trying at once."""
        if not self.proxied:
            return None
        got = ua.expect(status=100, call_id=req.call_id, match=lambda m: m.cseq == req.cseq, timeout=1.0,
                        what="100 Trying from the SBC to %s" % req.get("cseq"))
        return self.check_local_response(got, req, 100)

    def expect_cancel_ok(self, uac, cancel, uas_200):
        """200 to a CANCEL: from the SBC (proxied) or relayed from the UAS."""
        if self.proxied:
            got = uac.expect(status=200, cseq_method="CANCEL", what="200 to CANCEL")
            self.check_local_response(got, cancel, 200)
        else:
            got = self.expect_response(uac, uas_200)
        n = len(uac.received(cseq_method="CANCEL"))
        self.test.assertEqual(n, 1, "%s received %d responses to its CANCEL" % (uac.name, n))
        return got

    def call(self, alice, bob, offer=None, answer=None, ringing=True, invite_headers=()):
        """INVITE / 100 / 180 / 200 / ACK with every hop checked. Returns
        (caller dialog, callee dialog, INVITE as received by bob)."""
        offer = offer or sdp(alice.user, alice.host, 40000)
        answer = answer or sdp(bob.user, bob.host, 50000)
        inv = alice.invite(self.to_core(), self.aor(bob.user),
                           body=offer, headers=invite_headers)
        self.expect_trying(alice, inv)
        b_inv = self.expect_request(bob, inv)
        if ringing:
            r180 = bob.answer(b_inv, 180)
            self.expect_response(alice, r180)
        r200 = bob.answer(b_inv, 200, body=answer)
        a200 = self.expect_response(alice, r200)
        d_alice = alice.dialog(a200)
        self.check_route_set(d_alice)
        self.check_remote_target(d_alice, str(Uri(bob.contact[1:-1])))
        d_bob = r200.dialog
        self.check_route_set(d_bob)
        ack = d_alice.ack(a200)
        self.expect_request(bob, ack)
        return d_alice, d_bob, b_inv

    def hangup(self, caller_side, callee_side):
        """BYE from caller_side's dialog, 200 back, both hops checked."""
        d1, ua2 = caller_side, callee_side
        bye = d1.request("BYE")
        got = self.expect_request(ua2, bye)
        self.expect_response(d1.ua, ua2.answer(got, 200))

    # -- end of test -------------------------------------------------------------------
    def final_checks(self):
        time.sleep(0.2)    # late duplicates would show up now
        problems = []
        for ua in self.uas:
            with ua.lock:
                left = [m for m in ua.queue if not (m.is_response and m.status == 100)]
            if left:
                problems.append("%s received messages the test did not expect:\n%s" % (
                    ua.name, "\n".join("    " + m.summary() for m in left)))
            if ua.errors:
                problems.append("%s library errors: %s" % (ua.name, ua.errors))
        if self.scanner is not None:
            leaks = self.scanner.scan(self.scope)
            if leaks:
                problems.append("topology leak(s) in what the SBC sent:\n" + self.scanner.report(leaks))
        if self.sbc is not None:
            if not self.sbc.alive():
                problems.append("the SBC exited (status %s) during the test" % self.sbc.exit_code())
            log = self.sbc.log_text()
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                           "UndefinedBehaviorSanitizer", "ThreadSanitizer"):
                if marker in log:
                    problems.append("sanitizer report in the SBC log (%s)" % marker)
        if problems:
            raise AssertionError("\n".join(problems))

    def diagnostics(self, full=False):
        text = ["---- ladder (t in s since test start; every datagram of every UA) ----",
                ladder(self.uas, self.t0, full=full)]
        if self.sbc is not None:
            log = self.sbc.log_text().splitlines()
            text.append("---- SBC log (last 80 of %d lines) ----" % len(log))
            text.extend(log[-80:])
        return "\n".join(text)

    def close(self):
        for ua in self.uas:
            try:
                ua.close()
            except OSError:
                pass
        problems = []
        if self.sbc is not None:
            self.sbc.stop()
            if NS_SBC and isinstance(self.sbc, Daemon):
                problems = dpdk_stop_problems(self.sbc.exit_code(), self.sbc.log_text())
        if self.tmp is not None:
            self.tmp.cleanup()
        if problems:
            raise AssertionError("after the test, when the SBC stopped:\n" + "\n".join(problems))


# ---------------------------------------------------------------------------
# Test plumbing

def needs_sbc(fn):
    """Flows that test what the SBC itself does (no meaning in --direct mode)."""
    fn.needs_sbc = True
    return fn


def single_hop(fn):
    """Run against a configuration with next hop 1 only."""
    fn.single_hop = True
    return fn


def _with_final_checks(fn):
    @functools.wraps(fn)
    def wrapper(self):
        fn(self)
        self.h.final_checks()
    return wrapper


class FlowCase(unittest.TestCase):
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, fn in list(vars(cls).items()):
            if name.startswith("test_") and callable(fn):
                setattr(cls, name, _with_final_checks(fn))

    def setUp(self):
        method = getattr(self, self._testMethodName)
        if MODE == "direct" and getattr(method, "needs_sbc", False):
            self.skipTest("needs the SBC (direct mode has no proxy)")
        self.h = Net(self, single_hop=getattr(method, "single_hop", False))
        self.diag = None

    def tearDown(self):
        self.diag = self.h.diagnostics(full=True)
        self.h.close()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        failed = len(result.failures) + len(result.errors) > before
        diag = getattr(self, "diag", None)
        if diag and (failed or TRACE):
            sys.stderr.write("\n==== %s: %s ====\n%s\n" % (self._testMethodName,
                                                          "FAILED" if failed else "trace", diag))
        return result


class CallFlows(FlowCase):
    # -- basic calls -------------------------------------------------------------
    def test_basic_call_bye_from_caller(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        h.hangup(d_alice, bob)
        h.uas2.expect_nothing(0.1)

    def test_basic_call_bye_from_callee(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        h.hangup(d_bob, alice)

    def test_call_from_core_to_access(self):
        """core -> access: routed by the Request-URI (the phone's address)."""
        h = self.h
        carol, alice = h.core_ua("carol"), h.phone("alice")
        inv = carol.invite(h.to_access(alice), "sip:alice@%s:%d" % alice.addr,
                           to="<%s>" % h.aor("alice"), body=sdp("carol", UAS_IP, 52000))
        h.expect_trying(carol, inv)
        a_inv = h.expect_request(alice, inv)
        h.expect_response(carol, alice.answer(a_inv, 180))
        r200 = alice.answer(a_inv, 200, body=sdp("alice", PHONE_IP, 40002))
        c200 = h.expect_response(carol, r200)
        d_carol = carol.dialog(c200)
        h.check_route_set(d_carol)
        h.check_route_set(r200.dialog)
        h.expect_request(alice, d_carol.ack(c200))
        h.hangup(r200.dialog, carol)

    def test_busy_486(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r486 = bob.answer(b_inv, 486)
        h.expect_response(alice, r486)
        h.check_hop_ack(bob.expect(method="ACK", what="ACK for 486"), b_inv, r486)
        # the caller's own ACK for 486 ends at the SBC (direct: it is the one above)
        h.check_only_hop_acks(bob, b_inv)
        h.uas2.expect_nothing(0.1, what="failover on 486")

    # -- CANCEL -------------------------------------------------------------------------
    def test_cancel_after_ringing_487(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        h.expect_response(alice, bob.answer(b_inv, 180))
        cancel = alice.cancel(inv)
        b_cancel = bob.expect(method="CANCEL")
        h.check_cancel(b_cancel, b_inv)
        r200c = bob.answer(b_cancel, 200)
        h.expect_cancel_ok(alice, cancel, r200c)
        r487 = bob.answer(b_inv, 487)
        h.expect_response(alice, r487)
        h.check_hop_ack(bob.expect(method="ACK"), b_inv, r487)
        h.check_only_hop_acks(bob, b_inv)

    @needs_sbc
    def test_cancel_before_provisional(self):
        """The SBC answers the CANCEL at once but sends it downstream only
        after a provisional response (RFC 3261 9.1)."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        cancel = alice.cancel(inv)
        h.check_local_response(alice.expect(status=200, cseq_method="CANCEL"), cancel, 200)
        bob.expect_nothing(0.5, method="CANCEL", what="CANCEL before any provisional response")
        bob.answer(b_inv, 180)
        b_cancel = bob.expect(method="CANCEL")
        h.check_cancel(b_cancel, b_inv)
        bob.answer(b_cancel, 200)
        r487 = bob.answer(b_inv, 487)
        h.expect_response(alice, r487)
        h.check_hop_ack(bob.expect(method="ACK"), b_inv, r487)
        h.check_only_hop_acks(bob, b_inv)
        alice.discard(status=180)        # the 180 may or may not be relayed after the CANCEL

    # -- no answer -----------------------------------------------------------------------
    @needs_sbc
    @single_hop
    def test_no_answer_408(self):
        """The only next hop never answers: the SBC retransmits (Timer A),
        gives up (Timer B) and answers 408."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        a408 = alice.expect(status=408, cseq_method="INVITE", timeout=TIMER_B + 4)
        h.check_local_response(a408, inv, 408)
        took = a408.t - inv.t
        self.assertGreaterEqual(took, 0.8 * TIMER_C, "408 after %.2f s" % took)
        copies = bob.received(method="INVITE")
        self.assertGreaterEqual(len(copies), 3, "the SBC retransmits the INVITE to a silent hop")
        self.assertEqual({m.branch for m in copies}, {b_inv.branch},
                         "retransmissions keep the branch")
        bob.expect_nothing(0.5, what="CANCEL or ACK (no provisional was received)")

    @needs_sbc
    def test_timer_c_cancels(self):
        """180 and then nothing: Timer C (3 s) makes the SBC CANCEL downstream."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r180 = bob.answer(b_inv, 180)
        h.expect_response(alice, r180)
        b_cancel = bob.expect(method="CANCEL", timeout=TIMER_C + 4, what="CANCEL on Timer C")
        took = b_cancel.t - r180.t
        self.assertGreaterEqual(took, 0.8 * TIMER_C, "CANCEL %.2f s after the 180" % took)
        h.check_cancel(b_cancel, b_inv)
        bob.answer(b_cancel, 200)
        r487 = bob.answer(b_inv, 487)
        final = alice.expect(status=(487, 408), cseq_method="INVITE", timeout=TIMER_B + 2)
        if final.status == 487:
            h.check_response(final, r487)
        else:
            h.check_local_response(final, inv, 408)
        h.check_hop_ack(bob.expect(method="ACK"), b_inv, r487)
        h.check_only_hop_acks(bob, b_inv)

    # -- failover -------------------------------------------------------------------------
    @needs_sbc
    def test_failover_on_503(self):
        h = self.h
        alice, hop1, hop2 = h.phone("alice"), h.uas1, h.uas2
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b1 = h.expect_request(hop1, inv)
        r503 = hop1.answer(b1, 503, headers=[("Retry-After", "30")])
        h.check_hop_ack(hop1.expect(method="ACK"), b1, r503)
        b2 = h.expect_request(hop2, inv)
        self.assertNotEqual(b2.branch, b1.branch, "a new branch for next hop 2")
        h.expect_response(alice, hop2.answer(b2, 180))
        r200 = hop2.answer(b2, 200, body=sdp("bob", UAS_IP, 50002))
        a200 = h.expect_response(alice, r200)
        self.assertEqual(alice.received(status=503), [], "the caller must not see the 503")
        d = alice.dialog(a200)
        h.check_route_set(d)
        h.expect_request(hop2, d.ack(a200))
        h.hangup(d, hop2)
        hop1.expect_nothing(0.3)
        h.check_only_hop_acks(hop1, b1, settle=0)

    @needs_sbc
    def test_failover_on_timeout(self):
        h = self.h
        alice, hop1, hop2 = h.phone("alice"), h.uas1, h.uas2
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b1 = h.expect_request(hop1, inv)
        b2 = h.expect_request(hop2, inv, timeout=TIMER_B + 4)
        took = b2.t - b1.t
        self.assertGreaterEqual(took, 0.8 * TIMER_C, "failover %.2f s after hop 1 got the INVITE" % took)
        self.assertNotEqual(b2.branch, b1.branch)
        self.assertGreaterEqual(len(hop1.received(method="INVITE")), 3,
                                "the SBC retransmits to the silent hop 1")
        r200 = hop2.answer(b2, 200, body=sdp("bob", UAS_IP, 50002))
        a200 = h.expect_response(alice, r200)
        d = alice.dialog(a200)
        h.expect_request(hop2, d.ack(a200))
        h.hangup(d, hop2)
        hop1.expect_nothing(0.3)

    # -- forking ---------------------------------------------------------------------------
    def test_forking_early_media_two_200(self):
        """A forking proxy behind the SBC: 180 (tag A), 183 + SDP (tag B),
        200 (B), 200 (A). The caller sees both early dialogs and both 200s,
        ACKs both and hangs up the one it does not want."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        ca = "<sip:bob-a@%s:%d>" % bob.addr
        cb = "<sip:bob-b@%s:%d>" % bob.addr
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r180a = bob.answer(b_inv, 180, to_tag="tagA", contact=ca)
        r183b = bob.answer(b_inv, 183, to_tag="tagB", contact=cb, body=sdp("bob-b", UAS_IP, 50010))
        a180 = h.expect_response(alice, r180a)
        a183 = h.expect_response(alice, r183b)
        da, db = alice.dialog(a180), alice.dialog(a183)
        self.assertIsNot(da, db)
        self.assertEqual((da.state, db.state), ("early", "early"))
        h.check_remote_target(db, "sip:bob-b@%s:%d" % bob.addr)
        r200b = bob.answer(b_inv, 200, to_tag="tagB", contact=cb, body=sdp("bob-b", UAS_IP, 50010))
        r200a = bob.answer(b_inv, 200, to_tag="tagA", contact=ca, body=sdp("bob-a", UAS_IP, 50020))
        a200b = h.expect_response(alice, r200b)
        a200a = h.expect_response(alice, r200a)
        db, da = alice.dialog(a200b), alice.dialog(a200a)
        self.assertEqual((da.state, db.state), ("confirmed", "confirmed"))
        h.check_route_set(da)
        h.check_route_set(db)
        ackb, acka = db.ack(a200b), da.ack(a200a)
        if not h.hidden:
            self.assertEqual(ackb.ruri, "sip:bob-b@%s:%d" % bob.addr)
            self.assertEqual(acka.ruri, "sip:bob-a@%s:%d" % bob.addr)
        # hidden: both go to the SBC's token; the SBC tells the dialogs
        # apart by tag and each ACK reaches its own Contact
        self.assertEqual(h.expect_request(bob, ackb, to_tag="tagB").ruri, "sip:bob-b@%s:%d" % bob.addr)
        self.assertEqual(h.expect_request(bob, acka, to_tag="tagA").ruri, "sip:bob-a@%s:%d" % bob.addr)
        bye_a = da.request("BYE")
        b_bye = h.expect_request(bob, bye_a, to_tag="tagA")
        h.expect_response(alice, bob.answer(b_bye, 200))
        bye_b = db.request("BYE")
        b_bye = h.expect_request(bob, bye_b, to_tag="tagB")
        h.expect_response(alice, bob.answer(b_bye, 200))

    # -- re-INVITE ---------------------------------------------------------------------------
    def _reinvite(self, dlg, peer, direction, answer_direction, version):
        h = self.h
        me = dlg.ua
        re = dlg.request("INVITE", body=sdp(me.user, me.host, 40000, direction, version),
                         content_type="application/sdp")
        got = h.expect_request(peer, re)
        r200 = peer.answer(got, 200, body=sdp(peer.user, peer.host, 50000, answer_direction, version))
        a200 = h.expect_response(me, r200)
        dlg.refresh_from_response(a200)
        h.expect_request(peer, dlg.ack(a200))

    def test_reinvite_hold_resume_from_caller(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        self._reinvite(d_alice, bob, "sendonly", "recvonly", 2)
        self._reinvite(d_alice, bob, "sendrecv", "sendrecv", 3)
        h.hangup(d_alice, bob)

    def test_reinvite_hold_resume_from_callee(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        self._reinvite(d_bob, alice, "sendonly", "recvonly", 2)
        self._reinvite(d_bob, alice, "sendrecv", "sendrecv", 3)
        h.hangup(d_bob, alice)

    # -- early dialogs: UPDATE, 100rel ---------------------------------------------------------
    def test_update_early_dialog_100rel(self):
        """183 reliable + PRACK, then UPDATE with a new offer in the early dialog."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"), headers=[("Supported", "100rel")])
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r183 = bob.answer(b_inv, 183, body=sdp("bob", UAS_IP, 50000), reliable=True)
        a183 = h.expect_response(alice, r183)
        d = alice.dialog(a183)
        h.check_route_set(d)
        prack = d.prack(a183)
        b_prack = h.expect_request(bob, prack)
        h.expect_response(alice, bob.answer(b_prack, 200))
        upd = d.request("UPDATE", body=sdp("alice", PHONE_IP, 40000, "sendrecv", 2),
                        content_type="application/sdp")
        b_upd = h.expect_request(bob, upd)
        h.expect_response(alice, bob.answer(b_upd, 200, body=sdp("bob", UAS_IP, 50000, "sendrecv", 2)))
        r200 = bob.answer(b_inv, 200)
        a200 = h.expect_response(alice, r200)
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    def test_update_early_dialog_after_180(self):
        """Plain 180, then UPDATE without body in the early dialog, from the
        callee and from the caller."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r180 = bob.answer(b_inv, 180)
        a180 = h.expect_response(alice, r180)
        d_alice, d_bob = alice.dialog(a180), r180.dialog
        h.check_route_set(d_alice)
        h.check_route_set(d_bob)
        upd = d_bob.request("UPDATE", headers=[("Session-Expires", "1800;refresher=uas")])
        a_upd = h.expect_request(alice, upd)
        h.expect_response(bob, alice.answer(a_upd, 200))
        upd2 = d_alice.request("UPDATE")
        b_upd2 = h.expect_request(bob, upd2)
        h.expect_response(alice, bob.answer(b_upd2, 200))
        r200 = bob.answer(b_inv, 200, body=sdp("bob", UAS_IP, 50000))
        a200 = h.expect_response(alice, r200)
        d_alice = alice.dialog(a200)
        h.expect_request(bob, d_alice.ack(a200))
        h.hangup(d_bob, alice)

    def test_100rel_prack(self):
        """Require: 100rel; 183 with RSeq; PRACK with RAck; 200 PRACK; 200 INVITE."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"),
                           headers=[("Supported", "100rel"), ("Require", "100rel")])
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r183 = bob.answer(b_inv, 183, body=sdp("bob", UAS_IP, 50000), reliable=True)
        a183 = h.expect_response(alice, r183)
        self.assertEqual(a183.get("rseq"), r183.get("rseq"))
        d = alice.dialog(a183)
        prack = d.prack(a183)
        self.assertEqual(prack.get("rack"), "%s %d INVITE" % (r183.get("rseq"), inv.cseq[0]))
        b_prack = h.expect_request(bob, prack)
        h.expect_response(alice, bob.answer(b_prack, 200))
        r200 = bob.answer(b_inv, 200)
        a200 = h.expect_response(alice, r200)
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    def test_100rel_lost_183_retransmitted(self):
        """The caller loses the first reliable 183: the callee retransmits it
        until the PRACK, and the retransmission gets through."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        drop = alice.drop_next(status=183)
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"), headers=[("Supported", "100rel")])
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r183 = bob.answer(b_inv, 183, body=sdp("bob", UAS_IP, 50000), reliable=True)
        a183 = h.expect_response(alice, r183)
        self.assertEqual(len(drop.dropped), 1)
        d = alice.dialog(a183)
        b_prack = h.expect_request(bob, d.prack(a183))
        h.expect_response(alice, bob.answer(b_prack, 200))
        a200 = h.expect_response(alice, bob.answer(b_inv, 200))
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    # -- REFER, SUBSCRIBE / NOTIFY ---------------------------------------------------------------
    def test_refer_blind_transfer(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        refer = d_alice.request("REFER", headers=[("Refer-To", "<sip:carol@%s>" % UAS_IP),
                                                  ("Referred-By", "<%s>" % h.aor("alice"))])
        b_ref = h.expect_request(bob, refer)
        h.expect_response(alice, bob.answer(b_ref, 202))
        for frag, state in ((b"SIP/2.0 100 Trying\r\n", "active;expires=60"),
                            (b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource")):
            n = d_bob.request("NOTIFY", body=frag, content_type="message/sipfrag;version=2.0",
                              headers=[("Event", "refer"), ("Subscription-State", state)])
            a_n = h.expect_request(alice, n)
            h.expect_response(bob, alice.answer(a_n, 200))
        h.hangup(d_alice, bob)

    def test_refer_out_of_dialog(self):
        """REFER outside a dialog creates one (Record-Route) for its NOTIFYs."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        refer = alice.request("REFER", h.to_core(), RURI_BOB,
                              headers=[("Refer-To", "<sip:carol@%s>" % UAS_IP)])
        b_ref = h.expect_request(bob, refer)
        r202 = bob.answer(b_ref, 202)
        a202 = h.expect_response(alice, r202)
        d_alice = alice.dialog(a202)
        h.check_route_set(d_alice)
        h.check_route_set(r202.dialog)
        n = r202.dialog.request("NOTIFY", body=b"SIP/2.0 200 OK\r\n",
                                content_type="message/sipfrag;version=2.0",
                                headers=[("Event", "refer"),
                                         ("Subscription-State", "terminated;reason=noresource")])
        a_n = h.expect_request(alice, n)
        h.expect_response(bob, alice.answer(a_n, 200))

    def test_subscribe_notify_presence(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        sub = alice.request("SUBSCRIBE", h.to_core(), RURI_BOB,
                            headers=[("Event", "presence"), ("Expires", "600"),
                                     ("Accept", "application/pidf+xml")])
        b_sub = h.expect_request(bob, sub)
        r200 = bob.answer(b_sub, 200, headers=[("Expires", "600")])
        a200 = h.expect_response(alice, r200)
        d_alice, d_bob = alice.dialog(a200), r200.dialog
        h.check_route_set(d_alice)
        h.check_route_set(d_bob)
        n = d_bob.request("NOTIFY", body=PIDF_OPEN, content_type="application/pidf+xml",
                          headers=[("Event", "presence"), ("Subscription-State", "active;expires=599")])
        h.expect_response(bob, alice.answer(h.expect_request(alice, n), 200))
        unsub = d_alice.request("SUBSCRIBE", headers=[("Event", "presence"), ("Expires", "0"),
                                                      ("Accept", "application/pidf+xml")])
        b_unsub = h.expect_request(bob, unsub)
        h.expect_response(alice, bob.answer(b_unsub, 200, headers=[("Expires", "0")]))
        n2 = d_bob.request("NOTIFY", body=PIDF_CLOSED, content_type="application/pidf+xml",
                           headers=[("Event", "presence"),
                                    ("Subscription-State", "terminated;reason=timeout")])
        h.expect_response(bob, alice.answer(h.expect_request(alice, n2), 200))

    # -- MESSAGE, INFO, OPTIONS, PUBLISH, REGISTER ------------------------------------------------
    def test_message_out_of_dialog(self):
        h = self.h
        alice, bob, carol = h.phone("alice"), h.uas1, h.core_ua("carol")
        m = alice.request("MESSAGE", h.to_core(), RURI_BOB, body=UTF8_TEXT,
                          content_type="text/plain;charset=UTF-8")
        got = h.expect_request(bob, m)
        h.expect_response(alice, bob.answer(got, 200))
        # core -> access, routed by the Request-URI
        m2 = carol.request("MESSAGE", h.to_access(alice), "sip:alice@%s:%d" % alice.addr,
                           to="<%s>" % h.aor("alice"), body=UTF8_TEXT, content_type="text/plain;charset=UTF-8")
        got = h.expect_request(alice, m2)
        h.expect_response(carol, alice.answer(got, 202))

    def test_message_in_dialog(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        m = d_alice.request("MESSAGE", body=UTF8_TEXT, content_type="text/plain;charset=UTF-8")
        h.expect_response(alice, bob.answer(h.expect_request(bob, m), 200))
        m2 = d_bob.request("MESSAGE", body=b"pong", content_type="text/plain")
        h.expect_response(bob, alice.answer(h.expect_request(alice, m2), 200))
        h.hangup(d_alice, bob)

    def test_info_in_dialog(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        d_alice, d_bob, _ = h.call(alice, bob)
        dtmf = b"Signal=5\r\nDuration=160\r\n"
        i1 = d_alice.request("INFO", body=dtmf, content_type="application/dtmf-relay")
        h.expect_response(alice, bob.answer(h.expect_request(bob, i1), 200))
        i2 = d_bob.request("INFO", body=b"Signal=#\r\nDuration=100\r\n",
                           content_type="application/dtmf-relay")
        h.expect_response(bob, alice.answer(h.expect_request(alice, i2), 200))
        h.hangup(d_bob, alice)

    @needs_sbc
    def test_options_to_sbc(self):
        h = self.h
        alice, carol = h.phone("alice"), h.core_ua("carol")
        o = alice.request("OPTIONS", h.access, "sip:%s:%d" % h.access)
        h.check_local_response(alice.expect(status=200, cseq_method="OPTIONS"), o, 200)
        o2 = carol.request("OPTIONS", h.core, "sip:%s:%d" % h.core)
        h.check_local_response(carol.expect(status=200, cseq_method="OPTIONS"), o2, 200)
        h.uas1.expect_nothing(0.3)

    def test_options_relayed(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        o = alice.request("OPTIONS", h.to_core(), RURI_BOB, headers=[("Accept", "application/sdp")])
        got = h.expect_request(bob, o)
        r = bob.answer(got, 200, headers=[
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY"),
            ("Accept", "application/sdp"), ("Supported", "100rel, timer")],
            body=sdp("bob", UAS_IP, 0), content_type="application/sdp")
        h.expect_response(alice, r)

    def test_publish(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        aor = h.aor("alice")
        p1 = alice.request("PUBLISH", h.to_core(), aor, to="<%s>" % aor, body=PIDF_OPEN,
                           content_type="application/pidf+xml",
                           headers=[("Event", "presence"), ("Expires", "3600")])
        b1 = h.expect_request(bob, p1)
        h.expect_response(alice, bob.answer(b1, 200, headers=[("SIP-ETag", "et-1"), ("Expires", "3600")]))
        p2 = alice.request("PUBLISH", h.to_core(), aor, to="<%s>" % aor, call_id=p1.call_id, cseq=2,
                           from_=p1.get("from"),
                           headers=[("Event", "presence"), ("SIP-If-Match", "et-1"), ("Expires", "3600")])
        b2 = h.expect_request(bob, p2)
        h.expect_response(alice, bob.answer(b2, 200, headers=[("SIP-ETag", "et-2"), ("Expires", "3600")]))
        p3 = alice.request("PUBLISH", h.to_core(), aor, to="<%s>" % aor, call_id=p1.call_id, cseq=3,
                           from_=p1.get("from"),
                           headers=[("Event", "presence"), ("SIP-If-Match", "et-2"), ("Expires", "0")])
        b3 = h.expect_request(bob, p3)
        h.expect_response(alice, bob.answer(b3, 200, headers=[("SIP-ETag", "et-2"), ("Expires", "0")]))

    def test_register_and_unregister(self):
        """REGISTER relayed to the registrar (next hop 1) and back, Contact
        intact both ways; then Expires: 0."""
        h = self.h
        alice, registrar = h.phone("alice"), h.uas1
        ruri = "sip:%s" % UAS_IP
        reg = alice.request("REGISTER", h.to_core(), ruri, headers=[("Expires", "3600")])
        got = h.expect_request(registrar, reg)
        if h.hidden:     # the registrar sees a binding token of the SBC
            self.assertTrue(h.is_token_uri(got.contact_uri and str(got.contact_uri), "core"))
        else:
            self.assertEqual(got.get("contact"), alice.contact)
        binding = "%s;expires=3600" % got.get("contact")
        r = registrar.answer(got, 200, contact=binding,
                             headers=[("Date", "Sat, 13 Nov 2010 23:29:00 GMT")])
        a = h.expect_response(alice, r)
        self.assertEqual(a.get("contact"), "%s;expires=3600" % alice.contact)
        unreg = alice.request("REGISTER", h.to_core(), ruri, call_id=reg.call_id, cseq=2,
                              from_=reg.get("from"), headers=[("Expires", "0")])
        got = h.expect_request(registrar, unreg)
        h.expect_response(alice, registrar.answer(got, 200))

    def test_nat_responses_to_source(self):
        """A phone behind NAT: its Via names an unreachable private address
        with ;rport. Responses (the SBC's 100 included) must go to the packet
        source (RFC 3581), and the call works end to end."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        inv = make_request("INVITE", RURI_BOB, from_="<%s>;tag=%s" % (alice.aor, new_tag()),
                           to="<%s>" % RURI_BOB, call_id=new_call_id(None), cseq=1,
                           via_host="192.0.2.77", via_port=5062, contact=alice.contact,
                           body=sdp("alice"), content_type="application/sdp")
        alice.send_request(inv, h.to_core())
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        h.expect_response(alice, bob.answer(b_inv, 180))
        a200 = h.expect_response(alice, bob.answer(b_inv, 200, body=sdp("bob", UAS_IP)))
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    # -- loss --------------------------------------------------------------------------------------
    def test_loss_invite_to_uas(self):
        """The callee loses the first INVITE; a retransmission (same branch)
        gets through."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        drop = bob.drop_next(method="INVITE")
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        self.assertEqual(len(drop.dropped), 1)
        self.assertEqual(drop.dropped[0].branch, b_inv.branch, "a retransmission, not a new branch")
        a200 = h.expect_response(alice, bob.answer(b_inv, 200, body=sdp("bob", UAS_IP)))
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    def test_loss_200_to_uac(self):
        """The caller loses the first 200; the callee retransmits it (RFC 3261
        13.3.1.4) through the SBC until the ACK."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        drop = alice.drop_next(status=200, cseq_method="INVITE")
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r200 = bob.answer(b_inv, 200, body=sdp("bob", UAS_IP))
        a200 = h.expect_response(alice, r200)
        self.assertEqual(len(drop.dropped), 1)
        self.assertGreaterEqual(len(bob.sent(status=200, cseq_method="INVITE")), 2)
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        h.hangup(d, bob)

    def test_loss_ack_to_uas(self):
        """The callee misses the first ACK: it retransmits the 200, the caller
        re-ACKs, the second ACK gets through."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        drop = bob.drop_next(method="ACK")
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        r200 = bob.answer(b_inv, 200, body=sdp("bob", UAS_IP))
        a200 = h.expect_response(alice, r200)
        d = alice.dialog(a200)
        ack = d.ack(a200)
        h.expect_request(bob, ack, timeout=2.0)
        self.assertEqual(len(drop.dropped), 1)
        self.assertGreaterEqual(len(bob.sent(status=200, cseq_method="INVITE")), 2,
                                "the callee retransmitted its 200")
        self.assertGreaterEqual(len(alice.sent(method="ACK")), 2, "the caller re-ACKed")
        h.hangup(d, bob)

    # -- errors, limits, junk ------------------------------------------------------------------------
    @needs_sbc
    def test_malformed_request_400(self):
        h = self.h
        alice = h.phone("alice")
        cases = [("Call-ID", lambda m: m.remove("call-id"), "Call-ID"),
                 ("CSeq", lambda m: m.set("CSeq", "one INVITE"), "CSeq"),
                 ("Content-Length", lambda m: m.set("Content-Length", "5000"), "Content-Length")]
        for what, spoil, reason_has in cases:
            req = make_request("INVITE", RURI_BOB, from_="<%s>;tag=%s" % (alice.aor, new_tag()),
                               to="<%s>" % RURI_BOB, call_id=new_call_id(None), cseq=1,
                               via_host=alice.host, via_port=alice.port, contact=alice.contact,
                               body=sdp("alice"), content_type="application/sdp")
            data = req.to_bytes()
            bad = SipMessage.parse(data)
            spoil(bad)
            alice.send(bad.to_bytes(fix_length=False), h.access)
            got = alice.expect(status=400, what="400 for a request with a bad %s" % what)
            self.assertIn(reason_has.lower(), got.reason.lower(),
                          "the reason phrase names the problem: %r" % got.reason)
            self.assertEqual(got.values("via"), req.values("via"))
        h.uas1.expect_nothing(0.3)

    @needs_sbc
    def test_max_forwards_zero_483(self):
        h = self.h
        alice = h.phone("alice")
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"), max_forwards=0)
        got = alice.expect(status=483, cseq_method="INVITE")
        h.check_local_response(got, inv, 483)
        self.assertEqual(len(alice.sent(method="ACK")), 1, "the caller ACKed the 483")
        h.uas1.expect_nothing(0.5, what="ACK or INVITE: the SBC answered 483 as a UAS "
                              "(RFC 3261 16.3), so the ACK for it ends at the SBC")
        o = alice.request("OPTIONS", h.to_core(), RURI_BOB, max_forwards=0)
        h.check_local_response(alice.expect(status=483, cseq_method="OPTIONS"), o, 483)
        h.uas1.expect_nothing(0.3)

    def test_max_forwards_decrement_and_default(self):
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        o = alice.request("OPTIONS", h.to_core(), RURI_BOB, max_forwards=1)
        got = h.expect_request(bob, o)           # arrives with Max-Forwards: 0
        h.expect_response(alice, bob.answer(got, 200))
        m = alice.request("MESSAGE", h.to_core(), RURI_BOB, max_forwards=None, body=b"no MF",
                          content_type="text/plain")
        got = h.expect_request(bob, m)           # the SBC adds Max-Forwards: 70
        h.expect_response(alice, bob.answer(got, 200))

    @needs_sbc
    def test_stray_responses_ignored(self):
        """Responses that match no transaction change nothing, and the SBC keeps working."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        for sender, dest in ((alice, h.access), (bob, h.core)):
            for status, method in ((200, "INVITE"), (180, "INVITE"), (487, "INVITE"),
                                   (200, "BYE"), (481, "NOTIFY")):
                req = make_request(method, RURI_BOB, from_="<sip:x@%s>;tag=%s" % (PHONE_IP, new_tag()),
                                   to="<%s>" % RURI_BOB, call_id=new_call_id(None), cseq=7,
                                   via_host=sender.host, via_port=sender.port)
                resp = sipua.make_response(req, status, to_tag=new_tag(), contact=sender.contact)
                sender.send(resp, dest)
            # one with a Via of the SBC (unknown branch) and nothing below it
            req = make_request("INVITE", RURI_BOB, from_="<sip:x@%s>;tag=%s" % (PHONE_IP, new_tag()),
                               to="<%s>" % RURI_BOB, call_id=new_call_id(None), cseq=7,
                               via_host=h.sbc_addr(h.side(sender))[0],
                               via_port=h.sbc_addr(h.side(sender))[1], rport=False,
                               branch=SBC_BRANCH_PREFIX + "bogus")
            sender.send(sipua.make_response(req, 200, to_tag=new_tag()), dest)
        alice.expect_nothing(0.5)
        bob.expect_nothing(0.1)
        d_alice, d_bob, _ = h.call(alice, bob)
        h.hangup(d_alice, bob)

    # -- dialogs the SBC does not know -------------------------------------------------------------
    def test_unknown_dialog_with_route(self):
        """In-dialog requests of a dialog the SBC never saw, with Routes to the
        SBC: relayed per Route / Request-URI, both directions."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        bye = make_request("BYE", "sip:bob@%s:%d" % bob.addr,
                           from_="<%s>;tag=%s" % (alice.aor, new_tag()),
                           to="<%s>;tag=nosuchdialog" % RURI_BOB, call_id=new_call_id(None), cseq=5,
                           via_host=alice.host, via_port=alice.port,
                           route=h.sbc_routes("access"))
        alice.send_request(bye, h.to_core())
        got = h.expect_request(bob, bye)
        h.expect_response(alice, bob.answer(got, 481))
        n = make_request("NOTIFY", "sip:alice@%s:%d" % alice.addr,
                         from_="<%s>;tag=%s" % (RURI_BOB, new_tag()),
                         to="<%s>;tag=nosuchdialog" % alice.aor, call_id=new_call_id(None), cseq=9,
                         via_host=bob.host, via_port=bob.port, contact=bob.contact,
                         route=h.sbc_routes("core"),
                         headers=[("Event", "presence"), ("Subscription-State", "active")])
        bob.send_request(n, h.to_access(alice))
        got = h.expect_request(alice, n)
        h.expect_response(bob, alice.answer(got, 481))

    def test_unknown_dialog_without_route(self):
        """An in-dialog request without Route, Request-URI not the SBC:
        routed like an initial request (to next hop 1)."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        bye = make_request("BYE", RURI_BOB, from_="<%s>;tag=%s" % (alice.aor, new_tag()),
                           to="<%s>;tag=nosuchdialog" % RURI_BOB, call_id=new_call_id(None), cseq=5,
                           via_host=alice.host, via_port=alice.port)
        alice.send_request(bye, h.to_core())
        got = h.expect_request(bob, bye)
        h.expect_response(alice, bob.answer(got, 481))


    # -- topology: equipment headers, host names -----------------------------------------------------
    def test_equipment_headers(self):
        """Headers that name equipment or hosts (User-Agent, Server, Warning,
        Call-Info, Error-Info, P-Preferred-Identity): relayed as they are
        (plain), removed (hidden); P-Asserted-Identity removed only when it
        comes from the untrusted access realm."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        if h.scanner is not None:
            h.scanner.add("access", "host", "alice-pc.access.example", "host in alice's headers")
            h.scanner.add("core", "host", "bob-pc.core.example", "host in bob's headers")
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"), headers=[
            ("User-Agent", "AlicePhone/2.1 (alice-pc.access.example)"),
            ("P-Asserted-Identity", "<%s>" % h.aor("alice")),
            ("P-Preferred-Identity", "<sip:alice@alice-pc.access.example>"),
            ("Call-Info", "<http://alice-pc.access.example/photo.png>;purpose=icon"),
            ("Subject", "equipment headers")])
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        core_hdrs = [("Server", "CoreSwitch/9.1 (bob-pc.core.example)"),
                     ("P-Asserted-Identity", "<%s>" % h.aor("bob"))]
        h.expect_response(alice, bob.answer(b_inv, 180, headers=core_hdrs))
        r200 = bob.answer(b_inv, 200, body=sdp("bob", UAS_IP), headers=core_hdrs + [
            ("Warning", '399 bob-pc.core.example "transcoding on bob-pc"'),
            ("Error-Info", "<http://bob-pc.core.example/busy.wav>")])
        a200 = h.expect_response(alice, r200)
        self.assertEqual(a200.get("p-asserted-identity"), "<%s>" % h.aor("bob"),
                         "an identity asserted by the trusted core is kept")
        self.assertEqual(b_inv.get("subject"), "equipment headers")
        d = alice.dialog(a200)
        h.expect_request(bob, d.ack(a200))
        bye = d.request("BYE", headers=[("User-Agent", "AlicePhone/2.1 (alice-pc.access.example)")])
        b_bye = h.expect_request(bob, bye)
        h.expect_response(alice, bob.answer(b_bye, 200, headers=[("Server", "CoreSwitch/9.1")]))

    def test_hostnames_in_via_and_contact(self):
        """A phone that names itself by host name in Via (with rport) and
        Contact: responses go to its source address, and (hidden) the
        callee's BYE reaches it at its latched source with its own Contact
        as Request-URI; no trace of the name in the core."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        alice.via_host = "alice-pc.access.example"
        alice.contact = "<sip:alice@alice-pc.access.example:%d>" % alice.port
        d_alice, d_bob, _ = h.call(alice, bob)
        if h.hidden:
            bye = d_bob.request("BYE")
            a_bye = h.expect_request(alice, bye)
            self.assertEqual(a_bye.ruri, "sip:alice@alice-pc.access.example:%d" % alice.port)
            h.expect_response(bob, alice.answer(a_bye, 200))
        else:
            h.hangup(d_alice, bob)


    def test_core_proxies_record_route(self):
        """Two core proxies record-route the INVITE on its way to the callee
        (pA nearest the SBC, then pB). The caller's in-dialog requests go to
        pA with Route: pA, pB; the callee's answer carries only the SBC's
        Record-Route when plain, none when hidden (the SBC keeps the core's
        route set in the dialog)."""
        h = self.h
        alice, bob = h.phone("alice"), h.uas1
        pa, pb = h.core_ua("proxy-a"), h.core_ua("proxy-b")
        ra, rb = "<sip:%s:%d;lr>" % pa.addr, "<sip:%s:%d;lr>" % pb.addr
        inv = alice.invite(h.to_core(), RURI_BOB, body=sdp("alice"))
        h.expect_trying(alice, inv)
        b_inv = h.expect_request(bob, inv)
        b_inv.add("Record-Route", ra, top=True)       # as pA, then pB, would have added them
        b_inv.add("Record-Route", rb, top=True)
        r200 = bob.answer(b_inv, 200, body=sdp("bob", UAS_IP))
        self.assertEqual(r200.values("record-route")[:2], [rb, ra])
        a200 = h.expect_response(alice, r200)
        d = alice.dialog(a200)
        if h.hidden:
            self.assertEqual(d.route_set, [], "the core's Record-Route reached the access realm")
        bob_contact = str(Uri(bob.contact[1:-1]))
        p_ack = h.expect_request(pa, d.ack(a200), ruri=bob_contact, route=[ra, rb])
        pa.send(p_ack, bob.addr)                   # pA (and pB) route it on to bob
        bob.expect(method="ACK", what="the ACK, via the core proxies")
        bye = d.request("BYE")
        got = h.expect_request(pa, bye, ruri=bob_contact, route=[ra, rb])
        h.expect_response(alice, pa.answer(got, 200))
        # bob's 2xx retransmissions before the ACK reached it were re-ACKed
        for extra in pa.discard(method="ACK"):
            self.assertEqual(extra.branch, p_ack.branch, "a re-ACK, not another request")


class ScannerCheck(unittest.TestCase):
    """The leak scanner itself: it must bite."""

    def test_scanner_finds_tokens_and_sdp_origin(self):
        """No SBC: fabricated datagrams. A token first seen towards the
        access realm, the phone's address in an o= or c= line, its port in
        an m= line, found in what goes to the core, and that SDP named by
        its addresses as not the SBC's; other scopes' ports are not."""
        sc = leakscan.LeakScanner()
        sc.begin("self-test")

        class Fake:
            def __init__(self, name, host, port):
                self.name, self.host, self.port, self.tap = name, host, port, None
        phone, core = Fake("phone", PHONE_IP, 40123), Fake("core", UAS_IP, 40456)
        sc.attach(phone, "access")
        sc.attach(core, "core")
        sc.add_media_address("core", CORE_IP)
        tok = "sbc" + "a2b3c4d5e6f7g" * 2 + "hi"
        sc.tap(phone, "in", ("SIP/2.0 200 OK\r\nContact: <sip:%s@%s:5060>\r\n"
                             "Content-Length: 0\r\n\r\n" % (tok, ACCESS_IP)).encode(), (ACCESS_IP, 5060))
        body = ("v=0\r\no=alice 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                "m=audio 40123 RTP/AVP 0\r\n" % (PHONE_IP, PHONE_IP)).encode()
        sc.tap(core, "in", ("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;"
                            "branch=z9hG4bK-sbc-1;rport\r\nX-Debug: %s\r\n"
                            "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
                            % (CORE_IP, tok, len(body))).encode() + body, (CORE_IP, 5060))
        sc.begin("other-test")
        sc.tap(core, "in", b"OPTIONS sip:x@example.com SIP/2.0\r\nX-Port: ;rport=40123\r\n\r\n",
               (CORE_IP, 5060))
        leaks = sc.scan()
        what = sorted((lk.ident.kind, lk.ident.value, lk.ident.realm, lk.line.split(":")[0])
                      for lk in leaks)
        self.assertEqual(what, [
            ("host", PHONE_IP, "access", "c=IN IP4 " + PHONE_IP),
            ("host", PHONE_IP, "access", "o=alice 1 1 IN IP4 " + PHONE_IP),
            ("host", PHONE_IP, "core", "c=IN IP4 " + PHONE_IP),      # not the SBC's media address
            ("host", PHONE_IP, "core", "o=alice 1 1 IN IP4 " + PHONE_IP),
            ("port", "40123", "access", "m=audio 40123 RTP/AVP 0"),
            ("token", tok, "access", "X-Debug")], sc.report(leaks))

    def test_scanner_bites_with_hiding_off(self):
        """A real call through the SBC with hiding off: the scanner must
        report the access realm's addresses in the core and vice versa, and
        name them."""
        if MODE != "sbc":
            self.skipTest("needs the SBC")
        sc = leakscan.LeakScanner()
        h = Net(self, hide=False, scanner=sc)
        try:
            alice, bob = h.phone("alice"), h.uas1
            d_alice, d_bob, _ = h.call(alice, bob, offer=sdp("alice", PHONE_IP))
            h.hangup(d_alice, bob)
            time.sleep(0.1)
            leaks = sc.scan()
            found = {(lk.ident.realm, lk.ident.value) for lk in leaks}
            want = {("access", PHONE_IP), ("access", str(alice.port)), ("access", ACCESS_IP),
                    ("access", str(h.access[1])), ("core", UAS_IP), ("core", str(bob.port)),
                    ("core", CORE_IP), ("core", str(h.core[1]))}
            self.assertFalse(want - found, "the scanner missed leaks of %s\n%s" % (
                sorted(want - found), sc.report(leaks)))
            report = sc.report(leaks, limit=6)
            for needle in (PHONE_IP, "Via", "Record-Route", "to uas1 (core realm)", "to alice (access realm)"):
                self.assertIn(needle, sc.report(leaks, limit=len(leaks)))
            if TRACE:
                sys.stderr.write("\n%s\n" % report)
        finally:
            h.close()


# ---------------------------------------------------------------------------

def run_both(argv):
    """Plain and hidden mode in two processes at once (the suite is mostly
    waiting on timers); their reports one after the other."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    procs = []
    for mode in ("off", "on"):
        out = tempfile.TemporaryFile()
        cmd = [sys.executable, os.path.abspath(__file__)] + argv[1:] + ["--hide", mode]
        # Own session: meson's timeout kills the test's process group
        # (SIGTERM, SIGKILL 0.5 s later); the runs must live on to stop
        # their daemons and delete their namespaces on the SIGTERM we pass on.
        procs.append((mode, subprocess.Popen(netns.die_with_parent(cmd), stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True), out))
    codes = {}
    try:
        deadline = time.monotonic() + 900
        for mode, proc, _ in procs:
            codes[mode] = proc.wait(timeout=max(1, deadline - time.monotonic()))
    except (KeyboardInterrupt, subprocess.TimeoutExpired) as e:
        sys.stderr.write("stopping the two runs (%r)\n" % e)
        for mode, proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)     # it stops its own daemon by PID
        for mode, proc, _ in procs:
            try:
                codes[mode] = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[mode] = proc.wait(timeout=5)
    for mode, proc, out in procs:
        out.seek(0)
        sys.stderr.write("\n======== topology hiding %s ========\n" % mode)
        sys.stderr.write(out.read().decode("utf-8", "replace"))
        out.close()
    sys.stderr.write("\nplain (hiding off): %s, hidden (hiding on): %s\n" % (
        "OK" if codes.get("off") == 0 else "FAILED (%s)" % codes.get("off"),
        "OK" if codes.get("on") == 0 else "FAILED (%s)" % codes.get("on")))
    return 0 if codes.get("off") == 0 and codes.get("on") == 0 else 1


def dpdk_network(hidden):
    """--backend dpdk: this process's network (the module doc), the
    addresses and the io: configuration that go with it; then this thread
    moves into the UAs' namespace for good (before any socket or thread
    exists, so all of them live there). Undone by netns.cleanup()."""
    global ACCESS_IP, CORE_IP, UAS_IP, PHONE_IP, MEDIA_IP, NS_SBC, SIP_PORTS, IO_CONFIG
    stale = netns.sweep_stale(NS_PREFIX + r"(\d+)[su]", NS_PREFIX + r"(\d+)")
    if stale:
        sys.stderr.write("deleted namespaces of killed runs: %s\n" % " ".join(stale))
    tag = "%s%d" % (NS_PREFIX, os.getpid())
    ns_s, ns_u = tag + "s", tag + "u"
    access, core = DPDK_SUBNETS[hidden]
    ACCESS_IP, PHONE_IP = access + ".1", access + ".2"
    CORE_IP, UAS_IP = core + ".1", core + ".2"
    MEDIA_IP = {"access": ACCESS_IP, "core": CORE_IP}
    netns.make_netns(ns_s)
    netns.make_netns(ns_u)
    for sbc_dev, ua_dev, ip in (("sa", "ua", PHONE_IP), ("sc", "uc", UAS_IP)):
        netns.veth(ns_s, sbc_dev, ns_u, ua_dev)
        netns.run("ip", "addr", "add", ip + "/24", "dev", ua_dev, ns=ns_u)
        netns.tx_checksum_off(ns_u, ua_dev)
    NS_SBC = ns_s
    SIP_PORTS = {"access": 5060, "core": 5070}
    IO_CONFIG = DPDK_IO.format(access_ip=ACCESS_IP, core_ip=CORE_IP,
                               prefix=netns.dpdk_file_prefix(tag))
    netns.enter(ns_u)


def main(argv):
    global MODE, SBC, SRC, LOG_LEVEL, TRACE, HIDE, SCANNER, BACKEND
    patterns, positional, verbosity = [], [], 2
    hide = None
    it = iter(argv[1:])
    for a in it:
        if a == "-k":
            patterns.append(next(it, ""))
        elif a.startswith("-k") and len(a) > 2:
            patterns.append(a[2:])
        elif a == "--direct":
            MODE = "direct"
        elif a == "--mock":
            MODE = "mock"
        elif a == "--trace":
            TRACE = True
        elif a == "--hide":
            hide = next(it, "")
            if hide not in ("on", "off", "both"):
                sys.stderr.write("--hide on|off|both\n")
                return 2
        elif a == "--log-level":
            LOG_LEVEL = next(it, "info")
        elif a == "--backend":
            BACKEND = next(it, "")
            if BACKEND not in ("socket", "dpdk"):
                sys.stderr.write("--backend socket|dpdk\n")
                return 2
        elif a in ("-q", "--quiet"):
            verbosity = 1
        elif a in ("-v", "--verbose"):
            verbosity = 2
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-"):
            sys.stderr.write("unknown option %s\n%s" % (a, __doc__))
            return 2
        else:
            positional.append(a)
    if MODE == "sbc":
        if not positional:
            sys.stderr.write(__doc__)
            return 2
        SBC = os.path.abspath(positional[0])
        SRC = os.path.abspath(positional[1]) if len(positional) > 1 else None
        if not os.access(SBC, os.X_OK):
            sys.stderr.write("%s: not an executable\n" % SBC)
            return 2
    if MODE != "sbc":
        if BACKEND != "socket":
            sys.stderr.write("--backend dpdk runs the SBC: not with --direct or --mock\n")
            return 2
        hide = "off"                  # the reference model and direct mode do not hide
    if BACKEND == "dpdk":
        rc = netns.dpdk_preflight(SBC, "the DPDK call-flow suite")
        if rc is not None:
            return rc
    if hide in (None, "both"):
        return run_both([a for a in argv if a != "--hide" and a != "both"])
    HIDE = hide == "on"
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if BACKEND == "dpdk":
            dpdk_network(HIDE)
        return run_tests(patterns, verbosity)
    except KeyboardInterrupt as e:
        sys.stderr.write("\ninterrupted (%s): stopping the daemon%s\n" % (
            e, ", deleting the network" if BACKEND == "dpdk" else ""))
        return 1
    finally:
        # a second SIGTERM must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_all()
        netns.cleanup()


def run_tests(patterns, verbosity):
    global SCANNER
    if HIDE:
        SCANNER = leakscan.LeakScanner()
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else "*%s*" % p for p in patterns]
    suite = loader.loadTestsFromTestCase(CallFlows)
    if not HIDE:
        suite.addTests(loader.loadTestsFromTestCase(ScannerCheck))
    if suite.countTestCases() == 0:
        sys.stderr.write("no test matches %r\n" % patterns)
        return 2
    sys.stderr.write("mode: %s%s, %s backend, topology hiding %s\n" % (
        MODE, (" (%s)" % SBC) if SBC else "", BACKEND, "on (access realm)" if HIDE else "off"))
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stderr).run(suite)
    ok = result.wasSuccessful()
    if SCANNER is not None:
        ok = final_leak_scan(SCANNER) and ok
    sys.stderr.write("total %.1f s\n" % (time.monotonic() - t0))
    return 0 if ok else 1


def final_leak_scan(scanner):
    """The whole run once more, with every identifier learnt by its end
    (a token seen late in one test may have leaked early)."""
    leaks = scanner.scan()
    sys.stderr.write("leak scan of the whole run: %s: %s\n" % (
        scanner.stats(), "no leak" if not leaks else scanner.report(leaks)))
    return not leaks


if __name__ == "__main__":
    sys.exit(main(sys.argv))
