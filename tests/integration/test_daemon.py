#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The sbc daemon over loopback UDP (Python 3 standard library only).

usage: test_daemon.py SBC_BINARY SOURCE_DIR

Starts `sbc -c` on a temporary configuration with free high ports on
127.0.0.1 (5060 may be taken), sends SIP datagrams and checks the answers,
then stops it with SIGTERM. Only the process this script started is ever
signalled. "No answer" is checked without sleeping: after the message that
must not be answered, the same socket sends an OPTIONS; since one source
address always reaches the same worker, which handles datagrams in order, the
first datagram back must be the 200 to that OPTIONS.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SBC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "sbc"
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else "."
HOST = "127.0.0.1"
RECV_TIMEOUT = 2.0

ALL_METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
               "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"]

CONFIG = """\
workers: 2
log_level: info
sip:
  user_agent: "sbc-test"
control:
  metrics: ""
realms:
  - name: access
    trusted: false
    listen:
      - {{ address: 127.0.0.1, port: {access} }}
    media: {{ address: 127.0.0.10, ports: 20000-20999 }}
  - name: core
    trusted: true
    listen:
      - {{ address: 127.0.0.1, port: {core} }}
    media: {{ address: 127.0.0.11, ports: 20000-20999 }}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: 127.0.0.3, port: {hop} }}
  - name: core-to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""


def free_ports(n):
    """n distinct UDP ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


_seq = [0]


def request(method, ruri, port, headers=None, drop=(), cseq=None, body="",
            version="SIP/2.0", content_length=None):
    """A request with the mandatory headers, some replaced or dropped."""
    _seq[0] += 1
    n = _seq[0]
    hdrs = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-t%d;rport" % (port, n)),
        ("Max-Forwards", "70"),
        ("From", "<sip:tester@example.com>;tag=f%d" % n),
        ("To", "<sip:sbc@example.com>"),
        ("Call-ID", "call-%d@test" % n),
        ("CSeq", cseq if cseq is not None else "%d %s" % (n, method)),
    ]
    for name, value in (headers or {}).items():
        hdrs = [(k, v) for k, v in hdrs if k != name]
        hdrs.append((name, value))
    hdrs = [(k, v) for k, v in hdrs if k not in drop]
    cl = len(body.encode()) if content_length is None else content_length
    hdrs.append(("Content-Length", str(cl)))
    text = "%s %s %s\r\n" % (method, ruri, version)
    text += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n" + body
    return text.encode(), dict(hdrs)


def parse_response(data):
    head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    m = re.match(r"SIP/2\.0 (\d{3}) (.*)$", lines[0])
    if not m:
        raise AssertionError("not a SIP response: %r" % lines[0])
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        hdrs.setdefault(name.strip().lower(), []).append(value.strip())
    return int(m.group(1)), m.group(2), hdrs, lines


