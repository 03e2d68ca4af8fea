"""End-to-end tests of filter mode: requests on stdin/stdout (a pipe, a file or
a socketpair), a fake TLS upstream seeing what the proxy sends."""
import copy
import json
import subprocess
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403


def pipe_one(c, data, method="POST", rc_want=0):
    rc, out, err = c.run_pipe(data)
    rs = parse_responses(out, [method])
    check(len(rs) == 1, "want 1 response on stdout, got %d: %s | stderr: %s" % (len(rs), short(out), short(err)))
    check(rc == rc_want, "exit code %s, want %s; stderr: %s" % (rc, rc_want, short(err)))
    return rs[0], err


def proxied(ctx, body=None, target="/v1/messages", drop=(), add=(), raw=None, **cfg):
    """Pipe one request through; the response must be the fake's 200.
    Returns (upstream request, response, sent body bytes)."""
    with Case(ctx["pki"], **cfg) as c:
        data = raw if raw is not None else droid_request(body, target, drop, add)
        r, err = pipe_one(c, data)
        check(r.status == 200, "want 200 from upstream, got %r; stderr: %s" % (r, short(err)))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        check(not c.up.errors, "upstream errors: %s" % c.up.errors)
        return c.up.requests[0], r, c.token


def expected_body(body):
    b = copy.deepcopy(body)
    line = {"type": "text", "text": CC_LINE}
    s = b.get("system")
    if s is None:
        b["system"] = [line]
    elif isinstance(s, str):
        if not s.startswith(CC_LINE):
            b["system"] = [line, {"type": "text", "text": s}]
    elif not (s and s[0].get("type") == "text" and s[0].get("text") == CC_LINE):
        b["system"] = [line] + s
    return b


# ------------------------------------------------------------ piped input

def test_piped_request_prints_whole_response(ctx):
    with Case(ctx["pki"]) as c:
        body = json.dumps(droid_body()).encode()
        data = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)) + body
        rc, out, err = c.run_pipe(data)
        check(rc == 0, "exit %s; stderr %s" % (rc, short(err)))
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s" % short(out))
        r = rs[0]
        check(r.status == 200, "status %r" % r)
        j = r.json()
        check(j.get("id") == "msg_fake" and j.get("target") == "/v1/messages", "body not the upstream's: %s" % short(r.body))
        check(r.header("request-id") == "req_fake_1", "upstream header request-id lost: %r" % r.headers)
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        u = c.up.requests[0]
        check(u.method == "POST" and u.target == "/v1/messages", "upstream request line %s %s" % (u.method, u.target))
        check(u.header("authorization") == "Bearer " + c.token, "upstream Authorization %r" % u.header("authorization"))
        check(u.json() == expected_body(droid_body()), "upstream body %s" % short(u.body, 600))


def test_request_from_regular_file(ctx):
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(droid_request(), stdin_file=True)
        check(rc == 0, "exit %s; stderr %s" % (rc, short(err)))
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "responses %r" % rs)
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))


def test_piped_two_requests(ctx):
    with Case(ctx["pki"]) as c:
        b2 = droid_body(model="claude-opus-4-8")
        rc, out, err = c.run_pipe(droid_request() + droid_request(b2))
        check(rc == 0, "exit %s; stderr %s" % (rc, short(err)))
        rs = parse_responses(out, ["POST", "POST"])
        check([r.status for r in rs] == [200, 200], "responses %r" % rs)
        check(len(c.up.requests) == 2, "upstream saw %d requests" % len(c.up.requests))
        check(c.up.requests[1].json() == expected_body(b2), "second body not rewritten: %s" % short(c.up.requests[1].body))


# ------------------------------------------------------------ upstream head

def test_upstream_no_client_credentials(ctx):
    u, _, tok = proxied(ctx, add=[("Authorization", "Bearer dummy-client-bearer")])
    check(not u.all("x-api-key"), "client x-api-key forwarded: %r" % u.all("x-api-key"))
    check(u.all("authorization") == ["Bearer " + tok], "upstream Authorization %r" % u.all("authorization"))
    for k, v in u.headers:
        check("dummy-not-used" not in v and "dummy-client-bearer" not in v, "client credential forwarded in %s" % k)


def test_upstream_beta_merged(ctx):
    u, _, _ = proxied(ctx)
    b = beta_list(u)
    check(sorted(b) == sorted(["interleaved-thinking-2025-05-14", OAUTH_BETA]), "anthropic-beta %r" % u.all("anthropic-beta"))
    check(len(u.all("anthropic-beta")) == 1, "want one comma-separated anthropic-beta, got %r" % u.all("anthropic-beta"))


def test_upstream_beta_no_duplicates(ctx):
    vals = "interleaved-thinking-2025-05-14,oauth-2025-04-20, fine-grained-tool-streaming-2025-05-14"
    u, _, _ = proxied(ctx, drop=["anthropic-beta"], add=[("anthropic-beta", vals)])
    b = beta_list(u)
    want = ["interleaved-thinking-2025-05-14", OAUTH_BETA, "fine-grained-tool-streaming-2025-05-14"]
    check(sorted(b) == sorted(want), "anthropic-beta %r" % u.all("anthropic-beta"))


def test_upstream_beta_two_client_lines(ctx):
    u, _, _ = proxied(ctx, drop=["anthropic-beta"], add=[("anthropic-beta", "a-2025-01-01, oauth-2025-04-20"),
                                                         ("anthropic-beta", "b-2025-02-02,a-2025-01-01")])
    b = beta_list(u)
    check(sorted(set(b)) == sorted(["a-2025-01-01", "b-2025-02-02", OAUTH_BETA]), "anthropic-beta %r" % u.all("anthropic-beta"))
    check(b.count(OAUTH_BETA) == 1, "oauth beta duplicated: %r" % u.all("anthropic-beta"))


