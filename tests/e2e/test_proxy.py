"""End-to-end tests of proxy-url: the upstream (a fake TLS server on
localhost) reached through a fake HTTP CONNECT or SOCKS5 proxy, and the
502s that name the proxy when it refuses."""
import base64
import json
import os
import sys
import secrets
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403
from proxyfakes import FakeConnectProxy, FakeSocks5Proxy  # noqa: E402

SECRET = "pw-s3cret-Zq9"     # must never show in a message or a log


def _through(ctx, px, url, **cfg):
    """One request through proxy px (proxy-url url): the upstream's 200.
    Returns the Case's upstream request and stderr."""
    with Case(ctx["pki"], proxy_url=url, **cfg) as c:
        rc, out, err = c.run_pipe(droid_request(), timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        r = rs[0]
        check(r.status == 200, "want the upstream's 200, got %r; stderr %s" % (r, short(err)))
        check(r.json().get("id") == "msg_fake", "body not the upstream's: %s" % short(r.body))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        check(not c.up.errors, "upstream errors: %s" % c.up.errors)
        # Every connection the upstream saw came through the proxy.
        check(px.tunnels >= 1 and px.tunnels == c.up.conn_count,
              "%d tunnels through the proxy, %d upstream connections" % (px.tunnels, c.up.conn_count))
        check(not px.errors, "proxy errors: %s" % px.errors)
        return c.up.requests[0], c.up.port, err


def _refused(ctx, url, proxy_name, **cfg):
    """One request with proxy-url url that must fail: a 502 whose message
    names the proxy. Returns the message and stderr."""
    with Case(ctx["pki"], proxy_url=url, **cfg) as c:
        t0 = time.monotonic()
        rc, out, err = c.run_pipe(droid_request(), timeout=30)
        took = time.monotonic() - t0
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        msg = expect_error(rs[0], 502, "api_error")
        check(proxy_name in msg, "message does not name the proxy %s: %r" % (proxy_name, msg))
        check("proxy" in msg.lower(), "message does not say it is the proxy: %r" % msg)
        check(SECRET not in msg and SECRET not in err, "password leaked: %r / %s" % (msg, short(err)))
        check(not c.up.requests, "request reached the upstream: %r" % c.up.requests)
        check(took < 15, "took %.1fs" % took)
        return msg, err


def _quote(s):
    return "".join(ch if ch.isalnum() or ch in "-._~" else "%%%02X" % ord(ch) for ch in s)


# ------------------------------------------------------------ HTTP CONNECT

def test_http_connect(ctx):
    with FakeConnectProxy() as px:
        u, port, _ = _through(ctx, px, "http://127.0.0.1:%d" % px.port)
        check(len(px.requests) == 1, "proxy saw %r" % px.requests)
        rq = px.requests[0]
        check(rq.line == "CONNECT localhost:%d HTTP/1.1" % port, "request line %r" % rq.line)
        check(rq.all("host") == ["localhost:%d" % port], "Host %r" % rq.all("host"))
        check(not rq.all("proxy-authorization"), "Proxy-Authorization without credentials: %r" % rq.headers)
        check(u.all("host") == ["localhost:%d" % port], "upstream Host %r" % u.all("host"))


def test_http_connect_basic_auth(ctx):
    user, pw = "me@corp", "p:" + SECRET + "@/"
    with FakeConnectProxy(creds=(user, pw)) as px:
        url = "http://%s:%s@127.0.0.1:%d/" % (_quote(user), _quote(pw), px.port)
        u, port, err = _through(ctx, px, url)
        rq = px.requests[0]
        want = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
        check(rq.all("proxy-authorization") == [want], "Proxy-Authorization %r, want %r" % (
            rq.all("proxy-authorization"), want))
        check(rq.line == "CONNECT localhost:%d HTTP/1.1" % port, "request line %r" % rq.line)
        for k, v in u.headers:   # the proxy credential stays with the proxy
            check(k.lower() != "proxy-authorization" and SECRET not in v, "upstream got %s: %s" % (k, v))
        check(SECRET not in err, "password in stderr: %s" % short(err))


def test_http_connect_scheme_case(ctx):
    with FakeConnectProxy() as px:
        _through(ctx, px, "HTTP://127.0.0.1:%d" % px.port)


def test_http_connect_wrong_credentials_502(ctx):
    with FakeConnectProxy(creds=("u", "right")) as px:
        msg, _ = _refused(ctx, "http://u:%s@127.0.0.1:%d" % (SECRET, px.port), px.name)
        check("407" in msg, "message lacks the proxy's status: %r" % msg)


def test_http_connect_403_502(ctx):
    with FakeConnectProxy(answer="403 Forbidden") as px:
        msg, _ = _refused(ctx, "http://127.0.0.1:%d" % px.port, px.name)
        check("403 Forbidden" in msg, "message lacks the proxy's status line: %r" % msg)
        # request-retry may try again; every try is the same CONNECT.
        check(px.requests and all(rq.line.startswith("CONNECT localhost:") for rq in px.requests),
              "proxy saw %r" % px.requests)


def test_http_proxy_closed_port_502(ctx):
    port = free_port()
    _refused(ctx, "http://127.0.0.1:%d" % port, "127.0.0.1:%d" % port)


def test_http_proxy_silent_bounded(ctx):
    """A proxy that accepts and never answers: 502 or 504 within bounds."""
    bh = BlackHole()
    try:
        with Case(ctx["pki"], proxy_url="http://127.0.0.1:%d" % bh.port,
                  connect_timeout=1, upstream_timeout=1) as c:
            t0 = time.monotonic()
            rc, out, err = c.run_pipe(droid_request(), timeout=30)
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1 and rs[0].status in (502, 504), "response %r; stderr %s" % (rs, short(err)))
            check(time.monotonic() - t0 < 8, "took %.1fs" % (time.monotonic() - t0))
            check(not c.up.requests, "request reached the upstream")
    finally:
        bh.close()


