"""End-to-end tests of --claude-login and --codex-login: the real binary with
--no-browser on a free callback port, a fake TLS token endpoint (lib.py's
PKI), the test playing the browser (GET on 127.0.0.1) or the person on SSH
(a pasted URL or code on a pty). Every URL parameter, the exchange body,
the PKCE pair, the file (name, mode, content), the auth-dir mode, the last
line, and a proxy request with the new file; the failures write nothing
and print no secret."""
import base64
import contextlib
import hashlib
import http.client
import json
import os
import fcntl
import pty
import secrets
import socket
import stat
import subprocess
import sys
import termios
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

EX_LOGIN = 115
CLAUDE_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
CODEX_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def s256(verifier):
    return b64url(hashlib.sha256(verifier.encode()).digest())


def make_jwt(claims):
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return "%s.%s.%s" % (head, b64url(json.dumps(claims).encode()), b64url(b"not-checked-signature"))


class Grants:
    """The fake token endpoint's answers, and the proxy's upstream for any
    other path. answer(req) -> raw response bytes, swappable per test."""

    def __init__(self, email="new@example.com"):
        self.access = "sk-ant-oat01-LOGIN-" + secrets.token_hex(12)
        self.refresh = "sk-ant-ort01-LOGIN-" + secrets.token_hex(12)
        self.email = email
        self.id_token = None
        self.answer = self.claude_ok
        self.once = OneUse()        # a code works once, as at the real endpoints

    def claude_ok(self, req):
        return json_response({"access_token": self.access, "refresh_token": self.refresh,
                              "expires_in": 28800, "token_type": "Bearer",
                              "organization": {"uuid": "org-1", "name": "Org"},
                              "account": {"uuid": "acct-1", "email_address": self.email}})

    def codex_ok(self, req):
        return json_response({"id_token": self.id_token, "access_token": self.access,
                              "refresh_token": self.refresh, "expires_in": 864000})

    def handler(self, req, conn):
        if "oauth/token" in req.target:
            status, obj, _ = self.once.answer(req.body, req.header("content-type"),
                                              lambda: ("200 OK", None, b""))
            conn.send(self.answer(req) if obj is None else json_response(obj, status=status))
            return True
        return default_handler(req, conn)

    def token_requests(self, up):
        return [r for r in up.requests if "oauth/token" in r.target]


