"""What one client may hold: --serve's max-connections (503 past it, no
fork), a new connection's first-byte-timeout and its first head due within
head-timeout of the connection's start, a request body due whole within
body-timeout, and the client key checked before any body is read (a GET
to /health or /status with a body is refused unread)."""
import itertools
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

KEY = "client-key-for-limits"


# ------------------------------------------------------------ max-connections

def test_serve_max_connections_answers_503_without_forking(ctx):
    port = free_port()
    with Case(ctx["pki"], port=port, api_keys=[KEY], max_connections=3, first_byte_timeout=60) as c:
        p = c.spawn_serve()
        silent = []
        try:
            for _ in range(3):
                silent.append(connect(port))
            # Three children, each holding a silent connection, and the spare.
            kids = wait_children(p.proc.pid, 4)
            check(len(kids) == 4, "3 connections: %d children, want 3 and the spare" % len(kids))
            for i in range(5):
                s = connect(port)
                try:
                    rd = Reader(s)
                    r = rd.read_response("GET", timeout=3)
                    expect_error(r, 503, "api_error")
                    check(r.header("retry-after") == "1", "Retry-After %r" % r.header("retry-after"))
                    check((r.header("connection") or "").lower() == "close", "no Connection: close: %r" % r)
                    check(rd.closed_within(3), "connection %d past max-connections kept open" % i)
                finally:
                    s.close()
                n = len(children(p.proc.pid))
                check(n <= 4, "connection %d past max-connections: %d children" % (i, n))
            check("max-connections" in p.stderr(), "the limit is not logged: %s" % short(p.stderr()))
            # One ends: the next connection is served again.
            silent.pop().close()
            kids = wait_children(p.proc.pid, 3)
            check(len(kids) == 3, "a connection ended: %d children, want 2 and the spare" % len(kids))
            s = connect(port)
            try:
                s.sendall(request("GET", "/health", [("Host", "127.0.0.1:%d" % port)]))
                r = Reader(s).read_response("GET")
                check(r.status == 200, "below max-connections again: %r" % r)
            finally:
                s.close()
        finally:
            for s in silent:
                s.close()


# ------------------------------------------------------------ first request

def test_silent_connection_closed_after_first_byte_timeout(ctx):
    with Case(ctx["pki"], first_byte_timeout=1) as c:
        p = c.spawn()
        t0 = time.monotonic()
        check(p.reader.closed_within(5), "a silent new connection kept past first-byte-timeout 1 "
              "(idle-timeout 600)")
        took = time.monotonic() - t0
        check(took >= 0.5, "closed after %.2fs, before first-byte-timeout" % took)
        check(p.reader.buf == b"", "answered a connection that sent nothing: %s" % short(p.reader.buf))
        check(p.wait(5) == EX_OK, "exit code %r" % p.proc.returncode)


def test_first_head_due_from_connection_start(ctx):
    """head-timeout counts from the connection's start for its first request,
    so a first byte sent late does not buy a whole head-timeout more."""
    with Case(ctx["pki"], head_timeout=3, first_byte_timeout=10) as c:
        p = c.spawn()
        t0 = time.monotonic()
        time.sleep(2.5)
        p.send(b"GET /health HTTP/1.1\r\nHo")
        r = p.reader.read_response("GET", timeout=6)
        took = time.monotonic() - t0
        check(r.status == 408, "want 408, got %r" % r)
        check(took < 4.5, "408 after %.1fs: the head's deadline ran from its first byte, "
              "not from the connection's start (head-timeout 3)" % took)
        check(p.wait(5) == EX_TIMEOUT, "exit code %r, want %d" % (p.proc.returncode, EX_TIMEOUT))


def test_kept_connection_waits_idle_timeout(ctx):
    with Case(ctx["pki"], first_byte_timeout=1) as c:
        p = c.spawn()
        p.send(request("GET", "/health", [("Host", "x")]))
        check(p.reader.read_response("GET").status == 200, "first request failed")
        time.sleep(2)
        check(p.proc.poll() is None, "a kept connection was closed by first-byte-timeout (exit %r)"
              % p.proc.returncode)
        p.send(request("GET", "/health", [("Host", "x")]))
        check(p.reader.read_response("GET").status == 200, "second request after idling failed")
        p.shutdown_wr()
        check(p.wait(5) == EX_OK, "exit code %r" % p.proc.returncode)


