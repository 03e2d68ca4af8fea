"""End-to-end tests of the token store: refresh under flock at a fake Claude
token endpoint (a TLS server on localhost), atomic token files, several
accounts in round-robin, cooldowns after 429, failover on 5xx, a 401 that
forces a refresh, invalid_grant, API key accounts, --status and --refresh.

Each test has its own auth-dir, fake upstream and fake token endpoint; every
proxy process is killed and every server thread stopped at the end."""
import json
import os
import random
import secrets
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
EX_ACCOUNTS = 114
TOKEN_PATH = "/v1/oauth/token"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_rfc3339(s):
    import calendar
    check(isinstance(s, str) and s.endswith("Z") and len(s) >= 20, "expired not RFC 3339 UTC: %r" % (s,))
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def new_access(tag="NEW"):
    return "sk-ant-oat01-%s-%s" % (tag, secrets.token_hex(12))


def new_refresh(tag="RT"):
    return "sk-ant-ort01-%s-%s" % (tag, secrets.token_hex(12))


def error_json(etype, msg):
    return {"type": "error", "error": {"type": etype, "message": msg}, "request_id": "req_fake_err"}


def ok_response(req, conn, who="?"):
    conn.send(json_response({"id": "msg_fake", "type": "message", "role": "assistant", "who": who,
                             "content": [{"type": "text", "text": "hi"}]}))
    return True


# ------------------------------------------------------------ fake token endpoint

class TokenEndpoint:
    """A TLS server standing in for https://platform.claude.com/v1/oauth/token.
    answer(req, n) returns (status line, JSON object, extra header bytes);
    n counts token requests from 1. As the real one, it lets each refresh
    token work once (lib.OneUse): a reused one gets invalid_grant whatever
    answer says. delay: seconds before answering; gate: an Event the
    answer waits for (released by close())."""

    def __init__(self, pki, answer=None, delay=0.0, gate=None):
        self.answer = answer or self.rotate
        self.once = OneUse()
        self.delay = delay
        self.gate = gate
        self.issued = []       # (access, refresh) pairs handed out
        self.n = 0
        self.nlock = threading.Lock()
        self.srv = FakeUpstream(pki, handler=self._handle)
        self.srv.lsock.listen(128)
        self.url = self.srv.url + TOKEN_PATH
        self.received = threading.Event()

    @property
    def requests(self):
        with self.srv.lock:
            return list(self.srv.requests)

    def rotate(self, req, n, refresh=True, expires_in=28800):
        at, rt = new_access("REFRESHED%d" % n), new_refresh("ROTATED%d" % n) if refresh else None
        with self.nlock:
            self.issued.append((at, rt))
        body = {"access_token": at, "expires_in": expires_in, "token_type": "Bearer",
                "organization": {"uuid": "org-1", "name": "Org"},
                "account": {"uuid": "acct-1", "email_address": "user@example.com"}}
        if rt:
            body["refresh_token"] = rt
        return "200 OK", body, b""

    def _handle(self, req, conn):
        with self.nlock:
            self.n += 1
            n = self.n
        self.received.set()
        if self.gate is not None:
            end = time.monotonic() + 20
            while not self.gate.is_set() and not self.srv.stop.is_set() and time.monotonic() < end:
                self.gate.wait(0.05)
        if self.delay:
            self.srv.stop.wait(self.delay)
        if self.srv.stop.is_set():
            return False
        status, obj, extra = self.once.answer(req.body, req.header("content-type"),
                                              lambda: self.answer(req, n))
        conn.send(json_response(obj, status=status, extra=extra, close=True))
        return False

    def close(self):
        if self.gate is not None:
            self.gate.set()
        self.srv.close()


def invalid_grant(req, n):
    return "400 Bad Request", {"error": "invalid_grant", "error_description": "Invalid refresh token"}, b""


# ------------------------------------------------------------ the test world

