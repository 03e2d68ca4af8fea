"""Fault injection, end to end: what a user sees when the network, the
upstream, the token endpoint, the disk or the client misbehaves.

Upstream faults (reset, silence, stall, oversized head, broken chunked body),
client faults (slowloris, disconnect mid-stream), token endpoint faults
(down, hanging), auth-dir faults (disk full, unreadable, corrupt and empty
token files) and a burst of aborted connections against --serve.

Every test has small timeouts in its config and bounds each wait; every
process it starts is killed in the end (Case.close), every fake server
thread is stopped, and where the promise is "the process exits", the exit
is checked with a bounded wait. The disk-full test mounts a small tmpfs
(root only) and unmounts it in the end; the unreadable auth-dir test runs the
proxy as nobody (root ignores permissions).
"""
import json
import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

TOKEN_PATH = "/v1/oauth/token"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def new_access(tag):
    return "sk-ant-oat01-%s-%s" % (tag, secrets.token_hex(12))


def new_refresh(tag):
    return "sk-ant-ort01-%s-%s" % (tag, secrets.token_hex(12))


def put_token(c, email, expires_in=86400, name=None, **extra):
    """Write claude-EMAIL.json (0600) into c.auth; the dict written."""
    now = time.time()
    d = {"type": "claude", "access_token": new_access("OLD"), "refresh_token": new_refresh("OLD"),
         "email": email, "expired": rfc3339(now + expires_in), "last_refresh": rfc3339(now - 3600),
         "id_token": ""}
    d.update(extra)
    path = os.path.join(c.auth, name or "claude-%s.json" % email)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(d, f)
    return d


def upstream_auth(c):
    return [q.header("authorization") for q in c.up.requests]


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"request-id: req_fault\r\nTransfer-Encoding: chunked\r\n\r\n")
EV_FIRST = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_f","type":"message",'
            b'"role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":3,'
            b'"output_tokens":1}}}\n\n')