class Login:
    """The login process; output collected by threads. pty=True runs it on
    a pseudo-terminal (stdin a tty), so it also reads pasted answers."""

    def __init__(self, c, provider, port, timeout=30, use_pty=False, args=None, stdin_closed=False):
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.master = None
        env = c.env()
        env["CLI_PROXY_API_LOGIN_TIMEOUT"] = str(timeout)
        cmd = [BIN, "--config", c.cfg, "--%s-login" % provider, "--no-browser",
               "--oauth-callback-port", str(port)] + (args or [])
        if use_pty:
            self.master, slave = pty.openpty()
            try:
                # The pty is the session's controlling terminal, as on SSH.
                self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                             start_new_session=True, close_fds=True,
                                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            finally:
                os.close(slave)
            self.threads = [threading.Thread(target=self._pump_pty, daemon=True)]
        else:
            # stdin_closed: fd 0 closed, so the first socket the login
            # opens (its listener) is fd 0.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, start_new_session=True,
                                         preexec_fn=(lambda: os.close(0)) if stdin_closed else None)
            self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, "out"), daemon=True),
                            threading.Thread(target=self._pump, args=(self.proc.stderr, "err"), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, which):
        while True:
            d = f.read1(65536) if hasattr(f, "read1") else f.read(65536)
            if not d:
                return
            with self.lock:
                setattr(self, which, getattr(self, which) + d)

    def _pump_pty(self):
        while True:
            try:
                d = os.read(self.master, 65536)
            except OSError:     # EIO: the other side is gone
                return
            if not d:
                return
            with self.lock:
                self.out += d

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")

    def wait_for(self, needle, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out, err = self.text()
            if needle in out:
                return out
            if self.proc.poll() is not None:
                time.sleep(0.1)
                out, err = self.text()
                if needle in out:
                    return out
                raise TestFailure("login exited %s before printing %r: stdout %s stderr %s" % (
                    self.proc.returncode, needle, short(out), short(err)))
            time.sleep(0.02)
        out, err = self.text()
        raise TestFailure("no %r within %ds: stdout %s stderr %s" % (needle, timeout, short(out), short(err)))

    def url(self):
        """The authorize URL: the printed line that starts with https://."""
        self.wait_for("https://")
        end = time.monotonic() + 5
        while time.monotonic() < end:
            out, _ = self.text()
            for ln in out.splitlines():
                s = ln.strip()
                if s.startswith("https://") and ("\n" in out[out.index(s):]):
                    return s
            time.sleep(0.02)
        raise TestFailure("URL line never ended: %s" % short(self.text()[0]))

    def paste(self, line):
        os.write(self.master, line.encode() + b"\n")

    def wait(self, timeout=30):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("login still running after %ds: %s" % (timeout, short(self.text()[0])))
        for t in self.threads:
            t.join(5)
        for t in self.text():   # a SANITIZE=1 build's reports fail the test
            for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                check(mark not in t, "sanitizer report: %s" % short(t[t.index(mark) - 20:] if mark in t else "", 600))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


@contextlib.contextmanager
def running(c, *args, **kw):
    """A login run for case c: killed, and the case closed, on the way out."""
    lp = None
    try:
        lp = Login(c, *args, **kw)
        yield lp
    finally:
        if lp:
            lp.kill()
        c.close()


def browse(port, target, timeout=20):
    """The browser coming back: GET on 127.0.0.1. (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", target, headers={"User-Agent": "Mozilla/5.0 (test)", "Accept": "text/html"})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), r.getheader("content-type") or ""
    finally:
        conn.close()


def params(url):
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True, strict_parsing=True)
    for k, v in q.items():
        check(len(v) == 1, "parameter %s given %d times" % (k, len(v)))
    return u, {k: v[0] for k, v in q.items()}


def setup_case(ctx, g, auth_sub=None):
    """A Case whose token URLs point at the fake, auth-dir possibly a
    directory that does not exist yet."""
    c = Case(ctx["pki"], handler=g.handler, token=False)
    try:
        if auth_sub:
            c.auth = os.path.join(c.dir, auth_sub)
            c.cfg_values["auth-dir"] = c.auth
        c.cfg_values["claude-token-url"] = c.up.url + "/v1/oauth/token"
        c.cfg_values["codex-token-url"] = c.up.url + "/oauth/token"
        c.cfg_values["claude-auth-url"] = "https://claude.example/oauth/authorize"
        c.cfg_values["codex-auth-url"] = "https://auth.example:8443/oauth/authorize"
        c.write_config(c.cfg_values)
    except BaseException:
        c.close()
        raise
    return c


def no_secrets(texts, *secrets_):
    for t in texts:
        for s in secrets_:
            if s and s in t:
                raise TestFailure("a secret (%s...) was printed: %s" % (s[:12], short(t, 600)))


def auth_files(c):
    try:
        return sorted(os.listdir(c.auth))
    except FileNotFoundError:
        return []


def check_claude_url(url, port):
    u, q = params(url)
    check(u.scheme == "https" and u.netloc == "claude.example" and u.path == "/oauth/authorize",
          "authorize endpoint %r" % url)
    want = {"code": "true", "client_id": CLAUDE_ID, "response_type": "code",
            "redirect_uri": "http://localhost:%d/callback" % port,
            "scope": "org:create_api_key user:profile user:inference",
            "code_challenge_method": "S256"}
    for k, v in want.items():
        check(q.get(k) == v, "%s=%r, want %r" % (k, q.get(k), v))
    check(set(q) == set(want) | {"code_challenge", "state"}, "parameters %s" % sorted(q))
    check(len(q["code_challenge"]) == 43 and "=" not in q["code_challenge"], "challenge %r" % q["code_challenge"])
    check(len(q["state"]) >= 22, "state too short: %r" % q["state"])
    return q


def check_claude_exchange(g, c, q, port, code):
    reqs = g.token_requests(c.up)
    check(len(reqs) == 1, "token endpoint saw %d requests" % len(reqs))
    r = reqs[0]
    check(r.method == "POST" and r.target == "/v1/oauth/token", "request %s %s" % (r.method, r.target))
    check((r.header("content-type") or "").startswith("application/json"), "Content-Type %r" % r.header("content-type"))
    b = r.json()
    check(set(b) == {"grant_type", "code", "redirect_uri", "client_id", "code_verifier", "state"},
          "body keys %s" % sorted(b))
    check(b["grant_type"] == "authorization_code", "grant_type %r" % b["grant_type"])
    check(b["code"] == code, "code %r, want %r" % (b["code"], code))
    check(b["redirect_uri"] == "http://localhost:%d/callback" % port, "redirect_uri %r" % b["redirect_uri"])
    check(b["client_id"] == CLAUDE_ID, "client_id %r" % b["client_id"])
    check(b["state"] == q["state"], "state in the exchange is not the URL's")
    v = b["code_verifier"]
    check(len(v) == 43 and all(ch.isalnum() or ch in "-_" for ch in v), "verifier %r" % v)
    check(s256(v) == q["code_challenge"], "S256(verifier) != the URL's code_challenge")
    return v


def check_file(c, name, want_type):
    path = os.path.join(c.auth, name)
    check(os.path.exists(path), "no %s; auth-dir has %s" % (name, auth_files(c)))
    st = os.stat(path)
    check(stat.S_IMODE(st.st_mode) == 0o600, "%s mode %o" % (name, stat.S_IMODE(st.st_mode)))
    check(stat.S_IMODE(os.stat(c.auth).st_mode) == 0o700, "auth-dir mode %o" % stat.S_IMODE(os.stat(c.auth).st_mode))
    with open(path) as f:
        d = json.load(f)
    check(d.get("type") == want_type, "type %r" % d.get("type"))
    check([f for f in auth_files(c) if ".tmp" in f] == [], "temporary files left: %s" % auth_files(c))
    return path, d


def rfc3339(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def last_line(out):
    lines = [ln for ln in out.replace("\r", "").split("\n") if ln.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------ Claude

def test_claude_login_callback(ctx):
    """URL, callback, exchange, file, last line; then the proxy serves
    with the new file at once."""
    g = Grants()
    c = setup_case(ctx, g, auth_sub="home/.cli-proxy-api")
    port = free_port()
    with running(c, "claude", port) as lp:
        url = lp.url()
        q = check_claude_url(url, port)
        check(not os.path.exists(c.auth), "auth-dir created before the login ended")
        # Spare connections that never speak (browsers open them), more
        # than the server keeps, must not block the real one.
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
        idle[3].sendall(b"GET /callback?code=half")     # and one half a request
        code = "ac_" + secrets.token_urlsafe(24)
        st, body, ctype = browse(port, "/callback?code=%s&state=%s" % (code, q["state"]))
        for s in idle:
            s.close()
        check(st == 200 and "text/html" in ctype, "callback answered %d %s %s" % (st, ctype, short(body)))
        check("Logged in" in body and g.email in body, "success page: %s" % short(body))
        rc = lp.wait()
        out, err = lp.text()
        check(rc == 0, "exit %d, stderr %s" % (rc, short(err)))
        verifier = check_claude_exchange(g, c, q, port, code)
        path, d = check_file(c, "claude-new@example.com.json", "claude")
        check(d["access_token"] == g.access and d["refresh_token"] == g.refresh, "tokens in the file")
        check(d["email"] == g.email and d.get("id_token") == "", "email/id_token %r %r" % (d["email"], d.get("id_token")))
        check(abs(rfc3339(d["expired"]) - (time.time() + 28800)) < 120, "expired %r" % d["expired"])
        check(abs(rfc3339(d["last_refresh"]) - time.time()) < 120, "last_refresh %r" % d["last_refresh"])
        want = "saved %s; start the proxy with: cli-proxy-api --config %s" % (path, os.path.realpath(c.cfg))
        check(last_line(out) == want, "last line %r, want %r" % (last_line(out), want))
        no_secrets([out, err], code, verifier, g.access, g.refresh)
        # The proxy picks the new account up at once.
        prc, pout, perr = c.run_pipe(droid_request(), timeout=30)
        rs = parse_responses(pout, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "proxy answered %r; stderr %s" % (rs, short(perr)))
        msgs = [r for r in c.up.requests if "oauth/token" not in r.target]
        check(msgs and msgs[-1].header("authorization") == "Bearer " + g.access,
              "upstream Authorization %r" % [r.header("authorization") for r in msgs])


def test_claude_code_hash_state_replaces(ctx):
    """The callback's code carries #STATE: split off, checked, not sent as
    part of the code; an existing file for the account is replaced."""
    g = Grants(email="old@example.com")
    c = setup_case(ctx, g)
    port = free_port()
    c.add_token("old@example.com", "sk-ant-oat01-OLD-" + secrets.token_hex(8))
    with running(c, "claude", port) as lp:
        q = params(lp.url())[1]
        code = "ac_" + secrets.token_urlsafe(20)
        st, body, _ = browse(port, "/callback?code=%s&state=%s" % (
            urllib.parse.quote(code + "#" + q["state"], safe=""), q["state"]))
        check(st == 200, "callback answered %d %s" % (st, short(body)))
        rc = lp.wait()
        check(rc == 0, "exit %d: %s" % (rc, short(lp.text()[1])))
        check_claude_exchange(g, c, q, port, code)
        _, d = check_file(c, "claude-old@example.com.json", "claude")
        check(d["access_token"] == g.access, "the old file was not replaced")


def test_wrong_state_ignored(ctx):
    """Callbacks with another state, none, or a code#STATE that is not this
    login's (any local process or web page can send them, an error= too):
    each gets 403 and is ignored; the login waits on, and the right one
    still logs in. Only its code is exchanged."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port) as lp:
        q = params(lp.url())[1]
        other = b64url(secrets.token_bytes(32))
        bad_code = "ac_bad_" + secrets.token_urlsafe(20)
        for name, target in (
                ("another state", "/callback?code=%s&state=%s" % (bad_code, other)),
                ("state with a suffix", "/callback?code=%s&state=%s-but-not" % (bad_code, q["state"])),
                ("no state", "/callback?code=%s" % bad_code),
                ("code#forged", "/callback?code=%s&state=%s" % (urllib.parse.quote(bad_code + "#forged"),
                                                               q["state"])),
                ("error, no state", "/callback?error=access_denied"),
                ("error, another state", "/callback?error=access_denied&state=" + other)):
            st, body, _ = browse(port, target)
            check(st == 403 and "ignored" in body, "%s: answered %d %s" % (name, st, short(body)))
            check(lp.proc.poll() is None, "%s: the login ended (exit %s): %s" % (
                name, lp.proc.returncode, short(lp.text()[1])))
        code = "ac_" + secrets.token_urlsafe(20)
        st, body, _ = browse(port, "/callback?code=%s&state=%s" % (code, q["state"]))
        check(st == 200 and "Logged in" in body, "callback answered %d %s" % (st, short(body)))
        rc = lp.wait()
        out, err = lp.text()
        check(rc == 0, "exit %d: %s" % (rc, short(err)))
        check_claude_exchange(g, c, q, port, code)
        check_file(c, "claude-new@example.com.json", "claude")
        no_secrets([out, err], code, bad_code)


def test_wrong_state_then_timeout(ctx):
    """Only wrong callbacks: the login ends at its deadline, nothing
    exchanged, nothing written."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port, timeout=3) as lp:
        q = params(lp.url())[1]
        st, _, _ = browse(port, "/callback?code=c0de_secret&state=" + b64url(secrets.token_bytes(32)))
        check(st == 403, "answered %d" % st)
        rc = lp.wait(20)
        out, err = lp.text()
        check(rc == EX_LOGIN and "3 seconds" in err, "exit %d: %s" % (rc, short(err)))
        check(not g.token_requests(c.up) and auth_files(c) == [], "exchanged or written: %s" % auth_files(c))
        no_secrets([out, err], "c0de_secret")


def test_denied(ctx):
    """The user said no: error= with this login's state ends the login
    (after a stray error= without a state was ignored)."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port) as lp:
        q = params(lp.url())[1]
        st, body, _ = browse(port, "/callback?error=access_denied")
        check(st == 403 and "ignored" in body, "no state: answered %d %s" % (st, short(body)))
        st, body, _ = browse(port, "/callback?error=access_denied&error_description=no&state=" + q["state"])
        check(st == 403 and "refused" in body, "answered %d %s" % (st, short(body)))
        rc = lp.wait()
        out, err = lp.text()
        check(rc == EX_LOGIN, "exit %d" % rc)
        check("refused the login: access_denied" in err, "message %s" % short(err))
        check(not g.token_requests(c.up) and auth_files(c) == [], "exchanged or written: %s" % auth_files(c))


def test_spare_connections_oldest_goes(ctx):
    """Ten idle connections at once, two more than the server keeps: the
    ninth closes the first, the tenth the second (not the ninth)."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    lp = None
    idle = []

    def closed(s, wait):
        s.settimeout(wait)
        try:
            return s.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    try:
        lp = Login(c, "claude", port)
        q = params(lp.url())[1]
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(10)]
        check(closed(idle[0], 5), "the first connection is still open")
        check(closed(idle[1], 5), "the second connection is still open")
        still = [i + 1 for i in range(2, 10) if closed(idle[i], 0.2)]
        check(still == [], "connections %s were closed, not the oldest" % still)
        st, _, _ = browse(port, "/callback?code=c0de&state=" + q["state"])
        check(st == 200, "callback answered %d" % st)
        check(lp.wait() == 0, "exit %s" % lp.proc.returncode)
    finally:
        for s in idle:
            s.close()
        if lp:
            lp.kill()
        c.close()


def test_stdin_closed(ctx):
    """Started with fd 0 closed: the listener is fd 0, and is still
    served as the listener, not read as the terminal."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port, timeout=8, stdin_closed=True) as lp:
        q = params(lp.url())[1]
        try:
            st, body, _ = browse(port, "/callback?code=c0de&state=" + q["state"], timeout=5)
        except socket.timeout:
            raise TestFailure("the callback was never answered: %s" % short(lp.text()[1]))
        check(st == 200, "callback answered %d %s" % (st, short(body)))
        check(lp.wait() == 0, "exit %s: %s" % (lp.proc.returncode, short(lp.text()[1])))
        check_file(c, "claude-new@example.com.json", "claude")


def test_other_paths_ignored(ctx):
    """favicon, / and a callback without a code get 404/400; the login keeps
    waiting and the real callback still works."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port) as lp:
        q = params(lp.url())[1]
        for target, want in (("/favicon.ico", 404), ("/", 404), ("/callbackx?code=a&state=b", 404),
                             ("/auth/callback?code=a&state=" + q["state"], 404), ("/callback", 400)):
            st, body, _ = browse(port, target)
            check(st == want, "%s answered %d, want %d" % (target, st, want))
        check(lp.proc.poll() is None, "login ended on a stray request")
        st, body, _ = browse(port, "/callback?code=c0de&state=" + q["state"])
        check(st == 200, "callback answered %d" % st)
        check(lp.wait() == 0, "exit %s" % lp.proc.returncode)
        check_file(c, "claude-new@example.com.json", "claude")


def _paste(ctx, make_line, want_code, first=None, hint="not a redirect URL or a code"):
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port, use_pty=True) as lp:
        q = params(lp.url())[1]
        prompt = lp.wait_for("here:")
        check("remote" in prompt and "tunnel" in prompt, "the prompt does not say it is for remote machines: %s"
              % short(prompt, 800))
        if first:   # something that is no answer: a hint, and another chance
            lp.paste(first(q, port) if callable(first) else first)
            lp.wait_for(hint)
        lp.paste(make_line(q, port))
        rc = lp.wait()
        out, _ = lp.text()
        check(rc == 0, "exit %d: %s" % (rc, short(out, 800)))
        check_claude_exchange(g, c, q, port, want_code)
        path, d = check_file(c, "claude-new@example.com.json", "claude")
        check(last_line(out).startswith("saved %s; start the proxy with: " % path), "last line %r" % last_line(out))
        no_secrets([out], g.access, g.refresh)


def test_paste_redirect_url(ctx):
    """On SSH without a tunnel: the redirect URL pasted on the terminal."""
    _paste(ctx, lambda q, port: "http://localhost:%d/callback?code=pasted_c0de&state=%s" % (port, q["state"]),
           "pasted_c0de", first="yes")


def test_paste_code_hash_state(ctx):
    """Claude's manual page shows CODE#STATE: pasted as it is."""
    _paste(ctx, lambda q, port: "  pasted_c0de#%s  " % q["state"], "pasted_c0de")


def test_paste_bare_code(ctx):
    _paste(ctx, lambda q, port: "bare_c0de", "bare_c0de")


def test_paste_wrong_state(ctx):
    """A pasted answer of another login is the user's slip: a hint, the
    prompt stays, and the right paste still logs in."""
    _paste(ctx, lambda q, port: "pasted_c0de#%s" % q["state"], "pasted_c0de",
           first="c0de#" + b64url(secrets.token_bytes(32)), hint="state (from an older URL?): ignored")


def test_paste_no_state(ctx):
    """A pasted redirect URL without its state is no answer to this login."""
    _paste(ctx, lambda q, port: "http://localhost:%d/callback?code=pasted_c0de&state=%s" % (port, q["state"]),
           "pasted_c0de", first=lambda q, port: "http://localhost:%d/callback?code=c0de" % port,
           hint="state (from an older URL?): ignored")


def login_through(c, port):
    """A Claude login whose browser comes back with a new code: (exit,
    the page's status, its body, stderr)."""
    lp = Login(c, "claude", port)
    try:
        q = check_claude_url(lp.url(), port)
        st, body, _ = browse(port, "/callback?code=%s&state=%s" % ("ac_" + secrets.token_urlsafe(20), q["state"]))
        rc = lp.wait()
        return rc, st, body, lp.text()[1]
    finally:
        lp.kill()


def test_full_disk_no_exchange(ctx):
    """auth-dir on a full tmpfs: the code (which works once) is not
    exchanged, the login fails saying which disk, what error and what to
    do, and nothing is left behind; with space freed the next login
    saves its file after one exchange."""
    g = Grants()
    c = setup_case(ctx, g)
    fs = Tmpfs(c.auth, "64k")
    try:
        if not fs.mounted:
            rerun_in_userns(os.path.abspath(__file__), "full_disk_no_exchange", fs.why)
            return
        fs.fill()
        port = free_port()
        rc, st, body, err = login_through(c, port)
        check(rc == EX_LOGIN, "exit %d; stderr %s" % (rc, short(err)))
        check(st == 502 and "Nothing was saved" in body, "the browser was told %d %s" % (st, short(body)))
        check(not g.token_requests(c.up), "the code was exchanged with no room for the token file")
        for want in (c.auth, "No space left on device", "free space", "nothing asked"):
            check(want in err, "the message does not say %r: %s" % (want, short(err, 600)))
        check(auth_files(c) == ["zz-filler"], "left in auth-dir: %s" % auth_files(c))
        fs.free()
        rc, st, body, err = login_through(c, port)
        check(rc == 0 and st == 200, "with room: exit %d, page %d; stderr %s" % (rc, st, short(err)))
        check(len(g.token_requests(c.up)) == 1, "%d exchanges" % len(g.token_requests(c.up)))
        path, d = check_file(c, "claude-new@example.com.json", "claude")
        check(d["access_token"] == g.access, "tokens in the file")
    finally:
        fs.close()
        c.close()


def test_rooms_of_dead_logins_removed(ctx):
    """A login killed between taking its room and saving leaves
    .claude-login.tmp.PID; the next login removes it when that process is
    gone, and leaves a live login's room alone."""
    g = Grants()
    c = setup_case(ctx, g)
    try:
        gone = subprocess.Popen(["true"])
        gone.wait()
        dead = ".claude-login.tmp.%d" % gone.pid
        live = ".claude-login.tmp.%d" % os.getpid()
        for n in (dead, live):
            with open(os.path.join(c.auth, n), "wb") as f:
                f.write(b"\0" * 65536)
        rc, st, body, err = login_through(c, free_port())
        check(rc == 0 and st == 200, "login: exit %d, page %d; stderr %s" % (rc, st, short(err)))
        check(auth_files(c) == [live, "claude-new@example.com.json"], "auth-dir after the login: %s" % auth_files(c))
        check(dead in err, "the removal is not told: %s" % short(err, 600))
    finally:
        c.close()


def test_paste_denied(ctx):
    """The address of the provider's refusal, pasted: the login ends."""
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "claude", port, use_pty=True) as lp:
        q = params(lp.url())[1]
        lp.wait_for("here:")
        lp.paste("http://localhost:%d/callback?error=access_denied&state=%s" % (port, q["state"]))
        rc = lp.wait()
        check(rc == EX_LOGIN, "exit %d" % rc)
        check("refused the login: access_denied" in lp.text()[0], "message %s" % short(lp.text()[0], 800))
        check(not g.token_requests(c.up) and auth_files(c) == [], "exchanged or written")


