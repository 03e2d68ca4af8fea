"""End-to-end tests of usage statistics and the log file: responses relayed
from a fake upstream leave one line each in auth-dir/usage.jsonl with the
counts the response carried, --usage prints the totals, and a debug session
logging to logs/ shows no piece of any credential."""
import json
import os
import re
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403
from test_codex import (CodexCase, USAGE, chat_request, droid_responses_body,  # noqa: E402
                        oai_request, sse_handler, text_events)


def sse(name, obj):
    return ("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode()


MODEL = "claude-sonnet-4-5-20250929"

# A Messages stream as api.anthropic.com sends it, usage in message_start and
# message_delta; a delta's text mentions "usage" to tempt a sloppy scanner.
ANTHROPIC_STREAM = b"".join([
    sse("message_start", {"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "model": MODEL, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1234, "cache_creation_input_tokens": 56,
                  "cache_read_input_tokens": 7890, "output_tokens": 1}}}),
    sse("content_block_start", {"type": "content_block_start", "index": 0,
                                "content_block": {"type": "text", "text": ""}}),
    sse("ping", {"type": "ping"}),
    sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": 'the "usage": {"output_tokens": 999}'}}),
    sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": " fine"}}),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": 321}}),
    sse("message_stop", {"type": "message_stop"}),
])
WANT_STREAM = {"provider": "claude", "account": "user@example.com", "model": MODEL, "status": 200,
               "input": 1234, "output": 321, "cache_read": 7890, "cache_write": 56}


def anthropic_stream_handler(piece=7, extra=b""):
    """200 text/event-stream, chunked, the stream cut into small pieces sent
    apart, so the proxy reads it split at many places."""
    def h(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                  b"Cache-Control: no-cache\r\nrequest-id: req_stream_1\r\n" + extra +
                  b"Transfer-Encoding: chunked\r\n\r\n")
        data = ANTHROPIC_STREAM
        for i in range(0, len(data), piece):
            p = data[i:i + piece]
            conn.send(b"%x\r\n" % len(p) + p + b"\r\n")
            if i % (piece * 40) == 0:
                time.sleep(0.005)
        conn.send(b"0\r\n\r\n")
        return True
    return h


def json_handler(obj, status="200 OK"):
    def h(req, conn):
        conn.send(json_response(obj, status=status))
        return True
    return h


def usage_lines(c):
    path = os.path.join(c.auth, "usage.jsonl")
    check(os.path.exists(path), "no %s" % path)
    with open(path) as f:
        text = f.read()
    lines = [ln for ln in text.split("\n") if ln]
    out = []
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except ValueError:
            raise TestFailure("usage.jsonl line is not JSON: %s" % short(ln))
    return out, text


def check_line(rec, want):
    for k, v in want.items():
        check(rec.get(k) == v, "usage %s = %r, want %r; line %s" % (k, rec.get(k), v, json.dumps(rec)))
    t = rec.get("time", "")
    check(isinstance(t, str) and len(t) == 20 and t[10] == "T" and t.endswith("Z"), "time %r not RFC 3339" % t)
    check(abs(time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime())) < 300,
          "time %r is not now" % t)
    check(isinstance(rec.get("ms"), int) and 0 <= rec["ms"] < 60000, "ms %r" % rec.get("ms"))
    want_keys = {"time", "provider", "account", "model", "status", "input", "output", "cache_read",
                 "cache_write", "ms"}
    check(want_keys <= set(rec), "missing keys %s in %s" % (want_keys - set(rec), json.dumps(rec)))


def pieces(secret, n=8):
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


def leaked(text, secrets_):
    for s in secrets_:
        for p in pieces(s):
            if p in text:
                return "%r (from a %d-char secret)" % (p, len(s))
    return None


def pipe_ok(c, data):
    rc, out, err = c.run_pipe(data)
    rs = parse_responses(out, ["POST"])
    check(len(rs) == 1, "want one response, stdout %s, stderr %s" % (short(out), short(err)))
    return rs[0], err