EV_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def spawn_tcp(c):
    """The proxy in filter mode on an accepted TCP socket, as inetd runs it;
    the returned Proxy's sock is the client's end."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        cli = socket.create_connection(ls.getsockname(), timeout=5)
        srv, _ = ls.accept()
    finally:
        ls.close()
    errpath = os.path.join(c.dir, "stderr-tcp-%d.txt" % len(c.procs))
    errf = open(errpath, "wb")
    try:
        proc = subprocess.Popen([BIN, "--config", c.cfg], stdin=srv, stdout=srv, stderr=errf,
                                env=c.env(), close_fds=True)
    finally:
        srv.close()
        errf.close()
    p = Proxy(proc, cli, errpath)
    c.procs.append(p)
    return p


def exited_within(p, timeout):
    """Exit code, or None (the process is still running after timeout)."""
    return p.wait(timeout)


def tail_has_end_chunk(data):
    return data.endswith(b"0\r\n\r\n")


def one_response(c, data=None, timeout=30):
    """One request on a pipe: (response, stderr, seconds)."""
    t0 = time.monotonic()
    rc, out, err = c.run_pipe(data or droid_request(), timeout=timeout)
    took = time.monotonic() - t0
    rs = parse_responses(out, ["POST"])
    check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
    return rs[0], err, took


# ------------------------------------------------------------ upstream faults

def test_upstream_reset_mid_stream(ctx):
    """TCP RST after part of an SSE body: the client sees the response end
    (not a hang, not a completed stream) and the process exits."""
    def h(req, conn):
        conn.send(SSE_HEAD + chunk(EV_FIRST))
        conn.stop.wait(0.3)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()      # SO_LINGER 0: RST, no close_notify, no FIN
        return True            # the server loop finds the socket closed
    with Case(ctx["pki"], handler=h, upstream_timeout=20) as c:
        p = c.spawn()
        p.send(droid_request(droid_body(stream=True)))
        check(p.reader.wait_for(EV_FIRST, 5), "first event not relayed: %s" % short(p.reader.buf))
        t0 = time.monotonic()
        check(p.reader.closed_within(5), "client connection still open 5 s after the upstream reset "
              "(upstream-timeout 20); have %s" % short(p.reader.buf))
        check(time.monotonic() - t0 < 5, "slow close")
        check(not tail_has_end_chunk(p.reader.buf),
              "a reset stream was presented to the client as complete (terminating chunk sent)")
        rc = exited_within(p, 3)
        check(rc is not None, "proxy still running after the upstream reset; stderr %s" % short(p.stderr()))


def _silent_504(c):
    r, err, took = one_response(c, timeout=40)
    msg = expect_error(r, 504, "timeout_error")
    check("localhost" in msg, "the 504 message does not name the upstream host: %r" % msg)
    return took, err


def test_upstream_accepts_never_answers_504(ctx):
    """A listener that accepts the TCP connection and never says a word (no
    TLS handshake): 504, within the configured timeouts."""
    bh = BlackHole()
    try:
        with Case(ctx["pki"], upstream=False, connect_timeout=2, upstream_timeout=2) as c:
            c.cfg_values["claude-base-url"] = bh.url
            c.write_config(c.cfg_values)
            took, err = _silent_504(c)
            check(took < 2 + 3, "504 took %.1fs with connect-timeout 2 and upstream-timeout 2 (retrying the "
                  "same silent upstream?); stderr %s" % (took, short(err, 600)))
            check(took > 1.5, "504 after %.1fs, before any timeout could have run out" % took)
    finally:
        bh.close()


def test_upstream_reads_request_never_answers_504(ctx):
    """TCP and TLS complete, the request is read, no answer ever comes: 504
    after upstream-timeout, not sooner and not much later."""
    def h(req, conn):
        conn.stop.wait(40)
        return False
    with Case(ctx["pki"], handler=h, upstream_timeout=2, connect_timeout=2) as c:
        took, err = _silent_504(c)
        check(c.up.requests, "the request never reached the upstream")
        check(took > 1.5, "504 after %.1fs with upstream-timeout 2" % took)
        check(took < 2 + 3, "504 took %.1fs with upstream-timeout 2 (upstream saw %d requests: the silent "
              "upstream was asked again); stderr %s" % (took, len(c.up.requests), short(err, 600)))


def test_upstream_stalls_mid_stream(ctx):
    """Head and a first event, then silence longer than upstream-timeout:
    the client connection is closed and the process exits."""
    def h(req, conn):
        conn.send(SSE_HEAD + chunk(EV_FIRST))
        conn.stop.wait(40)
        return False
    with Case(ctx["pki"], handler=h, upstream_timeout=2) as c:
        p = c.spawn()
        p.send(droid_request(droid_body(stream=True)))
        check(p.reader.wait_for(EV_FIRST, 5), "first event not relayed: %s" % short(p.reader.buf))
        t0 = time.monotonic()
        check(p.reader.closed_within(2 + 4), "client connection still open %.1fs into an upstream stall "
              "with upstream-timeout 2" % (time.monotonic() - t0))
        took = time.monotonic() - t0
        check(took > 1.5, "closed after %.1fs of stall, before upstream-timeout 2" % took)
        check(not tail_has_end_chunk(p.reader.buf), "a stalled stream was presented as complete")
        check(exited_within(p, 3) is not None, "proxy still running after the stall; stderr %s" % short(p.stderr()))


def test_upstream_head_over_64k_502(ctx):
    """A response head larger than 64 KiB: 502, nothing of it relayed."""
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70))

    def h(req, conn):
        try:
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + big +
                      b"Content-Length: 2\r\n\r\n{}")
        except (OSError, ssl.SSLError):
            return False
        return True
    with Case(ctx["pki"], handler=h, upstream_timeout=5) as c:
        r, err, took = one_response(c, timeout=40)
        expect_error(r, 502, "api_error")
        check(b"X-Big-" not in r.raw_head, "part of the oversized head reached the client")
        check(took < 5, "502 took %.1fs" % took)


def test_upstream_broken_answer_not_resent(ctx):
    """The upstream got the request and answered with a head the proxy
    cannot use (over 64 KiB, or cut off): it has done the work, so with one
    account the request must not be sent to it again (a copy is billed)."""
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70))
    answers = {
        "head over 64 KiB": b"HTTP/1.1 200 OK\r\n" + big + b"Content-Length: 2\r\n\r\n{}",
        "head cut off": b"HTTP/1.1 200 OK\r\nContent-Type: appl",
    }
    for what, data in answers.items():
        def h(req, conn, data=data):
            try:
                conn.send(data)
            except (OSError, ssl.SSLError):
                pass
            return False
        with Case(ctx["pki"], handler=h, upstream_timeout=5) as c:
            r, err, took = one_response(c, timeout=40)
            check(r.status == 502, "%s: want 502, got %r" % (what, r))
            n = len(c.up.requests)
            check(n == 1, "%s: one account, and the upstream received the same request %d times"
                  % (what, n))


def test_upstream_invalid_chunked_mid_stream(ctx):
    """A chunked body that turns to garbage while the upstream keeps the
    connection open: the client connection is closed, no hang."""
    def h(req, conn):
        conn.send(SSE_HEAD + chunk(EV_FIRST))
        conn.stop.wait(0.2)
        conn.send(b"zz-not-hex\r\n" + EV_PING + b"\r\n")
        conn.stop.wait(40)
        return False
    with Case(ctx["pki"], handler=h, upstream_timeout=30) as c:
        p = c.spawn()
        p.send(droid_request(droid_body(stream=True)))
        check(p.reader.wait_for(EV_FIRST, 5), "first event not relayed: %s" % short(p.reader.buf))
        check(p.reader.closed_within(4), "client connection still open 4 s after a malformed chunk "
              "(upstream-timeout 30); have %s" % short(p.reader.buf))
        check(not tail_has_end_chunk(p.reader.buf), "a broken stream was presented as complete")
        check(exited_within(p, 3) is not None, "proxy still running; stderr %s" % short(p.stderr()))
        check("chunk" in p.stderr().lower(), "stderr does not say what was wrong: %s" % short(p.stderr()))


# ------------------------------------------------------------ client faults

def test_slowloris_client_dropped(ctx):
    """One byte of a head every 0.3 s: dropped (408) within head-timeout plus
    a margin, exit code 102."""
    head = request("POST", "/v1/messages", [("Host", "127.0.0.1:8317"), ("Content-Type", "application/json"),
                                            ("X-Padding", "p" * 200), ("Content-Length", "2")], None)
    with Case(ctx["pki"], head_timeout=2) as c:
        p = spawn_tcp(c)
        t0 = time.monotonic()
        trickle_to_408(p, (bytes([b]) for b in head), 0.3, "head-timeout", 2, "head")
        rc = exited_within(p, 3)
        check(rc is not None, "proxy still running %.1fs after the slowloris started" % (time.monotonic() - t0))
        check(rc == EX_TIMEOUT, "exit code %r, want %d" % (rc, EX_TIMEOUT))
        check(not c.up.requests, "a half head was forwarded")


class SlowStream:
    """Upstream handler: head, first event, then a ping every `every` s for
    up to `limit` s; records when a send first failed."""

    def __init__(self, every=0.2, limit=20, pause=0.0):
        self.every = every
        self.limit = limit
        self.pause = pause
        self.sent = 0
        self.broken_at = None
        self.why = None
        self.done = threading.Event()

    def __call__(self, req, conn):
        try:
            conn.send(SSE_HEAD + chunk(EV_FIRST))
            if self.pause:
                conn.stop.wait(self.pause)
            end = time.monotonic() + self.limit
            while not conn.stop.is_set() and time.monotonic() < end:
                conn.stop.wait(self.every)
                conn.send(chunk(EV_PING))
                self.sent += 1
            if not conn.stop.is_set():
                conn.send(b"0\r\n\r\n")
        except (OSError, ssl.SSLError) as e:
            self.broken_at = time.monotonic()
            self.why = repr(e)
            self.done.set()
            return False
        self.done.set()
        return True


def test_client_disconnect_mid_stream(ctx):
    """The client closes its socket while the upstream still streams: the
    process exits promptly and the upstream sees its connection end."""
    ss = SlowStream(every=0.2, limit=20)
    with Case(ctx["pki"], handler=ss, upstream_timeout=30) as c:
        p = spawn_tcp(c)
        p.send(droid_request(droid_body(stream=True)))
        check(p.reader.wait_for(EV_FIRST, 5), "first event not relayed: %s" % short(p.reader.buf))
        p.sock.close()
        t0 = time.monotonic()
        rc = exited_within(p, 2.5)
        check(rc is not None, "proxy still running 2.5 s after the client disconnected mid-stream "
              "(upstream still sending every 0.2 s); stderr %s" % short(p.stderr()))
        check(ss.done.wait(3), "the upstream kept streaming 3 s after the client left (%d events sent)" % ss.sent)
        check(ss.broken_at is not None, "the upstream stream ran to its end: the proxy never closed it")
        check(ss.broken_at - t0 < 3, "the upstream saw its connection end %.1fs after the client left"
              % (ss.broken_at - t0))


# ------------------------------------------------------------ token endpoint faults

from test_store import TokenEndpoint as GoodTokenEndpoint  # noqa: E402


def _token_endpoints(pki):
    """Three ways for a token endpoint to be down: (name, url, closer)."""
    closed = "https://localhost:%d%s" % (free_port(), TOKEN_PATH)
    hole = BlackHole()
    holder = {}

    def never(req, conn):
        holder["srv"].stop.wait(15)
        return False

    silent = FakeUpstream(pki, handler=never)
    holder["srv"] = silent
    return [("closed port", closed, None),
            ("TCP that never answers", hole.url + TOKEN_PATH, hole),
            ("TLS that reads and never answers", silent.url + TOKEN_PATH, silent)]


def test_token_endpoint_down_stale_token_still_served(ctx):
    """A stale but unexpired token and a token endpoint that is down or
    hanging: the request is served with the old token, within token-timeout
    plus a margin."""
    eps = _token_endpoints(ctx["pki"])
    try:
        for name, url, _ in eps:
            with Case(ctx["pki"], token=False, claude_token_url=url, token_timeout=2, connect_timeout=2) as c:
                old = put_token(c, "user@example.com", expires_in=600)    # inside the 4 h lead
                r, err, took = one_response(c, timeout=40)
                check(r.status == 200, "%s: want 200 with the old token, got %r; stderr %s" % (name, r, short(err, 600)))
                check(upstream_auth(c) == ["Bearer " + old["access_token"]],
                      "%s: upstream Authorization %r" % (name, upstream_auth(c)))
                check(took < 2 + 4, "%s: answered after %.1fs with token-timeout 2" % (name, took))
                with open(os.path.join(c.auth, "claude-user@example.com.json")) as f:
                    check(json.load(f) == old, "%s: the token file changed after a failed refresh" % name)
    finally:
        for _, _, x in eps:
            if x:
                x.close()


def test_token_endpoint_down_expired_token_clear_error(ctx):
    """An expired token, no other account, and a token endpoint that is down
    or hanging: a 401/502 that says the refresh failed, in bounded time;
    nothing forwarded with the expired token."""
    eps = _token_endpoints(ctx["pki"])
    try:
        for name, url, _ in eps:
            with Case(ctx["pki"], token=False, claude_token_url=url, token_timeout=2, connect_timeout=2) as c:
                put_token(c, "user@example.com", expires_in=-60)
                r, err, took = one_response(c, timeout=40)
                check(r.status in (401, 502, 504), "%s: want 401/502/504, got %r" % (name, r))
                j = r.json()
                msg = (j.get("error") or {}).get("message", "") if isinstance(j, dict) else ""
                check(j.get("type") == "error" and msg, "%s: error shape %s" % (name, short(r.body)))
                low = msg.lower()
                check("refresh" in low or "token endpoint" in low or "localhost" in low,
                      "%s: the message does not say the token could not be refreshed: %r" % (name, msg))
                check(took < 2 + 4, "%s: error after %.1fs with token-timeout 2" % (name, took))
                check(not c.up.requests, "%s: an expired token was sent upstream" % name)
    finally:
        for _, _, x in eps:
            if x:
                x.close()


# ------------------------------------------------------------ auth-dir faults

def _no_tmp_left(c):
    left = [n for n in os.listdir(c.auth) if ".tmp" in n]
    check(not left, "temporary files left in auth-dir: %r" % left)


def _cmd(c, flag):
    r = subprocess.run([BIN, "--config", c.cfg, flag], capture_output=True, timeout=30, env=c.env(),
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_full_disk_no_grant_until_space(ctx):
    """auth-dir on a full 64 KiB tmpfs and a token due for refresh, at a
    token endpoint that lets each refresh token work once: no grant is
    asked (its answer would have nowhere to go and the old refresh token
    would be dead); a token still valid serves with a warning naming the
    disk; an expired one gets a 503 naming auth-dir, the error and the
    fix, not a login; --refresh exits 114 saying so. Once space is freed
    the next request is served after one grant, with no new login."""
    tok = GoodTokenEndpoint(ctx["pki"])
    try:
        with Case(ctx["pki"], token=False, claude_token_url=tok.url, token_timeout=5) as c, \
                Tmpfs(c.auth, "64k") as fs:
            if not fs.mounted:
                rerun_in_userns(os.path.abspath(__file__), "full_disk_no_grant_until_space", fs.why)
                return
            path = os.path.join(c.auth, "claude-user@example.com.json")
            old = put_token(c, "user@example.com", expires_in=600, extra_field="kept")    # due, valid
            fs.fill()
            r, err, _ = one_response(c)
            check(r.status == 200, "a valid token on a full disk: want 200, got %r; stderr %s" % (r, short(err, 600)))
            check(not tok.requests, "a grant was asked with no room to keep its answer")
            check(upstream_auth(c) == ["Bearer " + old["access_token"]], "upstream %r" % upstream_auth(c))
            check(c.auth in err and "No space left on device" in err and "free space" in err,
                  "the warning does not name the disk, the error and the fix: %s" % short(err, 600))
            with open(path) as f:
                check(json.load(f) == old, "the token file changed")
            _no_tmp_left(c)

            fs.free()
            old = put_token(c, "user@example.com", expires_in=-60, extra_field="kept")     # expired
            fs.fill()
            r, err, _ = one_response(c)
            check(r.status == 503, "an expired token on a full disk: want 503, got %r; stderr %s" % (r, short(err, 600)))
            j = r.json()
            msg = j.get("error", {}).get("message", "") if isinstance(j, dict) else ""
            check(j.get("type") == "error" and j["error"].get("type") == "api_error", "not Anthropic's error shape: %s"
                  % short(r.body))
            for want in (c.auth, "No space left on device", "free space", "refresh token is kept"):
                check(want in msg, "the 503 does not say %r: %r" % (want, msg))
            check("log in" not in msg and "login" not in msg, "the 503 asks for a login: %r" % msg)
            check(not tok.requests and len(c.up.requests) == 1, "a grant or an expired token went out")
            rc, out, err = _cmd(c, "--refresh")
            check(rc == 114 and c.auth in out and "No space left on device" in out and "free space" in out,
                  "--refresh on a full disk: exit %s, %s %s" % (rc, short(out), short(err)))
            check(not tok.requests, "--refresh asked a grant with no room")
            rc, out, err = _cmd(c, "--status")
            check("needs-login" not in out, "a full disk marked the account needs-login: %s" % out)
            _no_tmp_left(c)

            fs.free()
            r, err, _ = one_response(c)
            check(r.status == 200, "space back: want 200, got %r; stderr %s" % (r, short(err, 600)))
            check(len(tok.requests) == 1 and tok.once.grants == 1,
                  "want one grant once space is back: %d requests, %d grants" % (len(tok.requests), tok.once.grants))
            at, rt = tok.issued[0]
            check(upstream_auth(c)[-1] == "Bearer " + at, "the refreshed token was not used")
            with open(path) as f:
                d = json.load(f)
            check(d["access_token"] == at and d["refresh_token"] == rt and d.get("extra_field") == "kept",
                  "the token file does not hold the grant: %s" % sorted(d))
            r, err, _ = one_response(c)
            check(r.status == 200 and len(tok.requests) == 1, "second request: %r, %d grants" % (r, len(tok.requests)))
            _no_tmp_left(c)
    finally:
        tok.close()


def test_refresh_killed_mid_grant_leaves_no_pile(ctx):
    """A refresh killed while its grant is out (the room for its answer
    taken, the token endpoint not answering) leaves that room; the next
    refresh of the account takes it over instead of adding one, and a
    refresh that completes leaves none."""
    eps = _token_endpoints(ctx["pki"])
    silent = eps[2][1]
    tok = GoodTokenEndpoint(ctx["pki"])
    try:
        with Case(ctx["pki"], token=False, claude_token_url=silent, token_timeout=30) as c:
            path = os.path.join(c.auth, "claude-user@example.com.json")
            put_token(c, "user@example.com", expires_in=-60)
            for n in (1, 2):
                p = subprocess.Popen([BIN, "--config", c.cfg, "--refresh"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=c.env())
                try:
                    end = time.monotonic() + 10
                    while not os.path.exists(path + ".tmp") and time.monotonic() < end and p.poll() is None:
                        time.sleep(0.02)
                    time.sleep(0.3)     # the grant on its way
                    check(p.poll() is None, "run %d: --refresh ended (exit %s) before the kill" % (n, p.poll()))
                finally:
                    p.kill()
                    p.wait(10)
                left = sorted(x for x in os.listdir(c.auth) if ".tmp" in x)
                check(left == ["claude-user@example.com.json.tmp"],
                      "after %d killed refreshes auth-dir holds %r (want the one room)" % (n, left))
            c.cfg_values["claude-token-url"] = tok.url
            c.cfg_values["token-timeout"] = 5
            c.write_config(c.cfg_values)
            rc, out, err = _cmd(c, "--refresh")
            check(rc == 0 and len(tok.requests) == 1, "refresh after the kills: exit %s, %d grants; %s %s"
                  % (rc, len(tok.requests), short(out), short(err)))
            with open(path) as f:
                check(json.load(f)["access_token"] == tok.issued[0][0], "the token file does not hold the grant")
            _no_tmp_left(c)
    finally:
        tok.close()
        for _, _, x in eps:
            if x:
                x.close()


def test_root_acts_as_the_owner_of_auth_dir(ctx):
    """Root running --refresh, --status, --usage or --doctor on a
    service's auth-dir (owned by another user, as the package's is) takes
    on that user first: every file written there (the refreshed token
    file, state.json, the locks) stays the service's, which could not
    read a root-owned 0600 token file."""
    if os.geteuid() != 0:
        raise Skip("not root")
    tok = GoodTokenEndpoint(ctx["pki"])
    try:
        with Case(ctx["pki"], token=False, claude_token_url=tok.url, token_timeout=5) as c:
            path = os.path.join(c.auth, "claude-user@example.com.json")
            put_token(c, "user@example.com", expires_in=-60)
            c.as_nobody()

            def owners():
                return {n: os.stat(os.path.join(c.auth, n)).st_uid for n in os.listdir(c.auth)}

            rc, out, err = _cmd(c, "--refresh")
            check(rc == 0 and len(tok.requests) == 1, "--refresh as root: exit %s, %d grants; %s %s"
                  % (rc, len(tok.requests), short(out), short(err)))
            check("running as nobody, the owner of auth-dir" in err, "not said: %s" % short(err, 400))
            with open(path) as f:
                check(json.load(f)["access_token"] == tok.issued[0][0], "the token file does not hold the grant")
            for flag in ("--status", "--usage", "--doctor"):
                rc, out, err = _cmd(c, flag)
                check(rc == 0 or (flag == "--doctor" and rc == 116), "%s as root: exit %s %s %s" % (flag, rc, short(out), short(err)))
            check("checking as nobody" in out, "--doctor does not say whose it acts as: %s" % short(out, 600))
            own = owners()
            check("state.json" in own and os.path.basename(path) in own, "files: %s" % sorted(own))
            check(all(u == NOBODY for u in own.values()), "files owned by root in auth-dir: %s"
                  % sorted(n for n, u in own.items() if u != NOBODY))
            # The filter run by root (an inetd entry without user=)
            # serves as nobody too.
            c.user = None
            rc, out, err = c.run_pipe(droid_request())
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1 and rs[0].status == 200, "the filter as root: %r; %s" % (rs, short(err, 400)))
            check(all(u == NOBODY for u in owners().values()), "the filter as root left root's files: %s"
                  % sorted(n for n, u in owners().items() if u != NOBODY))
            # The service (nobody) serves with what root left.
            c.user = NOBODY
            rc, out, err = c.run_pipe(droid_request())
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1 and rs[0].status == 200, "the service after root's commands: %r; %s"
                  % (rs, short(err, 400)))
            check(upstream_auth(c)[-1] == "Bearer " + tok.issued[0][0], "upstream %r" % upstream_auth(c))
    finally:
        tok.close()


def test_auth_dir_unreadable(ctx):
    """auth-dir mode 000 (the proxy runs as nobody, root would not notice):
    a clear error naming the directory and saying it cannot be read."""
    if os.geteuid() != 0:
        raise Skip("not root: the proxy cannot be run as another user")
    with Case(ctx["pki"]) as c:
        c.as_nobody()
        # The same setup readable: served (so the failure below is the mode).
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "as nobody with a readable auth-dir: %r; stderr %s"
              % (rs, short(err, 600)))
        os.chmod(c.auth, 0)
        try:
            t0 = time.monotonic()
            rc, out, err = c.run_pipe(droid_request())
            took = time.monotonic() - t0
        finally:
            os.chmod(c.auth, 0o700)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        r = rs[0]
        check(r.status in (401, 500, 502, 503), "want an error, got %r" % r)
        msg = r.json().get("error", {}).get("message", "")
        check(c.auth in msg, "the error does not name auth-dir %s: %r" % (c.auth, msg))
        said = (msg + " " + err).lower()
        check("permission denied" in said or "cannot read" in said or "unreadable" in said
              or "not readable" in said,
              "neither the error nor stderr says auth-dir cannot be read (it reads as if empty): "
              "message %r; stderr %s" % (msg, short(err, 400)))
        check(len(c.up.requests) == 1, "forwarded without an account")
        check(took < 10, "took %.1fs" % took)


def _bad_file_next_to_good(ctx, content, what):
    with Case(ctx["pki"], token=False) as c:
        good = put_token(c, "good@example.com")
        bad = os.path.join(c.auth, "claude-0bad@example.com.json")   # first in name order
        fd = os.open(bad, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, content)
        os.close(fd)
        errs = []
        for i in range(4):
            r, err, took = one_response(c)
            errs.append(err)
            check(r.status == 200, "%s: request %d: want 200 from the good account, got %r; stderr %s"
                  % (what, i + 1, r, short(err, 600)))
        check(upstream_auth(c) == ["Bearer " + good["access_token"]] * 4,
              "%s: upstream Authorization %r" % (what, upstream_auth(c)))
        check(any(bad in e for e in errs),
              "%s: no stderr of 4 requests names %s; stderr of the first: %s" % (what, bad, short(errs[0], 600)))
        with open(bad, "rb") as f:
            check(f.read() == content, "%s: the bad file was changed" % what)


def test_corrupt_token_file_next_to_good(ctx):
    """Invalid JSON in one token file: stderr names it; the good account
    keeps serving."""
    _bad_file_next_to_good(ctx, b'{"type":"claude","access_token":"sk-ant-oat01-TRUNC', "invalid JSON")


def test_empty_token_file_next_to_good(ctx):
    """A token file truncated to 0 bytes: stderr names it; the good account
    keeps serving."""
    _bad_file_next_to_good(ctx, b"", "0-byte file")


# ------------------------------------------------------------ --serve

def _tcp_sockets(pid):
    """How many TCP sockets pid holds (a connection's child holds its
    client's; the spare waiting for the next connection holds none)."""
    inodes = set()
    for t in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(t) as f:
                inodes.update(ln.split()[9] for ln in list(f)[1:])
        except OSError:
            pass
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                n += 1
    except OSError:
        pass
    return n


def test_serve_survives_aborted_connections(ctx):
    """50 connections opened and closed at once (half of them reset):
    the server keeps serving, and no child is left but the one spare
    (which holds no connection), no zombie."""
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        p = c.spawn_serve()
        end = time.monotonic() + 5
        s = None
        while s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                if time.monotonic() > end or p.proc.poll() is not None:
                    raise TestFailure("server not listening on %d; stderr %s" % (port, short(p.stderr())))
                time.sleep(0.05)
        s.close()
        for i in range(50):
            k = socket.create_connection(("127.0.0.1", port), timeout=2)
            if i % 2:
                k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            k.close()
        check(p.proc.poll() is None, "server exited (%r) after 50 aborted connections; stderr %s"
              % (p.proc.returncode, short(p.stderr())))
        k = socket.create_connection(("127.0.0.1", port), timeout=2)
        try:
            rd = Reader(k)
            k.sendall(request("GET", "/health", [("Host", "x")]))
            r = rd.read_response("GET", timeout=5)
            check(r.status == 200, "health after the burst %r" % r)
            k.sendall(droid_request(drop=["Connection"], add=[("Connection", "close")]))
            r = rd.read_response("POST", timeout=10)
            check(r.status == 200, "proxied request after the burst %r" % r)
        finally:
            k.close()
        end = time.monotonic() + 3
        busy = lambda: [(k, st, _tcp_sockets(k)) for k, st in children(p.proc.pid)]
        kids = busy()
        while (len(kids) != 1 or kids[0][1] == "Z" or kids[0][2]) and time.monotonic() < end:
            time.sleep(0.1)
            kids = busy()
        check(len(kids) == 1 and kids[0][1] != "Z" and kids[0][2] == 0,
              "children of the server 3 s after every connection closed (pid, state, TCP "
              "sockets held): %r; want only the spare, holding none" % kids)
        check(p.proc.poll() is None, "server exited")


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