def test_header_names_case_insensitive(ctx):
    u, _, tok = proxied(ctx, drop=["anthropic-beta", "x-api-key", "anthropic-version"],
                        add=[("Anthropic-Beta", "interleaved-thinking-2025-05-14"), ("X-API-KEY", "dummy-not-used"),
                             ("AUTHORIZATION", "Bearer dummy-not-used"), ("Anthropic-Version", "2023-06-01")])
    check(u.all("authorization") == ["Bearer " + tok], "Authorization upstream %r" % u.all("authorization"))
    check(not u.all("x-api-key"), "X-API-KEY forwarded")
    check(sorted(beta_list(u)) == sorted(["interleaved-thinking-2025-05-14", OAUTH_BETA]), "anthropic-beta %r" % u.all("anthropic-beta"))
    check(u.all("anthropic-version") == ["2023-06-01"], "anthropic-version %r" % u.all("anthropic-version"))


def test_upstream_beta_when_client_sent_none(ctx):
    u, _, _ = proxied(ctx, drop=["anthropic-beta"])
    check(beta_list(u) == [OAUTH_BETA], "anthropic-beta %r" % u.all("anthropic-beta"))


def test_upstream_beta_oauth_off(ctx):
    u, _, _ = proxied(ctx, claude_oauth_beta=False)
    check(beta_list(u) == ["interleaved-thinking-2025-05-14"], "anthropic-beta %r" % u.all("anthropic-beta"))
    u, _, _ = proxied(ctx, drop=["anthropic-beta"], claude_oauth_beta=False)
    check(beta_list(u) == [], "anthropic-beta %r" % u.all("anthropic-beta"))


def test_upstream_version_kept(ctx):
    u, _, _ = proxied(ctx)
    check(u.all("anthropic-version") == ["2023-06-01"], "anthropic-version %r" % u.all("anthropic-version"))
    u, _, _ = proxied(ctx, drop=["anthropic-version"], add=[("anthropic-version", "2099-12-31")])
    check(u.all("anthropic-version") == ["2099-12-31"], "anthropic-version %r" % u.all("anthropic-version"))


def test_upstream_version_added(ctx):
    u, _, _ = proxied(ctx, drop=["anthropic-version"])
    check(u.all("anthropic-version") == ["2023-06-01"], "anthropic-version %r" % u.all("anthropic-version"))


def test_upstream_host_is_upstreams(ctx):
    with Case(ctx["pki"]) as c:
        r, err = pipe_one(c, droid_request())
        check(r.status == 200, "status %r" % r)
        u = c.up.requests[0]
        check(u.all("host") == ["localhost:%d" % c.up.port], "Host %r" % u.all("host"))


def test_upstream_accept_encoding_identity(ctx):
    u, _, _ = proxied(ctx)
    check(u.all("accept-encoding") == ["identity"], "Accept-Encoding %r" % u.all("accept-encoding"))