# ------------------------------------------------------------ SOCKS5

def test_socks5h_sends_name(ctx):
    with FakeSocks5Proxy() as px:
        _, port, _ = _through(ctx, px, "socks5h://127.0.0.1:%d" % px.port)
        check(len(px.requests) == 1, "proxy saw %r" % px.requests)
        rq = px.requests[0]
        check(rq.methods is not None and 0 in rq.methods and 2 not in rq.methods,
              "greeting methods %r" % rq.methods)
        check(rq.atyp == 3 and rq.host == "localhost" and rq.port == port,
              "want ATYP 3 localhost:%d, got %r" % (port, rq))


def test_socks5_sends_address(ctx):
    with FakeSocks5Proxy() as px:
        _, port, _ = _through(ctx, px, "socks5://127.0.0.1:%d" % px.port)
        check(px.requests, "proxy saw nothing")
        for rq in px.requests:
            check(rq.atyp in (1, 4) and rq.host in ("127.0.0.1", "::1") and rq.port == port,
                  "want an address for localhost:%d, got %r" % (port, rq))
        # localhost may resolve to ::1 first; the fake upstream listens on
        # 127.0.0.1 only, so the attempt that worked was IPv4.
        ok = [rq for rq in px.requests if rq.reply == 0]
        check(len(ok) == 1 and ok[0].atyp == 1 and ok[0].host == "127.0.0.1", "requests %r" % px.requests)


def test_socks5_user_pass(ctx):
    user, pw = "bob", "x@" + SECRET
    with FakeSocks5Proxy(creds=(user, pw)) as px:
        url = "socks5h://%s:%s@127.0.0.1:%d" % (user, _quote(pw), px.port)
        _, port, err = _through(ctx, px, url)
        rq = px.requests[0]
        check(rq.methods is not None and 2 in rq.methods, "greeting methods %r" % rq.methods)
        check((rq.user, rq.password) == (user, pw), "credentials %r" % ((rq.user, rq.password),))
        check(rq.atyp == 3 and rq.host == "localhost" and rq.port == port, "request %r" % rq)
        check(SECRET not in err, "password in stderr: %s" % short(err))


def test_socks5_wrong_password_502(ctx):
    with FakeSocks5Proxy(creds=("bob", "right")) as px:
        _refused(ctx, "socks5://bob:%s@127.0.0.1:%d" % (SECRET, px.port), px.name)
        check(px.requests and px.requests[0].password == SECRET, "proxy saw %r" % px.requests)
        check(all(rq.atyp is None for rq in px.requests), "a CONNECT was sent after failed auth: %r" % px.requests)


