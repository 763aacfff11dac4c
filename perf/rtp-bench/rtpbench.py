#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""rtpbench — relayed RTP packets per second through the sbc daemon (socket
backend, one worker) and through rtpengine (Debian package, userspace only:
--table=-1, no kernel module), same traffic, same run, side by side.

usage: rtpbench.py BUILD_DIR [--calls N] [--dur S] [--rates R1,R2,...]
                   [--size BYTES] [--rtpengine PATH] [--only sbc|rtpengine]

For each relay: set up N calls (sbc: INVITE/200/ACK through its two realms
with sipua; rtpengine: offer/answer over its ng control protocol, bencode
over UDP), then for each offered rate (total packets/s over both
directions, 0 = as fast as the sender can) run rtpblast with the 2N
endpoints, each sending G.711-sized RTP to the relay port it was offered
and counting what the relay forwards to it. Reported per run: offered and
relayed packets/s, loss, and the relay's CPU time per relayed packet
(sbc: its worker thread; rtpengine: all its threads), from which the
packets/s one core of relay would carry follows. The machine is shared
with the sender and receiver, so the CPU time per packet is the robust
figure: it does not count time the relay was not running.

Addresses: sbc realms on 127.0.0.6 (access) / 127.0.0.7 (core), rtpengine
on 127.0.0.10, endpoints on 127.0.0.8 (callers) and 127.0.0.9 (callees):
nothing the test suites use. Processes it starts are stopped by PID.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from sipua import UA, sdp, sdp_media  # noqa: E402

A_IP, C_IP, CALLER_IP, CALLEE_IP, RTPE_IP = "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"
EP_BASE = 46000       # endpoint ports: caller i at EP_BASE + 2i, callee likewise

SBC_CONFIG = """\
workers: 1
log_level: warn
sip: {{ t1_ms: 500 }}
control:
  metrics: 127.0.0.1:{mport}
realms:
  - name: access
    trusted: false
    hide_topology: true
    listen: [{{ address: {a}, port: {pa} }}]
    media: {{ address: {a}, ports: 20000-23999 }}
  - name: core
    trusted: true
    hide_topology: false
    listen: [{{ address: {c}, port: {pc} }}]
    media: {{ address: {c}, ports: 24000-27999 }}
routes:
  - name: a2c
    from_realm: access
    to_realm: core
    next_hops: [{{ host: {callee}, port: {hop} }}]
"""


