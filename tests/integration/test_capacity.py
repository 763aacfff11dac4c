#!/usr/bin/env python3
"""Capacity of one worker's pools (sip.max_transactions and what is sized
from it by ratio, sbc/proxy.c and lib/txn/txn.c), at the smallest size:

- a request's proxy context goes back to its pool as soon as the final
  response is upstream, while its server transaction lingers 64*T1: more
  requests complete in a row than there are contexts;
- when the pools do run dry (INVITEs that are never answered hold their
  context and stored copies), requests get 503 with a reason and
  Retry-After, never silence, and the daemon carries on.

Usage: test_capacity.py SBC_BIN SRC_DIR. Standard library only; every wait
is bounded; only our own daemon is killed.
"""
import os
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import Daemon, free_port  # noqa: E402

SBC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "sbc"
ACCESS_IP, CORE_IP, PHONE_IP, UAS_IP = "127.0.0.1", "127.0.0.2", "127.0.0.4", "127.0.0.3"
MAX_TXN = 256                            # the smallest sip.max_transactions
CONTEXTS = MAX_TXN // 2 + MAX_TXN // 16 + 16  # ctx_pool_size() in sbc/proxy.c

CONFIG = """\
workers: 1
sip: {{ t1_ms: 100, t2_ms: 400, t4_ms: 500, timer_c_ms: 3000, max_transactions: {maxt} }}
control: {{ metrics: "" }}
realms:
  - name: access
    listen: [ {{ address: {access}, port: {pa} }} ]
    media: {{ address: {access}, ports: 22000-22999 }}
  - name: core
    trusted: true
    listen: [ {{ address: {core}, port: {pc} }} ]
    media: {{ address: {core}, ports: 23000-23999 }}
routes:
  - name: a2c
    from_realm: access
    to_realm: core
    next_hops: [ {{ host: {uas}, port: {pu} }} ]
"""


def request(method, n, port):
    return ("%s sip:svc@%s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKcap%s%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:cap@%s>;tag=f%d\r\n"
            "To: <sip:svc@%s>\r\n"
            "Call-ID: cap%s%d@%s\r\n"
            "CSeq: 1 %s\r\n"
            "Contact: <sip:cap@%s:%d>\r\n"
            "Content-Length: 0\r\n\r\n"
            % (method, CORE_IP, PHONE_IP, port, method, n, PHONE_IP, n, CORE_IP, method, n,
               PHONE_IP, method, PHONE_IP, port)).encode()


def answer(req, status=200):
    """A response to req copying Via, From, To (+ a tag), Call-ID, CSeq."""
    lines = req.decode(errors="replace").split("\r\n")
    out = ["SIP/2.0 %d OK" % status]
    for ln in lines[1:]:
        name = ln.split(":", 1)[0].strip().lower()
        if name in ("via", "v", "from", "f", "call-id", "i", "cseq"):
            out.append(ln)
        elif name in ("to", "t"):
            out.append(ln + ";tag=uas")
    return ("\r\n".join(out) + "\r\nContent-Length: 0\r\n\r\n").encode()


def status_of(data):
    parts = data.split(b" ", 2)
    return int(parts[1]) if data.startswith(b"SIP/2.0 ") and len(parts) > 1 else 0


class Capacity(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.phone.bind((PHONE_IP, 0))
        self.uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.uas.bind((UAS_IP, 0))
        self.pa, self.pc = free_port(ACCESS_IP), free_port(CORE_IP)
        self.sbc = (ACCESS_IP, self.pa)
        self.d = Daemon(SBC, CONFIG.format(access=ACCESS_IP, core=CORE_IP, uas=UAS_IP, pa=self.pa,
                                           pc=self.pc, pu=self.uas.getsockname()[1],
                                           maxt=MAX_TXN), self.tmp.name)
        self.assertTrue(self.d.wait_ready(self.sbc, PHONE_IP), "sbc did not come up")

    def tearDown(self):
        rc, text = self.d.stop()
        self.phone.close()
        self.uas.close()
        self.tmp.cleanup()
        self.assertEqual(rc, 0, "sbc exit status %r\n%s" % (rc, text[-3000:]))
        self.assertNotIn("Sanitizer", text)

    def recv(self, sock, timeout):
        sock.settimeout(timeout)
        try:
            return sock.recv(65535)
        except socket.timeout:
            return None

    def test_contexts_return_at_the_final(self):
        """More OPTIONS complete within 64*T1 than there are contexts: each
        context left with its final, the server transactions linger."""
        port = self.phone.getsockname()[1]
        total = CONTEXTS + 40
        self.assertLess(total, MAX_TXN)  # the transactions do fit
        t0 = time.monotonic()
        for n in range(total):
            self.phone.sendto(request("OPTIONS", n, port), self.sbc)
            fwd = self.recv(self.uas, 2.0)
            self.assertIsNotNone(fwd, "OPTIONS %d not forwarded" % n)
            self.assertTrue(fwd.startswith(b"OPTIONS "))
            self.uas.sendto(answer(fwd), (CORE_IP, self.pc))
            got = self.recv(self.phone, 2.0)
            self.assertIsNotNone(got, "OPTIONS %d got no answer" % n)
            self.assertEqual(status_of(got), 200, got[:200])
        # all within Timer J (64*T1 = 6.4 s): every server transaction is
        # still there, so contexts were not held by them
        self.assertLess(time.monotonic() - t0, 6.0, "too slow to prove anything")

    def test_pools_dry_answer_503(self):
        """INVITEs never answered hold their context and copies: once the
        pools are dry, 503 with a reason and Retry-After, counted, and
        the daemon still answers afterwards."""
        port = self.phone.getsockname()[1]
        total = MAX_TXN
        for n in range(total):
            self.phone.sendto(request("INVITE", n, port), self.sbc)
            if n % 32 == 31:
                time.sleep(0.05)  # let the worker keep up: refusals, not drops
        got503, other, deadline = [], 0, time.monotonic() + 5
        while time.monotonic() < deadline and len(got503) + other < 2 * total:
            d = self.recv(self.phone, 0.5)
            if d is None:
                break
            if status_of(d) == 503:
                got503.append(d)
            else:
                other += 1
        self.assertTrue(got503, "no 503 once the pools ran dry")
        # the pool that ran dry first decides which: a transaction or copy
        # for the request itself or its branch ("SBC overloaded", with
        # Retry-After), or a copy of the forwarded request, which fails
        # like a transport error ("next hop unreachable")
        overloaded = 0
        for d in got503:
            line = d.split(b"\r\n", 1)[0]
            self.assertRegex(line, rb"^SIP/2.0 503 Service Unavailable - (SBC overloaded|next hop unreachable)$")
            if b"SBC overloaded" in line:
                overloaded += 1
                self.assertIn(b"\r\nRetry-After: 5\r\n", d)
        self.assertGreater(overloaded, 0, "no 503 named the overload")
        # 100 Trying for the ones taken, 503 for the rest: no silence
        self.assertGreaterEqual(len(got503) + other, total)
        # the daemon still works: its 503s were answers, not a crash
        self.d.proc.poll()
        self.assertIsNone(self.d.proc.returncode)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