def test_socks5_credentials_missing_502(ctx):
    with FakeSocks5Proxy(creds=("bob", "right")) as px:
        _refused(ctx, "socks5h://127.0.0.1:%d" % px.port, px.name)


def test_socks5_target_refused_502(ctx):
    """The proxy cannot reach the upstream: its refusal names the proxy."""
    with FakeSocks5Proxy() as px:
        with Case(ctx["pki"], upstream=False, proxy_url="socks5h://127.0.0.1:%d" % px.port) as c:
            rc, out, err = c.run_pipe(droid_request(), timeout=30)
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1, "want one response, stdout %s, stderr %s" % (short(out), short(err)))
            msg = expect_error(rs[0], 502, "api_error")
            check(px.name in msg, "message does not name the proxy %s: %r" % (px.name, msg))
            check("refused" in msg, "message lacks the SOCKS5 reply: %r" % msg)
            check(px.requests and px.requests[0].reply == 5, "proxy saw %r" % px.requests)


def test_socks5_proxy_closed_port_502(ctx):
    port = free_port()
    _refused(ctx, "socks5h://127.0.0.1:%d" % port, "127.0.0.1:%d" % port)


# ------------------------------------------------------------ config

def test_empty_proxy_url_is_direct(ctx):
    with Case(ctx["pki"], proxy_url="") as c:
        rc, out, err = c.run_pipe(droid_request(), timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "responses %r; stderr %s" % (rs, short(err)))


def _bad_config(ctx, url, want):
    with Case(ctx["pki"], upstream=False, proxy_url=url) as c:
        rc, out, err = c.run_pipe(droid_request(), timeout=10)
        check(rc == EX_CONFIG, "exit %r, want %d; stderr %s" % (rc, EX_CONFIG, short(err)))
        check("proxy-url" in err and want in err, "stderr lacks proxy-url / %r: %s" % (want, short(err)))
        check(SECRET not in err and SECRET not in out.decode("latin-1"), "password leaked: %s" % short(err))


def test_https_proxy_refused_in_config(ctx):
    _bad_config(ctx, "https://u:%s@127.0.0.1:3128" % SECRET, "https")


def test_bad_proxy_port_in_config(ctx):
    _bad_config(ctx, "socks5://u:%s@127.0.0.1:70000" % SECRET, "port")


# ------------------------------------------------------------ token endpoint

def test_token_refresh_through_proxy(ctx):
    """An expired access token is refreshed at claude-token-url, and that
    connection goes through the proxy too."""
    new = "sk-ant-oat01-REFRESHED-" + secrets.token_hex(8)
    once = OneUse()

    def h(req, conn):
        if "token" in req.target:
            status, obj, _ = once.answer(req.body, req.header("content-type"), lambda: (
                "200 OK", {"access_token": new, "refresh_token": "sk-ant-ort01-NEW-" + secrets.token_hex(8),
                           "expires_in": 28800, "token_type": "Bearer",
                           "account": {"email_address": "user@example.com"}}, b""))
            conn.send(json_response(obj, status=status))
            return True
        return default_handler(req, conn)

    with FakeConnectProxy() as px, Case(ctx["pki"], handler=h, token=False) as c:
        now = time.time()
        tok = token_json("user@example.com", "sk-ant-oat01-EXPIRED-" + secrets.token_hex(8))
        tok["expired"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
        tok["last_refresh"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 40000))
        path = os.path.join(c.auth, "claude-user@example.com.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(tok, f)
        c.cfg_values["proxy-url"] = "http://127.0.0.1:%d" % px.port
        c.cfg_values["claude-token-url"] = c.up.url + "/v1/oauth/token"
        c.write_config(c.cfg_values)
        rc, out, err = c.run_pipe(droid_request(), timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "responses %r; stderr %s" % (rs, short(err)))
        targets = [q.target for q in c.up.requests]
        check(any("token" in t for t in targets), "no token request reached the endpoint: %r" % targets)
        msgs = [q for q in c.up.requests if "token" not in q.target]
        check(msgs and msgs[-1].header("authorization") == "Bearer " + new,
              "upstream Authorization %r" % [q.header("authorization") for q in msgs])
        check(px.tunnels == c.up.conn_count, "%d tunnels, %d upstream connections: one bypassed the proxy" % (
            px.tunnels, c.up.conn_count))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
