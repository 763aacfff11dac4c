#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The /metrics endpoint against a real Prometheus (issue 6).

usage: test_metrics.py SBC_BINARY SOURCE_DIR [-k PATTERN] [-v]

Starts the sbc (metrics on a free port) and a Prometheus server (Debian
package `prometheus`, installed by `deploy/sbc-dev deps`) on a temporary
configuration that scrapes it every second, drives SIP traffic, and reads
the series back through Prometheus' HTTP API (/api/v1/query). `promtool
check metrics` must accept the exposition. Every process is ours, started
in a temporary directory and stopped by PID; the test skips (exit 77) only
when the prometheus/promtool binaries are not installed at all.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sbcproc import free_port  # noqa: E402

SBC = None
SRC = None
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

CONFIG = """\
workers: 2
log_level: info
sip:
  t1_ms: 100
  t2_ms: 400
  user_agent: "sbc-metrics"
control:
  metrics: 127.0.0.1:{pm}
realms:
  - name: access
    listen:
      - {{ address: 127.0.0.1, port: {pa} }}
    media: {{ address: 127.0.0.1, ports: 26000-26999 }}
    limits: {{ other_per_source_rps: 50, flood_multiple: 2 }}
  - name: core
    trusted: true
    listen:
      - {{ address: 127.0.0.2, port: {pc} }}
    media: {{ address: 127.0.0.2, ports: 27000-27999 }}
routes:
  - name: access-to-core
    from_realm: access
    to_realm: core
    next_hops:
      - {{ host: 127.0.0.3, port: {pu} }}
"""

PROM_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sbc
    static_configs:
      - targets: ['127.0.0.1:{pm}']
"""

_PROCS = []


def _stop_all():
    for p in list(_PROCS):
        stop(p)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


atexit.register(_stop_all)


def stop(proc):
    if proc in _PROCS:
        _PROCS.remove(proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def http_get(url, timeout=5):
    return urllib.request.urlopen(url, timeout=timeout).read().decode()


def options(dest, via, n):
    return ("OPTIONS sip:%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-m%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:m@example.com>;tag=t%d\r\nTo: <sip:sbc@example.com>\r\n"
            "Call-ID: m%d@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                dest[0], dest[1], via[0], via[1], n, n, n)).encode()


def garbage(dest, via, n):
    return ("OPTIONS sip:%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-g%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:m@example.com>;tag=t%d\r\nTo: <sip:sbc@example.com>\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                dest[0], dest[1], via[0], via[1], n, n)).encode()   # no Call-ID: 400


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sbc-metrics-")
        cls.sbc = cls.prom = None
        for _attempt in range(3):
            cls.pm = free_port("127.0.0.1", socket.SOCK_STREAM)
            cls.pp = free_port("127.0.0.1", socket.SOCK_STREAM)
            cls.access = ("127.0.0.1", free_port("127.0.0.1", socket.SOCK_DGRAM))
            core = ("127.0.0.2", free_port("127.0.0.2", socket.SOCK_DGRAM))
            cfg = os.path.join(cls.tmp.name, "sbc.yaml")
            with open(cfg, "w") as f:
                f.write(CONFIG.format(pm=cls.pm, pa=cls.access[1], pc=core[1], pu=5060))
            cls.sbc_log = open(os.path.join(cls.tmp.name, "sbc.log"), "w+")
            cls.sbc = subprocess.Popen([SBC, "-c", cfg], stdin=subprocess.DEVNULL,
                                       stdout=cls.sbc_log, stderr=subprocess.STDOUT)
            _PROCS.append(cls.sbc)
            if cls.wait_http("http://127.0.0.1:%d/metrics" % cls.pm, cls.sbc):
                break
            stop(cls.sbc)
            cls.sbc_log.seek(0)
            sys.stderr.write("sbc did not start, retrying:\n%s\n" % cls.sbc_log.read()[-2000:])
            cls.sbc_log.close()
        else:
            raise RuntimeError("sbc did not serve /metrics")
        pcfg = os.path.join(cls.tmp.name, "prometheus.yml")
        with open(pcfg, "w") as f:
            f.write(PROM_CONFIG.format(pm=cls.pm))
        cls.prom_log = open(os.path.join(cls.tmp.name, "prometheus.log"), "w+")
        cls.prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + pcfg,
             "--storage.tsdb.path=" + os.path.join(cls.tmp.name, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % cls.pp, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=cls.prom_log, stderr=subprocess.STDOUT,
            cwd=cls.tmp.name)
        _PROCS.append(cls.prom)
        if not cls.wait_http("http://127.0.0.1:%d/-/ready" % cls.pp, cls.prom, timeout=30):
            cls.prom_log.seek(0)
            raise RuntimeError("prometheus did not start:\n" + cls.prom_log.read()[-3000:])

    @classmethod
    def tearDownClass(cls):
        for p in (cls.prom, cls.sbc):
            if p is not None:
                stop(p)
        cls.sbc_log.seek(0)
        text = cls.sbc_log.read()
        cls.sbc_log.close()
        bad = [l for l in text.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        if bad or cls.sbc.returncode != 0:
            raise AssertionError("sbc exit status %s; sanitizer findings: %s\n%s"
                                 % (cls.sbc.returncode, bad, text[-3000:]))
        if cls.prom is not None:
            cls.prom_log.close()
        cls.tmp.cleanup()

    @staticmethod
    def wait_http(url, proc, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                http_get(url, timeout=1)
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.pp, urllib.parse.urlencode({"query": q}))
        r = json.loads(http_get(url))
        self.assertEqual(r["status"], "success", r)
        return r["data"]["result"]

    def value(self, q):
        res = self.query(q)
        return float(res[0]["value"][1]) if res else None

    def scrape(self):
        return http_get("http://127.0.0.1:%d/metrics" % self.pm)

    def sbc_value(self, name, text=None):
        text = text or self.scrape()
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None

    def wait_query(self, q, want, timeout=15):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.value(q)
            if got == want:
                return got
            time.sleep(0.25)
        self.fail("Prometheus: %s = %r, expected %r" % (q, got, want))

    # ------------------------------------------------------------------------------
    def test_1_promtool_accepts_exposition(self):
        text = self.scrape()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        self.assertEqual(r.stdout.decode().strip(), "", "promtool lint findings")
        self.assertIn('sbc_build_info{version="', text)
        for fam in ("sbc_requests_received_total", "sbc_responses_received_total",
                    "sbc_sip_parse_errors_total", "sbc_drops_total", "sbc_calls_attempted_total",
                    "sbc_calls_answered_total", "sbc_calls_failed_total", "sbc_dialogs_active",
                    "sbc_transactions_active", "sbc_retransmissions_total",
                    "sbc_ratelimit_decisions_total", "sbc_acl_decisions_total",
                    "sbc_handoffs_total", "sbc_proxy_events_total", "sbc_call_setup_seconds",
                    "sbc_message_processing_seconds"):
            self.assertRegex(text, r"(?m)^# TYPE %s " % fam)

    def test_2_series_through_prometheus(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.4", 0))
        sock.settimeout(2)
        try:
            via = sock.getsockname()
            base = self.sbc_value('sbc_requests_received_total{method="OPTIONS"}') or 0
            n = 40
            for i in range(n):
                sock.sendto(options(self.access, via, i), self.access)
                data = sock.recvfrom(65535)[0]
                self.assertTrue(data.startswith(b"SIP/2.0 200 "), data[:40])
            for i in range(3):
                sock.sendto(garbage(self.access, via, i), self.access)
                data = sock.recvfrom(65535)[0]
                self.assertTrue(data.startswith(b"SIP/2.0 400 "), data[:40])
        finally:
            sock.close()
        want = base + n + 3
        self.assertEqual(self.sbc_value('sbc_requests_received_total{method="OPTIONS"}'), want)
        self.wait_query('sbc_requests_received_total{job="sbc",method="OPTIONS"}', want)
        self.assertEqual(self.value('up{job="sbc"}'), 1)
        self.assertEqual(self.value('sbc_build_info{job="sbc"}'), 1)
        self.assertEqual(self.value('sbc_workers{job="sbc"}'), 2)
        self.wait_query('sbc_sip_parse_errors_total{job="sbc",reason="missing_call_id"}', 3)
        self.assertGreaterEqual(self.value('sum(sbc_packets_received_total{job="sbc"})'), want)
        self.assertGreaterEqual(self.value('sbc_message_processing_seconds_count{job="sbc"}'), want)
        q = self.value('histogram_quantile(0.99, sbc_message_processing_seconds_bucket{job="sbc"})')
        self.assertIsNotNone(q)
        self.assertGreater(q, 0)
        cost = self.value('scrape_duration_seconds{job="sbc"}')
        own = self.value('sbc_scrape_duration_seconds{job="sbc"}')
        samples = self.value('scrape_samples_scraped{job="sbc"}')
        print("\n  scrape: %d samples; Prometheus-side %.2f ms, sbc control thread %.3f ms; "
              "p99 message processing %.1f us" % (samples, cost * 1e3, own * 1e3, q * 1e6))

    def test_3_scraping_does_not_disturb_sip(self):
        """A scrape storm on the control thread while SIP flows: every
        request is answered (the workers never wait for the scraper)."""
        stop_flag = threading.Event()
        scrapes = [0]

        def hammer():
            while not stop_flag.is_set():
                self.scrape()
                scrapes[0] += 1

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.5", 0))
        sock.settimeout(2)
        answered = 0
        try:
            via = sock.getsockname()
            for i in range(300):
                sock.sendto(options(self.access, via, 10000 + i), self.access)
                if sock.recvfrom(65535)[0].startswith(b"SIP/2.0 200 "):
                    answered += 1
                if i % 40 == 39:
                    time.sleep(1.0)      # stay below the source's 50/s
        finally:
            stop_flag.set()
            for t in threads:
                t.join(timeout=5)
            sock.close()
        print("\n  %d scrapes during 300 OPTIONS, all answered: %s" % (scrapes[0], answered == 300))
        self.assertEqual(answered, 300)
        self.assertGreater(scrapes[0], 10)


def main():
    global SBC, SRC
    signal.signal(signal.SIGTERM, _on_sigterm)
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    SBC, SRC = os.path.abspath(args[0]), os.path.abspath(args[1])
    if not PROMETHEUS or not PROMTOOL:
        print("SKIP: prometheus/promtool not installed (Debian package 'prometheus'; "
              "deploy/sbc-dev deps installs it)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + args[2:], verbosity=2)


if __name__ == "__main__":
    main()
