"""Quotas known before the first request: the usage endpoints (Anthropic's
/api/oauth/usage and /api/oauth/profile, Codex's /backend-api/wham/usage)
asked sparingly by --status, --doctor, the status page, --refresh and the
placing of a new conversation; the plan and extra usage shown and used for
routing; and Claude Code's status line (--statusline) and set-up
(--setup-claude). The fake upstream answers the endpoints as
wire-facts.md shows them (lib.ProviderRules, lib.default_usage)."""
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403
from test_doctor import DocCase  # noqa: E402
from test_routing import Accounts, claude_quota  # noqa: E402
from test_store import StoreCase, TokenEndpoint  # noqa: E402

ISO = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(t))


def usage(five, seven, sonnet=None, extra=None):
    now = time.time()
    d = {"five_hour": {"utilization": five, "resets_at": ISO(now + 7800)},
         "seven_day": {"utilization": seven, "resets_at": ISO(now + 4 * 86400)},
         "seven_day_opus": None,
         "seven_day_sonnet": None if sonnet is None else {"utilization": sonnet,
                                                          "resets_at": ISO(now + 4 * 86400)},
         "extra_usage": extra or {"is_enabled": True, "monthly_limit": 5000, "used_credits": 320.0,
                                  "utilization": 6.4}}
    return d


def profile(tier="default_claude_max_20x", kind="claude_max", extra=True):
    return {"account": {"uuid": "u", "email": "x@example.com", "has_claude_max": kind == "claude_max",
                        "has_claude_pro": kind == "claude_pro"},
            "organization": {"uuid": "o", "organization_type": kind, "rate_limit_tier": tier,
                             "has_extra_usage_enabled": extra, "subscription_status": "active"}}


class World(DocCase):
    """Two Claude subscriptions (a, b) and a Codex account that have served
    nothing, every upstream the fake one."""

    def __init__(self, pki, **cfg):
        super().__init__(pki, token=False, **cfg)
        self.tok = {}
        for n in ("a", "b"):
            t = "sk-ant-oat01-%s-%s" % (n.upper(), secrets.token_hex(8))
            self.tok[n] = t
            self.secrets.append(t)
            self.add_token("%s@example.com" % n, t)
        with open(os.path.join(self.auth, "codex-coder@example.com.json")) as f:
            self.tok["codex"] = json.load(f)["access_token"]

    def status(self, timeout=30):
        t0 = time.monotonic()
        r = subprocess.run([BIN, "--config", self.cfg, "--status"], capture_output=True, timeout=timeout,
                           env=self.env(), stdin=subprocess.DEVNULL)
        took = time.monotonic() - t0
        out, err = r.stdout.decode(), r.stderr.decode()
        self.stderrs.append(err)
        check(r.returncode == 0, "--status exit %d: %s" % (r.returncode, err))
        for s in self.secrets:
            check(s not in out and s not in err, "a token was printed")
        return out, took

    def line(self, out, who):
        ln = [x for x in out.splitlines() if who in x]
        check(len(ln) == 1, "no one line for %s in:\n%s" % (who, out))
        return ln[0]

    def asks(self, kind=None):
        return [a for a in self.up.rules.usage_asks if kind is None or a[0] == kind]

    def state(self):
        with open(os.path.join(self.auth, "state.json")) as f:
            return json.load(f)


def test_status_before_any_request(ctx):
    with World(ctx["pki"]) as c:
        c.up.rules.usage[c.tok["a"]] = usage(48.0, 23.0, sonnet=5.0)
        c.up.rules.usage[c.tok["b"]] = usage(11.0, 64.0, extra={"is_enabled": False, "monthly_limit": None,
                                                                "used_credits": None, "utilization": None})
        c.up.rules.profile[c.tok["b"]] = profile("default_claude_pro", "claude_pro", extra=False)
        out, took = c.status()
        a, b, x = c.line(out, "a@example.com"), c.line(out, "b@example.com"), c.line(out, "coder@example.com")
        check("5h 48%" in a and "7d 23%" in a and "7d_sonnet 5%" in a, "a: %s" % a)
        check("Max 20x · extra usage on ($3.20 of $50.00)" in a, "a's plan: %s" % a)
        check("5h 11%" in b and "7d 64%" in b and "Pro · extra usage off" in b, "b: %s" % b)
        check("Plus" in x and "5h 7%" in x and "7d 30%" in x, "codex: %s" % x)
        n = len(c.asks())
        check(sorted(k for k, _, _ in c.asks()) == ["profile", "profile", "usage", "usage", "wham"],
              "asked %r" % c.asks())
        for _ in range(3):
            out2, _ = c.status()
            check("5h 48%" in c.line(out2, "a@example.com"), out2)
        check(len(c.asks()) == n, "asked again within usage-refresh: %r" % c.asks()[n:])
        check(all((ua or "").startswith("cli-proxy-api/") for _, _, ua in c.asks()),
              "a usage call under another user agent: %r" % c.asks())
        st = c.state()["accounts"]["claude-a@example.com.json"]
        check(st["quota"].get("src") == "api" and st["plan"]["name"] == "Max 20x", "state %r" % st)


