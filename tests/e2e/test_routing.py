"""End-to-end tests of quota-aware, sticky routing: every answer's quota
headers are kept per account, a conversation stays on its account, a new
one goes where the most headroom is, a rejected account is passed over and
its conversations move once; --status, /status.json and --doctor show the
windows. The fake upstreams answer with the headers Anthropic and Codex
send."""
import json
import os
import re
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403


def claude_quota(used5, used7=0.40, status="allowed", claim="five_hour", reset5=2520):
    now = int(time.time())
    h = ("anthropic-ratelimit-unified-status: %s\r\n"
         "anthropic-ratelimit-unified-5h-status: %s\r\n"
         "anthropic-ratelimit-unified-5h-utilization: %s\r\n"
         "anthropic-ratelimit-unified-5h-reset: %d\r\n"
         "anthropic-ratelimit-unified-7d-status: allowed\r\n"
         "anthropic-ratelimit-unified-7d-utilization: %s\r\n"
         "anthropic-ratelimit-unified-7d-reset: %d\r\n"
         "anthropic-ratelimit-unified-representative-claim: %s\r\n"
         "anthropic-ratelimit-unified-reset: %d\r\n") % (
        status, status, used5, now + reset5, used7, now + 3 * 86400, claim, now + reset5)
    return h.encode()


