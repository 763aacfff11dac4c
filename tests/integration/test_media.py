#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Media anchoring through the sbc daemon (Python 3 standard library only).

usage: test_media.py SBC_BINARY SOURCE_DIR [-k PATTERN]... [-v]

Every test starts its own daemon (socket backend, 2 workers unless it says
otherwise) on a temporary configuration with free SIP and metrics ports, and
stops it by PID. Topology:

    phone 127.0.0.4 -- access 127.0.0.1 [sbc] core 127.0.0.2 -- bob 127.0.0.3

Relay ports: access 18000-18999, core 19000-19999 (below the ephemeral
ports; no other suite uses them). UAs are sipua.UA; RTP endpoints are plain
UDP sockets sending 172-byte G.711-sized packets whose payload is derived
from (SSRC, sequence number), so the far end checks payload, order and the
source (the relay port the SBC offered it: symmetric RTP). Port accounting
is read from /metrics (sbc_media_ports_in_use, sbc_media_sessions) and from
the shutdown log. Every wait is bounded.
"""
import os
import re
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_callflows as cf  # noqa: E402  (Daemon, wait_ready, free_port)
from sipua import UA, sdp, sdp_media  # noqa: E402

ACCESS_IP, CORE_IP, UAS_IP, PHONE_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
ACCESS_PORTS = (18000, 18999)
CORE_PORTS = (19000, 19999)
T1 = 0.1
RURI = "sip:bob@example.com"
SBC = None

CONFIG = """\
workers: {workers}
log_level: info
sip:
  t1_ms: 100
  t2_ms: 400
  t4_ms: 500
  timer_c_ms: 3000
control:
  metrics: 127.0.0.1:{mport}
media:
  timeout_s: {timeout}
realms:
  - name: access
    trusted: false
    hide_topology: true
    listen:
      - {{ address: {access_ip}, port: {pa} }}
    media: {{ address: {access_ip}, ports: {access_ports} }}
  - name: core
    trusted: true
    hide_topology: false
    listen:
      - {{ address: {core_ip}, port: {pc} }}
    media: {{ address: {core_ip}, ports: {core_ports} }}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: {uas_ip}, port: {hop} }}
  - name: core-to-access
    from_realm: core
    to_realm: access
    next_hops: ruri
"""


# ---------------------------------------------------------------------------
# RTP endpoints

def payload(ssrc, seq, size=160):
    """Deterministic payload of packet seq of stream ssrc."""
    seed = struct.pack("!IH", ssrc, seq & 0xffff)
    return (seed * (size // len(seed) + 1))[:size]


def rtp_packet(seq, ssrc, pt=0):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xffff, (seq * 160) & 0xffffffff, ssrc) + \
        payload(ssrc, seq)


def rtcp_sr(ssrc):
    """A minimal sender report (PT 200, length 6): 28 bytes."""
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0, 0, 0, 0, 0)


class Rtp:
    """One UDP socket of a media endpoint."""

    def __init__(self, ip, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((ip, port))
        self.addr = self.sock.getsockname()
        self.port = self.addr[1]

    def close(self):
        self.sock.close()

    def send(self, dest, data):
        self.sock.sendto(data, dest)

    def stream(self, dest, ssrc, seqs, pt=0):
        for i, seq in enumerate(seqs):
            self.sock.sendto(rtp_packet(seq, ssrc, pt), dest)
            if i % 16 == 15:
                time.sleep(0.002)   # paced a little, like a sender would be

    def recv(self, n, timeout=2.0):
        """Up to n datagrams [(data, src)] arriving within timeout."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                out.append(self.sock.recvfrom(65535))
            except socket.timeout:
                break
        return out

    def drain(self, wait=0.05):
        return self.recv(10000, wait)


# ---------------------------------------------------------------------------
# One daemon and its UAs

