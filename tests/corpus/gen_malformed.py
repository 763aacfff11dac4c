#!/usr/bin/env python3
"""Writes tests/corpus/malformed/: one hostile or broken message per file and
MANIFEST.tsv with the verdict the parser must give (error name, status; status
0 = silent drop). Re-run after editing; the files are committed so the C test
needs no Python. Usage: tests/corpus/gen_malformed.py"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "malformed")

BASE_HDRS = [
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@example.com>",
    "From: Alice <sip:alice@example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@192.0.2.1>",
]


def req(start="INVITE sip:bob@example.com SIP/2.0", hdrs=None, body=b"", cl=True,
        drop=(), extra=()):
    hs = [h for h in (hdrs if hdrs is not None else BASE_HDRS)
          if not any(h.startswith(d + ":") for d in drop)]
    hs += list(extra)
    if cl:
        hs.append("Content-Length: %d" % len(body))
    msg = (start + "\r\n" + "".join(h + "\r\n" for h in hs) + "\r\n").encode()
    return msg + body


def resp(start="SIP/2.0 200 OK", **kw):
    hs = [h.replace("CSeq: 314159 INVITE", "CSeq: 314159 INVITE") for h in BASE_HDRS]
    return req(start=start, hdrs=hs, **kw)


CASES = [
    # name, bytes, error, status
    ("empty", b"", "DROP_START_LINE", 0),
    ("crlf-only", b"\r\n\r\n", "DROP_START_LINE", 0),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "DROP_START_LINE", 0),
    ("http-request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "DROP_START_LINE", 0),
    ("no-start-line-end", b"INVITE sip:bob@example.com SIP/2.0", "DROP_START_LINE", 0),
    ("method-not-token", req(start="INV@TE sip:bob@example.com SIP/2.0"), "DROP_START_LINE", 0),
    ("request-no-version", req(start="INVITE sip:bob@example.com"), "DROP_START_LINE", 0),
    ("request-trailing-sp", req(start="INVITE "), "BAD_REQUEST_LINE", 400),
    ("request-double-sp", req(start="INVITE  sip:bob@example.com SIP/2.0"), "BAD_REQUEST_LINE", 400),
    ("ruri-nul", req(start="INVITE sip:bob\x00@example.com SIP/2.0"), "BAD_RURI", 400),
    ("ruri-8bit", req(start="INVITE sip:b\xc3\xb6b@example.com SIP/2.0"), "BAD_RURI", 400),
    ("ruri-too-long", req(start="INVITE sip:" + "a" * 5000 + "@example.com SIP/2.0"), "RURI_TOO_LONG", 414),
    ("ruri-bad-port", req(start="INVITE sip:bob@example.com:99999 SIP/2.0"), "BAD_RURI", 400),
    ("ruri-no-scheme", req(start="INVITE bob.example.com SIP/2.0"), "BAD_RURI", 400),
    ("version-3", req(start="INVITE sip:bob@example.com SIP/3.0"), "BAD_VERSION", 505),
    ("response-version-3", resp(start="SIP/3.0 200 OK"), "DROP_RESPONSE", 0),
    ("response-code-99", resp(start="SIP/2.0 099 Odd"), "DROP_RESPONSE", 0),
    ("response-code-700", resp(start="SIP/2.0 700 Odd"), "DROP_RESPONSE", 0),
    ("response-code-4digits", resp(start="SIP/2.0 2000 OK"), "DROP_RESPONSE", 0),
    ("response-code-alpha", resp(start="SIP/2.0 2x0 OK"), "DROP_RESPONSE", 0),
    ("response-reason-ctl", resp(start="SIP/2.0 200 O\x01K"), "DROP_RESPONSE", 0),
    ("response-missing-callid", resp(drop=("Call-ID",)), "MISSING_CALL_ID", 0),
    ("no-blank-line", req()[:-4] + b"\r\n", "NO_HEADER_END", 400),
    ("header-no-colon", req(extra=("Subject this has no colon",)), "BAD_HEADER", 400),
    ("header-empty-name", req(extra=(": value",)), "BAD_HEADER", 400),
    ("header-nul-in-name", req(extra=("Sub\x00ject: x",)), "NUL_BYTE", 400),
    ("header-nul-in-value", req(extra=("Subject: a\x00b",)), "NUL_BYTE", 400),
    ("header-line-too-long", req(extra=("Subject: " + "x" * 9000,)), "LINE_TOO_LONG", 400),
    ("header-folded-too-long", req(extra=("Subject: x" + "\r\n y" * 3000,)), "LINE_TOO_LONG", 400),
    ("too-many-headers", req(extra=tuple("X-H%d: %d" % (i, i) for i in range(130))), "TOO_MANY_HEADERS", 400),
    ("too-many-vias", req(extra=tuple("Via: SIP/2.0/UDP 192.0.2.%d;branch=z9hG4bK%d" % (i % 250 + 1, i) for i in range(80))), "TOO_MANY_VIAS", 400),
    ("cl-exceeds", req(body=b"v=0\r\n")[:-2], "CL_MISMATCH", 400),
    ("cl-negative", req(cl=False, extra=("Content-Length: -1",)), "BAD_CONTENT_LENGTH", 400),
    ("cl-alpha", req(cl=False, extra=("Content-Length: 12a",)), "BAD_CONTENT_LENGTH", 400),
    ("cl-empty", req(cl=False, extra=("Content-Length:",)), "BAD_CONTENT_LENGTH", 400),
    ("cl-overflow", req(cl=False, extra=("Content-Length: 99999999999999999999",)), "CL_MISMATCH", 400),
    ("cl-duplicate", req(cl=False, extra=("Content-Length: 0", "l: 0")), "DUP_CONTENT_LENGTH", 400),
    ("missing-via", req(drop=("Via",)), "MISSING_VIA", 400),
    ("missing-from", req(drop=("From",)), "MISSING_FROM", 400),
    ("missing-to", req(drop=("To",)), "MISSING_TO", 400),
    ("missing-callid", req(drop=("Call-ID",)), "MISSING_CALL_ID", 400),
    ("missing-cseq", req(drop=("CSeq",)), "MISSING_CSEQ", 400),
    ("dup-from", req(extra=("f: <sip:mallory@example.com>;tag=9",)), "DUP_FROM", 400),
    ("dup-to", req(extra=("t: <sip:carol@example.com>",)), "DUP_TO", 400),
    ("dup-callid", req(extra=("i: other@example.com",)), "DUP_CALL_ID", 400),
    ("dup-cseq", req(extra=("CSeq: 2 INVITE",)), "DUP_CSEQ", 400),
    ("dup-max-forwards", req(extra=("Max-Forwards: 69",)), "DUP_MAX_FORWARDS", 400),
    ("dup-content-type", req(extra=("Content-Type: application/sdp", "c: text/plain")), "DUP_CONTENT_TYPE", 400),
    ("cseq-no-method", req(hdrs=[h if not h.startswith("CSeq") else "CSeq: 314159" for h in BASE_HDRS]), "BAD_CSEQ", 400),
    ("cseq-alpha", req(hdrs=[h if not h.startswith("CSeq") else "CSeq: abc INVITE" for h in BASE_HDRS]), "BAD_CSEQ", 400),
    ("cseq-overflow", req(hdrs=[h if not h.startswith("CSeq") else "CSeq: 4294967296 INVITE" for h in BASE_HDRS]), "BAD_CSEQ", 400),
    ("cseq-two-values", req(hdrs=[h if not h.startswith("CSeq") else "CSeq: 1 INVITE, 2 INVITE" for h in BASE_HDRS]), "BAD_CSEQ", 400),
    ("cseq-method-mismatch", req(start="BYE sip:bob@example.com SIP/2.0"), "CSEQ_METHOD", 400),
    ("callid-space", req(hdrs=[h if not h.startswith("Call-ID") else "Call-ID: a b" for h in BASE_HDRS]), "BAD_CALL_ID", 400),
    ("callid-two-at", req(hdrs=[h if not h.startswith("Call-ID") else "Call-ID: a@b@c" for h in BASE_HDRS]), "BAD_CALL_ID", 400),
    ("via-no-transport", req(hdrs=[h if not h.startswith("Via") else "Via: SIP/2.0 192.0.2.1" for h in BASE_HDRS]), "BAD_VIA", 400),
    ("via-bad-port", req(hdrs=[h if not h.startswith("Via") else "Via: SIP/2.0/UDP 192.0.2.1:70000;branch=z9hG4bKx" for h in BASE_HDRS]), "BAD_VIA", 400),
    ("via-empty-element", req(hdrs=[h if not h.startswith("Via") else "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKx,,SIP/2.0/UDP b.example.com" for h in BASE_HDRS]), "BAD_VIA", 400),
    ("via-empty-branch", req(hdrs=[h if not h.startswith("Via") else "Via: SIP/2.0/UDP a.example.com;branch=" for h in BASE_HDRS]), "BAD_VIA", 400),
    ("via-bad-ipv6", req(hdrs=[h if not h.startswith("Via") else "Via: SIP/2.0/UDP [2001:db8::g1];branch=z9hG4bKx" for h in BASE_HDRS]), "BAD_VIA", 400),
    ("from-unterminated-quote", req(hdrs=[h if not h.startswith("From") else 'From: "Alice <sip:alice@example.com>;tag=1' for h in BASE_HDRS]), "BAD_FROM", 400),
    ("from-star", req(hdrs=[h if not h.startswith("From") else "From: *" for h in BASE_HDRS]), "BAD_FROM", 400),
    ("to-missing-gt", req(hdrs=[h if not h.startswith("To") else "To: <sip:bob@example.com" for h in BASE_HDRS]), "BAD_TO", 400),
    ("to-bad-uri", req(hdrs=[h if not h.startswith("To") else "To: <sip:bob@exa mple.com>" for h in BASE_HDRS]), "BAD_TO", 400),
    ("max-forwards-alpha", req(hdrs=[h if not h.startswith("Max-Forwards") else "Max-Forwards: seventy" for h in BASE_HDRS]), "BAD_MAX_FORWARDS", 400),
    ("expires-alpha", req(extra=("Expires: soon",)), "BAD_EXPIRES", 400),
    ("contact-star-and-uri", req(start="REGISTER sip:example.com SIP/2.0",
        hdrs=[h.replace("314159 INVITE", "1 REGISTER") for h in BASE_HDRS], extra=("Contact: *",)), "BAD_CONTACT", 400),
    ("contact-empty-param", req(hdrs=[h if not h.startswith("Contact") else "Contact: <sip:a@192.0.2.1>;;" for h in BASE_HDRS]), "BAD_CONTACT", 400),
    ("ruri-headers", req(start="INVITE sip:bob@example.com?Route=%3Csip:evil%3E SIP/2.0"), "BAD_RURI", 400),
    ("oversize", req(body=b"a" * 70000), "TOO_BIG", 513),
    ("ack-malformed-no-answer", req(start="ACK sip:bob@example.com SIP/2.0", drop=("Call-ID",),
        hdrs=[h.replace("314159 INVITE", "314159 ACK") for h in BASE_HDRS]), "MISSING_CALL_ID", 0),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as man:
        man.write("file\terror\tstatus\n")
        for name, data, err, status in CASES:
            if isinstance(data, str):
                data = data.encode("latin-1")
            fn = name + ".sip"
            with open(os.path.join(OUT, fn), "wb") as fh:
                fh.write(data)
            man.write("%s\t%s\t%d\n" % (fn, err, status))


if __name__ == "__main__":
    main()