class Daemon:
    def __init__(self, config_text, tmpdir):
        self.cfg = os.path.join(tmpdir, "sbc.yaml")
        with open(self.cfg, "w") as f:
            f.write(config_text)
        self.log = open(os.path.join(tmpdir, "sbc.log"), "w+")
        self.proc = subprocess.Popen([SBC, "-c", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout=2.0):
        """Signal our process; returns (exit code, seconds it took)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


class Client:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(RECV_TIMEOUT)
        self.port = port
        self.local_port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendto(data, (HOST, self.port))

    def recv(self):
        data, addr = self.sock.recvfrom(65535)
        assert addr == (HOST, self.port), addr
        return parse_response(data)

    def ask(self, method="OPTIONS", ruri=None, **kw):
        data, sent = request(method, ruri or "sip:%s:%d" % (HOST, self.port), self.local_port, **kw)
        self.send(data)
        return self.recv() + (sent,)

    def expect_silence(self, data):
        """data must get no answer: the next datagram answers a probe."""
        self.send(data)
        probe, sent = request("OPTIONS", "sip:%s:%d" % (HOST, self.port), self.local_port)
        self.send(probe)
        status, _, hdrs, _ = self.recv()
        assert status == 200, status
        assert hdrs["call-id"] == [sent["Call-ID"]], "answered the silent message: %r" % hdrs


DAEMON = None
TMP = None
PORTS = None
# The access realm's next hop: a socket of the test, to see what is relayed.
HOP = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def hop_port():
    return HOP.getsockname()[1]


def hop_recv(method):
    """Next request of `method` the SBC relayed to the next hop, skipping
    retransmissions of other tests' requests."""
    while True:
        text = HOP.recvfrom(65535)[0].decode("utf-8", "replace")
        if text.startswith(method + " "):
            return text


def setUpModule():
    global DAEMON, TMP, PORTS
    TMP = tempfile.TemporaryDirectory(prefix="sbc-test-")
    for _attempt in range(3):  # a port may be taken between probe and bind
        PORTS = free_ports(2)
        HOP.bind(("127.0.0.3", 0))
        HOP.settimeout(RECV_TIMEOUT)
        DAEMON = Daemon(CONFIG.format(access=PORTS[0], core=PORTS[1], hop=hop_port()), TMP.name)
        if wait_ready(DAEMON, PORTS[0]):
            return
        DAEMON.kill()
    raise RuntimeError("sbc did not start:\n" + DAEMON.log_text())


def wait_ready(daemon, port, timeout=10.0):
    c = Client(port)
    c.sock.settimeout(0.2)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon.proc.poll() is not None:
                return False
            try:
                status = c.ask()[0]
                return status == 200
            except socket.timeout:
                continue
        return False
    finally:
        c.close()


def tearDownModule():
    if DAEMON:
        DAEMON.kill()
    if TMP:
        TMP.cleanup()


class SipAnswers(unittest.TestCase):
    def setUp(self):
        self.c = Client(PORTS[0])

    def tearDown(self):
        self.c.close()

    def test_options_to_sbc(self):
        status, reason, hdrs, lines, sent = self.c.ask("OPTIONS", "sip:%s:%d" % (HOST, PORTS[0]))
        self.assertEqual((status, reason), (200, "OK"))
        self.assertEqual(hdrs["via"], [sent["Via"]])
        self.assertEqual(hdrs["from"], [sent["From"]])
        self.assertEqual(hdrs["call-id"], [sent["Call-ID"]])
        self.assertEqual(hdrs["cseq"], [sent["CSeq"]])
        self.assertEqual(len(hdrs["to"]), 1)
        self.assertRegex(hdrs["to"][0], r"^<sip:sbc@example\.com>;tag=[0-9a-f]{8,}$")
        allow = [m.strip() for m in hdrs["allow"][0].split(",")]
        self.assertEqual(sorted(allow), sorted(ALL_METHODS))
        self.assertEqual(hdrs["accept"], ["application/sdp"])
        self.assertIn("supported", hdrs)
        self.assertEqual(hdrs["server"], ["sbc-test"])
        self.assertEqual(hdrs["content-length"], ["0"])

    def test_options_without_user_part(self):
        self.assertEqual(self.c.ask("OPTIONS", "sip:example.com")[0], 200)

    def test_options_to_user_at_sbc_address(self):
        self.assertEqual(self.c.ask("OPTIONS", "sip:alice@%s" % HOST)[0], 200)

    def test_options_to_someone_else_is_relayed(self):
        # Not for the SBC: the access realm's route sends it to the next hop.
        data, _ = request("OPTIONS", "sip:alice@192.0.2.1", self.c.local_port)
        self.c.send(data)
        relayed = hop_recv("OPTIONS")
        self.assertTrue(relayed.startswith("OPTIONS sip:alice@192.0.2.1 SIP/2.0\r\n"), relayed)
        self.assertIn("Max-Forwards: 69\r\n", relayed)
        self.assertRegex(relayed, r"Via: SIP/2\.0/UDP 127\.0\.0\.1:%d;branch=z9hG4bK-sbc-" % PORTS[1])

    def test_core_realm_answers(self):
        c = Client(PORTS[1])
        try:
            self.assertEqual(c.ask()[0], 200)
        finally:
            c.close()

    def test_missing_call_id(self):
        status, reason, hdrs, _, sent = self.c.ask(drop=("Call-ID",))
        self.assertEqual((status, reason), (400, "Bad Request - Missing Call-ID"))
        self.assertEqual(hdrs["via"], [sent["Via"]])

    def test_bad_cseq(self):
        status, reason = self.c.ask(cseq="one OPTIONS")[:2]
        self.assertEqual((status, reason), (400, "Bad Request - Malformed CSeq"))

    def test_content_length_beyond_datagram(self):
        status, reason = self.c.ask("OPTIONS", body="v=0\r\n", content_length=500)[:2]
        self.assertEqual((status, reason), (400, "Bad Request - Content-Length exceeds datagram"))

    def test_bad_version(self):
        status, reason = self.c.ask(version="SIP/7.0")[:2]
        self.assertEqual((status, reason), (505, "Version Not Supported"))

    def test_invite_gets_100_and_is_relayed(self):
        status, reason, hdrs, _, sent = self.c.ask("INVITE", "sip:bob@192.0.2.1")
        self.assertEqual((status, reason), (100, "Trying"))
        self.assertEqual(hdrs["call-id"], [sent["Call-ID"]])
        relayed = hop_recv("INVITE")
        self.assertTrue(relayed.startswith("INVITE sip:bob@192.0.2.1 SIP/2.0\r\n"), relayed)
        # The access realm hides topology (the default): the core sees one
        # Via, ours, and no Record-Route: nothing of the access side.
        self.assertEqual(re.findall(r"(?mi)^Via:.*$", relayed),
                         ["Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r"
                          % (PORTS[1], re.search(r"branch=([^;]+);rport", relayed).group(1))])
        self.assertNotIn("Record-Route", relayed)
        self.assertNotIn(str(self.c.local_port), relayed)

    def test_cancel_of_nothing(self):
        status, reason = self.c.ask("CANCEL", "sip:bob@192.0.2.1")[:2]
        self.assertEqual((status, reason), (481, "Call/Transaction Does Not Exist"))

    def test_max_forwards_zero(self):
        status, reason = self.c.ask("INVITE", "sip:bob@192.0.2.1",
                                    headers={"Max-Forwards": "0"})[:2]
        self.assertEqual((status, reason), (483, "Too Many Hops"))

    def test_max_forwards_zero_options_to_sbc(self):
        # The SBC is the endpoint of OPTIONS to itself (RFC 3261 16.3 step 3).
        self.assertEqual(self.c.ask(headers={"Max-Forwards": "0"})[0], 200)

    def test_require_unknown(self):
        status, reason, hdrs, _, _ = self.c.ask(headers={"Require": "foo"})
        self.assertEqual((status, reason), (420, "Bad Extension"))
        self.assertEqual(hdrs["unsupported"], ["foo"])

    def test_require_two_tags(self):
        status, _, hdrs, _, _ = self.c.ask(headers={"Require": "foo, 100rel"})
        self.assertEqual(status, 420)
        self.assertEqual([t.strip() for t in hdrs["unsupported"][0].split(",")],
                         ["foo", "100rel"])

    def test_ack_absorbed(self):
        data, _ = request("ACK", "sip:bob@192.0.2.1", self.c.local_port)
        self.c.expect_silence(data)

    def test_malformed_ack_not_answered(self):
        data, _ = request("ACK", "sip:bob@192.0.2.1", self.c.local_port, drop=("Call-ID",))
        self.c.expect_silence(data)

    def test_response_dropped(self):
        data = ("SIP/2.0 200 OK\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\n"
                "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
                "Call-ID: resp@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode()
        self.c.expect_silence(data)

    def test_garbage_dropped_and_daemon_keeps_working(self):
        for junk in (b"\x00\x01garbage\xff", b"hello world", b"GET / HTTP/1.1\r\n\r\n",
                     b"INVITE\r\n\r\n", b"x" * 2000):
            self.c.expect_silence(junk)
        self.assertEqual(self.c.ask()[0], 200)

    def test_keepalive_answered(self):
        # RFC 5626 4.4.1: a double-CRLF ping gets a CRLF pong.
        self.c.send(b"\r\n\r\n")
        data, addr = self.c.sock.recvfrom(65535)
        self.assertEqual((data, addr), (b"\r\n", (HOST, PORTS[0])))


class Workers(unittest.TestCase):
    def test_all_workers_answer(self):
        """Many source ports spread over both workers (4-tuple hash): every
        OPTIONS is answered with the process-wide stateless To tag, and each
        worker's receive count (logged at shutdown) shows both took a share."""
        tmp = tempfile.TemporaryDirectory()
        ports = free_ports(2)
        d = Daemon(CONFIG.format(access=ports[0], core=ports[1], hop=hop_port()), tmp.name)
        clients = []
        try:
            self.assertTrue(wait_ready(d, ports[0]), d.log_text())
            clients = [Client(ports[0]) for _ in range(32)]
            tags = set()
            for c in clients:
                for _ in range(3):
                    status, _, hdrs, _, _ = c.ask()
                    self.assertEqual(status, 200)
                    tags.add(hdrs["to"][0].split(";tag=")[1])
            self.assertEqual(len(tags), 1, "To tags seen: %r" % tags)
            rc, _ = d.stop()
            log = d.log_text()
            self.assertEqual(rc, 0, log)
            counts = [int(n) for n in re.findall(r"worker \d+: received (\d+)", log)]
            self.assertEqual(len(counts), 2, log)
            self.assertTrue(all(n > 0 for n in counts), "per-worker receive counts %r" % counts)
        finally:
            for c in clients:
                c.close()
            d.kill()
            tmp.cleanup()


class ConfigCheck(unittest.TestCase):
    def run_t(self, path):
        return subprocess.run([SBC, "-t", "-c", path], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=10)

    def test_bad_config(self):
        path = os.path.join(SRC, "tests", "conf-bad", "port-range.yaml")
        r = self.run_t(path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(path + ":10: realms[1].listen[0].port: 70000 is not a port (1-65535)",
                      r.stderr)

    def test_good_configs(self):
        for name in ("sbc.yaml", "carrier-edge.yaml"):
            r = self.run_t(os.path.join(SRC, "conf", name))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_missing_file(self):
        self.assertEqual(self.run_t("/nonexistent/sbc.yaml").returncode, 2)

    def test_usage(self):
        r = subprocess.run([SBC, "-q"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([SBC, "-V"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("sbc "))


class ZStop(unittest.TestCase):
    """Runs last (unittest sorts classes by name)."""

    def test_port_in_use_refused(self):
        # A second daemon on the same ports must not join the SO_REUSEPORT
        # group and steal traffic; it fails at start-up instead.
        with tempfile.TemporaryDirectory(prefix="sbc-test2-") as tmp:
            d = Daemon(CONFIG.format(access=PORTS[0], core=PORTS[1], hop=hop_port()), tmp)
            try:
                rc = d.proc.wait(timeout=10)
                self.assertEqual(rc, 1)
                self.assertIn("in use", d.log_text())
            finally:
                d.kill()

    def test_sigterm(self):
        rc, took = DAEMON.stop(signal.SIGTERM, timeout=2.0)
        log = DAEMON.log_text()
        self.assertEqual(rc, 0, log)
        self.assertLess(took, 2.0)
        self.assertIn("total: received", log)
        self.assertIn("OPTIONS answered", log)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