def test_timeout(ctx):
    g = Grants()
    c = setup_case(ctx, g)
    port = free_port()
    t0 = time.monotonic()
    with running(c, "claude", port, timeout=2) as lp:
        lp.url()
        rc = lp.wait(20)
        took = time.monotonic() - t0
        out, err = lp.text()
        check(rc == EX_LOGIN, "exit %d" % rc)
        check(1.5 < took < 10, "took %.1fs" % took)
        check("2 seconds" in err and "again" in err, "message: %s" % short(err))
        check(auth_files(c) == [] and not g.token_requests(c.up), "something happened: %s" % auth_files(c))
        # The port is free again: nothing left listening.
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        finally:
            s.close()


def test_token_endpoint_errors(ctx):
    """invalid_grant, a 500 and a 200 without a token: clear message, no file,
    failure page in the browser."""
    cases = [
        (json_response({"error": "invalid_grant", "error_description": "bad code"}, "400 Bad Request"),
         "refused the authorization code"),
        (json_response({"error": {"type": "api_error", "message": "boom"}}, "500 Internal Server Error"), "500"),
        (json_response({"token_type": "Bearer"}), "access_token"),
        (json_response({"access_token": "sk-ant-oat01-NOMAIL-x", "refresh_token": "r"}), "email_address"),
    ]
    for resp, want in cases:
        g = Grants()
        g.answer = lambda req, resp=resp: resp
        c = setup_case(ctx, g)
        port = free_port()
        with running(c, "claude", port) as lp:
            q = params(lp.url())[1]
            st, body, _ = browse(port, "/callback?code=c0de_secret&state=" + q["state"])
            check(st >= 400 and "failed" in body.lower(), "page %d %s" % (st, short(body)))
            rc = lp.wait()
            out, err = lp.text()
            check(rc == EX_LOGIN, "%s: exit %d" % (want, rc))
            check(want in err and "nothing saved" in err, "message %s, want %r" % (short(err), want))
            check(auth_files(c) == [], "written: %s" % auth_files(c))
            no_secrets([out, err], "c0de_secret", "sk-ant-oat01-NOMAIL-x")


