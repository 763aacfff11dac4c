#!/usr/bin/env python3
"""Dialogs the SBC ends itself, and what it answers afterwards.

Usage: test_dialog_end.py SBC_BIN SRC_DIR

- Maximum call duration (sip.max_dialog_duration_s): a confirmed call is
  ended by the SBC with a BYE to each side carrying a Reason header; after
  that the dialog is gone: a BYE to its token gets 481.
- A request to a token whose MAC is wrong gets 403 (never looked up).
- The daemon exits 0 on SIGTERM after all this (in the ASan build, that
  includes LeakSanitizer finding no leak).
Standard library only; every wait is bounded; only our own daemon is killed.
"""
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import Daemon, free_port  # noqa: E402
from sipua import UA  # noqa: E402

SBC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "sbc"
ACCESS_IP, CORE_IP, PHONE_IP, UAS_IP = "127.0.0.1", "127.0.0.2", "127.0.0.4", "127.0.0.3"

CONFIG = """\
workers: 2
sip: {{ t1_ms: 100, t2_ms: 400, t4_ms: 500, timer_c_ms: 3000, max_dialog_duration_s: 2 }}
control: {{ metrics: "" }}
realms:
  - name: access
    trusted: false
    listen: [ {{ address: {access}, port: {pa} }} ]
    media: {{ address: {access}, ports: 20000-20999 }}
  - name: core
    trusted: true
    hide_topology: false
    listen: [ {{ address: {core}, port: {pc} }} ]
    media: {{ address: {core}, ports: 21000-21999 }}
routes:
  - name: a2c
    from_realm: access
    to_realm: core
    next_hops: [ {{ host: {uas}, port: {pu} }} ]
  - name: c2a
    from_realm: core
    to_realm: access
    next_hops: ruri
"""

SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\n")


class DialogEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.alice = UA(PHONE_IP, name="alice")
        self.bob = UA(UAS_IP, name="bob")
        self.pa, self.pc = free_port(ACCESS_IP), free_port(CORE_IP)
        self.d = Daemon(SBC, CONFIG.format(access=ACCESS_IP, core=CORE_IP, uas=UAS_IP, pa=self.pa,
                                           pc=self.pc, pu=self.bob.port), self.tmp.name)
        self.sbc = (ACCESS_IP, self.pa)
        self.assertTrue(self.d.wait_ready(self.sbc, PHONE_IP), "sbc did not come up")

    def tearDown(self):
        rc, text = self.d.stop()
        self.alice.close()
        self.bob.close()
        self.tmp.cleanup()
        self.assertEqual(rc, 0, "sbc exit status %r\n%s" % (rc, text[-4000:]))
        self.assertNotIn("Sanitizer", text)

    def call(self):
        inv = self.alice.invite(self.sbc, "sip:bob@%s:%d" % self.bob.addr,
                                body=SDP.format(ip=PHONE_IP, port=40000).encode())
        b_inv = self.bob.expect(method="INVITE")
        self.bob.answer(b_inv, 200, body=SDP.format(ip=UAS_IP, port=50000).encode(),
                        content_type="application/sdp")
        ok = self.alice.expect(status=200, cseq_method="INVITE")
        d = self.alice.dialog(ok)
        d.ack(ok)
        self.bob.expect(method="ACK")
        return inv, d

    def log_text(self):
        return self.d.log_text()

    def test_max_duration_ends_call_with_bye_both_ways(self):
        t0 = time.monotonic()
        inv, d = self.call()
        bye_b = self.bob.expect(method="BYE", timeout=6)
        bye_a = self.alice.expect(method="BYE", timeout=2)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.9, "BYE before the 2 s maximum")
        for bye in (bye_a, bye_b):
            self.assertIn("Maximum call duration", bye.get("reason") or "", bye.summary())
        self.bob.answer(bye_b, 200)
        self.alice.answer(bye_a, 200)
        # the call record of the ended call is in the log
        deadline = time.monotonic() + 2
        while "call-record call-id=%s " % inv.call_id not in self.log_text():
            self.assertLess(time.monotonic(), deadline, self.log_text()[-2000:])
            time.sleep(0.05)
        self.assertRegex(self.log_text(), r"call-record call-id=%s duration_ms=\d+ realms=access>core m0=\[a: pkts \d+"
                         % re.escape(inv.call_id))
        # the dialog is gone: the caller's own BYE now gets 481
        d.request("BYE")
        r = self.alice.expect(cseq_method="BYE", match=lambda m: m.is_response and m.status >= 200)
        self.assertEqual(r.status, 481, r.summary())

    def test_forged_token_403(self):
        _, d = self.call()
        target = d.remote_target
        self.assertRegex(target, r"sip:sbc[a-z2-7]{28}@")
        i = target.index("sbc") + 5
        d.remote_target = target[:i] + ("a" if target[i] != "a" else "b") + target[i + 1:]
        d.request("INFO")
        r = self.alice.expect(cseq_method="INFO", match=lambda m: m.is_response and m.status >= 200)
        self.assertEqual(r.status, 403, r.summary())
        self.assertIn("token", r.reason)
        d.remote_target = target
        d.request("BYE")
        self.bob.answer(self.bob.expect(method="BYE"), 200)
        self.alice.expect(cseq_method="BYE", status=200)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
