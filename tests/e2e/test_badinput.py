"""Bad input from the client: each is answered 4xx with a JSON error, nothing
reaches the upstream, the connection is closed and the process exits 101.
Also the client-side timeouts (head-timeout, idle-timeout)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

BODY = json.dumps(droid_body()).encode()


def head(lines, body=BODY, cl=True, target="/v1/messages", eol=b"\r\n"):
    """A POST head from raw header lines (bytes), plus body."""
    out = b"POST " + target.encode() + b" HTTP/1.1" + eol + b"Host: 127.0.0.1:8317" + eol \
        + b"Content-Type: application/json" + eol
    for ln in lines:
        out += ln + eol
    if cl:
        out += b"Content-Length: %d" % len(body) + eol
    return out + eol + body


def bad(ctx, data, status=400, etype="invalid_request_error", **cfg):
    with Case(ctx["pki"], **cfg) as c:
        p = c.spawn()
        p.send(data)
        r = p.reader.read_response("POST", timeout=5)
        expect_error(r, status, etype, retry_false=(status == 400))
        check(p.reader.closed_within(5), "connection left open after the error")
        rc = p.wait(5)
        check(rc == EX_BADREQ, "exit code %r, want %d; stderr %s" % (rc, EX_BADREQ, short(p.stderr())))
        time.sleep(0.1)
        check(not c.up.requests, "the bad request was forwarded: %r" % c.up.requests)
        return r


def good(ctx, data, **cfg):
    with Case(ctx["pki"], **cfg) as c:
        rc, out, err = c.run_pipe(data)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "want 200, got %r; stderr %s" % (rs, short(err)))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        return c.up.requests[0]


def test_two_host_headers(ctx):
    # RFC 9112 3.2: two parties could each believe a different Host.
    r = bad(ctx, head([b"Host: evil.example"]))
    check("Host" in r.json()["error"]["message"], "message %r" % r.json())


def test_head_over_max_head_bytes(ctx):
    bad(ctx, head([b"X-Pad: " + b"a" * 3000]), max_head_bytes=2048)


def test_head_under_max_head_bytes_ok(ctx):
    good(ctx, head([b"X-Pad: " + b"a" * 1000]), max_head_bytes=2048)


def test_head_over_default_64k(ctx):
    bad(ctx, head([b"X-Pad: " + b"a" * (70 * 1024)]))


def test_too_many_headers(ctx):
    # 101 header lines: Host, Content-Type, Content-Length and 98 more.
    bad(ctx, head([b"X-H-%d: v" % i for i in range(98)]))


def test_exactly_max_headers_ok(ctx):
    u = good(ctx, head([b"X-H-%d: v" % i for i in range(97)]))
    check(u.header("x-h-96") == "v", "header x-h-96 not forwarded")


def test_max_headers_configurable(ctx):
    bad(ctx, head([b"X-H-%d: v" % i for i in range(8)]), max_headers=10)


def test_body_over_max_body_bytes_413(ctx):
    body = json.dumps(droid_body(messages=[{"role": "user", "content": "x" * 3000}])).encode()
    bad(ctx, head([], body), 413, "request_too_large", max_body_bytes=1000)


def test_chunked_body_over_max_body_bytes_413(ctx):
    body = json.dumps(droid_body(messages=[{"role": "user", "content": "x" * 3000}])).encode()
    chunks = b"".join(b"%x\r\n" % len(body[i:i + 500]) + body[i:i + 500] + b"\r\n" for i in range(0, len(body), 500))
    bad(ctx, head([b"Transfer-Encoding: chunked"], chunks + b"0\r\n\r\n", cl=False), 413, "request_too_large",
        max_body_bytes=1000)


def test_content_length_with_transfer_encoding(ctx):
    chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
    bad(ctx, head([b"Content-Length: %d" % len(BODY), b"Transfer-Encoding: chunked"], chunked, cl=False))


def test_two_differing_content_lengths(ctx):
    bad(ctx, head([b"Content-Length: %d" % len(BODY), b"Content-Length: %d" % (len(BODY) - 1)], BODY, cl=False))


def test_bad_content_length_value(ctx):
    bad(ctx, head([b"Content-Length: 12x"], BODY, cl=False))


def test_transfer_encoding_gzip(ctx):
    bad(ctx, head([b"Transfer-Encoding: gzip"], BODY, cl=False))


def test_chunk_size_not_hex(ctx):
    bad(ctx, head([b"Transfer-Encoding: chunked"], b"zz\r\n" + BODY + b"\r\n0\r\n\r\n", cl=False))


def test_chunk_size_overflow(ctx):
    bad(ctx, head([b"Transfer-Encoding: chunked"], b"ffffffffffffffffffff\r\n" + BODY + b"\r\n0\r\n\r\n", cl=False))


def test_obsolete_line_folding(ctx):
    bad(ctx, head([b"X-Folded: first", b" continued"]))


def test_bare_cr_in_head(ctx):
    bad(ctx, head([b"X-A: a\rb"]))


def test_nul_in_head(ctx):
    bad(ctx, head([b"X-A: a\x00b"]))


def test_bare_lf_line_ends(ctx):
    bad(ctx, head([], eol=b"\n"))


def test_malformed_request_line(ctx):
    bad(ctx, b"GARBAGE\r\nHost: x\r\n\r\n")


def test_non_json_body(ctx):
    bad(ctx, head([], b"this is {not json"))


# ------------------------------------------------------------ timeouts

def test_head_timeout_drops_stalled_client(ctx):
    with Case(ctx["pki"], head_timeout=1) as c:
        p = c.spawn()
        t0 = time.monotonic()
        p.send(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Ty")
        check(p.reader.closed_within(6), "stalled client not dropped within 6 s (head-timeout 1)")
        took = time.monotonic() - t0
        rc = p.wait(5)
        check(rc == EX_TIMEOUT, "exit code %r, want %d" % (rc, EX_TIMEOUT))
        check(took >= 0.5, "dropped after %.2fs, before the timeout" % took)
        check(not c.up.requests, "forwarded a partial request")


def test_head_timeout_mid_body(ctx):
    with Case(ctx["pki"], head_timeout=1) as c:
        p = c.spawn()
        p.send(head([], BODY)[:-10])
        check(p.reader.closed_within(6), "client stalled mid-body not dropped within 6 s (head-timeout 1)")
        rc = p.wait(5)
        check(rc == EX_TIMEOUT, "exit code %r, want %d" % (rc, EX_TIMEOUT))
        check(not c.up.requests, "forwarded a partial request")


def test_idle_timeout_closes_keepalive(ctx):
    with Case(ctx["pki"], idle_timeout=1) as c:
        p = c.spawn()
        p.send(droid_request())
        r = p.reader.read_response("POST")
        check(r.status == 200, "status %r" % r)
        t0 = time.monotonic()
        check(p.reader.closed_within(6), "idle keep-alive connection not closed within 6 s (idle-timeout 1)")
        check(time.monotonic() - t0 >= 0.5, "closed right away, not after idling")
        check(p.wait(5) is not None, "process still running after closing the connection")


def test_idle_not_cut_by_head_timeout(ctx):
    with Case(ctx["pki"], head_timeout=1) as c:
        p = c.spawn()
        p.send(droid_request())
        check(p.reader.read_response("POST").status == 200, "first request failed")
        time.sleep(2.5)
        check(p.proc.poll() is None, "an idle keep-alive connection was dropped by head-timeout (exit %r)"
              % p.proc.returncode)
        p.send(droid_request())
        check(p.reader.read_response("POST").status == 200, "second request after idling failed")
        p.shutdown_wr()
        check(p.wait(5) == 0, "exit code %r" % p.proc.returncode)


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
