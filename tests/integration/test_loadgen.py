#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of perf/sbc-loadgen through the daemon (Python 3 standard library only).

usage: test_loadgen.py SBC_BINARY LOADGEN_BINARY

    UAC 127.0.0.4 -> sbc access 127.0.0.1:PA / core 127.0.0.2:PC -> UAS 127.0.0.3:PU

50 calls (INVITE with SDP / 100 / 180 / 200 / ACK / BYE / 200) at 50 calls/s,
hold 100 ms: every call must succeed, and the UAS must have seen exactly one
INVITE, ACK and BYE per call. Then 20 REGISTERs and 20 MESSAGEs. With --rtp,
calls through the SBC's media relay must have RTP both ways with (loopback)
next to no loss, and a UAS that sends no RTP (--rtp-mute) must make every
call of a direct UAC -> UAS run fail as media_not_received. Exit 77
(skipped) when the load generator is not built. Every process is started
here and stopped by its PID. No timing is asserted: the bounds below only
stop a hung run.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import free_port  # noqa: E402

SBC = LOADGEN = None
ACCESS_IP, CORE_IP, UAS_IP, UAC_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
CALLS = 50
RTP_CALLS = 30
RTP_OPTS = ["--rtp"]

CONFIG = """\
workers: 1
log_level: warn
control:
  metrics: ""
realms:
  - name: access
    trusted: false
    hide_topology: true
    listen:
      - {{ address: {access}, port: {pa}, transport: udp }}
    advertise: {access}
    # media ranges below the ephemeral ports free_port() hands out
    media: {{ address: {access}, ports: 10000-10999 }}
  - name: core
    trusted: true
    hide_topology: false
    listen:
      - {{ address: {core}, port: {pc}, transport: udp }}
    advertise: {core}
    media: {{ address: {core}, ports: 11000-11999 }}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: {uas}, port: {pu} }}
  - name: core-to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""


def answers_options(addr, timeout=10.0):
    """Any SIP answer to an OPTIONS = up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((UAC_IP, 0))
    s.settimeout(0.1)
    deadline = time.monotonic() + timeout
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            msg = ("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-lgt%d\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:t@%s>;tag=t%d\r\nTo: <sip:%s:%d>\r\n"
                   "Call-ID: lgtest-%d-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                   % (addr + (UAC_IP, s.getsockname()[1], n, UAC_IP, n) + addr + (os.getpid(), n)))
            s.sendto(msg.encode(), addr)
            try:
                if s.recv(65535).startswith(b"SIP/2.0 "):
                    return True
            except socket.timeout:
                pass
        return False
    finally:
        s.close()


class Proc:
    """A child process with its output in files; stopped by its PID."""

    def __init__(self, argv, workdir, name):
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self.out = open(self.out_path, "w+")
        self.err = open(self.err_path, "w+")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.p.kill()
                self.p.wait(timeout=5)
        for f in (self.out, self.err):
            if not f.closed:
                f.close()

    def text(self, which="out"):
        with open(self.out_path if which == "out" else self.err_path, errors="replace") as f:
            return f.read()


class LoadgenThroughSbc(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sbc-loadgen-test-")
        self.procs = []
        self.pa, self.pc = free_port(ACCESS_IP), free_port(CORE_IP)
        self.pu = free_port(UAS_IP)
        cfg = os.path.join(self.tmp.name, "sbc.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(access=ACCESS_IP, core=CORE_IP, uas=UAS_IP, pa=self.pa,
                                  pc=self.pc, pu=self.pu))
        self.sbc = self.start([SBC, "-c", cfg], "sbc")
        self.assertTrue(answers_options((ACCESS_IP, self.pa)), self.sbc_log())

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        self.tmp.cleanup()

    def start(self, argv, name):
        p = Proc(argv, self.tmp.name, name)
        self.procs.append(p)
        return p

    def sbc_log(self):
        return "sbc log:\n" + self.sbc.text("out")[-3000:] + self.sbc.text("err")[-3000:]

    def uas(self, name, *extra):
        return self.start([LOADGEN, "--role", "uas", "--local", "%s:%d" % (UAS_IP, self.pu),
                           "--idle-exit", "0", "--duration", "120", "--interval", "0", "--json"]
                          + list(extra), name)

    def uac(self, name, *extra):
        """Runs a UAC to completion; returns its JSON report."""
        p = self.start([LOADGEN, "--role", "uac", "--local", "%s:0" % UAC_IP,
                        "--remote", "%s:%d" % (ACCESS_IP, self.pa),
                        "--ruri", "sip:bob@%s:%d" % (UAS_IP, self.pu),
                        "--interval", "0", "--json", "--drain", "10"] + list(extra), name)
        rc = p.wait(60)
        p.stop()
        self.assertIsNotNone(rc, "UAC did not stop by itself")
        report = json.loads(p.text())
        self.assertEqual(rc, 0, "UAC exit status %s: %s\n%s" % (rc, p.text(), self.sbc_log()))
        return report

    def uas_report(self, p):
        p.stop()   # SIGTERM: it reports and exits
        return json.loads(p.text())

    def test_calls(self):
        uas = self.uas("uas-calls")
        r = self.uac("uac-calls", "--calls", str(CALLS), "--rate", "50", "--hold-ms", "100")
        self.assertEqual((r["started"], r["ok"], r["failed"]), (CALLS, CALLS, 0), r)
        self.assertEqual(r["latency_ms"]["count"], CALLS)
        self.assertEqual(r["invite_responses"].get("200"), CALLS, r["invite_responses"])
        u = self.uas_report(uas)
        self.assertEqual(u["requests_received"],
                         {"INVITE": CALLS, "ACK": CALLS, "BYE": CALLS}, u)
        self.assertEqual(u["uas_never_acked"], 0)

    def test_register_and_message(self):
        uas = self.uas("uas-reg")
        r = self.uac("uac-reg", "-s", "register", "--calls", "20", "--rate", "50",
                     "--refreshes", "1", "--hold-ms", "50")
        self.assertEqual((r["ok"], r["failed"]), (20, 0), r)
        r = self.uac("uac-msg", "-s", "message", "--calls", "20", "--rate", "50")
        self.assertEqual((r["ok"], r["failed"]), (20, 0), r)
        u = self.uas_report(uas)
        self.assertEqual(u["requests_received"], {"REGISTER": 40, "MESSAGE": 20}, u)

    def test_calls_with_rtp(self):
        # Both ends stream RTP through the SBC's relay ports (media anchoring
        # on both realms): every call must be judged and have media both
        # ways, and what one end sent the other received, less the packets
        # still in flight at the BYE (at most a few per call) and a small loss.
        uas = self.uas("uas-rtp", *RTP_OPTS)
        r = self.uac("uac-rtp", "--calls", str(RTP_CALLS), "--rate", "30", "--hold-ms", "1000",
                     *RTP_OPTS)
        u = self.uas_report(uas)
        self.assertEqual((r["ok"], r["failed"]), (RTP_CALLS, 0), r)
        for side, rep in (("uac", r), ("uas", u)):
            m = rep["media"]
            self.assertEqual(m["streams"], RTP_CALLS, (side, m))
            self.assertEqual((m["calls_ok"], m["calls_failed"], m["calls_unjudged"],
                              m["open_at_exit"], m["bad_sdp"]), (RTP_CALLS, 0, 0, 0, 0), (side, m))
            self.assertGreater(m["received"]["counted"], 0, (side, m))
            self.assertLessEqual(m["received"]["lost"], 0.01 * m["received"]["expected"] + 1,
                                 (side, m))
            self.assertEqual(m["received"]["not_rtp"], 0, (side, m))
        for sender, receiver in ((r, u), (u, r)):
            sent = sender["media"]["sent"]["packets"]
            got = receiver["media"]["received"]["counted"]
            # ~50 packets per call each way over a 1 s hold
            self.assertGreater(sent, 20 * RTP_CALLS, sender["media"])
            self.assertLessEqual(got, sent, (sender["media"], receiver["media"]))
            self.assertGreaterEqual(got, 0.98 * sent - 3 * RTP_CALLS,
                                    (sender["media"], receiver["media"]))

    def test_media_failure_is_counted(self):
        # UAC -> UAS directly, the UAS sending no RTP: every call fails as
        # media_not_received at the UAC, while the UAS got the UAC's media.
        uas = self.uas("uas-mute", "--rtp", "--rtp-mute")
        p = self.start([LOADGEN, "--local", "%s:0" % UAC_IP, "--remote", "%s:%d" % (UAS_IP, self.pu),
                        "--calls", "10", "--rate", "50", "--hold-ms", "600", "--rtp",
                        "--interval", "0", "--json", "--drain", "10"], "uac-mute")
        rc = p.wait(60)
        p.stop()
        r = json.loads(p.text())
        self.assertEqual(rc, 1, r)
        self.assertEqual((r["ok"], r["failed"]), (0, 10), r)
        self.assertEqual(r["failures_other"]["media_not_received"], 10, r)
        self.assertEqual((r["media"]["calls_not_received"], r["media"]["calls_ok"],
                          r["media"]["received"]["packets"]), (10, 0, 0), r["media"])
        u = self.uas_report(uas)
        self.assertEqual((u["media"]["calls_ok"], u["media"]["sent"]["packets"]), (10, 0),
                         u["media"])
        self.assertGreater(u["media"]["received"]["counted"], 0, u["media"])

    def test_help_documents_rtp(self):
        out = subprocess.run([LOADGEN, "--help"], stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout
        for opt in ("--rtp ", "--rtp-ptime", "--rtp-payload", "--rtp-port", "--rtp-mute",
                    "--rtp-streams", "media_not_received", "media_not_delivered"):
            self.assertIn(opt, out)
        bad = subprocess.run([LOADGEN, "--rtp", "-s", "options"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.assertEqual(bad.returncode, 2)

    def test_failure_is_counted(self):
        # --uas-code: every call refused with 486 and counted by its code.
        uas = self.start([LOADGEN, "--role", "uas", "--local", "%s:%d" % (UAS_IP, self.pu),
                          "--uas-code", "486", "--idle-exit", "0", "--duration", "120",
                          "--interval", "0", "--json"], "uas-486")
        p = self.start([LOADGEN, "--local", "%s:0" % UAC_IP, "--remote",
                        "%s:%d" % (ACCESS_IP, self.pa), "--calls", "10", "--rate", "50",
                        "--interval", "0", "--json", "--drain", "10"], "uac-486")
        rc = p.wait(60)
        p.stop()
        r = json.loads(p.text())
        self.assertEqual(rc, 1)
        self.assertEqual((r["ok"], r["failed"], r["failures_by_status"]), (0, 10, {"486": 10}), r)
        self.uas_report(uas)


def main():
    global SBC, LOADGEN
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    SBC, LOADGEN = sys.argv[1], sys.argv[2]
    if not os.path.exists(LOADGEN):
        print("skipped: %s not built" % LOADGEN)
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