class MediaNet:
    def __init__(self, test, workers=2, access_ports=ACCESS_PORTS, core_ports=CORE_PORTS,
                 timeout=0):
        self.test = test
        self.uas, self.rtps = [], []
        self.bob = self.ua(UAS_IP, "bob")
        self.access_ports, self.core_ports = access_ports, core_ports
        self.tmp = tempfile.TemporaryDirectory(prefix="sbc-media-")
        err = None
        for _attempt in range(3):
            self.access = (ACCESS_IP, cf.free_port(ACCESS_IP))
            self.core = (CORE_IP, cf.free_port(CORE_IP))
            self.mport = cf.free_port("127.0.0.1", socket.SOCK_STREAM)
            text = CONFIG.format(workers=workers, mport=self.mport, timeout=timeout,
                                 access_ip=ACCESS_IP, core_ip=CORE_IP, uas_ip=UAS_IP,
                                 pa=self.access[1], pc=self.core[1], hop=self.bob.port,
                                 access_ports="%d-%d" % access_ports,
                                 core_ports="%d-%d" % core_ports)
            self.sbc = cf.Daemon(self.tmp.name, text)
            err = cf.wait_ready(self.sbc, [self.access, self.core])
            if err is None:
                return
            log = self.sbc.log_text()
            self.sbc.stop()
        self.close()
        raise RuntimeError("sbc did not start (%s):\n%s" % (err, log))

    def ua(self, host, user):
        ua = UA(host, 0, name=user, user=user, t1=T1, domain="example.com", call_id_host=None)
        self.uas.append(ua)
        return ua

    def phone(self, user="alice"):
        return self.ua(PHONE_IP, user)

    def rtp(self, ip, port=0):
        r = Rtp(ip, port)
        self.rtps.append(r)
        return r

    def close(self):
        for u in self.uas:
            u.close()
        for r in self.rtps:
            r.close()
        if getattr(self, "sbc", None) is not None:
            self.sbc.stop()
        self.tmp.cleanup()

    # -- metrics ---------------------------------------------------------------
    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport, timeout=3) as r:
            return r.read().decode()

    def metric(self, name, **labels):
        """Sum of the samples of name whose labels include `labels`."""
        total, found = 0, False
        for ln in self.metrics().splitlines():
            m = re.match(r"^(\w+)(?:\{(.*)\})? (\d+)$", ln)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += int(m.group(3))
                found = True
        if not found:
            raise AssertionError("no sample of %s%r in /metrics" % (name, labels))
        return total

    def wait_metric(self, name, want, timeout=10.0, **labels):
        """Poll /metrics until name{labels} == want (the workers republish
        every 20 ms); bounded."""
        deadline, got = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            got = self.metric(name, **labels)
            if got == want:
                return got
            time.sleep(0.1)
        raise AssertionError("%s%r is %s, expected %s after %.0f s\nlog:\n%s" % (
            name, labels, got, want, timeout, self.sbc.log_text()[-3000:]))

    def ports_in_use(self):
        return self.metric("sbc_media_ports_in_use")

    def assert_no_leak(self, timeout=10.0):
        """Every relay port and session back in the pools."""
        self.wait_metric("sbc_media_ports_in_use", 0, timeout)
        self.wait_metric("sbc_media_sessions", 0, timeout)

    # -- calls -----------------------------------------------------------------
    def call(self, phone, offer, answer, bob=None):
        """INVITE/200/ACK. Returns a Call."""
        bob = bob or self.bob
        inv = phone.invite(self.access, RURI, body=offer)
        b_inv = bob.expect(method="INVITE", call_id=None, timeout=3)
        r200 = bob.answer(b_inv, 200, body=answer)
        a200 = phone.expect(status=200, cseq_method="INVITE", call_id=inv.call_id, timeout=3)
        d_phone = phone.dialog(a200)
        d_phone.ack(a200)
        bob.expect(method="ACK", timeout=3)
        return Call(self, d_phone, r200.dialog, b_inv, a200)

    def hangup(self, call, from_phone=True):
        d, peer = (call.d_phone, self.bob) if from_phone else (call.d_bob, call.d_phone.ua)
        bye = d.request("BYE")
        got = peer.expect(method="BYE", timeout=3)
        peer.answer(got, 200)
        d.ua.expect(status=200, cseq_method="BYE", call_id=bye.call_id, timeout=3)


