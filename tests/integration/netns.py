# SPDX-License-Identifier: BSD-3-Clause
"""Network namespaces, veth pairs and guaranteed cleanup for the integration
tests that run the sbc on its DPDK backend (root; Python 3 stdlib only).

Used by test_dpdk.py and test_callflows.py --backend dpdk. Everything a test
creates is registered in CLEANUP as it is made and undone by cleanup(), last
made first undone: call it in a finally, and it also runs at exit (atexit)
and, with on_sigterm installed as the SIGTERM handler, when meson's timeout
or a user stops the test (SIGTERM unwinds as KeyboardInterrupt through the
finally blocks). Only a SIGKILL can leave namespaces behind: sweep_stale()
removes those of a test whose PID is gone, at the next run's start.
"""
import atexit
import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def run(*cmd, check=True, ns=None, quiet=False):
    """Run cmd (in network namespace ns); its output (stdout and stderr)."""
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stdout))
    return r.stdout


def _setns(fd, what):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + what)


@contextlib.contextmanager
def netns(name):
    """Run the body (this thread) inside network namespace name: sockets made
    here stay in it."""
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target, name)
        yield
    finally:
        try:
            _setns(home, "back")
        finally:
            os.close(target)
            os.close(home)


def enter(name):
    """Move this thread into network namespace name for good: threads it
    starts and sockets it makes from now on live there (a thread inherits
    its creator's namespace). Call it on the main thread before any other
    thread exists. Cleanup moves the thread back first, so the namespace is
    not kept alive by this process once deleted."""
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target, name)
    except OSError:
        os.close(home)
        raise
    finally:
        os.close(target)

    def leave():
        try:
            _setns(home, "back from " + name)
        finally:
            os.close(home)
    CLEANUP.append(leave)


def die_with_parent(cmd):
    """cmd, made to get SIGTERM when this process dies: a SIGKILL of the
    test, which no cleanup catches, must not leave a daemon running.
    (setpriv sets PR_SET_PDEATHSIG and execs cmd; the setting survives
    execve, so "ip netns exec NS sbc" passes it on to the sbc, which keeps
    the PID Popen reports. No preexec_fn: not safe once threads run.)"""
    return ["setpriv", "--pdeathsig", "TERM"] + list(cmd)


# ---------------------------------------------------------------------------
# Cleanup, whatever happens

CLEANUP = []


def cleanup():
    """Undo everything registered, last first; best effort, keeps going."""
    while CLEANUP:
        fn = CLEANUP.pop()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - best effort, keep going
            print("cleanup: %s" % e, file=sys.stderr)


def on_sigterm(signum, frame):
    """SIGTERM handler: unwind (finally blocks, cleanup) instead of dying."""
    raise KeyboardInterrupt("SIGTERM")


atexit.register(cleanup)


def del_netns(name):
    if os.path.exists("/run/netns/" + name):
        run("ip", "netns", "del", name, check=False)


def make_netns(name):
    del_netns(name)
    run("ip", "netns", "add", name)
    CLEANUP.append(lambda: del_netns(name))
    run("ip", "link", "set", "lo", "up", ns=name)


DPDK_RUN = "/var/run/dpdk"


def sweep_stale(pattern, prefix_pattern=None):
    """Delete the namespaces whose name matches pattern (a regular expression
    with the creating test's PID as group 1) and whose PID no longer runs: a
    SIGKILLed run leaves them. The same for DPDK runtime directories
    (--file-prefix) matching prefix_pattern. Returns their names."""
    gone = []
    for where, pat in (("/run/netns", pattern), (DPDK_RUN, prefix_pattern)):
        try:
            names = os.listdir(where) if pat else []
        except FileNotFoundError:
            continue
        for name in names:
            m = re.fullmatch(pat, name)
            if not m or os.path.exists("/proc/%s" % m.group(1)):
                continue
            if where == DPDK_RUN:
                shutil.rmtree(os.path.join(where, name), ignore_errors=True)
            else:
                del_netns(name)
            gone.append(name)
    return gone


def dpdk_file_prefix(prefix):
    """prefix, as an EAL --file-prefix whose runtime directory (EAL leaves
    it behind, even with --no-shconf) goes at cleanup."""
    CLEANUP.append(lambda: shutil.rmtree(os.path.join(DPDK_RUN, prefix), ignore_errors=True))
    return prefix


def veth(ns_a, dev_a, ns_b, dev_b):
    """A veth pair dev_a (in ns_a) -- dev_b (in ns_b), created in place (the
    names never exist in the host's namespace), both ends up. Deleting
    either namespace deletes the pair."""
    run("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b,
        "netns", ns_b)
    quiet_ipv6(ns_a, dev_a)
    quiet_ipv6(ns_b, dev_b)
    run("ip", "link", "set", dev_a, "up", ns=ns_a)
    run("ip", "link", "set", dev_b, "up", ns=ns_b)


def tx_checksum_off(ns, dev):
    """ethtool -K DEV tx off, without needing ethtool (SIOCETHTOOL,
    ETHTOOL_STXCSUM). veth leaves UDP checksums to "hardware": an af_packet
    port on the other end would see them unfinished; real NICs and TAPs
    deliver them complete."""
    with netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        val = ctypes.create_string_buffer(struct.pack("II", 0x17, 0), 8)
        ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(val)).ljust(40, b"\0")
        fcntl.ioctl(s.fileno(), 0x8946, ifr)
    finally:
        s.close()


def quiet_ipv6(ns, dev):
    """No IPv6 on dev (no DAD, router solicitations or MLD reports)."""
    run("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev, ns=ns, check=False)


# ---------------------------------------------------------------------------
# May a DPDK test run here?

_PROBE = """\
workers: 1
control: { metrics: "" }
io:
  backend: dpdk
  ports:
    - device: "net_null0"
      addresses: [ 10.30.0.1/24 ]
realms:
  - name: access
    listen:
      - { address: 10.30.0.1, port: 5060 }
    media: { address: 10.30.0.1, ports: 40000-40999 }
"""


def dpdk_built(sbc):
    """sbc -t on a dpdk configuration: rejected only by a build without DPDK."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(_PROBE)
    try:
        r = subprocess.run([sbc, "-t", "-c", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if "built without DPDK" in r.stderr:
        return False
    if r.returncode != 0:
        raise RuntimeError("sbc -t failed on the DPDK probe configuration: " + r.stderr)
    return True


def dpdk_preflight(sbc, what):
    """None when a DPDK test may run, else the exit status to end with after
    saying why: 77 (skip) without DPDK in the build, or when not root
    outside CI; 1 when not root in CI (CI must run it)."""
    if not dpdk_built(sbc):
        print("SKIP: this sbc was built without DPDK (HAVE_DPDK is 0)")
        return 77
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            print("FAIL: %s needs root (network namespaces) in CI" % what)
            return 1
        print("SKIP: %s needs root (network namespaces, veth)" % what)
        return 77
    return None