def test_unsafe_email_refused(ctx):
    for email in ("../evil@example.com", ".hidden@example.com", "a\nb@example.com"):
        g = Grants(email=email)
        c = setup_case(ctx, g)
        port = free_port()
        with running(c, "claude", port) as lp:
            q = params(lp.url())[1]
            browse(port, "/callback?code=c0de&state=" + q["state"])
            rc = lp.wait()
            check(rc == EX_LOGIN, "%r: exit %d" % (email, rc))
            check("file name" in lp.text()[1], "%r: message %s" % (email, short(lp.text()[1])))
            check(auth_files(c) == [] and os.listdir(c.dir).count("evil@example.com.json") == 0,
                  "%r: written %s" % (email, auth_files(c)))


# ------------------------------------------------------------ Codex

def test_codex_login(ctx):
    g = Grants()
    g.access = "codex-access-" + secrets.token_hex(16)
    g.refresh = "codex-refresh-" + secrets.token_hex(16)
    g.id_token = make_jwt({"email": "dev@example.org", "sub": "auth0|x",
                           "https://api.openai.com/auth": {"chatgpt_account_id": "acc-4f2e",
                                                           "chatgpt_plan_type": "plus"}})
    g.answer = g.codex_ok
    c = setup_case(ctx, g)
    port = free_port()
    with running(c, "codex", port) as lp:
        url = lp.url()
        u, q = params(url)
        check(u.scheme == "https" and u.netloc == "auth.example:8443" and u.path == "/oauth/authorize",
              "authorize endpoint %r" % url)
        want = {"client_id": CODEX_ID, "response_type": "code",
                "redirect_uri": "http://localhost:%d/auth/callback" % port,
                "scope": "openid email profile offline_access", "code_challenge_method": "S256",
                "id_token_add_organizations": "true", "codex_cli_simplified_flow": "true"}
        for k, v in want.items():
            check(q.get(k) == v, "%s=%r, want %r" % (k, q.get(k), v))
        check(set(q) == set(want) | {"code_challenge", "state"}, "parameters %s" % sorted(q))
        st, _, _ = browse(port, "/callback?code=x&state=" + q["state"])
        check(st == 404, "codex answered %d on /callback" % st)
        code = "ac_" + secrets.token_urlsafe(30)
        st, body, _ = browse(port, "/auth/callback?code=%s&scope=openid+email&state=%s" % (code, q["state"]))
        check(st == 200 and "dev@example.org" in body, "callback answered %d %s" % (st, short(body)))
        rc = lp.wait()
        out, err = lp.text()
        check(rc == 0, "exit %d: %s" % (rc, short(err)))
        reqs = g.token_requests(c.up)
        check(len(reqs) == 1 and reqs[0].target == "/oauth/token", "token requests %r" % reqs)
        r = reqs[0]
        check(r.header("content-type") == "application/x-www-form-urlencoded", "Content-Type %r" % r.header("content-type"))
        check(r.header("accept") == "application/json", "Accept %r" % r.header("accept"))
        f = urllib.parse.parse_qs(r.body.decode(), strict_parsing=True)
        check(set(f) == {"grant_type", "client_id", "code", "redirect_uri", "code_verifier"}, "form keys %s" % sorted(f))
        f = {k: v[0] for k, v in f.items()}
        check(f["grant_type"] == "authorization_code" and f["client_id"] == CODEX_ID and f["code"] == code,
              "form %r" % {k: v for k, v in f.items() if k != "code_verifier"})
        check(f["redirect_uri"] == "http://localhost:%d/auth/callback" % port, "redirect_uri %r" % f["redirect_uri"])
        check(s256(f["code_verifier"]) == q["code_challenge"], "S256(verifier) != code_challenge")
        path, d = check_file(c, "codex-dev@example.org.json", "codex")
        check(set(d) == {"type", "id_token", "access_token", "refresh_token", "account_id", "email", "expired",
                         "last_refresh"}, "keys %s" % sorted(d))
        check(d["id_token"] == g.id_token and d["access_token"] == g.access and d["refresh_token"] == g.refresh,
              "tokens in the file")
        check(d["account_id"] == "acc-4f2e" and d["email"] == "dev@example.org", "account %r %r" % (
            d["account_id"], d["email"]))
        check(abs(rfc3339(d["expired"]) - (time.time() + 864000)) < 120, "expired %r" % d["expired"])
        check(last_line(out) == "saved %s; start the proxy with: cli-proxy-api --config %s" % (
            path, os.path.realpath(c.cfg)), "last line %r" % last_line(out))
        no_secrets([out, err], code, f["code_verifier"], g.access, g.refresh, g.id_token)


