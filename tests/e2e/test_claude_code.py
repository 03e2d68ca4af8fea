"""End-to-end tests of first-party and third-party Claude requests.

Claude Code's own requests (fixtures captured from the real CLI, see
fixtures/claude-code-requests.txt) must reach the upstream byte for byte but
for the credential, Host, framing and the oauth beta. Requests from other
clients go openly; when Anthropic refuses a subscription for them, the
account is marked, the request moves to an account that may serve it, and
when none can the client is told why and what to do."""
import json
import os
import re
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
EXTRA_USAGE = ("Third-party apps now draw from your extra usage, not your plan limits. "
               "Add more at claude.ai/settings/usage and keep going.")
ONLY_CC = "This credential is only authorized for use with Claude Code and cannot be used for other API requests."


def fixture(name):
    """(request line, [(name, value)], body bytes, raw bytes) of a capture."""
    with open(os.path.join(FIXTURES, name), "rb") as f:
        raw = f.read()
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hs = [tuple(x.split(": ", 1)) for x in lines[1:]]
    n = [v for k, v in hs if k.lower() == "content-length"]
    check(n and int(n[0]) == len(body), "fixture %s: Content-Length does not match its body" % name)
    return lines[0], hs, body, raw


def error_json(etype, msg):
    return {"type": "error", "error": {"type": etype, "message": msg}, "request_id": "req_fake_err"}


def served(who):
    def h(req, conn):
        conn.send(json_response({"id": "msg_fake", "type": "message", "role": "assistant", "who": who,
                                 "content": [{"type": "text", "text": "hi"}]}))
        return True
    return h


def refusing(msg, who="sub"):
    """Anthropic since 2026: Claude Code's requests served, others refused."""
    def h(req, conn):
        if (req.header("user-agent") or "").startswith("claude-cli/"):
            return served(who)(req, conn)
        conn.send(json_response(error_json("invalid_request_error", msg), status="400 Bad Request"))
        return True
    return h


class World(Case):
    """Accounts by name: subscriptions (token files) and API keys on their
    own fake upstreams, each answering with its own handler."""

    def __init__(self, pki, subs=(), keys=(), **cfg):
        self.handlers = {}
        self.tokens = {}
        self.keyups = []
        for name, h in keys:
            self.keyups.append(FakeUpstream(pki, handler=h))
        cfg.setdefault("claude_api_key", [{"api-key": "sk-ant-api03-KEY%d-%s" % (i, secrets.token_hex(8)),
                                           "base-url": u.url} for i, u in enumerate(self.keyups)])
        super().__init__(pki, handler=self._route, token=False, **cfg)
        for name, h in subs:
            t = "sk-ant-oat01-%s-%s" % (name.upper(), secrets.token_hex(8))
            self.tokens[name] = t
            self.handlers[t] = h
            self.add_token("%s@example.com" % name, t)

    def _route(self, req, conn):
        a = req.header("authorization") or ""
        return self.handlers[a[7:]](req, conn)

    def sub_requests(self, name):
        return [q for q in self.up.requests if q.header("authorization") == "Bearer " + self.tokens[name]]

    def key_requests(self, i=0):
        return list(self.keyups[i].requests)

    def one(self, data):
        rc, out, err = self.run_pipe(data, timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        return rs[0], err

    def state(self):
        try:
            with open(os.path.join(self.auth, "state.json")) as f:
                return json.load(f)
        except OSError:
            return {}

    def cmd(self, flag):
        r = subprocess.run([BIN, "--config", self.cfg, flag], capture_output=True, timeout=30,
                           env=self.env(), stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def close(self):
        try:
            super().close()
        finally:
            for u in self.keyups:
                u.close()


def cc_request():
    """The captured Claude Code request (API key mode) as raw bytes."""
    return fixture("claude-code-apikey.http")[3]


# ------------------------------------------------------------ first-party, byte for byte

def _replay(ctx, name, api_key=False):
    line, hs, body, raw = fixture(name)
    key = "sk-ant-api03-" + secrets.token_hex(20)
    with Case(ctx["pki"], token=not api_key) as c:
        if api_key:
            c.cfg_values["claude-api-key"] = [{"api-key": key, "base-url": c.up.url}]
            c.write_config(c.cfg_values)
        rc, out, err = c.run_pipe(raw)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "%s: response %s; stderr %s" % (name, short(out), short(err)))
        check(len(c.up.requests) == 1, "%s: upstream saw %d requests" % (name, len(c.up.requests)))
        u = c.up.requests[0]
        check(u.target == line.split(" ")[1], "%s: target %r, sent %r" % (name, u.target, line))
        check(u.body == body, "%s: body differs from Claude Code's at byte %s" % (
            name, next((i for i, (a, b) in enumerate(zip(u.body, body)) if a != b), min(len(u.body), len(body)))))
        want = []
        for k, v in hs:
            lk = k.lower()
            if lk in ("x-api-key", "authorization"):
                want.append(("x-api-key", key) if api_key else ("Authorization", "Bearer " + c.token))
            elif lk == "host":
                want.append((k, "localhost:%d" % c.up.port))
            elif lk == "accept-encoding":
                want.append((k, "identity"))
            elif lk == "anthropic-beta" and not api_key and OAUTH_BETA not in v.split(","):
                want.append((k, v + "," + OAUTH_BETA))
            else:
                want.append((k, v))
        check(u.headers == want, "%s: upstream head differs:\n got %r\nwant %r" % (
            name, [h for h in u.headers if h not in want], [h for h in want if h not in u.headers]))
        check("claude-code" in err, "%s: log line does not name the client kind: %s" % (name, short(err)))


def test_claude_code_apikey_mode_byte_for_byte(ctx):
    _replay(ctx, "claude-code-apikey.http")


def test_claude_code_oauth_mode_byte_for_byte(ctx):
    _replay(ctx, "claude-code-oauth.http")


def test_claude_code_interactive_byte_for_byte(ctx):
    _replay(ctx, "claude-code-interactive-apikey.http")


def test_claude_code_with_request_hash_byte_for_byte(ctx):
    # Claude Code's cch= hash covers the body: one changed byte would void it.
    _replay(ctx, "claude-code-oauth-firstparty.http")


def test_claude_code_on_api_key_account(ctx):
    _replay(ctx, "claude-code-oauth.http", api_key=True)


def test_first_party_never_prefixed_when_line_not_first(ctx):
    # Billing block first, identity second: the old rule looked at the
    # first block only and put its own line in front.
    body = droid_body(system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=cli;"},
                              {"type": "text", "text": CC_LINE}, {"type": "text", "text": "prompt"}])
    raw = json.dumps(body, separators=(", ", ": ")).encode()
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(droid_request(raw))
        check(parse_responses(out, ["POST"])[0].status == 200, "status: %s" % short(out))
        check(c.up.requests[0].body == raw, "body changed: %s" % short(c.up.requests[0].body))


