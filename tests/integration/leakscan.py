# SPDX-License-Identifier: BSD-3-Clause
"""leakscan — topology-hiding leak scanner for the integration tests
(Python 3 stdlib only).

Every datagram the SBC sends to a test UA (any UA attached, from any of
the SBC's listen addresses given with add_sbc_face) is recorded (UA.tap, before any
parsing or scripted loss). Every datagram a UA sends teaches the scanner the
identifiers of that UA's realm: the hosts and ports in its Via sent-by, its
Contact URIs, the received/rport values, the host part of its Call-IDs, and
its SDP's media addresses and ports (c=, o=, m=, a=rtcp). The test adds the
SBC's own listen addresses per realm, and the tokens the SBC mints and the
relay ports it offers are learnt from what it sends: a token "sbc" + 28
base32 characters, or an m= / a=rtcp port of an SDP, seen in a datagram to
a UA of realm R is an identifier of R.

(A token is attributed to the realm it is first seen in.)

scan() then looks in every datagram sent into realm R for any identifier of
the other realm:
  hosts / IPs   as a whole word (127.0.0.4 does not match 127.0.0.40)
  ports         as ":PORT", "=PORT" (so ";rport=PORT" and a=rtcp:PORT too),
                or as the port of an m= line, not followed by a digit
  tokens        literally

Scope of a datagram: the start line, every header, and an SDP body, c= and
m= lines included: media is anchored, so an SDP reaching realm R names only
the SBC's media address of R and its relay ports there. With
add_media_address(R, ip) the scanner also checks that positively: every o=
and c= address of an SDP sent into R is ip (or 0.0.0.0, hold). Other bodies
(sipfrag, PIDF, text) are the endpoints' application payload, which the SBC
does not rewrite; they are not scanned.

Identifiers have a scope: hosts and tokens are global (they mean the same
thing for the whole run), ports belong to one test (each test starts its
own daemon and UAs on fresh ephemeral ports, and a port number one test
used in one realm may be reused by the next test in the other).
"""
import re
import threading
import time

TOKEN_RE = re.compile(rb"(?<![A-Za-z0-9])sbc[a-z2-7]{28}(?![A-Za-z0-9])")
REALMS = ("access", "core")


def other(realm):
    return "core" if realm == "access" else "access"


class Datagram:
    __slots__ = ("n", "scope", "realm", "ua", "src", "data", "t")

    def __init__(self, n, scope, realm, ua, src, data, t):
        self.n, self.scope, self.realm, self.ua, self.src, self.data, self.t = \
            n, scope, realm, ua, src, data, t


class Leak:
    def __init__(self, dgram, ident, line):
        self.dgram, self.ident, self.line = dgram, ident, line

    def __str__(self):
        d = self.dgram
        first = d.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        return ("[%s] datagram #%d from %s:%d to %s (%s realm) [%s]: %s identifier %r (%s) in line %r"
                % (d.scope, d.n, d.src[0], d.src[1], d.ua, d.realm, first, self.ident.realm,
                   self.ident.value, self.ident.what, self.line))


class Ident:
    def __init__(self, realm, kind, value, what, scope):
        self.realm, self.kind, self.value, self.what, self.scope = realm, kind, value, what, scope
        v = re.escape(value.encode())
        if kind == "host":
            self.rx = re.compile(rb"(?<![A-Za-z0-9.\-])" + v + rb"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])", re.I)
        elif kind == "port":
            self.rx = re.compile(rb"(?:[:=]|^m=[^ ]+ )" + v + rb"(?![0-9])")
        else:
            self.rx = re.compile(v)

    def key(self):
        return (self.realm, self.kind, self.value.lower(), self.scope)


def scan_lines(data):
    """The lines of a datagram the scanner looks at (see the module doc)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    ctype = b""
    for ln in lines[1:]:
        name, _, value = ln.partition(b":")
        if name.strip().lower() in (b"content-type", b"c"):
            ctype = value.strip().lower()
    if body and ctype.startswith(b"application/sdp"):
        lines += body.replace(b"\r\n", b"\n").split(b"\n")
    return lines


def sdp_of(data):
    """The SDP body lines of a datagram ([] when it has none)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not body:
        return []
    for ln in head.split(b"\r\n")[1:]:
        name, _, value = ln.partition(b":")
        if name.strip().lower() in (b"content-type", b"c") and \
                value.strip().lower().startswith(b"application/sdp"):
            return body.replace(b"\r\n", b"\n").split(b"\n")
    return []