def free_port(host, kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ns(pid, names=None):
    """CPU time (ns) of the threads of pid whose comm is in names (all when
    None): schedstat's run time, exact to the ns."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            comm = open(base + "comm").read().strip()
            if names is not None and comm not in names:
                continue
            total += int(open(base + "schedstat").read().split()[0])
        except OSError:
            continue
    return total


def run_blast(build, endpoints, rate, dur, size):
    cmd = [os.path.join(build, "perf", "rtpblast"), "--rate", str(rate), "--dur", str(dur),
           "--size", str(size)]
    for local, relay in endpoints:
        cmd += ["--ep", "%s:%d,%s:%d" % (local + relay)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=dur + 30)
    if out.returncode:
        raise RuntimeError("rtpblast failed: %s" % out.stderr)
    return dict(kv.split("=") for kv in out.stdout.split())


# ---- sbc --------------------------------------------------------------------

class Sbc:
    def __init__(self, build, ncalls):
        self.tmp = tempfile.TemporaryDirectory(prefix="rtpbench-")
        self.callee = UA(CALLEE_IP, 0, name="callee", user="bob", t1=0.5)
        self.caller = UA(CALLER_IP, 0, name="caller", user="alice", t1=0.5)
        self.pa, self.pc = free_port(A_IP), free_port(C_IP)
        self.mport = free_port("127.0.0.1", socket.SOCK_STREAM)
        cfg = os.path.join(self.tmp.name, "sbc.yaml")
        with open(cfg, "w") as f:
            f.write(SBC_CONFIG.format(mport=self.mport, a=A_IP, c=C_IP, pa=self.pa, pc=self.pc,
                                      callee=CALLEE_IP, hop=self.callee.port))
        self.log = open(os.path.join(self.tmp.name, "sbc.log"), "w+")
        self.proc = subprocess.Popen([os.path.join(build, "sbc", "sbc"), "-c", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        self.endpoints = []
        for i in range(ncalls):
            pa, pb = EP_BASE + 2 * i, EP_BASE + 2 * i
            inv = self.caller.invite((A_IP, self.pa), "sip:bob@example.com",
                                     body=sdp("alice", CALLER_IP, pa))
            b_inv = self.callee.expect(method="INVITE", timeout=5)
            self.callee.answer(b_inv, 200, body=sdp("bob", CALLEE_IP, pb))
            a200 = self.caller.expect(status=200, cseq_method="INVITE", call_id=inv.call_id,
                                      timeout=5)
            self.caller.dialog(a200).ack(a200)
            _, rb, ab = sdp_media(b_inv.body)[0]
            _, ra, aa = sdp_media(a200.body)[0]
            self.endpoints += [((CALLER_IP, pa), (aa, ra)), ((CALLEE_IP, pb), (ab, rb))]

    def worker_cpu(self):
        return cpu_ns(self.proc.pid, {"sbc-w0"})

    def relayed(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport, timeout=3) as r:
            text = r.read().decode()
        return sum(int(v) for v in re.findall(r'^sbc_media_packets_relayed_total\{[^}]*\} (\d+)$',
                                                text, re.M))

    def close(self):
        self.caller.close()
        self.callee.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        self.tmp.cleanup()


# ---- rtpengine ----------------------------------------------------------------

def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k.decode()] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


class Rtpengine:
    def __init__(self, path, ncalls):
        self.ng = (RTPE_IP, free_port(RTPE_IP))
        self.log = tempfile.TemporaryFile()
        # userspace forwarding only (--table=-1: no kernel module), one
        # forwarding thread to compare with one sbc worker
        self.proc = subprocess.Popen(
            [path, "--config-file=none", "--table=-1", "--interface=%s" % RTPE_IP,
             "--listen-ng=%s:%d" % self.ng, "--foreground", "--log-stderr", "--log-level=4",
             "--port-min=30000", "--port-max=33999", "--num-threads=1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        self.seq = 0
        for _ in range(50):
            try:
                if self.cmd({"command": "ping"}).get("result") == b"pong":
                    break
            except (socket.timeout, ConnectionRefusedError):
                time.sleep(0.1)
        else:
            raise RuntimeError("rtpengine does not answer ping")
        self.endpoints = []
        for i in range(ncalls):
            pa, pb = EP_BASE + 2 * i, EP_BASE + 2 * i
            cid = "bench-%d" % i
            off = self.cmd({"command": "offer", "call-id": cid, "from-tag": "a%d" % i,
                            "sdp": sdp("alice", CALLER_IP, pa).decode()})
            ans = self.cmd({"command": "answer", "call-id": cid, "from-tag": "a%d" % i,
                            "to-tag": "b%d" % i, "sdp": sdp("bob", CALLEE_IP, pb).decode()})
            if off.get("result") != b"ok" or ans.get("result") != b"ok":
                raise RuntimeError("rtpengine refused the call: %r %r" % (off, ans))
            _, rb, ab = sdp_media(off["sdp"])[0]     # what the callee is told
            _, ra, aa = sdp_media(ans["sdp"])[0]     # what the caller is told
            self.endpoints += [((CALLER_IP, pa), (aa, ra)), ((CALLEE_IP, pb), (ab, rb))]

    def cmd(self, d):
        self.seq += 1
        cookie = b"c%d" % self.seq
        self.sock.sendto(cookie + b" " + bencode(d), self.ng)
        while True:
            data, _ = self.sock.recvfrom(65535)
            if data.startswith(cookie + b" "):
                return bdecode(data, len(cookie) + 1)[0]

    def cpu(self):
        return cpu_ns(self.proc.pid)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.sock.close()


def measure(name, relay, cpu_fn, build, rates, dur, size, rows):
    for rate in rates:
        c0 = cpu_fn()
        res = run_blast(build, relay.endpoints, rate, dur, size)
        c1 = cpu_fn()
        relayed = int(res["received"])
        ns = (c1 - c0) / relayed if relayed else float("nan")
        rows.append((name, len(relay.endpoints) // 2, rate, float(res["sent_pps"]),
                     float(res["received_pps"]), float(res["loss"]), ns))
        print("%-10s calls=%d offered=%-7s sent/s=%9.0f relayed/s=%9.0f loss=%6.2f%% "
              "relay CPU/packet=%6.0f ns (=> %.0f k/s per core)" % (
                  name, len(relay.endpoints) // 2, rate or "max", float(res["sent_pps"]),
                  float(res["received_pps"]), 100 * float(res["loss"]), ns, 1e6 / ns if ns else 0),
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--dur", type=float, default=5)
    ap.add_argument("--rates", default="20000,50000,100000,0")
    ap.add_argument("--size", type=int, default=172)
    ap.add_argument("--rtpengine", default="/usr/bin/rtpengine")
    ap.add_argument("--only", choices=("sbc", "rtpengine"))
    a = ap.parse_args()
    rates = [int(r) for r in a.rates.split(",")]
    rows = []
    if a.only != "rtpengine":
        s = Sbc(a.build, a.calls)
        try:
            before = s.relayed()
            measure("sbc", s, s.worker_cpu, a.build, rates, a.dur, a.size, rows)
            print("sbc's own count of relayed packets: %d" % (s.relayed() - before))
        finally:
            s.close()
    if a.only != "sbc":
        if not os.access(a.rtpengine, os.X_OK):
            print("rtpengine: %s not installed (apt-get install rtpengine)" % a.rtpengine)
        else:
            r = Rtpengine(a.rtpengine, a.calls)
            try:
                measure("rtpengine", r, r.cpu, a.build, rates, a.dur, a.size, rows)
            finally:
                r.close()
    print("\n| relay | calls | offered pkt/s | relayed pkt/s | loss | relay CPU per packet | pkt/s per core |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, calls, rate, sent, got, loss, ns in rows:
        print("| %s | %d | %s | %.0f | %.2f%% | %.0f ns | %.0f k |" % (
            name, calls, "max (%.0f)" % sent if not rate else "%d" % rate, got, 100 * loss, ns,
            1e6 / ns if ns else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