# ------------------------------------------------------------ body deadline

def test_trickled_body_ends_at_body_timeout(ctx):
    """One body byte every 1.5 s never trips head-timeout's stall timer; the
    whole body is due within body-timeout."""
    with Case(ctx["pki"], body_timeout=2) as c:
        p = c.spawn()
        p.send(request("POST", "/v1/messages", [("Host", "x"), ("Content-Type", "application/json"),
                                                ("Content-Length", "40")]))
        r = trickle_to_408(p, itertools.repeat(b" "), 1.5, "body-timeout", 2, "body")
        msg = expect_error(r, 408, "invalid_request_error")
        check("body-timeout" in msg, "408 does not name body-timeout: %r" % msg)
        check(p.wait(5) == EX_TIMEOUT, "exit code %r, want %d" % (p.proc.returncode, EX_TIMEOUT))
        check(not c.up.requests, "a partial body was forwarded")


def test_large_body_within_body_timeout(ctx):
    body = droid_body(messages=[{"role": "user", "content": "x" * (10 * 1024 * 1024)}])
    with Case(ctx["pki"], body_timeout=2) as c:
        p = c.spawn()
        p.send(droid_request(body))
        r = p.reader.read_response("POST", timeout=20)
        check(r.status == 200, "10 MB body with body-timeout 2: %r" % r)
        check(len(c.up.requests) == 1 and len(c.up.requests[0].body) > 10 * 1024 * 1024,
              "upstream did not get the whole body")


# ------------------------------------------------------------ key before body

def test_status_body_never_read_without_key(ctx):
    """The head only, announcing a body that never comes: the key check
    answers at once instead of waiting head-timeout for the body."""
    with Case(ctx["pki"], upstream=False, api_keys=[KEY]) as c:
        p = c.spawn()
        p.send(request("GET", "/status", [("Host", "localhost"), ("Content-Length", "100")]))
        try:
            r = p.reader.read_response("GET", timeout=3)
        except TestFailure as e:
            raise TestFailure("no answer to /status without a key until its body came: %s" % e)
        expect_error(r, 401, "authentication_error")
        check((r.header("connection") or "").lower() == "close", "connection kept with the body unread")
        check(p.reader.closed_within(3), "connection kept open with the body unread")


def test_status_body_with_key_refused(ctx):
    for target, hs in (("/status", [("x-api-key", KEY)]), ("/status.json?key=" + KEY, [])):
        with Case(ctx["pki"], upstream=False, api_keys=[KEY]) as c:
            p = c.spawn()
            p.send(request("GET", target, [("Host", "localhost"), ("Content-Length", "100")] + hs))
            r = p.reader.read_response("GET", timeout=3)
            expect_error(r, 400, "invalid_request_error")
            check(p.reader.closed_within(3), "%s: connection kept open with the body unread" % target)
            check(p.wait(5) == EX_BADREQ, "%s: exit code %r" % (target, p.proc.returncode))


def test_health_with_body_400(ctx):
    with Case(ctx["pki"], upstream=False, api_keys=[KEY]) as c:
        p = c.spawn()
        p.send(request("GET", "/health", [("Host", "x")], body=b"x"))
        r = p.reader.read_response("GET", timeout=3)
        expect_error(r, 400, "invalid_request_error")
        check((r.header("connection") or "").lower() == "close", "connection kept with the body unread")
        check(p.reader.closed_within(3), "connection kept open with the body unread")
        check(p.wait(5) == EX_BADREQ, "exit code %r, want %d" % (p.proc.returncode, EX_BADREQ))
    # Without a body, /health still answers without a key.
    with Case(ctx["pki"], upstream=False, api_keys=[KEY]) as c:
        rc, out, err = c.run_pipe(request("GET", "/health", [("Host", "x"), ("Content-Length", "0")]))
        rs = parse_responses(out, ["GET"])
        check(len(rs) == 1 and rs[0].status == 200, "health without a key: %r; stderr %s" % (rs, short(err)))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