def sdp_ports(lines):
    """Media ports (m=, a=rtcp) of SDP lines, without 0."""
    out = []
    for ln in lines:
        m = re.match(rb"^m=\S+ (\d+)", ln) or re.match(rb"^a=rtcp:(\d+)", ln)
        if m and m.group(1) != b"0":
            out.append(m.group(1).decode())
    return out


_HOSTPORT = re.compile(r"^\[?([^\]\s;:>]+)\]?(?::(\d+))?")


class LeakScanner:
    def __init__(self):
        self.lock = threading.Lock()
        self.datagrams = []
        self.idents = {}
        self.scope = "-"
        self.realm_of = {}           # id(ua) -> realm
        self.token_owner = {}        # token -> realm it was first sent into
        self.faces = set()           # (host, port) of the SBC's listen addresses
        self.media_addr = {}         # realm -> the SBC's media address there

    # -- set-up ---------------------------------------------------------------
    def begin(self, scope):
        with self.lock:
            self.scope = scope

    def attach(self, ua, realm):
        self.realm_of[id(ua)] = realm
        ua.tap = self.tap
        self.add(realm, "host", ua.host, "IP of UA %s" % ua.name)
        self.add(realm, "port", str(ua.port), "port of UA %s" % ua.name)

    def add(self, realm, kind, value, what, scope=None):
        """kind: host | port | token. Ports default to the current scope."""
        if value is None or value == "":
            return
        if scope is None:
            scope = self.scope if kind == "port" else "*"
        ident = Ident(realm, kind, str(value), what, scope)
        with self.lock:
            self.idents.setdefault(ident.key(), ident)

    def add_media_address(self, realm, ip):
        """The SBC's media address of realm: the only address an SDP sent
        into it may name (scan() checks)."""
        self.media_addr[realm] = ip

    def add_sbc_face(self, realm, addr):
        self.faces.add(tuple(addr))
        self.add(realm, "host", addr[0], "SBC %s listen address" % realm)
        self.add(realm, "port", str(addr[1]), "SBC %s listen port" % realm)

    # -- recording -----------------------------------------------------------
    def tap(self, ua, direction, data, peer):
        realm = self.realm_of.get(id(ua))
        if realm is None:
            return
        if direction == "out":
            self.learn_sent(realm, ua, data)
            return
        if self.faces and tuple(peer) not in self.faces:
            return        # not from the SBC (a test UA playing a proxy, say)
        with self.lock:
            d = Datagram(len(self.datagrams) + 1, self.scope, realm, ua.name, tuple(peer), data,
                         time.monotonic())
            self.datagrams.append(d)
        for port in sdp_ports(sdp_of(data)):
            # a relay port the SBC offers into this realm is this realm's
            # (so seeing it in the other realm's SDP would be a leak)
            with self.lock:
                first = self.token_owner.setdefault(("port", self.scope, port), realm) == realm
                # (unless the other realm's UA said it first: then it leaked)
                known = (other(realm), "port", port, self.scope) in self.idents
            if first and not known:
                self.add(realm, "port", port, "relay port the SBC offered towards %s" % realm)
        for tok in TOKEN_RE.findall(data):
            # a token belongs to the realm it was first sent into (seen
            # later in the other realm, it is a leak, not a second owner)
            t = tok.decode()
            with self.lock:
                first = self.token_owner.setdefault(t, realm) == realm
            if first:
                self.add(realm, "token", t, "token the SBC minted towards %s" % realm)

    def learn_sent(self, realm, ua, data):
        """Identifiers a UA of `realm` reveals about itself: the top Via of
        its requests (lower Vias and the Vias of responses are copies of
        other hops'), its Contacts, the host of the Call-IDs it makes."""
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        lines = head.split("\r\n")
        is_request = not lines[0].startswith("SIP/")
        who = "used by %s" % ua.name
        top_via_done = not is_request
        has_to_tag = any(re.match(r"(?i)\s*(to|t)\s*:.*;\s*tag=", ln) for ln in lines[1:])
        for ln in lines[1:]:
            name, _, value = ln.partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name in ("via", "v") and not top_via_done:
                top_via_done = True
                v = value.split(",")[0]
                m = re.match(r"\s*SIP\s*/\s*2\.0\s*/\s*\w+\s+(.*)$", v)
                if not m:
                    continue
                sent_by, _, params = m.group(1).partition(";")
                self._hostport(realm, sent_by.strip(), "Via sent-by " + who)
                for prm in params.split(";"):
                    k, _, val = prm.strip().partition("=")
                    if k.lower() == "received":
                        self.add(realm, "host", val, "Via received " + who)
                    elif k.lower() == "rport" and val.isdigit():
                        self.add(realm, "port", val, "Via rport " + who)
            elif name in ("contact", "m"):
                for uri in re.findall(r"sips?:([^>;,\s]+)", value):
                    hp = uri.rpartition("@")[2]
                    if TOKEN_RE.search(uri.encode()):
                        continue          # a token the SBC gave it, not its own
                    self._hostport(realm, hp, "Contact " + who)
            elif name in ("call-id", "i") and is_request and not has_to_tag:
                host = value.rpartition("@")[2] if "@" in value else ""
                if host:
                    self.add(realm, "host", host, "Call-ID host " + who)
        sdp = sdp_of(data)
        for ln in sdp:
            m = re.match(rb"^(?:c=IN IP[46] |o=\S+ \S+ \S+ IN IP[46] )([^\s/]+)", ln)
            if m and m.group(1) not in (b"0.0.0.0", b"::"):
                self.add(realm, "host", m.group(1).decode(), "SDP address " + who)
        for port in sdp_ports(sdp):
            self.add(realm, "port", port, "SDP media port " + who)

    def _hostport(self, realm, text, what):
        m = _HOSTPORT.match(text)
        if not m:
            return
        self.add(realm, "host", m.group(1), what)
        if m.group(2):
            self.add(realm, "port", m.group(2), what)

    # -- scanning ------------------------------------------------------------
    def scan(self, scope=None):
        """Leaks in the datagrams of one scope (None: the whole run)."""
        with self.lock:
            dgrams = [d for d in self.datagrams if scope is None or d.scope == scope]
            idents = list(self.idents.values())
        # A value both realms use in one scope (two UAs on different IPs that
        # got the same ephemeral port) tells nothing: skipped.
        per_realm = {r: {(i.kind, i.value.lower(), i.scope) for i in idents if i.realm == r}
                     for r in REALMS}
        ambiguous = per_realm["access"] & per_realm["core"]
        idents = [i for i in idents if (i.kind, i.value.lower(), i.scope) not in ambiguous]
        leaks = []
        for d in dgrams:
            want = self.media_addr.get(d.realm)
            for ln in sdp_of(d.data) if want else ():
                m = re.match(rb"^(?:c=IN IP[46] |o=\S+ \S+ \S+ IN IP[46] )([^\s/]+)", ln)
                if m and m.group(1).decode() not in (want, "0.0.0.0", "::"):
                    ident = Ident(d.realm, "host", m.group(1).decode(),
                                  "not the SBC's media address %s of %s" % (want, d.realm), d.scope)
                    leaks.append(Leak(d, ident, ln.decode("utf-8", "replace")))
            foreign = [i for i in idents if i.realm == other(d.realm)
                       and (i.scope == "*" or i.scope == d.scope)]
            if not foreign:
                continue
            for ln in scan_lines(d.data):
                for i in foreign:
                    if i.rx.search(ln):
                        leaks.append(Leak(d, i, ln.decode("utf-8", "replace")))
        return leaks

    def stats(self, scope=None):
        with self.lock:
            dg = [d for d in self.datagrams if scope is None or d.scope == scope]
            ids = list(self.idents.values())
        per = {r: sum(1 for d in dg if d.realm == r) for r in REALMS}
        kinds = {}
        for i in ids:
            kinds[(i.realm, i.kind)] = kinds.get((i.realm, i.kind), 0) + 1
        return ("%d datagrams from the SBC (%s); identifiers: %s" % (
            len(dg), ", ".join("%d into %s" % (per[r], r) for r in REALMS),
            ", ".join("%s %s %d" % (r, k, n) for (r, k), n in sorted(kinds.items()))))

    @staticmethod
    def report(leaks, limit=40):
        lines = ["%d leak(s) across realms:" % len(leaks)]
        lines += ["  " + str(lk) for lk in leaks[:limit]]
        if len(leaks) > limit:
            lines.append("  ... and %d more" % (len(leaks) - limit))
        return "\n".join(lines)