def test_codex_malformed_id_token(ctx):
    bad = [
        ("not-a-jwt", "not a JWT"),
        ("a.b.c.d", "not a JWT"),
        ("eyJhbGciOiJub25lIn0.@@@.sig", "base64url"),
        ("eyJhbGciOiJub25lIn0.%s.sig" % b64url(b"not json"), "JSON"),
        (make_jwt({"sub": "x", "https://api.openai.com/auth": {"chatgpt_account_id": "a"}}), "email"),
        (make_jwt({"email": "x@y.z"}), "chatgpt_account_id"),
        (None, "not a JWT"),
    ]
    for tok, want in bad:
        g = Grants()
        g.id_token = tok
        g.answer = g.codex_ok
        c = setup_case(ctx, g)
        port = free_port()
        with running(c, "codex", port) as lp:
            q = params(lp.url())[1]
            st, body, _ = browse(port, "/auth/callback?code=c0de&state=" + q["state"])
            check(st >= 400, "%s: page %d" % (want, st))
            rc = lp.wait()
            out, err = lp.text()
            check(rc == EX_LOGIN, "%s: exit %d" % (want, rc))
            check("id_token" in err and want in err and "nothing saved" in err, "%s: message %s" % (want, short(err)))
            check(auth_files(c) == [], "%s: written %s" % (want, auth_files(c)))
            no_secrets([out, err], g.access, g.refresh, tok)


