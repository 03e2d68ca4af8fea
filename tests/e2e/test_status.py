"""End-to-end tests of the status page: GET /status.json holds the
fixture's numbers, GET /status is one self-contained HTML page with every
account and no piece of any credential, headless Chromium renders it (a
screenshot with the chart colours in it, and bars in the rendered DOM whose
data-count equal the fixture's per-day counts), only loopback peers and
local Host names get it, and with api-keys set it needs a key (a header, or
?key= for a browser).

Needs Debian's chromium (make deps); without it the render test fails."""
import html.parser
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

CHROMIUM = "/usr/bin/chromium"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
METRICS = ("requests", "errors", "tokens", "input", "output", "cache_read", "cache_write")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
EVIL_MODEL = "evil<script>alert(1)</script>&\"'"


class NoPKI:
    """No fake upstream here: only the config's ca-file is needed."""
    ca_file = SYSTEM_CA


def day_of(t):
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_json(path, obj):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)


class World:
    """Fixture accounts, state and usage lines in a Case's auth-dir, and the
    numbers the page must show for them."""

    def __init__(self, c, now):
        self.now = now
        self.secrets = []
        self.tokens = {}
        for email in ("alice@example.com", "bob@example.com"):
            access = "sk-ant-oat01-STATUS-" + secrets.token_hex(20)
            refresh = c.add_token(email, access)
            self.secrets += [access, refresh]
        # alice's token expires in 3h12m: the page says "in 3h12m".
        p = os.path.join(c.auth, "claude-alice@example.com.json")
        with open(p) as f:
            d = json.load(f)
        d["expired"] = stamp(now + 3 * 3600 + 12 * 60 + 30)
        write_json(p, d)
        codex_access = "eyJhbGciOiJSUzI1NiJ9.CDXACCESS-" + secrets.token_hex(24)
        codex_refresh = "codex-rt-" + secrets.token_hex(16)
        write_json(os.path.join(c.auth, "codex-carol@example.com.json"), {
            "type": "codex", "access_token": codex_access, "refresh_token": codex_refresh,
            "account_id": "acct-carol-1", "email": "carol@example.com",
            "expired": stamp(now + 5 * 86400), "last_refresh": stamp(now - 60)})
        self.secrets += [codex_access, codex_refresh]
        self.state_errors = [(stamp(now - 120), "alice@example.com", "rate limited <b>by upstream</b>"),
                             (stamp(now - 3600), "bob@example.com", "refresh token revoked & gone")]
        write_json(os.path.join(c.auth, "state.json"), {
            "claude": {"cursor": 0},
            "accounts": {
                "claude-alice@example.com.json": {"cooldown_until": int(now) + 600, "backoff": 4,
                                                  "last_error": self.state_errors[0][2],
                                                  "last_error_at": int(now) - 120},
                "claude-bob@example.com.json": {"needs_login": True, "last_error": self.state_errors[1][2],
                                                "last_error_at": int(now) - 3600}}})
        self.lines = self.usage(c)

    def usage(self, c):
        """17 days of lines (3 older than the charts), the older half in
        usage.jsonl.1, a line that is not JSON, a model name with markup."""
        rng = random.Random(9)
        who = [("claude", "alice@example.com", ["claude-sonnet-4-5", "claude-opus-4-1"]),
               ("claude", "bob@example.com", ["claude-sonnet-4-5"]),
               ("codex", "carol@example.com", ["gpt-5-codex"])]
        old, new = [], []
        for k in range(16, -1, -1):
            start = int(self.now - k * 86400) // 86400 * 86400
            j = 0
            for prov, acct, models in who:
                for _ in range(rng.randint(0, 4)):
                    j += 1
                    rec = {"time": stamp(start + 600 + j * 61), "provider": prov, "account": acct,
                           "model": rng.choice(models), "status": rng.choice([200] * 5 + [429, 500]),
                           "input": rng.randint(0, 5000), "output": rng.randint(0, 2000),
                           "cache_read": rng.randint(0, 90000), "cache_write": rng.randint(0, 300),
                           "ms": rng.randint(5, 9000)}
                    (old if k >= 8 else new).append(rec)
        start = int(self.now) // 86400 * 86400
        new.append({"time": stamp(start + 1), "provider": "claude", "account": "alice@example.com",
                    "model": EVIL_MODEL, "status": 200, "input": 7, "output": 3, "cache_read": 0,
                    "cache_write": 0, "ms": 9})
        with open(os.path.join(c.auth, "usage.jsonl.1"), "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in old))
        with open(os.path.join(c.auth, "usage.jsonl"), "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in new[:3]))
            f.write("this line is not JSON\n")
            f.write("".join(json.dumps(r) + "\n" for r in new[3:]))
        return old + new

    def expected(self, days):
        """by_account and by_model as the page must show them for days."""
        out = {"account": {}, "model": {}}
        for r in self.lines:
            d = r["time"][:10]
            if d not in days:
                continue
            i = days.index(d)
            cr = 0 if r["provider"] == "codex" else r["cache_read"]
            add = {"requests": 1, "errors": int(r["status"] >= 400),
                   "tokens": r["input"] + r["output"] + r["cache_write"] + cr,
                   "input": r["input"], "output": r["output"], "cache_read": r["cache_read"],
                   "cache_write": r["cache_write"]}
            for g, key in (("account", r["account"]), ("model", r["model"])):
                s = out[g].setdefault(key, {m: [0] * len(days) for m in METRICS})
                for m in METRICS:
                    s[m][i] += add[m]
        return out

    def expected_errors(self):
        errs = [(r["time"], r["account"], r["status"]) for r in self.lines if r["status"] >= 400]
        errs += [(t, a, None) for t, a, _ in self.state_errors]
        errs.sort(key=lambda e: e[0], reverse=True)
        return errs[:20]


def make_case(**cfg):
    return Case(NoPKI(), upstream=False, token=False, usage_statistics_enabled=True, **cfg)


def get(c, target, headers=None, method="GET"):
    hs = [("Host", "127.0.0.1:8317")] if headers is None else headers
    rc, out, err = c.run_pipe(request(method, target, hs))
    rs = parse_responses(out, [method])
    check(len(rs) == 1, "%s %s: want one response, stdout %s, stderr %s" % (method, target, short(out),
                                                                           short(err)))
    return rs[0], out


def leaked(text, secrets_, n=8):
    for s in secrets_:
        for i in range(len(s) - n + 1):
            if s[i:i + n] in text:
                return "%r (from a %d-char secret)" % (s[i:i + n], len(s))
    return None


# ------------------------------------------------------------ JSON

def test_json_matches_fixture(ctx):
    key = "sk-ant-api03-KEY-" + secrets.token_hex(16)
    with make_case(claude_api_key=[{"api-key": key}]) as c:
        w = World(c, time.time())
        r, out = get(c, "/status.json")
        check(r.status == 200, "status %r" % r)
        check((r.header("content-type") or "").startswith("application/json"), "type %r" % r.headers)
        check(r.header("cache-control") == "no-store", "Cache-Control %r" % r.header("cache-control"))
        j = r.json()
        check(set(j) >= {"accounts", "days", "by_account", "by_model", "errors"}, "keys %s" % sorted(j))
        days = j["days"]
        check(len(days) == 14 and days == sorted(days) and days[-1] in (day_of(w.now), day_of(time.time())),
              "days %r" % days)
        want = w.expected(days)
        for g in ("account", "model"):
            got = j["by_" + g]
            check(set(got) == set(want[g]), "by_%s keys %s, want %s" % (g, sorted(got), sorted(want[g])))
            for k in want[g]:
                for m in METRICS:
                    check(got[k][m] == want[g][k][m], "by_%s[%r][%s] = %r, want %r" % (
                        g, k, m, got[k][m], want[g][k][m]))
        accts = {a["id"]: a for a in j["accounts"]}
        check(sorted(accts) == ["claude-alice@example.com.json", "claude-api-key-1",
                                "claude-bob@example.com.json", "codex-carol@example.com.json"],
              "accounts %s" % sorted(accts))
        al, bo, ca, ak = (accts["claude-alice@example.com.json"], accts["claude-bob@example.com.json"],
                          accts["codex-carol@example.com.json"], accts["claude-api-key-1"])
        check(al["email"] == "alice@example.com" and al["provider"] == "claude", "alice %r" % al)
        check(0 < al["cooldown_remaining"] <= 600 and not al["needs_login"], "alice cooling %r" % al)
        check(abs(al["expires_in"] - (3 * 3600 + 12 * 60 + 30)) < 60, "alice expires_in %r" % al)
        check(al["last_error"] == "rate limited <b>by upstream</b>", "alice last_error %r" % al)
        check(bo["needs_login"] is True and bo["cooldown_remaining"] == 0, "bob %r" % bo)
        check(ca["provider"] == "codex" and ca["email"] == "carol@example.com" and not ca["needs_login"]
              and ca["cooldown_remaining"] == 0 and ca["problem"] is None, "carol %r" % ca)
        check(ak["kind"] == "api-key" and ak["expires"] is None, "api key %r" % ak)
        got_errs = [(e["time"], e["account"], e["status"]) for e in j["errors"]]
        check(got_errs == w.expected_errors(), "errors %r, want %r" % (got_errs, w.expected_errors()))
        check(j["unreadable_lines"] == 1, "unreadable_lines %r" % j["unreadable_lines"])
        bad = leaked(out.decode("utf-8", "replace"), w.secrets + [key])
        check(not bad, "status.json shows a credential piece: %s" % bad)


# ------------------------------------------------------------ HTML

class Dom(html.parser.HTMLParser):
    """The charts (svg with data-group/key/metric, their rects) and all text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.charts = {}
        self.svg = None
        self.titles = 0
        self.text = []
        self.tags = []
        self.attrs_seen = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.attrs_seen.append((tag, a))
        if tag == "svg" and "data-group" in a:
            self.svg = (a["data-group"], a["data-key"], a["data-metric"])
            self.charts[self.svg] = []
        elif tag == "rect" and self.svg and "data-count" in a:
            self.charts[self.svg].append((a.get("data-day"), a["data-count"]))
        elif tag == "title" and self.svg:
            self.titles += 1

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None

    def handle_data(self, data):
        self.text.append(data)


def parse_dom(text):
    d = Dom()
    d.feed(text)
    d.close()
    return d


def check_charts(dom, w, days, where):
    want = w.expected(days)
    for g in ("account", "model"):
        for k, series in want[g].items():
            for m in ("requests", "tokens"):
                bars = dom.charts.get((g, k, m))
                check(bars is not None, "%s: no %s chart for %s %r; charts %s" % (where, m, g, k,
                                                                                 sorted(dom.charts)[:8]))
                check([b[0] for b in bars] == days, "%s: %s %r %s days %r" % (where, g, k, m, bars))
                got = [int(b[1]) for b in bars]
                check(got == series[m], "%s: %s %r %s bars %r, fixture %r" % (where, g, k, m, got, series[m]))
    n = sum(len(v) * 2 for v in want.values())
    check(len(dom.charts) == n, "%s: %d charts, want %d" % (where, len(dom.charts), n))
    check(dom.titles >= n * 14, "%s: %d bar titles for %d bars" % (where, dom.titles, n * 14))


def check_self_contained(dom, body):
    check("<script" not in body.lower(), "a script in the page")
    for tag, a in dom.attrs_seen:
        check(tag not in ("script", "iframe", "object", "embed", "link", "img"), "a <%s> in the page" % tag)
        check("src" not in a, "<%s src=%r>" % (tag, a.get("src")))
        for k, v in a.items():
            check(not k.startswith("on"), "event handler %s on <%s>" % (k, tag))
            if k == "href":
                check(v.startswith("/") or v.startswith("#"), "external link %r" % v)


def test_html_page(ctx):
    key = "sk-ant-api03-KEY-" + secrets.token_hex(16)
    with make_case(claude_api_key=[{"api-key": key}]) as c:
        w = World(c, time.time())
        r, out = get(c, "/status")
        check(r.status == 200, "status %r" % r)
        check(r.header("content-type") == "text/html; charset=utf-8", "type %r" % r.header("content-type"))
        check(r.header("cache-control") == "no-store", "Cache-Control %r" % r.header("cache-control"))
        check(CSP in (r.header("content-security-policy") or ""), "CSP %r" % r.header("content-security-policy"))
        body = r.body.decode("utf-8")
        dom = parse_dom(body)
        check_self_contained(dom, body)
        text = "".join(dom.text)
        for who in ("alice@example.com", "bob@example.com", "carol@example.com", "claude-api-key-1"):
            check(who in text, "%s not on the page" % who)
        check("in 3h1" in text, "alice's expiry countdown missing")
        check("left" in text and "needs login" in text, "cooldown or needs-login missing")
        check("rate limited <b>by upstream</b>" in text, "alice's last error not shown as text")
        check(EVIL_MODEL in text, "the model name with markup is not shown as text")
        check("<b>by upstream" not in body, "state.json's last_error reached the page unescaped")
        check(EVIL_MODEL not in body, "a model name reached the page unescaped")
        bad = leaked(body, w.secrets + [key])
        check(not bad, "the page shows a credential piece: %s" % bad)
        check_charts(dom, w, json.loads(get(c, "/status.json")[0].body)["days"], "served HTML")
        # GET / is the same page; HEAD gives the head alone.
        r2, _ = get(c, "/")
        check(r2.status == 200 and b"cli-proxy-api status" in r2.body, "GET / %r" % r2)
        # HEAD, as Claude Code sends HEAD / before its first request: the
        # head alone, the page not built (so no length), and the next
        # request on the connection answered.
        rc, raw, err = c.run_pipe(request("HEAD", "/", [("Host", "127.0.0.1:8317")]) +
                                  request("GET", "/status.json", [("Host", "127.0.0.1:8317")]))
        rs = parse_responses(raw, ["HEAD", "GET"])
        check(len(rs) == 2 and rs[0].status == 200 and rs[0].body == b"" and rs[1].status == 200,
              "HEAD then GET: %s" % short(raw))
        check(rs[0].header("content-type") == "text/html; charset=utf-8", "HEAD type %r" % rs[0].headers)
        check(rs[0].header("content-length") is None, "HEAD built the page: %r" % rs[0].headers)
        check(json.loads(rs[1].body)["accounts"], "GET after HEAD: %s" % short(rs[1].body))


def test_host_and_keys(ctx):
    client_key = "client-" + secrets.token_hex(12) + "+/="
    with make_case(api_keys=[client_key, "second-key"]) as c:
        c.add_token("alice@example.com", "sk-ant-oat01-K-" + secrets.token_hex(16))
        enc = "".join("%%%02X" % ord(ch) if ch in "+/=" else ch for ch in client_key)
        for target, hs, want in (
                ("/status", None, 401),
                ("/status.json", None, 401),
                ("/status?key=wrong", None, 401),
                ("/status?key=" + client_key[:-1], None, 401),
                ("/status?key=", None, 401),
                ("/status?key=" + enc, None, 200),
                ("/status?key=" + client_key, None, 200),   # '+' is not a space here
                ("/status.json?x=1&key=second-key", None, 200),
                ("/", [("Host", "localhost:8317"), ("x-api-key", client_key)], 200),
                ("/status", [("Host", "[::1]:8317"), ("Authorization", "Bearer second-key")], 200),
                ("/status?key=second-key", [("Host", "127.9.8.7")], 200),
                ("/status?key=second-key", [("Host", "evil.example:8317")], 403),
                ("/status?key=second-key", [("Host", "127.0.0.1.evil.example")], 403),
                ("/status?key=second-key", [("Host", "localhost:80x")], 403)):
            r, out = get(c, target, hs)
            check(r.status == want, "%s %r: %d, want %d: %s" % (target, hs, r.status, want, short(r.body)))
            if want != 200:
                check(r.json().get("type") == "error", "error shape %s" % short(r.body))
            check(client_key not in out.decode("utf-8", "replace"), "%s: the page shows the client key" % target)
        err = "".join(c.stderrs)
        check(client_key not in err and enc not in err, "the key reached the log: %s" % short(err))


def test_status_setting(ctx):
    """status: off hides the page; status: api-key asks every peer for a
    key (a pipe counts as local, which a relay from a public address is
    not), and ignores Host, which behind a relay is the public name."""
    with make_case(status="off") as c:
        r, out = get(c, "/status")
        check(r.status == 404 and "status: off" in r.json()["error"]["message"], "off: %r" % r)
    with make_case(status="api-key") as c:
        r, out = get(c, "/status.json")
        check(r.status == 403 and "api-keys" in r.json()["error"]["message"], "api-key without keys: %r" % r)
    with make_case(status="api-key", api_keys=["k-" + secrets.token_hex(8)]) as c:
        key = c.cfg_values["api-keys"][0]
        r, out = get(c, "/status.json")
        check(r.status == 401, "api-key, a pipe without a key: %r" % r)
        r, out = get(c, "/status.json", [("Host", "proxy.example.org"), ("x-api-key", key)])
        check(r.status == 200 and "accounts" in r.json(), "api-key with the key, public Host: %r" % r)
    with make_case(status="sometimes") as c:
        rc, out, err = c.run_pipe(request("GET", "/status", [("Host", "localhost")]))
        check(rc == EX_CONFIG and "status must be local, off or api-key" in err, "bad value: %s" % short(err))


def test_non_loopback_refused(ctx):
    """A TCP peer on a non-loopback address of this machine gets 403 (fd 0
    is the accepted socket, as under inetd). A machine with loopback alone
    cannot make such a peer: then tests/unit/test_status checks the address
    test, and this one says so."""
    ip = None
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(("192.0.2.123", 9))
        ip = u.getsockname()[0]
        u.close()
    except OSError:
        pass
    if not ip or ip.startswith("127."):
        raise Skip("no non-loopback IPv4 address here; tests/unit/test_status checks the address test")
    with make_case() as c:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        cl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            ls.bind((ip, 0))
            ls.listen(1)
            cl.settimeout(10)
            cl.connect(ls.getsockname())
            srv, peer = ls.accept()
            check(not peer[0].startswith("127."), "peer %r" % (peer,))
            try:
                p = subprocess.Popen([BIN, "--config", c.cfg], stdin=srv, stdout=srv, stderr=subprocess.PIPE,
                                     env=c.env())
            finally:
                srv.close()
            cl.sendall(request("GET", "/status", [("Host", "127.0.0.1:8317"), ("Connection", "close")]))
            r = Reader(cl).read_response("GET", timeout=10)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            c.stderrs.append(p.stderr.read().decode("utf-8", "replace"))
            p.stderr.close()
            check(r.status == 403, "peer %s got %r" % (peer[0], r))
            check(b"loopback" in r.body, "403 body %s" % short(r.body))
        finally:
            cl.close()
            ls.close()


# ------------------------------------------------------------ Chromium

def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of a non-interlaced 8-bit RGB
    or RGBA PNG, filters undone: enough for Chromium's screenshots."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    i, idat, ihdr = 8, [], None
    while i + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data[i + 8:i + 8 + n])
        elif kind == b"IDAT":
            idat.append(data[i + 8:i + 8 + n])
        elif kind == b"IEND":
            break
        i += 12 + n
    check(ihdr is not None, "PNG without IHDR")
    w, h, depth, ctype, _, _, interlace = ihdr
    check(depth == 8 and ctype in (2, 6) and interlace == 0, "PNG format %r" % (ihdr,))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride, prev, rows, off = w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        f, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        off += stride + 1
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for x in range(stride):
                line[x] = (line[x] + (((line[x - bpp] if x >= bpp else 0) + prev[x]) >> 1)) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, cc = prev[x], prev[x - bpp] if x >= bpp else 0
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def chromium(c, url, mode, timeout=60):
    """Run headless Chromium once (mode: ["--screenshot=PATH"] or
    ["--dump-dom"]); returns stdout. Killed, with all it started, in the
    end whatever happens."""
    if not os.path.exists(CHROMIUM):
        raise TestFailure("%s is missing: run make deps (it installs Debian's chromium)" % CHROMIUM)
    prof = os.path.join(c.dir, "chromium-profile")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + prof,
           "--window-size=1200,1600"] + mode + [url]
    errpath = os.path.join(c.dir, "chromium-stderr.txt")
    with open(errpath, "wb") as errf:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
                             env=c.env(), start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("chromium did not finish within %d s" % timeout)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait(5)
        if p.stdout:
            p.stdout.close()
    with open(errpath, "rb") as f:
        err = f.read().decode("utf-8", "replace")
    check(p.returncode == 0, "chromium exit %s: %s" % (p.returncode, short(err[-600:], 600)))
    return out


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TestFailure("--serve is not listening on port %d" % port)


def test_chromium_renders_page(ctx):
    port = free_port()
    with make_case(port=port) as c:
        w = World(c, time.time())
        c.spawn_serve()
        wait_port(port)
        url = "http://127.0.0.1:%d/status" % port
        shot = os.path.join(c.dir, "status.png")
        chromium(c, url, ["--screenshot=" + shot])
        check(os.path.exists(shot), "no screenshot written")
        size = os.path.getsize(shot)
        check(size > 20000, "screenshot only %d bytes" % size)
        with open(shot, "rb") as f:
            wd, ht, bpp, rows = png_pixels(f.read())
        check((wd, ht) == (1200, 1600), "screenshot %dx%d" % (wd, ht))
        colours = {}
        for row in rows[::3]:
            for x in range(0, wd * bpp, bpp * 3):
                px = bytes(row[x:x + 3])
                colours[px] = colours.get(px, 0) + 1
        check(len(colours) > 20, "only %d colours on the screenshot" % len(colours))
        check(bytes((246, 247, 249)) in colours, "no page background in the screenshot")
        # The bars' own colours: the charts were drawn.
        check(bytes((59, 111, 216)) in colours, "no requests bar in the screenshot")
        check(bytes((31, 157, 107)) in colours, "no tokens bar in the screenshot")
        dom_text = chromium(c, url, ["--dump-dom"]).decode("utf-8", "replace")
        check("cli-proxy-api status" in dom_text, "the rendered DOM is not the page: %s" % short(dom_text))
        dom = parse_dom(dom_text)
        text = "".join(dom.text)
        for who in ("alice@example.com", "bob@example.com", "carol@example.com"):
            check(who in text, "%s not in the rendered page" % who)
        days = sorted({d for bars in dom.charts.values() for d, _ in bars})
        check(len(days) == 14 and days[-1] in (day_of(w.now), day_of(time.time())), "days %r" % days)
        check_charts(dom, w, days, "rendered DOM")
        bad = leaked(dom_text, w.secrets)
        check(not bad, "the rendered page shows a credential piece: %s" % bad)


if __name__ == "__main__":
    run([test_json_matches_fixture, test_html_page, test_host_and_keys, test_status_setting,
         test_non_loopback_refused,
         test_chromium_renders_page])