def test_upstream_hop_by_hop_dropped(ctx):
    u, _, _ = proxied(ctx, add=[("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
                                ("TE", "trailers"), ("Upgrade", "h2c")])
    for h in ("keep-alive", "proxy-connection", "te", "upgrade", "transfer-encoding"):
        check(not u.all(h), "hop-by-hop %s forwarded: %r" % (h, u.all(h)))
    for v in u.all("connection"):
        check(v.lower() == "keep-alive", "Connection %r upstream" % v)


def test_upstream_other_headers_pass(ctx):
    u, _, _ = proxied(ctx)
    for k, v in DROID_HEADERS:
        if k.lower().startswith("x-stainless") or k.lower() in ("user-agent", "accept", "content-type"):
            check(u.all(k) == [v], "header %s: want [%r], upstream has %r" % (k, v, u.all(k)))


def test_upstream_content_length_correct(ctx):
    u, _, _ = proxied(ctx)
    check(u.framing == "length", "upstream body framing %s" % u.framing)
    check(u.all("content-length") == [str(len(u.body))], "Content-Length %r for %d bytes" % (u.all("content-length"), len(u.body)))


def test_query_string_kept(ctx):
    u, _, _ = proxied(ctx, target="/v1/messages?beta=true")
    check(u.target == "/v1/messages?beta=true", "upstream target %r" % u.target)


def test_count_tokens_forwarded(ctx):
    def h(req, conn):
        conn.send(json_response({"input_tokens": 42}))
        return True
    with Case(ctx["pki"], handler=h) as c:
        body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
        r, err = pipe_one(c, droid_request(body, target="/v1/messages/count_tokens?beta=true"))
        check(r.status == 200 and r.json() == {"input_tokens": 42}, "response %r" % r)
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        u = c.up.requests[0]
        check(u.target == "/v1/messages/count_tokens?beta=true", "upstream target %r" % u.target)
        check(u.header("authorization") == "Bearer " + c.token, "Authorization %r" % u.header("authorization"))


def test_base_url_path_prefix(ctx):
    with Case(ctx["pki"]) as c:
        c.cfg_values["claude-base-url"] = c.up.url + "/pfx"
        c.write_config(c.cfg_values)
        r, err = pipe_one(c, droid_request(target="/v1/messages?beta=true"))
        check(r.status == 200, "status %r; stderr %s" % (r, short(err)))
        check(c.up.requests and c.up.requests[0].target == "/pfx/v1/messages?beta=true",
              "upstream target %r" % [q.target for q in c.up.requests])


# ------------------------------------------------------------ body rewrite

def _sys_case(ctx, system):
    body = droid_body(system=system, metadata={"user_id": "u-\u00fc\u2028-1"}, temperature=0.7, max_tokens=64000)
    if system is None:
        body.pop("system", None)
    u, _, _ = proxied(ctx, body)
    got = u.json()
    want = expected_body(body)
    check(got == want, "upstream body\n got %s\nwant %s" % (short(json.dumps(got.get("system")), 400),
                                                               short(json.dumps(want.get("system")), 400))
          if got.get("system") != want.get("system") else "fields other than system changed: %s" % short(u.body, 500))
    return got


def test_system_absent_becomes_line(ctx):
    got = _sys_case(ctx, None)
    check(got["system"] == [{"type": "text", "text": CC_LINE}], "system %r" % got["system"])


def test_system_string_gets_line_first(ctx):
    got = _sys_case(ctx, "You are Droid.")
    check(got["system"] == [{"type": "text", "text": CC_LINE}, {"type": "text", "text": "You are Droid."}],
          "system %r" % got["system"])


def test_system_string_with_line_unchanged(ctx):
    s = CC_LINE + "\nAnd also Droid."
    got = _sys_case(ctx, s)
    check(got["system"] == s, "system %r" % got["system"])


def test_system_array_gets_line_first(ctx):
    blocks = droid_body()["system"]
    got = _sys_case(ctx, blocks)
    check(got["system"][0] == {"type": "text", "text": CC_LINE}, "first block %r (no cache_control wanted)" % got["system"][0])
    check(got["system"][1:] == blocks, "client blocks not kept in order: %r" % got["system"])


def test_system_array_with_line_unchanged(ctx):
    blocks = [{"type": "text", "text": CC_LINE, "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "more"}]
    got = _sys_case(ctx, blocks)
    check(got["system"] == blocks, "system %r" % got["system"])


def test_prefix_off_body_byte_for_byte(ctx):
    body = (b'{ "model" :"claude-sonnet-4-5",\n  "system": "You are Droid.", "max_tokens":1e3,'
            b'"messages":[ {"role":"user","content":"h\\u00e9llo"} ] ,"x":0.10000000000000001 }\n')
    u, _, _ = proxied(ctx, body, claude_system_prefix=False)
    check(u.body == body, "body changed:\n got %s\nwant %s" % (short(u.body), short(body)))
    check(u.header("content-length") == str(len(body)), "Content-Length %r" % u.header("content-length"))


# ------------------------------------------------------------ local routes

def _local(ctx, data, methods):
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(data)
        check(rc == 0, "exit %s; stderr %s" % (rc, short(err)))
        rs = parse_responses(out, methods)
        check(len(rs) == len(methods), "want %d responses, got %s" % (len(methods), short(out)))
        time.sleep(0.1)
        check(c.up.conn_count == 0, "upstream was contacted (%d connections)" % c.up.conn_count)
        return rs


def test_health_get(ctx):
    for path in ("/health", "/healthz"):
        r, = _local(ctx, request("GET", path, [("Host", "x")]), ["GET"])
        check(r.status == 200 and r.json() == {"status": "ok"}, "%s: %r" % (path, r))


def test_health_head_no_body(ctx):
    # A body after the HEAD response would break the parse of the next one.
    data = request("HEAD", "/health", [("Host", "x")]) + request("GET", "/healthz", [("Host", "x")])
    rs = _local(ctx, data, ["HEAD", "GET"])
    check(rs[0].status == 200, "HEAD: %r" % rs[0])
    check(rs[1].status == 200 and rs[1].json() == {"status": "ok"}, "GET after HEAD: %r" % rs[1])


def test_head_errors_have_no_body(ctx):
    # An error answer to HEAD is a head too: a body after it would be read
    # as the next answer.
    data = (request("HEAD", "/nothing", [("Host", "x")]) + request("HEAD", "/v1/messages", [("Host", "x")]) +
            request("GET", "/health", [("Host", "x")]))
    rs = _local(ctx, data, ["HEAD", "HEAD", "GET"])
    check(rs[0].status == 404 and rs[1].status == 404, "HEADs: %r" % rs[:2])
    check(rs[2].status == 200 and rs[2].json() == {"status": "ok"}, "GET after the HEADs: %r" % rs[2])
    with Case(ctx["pki"], api_keys=[KEY]) as c:
        rc, out, err = c.run_pipe(request("HEAD", "/v1/models", [("Host", "x")]) +
                                  request("GET", "/health", [("Host", "x")]))
        rs = parse_responses(out, ["HEAD", "GET"])
        check(len(rs) == 2 and rs[0].status == 401 and rs[1].json() == {"status": "ok"},
              "HEAD without the client key, then GET: %s" % short(out))


def test_claude_code_preconnect(ctx):
    # Claude Code's HEAD /api/hello to its base URL (as captured), then its
    # request on the same connection: the first answered here, head only,
    # the second from the upstream.
    hello = request("HEAD", "/api/hello", [("Connection", "keep-alive"), ("User-Agent", "claude-cli/2.1.197"),
                                           ("Accept", "*/*"), ("Host", "localhost:8317"),
                                           ("Accept-Encoding", "gzip, deflate, br, zstd")])
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(hello + droid_request())
        rs = parse_responses(out, ["HEAD", "POST"])
        check(len(rs) == 2, "want two answers, got %s; stderr %s" % (short(out), short(err)))
        check(rs[0].status == 200 and rs[0].body == b"", "HEAD /api/hello: %r" % rs[0])
        check(rs[1].status == 200 and rs[1].json().get("type") == "message", "the request after it: %r" % rs[1])
        check([r.target for r in c.up.requests] == ["/v1/messages"], "upstream saw %s" %
              [r.target for r in c.up.requests])
    r, = _local(ctx, request("GET", "/api/hello", [("Host", "x")]), ["GET"])
    check(r.status == 200 and r.json() == {"status": "ok"}, "GET /api/hello: %r" % r)


def test_models_list(ctx):
    # Anthropic's shape for Anthropic clients (they send anthropic-version),
    # from the catalog fetched once, never a request to a model.
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(request("GET", "/v1/models", [("Host", "x"), ("x-api-key", "dummy"),
                                                                ("anthropic-version", "2023-06-01")]))
        r, = parse_responses(out, ["GET"])
        check(not c.up.requests and [k for k, _ in c.up.rules.catalog_asks] == ["anthropic"],
              "upstream asked %r, catalogs %r" % (c.up.requests, c.up.rules.catalog_asks))
    check(r.status == 200, "status %r" % r)
    j = r.json()
    d = j.get("data")
    check(isinstance(d, list) and d, "data %r" % d)
    for m in d:
        check(m.get("type") == "model" and isinstance(m.get("id"), str) and m["id"]
              and isinstance(m.get("display_name"), str) and isinstance(m.get("created_at"), str),
              "model entry %r" % m)
    check(j.get("has_more") is False, "has_more %r" % j.get("has_more"))
    check(j.get("first_id") == d[0]["id"] and j.get("last_id") == d[-1]["id"], "first_id/last_id %r" % j)


def test_unknown_routes_404(ctx):
    cases = [("POST", "/v1/complete"), ("GET", "/v1/messages"), ("POST", "/v1/messagesX"),
             ("POST", "/v2/messages"), ("GET", "/v1/models/../../etc/passwd"), ("DELETE", "/health")]
    for m, t in cases:
        with Case(ctx["pki"]) as c:
            body = None if m in ("GET", "DELETE") else droid_body()
            rc, out, err = c.run_pipe(request(m, t, [("Host", "x"), ("Content-Type", "application/json")], body))
            rs = parse_responses(out, [m])
            check(len(rs) == 1, "%s %s: stdout %s" % (m, t, short(out)))
            expect_error(rs[0], 404, "not_found_error", retry_false=True)
            time.sleep(0.05)
            check(not c.up.requests, "%s %s was forwarded" % (m, t))


# ------------------------------------------------------------ keep-alive

def test_keepalive_two_requests_one_upstream_conn(ctx):
    with Case(ctx["pki"]) as c:
        p = c.spawn()
        b1 = droid_body()
        b2 = droid_body(model="claude-opus-4-8", system="second")
        p.send(droid_request(b1))
        r1 = p.reader.read_response("POST")
        check(r1.status == 200, "first %r" % r1)
        p.send(droid_request(b2, target="/v1/messages?beta=true"))
        r2 = p.reader.read_response("POST")
        check(r2.status == 200, "second %r" % r2)
        p.shutdown_wr()
        rc = p.wait(10)
        check(rc == 0, "exit %s after client EOF; stderr %s" % (rc, short(p.stderr())))
        rq = c.up.requests
        check(len(rq) == 2, "upstream saw %d requests" % len(rq))
        for q, b in zip(rq, (b1, b2)):
            check(q.header("authorization") == "Bearer " + c.token and not q.all("x-api-key"),
                  "request %d not rewritten (credentials)" % q.seq)
            check(OAUTH_BETA in beta_list(q), "request %d: anthropic-beta %r" % (q.seq, q.all("anthropic-beta")))
            check(q.json() == expected_body(b), "request %d body not rewritten: %s" % (q.seq, short(q.body)))
        check(rq[1].target == "/v1/messages?beta=true", "second target %r" % rq[1].target)
        check(c.up.conn_count == 1 and rq[0].conn_id == rq[1].conn_id,
              "want one upstream TLS connection, got %d" % c.up.conn_count)


def test_pipelined_in_order(ctx):
    with Case(ctx["pki"]) as c:
        p = c.spawn()
        names = ["claude-opus-5", "claude-sonnet-5", "claude-opus-4-8"]
        bodies = [droid_body(model=m) for m in names]
        data = b"".join(droid_request(b) for b in bodies[:2]) + request("GET", "/health", [("Host", "x")]) \
            + droid_request(bodies[2])
        p.send(data)
        rs = [p.reader.read_response(m) for m in ("POST", "POST", "GET", "POST")]
        check([r.status for r in rs] == [200] * 4, "statuses %r" % rs)
        check(rs[2].json() == {"status": "ok"}, "third (health) %r" % rs[2])
        seqs = [rs[i].json().get("seq") for i in (0, 1, 3)]
        check(seqs == [1, 2, 3], "responses out of order: seqs %r" % seqs)
        models = [q.json().get("model") for q in c.up.requests]
        check(models == names, "upstream order %r" % models)
        p.shutdown_wr()
        check(p.wait(10) == 0, "exit code %r" % p.proc.returncode)
        check(c.up.conn_count == 1, "upstream connections %d" % c.up.conn_count)


def _reconnect(ctx, handler):
    with Case(ctx["pki"], handler=handler) as c:
        p = c.spawn()
        p.send(droid_request())
        r1 = p.reader.read_response("POST")
        check(r1.status == 200, "first %r" % r1)
        time.sleep(0.3)
        p.send(droid_request(droid_body(model="claude-sonnet-4-6")))
        r2 = p.reader.read_response("POST")
        check(r2.status == 200, "second request after upstream closed: %r" % r2)
        p.shutdown_wr()
        p.wait(10)
        check(len(c.up.requests) == 2, "upstream saw %d requests" % len(c.up.requests))
        check(c.up.requests[1].json().get("model") == "claude-sonnet-4-6", "second request body %s" % short(c.up.requests[1].body))
        check(c.up.conn_count == 2 and c.up.requests[1].conn_id == 2,
              "want a new upstream connection, have %d" % c.up.conn_count)


def test_upstream_connection_close_then_reconnect(ctx):
    def h(req, conn):
        conn.send(json_response({"seq": req.seq}, close=True))
        return False
    _reconnect(ctx, h)


def test_upstream_silent_close_then_reconnect(ctx):
    def h(req, conn):
        conn.send(json_response({"seq": req.seq}))
        return False          # closes without having said Connection: close
    _reconnect(ctx, h)


# ------------------------------------------------------------ request framing

def _chunked(body, sizes):
    out, i = b"", 0
    for n in sizes:
        out += b"%x\r\n" % len(body[i:i + n]) + body[i:i + n] + b"\r\n"
        i += n
    if i < len(body):
        out += b"%X\r\n" % len(body[i:]) + body[i:] + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_request_body(ctx):
    body = droid_body()
    raw = json.dumps(body).encode()
    hs = [(k, v) for k, v in DROID_HEADERS] + [("Transfer-Encoding", "chunked")]
    data = request("POST", "/v1/messages", hs, None) + _chunked(raw, [1, 100, 7])
    u, r, _ = proxied(ctx, raw=data)
    check(u.framing == "length" and not u.all("transfer-encoding"), "upstream framing %s %r" % (u.framing, u.headers))
    check(u.all("content-length") == [str(len(u.body))], "Content-Length %r" % u.all("content-length"))
    check(u.json() == expected_body(body), "body %s" % short(u.body))


def test_chunked_request_body_prefix_off(ctx):
    raw = b'{"model":"claude-haiku-4-5",  "messages":[]}'
    hs = [("Host", "x"), ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    data = request("POST", "/v1/messages", hs, None) + _chunked(raw, [3, 3]) 
    u, r, _ = proxied(ctx, raw=data, claude_system_prefix=False)
    check(u.body == raw, "decoded body %r" % u.body)
    check(u.all("content-length") == [str(len(raw))] and not u.all("transfer-encoding"), "headers %r" % u.headers)


def test_expect_100_continue(ctx):
    with Case(ctx["pki"]) as c:
        p = c.spawn()
        raw = json.dumps(droid_body()).encode()
        hs = DROID_HEADERS + [("Expect", "100-continue"), ("Content-Length", str(len(raw)))]
        p.send(request("POST", "/v1/messages", hs, None))
        try:
            interim = p.reader.read_until(b"\r\n\r\n", 5)
        except TestFailure as e:
            raise TestFailure("no 100 Continue before the body was sent: %s" % e)
        check(interim.startswith(b"HTTP/1.1 100"), "want 100 Continue, got %s" % short(interim))
        p.send(raw)
        r = p.reader.read_response("POST")
        check(r.status == 200, "final response %r" % r)
        check(len(c.up.requests) == 1 and c.up.requests[0].json() == expected_body(droid_body()),
              "upstream %r" % c.up.requests)


# ------------------------------------------------------------ responses

SSE_FIRST = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
             b'"role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":10,'
             b'"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n')
SSE_REST = [
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    b'event: ping\ndata: {"type": "ping"}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def _gate_wait(gate, conn, limit=10):
    end = time.monotonic() + limit
    while not gate.is_set() and not conn.stop.is_set() and time.monotonic() < end:
        gate.wait(0.05)


def _sse_handler(gate, framing):
    def h(req, conn):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nrequest-id: req_sse\r\n"
        rest = b"".join(SSE_REST)
        if framing == "chunked":
            conn.send(head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(SSE_FIRST) + SSE_FIRST + b"\r\n")
            _gate_wait(gate, conn)
            for ev in SSE_REST:
                conn.send(b"%x\r\n" % len(ev) + ev + b"\r\n")
            conn.send(b"0\r\n\r\n")
            return True
        if framing == "length":
            conn.send(head + b"Content-Length: %d\r\n\r\n" % (len(SSE_FIRST) + len(rest)) + SSE_FIRST)
            _gate_wait(gate, conn)
            conn.send(rest)
            return True
        conn.send(head + b"Connection: close\r\n\r\n" + SSE_FIRST)
        _gate_wait(gate, conn)
        conn.send(rest)
        return False
    return h


def _sse(ctx, framing):
    gate = threading.Event()
    with Case(ctx["pki"], handler=_sse_handler(gate, framing)) as c:
        try:
            p = c.spawn()
            p.send(droid_request(droid_body(stream=True)))
            seen = p.reader.wait_for(SSE_FIRST, 5)
        finally:
            gate.set()
        check(seen, "first SSE event not delivered while the upstream was still sending (%s framing); have %s"
              % (framing, short(p.reader.buf)))
        r = p.reader.read_response("POST")
        check(r.status == 200, "status %r" % r)
        check(r.body == SSE_FIRST + b"".join(SSE_REST), "stream body %s" % short(r.body))
        check((r.header("content-type") or "").startswith("text/event-stream"), "Content-Type %r" % r.header("content-type"))
        check(r.header("request-id") == "req_sse", "request-id %r" % r.header("request-id"))
        return c, p, r


def test_sse_chunked_streamed(ctx):
    c, p, r = _sse(ctx, "chunked")
    check((r.header("transfer-encoding") or "").lower() == "chunked", "client framing %r" % r.headers)


def test_sse_content_length_streamed(ctx):
    c, p, r = _sse(ctx, "length")
    check(r.header("content-length") == str(len(SSE_FIRST) + sum(map(len, SSE_REST))) and not r.header("transfer-encoding"),
          "client framing %r" % r.headers)


def test_sse_close_delimited_streamed(ctx):
    gate = threading.Event()
    with Case(ctx["pki"], handler=_sse_handler(gate, "close")) as c:
        try:
            p = c.spawn()
            p.send(droid_request(droid_body(stream=True)))
            seen = p.reader.wait_for(SSE_FIRST, 5)
        finally:
            gate.set()
        check(seen, "first SSE event not delivered while the upstream was still sending; have %s" % short(p.reader.buf))
        r = p.reader.read_response("POST", timeout=10)   # until EOF: the proxy must close
        check(r.status == 200, "status %r" % r)
        check(not r.header("content-length") and not r.header("transfer-encoding"), "client framing %r" % r.headers)
        check(r.body == SSE_FIRST + b"".join(SSE_REST), "stream body %s" % short(r.body))
        check(p.wait(5) is not None, "proxy still running after the close-delimited response")


def test_upstream_status_and_headers_forwarded(ctx):
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}, "request_id": "req_x"}

    def h(req, conn):
        conn.send(json_response(body, status="429 Too Many Requests",
                                extra=b"retry-after: 7\r\nanthropic-ratelimit-unified-status: rejected\r\n"
                                      b"anthropic-ratelimit-unified-reset: 1767225600\r\n"))
        return True
    with Case(ctx["pki"], handler=h) as c:
        r, err = pipe_one(c, droid_request())
        check(r.status == 429, "status %r" % r)
        check(r.json() == body, "body %s" % short(r.body))
        check(r.header("retry-after") == "7" and r.header("anthropic-ratelimit-unified-status") == "rejected"
              and r.header("anthropic-ratelimit-unified-reset") == "1767225600", "headers %r" % r.headers)


def test_large_bodies_both_ways(ctx):
    big = os.urandom(3 * 1024 * 1024)

    def h(req, conn):
        data = b"".join(b"%x\r\n" % len(big[i:i + 70000]) + big[i:i + 70000] + b"\r\n"
                        for i in range(0, len(big), 70000))
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + data + b"0\r\n\r\n")
        return True
    body = droid_body(messages=[{"role": "user", "content": "x\u00e9" * 400000}])
    with Case(ctx["pki"], handler=h) as c:
        p = c.spawn()
        p.send(droid_request(body))
        r = p.reader.read_response("POST", timeout=20)
        check(r.status == 200 and r.body == big, "3 MiB response: status %d, %d bytes, equal %s"
              % (r.status, len(r.body), r.body == big))
        p.shutdown_wr()
        check(p.wait(10) == 0, "exit %r" % p.proc.returncode)
        check(len(c.up.requests) == 1 and c.up.requests[0].json() == expected_body(body), "large request body changed")


def test_client_connection_close_honoured(ctx):
    with Case(ctx["pki"]) as c:
        p = c.spawn()
        p.send(droid_request(drop=["Connection"], add=[("Connection", "close")]))
        r = p.reader.read_response("POST")
        check(r.status == 200, "status %r" % r)
        check(p.reader.closed_within(3), "connection kept open after the client sent Connection: close")
        check(p.wait(5) == 0, "exit %r" % p.proc.returncode)


# ------------------------------------------------------------ upstream failures

def _fails(ctx, status, etype, reached=False, **kw):
    with Case(ctx["pki"], **kw) as c:
        t0 = time.monotonic()
        rc, out, err = c.run_pipe(droid_request(), timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        msg = expect_error(rs[0], status, etype)
        if c.up and not reached:
            time.sleep(0.1)
            check(not c.up.requests, "request reached an upstream that should have been refused")
        return msg, time.monotonic() - t0, c


def test_upstream_unreachable_502(ctx):
    msg, _, _ = _fails(ctx, 502, "api_error", upstream=False)
    check("localhost" in msg, "message does not name the host: %r" % msg)


def test_untrusted_certificate_502(ctx):
    msg, _, _ = _fails(ctx, 502, "api_error", cert="untrusted")
    check("localhost" in msg, "message does not name the host: %r" % msg)


def test_wrong_host_name_502(ctx):
    msg, _, _ = _fails(ctx, 502, "api_error", cert="wrong")
    check("localhost" in msg, "message does not name the host: %r" % msg)


def test_upstream_silent_504(ctx):
    def h(req, conn):
        conn.stop.wait(30)
        return False
    msg, took, c = _fails(ctx, 504, "timeout_error", reached=True, handler=h, upstream_timeout=1)
    check(took < 8, "504 took %.1fs with upstream-timeout 1" % took)


def test_upstream_interim_answers_skipped(ctx):
    # 103 Early Hints and 100 Continue come before the answer; the client
    # gets the answer, and usage records its status.
    def h(req, conn):
        final = json_response({"id": "msg_final", "type": "message", "content": []},
                              extra=b"request-id: req_final\r\n")
        conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
        time.sleep(0.05)
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n" + final)
        return True
    with Case(ctx["pki"], handler=h, usage_statistics_enabled=True) as c:
        rc, out, err = c.run_pipe(droid_request() + droid_request())
        rs = parse_responses(out, ["POST", "POST"])
        check([r.status for r in rs] == [200, 200] and all(r.json()["id"] == "msg_final" for r in rs),
              "client got %r" % rs)
        with open(os.path.join(c.auth, "usage.jsonl")) as f:
            st = [json.loads(x)["status"] for x in f]
        check(st == [200, 200], "usage recorded %r" % st)


def test_upstream_switching_protocols_502(ctx):
    def h(req, conn):
        conn.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
        return False
    _fails(ctx, 502, "api_error", reached=True, handler=h)


def test_upstream_garbage_response_502(ctx):
    def h(req, conn):
        conn.send(b"SPDY/9 what\r\n\r\n")
        return False
    _fails(ctx, 502, "api_error", reached=True, handler=h)


def test_upstream_dies_mid_body(ctx):
    """A truncated upstream body ends the client connection; no hang."""
    def h(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
        return False
    with Case(ctx["pki"], handler=h) as c:
        p = c.spawn()
        p.send(droid_request())
        check(p.reader.wait_for(b"partial", 5), "head and first bytes not relayed: %s" % short(p.reader.buf))
        check(p.reader.closed_within(8), "client connection still open after the upstream died mid-body")
        check(p.wait(5) is not None, "proxy still running")
        check(len(p.reader.buf) < 1000 + 200, "proxy padded the body?")


def test_upstream_tcp_only_times_out(ctx):
    """A listener that accepts and never does TLS: 502 or 504, within bounds."""
    bh = BlackHole()
    try:
        with Case(ctx["pki"], upstream=False, connect_timeout=1, upstream_timeout=1) as c:
            c.cfg_values["claude-base-url"] = bh.url
            c.write_config(c.cfg_values)
            t0 = time.monotonic()
            rc, out, err = c.run_pipe(droid_request(), timeout=30)
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1 and rs[0].status in (502, 504), "response %r" % rs)
            check(time.monotonic() - t0 < 8, "took %.1fs" % (time.monotonic() - t0))
    finally:
        bh.close()


# ------------------------------------------------------------ client auth

KEY = "client-secret-key-1"


def _auth(ctx, drop, add):
    with Case(ctx["pki"], api_keys=[KEY, "other-key-2"]) as c:
        rc, out, err = c.run_pipe(droid_request(drop=drop, add=add))
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s" % short(out))
        time.sleep(0.05)
        return rs[0], c


def test_api_key_missing_401(ctx):
    r, c = _auth(ctx, ["x-api-key"], [])
    expect_error(r, 401, "authentication_error", retry_false=True)
    check(not c.up.requests, "forwarded without a client key")


def test_api_key_wrong_401(ctx):
    r, c = _auth(ctx, ["x-api-key"], [("x-api-key", "client-secret-key-X")])
    expect_error(r, 401, "authentication_error", retry_false=True)
    check(not c.up.requests, "forwarded with a wrong client key")
    r, c = _auth(ctx, [], [])      # droid's dummy key
    expect_error(r, 401, "authentication_error", retry_false=True)
    check(not c.up.requests, "forwarded with droid's dummy key")


def test_api_key_x_api_key_ok(ctx):
    r, c = _auth(ctx, ["x-api-key"], [("x-api-key", KEY)])
    check(r.status == 200, "status %r" % r)
    check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
    u = c.up.requests[0]
    check(u.all("authorization") == ["Bearer " + c.token] and not u.all("x-api-key"), "credentials upstream %r" % u.headers)
    check(all(KEY not in v for _, v in u.headers), "client key forwarded upstream")


def test_api_key_bearer_ok(ctx):
    r, c = _auth(ctx, ["x-api-key"], [("Authorization", "Bearer " + KEY)])
    check(r.status == 200, "status %r" % r)
    check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
    u = c.up.requests[0]
    check(u.all("authorization") == ["Bearer " + c.token], "Authorization upstream %r" % u.all("authorization"))
    check(all(KEY not in v for _, v in u.headers), "client key forwarded upstream")


# ------------------------------------------------------------ token files

def test_token_group_readable_refused(ctx):
    for mode in (0o640, 0o604):
        with Case(ctx["pki"], token=False) as c:
            c.add_token("user@example.com", c.token, mode=mode)
            rc, out, err = c.run_pipe(droid_request())
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1, "mode %o: stdout %s" % (mode, short(out)))
            msg = expect_error(rs[0], 401, "authentication_error", retry_false=True)
            check("claude-user@example.com.json" in msg and "chmod 600" in msg, "mode %o: message %r" % (mode, msg))
            time.sleep(0.05)
            check(not c.up.requests, "mode %o: forwarded with a refused token file" % mode)


def test_token_with_line_break_refused(ctx):
    # A token that would split the upstream head: the account is refused
    # when its file is read, named, and nothing reaches the upstream.
    with Case(ctx["pki"], token=False) as c:
        c.add_token("user@example.com", "sk-ant-oat01-X\r\nX-Injected: yes")
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "stdout %s" % short(out))
        msg = expect_error(rs[0], 401, "authentication_error")
        check("claude-user@example.com.json" in msg and "control character" in msg, "message %r" % msg)
        time.sleep(0.05)
        check(not c.up.requests, "forwarded: %r" % [q.headers for q in c.up.requests])
        check("X-Injected" not in err, "the token reached the log: %s" % short(err))


