# SPDX-License-Identifier: BSD-3-Clause
"""The network-namespace wiring that perf/dpdk/e2e.py and perf/bench-e2e
(its sbc-veth and sbc-dpdk columns) run calls over: one copy of it.

    netns A: UAC 10.10.0.2  --veth--  netns S: sbc 10.10.0.1 | 10.20.0.1  --  netns C: UAS 10.20.0.2

  dpdk:   S's end of A's veth (s0) is the SBC's net_af_packet0 port; C's link
          is the SBC's net_tap0 interface (sbcp1), moved into C once the SBC
          has created it, as in tests/integration/test_dpdk.py (attach()).
  socket: S's kernel owns both addresses, C is reached through a second
          veth (s1 -- c0): the same hops, kernel UDP sockets in the SBC.

Root only. Namespaces are named after this process's PID; down() deletes
them (and DPDK's runtime directory of this run's --file-prefix), also from
atexit, so they go whatever happens. No process is started here: the caller
starts and stops its own, by PID, with argv() to put them in a namespace.
"""
import atexit
import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import time

UAC_IP, ACCESS_IP, CORE_IP, UAS_IP = "10.10.0.2", "10.10.0.1", "10.20.0.1", "10.20.0.2"
SIP_PORT, UAS_PORT = 5060, 5062
TAP = "sbcp1"             # the kernel side of the SBC's net_tap0 port

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def run(*cmd, ns=None, check=True):
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stdout + r.stderr))
    return r.stdout


@contextlib.contextmanager
def netns(name):
    """The body runs (this thread) inside network namespace name: sockets
    made there stay in it."""
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
        yield
    finally:
        if _libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(target)
        os.close(home)


def dpdk_io(prefix, power_saving=True, idle_sleep_us=200, indent=""):
    """The io: section of the SBC's configuration for the dpdk wiring."""
    text = """\
io:
  backend: dpdk
  eal_args: ["--no-huge", "-m", "512", "--file-prefix={prefix}", "--no-telemetry"]
  mbufs: 16383
  rx_queue_size: 512
  tx_queue_size: 512
  power_saving: {ps}
  idle_sleep_us: {sleep}
  ports:
    - device: "net_af_packet0,iface=s0"
      mac: "02:00:00:00:0a:01"
      addresses: [ {a}/24 ]
    - device: "net_tap0,iface={tap}"
      mac: "02:00:00:00:14:01"
      addresses: [ {c}/24 ]
""".format(prefix=prefix, ps="true" if power_saving else "false", sleep=idle_sleep_us,
           a=ACCESS_IP, c=CORE_IP, tap=TAP)
    return "".join(indent + line + "\n" for line in text.splitlines())


class Topo:
    """Namespaces S (the SBC), A (UAC side) and C (UAS side) for backend
    "dpdk" or "socket"; a context manager (down() on the way out)."""

    def __init__(self, backend, tag=None):
        if backend not in ("dpdk", "socket"):
            raise ValueError("backend: dpdk or socket")
        self.backend = backend
        self.tag = tag or "sbce%d" % (os.getpid() % 100000)
        self.ns_s, self.ns_a, self.ns_c = self.tag + "s", self.tag + "a", self.tag + "c"
        self.prefix = self.tag + backend[0]   # DPDK --file-prefix
        self.made = []
        atexit.register(self.down)

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    def ns_of(self, role):
        return {"sbc": self.ns_s, "uac": self.ns_a, "uas": self.ns_c}[role]

    def argv(self, role, argv):
        """argv run in role's namespace (ip netns exec execs: same PID)."""
        return ["ip", "netns", "exec", self.ns_of(role)] + list(argv)

    def io_yaml(self, **kw):
        return dpdk_io(self.prefix, **kw) if self.backend == "dpdk" else ""

    def up(self):
        for ns in (self.ns_s, self.ns_a, self.ns_c):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            run("ip", "link", "set", "lo", "up", ns=ns)
        run("ip", "link", "add", "s0", "netns", self.ns_s, "type", "veth", "peer", "name",
            "a0", "netns", self.ns_a)
        run("ip", "addr", "add", UAC_IP + "/24", "dev", "a0", ns=self.ns_a)
        run("ip", "link", "set", "a0", "up", ns=self.ns_a)
        run("ip", "link", "set", "s0", "up", ns=self.ns_s)
        # af_packet hands the SBC frames as the veth got them: with TX
        # checksum offload on, A's UDP checksums would be left partial.
        # Off for both backends, so the kernel does the same work either way.
        run("ethtool", "-K", "a0", "tx", "off", ns=self.ns_a)
        if self.backend == "socket":
            run("ip", "link", "add", "s1", "netns", self.ns_s, "type", "veth", "peer", "name",
                "c0", "netns", self.ns_c)
            run("ip", "addr", "add", ACCESS_IP + "/24", "dev", "s0", ns=self.ns_s)
            run("ip", "addr", "add", CORE_IP + "/24", "dev", "s1", ns=self.ns_s)
            run("ip", "link", "set", "s1", "up", ns=self.ns_s)
            run("ip", "addr", "add", UAS_IP + "/24", "dev", "c0", ns=self.ns_c)
            run("ip", "link", "set", "c0", "up", ns=self.ns_c)
        else:
            # S's kernel has no address on s0 (the SBC's data plane owns
            # 10.10.0.1): it must not answer ARP for anything there.
            run("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=8", ns=self.ns_s)

    def attach(self, alive, timeout=20.0):
        """After the SBC started in S: for dpdk, move its TAP into C and give
        it the UAS's address (the TAP goes when the SBC stops, so once per
        start). alive() is False once the SBC has exited. True when wired."""
        if self.backend != "dpdk":
            return True
        deadline = time.monotonic() + timeout
        while TAP not in run("ip", "-o", "link", ns=self.ns_s):
            if time.monotonic() > deadline or not alive():
                return False
            time.sleep(0.05)
        # the data plane finishes configuring the port after creating it
        time.sleep(0.5)
        run("ip", "link", "set", TAP, "netns", self.ns_c, ns=self.ns_s)
        run("ip", "addr", "add", UAS_IP + "/24", "dev", TAP, ns=self.ns_c)
        run("ip", "link", "set", TAP, "up", ns=self.ns_c)
        return True

    def socket(self, role):
        """A UDP socket in role's namespace."""
        with netns(self.ns_of(role)):
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def down(self):
        for ns in reversed(self.made):
            if os.path.exists("/run/netns/" + ns):
                run("ip", "netns", "del", ns, check=False)
        self.made = []
        # DPDK's runtime files of this run's prefix (--no-huge: no hugepage
        # files, only the directory under /var/run/dpdk)
        if self.backend == "dpdk":
            shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)