class StoreCase(Case):
    """A Case with a fake token endpoint (claude-token-url) and helpers for
    token files, state and the --status / --refresh commands."""

    def __init__(self, pki, handler=None, tok=None, token_url=None, **cfg):
        self.tok = tok
        self.extra = []
        if token_url is None:
            token_url = tok.url if tok else "https://localhost:%d%s" % (free_port(), TOKEN_PATH)
        cfg.setdefault("token_timeout", 5)
        try:
            super().__init__(pki, handler=handler, token=False, claude_token_url=token_url, **cfg)
        except BaseException:
            if tok:
                tok.close()
            raise

    def path(self, email):
        return os.path.join(self.auth, "claude-%s.json" % email)

    def put(self, email, access=None, refresh=None, expires_in=86400, **extra):
        """Write claude-EMAIL.json (0600); returns the dict written."""
        now = time.time()
        d = {"type": "claude", "access_token": access or new_access("OLD"),
             "refresh_token": refresh or new_refresh("OLD"), "email": email,
             "expired": rfc3339(now + expires_in), "last_refresh": rfc3339(now - 3600), "id_token": ""}
        d.update(extra)
        fd = os.open(self.path(email), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        return d

    def read(self, email):
        p = self.path(email)
        with open(p) as f:
            text = f.read()
        check(text.strip(), "token file %s is empty" % p)
        try:
            d = json.loads(text)
        except ValueError:
            raise TestFailure("token file %s is not JSON: %s" % (p, short(text)))
        check(isinstance(d, dict), "token file %s is not an object" % p)
        return d

    def mode(self, email):
        return stat.S_IMODE(os.stat(self.path(email)).st_mode)

    def one(self, data=None, timeout=30):
        """One request on a pipe: (response, stderr)."""
        rc, out, err = self.run_pipe(data or droid_request(), timeout=timeout)
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        return rs[0], err

    def ok(self, data=None):
        r, err = self.one(data)
        check(r.status == 200, "want 200, got %r; stderr %s" % (r, short(err, 600)))
        return r, err

    def cmd(self, flag, timeout=30):
        r = subprocess.run([BIN, "--config", self.cfg, flag], capture_output=True, timeout=timeout,
                           env=self.env(), stdin=subprocess.DEVNULL)
        out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
        self.stderrs.append(err)
        return r.returncode, out, err

    def status(self):
        rc, out, err = self.cmd("--status")
        check(rc == 0, "--status exit %s; stderr %s" % (rc, short(err)))
        return out, err

    def status_line(self, out, email):
        ls = [ln for ln in out.splitlines() if email in ln]
        check(len(ls) == 1, "want one --status line for %s, got %r" % (email, out))
        return ls[0]

    def upstream_tokens(self):
        return [q.header("authorization") for q in self.up.requests]

    def close(self):
        try:
            super().close()
        finally:
            if self.tok:
                self.tok.close()
            for x in self.extra:
                x.close()


def bearer(t):
    return "Bearer " + t


def by_token(table, default=None):
    """Upstream handler: table maps access token -> handler(req, conn)."""
    def h(req, conn):
        a = req.header("authorization") or ""
        t = a[7:] if a.startswith("Bearer ") else None
        fn = table.get(t, default)
        if fn is None:
            conn.send(json_response(error_json("authentication_error", "invalid x-api-key"),
                                    status="401 Unauthorized"))
            return True
        return fn(req, conn)
    return h


def answer_429(retry_after=None, extra=b""):
    def h(req, conn):
        e = extra + (("retry-after: %s\r\n" % retry_after).encode() if retry_after is not None else b"")
        conn.send(json_response(error_json("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
                                status="429 Too Many Requests", extra=e))
        return True
    return h


def who(r):
    return r.json().get("who")


# ------------------------------------------------------------ refresh

def test_stale_token_refreshed_once_exact_body(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        table = {}
        c.up.handler = by_token(table)
        old = c.put("user@example.com", expires_in=600,   # within the 4 h lead
                    custom_field={"keep": [1, 2, 3]}, note="unknown fields stay")
        table[old["access_token"]] = lambda q, k: ok_response(q, k, "old")
        t0 = time.time()
        tok.answer = lambda q, n: ("200 OK", {"access_token": new, "refresh_token": rt2, "expires_in": 28800,
                                              "token_type": "Bearer"}, b"")
        new, rt2 = new_access("REFRESHED"), new_refresh("ROTATED")
        table[new] = lambda q, k: ok_response(q, k, "new")

        r, err = c.ok()
        check(who(r) == "new", "upstream answered for the %s token: the refreshed one was not used; "
              "upstream saw %r" % (who(r), c.upstream_tokens()))
        check(c.upstream_tokens() == [bearer(new)], "upstream Authorization %r" % c.upstream_tokens())
        reqs = tok.requests
        check(len(reqs) == 1, "want one refresh, token endpoint saw %d" % len(reqs))
        q = reqs[0]
        check(q.method == "POST" and q.target == TOKEN_PATH, "token request %s %s" % (q.method, q.target))
        ct = (q.header("content-type") or "").split(";")[0].strip().lower()
        check(ct == "application/json", "token request Content-Type %r" % q.header("content-type"))
        try:
            body = json.loads(q.body)
        except ValueError:
            raise TestFailure("token request body not JSON: %s" % short(q.body))
        want = {"grant_type": "refresh_token", "refresh_token": old["refresh_token"], "client_id": CLIENT_ID}
        check(body == want, "token request body %s, want %s" % (short(q.body), json.dumps(want)))

        d = c.read("user@example.com")
        check(d.get("access_token") == new, "file access_token not the new one")
        check(d.get("refresh_token") == rt2, "file refresh_token not the rotated one")
        check(c.mode("user@example.com") == 0o600, "file mode %o after refresh" % c.mode("user@example.com"))
        check(d.get("custom_field") == {"keep": [1, 2, 3]} and d.get("note") == "unknown fields stay",
              "unknown fields lost: %s" % sorted(d))
        check(d.get("email") == "user@example.com" and d.get("type") == "claude", "known fields changed: %r" % {
            k: d.get(k) for k in ("email", "type")})
        exp = parse_rfc3339(d.get("expired"))
        check(t0 + 28800 - 120 <= exp <= time.time() + 28800 + 120,
              "expired %s is not now + expires_in (28800 s)" % d.get("expired"))
        lr = parse_rfc3339(d.get("last_refresh"))
        check(t0 - 120 <= lr <= time.time() + 120, "last_refresh %s is not now" % d.get("last_refresh"))
        left = [n for n in os.listdir(c.auth) if n.startswith("claude-") and n != "claude-user@example.com.json"]
        check(not left, "temporary files left in auth-dir: %r" % left)

        # A second connection: the file is fresh now, no second refresh.
        r, err = c.ok()
        check(who(r) == "new", "second request used the %s token" % who(r))
        check(len(tok.requests) == 1, "second request refreshed again: %d token requests" % len(tok.requests))

        # A 401 to the new token forces a refresh: it must send the rotated
        # refresh token, never the old one again.
        new3 = new_access("THIRD")
        tok.answer = lambda q, n: ("200 OK", {"access_token": new3, "refresh_token": new_refresh("R3"),
                                              "expires_in": 28800}, b"")
        table[new] = lambda q, k: (k.send(json_response(error_json("authentication_error", "token revoked"),
                                                        status="401 Unauthorized")) or True)
        table[new3] = lambda q, k: ok_response(q, k, "third")
        r, err = c.ok()
        check(who(r) == "third", "after a 401 the request went to %s" % who(r))
        reqs = tok.requests
        check(len(reqs) == 2, "want 2 token requests in all, got %d" % len(reqs))
        sent = [json.loads(x.body).get("refresh_token") for x in reqs]
        check(sent == [old["refresh_token"], rt2],
              "refresh tokens sent %r; the old one must never be sent twice" % [s[:24] for s in sent])


def test_refresh_keeps_old_refresh_token_when_none_returned(ctx):
    tok = TokenEndpoint(ctx["pki"])
    tok.answer = lambda q, n: tok.rotate(q, n, refresh=False, expires_in=3600)
    with StoreCase(ctx["pki"], tok=tok) as c:
        old = c.put("user@example.com", expires_in=-60)     # already expired
        t0 = time.time()
        r, err = c.ok()
        check(len(tok.requests) == 1, "token endpoint saw %d requests" % len(tok.requests))
        at = tok.issued[0][0]
        check(c.upstream_tokens() == [bearer(at)], "upstream Authorization %r" % c.upstream_tokens())
        d = c.read("user@example.com")
        check(d.get("access_token") == at, "file access_token not the new one")
        check(d.get("refresh_token") == old["refresh_token"],
              "the old refresh token was not kept when the endpoint returned none: %r" % (d.get("refresh_token"),))
        exp = parse_rfc3339(d.get("expired"))
        check(t0 + 3600 - 120 <= exp <= time.time() + 3600 + 120, "expired %s is not now + 3600" % d.get("expired"))
        check(c.mode("user@example.com") == 0o600, "file mode %o" % c.mode("user@example.com"))


def test_fresh_token_not_refreshed(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        old = c.put("user@example.com", expires_in=5 * 3600)   # outside the 4 h lead
        c.ok()
        check(not tok.requests, "a token 5 h from expiry was refreshed")
        check(c.upstream_tokens() == [bearer(old["access_token"])], "upstream %r" % c.upstream_tokens())


def test_refresh_lead_config(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok, refresh_lead=7200) as c:
        c.put("user@example.com", expires_in=3 * 3600)    # stale only under the default lead
        c.ok()
        check(not tok.requests, "refresh-lead 7200 ignored: a token 3 h from expiry was refreshed")
        c.put("user@example.com", expires_in=3600)
        c.ok()
        check(len(tok.requests) == 1, "a token 1 h from expiry with refresh-lead 7200 was not refreshed")


def test_100_concurrent_one_refresh(ctx):
    gate = threading.Event()
    tok = TokenEndpoint(ctx["pki"], delay=0.5, gate=gate)
    with StoreCase(ctx["pki"], tok=tok) as c:
        c.up.lsock.listen(256)
        old = c.put("user@example.com", expires_in=300)
        procs = []
        for i in range(100):
            p = c.spawn()
            p.send(droid_request())
            p.shutdown_wr()
            procs.append(p)
        # Everyone is in before the one refresh may answer (0.5 s later).
        check(tok.received.wait(10), "no refresh reached the token endpoint")
        time.sleep(0.3)
        gate.set()
        statuses = []
        errs = []
        for p in procs:
            try:
                r = p.reader.read_response("POST", timeout=30)
                statuses.append(r.status)
                if r.status != 200 and len(errs) < 3:
                    errs.append("%r %s" % (r, short(p.stderr())))
            except TestFailure as e:
                statuses.append(None)
                if len(errs) < 3:
                    errs.append("%s; stderr %s" % (e, short(p.stderr())))
        for p in procs:
            p.wait(10)
        bad = len([s for s in statuses if s != 200])
        check(bad == 0, "%d of 100 did not get 200: %s" % (bad, " || ".join(errs)))
        check(len(tok.requests) == 1, "100 concurrent connections made %d refreshes" % len(tok.requests))
        at, rt = tok.issued[0]
        toks = c.upstream_tokens()
        check(len(toks) == 100 and all(t == bearer(at) for t in toks),
              "upstream saw %d requests, %d with the refreshed token" % (len(toks), toks.count(bearer(at))))
        d = c.read("user@example.com")
        check(d.get("access_token") == at and d.get("refresh_token") == rt, "file not the refreshed one")
        check(json.loads(tok.requests[0].body).get("refresh_token") == old["refresh_token"], "refresh body token")


def test_kill9_mid_refresh_leaves_valid_file(ctx):
    gate = threading.Event()

    def answer(req, n):
        # The killed process's grant never completes: the endpoint is
        # still holding it when its client goes, and answers nothing
        # anyone could store. (Had it granted, its refresh token would be
        # spent and the account would need a new login, as at the real
        # endpoint.)
        if n == 1:
            return "503 Service Unavailable", {"error": "temporarily_unavailable"}, b""
        return tok.rotate(req, n)
    tok = TokenEndpoint(ctx["pki"], answer=answer, gate=gate)
    with StoreCase(ctx["pki"], tok=tok) as c:
        old = c.put("user@example.com", expires_in=600, extra_field="x")
        p = c.spawn()
        p.send(droid_request())
        check(tok.received.wait(10), "the proxy never reached the token endpoint; stderr %s" % short(p.stderr()))
        p.proc.kill()
        check(p.wait(5) is not None, "proxy not dead after SIGKILL")
        d = c.read("user@example.com")
        check(d == old, "token file changed by a killed refresh: %s" % sorted(d))
        check(c.mode("user@example.com") == 0o600, "file mode %o" % c.mode("user@example.com"))
        gate.set()    # the endpoint answers normally from now on
        # The dead process's lock is gone: the next connection refreshes and works.
        t0 = time.monotonic()
        r, err = c.ok()
        check(time.monotonic() - t0 < 10, "next request took %.1fs" % (time.monotonic() - t0))
        check(len(tok.issued) >= 1, "no token issued")
        at = tok.issued[-1][0]
        check(c.upstream_tokens()[-1:] == [bearer(at)], "upstream %r" % c.upstream_tokens())
        d = c.read("user@example.com")
        check(d.get("access_token") == at and d.get("extra_field") == "x", "file after the next refresh: %s" % sorted(d))


def test_kill9_at_random_instants(ctx):
    """SIGKILL at random points of a fast refresh: the file is always the
    old or the new one, whole, 0600, with a matching token pair. Each
    round starts from a stale token of a new login: a kill between the
    grant and the rename spends the old refresh token, as at the real
    endpoint, and that login would be lost."""
    tok = TokenEndpoint(ctx["pki"])
    rnd = random.Random(1234)
    with StoreCase(ctx["pki"], tok=tok) as c:
        pairs = set()
        for i in range(15):
            cur = c.put("user@example.com", expires_in=600)
            pairs.add((cur["access_token"], cur["refresh_token"]))
            p = c.spawn()
            p.send(droid_request())
            time.sleep(rnd.uniform(0.0, 0.08))
            p.proc.kill()
            p.wait(5)
            with tok.nlock:
                pairs.update(tok.issued)
            d = c.read("user@example.com")
            check((d.get("access_token"), d.get("refresh_token")) in pairs,
                  "after kill %d the file holds a token pair nobody issued" % i)
            check(c.mode("user@example.com") == 0o600, "file mode %o" % c.mode("user@example.com"))
            left = [n for n in os.listdir(c.auth) if ".tmp." in n]
            for n in left:      # a killed writer's temporary copy, as file_replace leaves it
                os.unlink(os.path.join(c.auth, n))
            try:
                os.unlink(os.path.join(c.auth, "state.json"))
            except FileNotFoundError:
                pass
        c.put("user@example.com", expires_in=600)
        c.ok()


# ------------------------------------------------------------ many accounts

def two_accounts(c, table, a_handler=None, b_handler=None):
    a = c.put("a@example.com")
    b = c.put("b@example.com")
    table[a["access_token"]] = a_handler or (lambda q, k: ok_response(q, k, "a"))
    table[b["access_token"]] = b_handler or (lambda q, k: ok_response(q, k, "b"))
    return a, b


def test_two_accounts_alternate(ctx):
    with StoreCase(ctx["pki"], routing="round-robin") as c:
        table = {}
        c.up.handler = by_token(table)
        a, b = two_accounts(c, table)
        got = [who(c.ok()[0]) for _ in range(6)]
        check(sorted(got) == ["a"] * 3 + ["b"] * 3 and all(got[i] != got[i + 1] for i in range(5)),
              "accounts used in turn: %r" % got)
        toks = c.upstream_tokens()
        check(set(toks) == {bearer(a["access_token"]), bearer(b["access_token"])}, "upstream tokens not the two accounts")


# ------------------------------------------------------------ keep-alive
# One process serves every request of a keep-alive connection and keeps
# what it read of auth-dir; each request must still see the files as they
# are now.

def ka_who(p, n=1):
    got = []
    for _ in range(n):
        p.send(droid_request())
        r = p.reader.read_response("POST", timeout=20)
        check(r.status == 200, "keep-alive request: %r; stderr %s" % (r, short(p.stderr(), 600)))
        got.append(who(r))
    return got


def same_size_token(tag, like):
    t = new_access(tag)
    return (t + "x" * len(like))[:len(like)] if len(t) < len(like) else t[:len(like)]


def test_keepalive_sees_token_file_replaced_and_rewritten(ctx):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        path = c.path("a@example.com")
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a1")
        # Settled: older than the 2 s within which times are not trusted.
        time.sleep(2.2)
        p = c.spawn()
        check(ka_who(p, 2) == ["a1", "a1"], "first token not used")
        st = os.stat(path)
        # Replaced by rename, same size, same mtime: a new inode and ctime.
        t2 = same_size_token("TWO", a["access_token"])
        table[t2] = lambda q, k: ok_response(q, k, "a2")
        d = dict(a, access_token=t2)
        tmp = path + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(tmp, path)
        check(ka_who(p) == ["a2"], "a token file replaced on disk was not read again")
        # Rewritten in place, same size, mtime put back: only ctime moves.
        time.sleep(2.2)
        check(ka_who(p) == ["a2"], "settled file")
        st = os.stat(path)
        t3 = same_size_token("THREE", a["access_token"])
        table[t3] = lambda q, k: ok_response(q, k, "a3")
        with open(path, "r+") as f:
            f.write(json.dumps(dict(a, access_token=t3)))
            f.truncate()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        check(ka_who(p) == ["a3"], "a token file rewritten in place was not read again")
        # chmod 644: the file is refused, not served from memory.
        time.sleep(2.2)
        check(ka_who(p) == ["a3"], "settled file")
        os.chmod(path, 0o644)
        p.send(droid_request())
        r = p.reader.read_response("POST", timeout=20)
        check(r.status != 200 and "chmod 600" in r.body.decode("utf-8", "replace"),
              "a token file readable by others still served: %r %s" % (r, short(r.body)))
        p.shutdown_wr()
        check(p.wait(10) is not None, "proxy did not exit")


def test_keepalive_racy_rewrite_seen(ctx):
    # A file changed again within the clock tick of our read keeps its
    # times: a file read so soon after a change is never trusted.
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        path = c.path("a@example.com")
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a1")
        p = c.spawn()
        for i in range(5):
            check(ka_who(p) == ["a%d" % (i + 1)], "rewrite %d not seen" % i)
            st = os.stat(path)
            t = same_size_token("R%d" % i, a["access_token"])
            table[t] = (lambda n: lambda q, k: ok_response(q, k, "a%d" % n))(i + 2)
            with open(path, "r+") as f:
                f.write(json.dumps(dict(a, access_token=t)))
                f.truncate()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        p.shutdown_wr()
        p.wait(10)


def test_keepalive_sees_new_account_and_other_process_cooldown(ctx):
    with StoreCase(ctx["pki"], routing="round-robin") as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a")
        time.sleep(2.2)
        p = c.spawn()
        check(ka_who(p, 2) == ["a", "a"], "one account")
        # A login in another process adds an account: round-robin now.
        b = c.put("b@example.com")
        table[b["access_token"]] = lambda q, k: ok_response(q, k, "b")
        got = ka_who(p, 4)
        check(sorted(got) == ["a", "a", "b", "b"], "a new account file not picked up: %r" % got)
        # Another connection's process gets a 429 for a: this one must
        # skip a from then on.
        table[a["access_token"]] = answer_429(retry_after=60)
        for _ in range(2):
            c.ok()
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a")
        got = ka_who(p, 4)
        check(got == ["b"] * 4, "an account cooling down (set by another process) was used: %r" % got)
        p.shutdown_wr()
        check(p.wait(10) is not None, "proxy did not exit")


def test_disabled_account_skipped(ctx):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com", disabled=True)
        b = c.put("b@example.com")
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a")
        table[b["access_token"]] = lambda q, k: ok_response(q, k, "b")
        got = [who(c.ok()[0]) for _ in range(3)]
        check(got == ["b", "b", "b"], "a disabled account served: %r" % got)
        out, _ = c.status()
        check("disabled" in c.status_line(out, "a@example.com"), "--status does not say disabled: %r" % out)


def test_429_moves_to_other_account_and_cools(ctx):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a, b = two_accounts(c, table, a_handler=answer_429(retry_after=60))
        r, err = c.ok()
        check(who(r) == "b", "client got the answer of %s" % who(r))
        toks = c.upstream_tokens()
        check(toks == [bearer(a["access_token"]), bearer(b["access_token"])],
              "want a (429) then b, upstream saw %d requests: %s" % (len(toks), ["a" if t == bearer(a["access_token"]) else "b" for t in toks]))
        for i in range(3):
            r, err = c.ok()
            check(who(r) == "b", "request %d after the 429 went to %s" % (i + 2, who(r)))
        check(len(c.up.requests) == 5, "the cooling account was tried again: %d upstream requests" % len(c.up.requests))
        out, _ = c.status()
        la, lb = c.status_line(out, "a@example.com"), c.status_line(out, "b@example.com")
        check("cooling" in la, "--status does not show a cooling: %r" % la)
        check("cooling" not in lb, "--status shows b cooling: %r" % lb)


def test_429_retry_after_2_then_serves_again(ctx):
    with StoreCase(ctx["pki"], routing="round-robin") as c:
        table = {}
        c.up.handler = by_token(table)
        n429 = [0]

        def a_h(q, k):
            if n429[0] == 0:
                n429[0] += 1
                return answer_429(retry_after=2)(q, k)
            return ok_response(q, k, "a")
        a, b = two_accounts(c, table, a_handler=a_h)
        r, _ = c.ok()
        t429 = time.monotonic()
        check(who(r) == "b", "first request: %s" % who(r))
        r, _ = c.ok()
        check(who(r) == "b", "a served right after its 429 with retry-after 2")
        time.sleep(max(0, t429 + 3.1 - time.monotonic()))
        got = [who(c.ok()[0]) for _ in range(2)]
        check("a" in got, "a did not serve again 3 s after retry-after: 2: %r" % got)


def _single_429(ctx, handler):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        table[a["access_token"]] = handler
        r, err = c.one()
        check(r.status == 429, "want the upstream's 429, got %r" % r)
        check(r.json().get("request_id") == "req_fake_err", "not the upstream's body: %s" % short(r.body))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        return r


def test_429_single_account_reset_header_gets_retry_after(ctx):
    """No other account: the client gets the upstream's 429, with a
    retry-after added (from anthropic-ratelimit-unified-reset)."""
    r = _single_429(ctx, answer_429(extra=b"anthropic-ratelimit-unified-reset: %d\r\n" % (int(time.time()) + 40)))
    ra = r.header("retry-after")
    check(ra is not None and ra.isdigit() and 38 <= int(ra) <= 41, "retry-after %r, want about 40" % ra)


def test_429_single_account_no_headers_gets_retry_after(ctx):
    """No reset time at all: the account backs off 1 s, and the client's
    429 still carries a retry-after."""
    r = _single_429(ctx, answer_429())
    ra = r.header("retry-after")
    check(ra is not None and ra.isdigit() and 1 <= int(ra) <= 2,
          "retry-after %r, want 1 (the 1 s backoff); headers %r" % (ra, r.headers))


def test_429_single_account_upstream_retry_after_kept(ctx):
    r = _single_429(ctx, answer_429(retry_after=17))
    check(r.all("retry-after") == ["17"], "retry-after %r" % r.all("retry-after"))


def test_every_account_cooling_429(ctx):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a, b = two_accounts(c, table, a_handler=answer_429(retry_after=50),
                            b_handler=answer_429(extra=b"anthropic-ratelimit-unified-reset: %d\r\n" % (int(time.time()) + 30)))
        r, err = c.one()
        check(r.status == 429, "both accounts 429: want 429, got %r" % r)
        check(len(c.up.requests) == 2, "want both accounts tried, upstream saw %d" % len(c.up.requests))
        check(r.header("retry-after") is not None, "upstream 429 passed without retry-after: %r" % r.headers)
        r, err = c.one()
        check(len(c.up.requests) == 2, "a request went upstream although every account is cooling")
        expect_error(r, 429, "rate_limit_error")
        ra = r.header("retry-after")
        check(ra is not None and ra.isdigit(), "no numeric retry-after: %r" % r.headers)
        check(27 <= int(ra) <= 31, "retry-after %s, want about 30 (the soonest reset, b's)" % ra)


def test_529_next_account_no_cooldown(ctx):
    with StoreCase(ctx["pki"], routing="round-robin") as c:
        table = {}
        c.up.handler = by_token(table)
        n = [0]

        def a_h(q, k):
            n[0] += 1
            if n[0] == 1:
                k.send(json_response(error_json("overloaded_error", "Overloaded"), status="529 Overloaded"))
                return True
            return ok_response(q, k, "a")
        a, b = two_accounts(c, table, a_handler=a_h)
        r, _ = c.ok()
        check(who(r) == "b", "after a's 529 the client got %s" % who(r))
        check(len(c.up.requests) == 2, "upstream saw %d requests" % len(c.up.requests))
        out, _ = c.status()
        check("cooling" not in c.status_line(out, "a@example.com"), "529 cooled a: %r" % out)
        r, _ = c.ok()
        check(who(r) == "a", "a was not used next after a 529: got %s" % who(r))


def test_500_next_account_and_400_not_retried(ctx):
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)

        def bad(status):
            def h(q, k):
                k.send(json_response(error_json("api_error" if status.startswith("5") else "invalid_request_error",
                                                "x"), status=status))
                return True
            return h
        a, b = two_accounts(c, table, a_handler=bad("500 Internal Server Error"))
        r, _ = c.ok()
        check(who(r) == "b" and len(c.up.requests) == 2, "500 not moved on: %r" % r)
        table[a["access_token"]] = bad("400 Bad Request")
        table[b["access_token"]] = bad("400 Bad Request")
        r, _ = c.one()
        check(r.status == 400, "want the upstream 400, got %r" % r)
        check(len(c.up.requests) == 3, "a 400 was retried: %d upstream requests" % len(c.up.requests))
        out, _ = c.status()
        check("cooling" not in out, "a 400 or 500 cooled an account: %r" % out)


def _five_failing(ctx, **cfg):
    with StoreCase(ctx["pki"], **cfg) as c:
        c.up.handler = lambda q, k: (k.send(json_response(error_json("api_error", "Internal server error"),
                                                          status="500 Internal Server Error")) or True)
        for i in range(5):
            c.put("u%d@example.com" % i)
        r, err = c.one()
        check(r.status == 500, "want the upstream's 500, got %r" % r)
        n = len(c.up.requests)
        toks = c.upstream_tokens()
        check(len(set(toks)) == n, "an account was tried twice: %d requests, %d accounts" % (n, len(set(toks))))
        out, _ = c.status()
        check("cooling" not in out, "a 500 cooled an account: %r" % out)
        return n


def test_request_retry_default_3(ctx):
    n = _five_failing(ctx)
    check(n == 4, "5 accounts all answering 500: want 1 try + 3 retries, upstream saw %d" % n)


def test_request_retry_config(ctx):
    n = _five_failing(ctx, request_retry=1)
    check(n == 2, "request-retry 1: want 2 tries, upstream saw %d" % n)
    n = _five_failing(ctx, request_retry=0)
    check(n == 1, "request-retry 0: want 1 try, upstream saw %d" % n)


def test_connection_failure_next_account(ctx):
    dead = "https://localhost:%d" % free_port()
    key1, key2 = "sk-ant-api03-DEAD" + secrets.token_hex(16), "sk-ant-api03-LIVE" + secrets.token_hex(16)
    with StoreCase(ctx["pki"]) as c:
        # the first key's base-url is a closed port, the second the fake upstream
        c.cfg_values["claude-api-key"] = [{"api-key": key1, "base-url": dead}, {"api-key": key2, "base-url": c.up.url}]
        c.write_config(c.cfg_values)
        c.up.handler = lambda q, k: ok_response(q, k, "live")
        r, err = c.ok()
        check(who(r) == "live", "got %r" % r)
        check([q.header("x-api-key") for q in c.up.requests] == [key2], "upstream saw %d requests" % len(c.up.requests))
        out, _ = c.status()
        check("cooling" not in out, "a connection failure cooled an account: %r" % out)


# ------------------------------------------------------------ 401, invalid_grant, endpoint down

def test_401_refresh_then_success(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        table = {}
        old = c.put("user@example.com", expires_in=86400)   # fresh by the clock

        def h(req, conn):
            a = req.header("authorization")
            if a == bearer(old["access_token"]):
                conn.send(json_response(error_json("authentication_error", "OAuth token has expired"),
                                        status="401 Unauthorized"))
                return True
            if tok.issued and a == bearer(tok.issued[-1][0]):
                return ok_response(req, conn, "new")
            return ok_response(req, conn, "unknown")
        c.up.handler = h
        r, err = c.ok()
        check(who(r) == "new", "after the 401 the retry used %s token" % who(r))
        check(len(tok.requests) == 1, "want one refresh after the 401, got %d" % len(tok.requests))
        check(json.loads(tok.requests[0].body).get("refresh_token") == old["refresh_token"], "refresh body token")
        at, rt = tok.issued[0]
        check(c.upstream_tokens() == [bearer(old["access_token"]), bearer(at)],
              "upstream saw %d requests, want old then new token" % len(c.upstream_tokens()))
        d = c.read("user@example.com")
        check(d.get("access_token") == at and d.get("refresh_token") == rt, "file not updated after the 401 refresh")


def test_401_twice_not_looped(ctx):
    """The refreshed token is refused too: the client gets the 401, after
    one refresh and two tries, not a loop."""
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        c.put("user@example.com")
        c.up.handler = lambda q, k: (k.send(json_response(error_json("authentication_error", "no"),
                                                          status="401 Unauthorized")) or True)
        r, err = c.one()
        check(r.status == 401, "want 401, got %r" % r)
        check(len(tok.requests) == 1, "refreshes: %d" % len(tok.requests))
        check(len(c.up.requests) == 2, "upstream tries: %d" % len(c.up.requests))


def test_invalid_grant_marks_account(ctx):
    tok = TokenEndpoint(ctx["pki"], answer=invalid_grant)
    with StoreCase(ctx["pki"], tok=tok) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com", expires_in=-60)        # expired: must refresh
        b = c.put("b@example.com")
        table[a["access_token"]] = lambda q, k: ok_response(q, k, "a")
        table[b["access_token"]] = lambda q, k: ok_response(q, k, "b")
        r, err = c.ok()
        check(who(r) == "b", "with a's refresh refused the client got %s" % who(r))
        check(len(tok.requests) == 1, "token endpoint saw %d requests" % len(tok.requests))
        check(c.upstream_tokens() == [bearer(b["access_token"])], "a's dead token went upstream")
        out, _ = c.status()
        la = c.status_line(out, "a@example.com")
        check("needs-login" in la, "--status does not show a needs-login: %r" % la)
        check("needs-login" not in c.status_line(out, "b@example.com"), "b marked: %r" % out)
        # Marked: later requests skip a without asking the token endpoint again.
        for _ in range(2):
            r, err = c.ok()
            check(who(r) == "b", "a used again")
        check(len(tok.requests) == 1, "a's refused refresh token was sent again: %d requests" % len(tok.requests))
        d = c.read("a@example.com")
        check(d == a, "a's token file changed by a refused refresh")


def test_invalid_grant_single_account_error(ctx):
    tok = TokenEndpoint(ctx["pki"], answer=invalid_grant)
    with StoreCase(ctx["pki"], tok=tok) as c:
        c.put("user@example.com", expires_in=-60)
        r, err = c.one()
        check(r.status in (401, 403), "want an auth error, got %r" % r)
        j = r.json()
        check(j.get("type") == "error" and isinstance(j.get("error"), dict), "error shape %s" % short(r.body))
        m = j["error"].get("message", "").lower()
        check("log in" in m or "login" in m, "message does not say to log in: %r" % j["error"])
        check(not c.up.requests, "a request went upstream")
        out, _ = c.status()
        check("needs-login" in c.status_line(out, "user@example.com"), "--status %r" % out)


def test_new_login_lifts_needs_login(ctx):
    """The mark is for the refresh token refused: once a new login puts
    another in the file, the account serves again (and --status says no
    more needs-login); the first success takes the mark off."""
    tok = TokenEndpoint(ctx["pki"], answer=invalid_grant)
    with StoreCase(ctx["pki"], tok=tok) as c:
        table = {}
        c.up.handler = by_token(table)
        c.put("user@example.com", expires_in=-60)
        r, err = c.one()
        check(r.status == 401, "the refused account served: %r" % r)
        r, err = c.one()
        check(r.status == 401 and len(tok.requests) == 1, "the refused refresh token was sent again")
        d = c.put("user@example.com", expires_in=86400)       # a new login
        table[d["access_token"]] = lambda q, k: ok_response(q, k, "relogged")
        out, _ = c.status()
        check("needs-login" not in c.status_line(out, "user@example.com"), "--status after a new login: %r" % out)
        r, err = c.ok()
        check(who(r) == "relogged", "the new login was not used: %r" % r)
        with open(os.path.join(c.auth, "state.json")) as f:
            st = json.load(f)["accounts"]["claude-user@example.com.json"]
        check("needs_login" not in st and "refused_key" not in st, "the mark stayed after a success: %r" % st)


def test_refresh_token_reused_body_marks_account(ctx):
    tok = TokenEndpoint(ctx["pki"], answer=lambda q, n: (
        "400 Bad Request", {"error": {"message": "refresh_token_reused: already used", "type": "invalid_request"}}, b""))
    with StoreCase(ctx["pki"], tok=tok) as c:
        c.put("user@example.com", expires_in=-60)
        r, err = c.one()
        check(r.status >= 400, "got %r" % r)
        out, _ = c.status()
        check("needs-login" in c.status_line(out, "user@example.com"), "--status %r" % out)


def test_token_endpoint_down_uses_old_token(ctx):
    with StoreCase(ctx["pki"], token_url="https://localhost:%d%s" % (free_port(), TOKEN_PATH)) as c:
        old = c.put("user@example.com", expires_in=900)    # stale, not expired
        t0 = time.monotonic()
        r, err = c.ok()
        check(time.monotonic() - t0 < 10, "took %.1fs" % (time.monotonic() - t0))
        check(c.upstream_tokens() == [bearer(old["access_token"])], "upstream %r" % c.upstream_tokens())
        check("warn" in err.lower() or "using the current" in err, "no warning on stderr: %s" % short(err))
        check(c.read("user@example.com") == old, "token file changed")


def test_expired_token_endpoint_down_next_account(ctx):
    """Refresh impossible and the token already expired: it is not sent;
    the other account serves."""
    with StoreCase(ctx["pki"], token_url="https://localhost:%d%s" % (free_port(), TOKEN_PATH)) as c:
        table = {}
        c.up.handler = by_token(table)
        a, b = two_accounts(c, table)
        a = c.put("a@example.com", access=a["access_token"], expires_in=-60)
        r, err = c.ok()
        check(who(r) == "b", "answered by %s" % who(r))
        check(c.upstream_tokens() == [bearer(b["access_token"])], "the expired token was sent upstream")
        out, _ = c.status()
        check("needs-login" not in c.status_line(out, "a@example.com"),
              "an unreachable token endpoint marked a as needing a login: %r" % out)


def test_invalid_grant_after_relogin_rereads_file(ctx):
    """The refresh token is refused because someone replaced the file (a new
    login) meanwhile: the proxy re-reads it and uses the new token."""
    fresh = {}

    def answer(q, n):
        # a login replaces the file (rename, as any careful writer does)
        now = time.time()
        d = {"type": "claude", "access_token": new_access("RELOGIN"), "refresh_token": new_refresh("RELOGIN"),
             "email": "user@example.com", "expired": rfc3339(now + 28800), "last_refresh": rfc3339(now),
             "id_token": ""}
        fresh.update(d)
        tmp = c.path("user@example.com") + ".login"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        os.rename(tmp, c.path("user@example.com"))
        return invalid_grant(q, n)
    tok = TokenEndpoint(ctx["pki"], answer=answer)
    with StoreCase(ctx["pki"], tok=tok) as c:
        c.put("user@example.com", expires_in=-60)
        r, err = c.ok()
        check(c.upstream_tokens() == [bearer(fresh["access_token"])], "the new login's token was not used")
        check(len(tok.requests) == 1, "token endpoint saw %d" % len(tok.requests))
        check(c.read("user@example.com") == fresh, "the new login's file was overwritten")
        out, _ = c.status()
        check("needs-login" not in out, "marked needs-login although the file has a good token: %r" % out)


def test_token_endpoint_silent_bounded(ctx):
    bh = BlackHole()
    try:
        with StoreCase(ctx["pki"], token_url=bh.url + TOKEN_PATH, token_timeout=1) as c:
            old = c.put("user@example.com", expires_in=900)
            t0 = time.monotonic()
            r, err = c.ok()
            took = time.monotonic() - t0
            check(took < 8, "a silent token endpoint held the request %.1fs with token-timeout 1" % took)
            check(c.upstream_tokens() == [bearer(old["access_token"])], "upstream %r" % c.upstream_tokens())
    finally:
        bh.close()


def test_token_endpoint_429_respected(ctx):
    tok = TokenEndpoint(ctx["pki"], answer=lambda q, n: (
        "429 Too Many Requests", {"error": {"type": "rate_limit_error", "message": "slow down"}}, b"Retry-After: 120\r\n"))
    with StoreCase(ctx["pki"], tok=tok) as c:
        old = c.put("user@example.com", expires_in=900)
        r, err = c.ok()
        check(c.upstream_tokens() == [bearer(old["access_token"])], "old token not used after the 429")
        check(len(tok.requests) == 1, "token requests %d" % len(tok.requests))
        r, err = c.ok()
        check(len(tok.requests) == 1, "the token endpoint's Retry-After 120 was ignored: %d requests" % len(tok.requests))


# ------------------------------------------------------------ API keys

def test_api_key_account(ctx):
    key = "sk-ant-api03-" + secrets.token_hex(20)
    api = FakeUpstream(ctx["pki"], handler=lambda q, k: ok_response(q, k, "api"))
    try:
        c = StoreCase(ctx["pki"], claude_api_key=[{"api-key": key, "base-url": api.url}])
    except BaseException:
        api.close()
        raise
    c.extra.append(api)
    with c:
        body = droid_body()
        r, err = c.ok(droid_request(body))
        check(who(r) == "api", "answered by %r" % who(r))
        check(not c.up.requests, "the default base-url got the request")
        check(len(api.requests) == 1, "api base-url saw %d requests" % len(api.requests))
        q = api.requests[0]
        check(q.all("x-api-key") == [key], "x-api-key %r" % [v[:16] for v in q.all("x-api-key")])
        check(not q.all("authorization"), "Authorization sent with an API key: %r" % q.all("authorization"))
        check(OAUTH_BETA not in beta_list(q), "oauth beta sent with an API key: %r" % q.all("anthropic-beta"))
        check(q.json() == body, "body changed (system prefix?) for an API key: %s" % short(q.body, 400))
        check(q.json()["system"][0]["text"] != CC_LINE, "system prefix added")
        check(q.header("host") == "localhost:%d" % api.port, "Host %r" % q.header("host"))


def test_api_key_after_subscriptions(ctx):
    # An API key is billed per token: it serves when no subscription can.
    key = "sk-ant-api03-" + secrets.token_hex(20)
    api = FakeUpstream(ctx["pki"], handler=lambda q, k: ok_response(q, k, "api"))
    try:
        c = StoreCase(ctx["pki"], claude_api_key=[{"api-key": key, "base-url": api.url}])
    except BaseException:
        api.close()
        raise
    c.extra.append(api)
    with c:
        t = c.put("user@example.com")
        c.up.handler = by_token({t["access_token"]: lambda q, k: ok_response(q, k, "oauth")})
        got = [who(c.ok()[0]) for _ in range(3)]
        check(got == ["oauth"] * 3, "order with a usable subscription %r" % got)
        c.up.handler = by_token({t["access_token"]: answer_429(retry_after=60)})
        got = [who(c.ok()[0]) for _ in range(2)]
        check(got == ["api", "api"], "order with the subscription cooling down %r" % got)


# ------------------------------------------------------------ --status, --refresh

def test_status_prints_no_token(ctx):
    key = "sk-ant-api03-" + secrets.token_hex(20)
    tok = TokenEndpoint(ctx["pki"], answer=invalid_grant)
    with StoreCase(ctx["pki"], tok=tok, claude_api_key=[{"api-key": key, "base-url": "https://localhost:9"}]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com", expires_in=-60)
        b = c.put("b@example.com")
        d = c.put("d@example.com", disabled=True)
        table[b["access_token"]] = answer_429(retry_after=600)
        c.one()     # a: invalid_grant -> needs login; b: 429 -> cooling; api key: connection fails
        out, err = c.status()
        secrets_ = [key] + [x[k] for x in (a, b, d) for k in ("access_token", "refresh_token")]
        for s in secrets_:
            for i in range(len(s) - 7):
                sub = s[i:i + 8]
                check(sub not in out and sub not in err, "--status shows part of a token: %r" % sub)
        for email in ("a@example.com", "b@example.com", "d@example.com"):
            check(email in out, "--status lacks %s: %r" % (email, out))
        check(len([ln for ln in out.splitlines() if ln.strip()]) == 4, "want 4 lines: %r" % out)
        check("claude" in out, "no provider: %r" % out)
        check("needs-login" in c.status_line(out, "a@example.com"), "%r" % out)
        check("cooling" in c.status_line(out, "b@example.com"), "%r" % out)
        check("disabled" in c.status_line(out, "d@example.com"), "%r" % out)
        check(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400)) in c.status_line(out, "b@example.com"),
              "no expiry date for b: %r" % out)
        # Nothing in the state file either.
        for n in os.listdir(c.auth):
            if n.startswith("state"):
                with open(os.path.join(c.auth, n)) as f:
                    st = f.read()
                for s in secrets_:
                    check(s[-16:] not in st, "%s holds a token" % n)


def test_refresh_command(ctx):
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        a = c.put("a@example.com", expires_in=600)
        b = c.put("b@example.com", expires_in=-60)
        f = c.put("f@example.com", expires_in=86400)
        rc, out, err = c.cmd("--refresh")
        check(rc == 0, "--refresh exit %s; stdout %s stderr %s" % (rc, short(out), short(err)))
        check(len(tok.requests) == 2, "want 2 refreshes (a, b), token endpoint saw %d" % len(tok.requests))
        sent = sorted(json.loads(q.body)["refresh_token"] for q in tok.requests)
        check(sent == sorted([a["refresh_token"], b["refresh_token"]]), "refreshed the wrong accounts")
        issued = {at for at, _ in tok.issued}
        for e in ("a@example.com", "b@example.com"):
            d = c.read(e)
            check(d.get("access_token") in issued, "%s not refreshed" % e)
            check(parse_rfc3339(d["expired"]) > time.time() + 28000, "%s expired %s" % (e, d["expired"]))
            check(c.mode(e) == 0o600, "%s mode %o" % (e, c.mode(e)))
        check(c.read("f@example.com") == f, "a fresh account was touched")
        for s in [x[k] for x in (a, b, f) for k in ("access_token", "refresh_token")] + list(issued):
            check(s[-12:] not in out and s[-12:] not in err, "--refresh printed a token")
        rc, out, err = c.cmd("--refresh")
        check(rc == 0 and len(tok.requests) == 2, "second --refresh: exit %s, %d token requests" % (rc, len(tok.requests)))


def test_refresh_command_invalid_grant_114(ctx):
    tok = TokenEndpoint(ctx["pki"], answer=invalid_grant)
    with StoreCase(ctx["pki"], tok=tok) as c:
        a = c.put("a@example.com", expires_in=600)
        rc, out, err = c.cmd("--refresh")
        check(rc == EX_ACCOUNTS, "--refresh with invalid_grant exit %s, want 114; %s %s" % (rc, short(out), short(err)))
        check(len(tok.requests) == 1, "token endpoint saw %d" % len(tok.requests))
        check("a@example.com" in out + err, "which account failed is not said: %s %s" % (short(out), short(err)))
        check(c.read("a@example.com") == a, "file changed")
        out, _ = c.status()
        check("needs-login" in c.status_line(out, "a@example.com"), "--status %r" % out)


def test_refresh_command_endpoint_down_114(ctx):
    with StoreCase(ctx["pki"], token_url="https://localhost:%d%s" % (free_port(), TOKEN_PATH)) as c:
        c.put("a@example.com", expires_in=600)
        rc, out, err = c.cmd("--refresh")
        check(rc == EX_ACCOUNTS, "--refresh with the endpoint down exit %s, want 114" % rc)


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