def test_third_party_still_prefixed_on_subscription(ctx):
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(droid_request())
        check(parse_responses(out, ["POST"])[0].status == 200, "status: %s" % short(out))
        sysb = c.up.requests[0].json()["system"]
        check(sysb[0] == {"type": "text", "text": CC_LINE}, "first block %r" % sysb[0])
        check("subscription third-party" in err, "log line: %s" % short(err))


# ------------------------------------------------------------ third-party refused

def test_refused_subscription_fails_over_to_api_key(ctx):
    with World(ctx["pki"], subs=[("sub", refusing(EXTRA_USAGE))], keys=[("key", served("api"))]) as w:
        for i in range(3):
            r, err = w.one(droid_request())
            check(r.status == 200 and r.json().get("who") == "api", "request %d: %r; stderr %s" % (i, r, short(err)))
        check(len(w.sub_requests("sub")) == 1, "the refusing subscription was asked %d times, want once per mark period"
              % len(w.sub_requests("sub")))
        kq = w.key_requests()
        check(len(kq) == 3, "api key account saw %d requests" % len(kq))
        for q in kq:
            check(q.header("x-api-key", ) and not q.header("authorization"), "key request head %r" % q.headers)
            check(OAUTH_BETA not in beta_list(q), "oauth beta sent with an API key: %r" % beta_list(q))
            check(CC_LINE not in json.dumps(q.json().get("system")), "Claude Code line injected for an API key")
        m = w.state()["accounts"]["claude-sub@example.com.json"]["refused"]["third_party"]
        check(m["reason"] == "extra usage off" and m["message"] == EXTRA_USAGE and abs(m["at"] - time.time()) < 60,
              "state.json mark %r" % m)
        rc, out, err = w.cmd("--status")
        line = [x for x in out.splitlines() if "sub@example.com" in x]
        check(rc == 0 and line and re.search(r"third-party use refused \d+m\d+s ago: extra usage off", line[0]),
              "--status: %s" % out)


