#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Protection of the core (issue 6): rate limits answered with 503 +
Retry-After, silence beyond the flood multiple, ACLs, blocking, the global
limit and call admission, checked on the wire and in /metrics.

usage: test_protect.py SBC_BINARY SOURCE_DIR [-k PATTERN] [-v]

Topology (every test starts its own daemon on a temporary configuration with
free ports, and stops it by PID when the test ends):

    callers 127.0.0.4     --  access 127.0.0.1:PA  [sbc]  core 127.0.0.2:PC  --  UAS 127.0.0.3:PU
    flooder 127.0.0.6     /        (metrics 127.0.0.1:PM)
    others  127.0.x.y    /

All of 127.0.0.0/8 is loopback on Linux, so every test source has its own
IP. Counts are checked against what the test itself saw on its sockets;
rates are compared with generous bounds (the test paces its own sending, on a
loaded CI machine), never with timed assertions about the SBC's speed.
"""
import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import free_port  # noqa: E402
from sipua import UA, make_request, new_call_id, new_tag  # noqa: E402

SBC = None
SRC = None

ACCESS_IP = "127.0.0.1"
CORE_IP = "127.0.0.2"
UAS_IP = "127.0.0.3"
CALLER_IP = "127.0.0.4"
FLOOD_IP = "127.0.0.6"
T1 = 0.1

BASE = """\
workers: {workers}
log_level: info
sip:
  t1_ms: 100
  t2_ms: 400
  t4_ms: 500
  timer_c_ms: 3000
  user_agent: "sbc-protect"
control:
  metrics: 127.0.0.1:{pm}
{global_limits}
realms:
  - name: access
    trusted: false
    hide_topology: false
    listen:
      - {{ address: {access_ip}, port: {pa} }}
    media: {{ address: {access_ip}, ports: 28000-28999 }}
{access_extra}
  - name: core
    trusted: true
    hide_topology: false
    listen:
      - {{ address: {core_ip}, port: {pc} }}
    media: {{ address: {core_ip}, ports: 29000-29999 }}
{extra_realms}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: {uas_ip}, port: {pu} }}
  - name: core-to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The daemon

_RUNNING = set()


def _stop_all():
    for d in list(_RUNNING):
        d.stop()


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


atexit.register(_stop_all)


class Sbc:
    """The sbc binary on a temporary configuration; stopped by PID."""

    def __init__(self, workers=2, access_extra="", global_limits="", extra_realms="",
                 extra_listen=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="sbc-protect-")
        self.uas_port = free_port(UAS_IP)
        err = None
        for _attempt in range(3):    # a probed port may be taken before the daemon binds it
            self.access = (ACCESS_IP, free_port(ACCESS_IP))
            self.core = (CORE_IP, free_port(CORE_IP))
            self.pm = free_port("127.0.0.1", socket.SOCK_STREAM)
            self.text = BASE.format(workers=workers, pm=self.pm, global_limits=global_limits,
                                    access_ip=ACCESS_IP, core_ip=CORE_IP, uas_ip=UAS_IP,
                                    pa=self.access[1], pc=self.core[1], pu=self.uas_port,
                                    access_extra=access_extra, extra_realms=extra_realms)
            self.cfg = os.path.join(self.tmp.name, "sbc.yaml")
            with open(self.cfg, "w") as f:
                f.write(self.text)
            self.logpath = os.path.join(self.tmp.name, "sbc.log")
            self.log = open(self.logpath, "w+")
            self.proc = subprocess.Popen([SBC, "-c", self.cfg], stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=subprocess.STDOUT)
            _RUNNING.add(self)
            err = self.wait_ready([self.access, self.core] + list(extra_listen))
            if err is None:
                return
            self.stop()
        raise RuntimeError("sbc did not start: %s\nconfig:\n%s" % (err, self.text))

    def wait_ready(self, addrs, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited with %s: %s" % (self.proc.returncode, self.log_text()[-2000:])
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.pm, timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            return "no metrics endpoint"
        for addr in addrs:
            fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.250", 0))
            s.settimeout(0.1)
            try:
                while time.monotonic() < deadline:
                    s.sendto(options(addr, s.getsockname()), addr)
                    try:
                        s.recvfrom(65535)
                        break
                    except socket.timeout:
                        continue
                else:
                    return "no answer on %s:%d" % addr
            finally:
                s.close()
        return None

    def log_text(self):
        try:
            if not self.log.closed:
                self.log.flush()
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def metrics(self):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.pm,
                                      timeout=5).read().decode()
        return parse_metrics(text)

    def stop(self):
        """SIGTERM our process; its exit status (None if it had to be killed)."""
        _RUNNING.discard(self)
        rc = self.proc.poll()
        try:
            if rc is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            if not self.log.closed:
                self.log.close()
        return rc

    def close(self):
        """Stop; the exit status and what the sanitizers said, if anything."""
        rc = self.stop()
        text = self.log_text()
        self.tmp.cleanup()
        bad = [l for l in text.splitlines()
               if "Sanitizer" in l or "runtime error:" in l]
        return rc, bad


