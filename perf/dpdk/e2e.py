#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end through the kernel: calls through the SBC on the DPDK backend
(af_packet port on a veth, net_tap port) beside the socket backend (the same
veths, kernel UDP), in network namespaces, driven by perf/sbc-loadgen.

usage: perf/dpdk/e2e.py [--build DIR] [--rates 250,500,1000] [--seconds S] [--json]

The wiring (namespaces, veths, the TAP moved into the UAS's namespace) is
perf/dpdk/topo.py, shared with perf/bench-e2e's sbc-veth and sbc-dpdk columns:

    netns A: UAC 10.10.0.2  --veth--  netns S: sbc 10.10.0.1 | 10.20.0.1  --  netns C: UAS 10.20.0.2
    dpdk:   S's side of A's veth is net_af_packet0; C's link is the SBC's net_tap0
            interface moved into C (as in tests/integration/test_dpdk.py)
    socket: S's kernel owns both addresses, C is reached through a second veth

One worker either way (workers: 1); power_saving on for DPDK (the machine
has two cores and the load generators need one). Per rate: calls started,
completed without failure, setup latency (INVITE -> 200) p50/p99, and the
SBC's CPU time per call (utime+stime of the process over the step, from
/proc; for DPDK it includes the polling between packets, so at low rates
it says more about power_saving than about the cost of a call). Root only; everything it creates is removed at the end, and the only
processes it stops are the ones it started, by PID.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import topo  # noqa: E402  (the namespace wiring, shared with perf/bench-e2e)

HZ = os.sysconf("SC_CLK_TCK")

COMMON = """\
workers: 1
log_level: warn
control: {{ metrics: "" }}
# Transactions live 64*T1 after they end (RFC 3261 Timer J, RFC 6026
# Accepted): with the default T1 of 500 ms a worker's 4096-entry table caps
# a sustained rate at ~64 calls/s whatever the backend. A short T1 keeps
# that limit out of a measurement of packet I/O.
sip: {{ t1_ms: 10, t2_ms: 40, t4_ms: 50 }}
{io}
realms:
  - name: access
    hide_topology: true
    listen: [ {{ address: {access}, port: {port} }} ]
    media: {{ address: {access}, ports: 40000-49999 }}
    # every call comes from one source: per-source limits out of the way
    limits: {{ per_source_cps: 1000000, other_per_source_rps: 1000000 }}
  - name: core
    trusted: true
    hide_topology: false
    listen: [ {{ address: {core}, port: {port} }} ]
    media: {{ address: {core}, ports: 40000-49999 }}
routes:
  - {{ name: a2c, from_realm: access, to_realm: core, next_hops: [ {{ host: {uas}, port: {uas_port} }} ] }}
  - {{ name: c2a, from_realm: core, to_realm: access, next_hops: ruri }}
"""


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])


def measure(build, backend, rates, seconds):
    tmp = tempfile.mkdtemp(prefix="sbc-e2e-")
    cfg = os.path.join(tmp, "sbc.yaml")
    procs, rows = [], []
    with topo.Topo(backend) as t:
        with open(cfg, "w") as f:
            f.write(COMMON.format(io=t.io_yaml(), access=topo.ACCESS_IP, core=topo.CORE_IP,
                                  port=topo.SIP_PORT, uas=topo.UAS_IP, uas_port=topo.UAS_PORT))
        try:
            log = open(os.path.join(tmp, "sbc.log"), "w")
            sbc = subprocess.Popen(t.argv("sbc", [os.path.join(build, "sbc", "sbc"), "-c", cfg]),
                                   stdout=log, stderr=subprocess.STDOUT)
            procs.append(sbc)
            if not t.attach(lambda: sbc.poll() is None):
                raise RuntimeError("sbc did not start: " + open(log.name).read())
            time.sleep(1)
            lg = os.path.join(build, "perf", "sbc-loadgen")
            uas = subprocess.Popen(t.argv("uas", [lg, "--role", "uas", "--local", "%s:%d" % (
                                       topo.UAS_IP, topo.UAS_PORT), "--idle-exit", "0"]),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(uas)
            time.sleep(0.3)
            for rate in rates:
                t0 = cpu_ticks(sbc.pid)
                r = subprocess.run(t.argv("uac", [
                    lg, "--role", "uac", "--local", topo.UAC_IP + ":0",
                    "--remote", "%s:%d" % (topo.ACCESS_IP, topo.SIP_PORT),
                    "--ruri", "sip:bob@%s:%d" % (topo.UAS_IP, topo.UAS_PORT), "-r", str(rate),
                    "-d", str(seconds), "--hold-ms", "1000", "--drain", "10", "--json"]),
                    capture_output=True, text=True, timeout=seconds + 60)
                t1 = cpu_ticks(sbc.pid)
                j = json.loads(r.stdout)
                rows.append({"backend": backend, "rate": rate, "started": j["started"],
                             "ok": j["ok"], "failed": j["failed"],
                             "p50_ms": j["latency_ms"]["p50"], "p99_ms": j["latency_ms"]["p99"],
                             "cpu_us_per_call": 1e6 * (t1 - t0) / HZ / max(j["ok"], 1)})
            return rows
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--rates", default="250,500,1000")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid():
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    rates = [int(x) for x in a.rates.split(",")]
    rows = measure(a.build, "dpdk", rates, a.seconds) + measure(a.build, "socket", rates, a.seconds)
    for r in rows:
        if a.json:
            print(json.dumps(r))
        else:
            print("%-6s %5d calls/s: %6d started %6d ok %5d failed  setup p50 %6.2f ms "
                  "p99 %7.2f ms  sbc CPU %6.1f us/call" % (
                      r["backend"], r["rate"], r["started"], r["ok"], r["failed"], r["p50_ms"],
                      r["p99_ms"], r["cpu_us_per_call"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