def run_usage(c):
    r = subprocess.run([BIN, "--config", c.cfg, "--usage"], capture_output=True, timeout=20,
                       env=c.env(), stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    c.stderrs.append(err)
    check(r.returncode == 0, "--usage exit %s; stderr %s" % (r.returncode, short(err)))
    return out


def row(out, key):
    """The numbers of the report's row named key (first table that has it)."""
    for ln in out.split("\n"):
        f = ln.split()
        if f and f[0] == key and len(f) >= 7:
            return [int(x) for x in f[1:7]]
    raise TestFailure("no row %r in --usage output:\n%s" % (key, out))


# ------------------------------------------------------------ usage.jsonl

def test_streamed_anthropic_one_line(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler(), usage_statistics_enabled=True) as c:
        r, err = pipe_ok(c, droid_request(droid_body(stream=True)))
        check(r.status == 200, "status %r; stderr %s" % (r, short(err)))
        check(r.body == ANTHROPIC_STREAM, "stream altered on the way: %s" % short(r.body))
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line, got %d: %s" % (len(recs), short(text)))
        check_line(recs[0], WANT_STREAM)
        check(not leaked(text, [c.token, c.refresh]), "usage.jsonl holds a credential piece")
        st = os.stat(os.path.join(c.auth, "usage.jsonl"))
        check(st.st_mode & 0o777 == 0o600, "usage.jsonl mode %o" % (st.st_mode & 0o777))


def test_two_requests_two_lines(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler(piece=1), usage_statistics_enabled=True) as c:
        rc, out, err = c.run_pipe(droid_request(droid_body(stream=True)) * 2)
        rs = parse_responses(out, ["POST", "POST"])
        check([x.status for x in rs] == [200, 200], "responses %r; stderr %s" % (rs, short(err)))
        recs, text = usage_lines(c)
        check(len(recs) == 2, "want two usage lines, got %s" % short(text))
        for rec in recs:
            check_line(rec, WANT_STREAM)


def test_json_anthropic_one_line(ctx):
    body = {"id": "msg_02", "type": "message", "role": "assistant", "model": "claude-opus-4-1",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30,
                      "output_tokens": 40}}
    with Case(ctx["pki"], handler=json_handler(body), usage_statistics_enabled=True) as c:
        r, err = pipe_ok(c, droid_request())
        check(r.status == 200 and r.json() == body, "response %r" % r)
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line: %s" % short(text))
        check_line(recs[0], {"provider": "claude", "account": "user@example.com", "model": "claude-opus-4-1",
                             "status": 200, "input": 10, "output": 40, "cache_read": 30, "cache_write": 20})


def test_error_is_recorded(ctx):
    err_body = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    with Case(ctx["pki"], handler=json_handler(err_body, "400 Bad Request"), usage_statistics_enabled=True) as c:
        r, err = pipe_ok(c, droid_request())
        check(r.status == 400, "status %r" % r)
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line: %s" % short(text))
        check_line(recs[0], {"provider": "claude", "account": "user@example.com", "status": 400,
                             "input": 0, "output": 0, "cache_read": 0, "cache_write": 0})
        out = run_usage(c)
        check(row(out, "user@example.com")[:2] == [1, 1], "one request, one error:\n%s" % out)


def test_codex_responses_stream_line(ctx):
    with CodexCase(ctx["pki"], usage_statistics_enabled=True) as c:
        r, err = c.ok(oai_request(droid_responses_body()))
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line: %s" % short(text))
        check_line(recs[0], {"provider": "codex", "account": "user@example.com", "model": "gpt-5.6-sol",
                             "status": 200, "input": USAGE["input_tokens"], "output": USAGE["output_tokens"],
                             "cache_read": USAGE["input_tokens_details"]["cached_tokens"], "cache_write": 0})
        acct = c.codex["user@example.com"]
        check(not leaked(text, [acct["access_token"], acct["refresh_token"]]), "usage.jsonl holds a credential")


def test_codex_chat_line(ctx):
    body = {"model": "gpt-5.6-sol", "messages": [{"role": "user", "content": "say hi"}], "stream": False}
    with CodexCase(ctx["pki"], usage_statistics_enabled=True) as c:
        r, err = c.ok(chat_request(body))
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line: %s" % short(text))
        check_line(recs[0], {"provider": "codex", "model": "gpt-5.6-sol", "status": 200,
                             "input": USAGE["input_tokens"], "output": USAGE["output_tokens"],
                             "cache_read": USAGE["input_tokens_details"]["cached_tokens"]})


