#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Registrations behind NAT, dialog tokens and keep-alives through the
topology-hiding SBC (Python 3 standard library only).

usage: test_registration.py SBC_BINARY SOURCE_DIR [-k PATTERN]... [-v] [--trace]
                            [--log-level LEVEL]

The network, the daemon and the message checks are test_callflows.py's (Net,
hidden mode: access realm hide_topology: true, core false), so every relayed
message is compared with what its sender sent, transformed as the hiding SBC
must, and the leak scanner (leakscan.py) watches every datagram the SBC sends
during the run (per test and once more at the end).

A device behind a simulated NAT sends from its socket's port X while its Via
and Contact say port Y; a second socket bound on Y must never receive
anything. The registrar is next hop 1 (uas1). A core UA (carol) calls the
device the way a core proxy would after a registrar lookup: an INVITE to the
Contact the registrar saw, i.e. the SBC's binding token on the core side.
"""
import base64
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import leakscan  # noqa: E402
import test_callflows as cf  # noqa: E402
from sipua import Uri, make_request, new_call_id, new_tag, sdp  # noqa: E402
from test_callflows import DOMAIN, PHONE_IP, UAS_IP  # noqa: E402

GRACE = 5.0            # REG_GRACE_S: a binding outlives its granted expiry by this
REGISTRAR_URI = "sip:%s" % DOMAIN
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def token_shard(token_uri):
    """The shard a token names (readable without the secret, lib/topo)."""
    tok = Uri(token_uri).user[3:].upper()
    raw = base64.b32decode(tok + "=" * (-len(tok) % 8))
    return raw[2]


def forge(token_uri):
    """The token URI with one character of the MAC'd part changed (not the
    last one: its low bits are padding)."""
    u = Uri(token_uri)
    tok = u.user
    i = 20
    c = B32[(B32.index(tok[i]) + 7) % 32]
    u.user = tok[:i] + c + tok[i + 1:]
    return str(u)


class Registration(cf.FlowCase):
    # -- helpers ------------------------------------------------------------------------
    def nat_device(self, user="dave"):
        """A phone behind NAT: sends from its socket (port X), its Via and
        Contact name port Y, where a silent UA listens (final_checks fails
        the test if anything reaches it)."""
        h = self.h
        dev = h.phone(user)
        hole = h.phone(user + "-Y")
        dev.via_port = hole.port
        dev.contact = "<sip:%s@%s:%d>" % (user, PHONE_IP, hole.port)
        dev.contact_uri = "sip:%s@%s:%d" % (user, PHONE_IP, hole.port)
        return dev, hole

    def register(self, dev, expires=60, granted=None, reg=None, headers=(), others=(),
                 contact=None):
        """REGISTER (or a refresh of `reg`) through the SBC; the registrar
        grants `granted` (default: expires) and also lists `others` (other
        bindings of the AOR, which the device must not see). Returns (token
        URI the registrar saw, the REGISTER as sent, the 200 as received)."""
        h, registrar = self.h, self.h.uas1
        granted = expires if granted is None else granted
        kw = {}
        if reg is not None:
            kw = dict(call_id=reg.call_id, cseq=reg.cseq[0] + 1, from_=reg.get("from"))
        hdrs = list(headers)
        if expires is not None:
            hdrs.append(("Expires", str(expires)))
        r = dev.request("REGISTER", h.to_core(), REGISTRAR_URI, headers=hdrs,
                        contact=contact or dev.contact, **kw)
        got = h.expect_request(registrar, r)
        token_uri = str(got.contact_uri)
        self.assertTrue(h.is_token_uri(token_uri, "core"), "registrar saw %r" % token_uri)
        binding = "<%s>;expires=%d" % (token_uri, granted)
        resp = registrar.answer(got, 200, contact=", ".join([binding] + list(others)))
        a200 = h.expect_response(dev, resp)
        self.assertEqual(a200.get("contact"), "<%s>;expires=%d" % (dev.contact_uri, granted),
                         "the device sees its own Contact, with the expiry granted, and no other binding")
        return token_uri, r, a200

    def unregister(self, dev, reg, contact=None, answer_contact=None):
        """REGISTER Expires: 0 for the device's contact (or `contact`, e.g.
        "*"); the registrar answers 200 listing `answer_contact` (RFC 3261
        10.3: the bindings that remain, so by default none)."""
        h, registrar = self.h, self.h.uas1
        r = dev.request("REGISTER", h.to_core(), REGISTRAR_URI, call_id=reg.call_id,
                        cseq=reg.cseq[0] + 1, from_=reg.get("from"), headers=[("Expires", "0")],
                        contact=contact or dev.contact)
        got = h.expect_request(registrar, r)
        ac = answer_contact(got) if callable(answer_contact) else answer_contact
        h.expect_response(dev, registrar.answer(got, 200, contact=ac))
        return got

    def expect_404(self, carol, token_uri, method="INVITE"):
        """A request from the core to a token whose binding is gone: 404
        Not Found - no such registration, from the SBC."""
        h = self.h
        if method == "INVITE":
            req = carol.invite(h.core, token_uri, to="<sip:dave@%s>" % DOMAIN, body=sdp("carol", UAS_IP))
        else:
            req = carol.request(method, h.core, token_uri, to="<sip:dave@%s>" % DOMAIN,
                                body=b"hello", content_type="text/plain")
        try:
            got = carol.expect(status=404, call_id=req.call_id,
                               what="404 for %s to a dead binding" % method)
        except AssertionError as e:
            relayed = [ua.name for ua in h.uas if ua.received(call_id=req.call_id, method=method)]
            raise AssertionError("no 404 for the %s to %s%s\n%s" % (
                method, token_uri, (": the binding is alive, the %s was relayed to %s"
                                    % (method, ", ".join(relayed))) if relayed else "", e))
        h.check_local_response(got, req, 404, reason_has="no such registration")
        return got

    def call_device(self, carol, dev, token_uri, hangup_by="device"):
        """carol (core) calls the registered device through its token: the
        INVITE reaches the device's NAT source port X with its own Contact as
        Request-URI; 180/200/ACK, then a BYE from either side, each hop
        checked by the hidden-mode expectations."""
        h = self.h
        inv = carol.invite(h.core, token_uri, to="<sip:%s@%s>" % (dev.user, DOMAIN),
                           body=sdp("carol", UAS_IP, 52000))
        h.expect_trying(carol, inv)
        d_inv = h.expect_request(dev, inv, ruri=dev.contact_uri)
        self.assertEqual(d_inv.ua, dev)
        h.expect_response(carol, dev.answer(d_inv, 180))
        r200 = dev.answer(d_inv, 200, body=sdp(dev.user, PHONE_IP, 40010))
        c200 = h.expect_response(carol, r200)
        d_carol, d_dev = carol.dialog(c200), r200.dialog
        h.check_route_set(d_carol)
        h.check_route_set(d_dev)
        h.check_remote_target(d_carol, dev.contact_uri)
        h.check_remote_target(d_dev, carol.contact[1:-1])
        h.expect_request(dev, d_carol.ack(c200))
        if hangup_by == "device":
            h.hangup(d_dev, carol)
        elif hangup_by == "core":
            h.hangup(d_carol, dev)
        return d_carol, d_dev

    # -- registration and calls to the device ------------------------------------------------
    def test_nat_register_call_both_ways(self):
        """REGISTER from port X with Contact port Y: the registrar sees a
        binding token (with Path and User-Agent gone), the device gets its own
        Contact back with the granted expiry and not the AOR's other binding;
        calls from the core reach port X with Request-URI = the device's
        Contact; BYE from the device, then from the core."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        if h.scanner is not None:
            h.scanner.add("access", "host", "edge.access.example", "Path host of the access realm")
        token_uri, reg, _ = self.register(
            dev, expires=120, granted=90,
            headers=[("Path", "<sip:edge.access.example;lr>"), ("User-Agent", "DaveSIP/1.0")],
            others=["<sip:dave@192.0.2.200:5070>;expires=3000"])
        self.call_device(carol, dev, token_uri, hangup_by="device")
        self.call_device(carol, dev, token_uri, hangup_by="core")
        self.assertEqual(hole.received(), [], "nothing may go to the port the Contact names")

    def test_refresh_keeps_token_and_follows_nat_rebinding(self):
        """A refresh of the same Contact keeps the same token at the
        registrar; when the device's NAT mapping moves (the refresh comes
        from a new source port), calls follow it."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        token2, reg2, _ = self.register(dev, expires=60, reg=reg)
        self.assertEqual(token2, token_uri, "a refresh keeps the binding and its token")
        # the NAT mapping moves: same device (Via/Contact still say Y), new source port
        moved = h.phone("dave", "dave-moved")
        moved.via_port, moved.contact, moved.contact_uri = dev.via_port, dev.contact, dev.contact_uri
        token3, _, _ = self.register(moved, expires=60, reg=reg2)
        self.assertEqual(token3, token_uri)
        self.call_device(carol, moved, token_uri, hangup_by="core")
        self.assertEqual(dev.received(method="INVITE"), [], "the old NAT mapping gets nothing")

    def test_core_options_ping_reaches_device(self):
        """An OPTIONS from the core to the registered Contact (a registrar's
        or proxy's reachability ping) is a request to the device like any
        other: relayed to its NAT address, not answered by the SBC."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        o = carol.request("OPTIONS", h.core, token_uri, to="<sip:dave@%s>" % DOMAIN)
        got = h.expect_request(dev, o, ruri=dev.contact_uri)
        h.expect_response(carol, dev.answer(got, 200))

    # -- un-register, expiry, "*" ---------------------------------------------------------------
    def test_unregister_frees_binding(self):
        """Expires: 0, the registrar's 200 lists no binding any more (RFC
        3261 10.3): the token is dead at once: 404."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        self.unregister(dev, reg)
        self.expect_404(carol, token_uri)
        self.expect_404(carol, token_uri, method="MESSAGE")

    def test_unregister_granted_zero(self):
        """Same, with a registrar that lists the removed binding with
        ;expires=0."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        self.unregister(dev, reg, answer_contact=lambda got: "%s;expires=0" % got.get("contact"))
        self.expect_404(carol, token_uri)

    def test_binding_expiry(self):
        """Granted 1 s: the binding lives on for the grace period (5 s) and
        is gone by expires + grace: 404."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, a200 = self.register(dev, expires=1)
        t_granted = a200.t

        def ping(body):
            """MESSAGE to the token: the 404 from the SBC, or None when it
            was relayed to the device (which answers 200)."""
            m = carol.request("MESSAGE", h.core, token_uri, to="<sip:dave@%s>" % DOMAIN,
                              body=body, content_type="text/plain")
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                r = carol.discard(call_id=m.call_id, status=404)
                if r:
                    h.check_local_response(r[0], m, 404, reason_has="no such registration")
                    return r[0]
                fwd = dev.discard(method="MESSAGE", call_id=m.call_id)
                if fwd:
                    h.check_request(fwd[0], m, ruri=dev.contact_uri)
                    dev.answer(fwd[0], 200)
                    carol.expect(call_id=m.call_id, status=200, what="200 to the MESSAGE")
                    return None
                time.sleep(0.02)
            raise AssertionError("neither 404 nor the MESSAGE at the device within 2 s\n"
                                 + h.diagnostics())

        # within the grace period the binding still routes
        time.sleep(max(0.0, t_granted + 2.0 - time.monotonic()))
        self.assertIsNone(ping(b"still there?"), "binding gone 2 s after a 1 s grant (grace 5 s)")
        time.sleep(max(0.0, t_granted + 1.0 + GRACE - 0.7 - time.monotonic()))
        while True:
            r = ping(b"ping")
            if r is not None:
                break
            if time.monotonic() > t_granted + 1.0 + GRACE + 2.0:
                raise AssertionError("binding granted 1 s still routes %.1f s after the 200"
                                     % (time.monotonic() - t_granted))
            time.sleep(0.2)
        took = r.t - t_granted
        self.assertGreaterEqual(took, 1.0 + GRACE - 1.0, "binding gone %.2f s after the 200" % took)
        self.assertLessEqual(took, 1.0 + GRACE + 1.5, "binding gone %.2f s after the 200" % took)

    def test_star_removes_all_bindings_of_aor(self):
        """Two devices register the same AOR (each with its own Call-ID, as
        devices do); "Contact: *" with Expires: 0 from one of them removes
        every binding of the AOR: all their tokens give 404. The second
        device re-registers with fresh Call-IDs until its binding lands on
        another worker than the first's (the token names the shard), so the
        test covers bindings of one AOR that the Call-ID spreads over shards;
        an SBC that keeps an AOR's bindings together never spreads them."""
        h = self.h
        d1, _ = self.nat_device("dave")
        d2, _ = self.nat_device("dave")
        d2.contact = "<sip:dave@%s:%d;line=2>" % (PHONE_IP, d2.via_port)
        d2.contact_uri = "sip:dave@%s:%d;line=2" % (PHONE_IP, d2.via_port)
        carol = h.core_ua("carol")
        t1, reg1, _ = self.register(d1, expires=60)
        tokens = {t1}
        for _ in range(8):
            t2, _, _ = self.register(d2, expires=60)
            tokens.add(t2)
            if token_shard(t2) != token_shard(t1):
                break
        self.unregister(d1, reg1, contact="*")
        for t in sorted(tokens, key=lambda t: t != t1):
            self.expect_404(carol, t)

    # -- bad tokens ---------------------------------------------------------------------------
    def test_forged_tokens_403(self):
        """A token with one character changed (binding or dialog token): 403
        Forbidden - invalid token; a genuine dialog token used with another
        Call-ID: 403 Forbidden - token does not belong to this call."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        bad = forge(token_uri)
        inv = carol.invite(h.core, bad, to="<sip:dave@%s>" % DOMAIN, body=sdp("carol", UAS_IP))
        h.check_local_response(carol.expect(status=403, cseq_method="INVITE"), inv, 403,
                               reason_has="invalid token")
        d_carol, d_dev = self.call_device(carol, dev, token_uri, hangup_by=None)
        # the core forges the dialog token
        bye = d_carol.build("BYE")
        bye.start_line = "BYE %s SIP/2.0" % forge(d_carol.remote_target)
        carol.send_request(bye, h.core)
        h.check_local_response(carol.expect(status=403, cseq_method="BYE"), bye, 403,
                               reason_has="invalid token")
        # the device forges its side's dialog token
        info = d_dev.build("INFO", body=b"Signal=1\r\n", content_type="application/dtmf-relay")
        info.start_line = "INFO %s SIP/2.0" % forge(d_dev.remote_target)
        dev.send_request(info, h.access)
        h.check_local_response(dev.expect(status=403, cseq_method="INFO"), info, 403,
                               reason_has="invalid token")
        # a genuine token, another call
        other = make_request("BYE", d_carol.remote_target, from_="<sip:carol@%s>;tag=%s" % (DOMAIN, new_tag()),
                             to="<sip:dave@%s>;tag=%s" % (DOMAIN, new_tag()), call_id=new_call_id(None),
                             cseq=1, via_host=carol.host, via_port=carol.port)
        carol.send_request(other, h.core)
        h.check_local_response(carol.expect(status=403, call_id=other.call_id), other, 403,
                               reason_has="does not belong")
        dev.expect_nothing(0.3, what="any forged request relayed")
        h.hangup(d_carol, dev)

    def test_stale_dialog_token_481(self):
        """After the BYE, the dialog's tokens name nothing: an in-dialog
        request to them from either side gets 481."""
        h = self.h
        dev, hole = self.nat_device()
        carol = h.core_ua("carol")
        token_uri, reg, _ = self.register(dev, expires=60)
        d_carol, d_dev = self.call_device(carol, dev, token_uri, hangup_by="device")
        late = d_carol.request("BYE")
        h.check_local_response(carol.expect(status=481, cseq_method="BYE"), late, 481)
        late2 = d_dev.request("INFO", body=b"Signal=2\r\n", content_type="application/dtmf-relay")
        h.check_local_response(dev.expect(status=481, cseq_method="INFO"), late2, 481)

    # -- NAT without registration: latching --------------------------------------------------------
    def test_in_dialog_requests_latch_to_source(self):
        """A NAT'd phone calls the core (Via and Contact say port Y, it sends
        from X): the callee's in-dialog requests (re-INVITE, BYE) reach port X,
        with the phone's Contact as Request-URI."""
        h = self.h
        dev, hole = self.nat_device("erin")
        bob = h.uas1
        d_dev, d_bob, _ = h.call(dev, bob, offer=sdp("erin", PHONE_IP, 40020))
        re = d_bob.request("INVITE", body=sdp("bob", UAS_IP, 50000, "sendonly", 2),
                           content_type="application/sdp")
        got = h.expect_request(dev, re, ruri=dev.contact_uri)
        r200 = dev.answer(got, 200, body=sdp("erin", PHONE_IP, 40020, "recvonly", 2))
        b200 = h.expect_response(bob, r200)
        h.expect_request(dev, d_bob.ack(b200))
        h.hangup(d_bob, dev)
        self.assertEqual(hole.received(), [])

    # -- keep-alives ------------------------------------------------------------------------------
    def test_keepalive_crlf_and_options(self):
        """RFC 5626 keep-alive: "\\r\\n\\r\\n" to the SBC is answered "\\r\\n"
        (from the address it was sent to); OPTIONS to the SBC itself: 200."""
        h = self.h
        for addr, host in ((h.access, PHONE_IP), (h.core, UAS_IP)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((host, 0))
                s.settimeout(2.0)
                s.sendto(b"\r\n\r\n", addr)
                data, src = s.recvfrom(2048)
                self.assertEqual(data, b"\r\n", "pong to a CRLFCRLF ping at %s:%d" % addr)
                self.assertEqual(src, addr)
            finally:
                s.close()
        dev, hole = self.nat_device()
        o = dev.request("OPTIONS", h.access, "sip:%s:%d" % h.access)
        h.check_local_response(dev.expect(status=200, cseq_method="OPTIONS"), o, 200)


def main(argv):
    patterns, positional, verbosity = [], [], 2
    it = iter(argv[1:])
    for a in it:
        if a == "-k":
            patterns.append(next(it, ""))
        elif a == "--trace":
            cf.TRACE = True
        elif a == "--log-level":
            cf.LOG_LEVEL = next(it, "info")
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
    if not positional:
        sys.stderr.write(__doc__)
        return 2
    cf.MODE = "sbc"
    cf.SBC = os.path.abspath(positional[0])
    cf.SRC = os.path.abspath(positional[1]) if len(positional) > 1 else None
    if not os.access(cf.SBC, os.X_OK):
        sys.stderr.write("%s: not an executable\n" % cf.SBC)
        return 2
    cf.HIDE = True
    cf.SCANNER = leakscan.LeakScanner()
    # relay ports of its own: the call-flow suite runs at the same time
    cf.MEDIA_RANGES = {"access": (16000, 16999), "core": (17000, 17999)}
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else "*%s*" % p for p in patterns]
    suite = loader.loadTestsFromTestCase(Registration)
    if suite.countTestCases() == 0:
        sys.stderr.write("no test matches %r\n" % patterns)
        return 2
    sys.stderr.write("registrations through %s, topology hiding on (access realm)\n" % cf.SBC)
    import signal
    signal.signal(signal.SIGTERM, cf._on_sigterm)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stderr).run(suite)
    ok = cf.final_leak_scan(cf.SCANNER) and result.wasSuccessful()
    sys.stderr.write("total %.1f s\n" % (time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