# ------------------------------------------------------------ command line

def test_usage_and_port_in_use(ctx):
    g = Grants()
    c = setup_case(ctx, g)
    try:
        for args in (["--no-browser"], ["--oauth-callback-port", "8000"], ["--claude-login", "--codex-login"],
                     ["--claude-login", "--oauth-callback-port", "0"],
                     ["--claude-login", "--oauth-callback-port", "70000"],
                     ["--claude-login", "--oauth-callback-port", "12x"], ["--claude-login", "--serve"]):
            r = subprocess.run([BIN, "--config", c.cfg] + args, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=10, env=c.env())
            check(r.returncode == EX_USAGE, "%s: exit %d" % (args, r.returncode))
        r = subprocess.run([BIN, "--help"], capture_output=True, timeout=10)
        h = r.stdout.decode()
        for w in ("--claude-login", "--codex-login", "--no-browser", "--oauth-callback-port", "115"):
            check(w in h, "--help does not mention %s" % w)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        try:
            env = c.env()
            env["CLI_PROXY_API_LOGIN_TIMEOUT"] = "5"
            r = subprocess.run([BIN, "--config", c.cfg, "--claude-login", "--no-browser", "--oauth-callback-port",
                                str(s.getsockname()[1])], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=20, env=env)
        finally:
            s.close()
        err = r.stderr.decode()
        check(r.returncode == EX_SYS and "in use" in err and "--oauth-callback-port" in err,
              "port in use: exit %d %s" % (r.returncode, short(err)))
    finally:
        c.close()


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