def test_refused_without_api_key_explained(ctx):
    with World(ctx["pki"], subs=[("sub", refusing(EXTRA_USAGE))]) as w:
        for i in range(2):
            r, err = w.one(droid_request())
            msg = expect_error(r, 400, "invalid_request_error", retry_false=True)
            check(msg.startswith(EXTRA_USAGE), "Anthropic's words not kept: %s" % msg)
            for fix in ("extra usage", "claude-api-key", "Claude Code itself"):
                check(fix in msg, "request %d: the fix %r is not named: %s" % (i, fix, msg))
        check(len(w.sub_requests("sub")) == 1, "asked %d times" % len(w.sub_requests("sub")))


def test_refused_second_subscription_serves(ctx):
    with World(ctx["pki"], subs=[("a", refusing(ONLY_CC, "a")), ("b", served("b"))]) as w:
        got = [w.one(droid_request())[0] for _ in range(3)]
        check(all(r.status == 200 and r.json()["who"] == "b" for r in got), "answers %r" % got)
        check(len(w.sub_requests("a")) <= 1, "refusing account asked %d times" % len(w.sub_requests("a")))
        m = w.state()["accounts"].get("claude-a@example.com.json", {}).get("refused", {}).get("third_party")
        check(m and m["reason"] == "Claude Code only", "mark %r" % m)


def test_first_party_still_served_by_marked_account(ctx):
    with World(ctx["pki"], subs=[("sub", refusing(EXTRA_USAGE))], keys=[("key", served("api"))]) as w:
        r, err = w.one(droid_request())
        check(r.json().get("who") == "api", "third-party: %r" % r)
        r, err = w.one(cc_request())
        check(r.status == 200 and r.json().get("who") == "sub", "Claude Code's request: %r; stderr %s" % (r, short(err)))
        check("subscription claude-code" in err, "log line: %s" % short(err))


def test_first_party_refused_fails_over_and_explains(ctx):
    def refuse_all(req, conn):
        conn.send(json_response(error_json("invalid_request_error", EXTRA_USAGE), status="400 Bad Request"))
        return True
    with World(ctx["pki"], subs=[("sub", refuse_all)], keys=[("key", served("api"))]) as w:
        r, err = w.one(cc_request())
        check(r.status == 200 and r.json().get("who") == "api", "Claude Code's request: %r" % r)
        st = w.state()["accounts"]["claude-sub@example.com.json"]["refused"]
        check("first_party" in st and "third_party" not in st, "marks %r" % st)
    with World(ctx["pki"], subs=[("sub", refuse_all)]) as w:
        r, err = w.one(cc_request())
        msg = expect_error(r, 400, "invalid_request_error")
        check(msg.startswith(EXTRA_USAGE) and "without the proxy" in msg, "message: %s" % msg)


def test_other_400_passed_on_unmarked(ctx):
    def bad(req, conn):
        conn.send(json_response(error_json("invalid_request_error", "max_tokens: 999999 > 64000"),
                                status="400 Bad Request", extra=b"request-id: req_x\r\n"))
        return True
    with World(ctx["pki"], subs=[("sub", bad)], keys=[("key", served("api"))]) as w:
        r, err = w.one(droid_request())
        msg = expect_error(r, 400, "invalid_request_error")
        check(msg == "max_tokens: 999999 > 64000" and r.header("request-id") == "req_x", "answer %r" % r)
        check(not w.key_requests(), "an ordinary 400 moved to another account")
        check("refused" not in w.state().get("accounts", {}).get("claude-sub@example.com.json", {}),
              "an ordinary 400 marked the account")


LONG_CONTEXT = "Extra usage is required for long context requests."
BETA_1M = "context-1m-2025-08-07"


def gating(who):
    """A subscription without extra usage: a request with the 1M context
    beta gets Anthropic's 429 (no retry-after), the others are served."""
    def h(req, conn):
        if BETA_1M in beta_list(req):
            conn.send(json_response(error_json("rate_limit_error", LONG_CONTEXT), status="429 Too Many Requests"))
            return True
        return served(who)(req, conn)
    return h


def long_request():
    return droid_request(add=[("anthropic-beta", BETA_1M)])


def test_long_context_gate_is_no_cooldown(ctx):
    # The only account: Anthropic's 429 goes to the client as it is, asked
    # once, and the account keeps serving requests without the beta.
    with World(ctx["pki"], subs=[("sub", gating("sub"))]) as w:
        r, err = w.one(long_request())
        check(r.status == 429 and r.json()["error"] == {"type": "rate_limit_error", "message": LONG_CONTEXT},
              "the long context request: %r" % r)
        check(len(w.sub_requests("sub")) == 1, "asked %d times" % len(w.sub_requests("sub")))
        check("no extra usage for this request" in err, "log: %s" % short(err))
        a = w.state().get("accounts", {}).get("claude-sub@example.com.json", {})
        check("cooldown_until" not in a, "the account was cooled down: %r" % a)
        r, err = w.one(droid_request())
        check(r.status == 200 and r.json().get("who") == "sub", "the next request: %r; stderr %s" % (r, short(err)))