def test_codex_chat_stream_line(ctx):
    body = {"model": "gpt-5.6-sol", "messages": [{"role": "user", "content": "say hi"}], "stream": True}
    with CodexCase(ctx["pki"], usage_statistics_enabled=True) as c:
        r, err = c.ok(chat_request(body))
        check(b"data: [DONE]" in r.body, "chat stream not translated: %s" % short(r.body))
        recs, text = usage_lines(c)
        check(len(recs) == 1, "want one usage line: %s" % short(text))
        check_line(recs[0], {"provider": "codex", "model": "gpt-5.6-sol", "status": 200,
                             "input": USAGE["input_tokens"], "output": USAGE["output_tokens"],
                             "cache_read": USAGE["input_tokens_details"]["cached_tokens"]})


def test_off_by_default(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler()) as c:
        r, err = pipe_ok(c, droid_request(droid_body(stream=True)))
        check(r.status == 200, "status %r" % r)
        check(not os.path.exists(os.path.join(c.auth, "usage.jsonl")), "usage.jsonl written while disabled")
        check("usage-statistics-enabled" not in err, "key still warned as unused: %s" % short(err))


def test_usage_file_rotates(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler(), usage_statistics_enabled=True,
              usage_max_bytes=4096) as c:
        old = json.dumps({"time": "2026-01-01T00:00:00Z", "provider": "claude", "account": "old@example.com",
                          "model": "m", "status": 200, "input": 1, "output": 1, "cache_read": 0,
                          "cache_write": 0, "ms": 1}) + "\n"
        fill = old * (4096 // len(old))     # under the cap, but not with one more line
        path = os.path.join(c.auth, "usage.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, fill.encode())
        os.close(fd)
        r, err = pipe_ok(c, droid_request(droid_body(stream=True)))
        check(r.status == 200, "status %r" % r)
        with open(path + ".1") as f:
            check(f.read() == fill, "usage.jsonl.1 is not the old file")
        recs, text = usage_lines(c)
        check(len(recs) == 1, "after rotation want one line, got %s" % short(text))
        check_line(recs[0], WANT_STREAM)
        out = run_usage(c)
        n = len(fill) // len(old)
        check(row(out, "TOTAL")[0] == n + 1, "--usage reads both files: want %d requests\n%s" % (n + 1, out))


# ------------------------------------------------------------ --usage

def rec(t, account, model, status, i, o, cr=0, cw=0):
    return json.dumps({"time": t, "provider": "claude", "account": account, "model": model, "status": status,
                       "input": i, "output": o, "cache_read": cr, "cache_write": cw, "ms": 10}) + "\n"


def test_usage_report(ctx):
    with Case(ctx["pki"], upstream=False, usage_statistics_enabled=True) as c:
        with open(os.path.join(c.auth, "usage.jsonl.1"), "w") as f:
            f.write(rec("2026-01-02T03:04:05Z", "a@example.com", "claude-sonnet-4-5", 200, 100, 10, 1000, 5))
            f.write("not json\n")
        with open(os.path.join(c.auth, "usage.jsonl"), "w") as f:
            f.write(rec("2026-01-02T23:59:59Z", "a@example.com", "claude-sonnet-4-5", 529, 0, 0))
            f.write(rec("2026-01-03T00:00:01Z", "b@example.com", "claude-opus-4-1", 200, 2000, 42, 1500, 0))
            f.write('{"time": 7}\n{"trunc')
        out = run_usage(c)
        check(row(out, "2026-01-02") == [2, 1, 100, 10, 1000, 5], "day 1 row:\n%s" % out)
        check(row(out, "2026-01-03") == [1, 0, 2000, 42, 1500, 0], "day 2 row:\n%s" % out)
        check(row(out, "a@example.com") == [2, 1, 100, 10, 1000, 5], "account a row:\n%s" % out)
        check(row(out, "b@example.com") == [1, 0, 2000, 42, 1500, 0], "account b row:\n%s" % out)
        check(row(out, "claude-sonnet-4-5") == [2, 1, 100, 10, 1000, 5], "model row:\n%s" % out)
        check(row(out, "claude-opus-4-1") == [1, 0, 2000, 42, 1500, 0], "model row:\n%s" % out)
        check(row(out, "TOTAL") == [3, 1, 2100, 52, 2500, 5], "total row:\n%s" % out)
        check("3 lines" in out, "bad lines not reported:\n%s" % out)


def test_usage_report_empty(ctx):
    with Case(ctx["pki"], upstream=False) as c:
        out = run_usage(c)
        check("no usage recorded" in out, "--usage on nothing said:\n%s" % out)


def test_usage_report_after_requests(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler(), usage_statistics_enabled=True) as c:
        for _ in range(2):
            r, err = pipe_ok(c, droid_request(droid_body(stream=True)))
            check(r.status == 200, "status %r" % r)
        out = run_usage(c)
        check(row(out, "user@example.com") == [2, 0, 2468, 642, 15780, 112], "account row:\n%s" % out)
        check(row(out, MODEL) == [2, 0, 2468, 642, 15780, 112], "model row:\n%s" % out)
        check(row(out, time.strftime("%Y-%m-%d", time.gmtime()))[0] == 2, "today's row:\n%s" % out)


# ------------------------------------------------------------ logs

def test_debug_log_no_credential_piece(ctx):
    client_key = "cpa-client-" + secrets.token_hex(12)
    cookie = "cfbm-" + secrets.token_hex(16)
    body_secret = "bodysecret-" + secrets.token_hex(12)
    extra = ("Set-Cookie: __cf_bm=%s; path=/; HttpOnly\r\n" % cookie).encode()
    with Case(ctx["pki"], handler=anthropic_stream_handler(extra=extra), debug=True, logging_to_file=True,
              usage_statistics_enabled=True, api_keys=[client_key]) as c:
        body = droid_body(stream=True, messages=[{"role": "user", "content": "remember " + body_secret}])
        data = droid_request(body, drop=["x-api-key"], add=[("x-api-key", client_key)])
        r, err = pipe_ok(c, data)
        check(r.status == 200, "status %r; stderr %s" % (r, short(err)))
        logs = os.path.join(c.dir, "logs")
        logfile = os.path.join(logs, "cli-proxy-api.log")
        check(os.path.isfile(logfile), "no %s; stderr %s" % (logfile, short(err)))
        check(os.stat(logs).st_mode & 0o777 == 0o700, "logs/ mode %o" % (os.stat(logs).st_mode & 0o777))
        check(os.stat(logfile).st_mode & 0o777 == 0o600, "log mode %o" % (os.stat(logfile).st_mode & 0o777))
        text = ""
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), "rb") as f:
                text += f.read().decode("utf-8", "replace")
        secrets_ = [c.token, c.refresh, client_key, cookie, body_secret]
        for where, s in (("stderr", err), ("logs/", text)):
            bad = leaked(s, secrets_)
            check(not bad, "%s holds %s" % (where, bad))
        # Not vacuous: the request line, the debug heads and their redaction are there.
        line = re.compile(r"POST /v1/messages \S+ 200 ")
        check(line.search(err), "no request line on stderr: %s" % short(err, 800))
        check(line.search(text), "no request line in the log file: %s" % short(text, 800))
        check("debug:" in err and "[redacted]" in err, "no redacted debug heads on stderr: %s" % short(err, 800))
        first = text.split("\n", 1)[0]
        check(len(first) > 21 and first[10] == "T" and first[19] == "Z", "no time stamp: %r" % first)


