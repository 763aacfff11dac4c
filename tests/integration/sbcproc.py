"""Start, probe and stop one sbc daemon for an integration test.

Standard library only. The daemon is our own child, stopped by its PID.
"""
import os
import signal
import socket
import subprocess


def free_port(ip, kind=socket.SOCK_DGRAM):
    """A port of ip (IPv4 or IPv6; UDP, or TCP with socket.SOCK_STREAM)
    that was free a moment ago."""
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, kind)
    try:
        s.bind((ip, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Daemon:
    """sbc -c <config text> in tmp, its log in tmp/sbc.log."""

    def __init__(self, sbc, text, tmp):
        self.cfg = os.path.join(tmp, "sbc.yaml")
        with open(self.cfg, "w") as f:
            f.write(text)
        self.log = open(os.path.join(tmp, "sbc.log"), "w+")
        self.proc = subprocess.Popen([sbc, "-c", self.cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, addr, probe_ip, tries=50):
        """True once addr answers a CRLF keep-alive (0.2 s per try)."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((probe_ip, 0))
        probe.settimeout(0.2)
        try:
            for _ in range(tries):
                probe.sendto(b"\r\n\r\n", addr)
                try:
                    if probe.recv(100) == b"\r\n":
                        return True
                except socket.timeout:
                    pass
            return False
        finally:
            probe.close()

    def log_text(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM (SIGKILL after 5 s); returns (exit status, whole log)."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=5)
        text = self.log_text()
        self.log.close()
        return rc, text
