# SPDX-License-Identifier: BSD-3-Clause
"""sipua — scripted SIP user agents for integration tests (Python 3 stdlib only).

Pieces
  SipMessage      parse / build / serialize one SIP message (headers kept in
                  order, case-insensitive and compact-form aware look-ups,
                  comma-separated values split where the grammar allows it,
                  body delimited by Content-Length).
  Uri, NameAddr, Via
                  small parsers for the header values a test looks into.
  make_request / make_response
                  builders following RFC 3261 8.1.1 and 8.2.6.
  UA              one UDP socket with a background thread that receives,
                  runs the transaction rules a real UA would run and queues
                  what the test should look at:
                    * client transactions retransmit requests (Timer A/E,
                      T1 doubling, capped at T2 for non-INVITE, given up after
                      64*T1) until a response arrives;
                    * non-2xx finals to an INVITE are ACKed hop by hop
                      automatically (RFC 3261 17.1.1.3), again for each
                      retransmission of the final;
                    * a retransmitted 2xx of an INVITE we already ACKed is
                      re-ACKed with the same ACK (RFC 3261 13.2.2.4);
                    * server transactions absorb retransmitted requests and
                      answer them with the last response sent;
                    * a UAS retransmits its final responses to an INVITE
                      (2xx: RFC 3261 13.3.1.4; others: Timer G) until the ACK
                      for that To tag arrives, and reliable provisional
                      responses (RFC 3262) until the PRACK arrives.
                  Duplicates the library absorbs are not queued but stay in
                  the history (ua.history) so a test can count them.
                  drop_next() loses the next N matching datagrams (in or out)
                  to script packet loss.
  Dialog          dialog state of RFC 3261 12: route set (from Record-Route),
                  remote target (Contact), CSeq counters, tags; builds and
                  sends in-dialog requests (ACK for 2xx, BYE, re-INVITE,
                  UPDATE, INFO, REFER, NOTIFY, PRACK, MESSAGE ...).
  compare()       expected-versus-received check of a message that returns a
                  readable diff (see Expected).
  RefProxy        a small Python model of the proxy behaviour the call-flow
                  suite specifies, used only to validate the suite itself
                  (test_callflows.py --mock).

Every wait takes a timeout and fails with an AssertionError that says what was
awaited and what arrived instead.
"""
import difflib
import heapq
import itertools
import random
import re
import select
import socket
import threading
import time

T1 = 0.1
T2 = 0.4
T4 = 0.5
DEFAULT_TIMEOUT = 3.0

COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "s": "subject", "f": "from", "t": "to", "v": "via", "k": "supported",
    "c": "content-type", "o": "event", "r": "refer-to", "u": "allow-events",
    "b": "referred-by", "x": "session-expires", "a": "accept-contact",
    "j": "reject-contact", "d": "request-disposition", "y": "identity",
    "n": "identity-info",
}
SPECIAL_CASE = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "rseq": "RSeq", "rack": "RAck", "sip-etag": "SIP-ETag", "sip-if-match": "SIP-If-Match",
    "mime-version": "MIME-Version",
}
# Headers whose value is a comma-separated list that may be split into
# several header lines (RFC 3261 7.3.1) and that tests look at value by value.
LIST_HEADERS = {"via", "route", "record-route", "contact", "allow", "supported",
                "require", "proxy-require", "unsupported", "allow-events", "accept"}
DIALOG_CREATING = {"INVITE", "SUBSCRIBE", "REFER"}
TARGET_REFRESH = {"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"}

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
    493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
    505: "Version Not Supported", 513: "Message Too Large", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


class SipParseError(ValueError):
    pass


def canon(name):
    """Lower-case long form of a header name ('v' -> 'via')."""
    n = name.strip().lower()
    return COMPACT.get(n, n)


def pretty(name):
    """Conventional spelling of a header name ('call-id' -> 'Call-ID')."""
    n = canon(name)
    return SPECIAL_CASE.get(n, "-".join(p.capitalize() for p in n.split("-")))


def split_commas(value):
    """Split a header value at commas outside quotes and angle brackets."""
    out, cur, quote, angle, esc = [], [], False, False, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if quote and ch == "\\":
            cur.append(ch)
            esc = True
            continue
        if ch == '"':
            quote = not quote
        elif not quote and ch == "<":
            angle = True
        elif not quote and ch == ">":
            angle = False
        elif ch == "," and not quote and not angle:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return [v for v in out if v != ""]


def parse_params(text):
    """';a=1;b' -> {'a': '1', 'b': None} (ordered, keys lower-cased)."""
    params = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        k, eq, v = part.partition("=")
        params[k.strip().lower()] = v.strip() if eq else None
    return params


def format_params(params):
    return "".join(";%s" % k if v is None else ";%s=%s" % (k, v) for k, v in params.items())


_rand = random.SystemRandom()
_counter = itertools.count(1)