def test_log_file_rotates(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler(), logging_to_file=True, log_max_bytes=4096) as c:
        n = 80      # one log line each, about 80 bytes: past 4096 whatever debug adds
        rc, out, err = c.run_pipe(droid_request(droid_body(stream=True)) * n, timeout=60)
        rs = parse_responses(out, ["POST"] * n)
        check(len(rs) == n and all(r.status == 200 for r in rs), "want %d 200s; stderr %s" % (n, short(err)))
        logs = os.path.join(c.dir, "logs")
        cur, old = os.path.join(logs, "cli-proxy-api.log"), os.path.join(logs, "cli-proxy-api.log.1")
        check(os.path.exists(old), "no rotation: %s" % os.listdir(logs))
        check(os.path.getsize(cur) <= 4096 and os.path.getsize(old) <= 4096,
              "sizes %d, %d over log-max-bytes" % (os.path.getsize(cur), os.path.getsize(old)))
        with open(cur) as f, open(old) as g:
            both = g.read() + f.read()
        n_lines = len(re.findall(r"POST /v1/messages \S+ 200 ", both))
        check(n_lines >= 40, "lines lost in rotation: %d" % n_lines)


def test_no_log_file_by_default(ctx):
    with Case(ctx["pki"], handler=anthropic_stream_handler()) as c:
        r, err = pipe_ok(c, droid_request(droid_body(stream=True)))
        check(r.status == 200, "status %r" % r)
        check(not os.path.exists(os.path.join(c.dir, "logs")), "logs/ made without logging-to-file")
        check("logging-to-file" not in err, "key still warned as unused: %s" % short(err))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