def test_once_per_period_across_processes(ctx):
    with World(ctx["pki"]) as c:
        outs = []
        ts = [threading.Thread(target=lambda: outs.append(c.status())) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        check(len(outs) == 4, "a --status did not finish")
        per = {}
        for kind, tok, _ in c.asks():
            per[(kind, tok)] = per.get((kind, tok), 0) + 1
        check(per and all(v == 1 for v in per.values()), "asked more than once: %r" % per)


def test_429_backs_off_within_budget(ctx):
    with World(ctx["pki"]) as c:
        for t in (c.tok["a"], c.tok["b"]):
            c.up.rules.usage[t] = {"status": "429 Too Many Requests", "retry_after": 0,
                                   "body": {"error": {"type": "rate_limit_error", "message": "slow down"}}}
        c.up.rules.wham[c.tok["codex"]] = {"delay": 8}
        times = []
        for _ in range(3):
            out, took = c.status()
            times.append(took)
            check("a@example.com" in out, out)
        check(max(times) < 4, "--status waited past its 2 s budget: %r" % times)
        a429 = [a for a in c.asks("usage") if a[1] == c.tok["a"]]
        check(len(a429) == 1, "a 429ing endpoint asked %d times in three runs" % len(a429))
        u = c.state()["accounts"]["claude-a@example.com.json"]["usage_api"]
        check(u["backoff"] == 60 and u["wait_until"] > time.time() + 50, "backoff %r" % u)


def test_403_figures_from_answers_only(ctx):
    with World(ctx["pki"]) as c:
        c.up.rules.usage[c.tok["a"]] = {"status": "403 Forbidden", "body": {
            "type": "error", "error": {"type": "permission_error", "message": "missing scope user:profile"}}}
        out, _ = c.status()
        check("figures from answers only; log in again to get them" in c.line(out, "a@example.com"), out)
        c.status()
        check(len([a for a in c.asks("usage") if a[1] == c.tok["a"]]) == 1, "a 403 asked again")
        rc, lines = c.doctor()
        check(any("a@example.com" in ln and "log in again" in ln for ln in lines), "\n".join(lines))
        # A new login (another refresh token) asks again.
        t2 = "sk-ant-oat01-A2-" + secrets.token_hex(8)
        c.secrets.append(t2)
        c.add_token("a@example.com", t2)
        st = c.state()
        st["accounts"]["claude-a@example.com.json"]["usage_api"]["asked"] = 0
        c.write_json(os.path.join(c.auth, "state.json"), st)
        out, _ = c.status()
        check("log in again" not in c.line(out, "a@example.com") and "5h 11%" in c.line(out, "a@example.com"),
              "a new login still denied: %s" % out)


def test_401_refreshes_and_retries_once(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        d = c.put("a@example.com", expires_in=86400)
        c.up.rules.usage[d["access_token"]] = {"status": "401 Unauthorized"}
        r = subprocess.run([BIN, "--config", c.cfg, "--status"], capture_output=True, timeout=30, env=c.env(),
                           stdin=subprocess.DEVNULL)
        out = r.stdout.decode()
        check("5h 11%" in out, "figures after a refresh: %s %s" % (out, r.stderr.decode()))
        asks = [a for a in c.up.rules.usage_asks if a[0] == "usage"]
        check(len(asks) == 2 and asks[0][1] == d["access_token"] and asks[1][1] == tok.issued[0][0],
              "asks %r" % asks)
        check(tok.once.grants == 1, "%d grants" % tok.once.grants)


def test_status_page_and_json(ctx):
    with World(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(request("GET", "/status.json", [("Host", "localhost")]))
        r, = parse_responses(out, ["GET"])
        j = r.json()
        a = [x for x in j["accounts"] if x["email"] == "a@example.com"][0]
        check(a["plan"]["name"] == "Max 20x" and a["plan"]["extra_usage"] == {"enabled": True, "used": 1.2,
                                                                              "limit": 50.0}, "plan %r" % a["plan"])
        check(a["quota"]["source"] == "usage endpoint" and a["quota"]["stale"] is False, "quota %r" % a["quota"])
        rc, out, err = c.run_pipe(request("GET", "/status", [("Host", "localhost")]))
        r, = parse_responses(out, ["GET"])
        check(b"Max 20x &middot; extra usage on ($1.20 of $50.00)" in r.body, "page: %s" % short(r.body, 2000))


def test_stale_figures_shown_with_their_age(ctx):
    with World(ctx["pki"]) as c:
        c.up.rules.usage[c.tok["a"]] = {"status": "403 Forbidden"}
        now = int(time.time())
        c.write_json(os.path.join(c.auth, "state.json"), {"accounts": {"claude-a@example.com.json": {
            "quota": {"at": now - 12 * 60, "windows": {"5h": {"used": 0.48, "reset": now + 3600}}}}}})
        out, _ = c.status()
        check(re.search(r"5h 48% \(resets in .*\) · 12m\d\ds ago", c.line(out, "a@example.com")),
              "no age: %s" % out)


def test_codex_windows_by_length(ctx):
    with World(ctx["pki"]) as c:
        now = int(time.time())
        c.up.rules.wham[c.tok["codex"]] = {
            "plan_type": "pro", "rate_limit": {"allowed": True, "limit_reached": False,
                                               "primary_window": {"used_percent": 40, "limit_window_seconds": 604800,
                                                                  "reset_after_seconds": 100000,
                                                                  "reset_at": now + 100000},
                                               "secondary_window": None},
            "credits": {"has_credits": True, "unlimited": False, "balance": "12.5"}}
        out, _ = c.status()
        x = c.line(out, "coder@example.com")
        check("7d 40%" in x and "5h" not in x and "Pro" in x, "codex: %s" % x)


def test_new_conversation_placed_by_endpoint_figures(ctx):
    with Accounts(ctx["pki"], ["a", "b"], usage_endpoint=True) as w:
        tok = {n: t for t, n in w.tokens.items()}
        w.up.rules.usage[tok["a"]] = usage(71.0, 40.0)
        w.up.rules.usage[tok["b"]] = usage(13.0, 20.0)
        check(w.ask("c1") == "b", "a new conversation did not go to b (13 %)")
        n = len(w.up.rules.usage_asks)
        check(sorted(k for k, _, _ in w.up.rules.usage_asks) == ["profile", "profile", "usage", "usage"],
              "asked %r" % w.up.rules.usage_asks)
        check(w.ask("c2") == "b" and len(w.up.rules.usage_asks) == n, "asked again for a second conversation")


def test_extra_usage_off_passed_over_for_third_party(ctx):
    with Accounts(ctx["pki"], ["a", "b"], usage_endpoint=True) as w:
        tok = {n: t for t, n in w.tokens.items()}
        w.refuse.add("a")          # Anthropic refuses other apps there: extra usage is off
        w.up.rules.profile[tok["a"]] = profile(extra=False)
        w.up.rules.usage[tok["a"]] = usage(5.0, 5.0, extra={"is_enabled": False, "monthly_limit": None,
                                                              "used_credits": None, "utilization": None})
        w.up.rules.usage[tok["b"]] = usage(50.0, 50.0)
        rc, out, err = w.cmd("--status")
        check("extra usage off" in out, out)
        for i in range(3):
            check(w.ask("c%d" % i) == "b", "a third-party request did not go to b")
        check("a" not in w.served, "the subscription without extra usage was asked: %r" % w.served)


# ------------------------------------------------------------ status line

def cc_json(sid, five=None):
    d = {"session_id": sid, "session_name": "s", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp",
         "model": {"id": "claude-sonnet-5", "display_name": "Sonnet 5"}, "version": "2.1.240",
         "workspace": {"current_dir": "/tmp", "project_dir": "/tmp"}, "cost": {"total_cost_usd": 0.12},
         "context_window": {"used_percentage": 12}}
    if five is not None:
        d["rate_limits"] = {"five_hour": {"used_percentage": five, "resets_at": int(time.time()) + 3600},
                            "seven_day": {"used_percentage": 3, "resets_at": int(time.time()) + 86400 * 3}}
    return json.dumps(d).encode()


def statusline(c, data, cfg=None, env=None):
    e = c.env()
    e.pop("NO_COLOR", None)
    e.update(env or {})
    t0 = time.monotonic()
    r = subprocess.run([BIN, "--config", cfg or c.cfg, "--statusline"], input=data, capture_output=True,
                       timeout=10, env=e)
    took = time.monotonic() - t0
    out = r.stdout.decode()
    check(r.returncode == 0, "--statusline exit %d: %s" % (r.returncode, r.stderr.decode()))
    check(out.count("\n") == 1 and out.endswith("\n"), "not one line: %r" % out)
    return out.rstrip("\n"), took


def test_statusline_names_the_sessions_account(ctx):
    sid = "0b6c3f1e-7d2a-4c55-9a10-3f2e1d0c9b8a"
    with Accounts(ctx["pki"], ["a", "b"]) as w:
        w.quota = {"a": claude_quota(0.71), "b": claude_quota(0.13)}
        w.ask("p1"), w.ask("p2")               # both accounts' figures known
        check(w.ask("cc", session=sid) == "b", "the session did not go to b")
        asked = len(w.up.rules.usage_asks)
        line, took = statusline(w, cc_json(sid), env={"NO_COLOR": "1"})
        check(line.startswith("b@example.com · 5h 13%") and "pool 2 of 2 free" in line, line)
        check("\x1b" not in line, "colour with NO_COLOR set: %r" % line)
        check(took < 1.0, "took %.2f s" % took)
        line, _ = statusline(w, cc_json(sid))
        check("\x1b[" in line and "b@example.com" in line, "no colour: %r" % line)
        # The account moves (a used up): the line follows the table.
        w.reject.add("b")
        check(w.ask("cc", session=sid) == "a", "the session did not move to a")
        asked = len(w.up.rules.usage_asks)
        line, _ = statusline(w, cc_json(sid), env={"NO_COLOR": "1"})
        check(line.startswith("a@example.com"), line)
        check(len(w.up.rules.usage_asks) == asked, "the status line made a provider be asked")


def test_statusline_new_session_and_fallbacks(ctx):
    with Accounts(ctx["pki"], ["a", "b"]) as w:
        w.quota = {"a": claude_quota(0.71), "b": claude_quota(0.13)}
        w.ask("p1"), w.ask("p2")
        line, _ = statusline(w, cc_json("11111111-2222-3333-4444-555555555555"), env={"NO_COLOR": "1"})
        check(line.startswith("b@example.com"), "a new session: not the account it would get: %s" % line)
        # Another user's proxy: auth-dir out of reach here, the proxy's
        # /status.json on 127.0.0.1 is asked.
        port = free_port()
        w.cfg_values["port"] = port
        w.write_config(w.cfg_values)
        srv = w.spawn_serve()
        connect(port).close()
        other = dict(w.cfg_values, **{"auth-dir": os.path.join(w.dir, "not-mine")})
        cfg2 = w.write_config(other, name="mine.yaml")
        line, took = statusline(w, cc_json("11111111-2222-3333-4444-555555555555"), cfg=cfg2,
                                env={"NO_COLOR": "1"})
        check(line.startswith("b@example.com · 5h 13%"), "through /status.json: %s" % line)
        srv.kill()
        # Neither: Claude Code's own figures, and why.
        line, _ = statusline(w, cc_json("x", five=42), cfg=cfg2, env={"NO_COLOR": "1"})
        check("5h 42%" in line and "cli-proxy-api:" in line, line)
        line, _ = statusline(w, b"not json", cfg=cfg2, env={"NO_COLOR": "1"})
        check(line.startswith("cli-proxy-api:"), line)


def test_setup_claude(ctx):
    with World(ctx["pki"]) as c:
        path = os.path.join(c.dir, ".claude", "settings.json")
        r = subprocess.run([BIN, "--config", c.cfg, "--setup-claude", "--dry-run"], capture_output=True,
                           timeout=10, env=c.env())
        check(r.returncode == 0, "exit %d %s" % (r.returncode, r.stderr.decode()))
        j = json.loads(r.stdout)
        check(j["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:%d" % c.port and
              j["env"]["ANTHROPIC_API_KEY"] == "dummy", "env %r" % j["env"])
        sl = j["statusLine"]
        check(sl["type"] == "command" and sl["command"].endswith("--statusline") and "--config" in sl["command"]
              and sl["padding"] == 0 and sl["refreshInterval"] == 10, "statusLine %r" % sl)
        check(not os.path.exists(path), "dry run wrote")
        c.write_json(path, {"model": "opus", "env": {"FOO": "1", "ANTHROPIC_AUTH_TOKEN": "mine"},
                            "permissions": {"allow": ["Bash(ls)"]}})
        r = subprocess.run([BIN, "--config", c.cfg, "--setup-claude"], capture_output=True, timeout=10,
                           env=c.env())
        check(r.returncode == 0, r.stderr.decode())
        with open(path) as f:
            j = json.load(f)
        check(j["model"] == "opus" and j["permissions"] == {"allow": ["Bash(ls)"]} and j["env"]["FOO"] == "1"
              and j["env"]["ANTHROPIC_AUTH_TOKEN"] == "mine" and "ANTHROPIC_API_KEY" not in j["env"],
              "the user's settings changed: %r" % j)
        check(os.path.exists(path + ".bak"), "no backup")
        # The command it wrote is Claude Code's status line.
        out = subprocess.run(sl["command"], shell=True, input=cc_json("x"), capture_output=True, timeout=10,
                             env=c.env()).stdout.decode()
        check(out.count("\n") == 1 and ("a@example.com" in out or "b@example.com" in out), out)
        c.write_json(path, "{not json")
        r = subprocess.run([BIN, "--config", c.cfg, "--setup-claude"], capture_output=True, timeout=10,
                           env=c.env())
        check(r.returncode == 117 and "not valid JSON" in r.stderr.decode(), "exit %d" % r.returncode)


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