def token(n=10):
    return "".join(_rand.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def new_branch():
    return "z9hG4bK-ua-%s%d" % (token(8), next(_counter))


def new_tag():
    return token(10)


def new_call_id(host="test"):
    """A fresh Call-ID; host=None gives one without "@host" (no address in
    it: the SBC does not mask Call-IDs, so a host there would cross realms)."""
    if host is None:
        return "%s-%d" % (token(16), next(_counter))
    return "%s-%d@%s" % (token(12), next(_counter), host)


# ---------------------------------------------------------------------------
# URIs and header values

class Uri:
    """sip:user:password@host:port;params?headers (IPv6 hosts in brackets)."""

    def __init__(self, text):
        self.text = text.strip()
        m = re.match(r"^(sips?|tel):(.*)$", self.text, re.I)
        if not m:
            raise SipParseError("not a SIP URI: %r" % text)
        self.scheme = m.group(1).lower()
        rest = m.group(2)
        rest, _, self.headers = rest.partition("?")
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            userinfo, hostpart = "", rest
        self.user = userinfo.split(":", 1)[0] if userinfo else None
        self.password = userinfo.split(":", 1)[1] if ":" in userinfo else None
        hostport, _, params = hostpart.partition(";")
        self.params = parse_params(params)
        if hostport.startswith("["):
            end = hostport.find("]")
            self.host = hostport[1:end]
            portpart = hostport[end + 1:]
            self.port = int(portpart[1:]) if portpart.startswith(":") else None
        else:
            host, colon, port = hostport.partition(":")
            self.host = host
            self.port = int(port) if colon and port else None
        if not self.host:
            raise SipParseError("URI without host: %r" % text)

    def hostport(self, default_port=5060):
        return (self.host, self.port or default_port)

    def __str__(self):
        s = self.scheme + ":"
        if self.user is not None:
            s += self.user
            if self.password is not None:
                s += ":" + self.password
            s += "@"
        s += "[%s]" % self.host if ":" in self.host else self.host
        if self.port:
            s += ":%d" % self.port
        s += format_params(self.params)
        if self.headers:
            s += "?" + self.headers
        return s

    def normalized(self):
        """Comparable form: lower-case scheme/host/param names, params sorted."""
        p = ";".join(sorted(k if v is None else "%s=%s" % (k, v.lower())
                            for k, v in self.params.items()))
        return "%s:%s%s:%s%s" % (self.scheme, (self.user + "@") if self.user is not None else "",
                                 self.host.lower(), self.port or "", (";" + p) if p else "")


class NameAddr:
    """'"Display" <uri>;params' or 'uri;params' (From, To, Contact, Route ...)."""

    def __init__(self, text):
        text = text.strip()
        self.display = ""
        m = re.match(r'^\s*((?:"(?:[^"\\]|\\.)*")|[^<"]*?)\s*<([^>]*)>(.*)$', text)
        if m:
            self.display = m.group(1).strip()
            self.uri = Uri(m.group(2))
            self.params = parse_params(m.group(3))
            self.angle = True
        else:
            uri, _, params = text.partition(";")
            self.uri = Uri(uri)
            self.params = parse_params(params)
            self.angle = False

    @property
    def tag(self):
        return self.params.get("tag")

    def __str__(self):
        d = (self.display + " ") if self.display else ""
        return "%s<%s>%s" % (d, self.uri, format_params(self.params))


class Via:
    """SIP/2.0/UDP host:port;branch=...;rport"""

    def __init__(self, text):
        m = re.match(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$", text)
        if not m:
            raise SipParseError("bad Via: %r" % text)
        self.transport = m.group(1).upper()
        hp = m.group(2)
        if hp.startswith("["):
            end = hp.find("]")
            self.host = hp[1:end]
            rest = hp[end + 1:]
            self.port = int(rest[1:]) if rest.startswith(":") else None
        else:
            h, colon, p = hp.partition(":")
            self.host = h
            self.port = int(p) if colon and p else None
        self.params = parse_params(m.group(3))

    @property
    def branch(self):
        return self.params.get("branch")

    def sent_by(self):
        return (self.host, self.port or 5060)

    def __str__(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        hp = host + (":%d" % self.port if self.port else "")
        return "SIP/2.0/%s %s%s" % (self.transport, hp, format_params(self.params))

    def normalized(self):
        """Without the received/rport parameters a server may add (RFC 3581)."""
        p = {k: v for k, v in self.params.items() if k not in ("received", "rport")}
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "SIP/2.0/%s %s:%d%s" % (self.transport, host.lower(), self.port or 5060,
                                       format_params(p))


# ---------------------------------------------------------------------------
# Messages

class SipMessage:
    """One SIP request or response. headers is a list of [name, value]."""

    def __init__(self, start_line, headers=None, body=b""):
        self.start_line = start_line
        self.headers = [list(h) for h in (headers or [])]
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.src = None      # (host, port) it came from (received messages)
        self.dest = None     # (host, port) it was sent to (sent messages)
        self.t = None        # time.monotonic() of receipt / sending
        self.ua = None       # UA that received or sent it
        self.raw = None      # bytes as received
        self.dialog = None   # set by UA.answer() when the response makes one
        self.length_error = None
        parts = start_line.split(" ", 2)
        if start_line.startswith("SIP/"):
            if len(parts) < 2 or not re.match(r"^\d{3}$", parts[1]):
                raise SipParseError("bad status line: %r" % start_line)
            self.version = parts[0]
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
            self.ruri = None
        else:
            if len(parts) != 3 or not parts[2].startswith("SIP/"):
                raise SipParseError("bad request line: %r" % start_line)
            self.method, self.ruri, self.version = parts
            self.status = None
            self.reason = None

    # -- parsing / serializing ------------------------------------------------
    @classmethod
    def parse(cls, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        sep = data.find(b"\r\n\r\n")
        if sep >= 0:
            head, rest = data[:sep], data[sep + 4:]
        else:
            sep = data.find(b"\n\n")
            if sep < 0:
                raise SipParseError("no end of headers")
            head, rest = data[:sep], data[sep + 2:]
        lines = head.decode("utf-8", "surrogateescape").replace("\r\n", "\n").split("\n")
        while lines and lines[0] == "":
            lines.pop(0)  # leading CRLFs (RFC 3261 7.5)
        if not lines:
            raise SipParseError("empty message")
        headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:
                headers[-1][1] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise SipParseError("bad header line: %r" % line)
            headers.append([name.strip(), value.strip()])
        msg = cls(lines[0].strip(), headers)
        cl = msg.get("content-length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                raise SipParseError("bad Content-Length: %r" % cl)
            if n > len(rest):
                msg.length_error = "Content-Length %d exceeds the %d bytes after the headers" % (n, len(rest))
            msg.body = rest[:n]
        else:
            msg.body = rest
        msg.raw = data
        return msg

    def to_bytes(self, fix_length=True):
        if fix_length:
            self.set("Content-Length", str(len(self.body)))
        head = self.start_line + "\r\n" + "".join("%s: %s\r\n" % (n, v) for n, v in self.headers)
        return head.encode("utf-8", "surrogateescape") + b"\r\n" + self.body

    def __bytes__(self):
        return self.to_bytes()

    def __str__(self):
        return self.to_bytes(fix_length=False).decode("utf-8", "backslashreplace")

    def copy(self):
        m = SipMessage(self.start_line, [list(h) for h in self.headers], self.body)
        return m

    # -- header access ---------------------------------------------------------
    def get(self, name, default=None):
        c = canon(name)
        for n, v in self.headers:
            if canon(n) == c:
                return v
        return default

    def get_all(self, name):
        """Every header line of that name, unsplit."""
        c = canon(name)
        return [v for n, v in self.headers if canon(n) == c]

    def values(self, name):
        """Every value of that name, comma-separated lists split."""
        out = []
        for v in self.get_all(name):
            out.extend(split_commas(v) if canon(name) in LIST_HEADERS else [v])
        return out

    def has(self, name):
        return self.get(name) is not None

    def set(self, name, value):
        """Replace the first header of that name (removing the others) or append."""
        c = canon(name)
        for i, (n, _) in enumerate(self.headers):
            if canon(n) == c:
                self.headers[i][1] = value
                self.headers = self.headers[:i + 1] + [h for h in self.headers[i + 1:]
                                                       if canon(h[0]) != c]
                return self
        self.headers.append([pretty(name), value])
        return self

    def add(self, name, value, top=False):
        """Append a header; top=True puts it before the first one of that name
        (or at the very top if there is none)."""
        if top:
            c = canon(name)
            for i, (n, _) in enumerate(self.headers):
                if canon(n) == c:
                    self.headers.insert(i, [name, value])
                    return self
            self.headers.insert(0, [name, value])
        else:
            self.headers.append([name, value])
        return self

    def remove(self, name):
        c = canon(name)
        self.headers = [h for h in self.headers if canon(h[0]) != c]
        return self

    # -- common fields ---------------------------------------------------------
    @property
    def is_request(self):
        return self.method is not None

    @property
    def is_response(self):
        return self.status is not None

    @property
    def call_id(self):
        return self.get("call-id")

    @property
    def cseq(self):
        v = self.get("cseq")
        if not v:
            return (None, None)
        parts = v.split()
        try:
            return (int(parts[0]), parts[1].upper() if len(parts) > 1 else None)
        except ValueError:
            return (None, None)

    @property
    def cseq_method(self):
        return self.cseq[1]

    def _tag(self, name):
        v = self.get(name)
        if v is None:
            return None
        try:
            return NameAddr(v).tag
        except SipParseError:
            m = re.search(r";\s*tag=([^;>\s]+)", v)
            return m.group(1) if m else None

    @property
    def from_tag(self):
        return self._tag("from")

    @property
    def to_tag(self):
        return self._tag("to")

    @property
    def vias(self):
        return [Via(v) for v in self.values("via")]

    @property
    def top_via(self):
        v = self.values("via")
        return Via(v[0]) if v else None

    @property
    def branch(self):
        tv = self.top_via
        return tv.branch if tv else None

    @property
    def contact_uri(self):
        v = self.values("contact")
        if not v or v[0].strip() == "*":
            return None
        return NameAddr(v[0]).uri

    def summary(self):
        if self.is_request:
            first = "%s %s" % (self.method, self.ruri)
        else:
            first = "%d %s" % (self.status, self.reason)
        n, m = self.cseq
        tags = "ftag=%s ttag=%s" % (self.from_tag, self.to_tag)
        return "%s  [CSeq %s %s, %s, branch=%s, Call-ID %s, %d body bytes]" % (
            first, n, m, tags, self.branch, self.call_id, len(self.body))


class BadMessage:
    """A datagram that did not parse as SIP (kept so a test can see it)."""
    is_request = is_response = False
    method = status = call_id = None
    cseq = (None, None)
    cseq_method = None
    from_tag = to_tag = None

    def __init__(self, raw, error):
        self.raw, self.error = raw, error
        self.src = self.t = self.ua = None

    def summary(self):
        return "UNPARSABLE (%s): %r" % (self.error, self.raw[:80])

    def __str__(self):
        return self.raw.decode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------
# Builders

def make_request(method, ruri, *, from_, to, call_id, cseq, via_host, via_port,
                 branch=None, contact=None, route=(), max_forwards=70, headers=(),
                 body=b"", content_type=None, rport=True):
    """A request per RFC 3261 8.1.1. from_/to are full header values (with tag)."""
    via = "SIP/2.0/UDP %s:%d;branch=%s%s" % (via_host, via_port, branch or new_branch(),
                                             ";rport" if rport else "")
    h = [["Via", via]]
    if max_forwards is not None:
        h.append(["Max-Forwards", str(max_forwards)])
    for r in route:
        h.append(["Route", r])
    h += [["From", from_], ["To", to], ["Call-ID", call_id], ["CSeq", "%d %s" % (cseq, method)]]
    if contact:
        h.append(["Contact", contact])
    for name, value in headers:
        h.append([name, value])
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and content_type:
        h.append(["Content-Type", content_type])
    h.append(["Content-Length", str(len(body))])
    return SipMessage("%s %s SIP/2.0" % (method, ruri), h, body)


def make_response(req, status, reason=None, *, to_tag=None, contact=None, headers=(),
                  body=b"", content_type=None, copy_record_route=None):
    """A response per RFC 3261 8.2.6: Via, From, Call-ID, CSeq copied, To with a
    tag (except on 100), Record-Route copied on 101-299 to dialog-creating
    requests (RFC 3261 12.1.1)."""
    h = [["Via", v] for v in req.get_all("via")]
    dialog_creating = req.method in DIALOG_CREATING and req.to_tag is None
    if copy_record_route is None:
        copy_record_route = dialog_creating and 100 < status < 300
    if copy_record_route:
        h += [["Record-Route", v] for v in req.get_all("record-route")]
    to = req.get("to")
    if status != 100 and req.to_tag is None and to_tag:
        to = "%s;tag=%s" % (to, to_tag)
    h += [["From", req.get("from")], ["To", to], ["Call-ID", req.call_id], ["CSeq", req.get("cseq")]]
    if status == 100 and req.has("timestamp"):
        h.append(["Timestamp", req.get("timestamp")])
    if contact:
        h.append(["Contact", contact])
    for name, value in headers:
        h.append([name, value])
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and content_type:
        h.append(["Content-Type", content_type])
    h.append(["Content-Length", str(len(body))])
    return SipMessage("SIP/2.0 %d %s" % (status, reason or REASONS.get(status, "Unknown")), h, body)


def sdp(user="ua", ip="127.0.0.4", port=40000, direction="sendrecv", version=1):
    """An audio offer/answer (bytes, CRLF line ends)."""
    lines = [
        "v=0",
        "o=%s 2890844526 %d IN IP4 %s" % (user, version, ip),
        "s=-",
        "c=IN IP4 %s" % ip,
        "t=0 0",
        "m=audio %d RTP/AVP 0 8 101" % port,
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=%s" % direction,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


ICE_ATTRS = (b"a=candidate", b"a=remote-candidates", b"a=ice-", b"a=end-of-candidates")


def sdp_rewrite_problem(sent, got, ip, ports=None, strip_ice=False):
    """Why `got` is not `sent` as a media-anchoring SBC must rewrite it (None
    when it is): o= and c= name `ip` (c=0.0.0.0 hold stays), every m= port
    that is not 0 is a relay port in ports = (first, last) (even for RTP),
    an a=rtcp port lies in it too; ports=None: an SDP outside offer/answer,
    m= untouched. ICE lines removed when strip_ice (a=candidate always when
    ports is set). Everything else byte for byte, in order."""
    def lines(b):
        return b.split(b"\r\n")
    exp = [ln for ln in lines(sent) if not (ln.startswith(b"a=candidate")
                                           or ln.startswith(b"a=remote-candidates")
                                           or (strip_ice and ln.startswith(ICE_ATTRS)))]
    got_l = lines(got)
    if len(exp) != len(got_l):
        return "%d lines, expected %d" % (len(got_l), len(exp))
    ipb = ip.encode()
    at = b"IP6" if b":" in ipb else b"IP4"
    for e, g in zip(exp, got_l):
        if e.startswith(b"o="):
            ef, gf = e.split(b" "), g.split(b" ")
            if len(gf) != 6 or gf[:4] != ef[:4] or gf[4] != at or gf[5] != ipb:
                return "%r: expected o= of %r with address %s" % (g, e, ip)
        elif e.startswith(b"c="):
            if e.split(b" ")[-1] in (b"0.0.0.0", b"::"):
                if g != e:
                    return "%r: hold address must stay (%r)" % (g, e)
            elif g != b"c=IN " + at + b" " + ipb:
                return "%r: expected c=IN %s %s" % (g, at.decode(), ip)
        elif e.startswith(b"m=") and ports is not None:
            ef, gf = e.split(b" "), g.split(b" ")
            if len(gf) != len(ef) or gf[0] != ef[0] or gf[2:] != ef[2:]:
                return "%r: expected %r with a relay port" % (g, e)
            port = int(gf[1].split(b"/")[0])
            if ef[1] == b"0":
                if port != 0:
                    return "%r: a disabled stream must stay port 0" % g
            elif not (ports[0] <= port <= ports[1]) or port % 2:
                return "%r: port %d is not an even relay port of %d-%d" % (g, port, ports[0], ports[1])
        elif e.startswith(b"a=rtcp:") and ports is not None:
            port = int(g[7:].split(b" ")[0])
            if not (ports[0] <= port <= ports[1]):
                return "%r: RTCP port %d is not a relay port of %d-%d" % (g, port, ports[0], ports[1])
        elif g != e:
            return "%r: expected %r unchanged" % (g, e)
    return None


def sdp_media(body):
    """[(media type, port, connection address)] of an SDP body (the
    media-level c= when there is one, else the session c=)."""
    out, sess_c, cur = [], None, None
    for ln in body.decode("utf-8", "replace").split("\r\n"):
        if ln.startswith("c="):
            addr = ln.split()[-1]
            if cur is None:
                sess_c = addr
            else:
                cur[2] = addr
        elif ln.startswith("m="):
            f = ln[2:].split()
            cur = [f[0], int(f[1].split("/")[0]), sess_c]
            out.append(cur)
    return [tuple(m) for m in out]


# ---------------------------------------------------------------------------
# Message filters (shared by expect, drop_next, counts)

def status_matches(want, status):
    if want is None:
        return True
    if status is None:
        return False
    if isinstance(want, int):
        return status == want
    if isinstance(want, str):          # "1xx", "2xx" ...
        return str(status)[0] == want[0]
    return status in want


def matches(msg, method=None, status=None, cseq_method=None, call_id=None,
            to_tag=None, from_tag=None, match=None):
    if method is not None and getattr(msg, "method", None) != method:
        return False
    if status is not None and not status_matches(status, getattr(msg, "status", None)):
        return False
    if cseq_method is not None and msg.cseq_method != cseq_method:
        return False
    if call_id is not None and msg.call_id != call_id:
        return False
    if to_tag is not None and msg.to_tag != to_tag:
        return False
    if from_tag is not None and msg.from_tag != from_tag:
        return False
    if match is not None and not match(msg):
        return False
    return True


def describe_filter(**kw):
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        if k == "match":
            parts.append("match=%s" % (getattr(v, "__doc__", None) or "<predicate>"))
        else:
            parts.append("%s=%r" % (k, v))
    return ", ".join(parts) or "any message"


def response_address(msg, src):
    """Where a response to request msg goes (RFC 3261 18.2.2 / RFC 3581)."""
    v = msg.top_via
    if "rport" in v.params:
        port = v.params["rport"]
        host = v.params.get("received") or src[0]
        return (host, int(port) if port else src[1])
    return (v.params.get("received") or v.host, v.port or 5060)


# ---------------------------------------------------------------------------
# Transactions and dialogs

class ClientTxn:
    def __init__(self, ua, request, dest):
        self.ua = ua
        self.request = request
        self.dest = dest
        self.method = request.method
        self.branch = request.branch
        self.invite = request.method == "INVITE"
        self.got_response = False
        self.final = None                # first final response
        self.seen = set()                # raw bytes of responses received
        self.seen_2xx = set()            # To tags of 2xx received
        self.acks = {}                   # To tag -> ACK sent for that 2xx
        self.nack = None                 # hop-by-hop ACK for a non-2xx final
        self.reliable_seen = set()       # (to tag, RSeq)
        self.sends = 0
        self.timer = None
        self.started = time.monotonic()
        self.timed_out = False


class ServerTxn:
    def __init__(self, request, src):
        self.request = request
        self.src = src
        self.method = request.method
        self.dest = response_address(request, src)
        self.last_response = None
        self.default_tag = new_tag()
        self.acked = set()               # To tags whose final was ACKed
        self.retrans = {}                # To tag -> timer handle
        self.reliable = {}               # RSeq -> [response, acked, timer]
        self.rseq = 0
        self.absorbed = 0


class Dialog:
    """RFC 3261 12 dialog state, seen from the UA that owns it."""

    def __init__(self, ua, role, call_id, local_tag, remote_tag, local_uri, remote_uri,
                 local_seq, remote_seq, remote_target, route_set, invite=None):
        self.ua = ua
        self.role = role                 # "uac" or "uas"
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri       # From of our requests (without tag)
        self.remote_uri = remote_uri     # To of our requests (without tag)
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set       # list of Route header values
        self.invite = invite             # the INVITE that created it (UAC side: as sent)
        self.state = "early"
        self.last_invite = invite        # latest INVITE sent by us in this dialog

    def __repr__(self):
        return "<Dialog %s %s local=%s remote=%s target=%s routes=%s>" % (
            self.role, self.call_id, self.local_tag, self.remote_tag, self.remote_target,
            self.route_set)

    def next_hop(self):
        """(host, port) in-dialog requests go to (loose routing, RFC 3261 12.2.1.1)."""
        if self.route_set:
            return NameAddr(self.route_set[0]).uri.hostport()
        return Uri(self.remote_target).hostport()

    def build(self, method, body=b"", content_type=None, headers=(), cseq=None,
              contact=None, max_forwards=70):
        if method in ("ACK", "CANCEL"):
            seq = cseq if cseq is not None else self.local_seq
        else:
            if cseq is None:
                self.local_seq += 1
                cseq = self.local_seq
            seq = cseq
        route = list(self.route_set)
        ruri = self.remote_target
        if route and "lr" not in NameAddr(route[0]).uri.params:   # strict router
            ruri = str(NameAddr(route[0]).uri)
            route = route[1:] + ["<%s>" % self.remote_target]
        if contact is None and method in TARGET_REFRESH:
            contact = self.ua.contact
        return make_request(
            method, ruri,
            from_="%s;tag=%s" % (self.local_uri, self.local_tag),
            to="%s;tag=%s" % (self.remote_uri, self.remote_tag) if self.remote_tag else self.remote_uri,
            call_id=self.call_id, cseq=seq, via_host=self.ua.via_host, via_port=self.ua.via_port,
            contact=contact, route=route, headers=headers, body=body,
            content_type=content_type, max_forwards=max_forwards)

    def request(self, method, body=b"", content_type=None, headers=(), **kw):
        """Build and send an in-dialog request (a client transaction)."""
        req = self.build(method, body=body, content_type=content_type, headers=headers, **kw)
        if method == "INVITE":
            self.last_invite = req
        self.ua.send_request(req, self.next_hop())
        return req

    def ack(self, response=None, body=b"", content_type=None):
        """ACK for the 2xx `response` to our (re-)INVITE (default: the last
        INVITE we sent in this dialog): end to end, new branch, same CSeq
        number; remembered so a retransmitted 2xx is re-ACKed."""
        ref = response if response is not None else self.last_invite
        req = self.build("ACK", body=body, content_type=content_type, cseq=ref.cseq[0])
        with self.ua.lock:
            txn = self.ua.client_txns.get((ref.branch, "INVITE"))
            if txn is not None:
                txn.acks[self.remote_tag] = (req, self.next_hop())
        self.ua.send(req, self.next_hop())
        self.state = "confirmed"
        return req

    def prack(self, response, headers=()):
        """PRACK for a reliable provisional response (RFC 3262)."""
        rseq = int(response.get("rseq"))
        n, m = response.cseq
        return self.request("PRACK", headers=[("RAck", "%d %d %s" % (rseq, n, m))] + list(headers))

    def refresh_from_response(self, response):
        """Target refresh (RFC 3261 12.2.1.2): a 2xx to a target refresh
        request updates the remote target."""
        if response.contact_uri is not None:
            self.remote_target = str(response.contact_uri)

    def refresh_from_request(self, request):
        if request.contact_uri is not None and request.method in TARGET_REFRESH:
            self.remote_target = str(request.contact_uri)
        if request.cseq[0] is not None:
            self.remote_seq = request.cseq[0]


def _strip_tag(value):
    na = NameAddr(value)
    na.params.pop("tag", None)
    return str(na)


# ---------------------------------------------------------------------------
# The user agent

class DropRule:
    def __init__(self, direction, count, filters):
        self.direction, self.count, self.filters = direction, count, filters
        self.dropped = []


class UA:
    """A scripted SIP user agent on one UDP socket (see the module doc)."""

    def __init__(self, host, port=0, name=None, user=None, t1=None, t2=None, clock=None,
                 domain=None, call_id_host=False, tap=None):
        """domain: the AOR's host (default: the UA's IP); call_id_host: the
        "@host" of the Call-IDs it makes (default: its IP; None: no "@host");
        tap(ua, direction, data, peer) sees every datagram sent ("out") and
        received ("in", before any parsing or scripted loss)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self.addr = (self.host, self.port)
        self.name = name or "ua-%d" % self.port
        self.user = user or self.name
        self.aor = "sip:%s@%s" % (self.user, domain or self.host)
        self.contact = "<sip:%s@%s:%d>" % (self.user, self.host, self.port)
        # sent-by of the Via it puts on its requests (a NAT'd device says
        # what its private side thinks; responses come back by rport)
        self.via_host, self.via_port = self.host, self.port
        self.call_id_host = self.host if call_id_host is False else call_id_host
        self.tap = tap
        self.t1 = t1 if t1 is not None else T1
        self.t2 = t2 if t2 is not None else T2
        self.t0 = clock if clock is not None else time.monotonic()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.queue = []
        self.history = []                # (t, "in"/"out", peer, msg, note)
        self.client_txns = {}            # (branch, method) -> ClientTxn
        self.server_txns = {}            # (branch, sent-by, method) -> ServerTxn
        self.invite_stxns = {}           # (call-id, cseq number) -> ServerTxn
        self.dialogs = {}                # (call-id, local tag, remote tag) -> Dialog
        self.drops = []
        self.errors = []                 # exceptions in the receive thread
        self._timers = []
        self._tseq = itertools.count()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="ua-" + self.name, daemon=True)
        self._thread.start()

    def __repr__(self):
        return "<UA %s %s:%d>" % (self.name, self.host, self.port)

    def close(self):
        self._stop = True
        self._wake()
        self._thread.join(timeout=2.0)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- timers ----------------------------------------------------------------
    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def schedule(self, delay, fn):
        handle = [False]
        with self.lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._tseq), fn, handle))
        self._wake()
        return handle

    @staticmethod
    def cancel_timer(handle):
        if handle is not None:
            handle[0] = True

    # -- sending ---------------------------------------------------------------
    def _record(self, direction, peer, msg, note=""):
        self.history.append([time.monotonic(), direction, peer, msg, note])

    def send(self, msg, dest, note=""):
        """Send one datagram (SipMessage or raw bytes), unless a drop rule eats it."""
        data = msg if isinstance(msg, (bytes, bytearray)) else msg.to_bytes()
        if not isinstance(msg, (bytes, bytearray)):
            msg.dest, msg.ua, msg.t = dest, self, time.monotonic()
        with self.lock:
            if not isinstance(msg, (bytes, bytearray)):
                for rule in self.drops:
                    if rule.direction == "out" and rule.count > 0 and matches(msg, **rule.filters):
                        rule.count -= 1
                        rule.dropped.append(msg)
                        self._record("out", dest, msg, "DROPPED (scripted loss)")
                        return msg
            self._record("out", dest, msg if not isinstance(msg, (bytes, bytearray))
                         else BadMessage(bytes(msg), "raw bytes"), note)
        if self.tap is not None:
            self.tap(self, "out", bytes(data), dest)
        self.sock.sendto(data, dest)
        return msg

    def send_request(self, req, dest):
        """Send a request as a client transaction (retransmitted per Timer A/E
        until a response; ACK is sent once, without a transaction)."""
        if req.method == "ACK":
            return self.send(req, dest)
        txn = ClientTxn(self, req, dest)
        with self.lock:
            self.client_txns[(req.branch, req.method)] = txn
            self._send_txn(txn, self.t1)
        return req

    def _send_txn(self, txn, interval):
        txn.sends += 1
        self.send(txn.request, txn.dest, "" if txn.sends == 1 else "retransmission #%d" % (txn.sends - 1))

        def fire():
            with self.lock:
                if txn.final is not None or self._stop:
                    return
                if txn.invite and txn.got_response:
                    return
                if time.monotonic() - txn.started >= 64 * self.t1:
                    txn.timed_out = True          # Timer B / F
                    return
                nxt = interval * 2 if txn.invite else min(interval * 2, self.t2)
                if not txn.invite and txn.got_response:
                    nxt = self.t2
                self._send_txn(txn, nxt)
        txn.timer = self.schedule(interval, fire)

    def request(self, method, dest, ruri, *, to=None, from_=None, call_id=None, cseq=1,
                headers=(), body=b"", content_type=None, contact=None, route=(),
                max_forwards=70, branch=None, from_tag=None):
        """Build and send an out-of-dialog request (a client transaction)."""
        if contact is None and method in ("INVITE", "SUBSCRIBE", "REFER", "REGISTER"):
            contact = self.contact
        if method == "REGISTER" and to is None:
            to = "<%s>" % self.aor
        req = make_request(
            method, ruri,
            from_=from_ or "<%s>;tag=%s" % (self.aor, from_tag or new_tag()),
            to=to or "<%s>" % ruri, call_id=call_id or new_call_id(self.call_id_host), cseq=cseq,
            via_host=self.via_host, via_port=self.via_port, branch=branch, contact=contact or None,
            route=route, headers=headers, body=body, content_type=content_type,
            max_forwards=max_forwards)
        return self.send_request(req, dest)

    def invite(self, dest, ruri, body=b"", content_type="application/sdp", **kw):
        return self.request("INVITE", dest, ruri, body=body,
                            content_type=content_type if body else None, **kw)

    def cancel(self, invite):
        """CANCEL for an INVITE we sent (RFC 3261 9.1)."""
        txn = self.client_txns[(invite.branch, "INVITE")]
        h = [["Via", invite.get_all("via")[0]], ["Max-Forwards", "70"]]
        h += [["Route", r] for r in invite.get_all("route")]
        h += [["From", invite.get("from")], ["To", invite.get("to")],
              ["Call-ID", invite.call_id], ["CSeq", "%d CANCEL" % invite.cseq[0]],
              ["Content-Length", "0"]]
        req = SipMessage("CANCEL %s SIP/2.0" % invite.ruri, h)
        return self.send_request(req, txn.dest)

    def _auto_ack(self, txn, resp):
        """Hop-by-hop ACK for a non-2xx final (RFC 3261 17.1.1.3)."""
        inv = txn.request
        h = [["Via", inv.get_all("via")[0]], ["Max-Forwards", "70"]]
        h += [["Route", r] for r in inv.get_all("route")]
        h += [["From", inv.get("from")], ["To", resp.get("to")], ["Call-ID", inv.call_id],
              ["CSeq", "%d ACK" % inv.cseq[0]], ["Content-Length", "0"]]
        return SipMessage("ACK %s SIP/2.0" % inv.ruri, h)

    # -- answering -------------------------------------------------------------
    def answer(self, req, status, reason=None, *, to_tag=None, headers=(), body=b"",
               content_type=None, contact=None, reliable=False):
        """Send a response to a received request (through its server
        transaction). Responses with a To tag to dialog-creating requests make
        or update a UAS dialog, returned as response.dialog. reliable=True
        sends a 1xx per RFC 3262 (Require: 100rel, RSeq) and retransmits it
        until the PRACK."""
        with self.lock:
            txn = self._stxn_for(req)
            if to_tag is None and status != 100:
                to_tag = req.to_tag or txn.default_tag
            if contact is None and req.method in DIALOG_CREATING and 100 < status < 300:
                contact = self.contact
            if contact is None and req.method in ("UPDATE",) and 200 <= status < 300:
                contact = self.contact
            if body and content_type is None:
                content_type = "application/sdp"
            extra = list(headers)
            if reliable:
                txn.rseq = txn.rseq + 1 if txn.rseq else _rand.randint(1, 1000)
                extra = [("Require", "100rel"), ("RSeq", str(txn.rseq))] + extra
            resp = make_response(req, status, reason, to_tag=to_tag, contact=contact,
                                 headers=extra, body=body, content_type=content_type)
            txn.last_response = resp
            self.send(resp, txn.dest)
            tag = resp.to_tag
            if req.method == "INVITE" and status >= 200:
                self._retransmit_final(txn, resp, tag)
            if reliable:
                entry = [resp, False, None]
                txn.reliable[txn.rseq] = entry
                self._retransmit_reliable(txn, entry)
            if req.method in DIALOG_CREATING and req.to_tag is None and 100 < status < 300:
                resp.dialog = self._uas_dialog(req, resp)
            elif req.to_tag is not None:
                d = self.dialogs.get((req.call_id, req.to_tag, req.from_tag))
                if d is not None:
                    d.refresh_from_request(req)
                resp.dialog = d
        return resp

    def _stxn_for(self, req):
        key = (req.branch, req.top_via.sent_by(), req.method)
        txn = self.server_txns.get(key)
        if txn is None:          # a request we built ourselves for a test
            txn = ServerTxn(req, req.src or req.top_via.sent_by())
            self.server_txns[key] = txn
        return txn

    def _retransmit_final(self, txn, resp, tag):
        """2xx (RFC 3261 13.3.1.4) and non-2xx (Timer G) until ACK, 64*T1."""
        start = time.monotonic()

        def fire(interval):
            with self.lock:
                if tag in txn.acked or self._stop:
                    return
                if time.monotonic() - start >= 64 * self.t1:
                    return
                self.send(resp, txn.dest, "retransmission (no ACK yet)")
                nxt = min(interval * 2, self.t2)
                txn.retrans[tag] = self.schedule(nxt, lambda: fire(nxt))
        txn.retrans[tag] = self.schedule(self.t1, lambda: fire(self.t1))

    def _retransmit_reliable(self, txn, entry):
        start = time.monotonic()

        def fire(interval):
            with self.lock:
                if entry[1] or self._stop or time.monotonic() - start >= 64 * self.t1:
                    return
                if txn.last_response is not None and txn.last_response.status >= 200:
                    return
                self.send(entry[0], txn.dest, "retransmission (no PRACK yet)")
                entry[2] = self.schedule(interval * 2, lambda: fire(interval * 2))
        entry[2] = self.schedule(self.t1, lambda: fire(self.t1))

    def _uas_dialog(self, req, resp):
        key = (req.call_id, resp.to_tag, req.from_tag)
        d = self.dialogs.get(key)
        if d is None:
            d = Dialog(self, "uas", req.call_id, resp.to_tag, req.from_tag,
                       local_uri=_strip_tag(req.get("to")), remote_uri=_strip_tag(req.get("from")),
                       local_seq=_rand.randint(100, 999), remote_seq=req.cseq[0],
                       remote_target=str(req.contact_uri) if req.contact_uri else req.ruri,
                       route_set=list(req.values("record-route")), invite=None)
            self.dialogs[key] = d
        if resp.status >= 200:
            d.state = "confirmed"
        return d

    # -- dialogs on the UAC side ----------------------------------------------
    def dialog(self, resp):
        """The UAC dialog a 1xx (with To tag) or 2xx response to our INVITE /
        SUBSCRIBE / REFER creates or updates (route set = Record-Route
        reversed, remote target = Contact)."""
        with self.lock:
            key = (resp.call_id, resp.from_tag, resp.to_tag)
            txn = self.client_txns.get((resp.branch, resp.cseq_method))
            d = self.dialogs.get(key)
            if d is None:
                if resp.to_tag is None:
                    raise AssertionError("%s: response without To tag makes no dialog: %s"
                                         % (self.name, resp.summary()))
                req = txn.request if txn else None
                d = Dialog(self, "uac", resp.call_id, resp.from_tag, resp.to_tag,
                           local_uri=_strip_tag(resp.get("from")),
                           remote_uri=_strip_tag(resp.get("to")),
                           local_seq=resp.cseq[0], remote_seq=None,
                           remote_target=str(resp.contact_uri) if resp.contact_uri else
                           (req.ruri if req else None),
                           route_set=list(reversed(resp.values("record-route"))),
                           invite=req)
                self.dialogs[key] = d
            elif resp.status >= 200 and resp.cseq[0] == (d.invite.cseq[0] if d.invite else None):
                # the 2xx that confirms an early dialog sets its route set
                d.route_set = list(reversed(resp.values("record-route")))
            if resp.contact_uri is not None:
                d.remote_target = str(resp.contact_uri)
            if 200 <= resp.status < 300:
                d.state = "confirmed"
            return d

    def dialog_for(self, req):
        """Our dialog an incoming in-dialog request belongs to (or None)."""
        return self.dialogs.get((req.call_id, req.to_tag, req.from_tag))

    # -- loss scripting ----------------------------------------------------------
    def drop_next(self, count=1, direction="in", **filters):
        """Lose the next `count` datagrams matching the filters (method=,
        status=, cseq_method=, match=...) in that direction."""
        rule = DropRule(direction, count, filters)
        with self.lock:
            self.drops.append(rule)
        return rule

    # -- receiving -------------------------------------------------------------
    def _loop(self):
        while not self._stop:
            with self.lock:
                now = time.monotonic()
                due = []
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers))
                timeout = (self._timers[0][0] - now) if self._timers else 0.5
            for _, _, fn, handle in due:
                if not handle[0]:
                    try:
                        fn()
                    except Exception as e:  # keep the UA alive, report later
                        self.errors.append(repr(e))
            if due:
                continue
            try:
                r, _, _ = select.select([self.sock, self._wake_r], [], [], max(0.0, min(timeout, 0.5)))
            except (OSError, ValueError):
                return
            if self._wake_r in r:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            if self.sock in r:
                for _ in range(64):
                    try:
                        data, src = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        return
                    try:
                        self._on_datagram(data, src)
                    except Exception as e:
                        self.errors.append("%s handling %r: %r" % (self.name, data[:60], e))

    def _on_datagram(self, data, src):
        now = time.monotonic()
        if self.tap is not None:
            self.tap(self, "in", bytes(data), src)
        try:
            msg = SipMessage.parse(data)
            msg.vias  # must parse
            if not msg.values("via"):
                raise SipParseError("no Via")
            # a missing Call-ID or a bad CSeq is kept: a 400 answering such a
            # request copies them (the test looks at it)
        except (SipParseError, ValueError, IndexError) as e:
            if data.strip(b"\r\n") == b"":
                return     # keep-alive
            bad = BadMessage(data, str(e))
            bad.src, bad.t, bad.ua = src, now, self
            with self.lock:
                self._record("in", src, bad, "unparsable")
                self.queue.append(bad)
                self.cond.notify_all()
            return
        msg.src, msg.t, msg.ua, msg.raw = src, now, self, data
        with self.lock:
            for rule in self.drops:
                if rule.direction == "in" and rule.count > 0 and matches(msg, **rule.filters):
                    rule.count -= 1
                    rule.dropped.append(msg)
                    self._record("in", src, msg, "DROPPED (scripted loss)")
                    return
            entry = [now, "in", src, msg, ""]
            self.history.append(entry)      # before the handling, so the ladder is in order
            note = self._on_request(msg, src) if msg.is_request else self._on_response(msg)
            entry[4] = note or ""
            if note is None:
                self.queue.append(msg)
                self.cond.notify_all()

    def _on_request(self, msg, src):
        """None = queue it for the test; a string = absorbed, with that note."""
        if msg.method == "ACK":
            txn = self.invite_stxns.get((msg.call_id, msg.cseq[0]))
            if txn is not None:
                tag = msg.to_tag
                if tag in txn.acked:
                    return "absorbed: ACK retransmission"
                txn.acked.add(tag)
                self.cancel_timer(txn.retrans.get(tag))
            return None
        key = (msg.branch, msg.top_via.sent_by(), msg.method)
        txn = self.server_txns.get(key)
        if txn is not None:
            txn.absorbed += 1
            if txn.last_response is not None:
                self.send(txn.last_response, txn.dest, "answer to a retransmitted request")
                return "absorbed: retransmission, last response re-sent"
            return "absorbed: retransmission (not answered yet)"
        txn = ServerTxn(msg, src)
        self.server_txns[key] = txn
        if msg.method == "INVITE":
            self.invite_stxns[(msg.call_id, msg.cseq[0])] = txn
        if msg.method == "PRACK" and msg.has("rack"):
            try:
                rseq, cseq, _m = msg.get("rack").split()
                itx = self.invite_stxns.get((msg.call_id, int(cseq)))
                if itx is not None and int(rseq) in itx.reliable:
                    entry = itx.reliable[int(rseq)]
                    entry[1] = True
                    self.cancel_timer(entry[2])
            except ValueError:
                pass
        return None

    def _on_response(self, msg):
        txn = self.client_txns.get((msg.branch, msg.cseq_method))
        if txn is None:
            return None                                    # stray: let the test see it
        duplicate = msg.raw in txn.seen
        txn.seen.add(msg.raw)
        txn.got_response = True
        st = msg.status
        if txn.invite:
            if st < 200:
                if duplicate:
                    return "absorbed: provisional retransmission"
                if msg.has("rseq") and "100rel" in [v.lower() for v in msg.values("require")]:
                    k = (msg.to_tag, msg.get("rseq"))
                    if k in txn.reliable_seen:
                        return "absorbed: reliable provisional retransmission"
                    txn.reliable_seen.add(k)
                return None
            if st < 300:
                tag = msg.to_tag
                if txn.final is None:
                    txn.final = msg
                if tag in txn.seen_2xx:
                    ack = txn.acks.get(tag)
                    if ack is not None:
                        self.send(ack[0], ack[1], "re-ACK of a retransmitted 2xx")
                        return "absorbed: 2xx retransmission, re-ACKed"
                    return "absorbed: 2xx retransmission (not ACKed yet)"
                txn.seen_2xx.add(tag)
                return None
            # non-2xx final: ACK hop by hop, again for each retransmission
            first = txn.nack is None
            if first:
                txn.nack = self._auto_ack(txn, msg)
                if txn.final is None:
                    txn.final = msg
            self.send(txn.nack, txn.dest, "auto ACK (non-2xx final)" if first
                      else "auto ACK (final retransmission)")
            return None if first else "absorbed: final retransmission, re-ACKed"
        if st < 200:
            return "absorbed: provisional retransmission" if duplicate else None
        if txn.final is not None:
            return "absorbed: final retransmission"
        txn.final = msg
        return None

    # -- waiting -----------------------------------------------------------------
    def expect(self, method=None, status=None, cseq_method=None, call_id=None, to_tag=None,
               from_tag=None, match=None, timeout=DEFAULT_TIMEOUT, what=None):
        """The first queued message matching the filters (waiting up to
        timeout seconds); others stay queued. Fails with the list of what
        arrived instead."""
        filters = dict(method=method, status=status, cseq_method=cseq_method, call_id=call_id,
                       to_tag=to_tag, from_tag=from_tag, match=match)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for i, m in enumerate(self.queue):
                    if matches(m, **filters):
                        return self.queue.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            queued = "\n".join("      " + m.summary() for m in self.queue) or "      (nothing)"
        raise AssertionError(
            "%s (%s:%d) waited %.1f s for %s\n    queued, not matching:\n%s\n    %s" % (
                self.name, self.host, self.port, timeout, what or describe_filter(**filters),
                queued, self.format_history(last=12)))

    def expect_nothing(self, timeout=0.5, what="anything", **filters):
        """Fail if a message matching the filters is queued within timeout."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for m in self.queue:
                    if matches(m, **filters):
                        raise AssertionError("%s (%s:%d) expected no %s, got:\n    %s\n%s" % (
                            self.name, self.host, self.port, what, m.summary(), m))
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def discard(self, **filters):
        """Drop queued messages matching the filters; returns them."""
        with self.lock:
            gone = [m for m in self.queue if matches(m, **filters)]
            self.queue = [m for m in self.queue if not matches(m, **filters)]
            return gone

    def received(self, note_prefix=None, **filters):
        """Messages received (queued, absorbed, dropped: all of the history)."""
        with self.lock:
            return [m for t, d, p, m, note in self.history
                    if d == "in" and matches(m, **filters)
                    and (note_prefix is None or note.startswith(note_prefix))]

    def sent(self, note_prefix=None, **filters):
        with self.lock:
            return [m for t, d, p, m, note in self.history
                    if d == "out" and matches(m, **filters) and not note.startswith("DROPPED")
                    and (note_prefix is None or note.startswith(note_prefix))]

    def format_history(self, last=None):
        with self.lock:
            h = self.history[-last:] if last else self.history
            lines = ["%s history (%d of %d):" % (self.name, len(h), len(self.history))]
            for t, d, peer, m, note in h:
                arrow = "<-" if d == "in" else "->"
                lines.append("      %7.3f %s %s:%d %s%s" % (t - self.t0, arrow, peer[0], peer[1],
                                                          m.summary(), ("  (%s)" % note) if note else ""))
            return "\n".join(lines)


def ladder(uas, t0, full=False):
    """All traffic of several UAs, time-ordered (a text ladder)."""
    rows = []
    for ua in uas:
        with ua.lock:
            for t, d, peer, m, note in ua.history:
                rows.append((t, ua, d, peer, m, note))
    rows.sort(key=lambda r: r[0])
    out = []
    for t, ua, d, peer, m, note in rows:
        arrow = "<-" if d == "in" else "->"
        out.append("%7.3f %-8s %s %s:%-5d %s%s" % (t - t0, ua.name, arrow, peer[0], peer[1],
                                                  m.summary(), ("  (%s)" % note) if note else ""))
        if full:
            out.extend("                 | " + line for line in str(m).split("\r\n"))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Expected-versus-received comparison

class Match:
    """A header value predicate with a description for the diff."""

    def __init__(self, desc, fn):
        self.desc, self.fn = desc, fn

    def __call__(self, value):
        try:
            return bool(self.fn(value))
        except (SipParseError, ValueError, IndexError, AttributeError):
            return False

    def __repr__(self):
        return "<%s>" % self.desc


def _norm(name, value):
    c = canon(name)
    try:
        if c == "via":
            return Via(value).normalized()
        if c in ("route", "record-route"):
            na = NameAddr(value)
            return "<%s>%s" % (na.uri.normalized(), format_params(na.params))
    except SipParseError:
        pass
    return " ".join(value.split())


class Expected:
    """What a message should look like.

    start_line   exact text (or a Match)
    headers      list of (name, value) in the intended order; value is text
                 (compared after normalization: Via without received/rport,
                 Route/Record-Route URIs with parameters sorted, whitespace
                 collapsed) or a Match
    body         bytes, compared byte for byte (Content-Length is checked
                 against the body received, not compared as a header), or a
                 Match on the received body (SDP rewritten by media anchoring)
    extra_ok     header names (canonical) that may appear in the received
                 message without being expected; True = any
    absent       header names that must not appear
    src          expected source address of the datagram, or None
    """

    def __init__(self, start_line, headers, body=b"", extra_ok=(), absent=(), src=None, title=""):
        self.start_line = start_line
        self.headers = list(headers)
        self.body = body
        self.extra_ok = extra_ok if extra_ok is True else {canon(n) for n in extra_ok}
        self.absent = {canon(n) for n in absent}
        self.src = src
        self.title = title


def _group(pairs):
    order, groups = [], {}
    for n, v in pairs:
        c = canon(n)
        if c not in groups:
            groups[c] = []
            order.append(c)
        vals = split_commas(v) if (c in LIST_HEADERS and not isinstance(v, Match)) else [v]
        groups[c].extend(vals)
    return order, groups


def compare(expected, msg):
    """Problems (list of text lines) and a diff text; no problems = match."""
    problems = []
    if isinstance(msg, BadMessage):
        return ["received an unparsable datagram: %s" % msg.error], str(msg)
    if expected.src is not None and tuple(msg.src) != tuple(expected.src):
        problems.append("source address: expected %s:%d, received from %s:%d"
                        % (expected.src[0], expected.src[1], msg.src[0], msg.src[1]))
    exp_start = expected.start_line
    start_ok = exp_start(msg.start_line) if isinstance(exp_start, Match) else exp_start == msg.start_line
    if not start_ok:
        problems.append("start line: expected %r, received %r" % (exp_start, msg.start_line))
    e_order, e_groups = _group(expected.headers)
    r_order, r_groups = _group(msg.headers)
    e_lines, r_lines = [str(exp_start) if not start_ok else msg.start_line], [msg.start_line]
    names = [n for n in e_order if n != "content-length"]
    names += [n for n in r_order if n not in e_groups and n != "content-length"]
    for c in names:
        ev = e_groups.get(c, [])
        rv = r_groups.get(c, [])
        if c not in e_groups:
            if c in expected.absent or not (expected.extra_ok is True or c in expected.extra_ok):
                problems.append("%s: not expected, received %r" % (pretty(c), rv))
                r_lines += ["%s: %s" % (pretty(c), v) for v in rv]
            else:
                # tolerated extra header: show on both sides
                e_lines += ["%s: %s" % (pretty(c), v) for v in rv]
                r_lines += ["%s: %s" % (pretty(c), v) for v in rv]
            continue
        if c in expected.absent and rv:
            problems.append("%s: must be absent, received %r" % (pretty(c), rv))
        if len(ev) != len(rv):
            problems.append("%s: expected %d value(s), received %d" % (pretty(c), len(ev), len(rv)))
        for i in range(max(len(ev), len(rv))):
            e = ev[i] if i < len(ev) else None
            r = rv[i] if i < len(rv) else None
            if e is not None:
                if r is not None and (e(r) if isinstance(e, Match) else _norm(c, e) == _norm(c, r)):
                    e_lines.append("%s: %s" % (pretty(c), r))
                else:
                    e_lines.append("%s: %s" % (pretty(c), e if not isinstance(e, Match) else repr(e)))
                    if r is not None:
                        problems.append("%s[%d]: expected %s, received %r" % (pretty(c), i, e if isinstance(e, Match) else repr(e), r))
            if r is not None:
                r_lines.append("%s: %s" % (pretty(c), r))
    cl = msg.get("content-length")
    if msg.length_error:
        problems.append(msg.length_error)
    elif cl is not None and cl.strip().isdigit() and int(cl) != len(msg.body):
        problems.append("Content-Length %s but %d body bytes" % (cl, len(msg.body)))
    if isinstance(expected.body, Match):
        # a body the relay rewrites (SDP of anchored media): a predicate
        if not expected.body(msg.body):
            problems.append("body: expected %r" % expected.body)
    elif expected.body is not None and expected.body != msg.body:
        problems.append("body: expected %d bytes, received %d bytes (not byte-identical)"
                        % (len(expected.body), len(msg.body)))
    e_lines.append("")
    r_lines.append("")
    if isinstance(expected.body, Match):
        e_lines += (msg.body.decode("utf-8", "backslashreplace").split("\r\n")
                    if expected.body(msg.body) else [repr(expected.body)])
    elif expected.body:
        e_lines += expected.body.decode("utf-8", "backslashreplace").split("\r\n")
    if msg.body:
        r_lines += msg.body.decode("utf-8", "backslashreplace").split("\r\n")
    diff = "\n".join(difflib.unified_diff(e_lines, r_lines, "expected", "received",
                                         lineterm="", n=1000))
    return problems, diff


def assert_message(expected, msg):
    problems, diff = compare(expected, msg)
    if problems:
        where = ""
        if getattr(msg, "ua", None) is not None and msg.src is not None:
            where = " at %s from %s:%d" % (msg.ua.name, msg.src[0], msg.src[1])
        raise AssertionError("%s%s: %d mismatch(es)\n  - %s\n%s" % (
            expected.title or "message", where, len(problems), "\n  - ".join(problems), diff))
    return msg


# ---------------------------------------------------------------------------
# A Python model of the specified proxy, to validate the suite (--mock).

class RefProxy:
    """Stateful proxy per the call-flow suite's spec: two realms, double
    Record-Route, 100 Trying, CANCEL, hop-by-hop ACK of non-2xx, Timer C,
    failover on 503/timeout, forking-aware 2xx relay, Max-Forwards,
    OPTIONS to itself, 400 on malformed requests. Not for production: the
    reference the suite's expectations are checked against when the real
    daemon is not available."""

    def __init__(self, access, core, hops, t1=T1, t2=T2, timer_c=3.0):
        self.realms = {"access": access, "core": core}
        self.hops = sorted(hops, key=lambda h: h[2])       # (host, port, priority)
        self.t1, self.t2, self.timer_c = t1, t2, timer_c
        self.socks = {}
        for name, addr in self.realms.items():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(addr)
            self.socks[name] = s
        self.lock = threading.RLock()
        self.timers = []
        self.tseq = itertools.count()
        self.stxns = {}      # (branch, sent-by, method) -> dict
        self.ctxns = {}      # our branch -> dict
        self.local_finals = set()
        self.stop_flag = False
        self.log = []
        self.thread = threading.Thread(target=self.loop, name="refproxy", daemon=True)
        self.thread.start()

    def close(self):
        self.stop_flag = True
        self.thread.join(timeout=2)
        for s in self.socks.values():
            s.close()

    def alive(self):
        return self.thread.is_alive()

    def logmsg(self, text):
        self.log.append("%.3f %s" % (time.monotonic(), text))

    def schedule(self, delay, fn):
        h = [False]
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.tseq), fn, h))
        return h

    def loop(self):
        while not self.stop_flag:
            with self.lock:
                now = time.monotonic()
                while self.timers and self.timers[0][0] <= now:
                    _, _, fn, h = heapq.heappop(self.timers)
                    if not h[0]:
                        try:
                            fn()
                        except Exception as e:
                            self.logmsg("timer error %r" % e)
                timeout = min(0.05, (self.timers[0][0] - now) if self.timers else 0.05)
            r, _, _ = select.select(list(self.socks.values()), [], [], max(0, timeout))
            for s in r:
                realm = [n for n, x in self.socks.items() if x is s][0]
                try:
                    data, src = s.recvfrom(65535)
                except OSError:
                    continue
                with self.lock:
                    try:
                        self.on_datagram(realm, data, src)
                    except Exception as e:
                        import traceback
                        self.logmsg("error %r\n%s" % (e, traceback.format_exc()))

    def send(self, realm, msg, dest):
        self.socks[realm].sendto(msg.to_bytes() if isinstance(msg, SipMessage) else msg, dest)

    def other(self, realm):
        return "core" if realm == "access" else "access"

    def me(self, host, port):
        return any((host, port or 5060) == a for a in self.realms.values())

    def reply(self, realm, req, src, status, reason=None):
        resp = make_response(req, status, reason, to_tag=new_tag() if status != 100 else None,
                             headers=[("Server", "refproxy")])
        if req.method == "INVITE" and status >= 300:
            self.local_finals.add((req.branch, req.top_via.sent_by()))   # its ACK ends here
        self.send(realm, resp, response_address(req, src))
        return resp

    def on_datagram(self, realm, data, src):
        if data.strip(b"\r\n") == b"":
            return
        try:
            msg = SipMessage.parse(data)
        except SipParseError:
            return
        msg.src = src
        if msg.is_response:
            return self.on_response(realm, msg, src)
        problem = None
        if msg.call_id is None:
            problem = "Bad Request - Missing Call-ID"
        elif msg.cseq[0] is None or msg.cseq[1] != msg.method:
            problem = "Bad Request - Malformed CSeq"
        elif not msg.values("via"):
            return
        elif msg.length_error:
            problem = "Bad Request - Content-Length exceeds datagram"
        try:
            msg.vias
        except SipParseError:
            return
        if problem:
            if msg.method != "ACK":
                self.reply(realm, msg, src, 400, problem)
            return
        mf = msg.get("max-forwards")
        ruri = Uri(msg.ruri)
        to_me = self.me(ruri.host, ruri.port) and not msg.has("route")
        if msg.method == "OPTIONS" and to_me and ruri.user is None:
            return self.reply(realm, msg, src, 200)
        if mf is not None and int(mf) <= 0:
            if msg.method != "ACK":
                self.reply(realm, msg, src, 483)
            return
        if msg.method == "ACK":
            return self.on_ack(realm, msg, src)
        if msg.method == "CANCEL":
            return self.on_cancel(realm, msg, src)
        key = (msg.branch, msg.top_via.sent_by(), msg.method)
        st = self.stxns.get(key)
        if st is not None:
            if st["last"] is not None:
                self.send(realm, st["last"], st["dest"])
            return
        st = {"req": msg, "realm": realm, "dest": response_address(msg, src), "last": None,
              "branches": [], "final": None, "hop_index": 0, "cancelled": False}
        self.stxns[key] = st
        if msg.method == "INVITE":
            st["last"] = self.reply(realm, msg, src, 100)
        self.route_and_forward(st)

    def route(self, realm, msg):
        """(out realm, [destinations], record-route?, stripped request)"""
        fwd = msg.copy()
        routes = fwd.values("route")
        consumed = 0
        while routes:
            u = NameAddr(routes[0]).uri
            if self.me(u.host, u.port):
                routes.pop(0)
                consumed += 1
            else:
                break
        fwd.remove("route")
        for r in routes:
            fwd.add("Route", r)
        out = self.other(realm)
        if routes:
            return out, [NameAddr(routes[0]).uri.hostport()], fwd
        if consumed or realm == "core":
            return out, [Uri(fwd.ruri).hostport()], fwd
        return out, [(h[0], h[1]) for h in self.hops], fwd

    def route_and_forward(self, st):
        msg, realm = st["req"], st["realm"]
        out, dests, fwd = self.route(realm, msg)
        st["out"], st["dests"], st["fwd"] = out, dests, fwd
        self.forward_to(st, 0)

    def forward_to(self, st, idx):
        msg, realm, out = st["req"], st["realm"], st["out"]
        st["hop_index"] = idx
        fwd = st["fwd"].copy()
        branch = "z9hG4bK-sbc-%s" % token(12)
        oa = self.realms[out]
        fwd.add("Via", "SIP/2.0/UDP %s:%d;branch=%s" % (oa[0], oa[1], branch), top=True)
        mf = fwd.get("max-forwards")
        if mf is None:
            fwd.add("Max-Forwards", "70")
        else:
            fwd.set("Max-Forwards", str(int(mf) - 1))
        if msg.method in DIALOG_CREATING and msg.to_tag is None:
            ia = self.realms[realm]
            fwd.add("Record-Route", "<sip:%s:%d;lr;r2=on>" % ia, top=True)
            fwd.add("Record-Route", "<sip:%s:%d;lr;r2=on>" % oa, top=True)
        ct = {"st": st, "req": fwd, "dest": st["dests"][idx], "branch": branch, "provisional": False,
              "final": None, "invite": msg.method == "INVITE", "start": time.monotonic(),
              "timer_c": None, "cancel_pending": False}
        self.ctxns[branch] = ct
        st["branches"].append(ct)
        self.send(out, fwd, ct["dest"])
        self.arm_retrans(ct, self.t1)
        if ct["invite"]:
            ct["timer_c"] = self.schedule(self.timer_c, lambda: self.timer_c_fired(ct))
            self.schedule(64 * self.t1, lambda: self.client_timeout(ct)           # Timer B
                          if ct["final"] is None and not ct["provisional"] else None)

    def arm_retrans(self, ct, interval):
        """Timer A/E until a final (INVITE: until any response); Timer B/F."""
        def fire():
            if ct["final"] is not None or (ct["invite"] and ct["provisional"]):
                return
            if time.monotonic() - ct["start"] >= 64 * self.t1:
                return self.client_timeout(ct)
            self.send(ct["st"]["out"], ct["req"], ct["dest"])
            nxt = interval * 2 if ct["invite"] else min(interval * 2, self.t2)
            if not ct["invite"] and ct["provisional"]:
                nxt = self.t2
            self.arm_retrans(ct, nxt)
        ct["rt"] = self.schedule(interval, fire)

    def client_timeout(self, ct):
        st = ct["st"]
        ct["final"] = "timeout"
        if st is None:             # our CANCEL went unanswered
            return
        if st["final"] is None and st["hop_index"] + 1 < len(st["dests"]) and not st["cancelled"]:
            return self.forward_to(st, st["hop_index"] + 1)
        if st["final"] is None:
            self.final_upstream(st, self.local_response(st, 408))

    def timer_c_fired(self, ct):
        if ct["final"] is not None:
            return
        if ct["provisional"]:
            self.send_cancel(ct)
            # if the UAS never answers the CANCEL/INVITE, give up with 408
            self.schedule(64 * self.t1, lambda: self.client_timeout(ct) if ct["final"] is None else None)
        # no provisional yet: Timer B (64*T1) decides, as the suite's spec says
        # (RFC 3261 16.8 would allow a 408 now; the tests accept both)

    def local_response(self, st, status):
        return make_response(st["req"], status, to_tag=new_tag(), headers=[("Server", "refproxy")])

    def send_cancel(self, ct):
        if ct.get("cancel_sent"):
            return
        ct["cancel_sent"] = True
        req = ct["req"]
        h = [["Via", req.get_all("via")[0]], ["Max-Forwards", "70"]]
        h += [["Route", r] for r in req.get_all("route")]
        h += [["From", req.get("from")], ["To", req.get("to")], ["Call-ID", req.call_id],
              ["CSeq", "%d CANCEL" % req.cseq[0]], ["Content-Length", "0"]]
        cancel = SipMessage("CANCEL %s SIP/2.0" % req.ruri, h)
        cc = {"st": None, "req": cancel, "dest": ct["dest"], "branch": ct["branch"],
              "provisional": False, "final": None, "invite": False, "start": time.monotonic()}
        self.ctxns[(ct["branch"], "CANCEL")] = cc
        self.send(ct["st"]["out"], cancel, ct["dest"])
        self.arm_retrans(cc, self.t1)

    def on_cancel(self, realm, msg, src):
        key = (msg.branch, msg.top_via.sent_by(), "INVITE")
        st = self.stxns.get(key)
        if st is None:
            return self.reply(realm, msg, src, 481)
        self.reply(realm, msg, src, 200)
        if st["final"] is not None:
            return
        st["cancelled"] = True
        for ct in st["branches"]:
            if ct["final"] is None:
                if ct["provisional"]:
                    self.send_cancel(ct)
                else:
                    ct["cancel_pending"] = True

    def on_ack(self, realm, msg, src):
        if (msg.branch, msg.top_via.sent_by()) in self.local_finals:
            return
        key = (msg.branch, msg.top_via.sent_by(), "INVITE")
        st = self.stxns.get(key)
        if st is not None and st["final"] is not None and st["final"].status >= 300:
            return                         # ACK for our non-2xx: absorbed
        out, dests, fwd = self.route(realm, msg)
        oa = self.realms[out]
        fwd.add("Via", "SIP/2.0/UDP %s:%d;branch=z9hG4bK-sbc-%s" % (oa[0], oa[1], token(12)), top=True)
        mf = fwd.get("max-forwards")
        fwd.set("Max-Forwards", str(int(mf) - 1) if mf is not None else "70")
        self.send(out, fwd, dests[0])

    def on_response(self, realm, msg, src):
        try:
            tv = msg.top_via
        except SipParseError:
            return
        if tv is None:
            return
        key = msg.branch if msg.cseq_method != "CANCEL" else (msg.branch, "CANCEL")
        ct = self.ctxns.get(key)
        if ct is None:
            return                         # stray: dropped
        if msg.cseq_method == "CANCEL":
            ct["final"] = msg
            return
        st = ct["st"]
        fwd = msg.copy()
        vias = fwd.get_all("via")
        # remove our Via (first value of the first line)
        first = split_commas(vias[0])
        fwd.remove("via")
        for v in first[1:] + vias[1:]:
            fwd.add("Via", v)
        # Via must come first: rebuild order
        fwd.headers = [h for h in fwd.headers if canon(h[0]) == "via"] + \
                      [h for h in fwd.headers if canon(h[0]) != "via"]
        s = msg.status
        if s < 200:
            if s == 100:
                ct["provisional"] = True
                return
            ct["provisional"] = True
            if ct.get("timer_c"):
                ct["timer_c"][0] = True
                ct["timer_c"] = self.schedule(self.timer_c, lambda: self.timer_c_fired(ct))
            if ct["cancel_pending"] or st["cancelled"]:
                self.send_cancel(ct)
            if st["final"] is None:
                self.send(st["realm"], fwd, st["dest"])
            return
        if ct.get("timer_c"):
            ct["timer_c"][0] = True
        if s >= 300 and ct["invite"]:
            # ACK hop by hop
            req = ct["req"]
            h = [["Via", req.get_all("via")[0]], ["Max-Forwards", "70"]]
            h += [["Route", r] for r in req.get_all("route")]
            h += [["From", req.get("from")], ["To", msg.get("to")], ["Call-ID", req.call_id],
                  ["CSeq", "%d ACK" % req.cseq[0]], ["Content-Length", "0"]]
            self.send(st["out"], SipMessage("ACK %s SIP/2.0" % req.ruri, h), ct["dest"])
        if s < 300:
            ct["final"] = msg
            if st["final"] is None or st["final"].status < 300:
                st["final"] = msg
                self.send(st["realm"], fwd, st["dest"])
                st["last"] = fwd
            return
        if ct["final"] is not None:
            return                          # retransmitted non-2xx: ACKed above
        ct["final"] = msg
        if st["final"] is not None:
            return
        if s == 503 and not ct["provisional"] and st["hop_index"] + 1 < len(st["dests"]) \
                and not st["cancelled"]:
            return self.forward_to(st, st["hop_index"] + 1)
        st["final"] = msg
        st["last"] = fwd
        self.send(st["realm"], fwd, st["dest"])

    def final_upstream(self, st, resp):
        st["final"] = resp
        st["last"] = resp
        self.send(st["realm"], resp, st["dest"])