def test_api_key_with_line_break_refused(ctx):
    with Case(ctx["pki"], token=False, claude_api_key=[{"api-key": "sk-ant-api03-K\r\nX-Injected: yes"}]) as c:
        rc, out, err = c.run_pipe(droid_request())
        check(rc == EX_CONFIG and "control character" in err and "X-Injected" not in err,
              "exit %s, stderr %s" % (rc, short(err)))
        check(not c.up.requests, "forwarded")


def test_no_account_401(ctx):
    with Case(ctx["pki"], token=False) as c:
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "stdout %s" % short(out))
        expect_error(rs[0], 401, "authentication_error")
        check(not c.up.requests, "forwarded without an account")


def test_token_first_in_name_order(ctx):
    with Case(ctx["pki"], token=False) as c:
        c.add_token("b@example.com", "sk-ant-oat01-BBBB")
        c.add_token("a@example.com", "sk-ant-oat01-AAAA")
        r, err = pipe_one(c, droid_request())
        check(r.status == 200, "status %r" % r)
        check(c.up.requests[0].header("authorization") == "Bearer sk-ant-oat01-AAAA",
              "Authorization %r" % c.up.requests[0].header("authorization"))


def test_token_disabled_skipped(ctx):
    with Case(ctx["pki"], token=False) as c:
        c.add_token("a@example.com", "sk-ant-oat01-AAAA", disabled=True)
        c.add_token("b@example.com", "sk-ant-oat01-BBBB")
        r, err = pipe_one(c, droid_request())
        check(r.status == 200, "status %r" % r)
        check(c.up.requests[0].header("authorization") == "Bearer sk-ant-oat01-BBBB",
              "Authorization %r" % c.up.requests[0].header("authorization"))


