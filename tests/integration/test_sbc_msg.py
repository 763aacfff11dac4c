#!/usr/bin/env python3
"""sbc-msg: verdicts, JSON output and exit codes.

usage: test_sbc_msg.py BUILD/sbc/sbc-msg SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SBC_MSG = None
ROOT = None


def run(*args, stdin=None):
    p = subprocess.run([SBC_MSG, *args], input=stdin, capture_output=True, timeout=30)
    # strict: every line one JSON object, no NaN, no duplicate keys
    objs = []
    for line in p.stdout.decode("utf-8").splitlines():
        objs.append(json.loads(line, object_pairs_hook=_no_dups))
    return p.returncode, objs, p.stderr.decode("utf-8", "replace")


def _no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise AssertionError("duplicate keys: %r" % keys)
    return dict(pairs)


def sip(start, headers, body=b""):
    head = start + "\r\n" + "".join(h + "\r\n" for h in headers)
    return head.encode("latin-1") + b"Content-Length: %d\r\n\r\n" % len(body) + body


BASIC = [
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1;rport",
    "Max-Forwards: 70",
    'From: "A" <sip:a@example.com>;tag=1',
    "To: <sip:b@example.net>",
    "Call-ID: t1@192.0.2.1",
    "CSeq: 1 OPTIONS",
]


class SbcMsg(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_seed_corpus(self):
        corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", "sip")
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
        rc, objs, _ = run(*files)
        self.assertEqual(len(objs), len(files))
        verdicts = {os.path.basename(o["file"]): o for o in objs}
        # bad_cl.sip is the one seed the SBC must refuse
        bad = verdicts.pop("bad_cl.sip")
        self.assertEqual((bad["verdict"], bad["status"], bad["error"]),
                         ("reject", 400, "CL_MISMATCH"))
        for name, o in verdicts.items():
            self.assertEqual(o["verdict"], "ok", name)
            self.assertIn("headers", o, name)
        self.assertEqual(rc, 1)

    def test_invite_fields(self):
        path = os.path.join(ROOT, "tests", "fuzz", "corpus", "sip", "invite_sdp.sip")
        rc, (o,), _ = run(path)
        self.assertEqual(rc, 0)
        self.assertEqual((o["method"], o["ruri"], o["version"]),
                         ("INVITE", "sip:bob@example.net", "SIP/2.0"))
        self.assertEqual(o["cseq"], {"seq": 1, "method": "INVITE"})
        self.assertEqual(o["from"]["tag"], "9fxced76sl")
        self.assertEqual(o["from"]["display"], "Alice")
        self.assertEqual(o["to"]["uri_parsed"]["host"], "example.net")
        self.assertEqual(o["via"][0]["host"], "192.0.2.10")
        self.assertEqual(o["via"][0]["rport"], True)
        self.assertEqual(o["max_forwards"], 70)
        self.assertEqual(o["content_type"], {"type": "application", "subtype": "sdp"})
        self.assertEqual(o["supported"], ["100rel", "timer", "replaces"])
        self.assertEqual(o["headers"][0], {
            "name": "Via", "value": "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport",
            "id": "Via"})
        self.assertEqual(o["body_length"], o["content_length"])
        sdp = o["sdp"]
        self.assertEqual(sdp["origin"]["addr"], "192.0.2.10")
        self.assertEqual(sdp["media"][0]["port"], 49170)
        self.assertEqual(sdp["media"][0]["formats"], ["0", "8", "101"])
        self.assertEqual(sdp["media"][0]["rtcp"], 49171)

    def test_response_route_lists(self):
        path = os.path.join(ROOT, "tests", "fuzz", "corpus", "sip", "200_invite_sdp.sip")
        rc, (o,), _ = run(path)
        self.assertEqual(rc, 0)
        self.assertEqual((o["status"], o["reason"]), (200, "OK"))
        self.assertEqual(o["record_route"], [
            "sip:203.0.113.1;lr;ftag=9fxced76sl", "sip:10.0.0.1;lr",
            "sip:10.0.0.2:5070;lr;transport=tcp"])
        self.assertEqual(len(o["via"]), 2)
        self.assertEqual(o["via"][1]["rport"], 5062)
        self.assertEqual(o["via"][1]["received"], "198.51.100.7")

    def test_quiet(self):
        rc, (o,), _ = run("-q", os.path.join(ROOT, "tests", "fuzz", "corpus", "sip", "bye.sip"))
        self.assertEqual(rc, 0)
        self.assertEqual(set(o), {"file", "verdict"})

    def test_escaping(self):
        # NUL in a header is itself a verdict; the other bytes must come out
        # as valid JSON: control bytes and invalid UTF-8 as \\u00XX, valid
        # UTF-8 unchanged.
        data = sip("OPTIONS sip:b@example.net SIP/2.0",
                   BASIC + ['Subject: q"b\\s\x01\xff\xc3\xa9'])
        rc, (o,), _ = run(self.write("esc.sip", data))
        self.assertEqual(rc, 0)
        subj = [h for h in o["headers"] if h["name"] == "Subject"][0]["value"]
        self.assertEqual(subj, 'q"b\\s\x01\xff\u00e9')
        rc, (o,), _ = run(self.write("nul.sip", data.replace(b"\x01", b"\x00")))
        self.assertEqual((rc, o["verdict"], o["error"]), (1, "reject", "NUL_BYTE"))

    def test_nul_in_body_is_data(self):
        rc, (o,), _ = run(self.write("b.sip", sip("MESSAGE sip:b@example.net SIP/2.0",
                                                  [h.replace("OPTIONS", "MESSAGE") for h in BASIC]
                                                  + ["Content-Type: application/octet-stream"],
                                                  b"a\x00b\x00")))
        self.assertEqual((rc, o["verdict"], o["body_length"]), (0, "ok", 4))

    def test_too_big(self):
        data = sip("OPTIONS sip:b@example.net SIP/2.0", BASIC, b"x" * 70000)
        rc, (o,), _ = run(self.write("big.sip", data))
        self.assertEqual((rc, o["verdict"], o["status"], o["error"]), (1, "reject", 513, "TOO_BIG"))
        self.assertEqual(o["size"], len(data))

    def test_response_is_dropped_not_answered(self):
        rc, (o,), _ = run("-", stdin=b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n\r\n")
        self.assertEqual((rc, o["file"], o["verdict"]), (1, "-", "drop"))
        # a drop explains itself in "detail"; "status" is the status line's
        self.assertEqual((o["error"], o["status"], o["reason"]), ("MISSING_FROM", 200, "OK"))
        self.assertIn("detail", o)

    def test_garbage_dropped(self):
        rc, (o,), _ = run("-", stdin=b"\x00\x01garbage")
        self.assertEqual((rc, o["verdict"]), (1, "drop"))

    def test_usage_and_io_errors(self):
        rc, objs, err = run()
        self.assertEqual((rc, objs), (2, []))
        self.assertIn("usage", err)
        ok = os.path.join(ROOT, "tests", "fuzz", "corpus", "sip", "ack.sip")
        rc, objs, err = run(os.path.join(self.tmp.name, "missing.sip"), ok)
        self.assertEqual(rc, 2)
        self.assertEqual([o["verdict"] for o in objs], ["ok"])
        self.assertIn("missing.sip", err)


if __name__ == "__main__":
    SBC_MSG, ROOT = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