def parse_metrics(text):
    """{(name, (("label", "value"), ...)): float} from the text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError("bad exposition line: %r" % line)
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                         m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(ms, name, **labels):
    return ms.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------
# Raw SIP over UDP (flooders and probes: no retransmission, full control)

_seq = [0]


def request_bytes(method, ruri, via, from_user="tester", call_id=None, to_tag=None,
                  cseq=None, branch=None):
    _seq[0] += 1
    n = _seq[0]
    host = "[%s]" % via[0] if ":" in via[0] else via[0]
    to = "<%s>" % ruri + (";tag=%s" % to_tag if to_tag else "")
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@example.com>;tag=f%d\r\n"
            "To: %s\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n"
            "Contact: <sip:%s@%s:%d>\r\n"
            "Content-Length: 0\r\n\r\n" % (
                method, ruri, host, via[1], branch or "z9hG4bK-p%d" % n, from_user, n, to,
                call_id or "p%d-%s@test" % (n, new_tag()), cseq or n, method, from_user, host,
                via[1])).encode()


def options(dest, via, call_id=None):
    host = "[%s]" % dest[0] if ":" in dest[0] else dest[0]
    return request_bytes("OPTIONS", "sip:%s:%d" % (host, dest[1]), via, call_id=call_id)


def status_of(data):
    m = re.match(rb"SIP/2\.0 (\d{3}) ([^\r\n]*)", data)
    return (int(m.group(1)), m.group(2).decode()) if m else (None, None)


def header(data, name):
    m = re.search(rb"\r\n" + name.encode() + rb"\s*:\s*([^\r\n]*)", data, re.I)
    return m.group(1).decode() if m else None


class Raw:
    """A UDP socket that sends raw requests and collects every answer."""

    def __init__(self, ip):
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((ip, 0))
        self.addr = self.sock.getsockname()[:2]
        self.got = []                 # (time, bytes)
        self.lock = threading.Lock()
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self.sock.settimeout(0.05)
        self._t.start()

    def _loop(self):
        while not self._stop:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.got.append((time.monotonic(), data))

    def send(self, data, dest):
        self.sock.sendto(data, dest)

    def received(self):
        with self.lock:
            return list(self.got)

    def wait_for(self, pred, timeout=2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, d in self.received():
                if pred(d):
                    return d
            time.sleep(0.01)
        return None

    def answer_to(self, call_id, timeout=2.0):
        return self.wait_for(lambda d: header(d, "Call-ID") == call_id, timeout)

    def close(self):
        self._stop = True
        self._t.join(timeout=1)
        self.sock.close()


def paced(rate, duration, fn):
    """Call fn(i) rate times a second for duration seconds; returns (calls, elapsed)."""
    t0 = time.monotonic()
    i = 0
    while True:
        now = time.monotonic()
        if now - t0 >= duration:
            break
        due = int((now - t0) * rate) + 1
        while i < due:
            fn(i)
            i += 1
        time.sleep(0.002)
    return i, time.monotonic() - t0


# ---------------------------------------------------------------------------
# A UAS on the core side: answers every INVITE (486 to the flooder's, 200
# with a dialog to the others), BYE and anything else with 200.

class Uas:
    def __init__(self, port):
        self.ua = UA(UAS_IP, port, name="uas", user="uas", t1=T1)
        self.invites = 0
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop:
            try:
                req = self.ua.expect(timeout=0.2)
            except AssertionError:
                continue
            if req.status is not None or req.method == "ACK":
                continue
            if req.method == "INVITE":
                self.invites += 1
                if "flood" in (req.get("from") or ""):
                    self.ua.answer(req, 486)
                else:
                    self.ua.answer(req, 200, contact=self.ua.contact)
            else:
                self.ua.answer(req, 200)

    def close(self):
        self._stop = True
        self._t.join(timeout=2)
        self.ua.close()


def place_call(ua, dest, ruri, timeout=3.0):
    """INVITE, 200, ACK, BYE, 200; True when the call completed."""
    inv = ua.invite(dest, ruri)
    try:
        ok = ua.expect(status=200, cseq_method="INVITE", call_id=inv.call_id, timeout=timeout)
    except AssertionError:
        return False
    d = ua.dialog(ok)
    d.ack(ok)
    bye = d.request("BYE")
    try:
        ua.expect(status=200, cseq_method="BYE", call_id=bye.call_id, timeout=timeout)
    except AssertionError:
        return False
    ua.discard(call_id=inv.call_id)
    return True


# ---------------------------------------------------------------------------

class ProtectTest(unittest.TestCase):
    sbc = None

    def tearDown(self):
        if self.sbc is not None:
            if self._outcome_failed():
                sys.stderr.write("\n--- sbc log (end) ---\n%s\n" % self.sbc.log_text()[-4000:])
            rc, bad = self.sbc.close()
            self.sbc = None
            self.assertEqual(bad, [], "sanitizer findings in the sbc log")
            self.assertEqual(rc, 0, "sbc exit status")

    def _outcome_failed(self):
        res = getattr(self, "_outcome", None)
        errs = getattr(res, "errors", None) or []
        if hasattr(res, "result"):
            r = res.result
            errs = list(getattr(r, "errors", [])) + list(getattr(r, "failures", []))
        return any(e[1] for e in errs if e and e[0] is self)

    # -- the flood test of the issue ------------------------------------------------
    def test_flood_20x_while_normal_calls_complete(self):
        limit, multiple, retry_after = 10, 4, 5
        self.sbc = Sbc(access_extra="""\
    limits: {{ per_source_cps: {l}, flood_multiple: {m}, retry_after: {r} }}""".format(
            l=limit, m=multiple, r=retry_after))
        uas = Uas(self.sbc.uas_port)
        caller = UA(CALLER_IP, 0, name="caller", user="alice", t1=T1)
        flooder = Raw(FLOOD_IP)
        try:
            results = []
            stop = threading.Event()

            def normal_calls():
                while not stop.is_set():
                    results.append(place_call(caller, self.sbc.access, "sip:bob@%s" % UAS_IP))
                    time.sleep(0.12)     # ~6 calls a second, below the limit of 10

            t = threading.Thread(target=normal_calls, daemon=True)
            t.start()
            time.sleep(0.3)
            call_ids = []

            def flood(i):
                cid = "flood-%d-%s@test" % (i, new_tag())
                call_ids.append(cid)
                flooder.send(request_bytes("INVITE", "sip:bob@%s" % UAS_IP, flooder.addr,
                                           from_user="flood", call_id=cid), self.sbc.access)

            sent, elapsed = paced(20 * limit, 6.0, flood)
            time.sleep(0.3)
            stop.set()
            t.join(timeout=10)
            time.sleep(0.5)

            # what the flooder saw, per Call-ID: admitted (100/486 relayed) or 503
            seen = {}
            retry = []
            for _, d in flooder.received():
                cid = header(d, "Call-ID")
                st, _ = status_of(d)
                if st == 503:
                    seen.setdefault(cid, "503")
                    retry.append(header(d, "Retry-After"))
                elif st is not None:
                    seen[cid] = "admitted"
            admitted = sum(1 for c in call_ids if seen.get(c) == "admitted")
            rejected = sum(1 for c in call_ids if seen.get(c) == "503")
            silent = sent - admitted - rejected
            calls_ok = sum(1 for r in results if r)
            print("\n  flood: %d INVITEs in %.1f s (%.0f/s): %d admitted, %d answered 503, "
                  "%d silent; normal calls %d/%d" % (sent, elapsed, sent / elapsed, admitted,
                                                    rejected, silent, calls_ok, len(results)))

            self.assertGreaterEqual(len(results), 20)
            self.assertGreaterEqual(calls_ok, 0.99 * len(results),
                                    "normal calls failed under the flood")
            # admitted: the limit (plus the burst); answered: up to the multiple
            self.assertLessEqual(admitted, limit * (elapsed + 1) + 5)
            self.assertGreaterEqual(admitted, 0.7 * limit * elapsed)
            self.assertGreater(rejected, 0)
            self.assertLessEqual(admitted + rejected, multiple * limit * (elapsed + 1) + 10)
            self.assertGreaterEqual(rejected, 0.7 * (multiple - 1) * limit * elapsed)
            self.assertGreater(silent, 0.5 * sent)
            for ra in retry:
                self.assertIsNotNone(ra, "503 without Retry-After")
                self.assertTrue(retry_after <= int(ra) <= retry_after + retry_after // 2, ra)
            self.assertGreater(len(set(retry)), 1, "Retry-After is not jittered: %s" % set(retry))

            ms = self.sbc.metrics()
            m_rej = metric(ms, "sbc_ratelimit_decisions_total", realm="access",
                           reason="source_invite", action="reject")
            m_drop = metric(ms, "sbc_ratelimit_decisions_total", realm="access",
                            reason="source_invite", action="drop")
            self.assertEqual(m_rej, rejected)
            self.assertLessEqual(abs(m_drop - silent), 0.01 * sent + 1)
            self.assertGreaterEqual(metric(ms, "sbc_requests_received_total", method="INVITE"),
                                    sent + len(results))
            self.assertEqual(metric(ms, "sbc_ratelimit_blocks_total", realm="access"), 0)
        finally:
            flooder.close()
            caller.close()
            uas.close()

    # -- ACLs ------------------------------------------------------------------------
    def test_acl_allow_deny(self):
        peer_port = free_port(ACCESS_IP)
        self.sbc = Sbc(access_extra="""\
    acl:
      allow: ["127.0.0.0/8"]
      deny: ["127.0.0.66", "127.0.66.0/24"]
      policy: reject""", extra_realms="""\
  - name: peer
    listen:
      - {{ address: {ip}, port: {p} }}
    media: {{ address: {ip}, ports: 30000-30999 }}
    acl: {{ deny: ["127.0.0.66/32"], policy: drop }}""".format(ip=ACCESS_IP, p=peer_port),
            extra_listen=[(ACCESS_IP, peer_port)])
        peer = (ACCESS_IP, peer_port)
        good, bad, bad_net = Raw("127.0.0.4"), Raw("127.0.0.66"), Raw("127.0.66.5")
        try:
            cid = "acl-good@test"
            good.send(options(self.sbc.access, good.addr, call_id=cid), self.sbc.access)
            self.assertEqual(status_of(good.answer_to(cid))[0], 200)

            for src in (bad, bad_net):
                for method in ("OPTIONS", "INVITE", "REGISTER"):
                    cid = "acl-%s-%s@test" % (method, new_tag())
                    src.send(request_bytes(method, "sip:bob@%s" % UAS_IP, src.addr, call_id=cid),
                             self.sbc.access)
                    d = src.answer_to(cid)
                    self.assertIsNotNone(d, "no answer to a denied %s" % method)
                    self.assertEqual(status_of(d), (403, "Forbidden - source not allowed"))
            # an ACK and a response from a denied source: silence, then the
            # next request's 403 is the first thing back
            n0 = len(bad.received())
            bad.send(request_bytes("ACK", "sip:bob@%s" % UAS_IP, bad.addr, call_id="acl-ack"),
                     self.sbc.access)
            bad.send(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-x\r\n"
                     b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: acl-resp\r\n"
                     b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", self.sbc.access)
            bad.send(options(self.sbc.access, bad.addr, call_id="acl-after"), self.sbc.access)
            self.assertIsNotNone(bad.answer_to("acl-after"))
            later = [header(d, "Call-ID") for _, d in bad.received()[n0:]]
            self.assertEqual(later, ["acl-after"])

            # policy drop on the peer realm: nothing at all
            bad.send(options(peer, bad.addr, call_id="acl-peer"), peer)
            self.assertIsNone(bad.answer_to("acl-peer", timeout=0.7))
            good.send(options(peer, good.addr, call_id="acl-peer-good"), peer)
            self.assertEqual(status_of(good.answer_to("acl-peer-good"))[0], 200)

            ms = self.sbc.metrics()
            self.assertEqual(metric(ms, "sbc_acl_decisions_total", realm="access",
                                    action="reject"), 7)
            self.assertEqual(metric(ms, "sbc_acl_decisions_total", realm="access",
                                    action="drop"), 2)
            self.assertEqual(metric(ms, "sbc_acl_decisions_total", realm="peer",
                                    action="drop"), 1)
            self.assertGreaterEqual(metric(ms, "sbc_acl_decisions_total", realm="peer",
                                           action="allow"), 1)
        finally:
            for r in (good, bad, bad_net):
                r.close()

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback (::1) in this environment")
    def test_acl_ipv6(self):
        v6_port = free_port("::1")
        self.sbc = Sbc(extra_realms="""\
  - name: v6
    listen:
      - {{ address: "::1", port: {p} }}
    media: {{ address: "::1", ports: 31000-31999 }}
    acl: {{ allow: ["::/0"], deny: ["::1/128"] }}""".format(p=v6_port),
            extra_listen=[("::1", v6_port)])
        v6 = ("::1", v6_port)
        src = Raw("::1")
        try:
            src.send(options(v6, src.addr, call_id="v6-denied"), v6)
            self.assertEqual(status_of(src.answer_to("v6-denied"))[0], 403)
        finally:
            src.close()

    # -- block and release -----------------------------------------------------------------
    def test_block_and_release(self):
        self.sbc = Sbc(workers=1, access_extra="""\
    limits: { other_per_source_rps: 5, flood_multiple: 2, block_after: 1, block_seconds: 2 }""")
        bad, other = Raw("127.0.0.7"), Raw("127.0.0.8")
        try:
            t0 = time.monotonic()
            paced(50, 1.6, lambda i: bad.send(options(self.sbc.access, bad.addr), self.sbc.access))
            statuses = [status_of(d)[0] for _, d in bad.received()]
            self.assertIn(200, statuses)
            self.assertIn(503, statuses)
            ms = self.sbc.metrics()
            self.assertEqual(metric(ms, "sbc_ratelimit_blocks_total", realm="access"), 1)
            self.assertGreater(metric(ms, "sbc_ratelimit_decisions_total", realm="access",
                                      reason="blocked", action="drop"), 0)
            # blocked: even a single polite request is ignored; others are not
            bad.send(options(self.sbc.access, bad.addr, call_id="blocked-probe"), self.sbc.access)
            self.assertIsNone(bad.answer_to("blocked-probe", timeout=0.3))
            other.send(options(self.sbc.access, other.addr, call_id="other"), self.sbc.access)
            self.assertEqual(status_of(other.answer_to("other"))[0], 200)
            # released after block_seconds (blocked about 1 s after the flood began)
            released = None
            while time.monotonic() - t0 < 8:
                cid = "release-%s" % new_tag()
                bad.send(options(self.sbc.access, bad.addr, call_id=cid), self.sbc.access)
                if bad.answer_to(cid, timeout=0.2) is not None:
                    released = time.monotonic() - t0
                    break
            self.assertIsNotNone(released, "never released")
            print("\n  blocked about 1 s into the flood, released %.1f s after it began"
                  % released)
            self.assertGreaterEqual(released, 2.5)
        finally:
            bad.close()
            other.close()

    # -- global limit ---------------------------------------------------------------------------
    def test_global_cps(self):
        cps = 10
        self.sbc = Sbc(global_limits="limits: { cps: %d, flood_multiple: 2 }" % cps)
        uas = Uas(self.sbc.uas_port)
        srcs = [Raw("127.0.1.%d" % (i + 1)) for i in range(16)]
        sink = Raw(CALLER_IP)
        core = Raw("127.0.0.9")
        try:
            cids = []

            def send(i):
                s = srcs[i % len(srcs)]
                cid = "g%d-%s" % (i, new_tag())
                cids.append((s, cid))
                s.send(request_bytes("INVITE", "sip:bob@%s" % UAS_IP, s.addr, call_id=cid,
                                     from_user="flood"), self.sbc.access)

            sent, elapsed = paced(64, 3.0, send)
            time.sleep(0.5)
            got = {}
            for s in srcs:
                for _, d in s.received():
                    st = status_of(d)[0]
                    cid = header(d, "Call-ID")
                    if st == 503:
                        got.setdefault(cid, 503)
                    elif st is not None:
                        got[cid] = "admitted"
            admitted = sum(1 for _, c in cids if got.get(c) == "admitted")
            rejected = sum(1 for _, c in cids if got.get(c) == 503)
            print("\n  global cps %d: %d INVITEs from 16 sources in %.1f s: %d admitted, "
                  "%d answered 503, %d silent" % (cps, sent, elapsed, admitted, rejected,
                                                  sent - admitted - rejected))
            self.assertLessEqual(admitted, cps * (elapsed + 1) + 5)
            self.assertGreaterEqual(admitted, 0.6 * cps * elapsed)
            self.assertGreater(rejected, 0)
            self.assertGreater(sent - admitted - rejected, 0)
            ms = self.sbc.metrics()
            self.assertEqual(metric(ms, "sbc_ratelimit_decisions_total", realm="access",
                                    reason="global_cps", action="reject"), rejected)
            # the trusted core is exempt: 40 INVITEs at once all go through
            for i in range(40):
                core.send(request_bytes("INVITE", "sip:alice@%s:%d" % sink.addr, core.addr,
                                        call_id="core-%d" % i), self.sbc.core)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                fwd = {header(d, "Call-ID") for _, d in sink.received()
                       if d.startswith(b"INVITE ")}
                if len(fwd) == 40:
                    break
                time.sleep(0.05)
            self.assertEqual(len(fwd), 40)
            self.assertNotIn(503, [status_of(d)[0] for _, d in core.received()])
        finally:
            for s in srcs + [sink, core]:
                s.close()
            uas.close()

    # -- admission: concurrent calls -----------------------------------------------------------------
    def test_concurrent_calls(self):
        self.sbc = Sbc(workers=1, access_extra="""\
    limits: { concurrent_calls: 2, retry_after: 3 }""")
        uas = Uas(self.sbc.uas_port)
        caller = UA(CALLER_IP, 0, name="caller", user="alice", t1=T1)
        try:
            dialogs = []
            for _ in range(2):
                inv = caller.invite(self.sbc.access, "sip:bob@%s" % UAS_IP)
                ok = caller.expect(status=200, cseq_method="INVITE", call_id=inv.call_id)
                d = caller.dialog(ok)
                d.ack(ok)
                dialogs.append(d)
            time.sleep(0.1)          # the worker republishes its call count every 20 ms
            inv = caller.invite(self.sbc.access, "sip:bob@%s" % UAS_IP)
            r = caller.expect(status=503, cseq_method="INVITE", call_id=inv.call_id)
            self.assertIn(int(r.get("retry-after")), (3, 4))
            bye = dialogs[0].request("BYE")
            caller.expect(status=200, cseq_method="BYE", call_id=bye.call_id)
            deadline = time.monotonic() + 5
            while True:
                time.sleep(0.1)
                inv = caller.invite(self.sbc.access, "sip:bob@%s" % UAS_IP)
                r = caller.expect(cseq_method="INVITE", call_id=inv.call_id,
                                  match=lambda m: m.status >= 200)
                if r.status == 200:
                    break
                self.assertLess(time.monotonic(), deadline, "a call ended but none admitted")
            ms = self.sbc.metrics()
            self.assertGreaterEqual(metric(ms, "sbc_ratelimit_decisions_total", realm="access",
                                           reason="concurrent_calls", action="reject"), 1)
        finally:
            caller.close()
            uas.close()


def main():
    global SBC, SRC
    signal.signal(signal.SIGTERM, _on_sigterm)
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    SBC, SRC = os.path.abspath(args[0]), os.path.abspath(args[1])
    unittest.main(argv=[sys.argv[0]] + args[2:], verbosity=2)


if __name__ == "__main__":
    main()