class Accounts(Case):
    """Claude subscriptions by name, each answering with its own quota
    headers (a function of the request), recorded per request."""

    def __init__(self, pki, names, usage_endpoint=False, **cfg):
        self.quota = {}
        self.tokens = {}
        self.served = []
        self.reject = set()
        self.limited = {}       # name: retry-after of a 429 (no figures)
        self.refuse = set()     # 400: third-party use refused (extra usage off)
        self.gated = set()      # 429: the extra-usage gate on this request
        super().__init__(pki, handler=self._handle, token=False, **cfg)
        for n in names:
            t = "sk-ant-oat01-%s-%s" % (n.upper(), secrets.token_hex(8))
            self.tokens[t] = n
            self.add_token("%s@example.com" % n, t)
            # These accounts' figures come from their answers' headers
            # only: their tokens lack the scope the usage endpoint wants
            # (test_figures.py has the endpoint's own).
            if not usage_endpoint:
                for kind in (self.up.rules.usage, self.up.rules.profile):
                    kind[t] = {"status": "403 Forbidden"}

    def _handle(self, req, conn):
        a = req.header("authorization") or ""
        who = self.tokens.get(a[7:], "?")
        self.served.append(who)
        said = {"refuse": ("400 Bad Request", "invalid_request_error", "Third-party apps now draw from your "
                           "extra usage, not your plan limits. Add more at claude.ai/settings/usage and keep going."),
                "gated": ("429 Too Many Requests", "rate_limit_error",
                          "Extra usage is required for long context requests."),
                "limited": ("429 Too Many Requests", "rate_limit_error", "Number of requests has exceeded your "
                            "rate limit")}
        for what in ("refuse", "gated", "limited"):
            if who in getattr(self, what):
                status, etype, msg = said[what]
                extra = b"retry-after: %d\r\n" % self.limited[who] if what == "limited" else b""
                conn.send(json_response({"type": "error", "error": {"type": etype, "message": msg}},
                                        status=status, extra=extra))
                return True
        if who in self.reject:
            conn.send(json_response({"type": "error", "error": {"type": "rate_limit_error",
                                                                "message": "limit reached"}},
                                    status="429 Too Many Requests",
                                    extra=claude_quota(1.0, status="rejected")))
            return True
        conn.send(json_response({"id": "msg", "type": "message", "who": who,
                                 "content": [{"type": "text", "text": "hi"}]},
                                extra=self.quota.get(who, b"")))
        return True

    def ask(self, conv, session=None):
        """One request of conversation conv (its system prompt); returns who served."""
        body = droid_body(system=[{"type": "text", "text": "conversation %s" % conv}])
        add = [("X-Claude-Code-Session-Id", session)] if session else []
        rc, out, err = self.run_pipe(droid_request(body, add=add), timeout=30)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "conversation %s: %s; stderr %s" % (conv, short(out), short(err)))
        return rs[0].json()["who"]

    def state(self):
        with open(os.path.join(self.auth, "state.json")) as f:
            return json.load(f)

    def cmd(self, flag):
        r = subprocess.run([BIN, "--config", self.cfg, flag], capture_output=True, timeout=30,
                           env=self.env(), stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode(), r.stderr.decode()


def primed(ctx, **cfg):
    """a at 71 % and b at 13 % of their 5-hour window, both known."""
    w = Accounts(ctx["pki"], ["a", "b"], **cfg)
    w.quota = {"a": claude_quota(0.71), "b": claude_quota(0.13, used7=0.05)}
    got = {w.ask("prime-1"), w.ask("prime-2")}
    check(got == {"a", "b"}, "priming went to %r, want both accounts (round-robin while figures are unknown)" % got)
    return w


def test_quota_recorded_from_every_answer(ctx):
    with primed(ctx) as w:
        q = w.state()["accounts"]["claude-a@example.com.json"]["quota"]
        check(q["status"] == "allowed" and q["claim"] == "5h", "quota %r" % q)
        check(abs(q["windows"]["5h"]["used"] - 0.71) < 1e-9 and abs(q["windows"]["7d"]["used"] - 0.40) < 1e-9,
              "windows %r" % q["windows"])
        check(abs(q["windows"]["5h"]["reset"] - (time.time() + 2520)) < 120, "5h reset %r" % q["windows"]["5h"])


def test_new_conversations_go_to_headroom(ctx):
    with primed(ctx) as w:
        got = [w.ask("new-%d" % i) for i in range(5)]
        check(got == ["b"] * 5, "new conversations went to %r, want all on b (13 %%)" % got)


def test_conversation_stays_on_its_account(ctx):
    with primed(ctx) as w:
        first = w.served[0]          # prime-1 went here, whichever it was
        conv = "prime-1"
        got = [w.ask(conv) for _ in range(4)]
        check(got == [first] * 4, "conversation on %s went to %r" % (first, got))


def test_rejected_moves_conversation_once(ctx):
    with primed(ctx) as w:
        conv = "prime-%d" % (1 if w.served[0] == "a" else 2)
        check(w.ask(conv) == "a", "conversation not on a before the test")
        w.reject.add("a")
        n = len(w.served)
        check(w.ask(conv) == "b", "the client did not get its answer from b")
        check(w.served[n:] == ["a", "b"], "upstream saw %r, want a (429 rejected) then b" % w.served[n:])
        w.reject.discard("a")
        n = len(w.served)
        got = [w.ask(conv) for _ in range(3)]
        check(got == ["b"] * 3 and w.served[n:] == ["b"] * 3,
              "after the move: %r (upstream %r), want it to stay on b" % (got, w.served[n:]))
        q = w.state()["accounts"]["claude-a@example.com.json"]["quota"]
        check(q["status"] == "rejected", "a's status not kept: %r" % q)


def test_used_up_account_passed_over_without_429(ctx):
    with primed(ctx) as w:
        w.quota["b"] = claude_quota(1.0, status="allowed_warning")
        w.ask("prime-%d" % (1 if w.served[0] == "b" else 2))   # b's answer says 100 %
        n = len(w.served)
        got = [w.ask("fresh-%d" % i) for i in range(3)]
        check(got == ["a"] * 3 and w.served[n:] == ["a"] * 3,
              "b at 100 %% still asked: %r" % w.served[n:])


def test_steady_state_writes_nothing(ctx):
    with primed(ctx) as w:
        conv = "prime-1"
        w.ask(conv)
        files = [os.path.join(w.auth, f) for f in ("state.json", "conversations")]
        before = [(os.stat(f).st_ino, os.stat(f).st_mtime_ns) for f in files]
        for _ in range(5):
            w.ask(conv)
        after = [(os.stat(f).st_ino, os.stat(f).st_mtime_ns) for f in files]
        check(before == after, "a known conversation with unchanged figures rewrote %r" %
              [os.path.basename(f) for f, b, a in zip(files, before, after) if b != a])


def test_one_account_keeps_no_table(ctx):
    # With no choice of account there is nothing to stick to: no table is
    # written, and the conversation is not even named.
    with Accounts(ctx["pki"], ["a"]) as w:
        w.quota = {"a": claude_quota(0.5)}
        got = [w.ask("only", session="s-1"), w.ask("only")]
        check(got == ["a", "a"], "one account served %r" % got)
        check(not os.path.exists(os.path.join(w.auth, "conversations")),
              "one account, yet a conversations table was written")
        w.add_token("b@example.com", "sk-ant-oat01-B-" + secrets.token_hex(8))
        w.ask("only")
        check(os.path.exists(os.path.join(w.auth, "conversations")),
              "with a second account the conversation was not recorded")


def test_conversation_named_by_session_header(ctx):
    with primed(ctx) as w:
        sid = "00000000-0000-4000-8000-%012d" % 7
        first = w.ask("one text", session=sid)
        got = [w.ask("other text %d" % i, session=sid) for i in range(3)]
        check(got == [first] * 3, "session %s moved: %s then %r" % (sid, first, got))


def test_table_holds_no_prompt_or_session(ctx):
    with primed(ctx) as w:
        sid = "11111111-2222-4333-8444-555555555555"
        w.ask("secret prompt words", session=sid)
        with open(os.path.join(w.auth, "conversations")) as f:
            text = f.read()
        check(sid not in text and "secret prompt" not in text and "conversation" not in text,
              "the table keeps what it should only hash: %s" % short(text))
        for ln in text.splitlines():
            check(re.fullmatch(r"[0-9a-f]{32} \d+ claude-[ab]@example\.com\.json", ln), "table line %r" % ln)


def test_round_robin_setting(ctx):
    with primed(ctx, routing="round-robin") as w:
        got = [w.ask("same") for _ in range(4)]
        check(sorted(got) == ["a", "a", "b", "b"], "round-robin gave %r" % got)


def test_status_shows_windows(ctx):
    with primed(ctx) as w:
        rc, out, err = w.cmd("--status")
        line = [x for x in out.splitlines() if "a@example.com" in x]
        check(rc == 0 and line and re.search(r"5h 71% \(resets in (41|42)m\d\ds\) · 7d 40% \(resets in (2d23h|3d0h)\)",
                                             line[0]), "--status: %s" % out)
        check("allowed" in line[0], "--status lacks the status: %s" % line[0])
        rc, out, err = w.run_pipe(request("GET", "/status.json", [("Host", "localhost")]))
        accts = {a["id"]: a for a in parse_responses(out, ["GET"])[0].json()["accounts"]}
        q = accts["claude-b@example.com.json"]["quota"]
        wins = {x["name"]: x for x in q["windows"]}
        check(abs(wins["5h"]["used"] - 0.13) < 1e-9 and 2400 < wins["5h"]["resets_in"] <= 2520 and
              q["status"] == "allowed" and q["claim"] == "5h", "status.json quota %r" % q)
        rc, out, err = w.run_pipe(request("GET", "/status", [("Host", "localhost")]))
        page = parse_responses(out, ["GET"])[0].body.decode()
        check(re.search(r"5h 71%.*resets in 4[12]m", page) and "<svg" in page, "page: %s" % short(page, 3000))


def test_page_marks_warning_and_doctor_warns(ctx):
    with primed(ctx) as w:
        w.quota["a"] = claude_quota(0.93, status="allowed_warning")
        w.ask("prime-%d" % (1 if w.served[0] == "a" else 2))
        rc, out, err = w.run_pipe(request("GET", "/status", [("Host", "localhost")]))
        page = parse_responses(out, ["GET"])[0].body.decode()
        check('<div class="warn">allowed_warning</div>' in page, "page does not mark the warning")
        rc, out, err = w.cmd("--doctor")
        check(re.search(r"warn .*a@example.com: its 5h window is at 93%; it resets in 4[12]m", out),
              "--doctor: %s" % out)


def test_codex_windows_shown(ctx):
    def h(req, conn):
        body = (b'event: response.completed\ndata: {"type":"response.completed","response":'
                b'{"id":"r","object":"response","status":"completed","output":[],'
                b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n')
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"x-codex-primary-used-percent: 42\r\nx-codex-primary-window-minutes: 300\r\n"
                  b"x-codex-primary-reset-after-seconds: 3600\r\n"
                  b"x-codex-secondary-used-percent: 7\r\nx-codex-secondary-window-minutes: 10080\r\n"
                  b"x-codex-secondary-reset-after-seconds: 400000\r\n"
                  b"x-codex-credits-has-credits: false\r\nx-codex-credits-unlimited: false\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return True
    with Case(ctx["pki"], handler=h, token=False) as c:
        c.cfg_values["codex-base-url"] = c.up.url
        c.write_config(c.cfg_values)
        now = time.time()
        with open(os.path.join(c.auth, "codex-c@example.com.json"), "w") as f:
            json.dump({"type": "codex", "access_token": "codex-at-" + secrets.token_hex(8),
                       "refresh_token": "rt", "account_id": "acct-c", "email": "c@example.com",
                       "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86400 * 9))}, f)
        os.chmod(os.path.join(c.auth, "codex-c@example.com.json"), 0o600)
        hs = [("Host", "x"), ("Content-Type", "application/json"), ("Authorization", "Bearer dummy")]
        rc, out, err = c.run_pipe(request("POST", "/v1/responses", hs,
                                          {"model": "gpt-5.5", "input": "hi", "stream": True}))
        check(parse_responses(out, ["POST"])[0].status == 200, "codex request: %s %s" % (short(out), short(err)))
        r = subprocess.run([BIN, "--config", c.cfg, "--status"], capture_output=True, timeout=30,
                           env=c.env(), stdin=subprocess.DEVNULL)
        line = r.stdout.decode()
        check(re.search(r"c@example.com .*5h 42% \(resets in (59m\d\ds|1h00m)\) · 7d 7% \(resets in 4d15h\)", line),
              "--status: %s" % line)
        rc, out, err = c.run_pipe(request("GET", "/status.json", [("Host", "localhost")]))
        a = parse_responses(out, ["GET"])[0].json()["accounts"][0]
        wins = {x["name"]: x["used"] for x in a["quota"]["windows"]}
        check(wins == {"5h": 0.42, "7d": 0.07} and a["quota"]["credits"]["has_credits"] is False,
              "status.json codex quota %r" % a["quota"])


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
