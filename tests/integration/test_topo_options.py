#!/usr/bin/env python3
"""Per-realm topology options (realms[].topology):

- mask_call_id: the core sees a token as Call-ID, never the phone's; the
  phone sees its own; in-dialog requests work both ways through the mask.
- hide_headers: a configured list replaces the default one.
- register_throttle: the registrar is asked for register_expires, the device
  gets its own expiry back, and its refreshes are answered by the SBC while
  the registrar's grant lasts.
- bad hide_headers entries are configuration errors naming file:line:field.

Usage: test_topo_options.py SBC_BIN SRC_DIR. Standard library only; every
wait is bounded; only our own daemon is killed.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import Daemon, free_port  # noqa: E402
from sipua import UA  # noqa: E402

SBC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "sbc"
ACCESS_IP, CORE_IP, PHONE_IP, UAS_IP = "127.0.0.1", "127.0.0.2", "127.0.0.4", "127.0.0.3"

CONFIG = """\
workers: 2
sip: {{ t1_ms: 100, t2_ms: 400, t4_ms: 500, timer_c_ms: 3000 }}
control: {{ metrics: "" }}
realms:
  - name: access
    trusted: false
    listen: [ {{ address: {access}, port: {pa} }} ]
    media: {{ address: {access}, ports: 22000-22999 }}
    topology: {{ register_throttle: true, register_expires: 600 }}
  - name: core
    trusted: true
    hide_topology: false
    listen: [ {{ address: {core}, port: {pc} }} ]
    media: {{ address: {core}, ports: 23000-23999 }}
    topology: {{ mask_call_id: true, hide_headers: [ Subject, Organization ] }}
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
TOKEN = re.compile(r"^sbc[a-z2-7]{28}$")


class TopologyOptions(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.sent_to_core = []
        self.alice = UA(PHONE_IP, name="alice", call_id_host=PHONE_IP)
        self.bob = UA(UAS_IP, name="bob",
                      tap=lambda ua, d, data, peer: d == "in" and self.sent_to_core.append(data))
        self.pa, self.pc = free_port(ACCESS_IP), free_port(CORE_IP)
        self.sbc = (ACCESS_IP, self.pa)
        self.d = Daemon(SBC, CONFIG.format(access=ACCESS_IP, core=CORE_IP, uas=UAS_IP, pa=self.pa,
                                           pc=self.pc, pu=self.bob.port), self.tmp.name)
        self.assertTrue(self.d.wait_ready(self.sbc, PHONE_IP), "sbc did not come up")

    def tearDown(self):
        rc, text = self.d.stop()
        self.alice.close()
        self.bob.close()
        self.tmp.cleanup()
        self.assertEqual(rc, 0, "sbc exit status %r\n%s" % (rc, text[-3000:]))
        self.assertNotIn("Sanitizer", text)

    def test_call_id_masked_towards_core(self):
        inv = self.alice.invite(self.sbc, "sip:bob@%s:%d" % self.bob.addr,
                                body=SDP.format(ip=PHONE_IP, port=40000).encode(),
                                headers=[("Subject", "hello"), ("Organization", "ACME"),
                                         ("User-Agent", "phone/1.0")])
        b_inv = self.bob.expect(method="INVITE")
        self.assertRegex(b_inv.call_id, TOKEN)
        self.assertNotEqual(b_inv.call_id, inv.call_id)
        # the core realm's own list replaces the default: Subject and
        # Organization go, User-Agent (default list) stays
        self.assertIsNone(b_inv.get("subject"))
        self.assertIsNone(b_inv.get("organization"))
        self.assertEqual(b_inv.get("user-agent"), "phone/1.0")
        r200 = self.bob.answer(b_inv, 200, body=SDP.format(ip=UAS_IP, port=50000).encode(),
                               content_type="application/sdp")
        ok = self.alice.expect(status=200, cseq_method="INVITE")
        self.assertEqual(ok.call_id, inv.call_id, "the phone sees its own Call-ID")
        d = self.alice.dialog(ok)
        d.ack(ok)
        self.assertRegex(self.bob.expect(method="ACK").call_id, TOKEN)
        # callee -> caller through the mask: the phone sees its own Call-ID
        r200.dialog.request("INFO")
        a_info = self.alice.expect(method="INFO")
        self.assertEqual(a_info.call_id, inv.call_id)
        self.alice.answer(a_info, 200)
        self.bob.expect(cseq_method="INFO", status=200)
        # caller -> callee, then the caller hangs up
        d.request("INFO")
        b_info = self.bob.expect(method="INFO")
        self.assertEqual(b_info.call_id, b_inv.call_id)
        self.bob.answer(b_info, 200)
        self.alice.expect(cseq_method="INFO", status=200)
        d.request("BYE")
        b_bye = self.bob.expect(method="BYE")
        self.assertEqual(b_bye.call_id, b_inv.call_id)
        self.bob.answer(b_bye, 200)
        self.alice.expect(cseq_method="BYE", status=200)
        # nothing the core received carries the phone's Call-ID
        for data in self.sent_to_core:
            self.assertNotIn(inv.call_id.encode(), data)

    def test_register_throttled(self):
        registrar = self.bob
        r1 = self.alice.request("REGISTER", self.sbc, "sip:%s:%d" % registrar.addr,
                                headers=[("Expires", "60")])
        got = registrar.expect(method="REGISTER")
        token_contact = got.get("contact")
        self.assertIn(";expires=600", token_contact, "registrar asked for register_expires")
        uri = token_contact[token_contact.index("<") + 1:token_contact.index(">")]
        registrar.answer(got, 200, contact="<%s>;expires=600" % uri)
        a200 = self.alice.expect(status=200, cseq_method="REGISTER")
        self.assertIn(";expires=60", a200.get("contact"))
        self.assertNotIn("expires=600", a200.get("contact"))
        # the refresh is answered by the SBC: the registrar hears nothing
        self.alice.request("REGISTER", self.sbc, "sip:%s:%d" % registrar.addr,
                           call_id=r1.call_id, cseq=r1.cseq[0] + 1, from_=r1.get("from"),
                           headers=[("Expires", "60")])
        a2 = self.alice.expect(status=200, cseq_method="REGISTER")
        self.assertIn(";expires=60", a2.get("contact"))
        registrar.expect_nothing(0.5, method="REGISTER")
        # an un-REGISTER always goes to the registrar
        self.alice.request("REGISTER", self.sbc, "sip:%s:%d" % registrar.addr,
                           call_id=r1.call_id, cseq=r1.cseq[0] + 2, from_=r1.get("from"),
                           headers=[("Expires", "0")])
        got = registrar.expect(method="REGISTER")
        registrar.answer(got, 200)
        self.alice.expect(status=200, cseq_method="REGISTER")


class BadOptions(unittest.TestCase):
    def check(self, hide, needle):
        with tempfile.TemporaryDirectory() as tmp:
            text = CONFIG.format(access=ACCESS_IP, core=CORE_IP, uas=UAS_IP, pa=5070, pc=5070, pu=5080)
            text = text.replace("hide_headers: [ Subject, Organization ]", "hide_headers: [ %s ]" % hide)
            cfg = os.path.join(tmp, "bad.yaml")
            with open(cfg, "w") as f:
                f.write(text)
            p = subprocess.run([SBC, "-t", "-c", cfg], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertRegex(p.stderr, r"bad\.yaml:\d+: realms\[1\]\.topology\.hide_headers\[0\]: .*" + needle)

    def test_needed_header_refused(self):
        self.check("Via", "SIP needs it")

    def test_unknown_header_refused(self):
        self.check("X-Foo", "not a header name")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