def test_no_token_in_logs(ctx):
    def h(req, conn):
        if req.seq == 2:
            conn.send(json_response({"type": "error", "error": {"type": "authentication_error", "message": "bad"}},
                                    status="401 Unauthorized"))
        else:
            default_handler(req, conn)
        return True
    with Case(ctx["pki"], handler=h, debug=True) as c:
        # A broken token file first in name order, holding a secret of its own.
        leak = "sk-ant-oat01-BROKEN-" + "9" * 20
        bad = os.path.join(c.auth, "claude-0broken@example.com.json")
        fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, ('{"type":"claude","access_token":"%s","email":' % leak).encode())
        os.close(fd)
        rc, out, err = c.run_pipe(droid_request() + droid_request())
        for secret in (c.token, c.refresh, leak):
            check(secret not in err, "a token appears on stderr")
            check(secret.encode() not in out, "a token appears in the response")
        check(len(c.up.requests) == 2, "upstream saw %d requests (a broken first token file must be"
              " skipped); stderr %s" % (len(c.up.requests), short(err)))
        check(len(err) > 0, "debug: true logged nothing at all")


def test_log_lines_are_text(ctx):
    """What the proxy logs is readable text: no stray bytes from memory."""
    def h(req, conn):
        conn.send(json_response({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
                                status="529 Overloaded"))
        return True
    runs = []
    with Case(ctx["pki"], handler=h) as c:                          # proxied, upstream 529
        runs.append(("proxied", c.run_pipe(droid_request() + request("GET", "/health", [("Host", "x")]))))
    with Case(ctx["pki"], upstream=False) as c:                     # upstream unreachable
        runs.append(("unreachable", c.run_pipe(droid_request())))
    with Case(ctx["pki"], ca_file="/nonexistent/ca.pem") as c:      # no trust store
        runs.append(("no ca-file", c.run_pipe(droid_request())))
    with Case(ctx["pki"], token=False) as c:                        # no account
        runs.append(("no account", c.run_pipe(droid_request())))
    for what, (rc, out, err) in runs:
        bad = [ch for ch in err if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\t")]
        check(not bad, "%s: stderr has non-text bytes: %r" % (what, err))


def test_stderr_closed_logs_go_nowhere(ctx):
    """Started with fd 2 closed (a careless inetd): log lines must not land
    in whatever the proxy opens next, such as the upstream's TLS stream."""
    with Case(ctx["pki"], debug=True) as c:
        r = subprocess.run([BIN, "--config", c.cfg], input=droid_request(), capture_output=False,
                           stdout=subprocess.PIPE, env=c.env(), timeout=20, pass_fds=(),
                           preexec_fn=lambda: os.close(2))
        rs = parse_responses(r.stdout, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "with stderr closed: %s" % short(r.stdout))
        check(not c.up.errors, "upstream saw garbage: %r" % c.up.errors)


def test_log_and_terminal_injection_escaped(ctx):
    """A model name with a line break and terminal codes (a client's, and an
    upstream's in usage.jsonl) reaches the log, --usage and --status only as
    \\xHH text: no forged line, no escape sequence."""
    evil = "gpt-5\nPOST /forged 200 x 1ms 1B\x1b]0;owned\x07\x1b[31m\u009b2J"
    with Case(ctx["pki"], usage_statistics_enabled=True) as c:
        hs = [("Host", "x"), ("Content-Type", "application/json")]
        rc, out, err = c.run_pipe(request("POST", "/v1/responses", hs, {"model": evil, "input": "hi"}))
        lines = [ln for ln in err.splitlines() if "/v1/responses" in ln]
        check(len(lines) == 1 and "\\x0APOST /forged" in lines[0] and "\\x1B]0;owned\\x07" in lines[0]
              and "\\xC2\\x9B2J" in lines[0], "log line %r" % lines)
        check("\x1b" not in err and "\u009b" not in err and not any(ln.startswith("POST /forged") for ln in err.splitlines()),
              "raw control bytes in the log: %r" % err)
        with open(os.path.join(c.auth, "usage.jsonl"), "a") as f:
            f.write(json.dumps({"time": "2026-01-02T03:04:05Z", "provider": "codex", "account": "a\x1b[2Jb",
                                "model": evil, "status": 200, "input": 1, "output": 1}) + "\n")
        with open(os.path.join(c.auth, "state.json"), "w") as f:
            json.dump({"accounts": {"claude-user@example.com.json": {"last_error": "bad\x1b[2J\nnews"}}}, f)
        for flag in ("--usage", "--status"):
            r = subprocess.run([BIN, "--config", c.cfg, flag], capture_output=True, timeout=20, env=c.env(),
                               stdin=subprocess.DEVNULL)
            text = r.stdout.decode("utf-8", "replace")
            check(r.returncode == 0 and "\x1b" not in text and "\u009b" not in text and "POST /forged" not in
                  text.replace("\\x0APOST /forged", ""), "%s printed %r" % (flag, text))
            check("\\x1B" in text, "%s: nothing escaped shown: %r" % (flag, text))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