def test_long_context_gate_moves_to_an_account_that_can(ctx):
    with World(ctx["pki"], subs=[("a", gating("a")), ("b", served("b"))], routing="round-robin") as w:
        got = [w.one(long_request())[0] for _ in range(2)]
        check(all(r.status == 200 and r.json()["who"] == "b" for r in got), "answers %r" % got)
        r, err = w.one(droid_request())
        r2, err = w.one(droid_request())
        check(sorted([r.json()["who"], r2.json()["who"]]) == ["a", "b"], "a was passed over after the gate: %r %r"
              % (r, r2))


def test_mark_expires(ctx):
    with World(ctx["pki"], subs=[("sub", refusing(EXTRA_USAGE))], keys=[("key", served("api"))],
               claude_refusal_cooldown=2) as w:
        w.one(droid_request())
        w.one(droid_request())
        check(len(w.sub_requests("sub")) == 1, "asked %d times within the mark" % len(w.sub_requests("sub")))
        time.sleep(2.2)
        r, err = w.one(droid_request())
        check(r.json().get("who") == "api" and len(w.sub_requests("sub")) == 2,
              "after the mark: asked %d times" % len(w.sub_requests("sub")))


def test_setting_api_key_sends_third_party_to_keys_only(ctx):
    with World(ctx["pki"], subs=[("sub", served("sub"))], keys=[("key", served("api"))],
               claude_third_party="api-key") as w:
        r, _ = w.one(droid_request())
        check(r.json().get("who") == "api", "third-party went to %r" % r)
        r, _ = w.one(cc_request())
        check(r.json().get("who") == "sub", "Claude Code went to %r" % r)
    with World(ctx["pki"], subs=[("sub", served("sub"))], claude_third_party="api-key") as w:
        r, _ = w.one(droid_request())
        msg = expect_error(r, 401, "authentication_error")
        check("claude-api-key" in msg or "claude-third-party" in msg, "message %s" % msg)
        check(not w.sub_requests("sub"), "subscription asked")


def test_setting_refuse(ctx):
    with World(ctx["pki"], subs=[("sub", served("sub"))], keys=[("key", served("api"))],
               claude_third_party="refuse") as w:
        r, _ = w.one(droid_request())
        msg = expect_error(r, 400, "invalid_request_error", retry_false=True)
        check("claude-third-party: refuse" in msg and "claude-api-key" in msg, "message %s" % msg)
        check(not w.up.requests and not w.key_requests(), "the upstream was asked")
        r, _ = w.one(cc_request())
        check(r.status == 200 and r.json().get("who") == "sub", "Claude Code refused too: %r" % r)


def test_subscriptions_before_api_keys(ctx):
    with World(ctx["pki"], subs=[("sub", served("sub"))], keys=[("key", served("api"))]) as w:
        got = [w.one(droid_request())[0].json().get("who") for _ in range(3)]
        check(got == ["sub"] * 3, "order %r" % got)


def test_status_json_and_doctor_show_mark(ctx):
    with World(ctx["pki"], subs=[("sub", refusing(EXTRA_USAGE))], keys=[("key", served("api"))]) as w:
        w.one(droid_request())
        rc, out, err = w.run_pipe(request("GET", "/status.json", [("Host", "localhost")]))
        r = parse_responses(out, ["GET"])[0]
        accts = {a["id"]: a for a in r.json()["accounts"]}
        m = accts["claude-sub@example.com.json"]["refused"]["third_party"]
        check(m["reason"] == "extra usage off" and m["message"] == EXTRA_USAGE and 0 <= m["ago"] < 60,
              "status.json %r" % m)
        check(accts["claude-sub@example.com.json"]["refused"]["first_party"] is None, "first_party %r" % m)
        rc, out, err = w.run_pipe(request("GET", "/status", [("Host", "localhost")]))
        page = parse_responses(out, ["GET"])[0].body.decode()
        check("third-party use refused" in page and "extra usage off" in page, "page: %s" % short(page, 2000))
        rc, out, err = w.cmd("--doctor")
        check(re.search(r"warn.*sub@example.com: third-party use refused .* ago: extra usage off", out),
              "--doctor: %s" % out)


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