class Call:
    def __init__(self, net, d_phone, d_bob, b_inv, a200):
        self.net, self.d_phone, self.d_bob = net, d_phone, d_bob
        self.b_inv, self.a200 = b_inv, a200

    @property
    def core_relay(self):
        """Where bob sends RTP: the SBC's core relay port in the INVITE."""
        _, port, addr = sdp_media(self.b_inv.body)[0]
        return (addr, port)

    @property
    def access_relay(self):
        """Where the phone sends RTP: the access relay port in the 200."""
        _, port, addr = sdp_media(self.a200.body)[0]
        return (addr, port)


def relay_of(body):
    """(address, port) of the first m= line of an SDP body."""
    _, port, addr = sdp_media(body)[0]
    return (addr, port)


def offer_for(rtp, user="alice", direction="sendrecv", version=1, ip=None):
    return sdp(user, ip or rtp.addr[0], rtp.port, direction, version)


# ---------------------------------------------------------------------------

class Media(unittest.TestCase):
    net = None

    def tearDown(self):
        """Stop the daemon, then look in its log for what the sanitizers
        report at run time and at exit (LeakSanitizer): a test whose daemon
        misbehaved fails even if every packet arrived."""
        if self.net is None:
            return
        self.net.sbc.stop()
        with open(self.net.sbc.logpath, errors="replace") as f:
            log = f.read()
        self.net.close()
        self.net = None
        bad = [ln for ln in log.splitlines()
               if "Sanitizer" in ln or "runtime error:" in ln]
        if bad:
            self.fail("the daemon's sanitizers reported:\n%s\n---- log (end) ----\n%s"
                      % ("\n".join(bad[:20]), log[-6000:]))

    def start(self, **kw):
        self.net = MediaNet(self, **kw)
        return self.net

    # -- helpers -----------------------------------------------------------------
    def check_stream(self, rx, src, ssrc, seqs, pt=0, timeout=2.0, what="stream"):
        """rx receives exactly the packets seqs of ssrc, in order, payload
        intact, each from src (the relay port the SBC offered rx's owner)."""
        got = rx.recv(len(seqs), timeout)
        self.assertEqual(len(got), len(seqs), "%s: %d of %d packets arrived" % (what, len(got), len(seqs)))
        for (data, s), seq in zip(got, seqs):
            self.assertEqual(tuple(s), tuple(src), "%s: packet %d came from %s, not the relay port %s"
                             % (what, seq, s, src))
            self.assertEqual(data, rtp_packet(seq, ssrc, pt), "%s: packet %d altered or out of order"
                             % (what, seq))

    def flow_both_ways(self, call, rtp_phone, rtp_bob, n=50, base=1, pt=0):
        rtp_phone.stream(call.access_relay, 0xA11CE, range(base, base + n), pt)
        self.check_stream(rtp_bob, call.core_relay, 0xA11CE, list(range(base, base + n)), pt,
                          what="phone -> bob")
        rtp_bob.stream(call.core_relay, 0xB0B, range(base, base + n), pt)
        self.check_stream(rtp_phone, call.access_relay, 0xB0B, list(range(base, base + n)), pt,
                          what="bob -> phone")

    def reinvite(self, call, rtp_phone, direction="sendrecv", version=2, ip=None, codecs=None,
                 answer_direction="sendrecv", bob_rtp=None):
        """re-INVITE from the phone; returns (INVITE at bob, 200 at phone)."""
        net = self.net
        body = offer_for(rtp_phone, "alice", direction, version, ip)
        if codecs:
            body = body.replace(b"RTP/AVP 0 8 101", codecs)
        call.d_phone.request("INVITE", body=body, content_type="application/sdp")
        got = net.bob.expect(method="INVITE", timeout=3)
        ans = offer_for(bob_rtp, "bob", answer_direction, version)
        if codecs:
            ans = ans.replace(b"RTP/AVP 0 8 101", codecs)
        net.bob.answer(got, 200, body=ans)
        a200 = call.d_phone.ua.expect(status=200, cseq_method="INVITE", timeout=3)
        call.d_phone.refresh_from_response(a200)
        call.d_phone.ack(a200)
        net.bob.expect(method="ACK", timeout=3)
        return got, a200

    # -- tests -------------------------------------------------------------------
    def test_rtp_both_ways(self):
        """RTP and RTCP both ways through the relay: payload, order and the
        symmetric source checked at the far end; the SDP each side gets
        names the SBC's address and relay ports of its realm."""
        net = self.start()
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        call = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
        self.assertEqual(call.core_relay[0], CORE_IP)
        self.assertEqual(call.access_relay[0], ACCESS_IP)
        self.assertTrue(CORE_PORTS[0] <= call.core_relay[1] <= CORE_PORTS[1])
        self.assertTrue(ACCESS_PORTS[0] <= call.access_relay[1] <= ACCESS_PORTS[1])
        net.wait_metric("sbc_media_ports_in_use", 2, realm="access")
        net.wait_metric("sbc_media_ports_in_use", 2, realm="core")
        self.flow_both_ways(call, rp, rb, n=100)
        # RTCP on RTP port + 1, both ways
        rp_rtcp, rb_rtcp = net.rtp(PHONE_IP, rp.port + 1), net.rtp(UAS_IP, rb.port + 1)
        a_rtcp = (call.access_relay[0], call.access_relay[1] + 1)
        c_rtcp = (call.core_relay[0], call.core_relay[1] + 1)
        rp_rtcp.send(a_rtcp, rtcp_sr(0xA11CE))
        got = rb_rtcp.recv(1)
        self.assertEqual([(d, tuple(s)) for d, s in got], [(rtcp_sr(0xA11CE), c_rtcp)])
        rb_rtcp.send(c_rtcp, rtcp_sr(0xB0B))
        got = rp_rtcp.recv(1)
        self.assertEqual([(d, tuple(s)) for d, s in got], [(rtcp_sr(0xB0B), a_rtcp)])
        net.wait_metric("sbc_media_packets_relayed_total", 200, kind="rtp")
        net.wait_metric("sbc_media_packets_relayed_total", 2, kind="rtcp")
        net.hangup(call)
        net.assert_no_leak()
        # after the BYE the ports are closed: nothing is relayed any more
        rp.stream(call.access_relay, 0xA11CE, range(200, 205))
        self.assertEqual(rb.recv(5, 0.5), [])

    def test_latching_behind_nat(self):
        """The phone's SDP says port P (its private side), it sends from Q
        (the NAT's mapping): after its first packet all of bob's media goes
        to Q, none to P; a stranger sending to the relay port later is
        refused (latched) and counted."""
        net = self.start()
        phone = net.phone()
        advertised, mapped, rb = net.rtp(PHONE_IP), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        call = net.call(phone, offer_for(advertised), offer_for(rb, "bob"))
        mapped.stream(call.access_relay, 0xA11CE, range(1, 11))
        self.check_stream(rb, call.core_relay, 0xA11CE, list(range(1, 11)), what="phone (NAT) -> bob")
        rb.stream(call.core_relay, 0xB0B, range(1, 51))
        self.check_stream(mapped, call.access_relay, 0xB0B, list(range(1, 51)),
                          what="bob -> phone's NAT mapping")
        self.assertEqual(advertised.drain(0.3), [], "media went to the SDP port after latching")
        stranger = net.rtp(PHONE_IP)
        stranger.stream(call.access_relay, 0xBAD, range(1, 6))
        self.assertEqual(rb.recv(5, 0.5), [], "a second source was relayed")
        net.wait_metric("sbc_media_drops_total", 5, reason="source")
        net.hangup(call)
        net.assert_no_leak()

    def test_hold_resume(self):
        """Hold by sendonly/recvonly and by c=0.0.0.0, then resume: the relay
        ports never change, RTP flows again after resume; with c=0.0.0.0 the
        held side's media is not sent (dropped as hold)."""
        net = self.start()
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        call = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
        ports = (call.core_relay, call.access_relay)
        self.flow_both_ways(call, rp, rb, n=10)
        got, a200 = self.reinvite(call, rp, "sendonly", 2, answer_direction="recvonly", bob_rtp=rb)
        self.assertIn(b"a=sendonly", got.body)
        self.assertEqual(relay_of(got.body), call.core_relay)
        self.assertEqual(relay_of(a200.body), call.access_relay)
        # phone -> bob still flows on sendonly hold
        rp.stream(call.access_relay, 0xA11CE, range(100, 110))
        self.check_stream(rb, call.core_relay, 0xA11CE, list(range(100, 110)), what="on hold")
        # RFC 2543 hold: c=0.0.0.0 from the phone; bob must stop, and what it
        # still sends is not relayed
        got, a200 = self.reinvite(call, rp, "sendrecv", 3, ip="0.0.0.0", bob_rtp=rb)
        self.assertEqual(sdp_media(got.body)[0], ("audio", call.core_relay[1], "0.0.0.0"))
        rb.stream(call.core_relay, 0xB0B, range(200, 205))
        self.assertEqual(rp.recv(5, 0.5), [], "media sent to a held (0.0.0.0) phone")
        net.wait_metric("sbc_media_drops_total", 5, reason="hold")
        # resume
        got, a200 = self.reinvite(call, rp, "sendrecv", 4, bob_rtp=rb)
        self.assertEqual(relay_of(got.body), call.core_relay)
        self.assertEqual(relay_of(a200.body), call.access_relay)
        self.assertEqual((call.core_relay, call.access_relay), ports)
        self.flow_both_ways(call, rp, rb, n=20, base=300)
        net.hangup(call, from_phone=False)
        net.assert_no_leak()

    def test_reinvite_codec_change_keeps_ports(self):
        """A re-INVITE changing the codec (PCMU -> PCMA) gets the same relay
        ports both ways; media with the new payload type flows."""
        net = self.start()
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        call = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
        self.flow_both_ways(call, rp, rb, n=10)
        time.sleep(0.1)   # the workers republish their figures every 20 ms
        in_use = net.ports_in_use()
        got, a200 = self.reinvite(call, rp, version=2, codecs=b"RTP/AVP 8 101", bob_rtp=rb)
        self.assertIn(b"m=audio %d RTP/AVP 8 101" % call.core_relay[1], got.body)
        self.assertIn(b"m=audio %d RTP/AVP 8 101" % call.access_relay[1], a200.body)
        self.assertEqual(net.ports_in_use(), in_use)
        self.flow_both_ways(call, rp, rb, n=20, base=500, pt=8)
        net.hangup(call)
        net.assert_no_leak()

    def test_early_media_forked(self):
        """A forked INVITE: two 183s with SDP from different To-tags (two
        UAS). The caller gets a different relay port in each; each fork's
        early media reaches it from its own port, and its media reaches
        each fork through that fork's port. The 200 of the second fork
        wins; the other fork's ports go back once its early dialog ends."""
        net = self.start()
        phone, rp = net.phone(), net.rtp(PHONE_IP)
        b1, b2 = net.rtp(UAS_IP), net.rtp(UAS_IP)
        inv = phone.invite(net.access, RURI, body=offer_for(rp))
        b_inv = net.bob.expect(method="INVITE", timeout=3)
        core_relay = (CORE_IP, sdp_media(b_inv.body)[0][1])
        ca, cb = "<sip:bob-a@%s:%d>" % net.bob.addr, "<sip:bob-b@%s:%d>" % net.bob.addr
        net.bob.answer(b_inv, 183, to_tag="forkA", contact=ca, body=offer_for(b1, "bob-a"))
        net.bob.answer(b_inv, 183, to_tag="forkB", contact=cb, body=offer_for(b2, "bob-b"))
        r1 = phone.expect(status=183, to_tag="forkA", timeout=3)
        r2 = phone.expect(status=183, to_tag="forkB", timeout=3)
        relay1 = (ACCESS_IP, sdp_media(r1.body)[0][1])
        relay2 = (ACCESS_IP, sdp_media(r2.body)[0][1])
        self.assertNotEqual(relay1, relay2, "both forks got the same relay port to the caller")
        # early media of each fork, from its own port
        b1.stream(core_relay, 0xF1, range(1, 11))
        self.check_stream(rp, relay1, 0xF1, list(range(1, 11)), what="fork A early media")
        b2.stream(core_relay, 0xF2, range(1, 11))
        self.check_stream(rp, relay2, 0xF2, list(range(1, 11)), what="fork B early media")
        # the caller's media reaches each fork through that fork's port
        rp.stream(relay1, 0xA11CE, range(1, 6))
        self.check_stream(b1, core_relay, 0xA11CE, list(range(1, 6)), what="caller -> fork A")
        rp.stream(relay2, 0xA11CE, range(6, 11))
        self.check_stream(b2, core_relay, 0xA11CE, list(range(6, 11)), what="caller -> fork B")
        net.wait_metric("sbc_media_ports_in_use", 4, realm="access")
        net.wait_metric("sbc_media_ports_in_use", 2, realm="core")
        # fork B answers
        r200 = net.bob.answer(b_inv, 200, to_tag="forkB", contact=cb, body=offer_for(b2, "bob-b"))
        a200 = phone.expect(status=200, cseq_method="INVITE", call_id=inv.call_id, timeout=3)
        self.assertEqual(sdp_media(a200.body)[0][1], relay2[1])
        d = phone.dialog(a200)
        d.ack(a200)
        net.bob.expect(method="ACK", timeout=3)
        b2.stream(core_relay, 0xF2, range(100, 120))
        self.check_stream(rp, relay2, 0xF2, list(range(100, 120)), what="answered fork")
        b1.stream(core_relay, 0xF1, range(100, 105))
        self.assertEqual(rp.recv(5, 0.5), [], "the losing fork's media was relayed")
        # the losing early dialog ends with the INVITE transaction (64*T1)
        net.wait_metric("sbc_media_ports_in_use", 2, timeout=15, realm="access")
        bye = d.request("BYE")
        got = net.bob.expect(method="BYE", timeout=3)
        net.bob.answer(got, 200)
        phone.expect(status=200, cseq_method="BYE", call_id=bye.call_id, timeout=3)
        del r200
        net.assert_no_leak()

    def test_late_offer(self):
        """INVITE without SDP: the offer comes in the 200, the answer in the
        ACK; media flows both ways."""
        net = self.start()
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        inv = phone.invite(net.access, RURI)
        b_inv = net.bob.expect(method="INVITE", timeout=3)
        self.assertEqual(b_inv.body, b"")
        net.bob.answer(b_inv, 200, body=offer_for(rb, "bob"))
        a200 = phone.expect(status=200, cseq_method="INVITE", call_id=inv.call_id, timeout=3)
        d = phone.dialog(a200)
        d.ack(a200, body=offer_for(rp), content_type="application/sdp")
        ack = net.bob.expect(method="ACK", timeout=3)
        call = Call(net, d, None, ack, a200)   # bob's relay: in the ACK
        self.flow_both_ways(call, rp, rb, n=20)
        net.hangup(call)
        net.assert_no_leak()

    def test_inactivity_timeout(self):
        """media timeout_s 2: a call whose RTP stops is ended by the SBC with
        a BYE to both sides carrying Reason ... "Media timeout", no sooner
        than 2 s after the last packet; a call on hold is left alone."""
        net = self.start(timeout=2)
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        call = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
        # a second call, put on hold: silent, but not torn down
        phone2, rp2, rb2 = net.phone("carol"), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        held = net.call(phone2, offer_for(rp2, "carol"), offer_for(rb2, "bob"))
        self.reinvite(held, rp2, "sendonly", 2, answer_direction="recvonly", bob_rtp=rb2)
        t_last = None
        for k in range(6):          # 1.5 s of media keeps it up
            self.flow_both_ways(call, rp, rb, n=5, base=1 + 5 * k)
            t_last = time.monotonic()
            time.sleep(0.25)
        bye_p = phone.expect(method="BYE", timeout=6)
        t_bye = time.monotonic()
        bye_b = net.bob.expect(method="BYE", call_id=call.b_inv.call_id, timeout=3)
        for b in (bye_p, bye_b):
            self.assertRegex(b.get("reason") or "", r'^SIP;cause=\d+;text="Media timeout"$')
        self.assertGreaterEqual(t_bye - t_last, 1.9, "BYE %.2f s after the last packet" % (t_bye - t_last))
        phone.answer(bye_p, 200)
        net.bob.answer(bye_b, 200)
        net.wait_metric("sbc_proxy_events_total", 1, event="media_timeouts")
        phone2.expect_nothing(timeout=1.0, method="BYE")
        # the held call is still up: its ports are still allocated
        net.wait_metric("sbc_media_ports_in_use", 2, realm="access")
        net.hangup(held)
        net.assert_no_leak()

    def test_port_exhaustion_503(self):
        """One worker, access range of 2 pairs: two calls fit, the third
        INVITE is answered 503 with Retry-After; when a call ends a new one
        fits again; at the end every port is back."""
        net = self.start(workers=1, access_ports=(18000, 18003))
        phone, rb = net.phone(), net.rtp(UAS_IP)
        calls = [net.call(phone, offer_for(net.rtp(PHONE_IP)), offer_for(rb, "bob")) for _ in range(2)]
        net.wait_metric("sbc_media_ports_in_use", 4, realm="access")
        inv = phone.invite(net.access, RURI, body=offer_for(net.rtp(PHONE_IP)))
        r = phone.expect(status=503, call_id=inv.call_id, timeout=3)
        self.assertIn("no media ports", r.reason)
        self.assertRegex(r.get("retry-after") or "", r"^\d+$")
        net.bob.expect_nothing(timeout=0.3, method="INVITE")
        net.wait_metric("sbc_proxy_events_total", 1, event="media_no_ports")
        net.hangup(calls[0])
        net.wait_metric("sbc_media_ports_in_use", 2, realm="access")
        rp = net.rtp(PHONE_IP)
        again = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
        self.flow_both_ways(again, rp, rb, n=5)
        net.hangup(again)
        net.hangup(calls[1])
        net.assert_no_leak()

    def test_failed_and_cancelled_calls_free_ports(self):
        """Ports come back when the call is rejected, cancelled, or its
        next hop never answers; a malformed SDP is refused with the
        parser's verdict (400), an unusable one with 488, too many m=
        lines with 488: none of them takes a port."""
        net = self.start()
        phone, rp = net.phone(), net.rtp(PHONE_IP)
        # rejected
        inv = phone.invite(net.access, RURI, body=offer_for(rp))
        b_inv = net.bob.expect(method="INVITE", timeout=3)
        net.bob.answer(b_inv, 486)
        phone.expect(status=486, call_id=inv.call_id, timeout=3)
        net.assert_no_leak()
        # cancelled after ringing
        inv = phone.invite(net.access, RURI, body=offer_for(rp))
        b_inv = net.bob.expect(method="INVITE", timeout=3)
        net.bob.answer(b_inv, 180)
        phone.expect(status=180, call_id=inv.call_id, timeout=3)
        net.wait_metric("sbc_media_ports_in_use", 2, realm="access")
        phone.cancel(inv)
        b_cancel = net.bob.expect(method="CANCEL", timeout=3)
        net.bob.answer(b_cancel, 200)
        net.bob.answer(b_inv, 487)
        phone.expect(status=487, call_id=inv.call_id, timeout=3)
        net.assert_no_leak()
        # bad bodies
        bad = {
            400: b"v=0\r\no=- 1 1 IN IP4 127.0.0.4\r\ns=-\r\nc=IN IP4 127.0.0.4\r\nt=0 0\r\n"
                 b"m=audio notaport RTP/AVP 0\r\n",
            488: offer_for(rp).replace(b"m=audio %d" % rp.port, b"m=audio 0"),
        }
        many = offer_for(rp) + b"".join(b"m=audio %d RTP/AVP 0\r\n" % (30000 + 2 * i)
                                        for i in range(16))
        for status, body in list(bad.items()) + [(488, many)]:
            inv = phone.invite(net.access, RURI, body=body)
            r = phone.expect(status=status, call_id=inv.call_id, timeout=3)
            self.assertIn("SDP", r.reason)
        net.bob.expect_nothing(timeout=0.3, method="INVITE")
        net.wait_metric("sbc_proxy_events_total", 3, event="sdp_rejected")
        net.assert_no_leak()

    def test_ports_never_leak(self):
        """Many calls of every kind in a row (answered and hung up by either
        side, rejected, cancelled, re-INVITEd), then every port and session
        is back, and the shutdown log says so."""
        net = self.start()
        phone, rp, rb = net.phone(), net.rtp(PHONE_IP), net.rtp(UAS_IP)
        for k in range(6):
            call = net.call(phone, offer_for(rp), offer_for(rb, "bob"))
            if k % 3 == 1:
                self.reinvite(call, rp, "sendonly", 2, answer_direction="recvonly", bob_rtp=rb)
            rp.stream(call.access_relay, 0xA11CE, range(1, 4))
            rb.recv(3, 1.0)
            net.hangup(call, from_phone=k % 2 == 0)
            inv = phone.invite(net.access, RURI, body=offer_for(rp))
            b_inv = net.bob.expect(method="INVITE", timeout=3)
            net.bob.answer(b_inv, 603 if k % 2 else 480)
            phone.expect(status="6xx" if k % 2 else 480, call_id=inv.call_id, timeout=3)
        net.assert_no_leak()
        net.sbc.proc.send_signal(signal.SIGTERM)
        net.sbc.proc.wait(timeout=5)
        log = net.sbc.log_text()
        m = re.search(r"media: received \d+, relayed \d+, dropped \d+; at exit (\d+) sessions, "
                      r"(\d+) relay ports in use", log)
        self.assertIsNotNone(m, "no media summary in the shutdown log:\n" + log[-2000:])
        self.assertEqual(m.groups(), ("0", "0"))


def main(argv):
    global SBC
    patterns, positional = [], []
    it = iter(argv[1:])
    for a in it:
        if a == "-k":
            patterns.append(next(it, ""))
        elif a in ("-v", "--verbose"):
            pass
        else:
            positional.append(a)
    if not positional:
        sys.stderr.write(__doc__)
        return 2
    SBC = os.path.abspath(positional[0])
    cf.SBC = SBC
    cf.MODE = "sbc"
    signal.signal(signal.SIGTERM, cf._on_sigterm)
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else "*%s*" % p for p in patterns]
    suite = loader.loadTestsFromTestCase(Media)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
