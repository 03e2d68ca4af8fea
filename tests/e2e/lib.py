"""Shared pieces of the end-to-end tests: a test PKI made with the openssl CLI,
a fake TLS upstream (threads in the test process), config and token files,
ways to run the proxy (piped, over a socketpair, as a server), an HTTP
response reader, and a tiny runner printing "ok - NAME" / "not ok - NAME".

Python 3 standard library only; nothing but 127.0.0.1 is touched.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# CPA_BIN: run the suite against another build (or a deliberately broken one).
BIN = os.environ.get("CPA_BIN") or os.path.join(ROOT, "cli-proxy-api")

CC_LINE = "You are Claude Code, Anthropic's official CLI for Claude."
OAUTH_BETA = "oauth-2025-04-20"

NOBODY = 65534

# Exit codes of the program (README / --help).
EX_OK, EX_USAGE, EX_BADREQ, EX_TIMEOUT, EX_SYS, EX_CONFIG, EX_TLS = 0, 100, 101, 102, 111, 112, 113


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run here: reported as skipped, with the
    reason, and counted neither as passed nor as failed."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def short(b, n=300):
    """A printable excerpt of bytes or str for failure messages."""
    if isinstance(b, bytes):
        b = b.decode("latin-1")
    b = b.replace("\r", "\\r").replace("\n", "\\n")
    return b if len(b) <= n else b[:n] + "...(%d chars)" % len(b)


# ---------------------------------------------------------------- PKI

def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))


def _make_ca(d, name, cn):
    _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", name + ".key", "-out", name + ".pem", "-days", "3", "-sha256",
              "-subj", "/CN=" + cn,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)


def _make_leaf(d, name, ca, san):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
    _openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + san.split(":")[1].split(",")[0]], d)
    _openssl(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
              "-set_serial", str(secrets.randbits(60)), "-days", "2", "-sha256",
              "-extfile", name + ".ext", "-out", name + ".pem"], d)


class PKI:
    """ca.pem (trusted: the config's ca-file), localhost (SAN DNS:localhost,
    IP:127.0.0.1, signed by ca), wrong (DNS:wrong.example, signed by ca),
    untrusted (DNS:localhost, signed by a second CA that is not in ca-file)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cpa-pki-")
        d = self.dir
        _make_ca(d, "ca", "cli-proxy-api test CA")
        _make_ca(d, "ca2", "untrusted test CA")
        _make_leaf(d, "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
        _make_leaf(d, "wrong", "ca", "DNS:wrong.example")
        _make_leaf(d, "untrusted", "ca2", "DNS:localhost,IP:127.0.0.1")
        self.ca_file = os.path.join(d, "ca.pem")

    def cert(self, name):
        return os.path.join(self.dir, name + ".pem"), os.path.join(self.dir, name + ".key")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- fake upstream

class UpRequest:
    def __init__(self, conn_id, seq, method, target, version, headers, body, framing):
        self.conn_id = conn_id
        self.seq = seq
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers          # ordered list of (name, value)
        self.body = body
        self.framing = framing          # "length", "chunked" or "none"

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def header(self, name):
        v = self.all(name)
        return v[0] if v else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<UpRequest %s %s conn=%d>" % (self.method, self.target, self.conn_id)


class UpConn:
    """What a handler gets: send raw bytes, close, wait for the end."""

    def __init__(self, sock, conn_id, upstream):
        self.sock = sock
        self.id = conn_id
        self.upstream = upstream
        self.stop = upstream.stop
        self.head_extra = b""       # header lines the rules add to the next answer

    def send(self, data):
        if self.head_extra and data.startswith(b"HTTP/1.1 ") and b"\r\n" in data:
            i = data.index(b"\r\n") + 2
            data, self.head_extra = data[:i] + self.head_extra + data[i:], b""
        self.sock.sendall(data)

    def close_tls(self):
        """close_notify, then FIN, then drain briefly so no RST eats data."""
        s = self.sock
        try:
            s.settimeout(0.0)
            try:
                s.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            s.settimeout(0.3)
            end = time.monotonic() + 2
            while time.monotonic() < end and not self.stop.is_set():
                try:
                    if not s.recv(65536):
                        break
                except socket.timeout:
                    continue
                except (OSError, ssl.SSLError, ValueError):
                    break
        finally:
            try:
                s.close()
            except OSError:
                pass


def json_response(obj, status="200 OK", extra=b"", close=False):
    body = json.dumps(obj).encode()
    head = b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: application/json\r\n" + extra
    if close:
        head += b"Connection: close\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def grant_of(body, content_type):
    """(grant_type, the one-use secret it spends) of a token endpoint
    request: Claude's is JSON, OpenAI's a form. (None, None) when it is
    neither."""
    from urllib.parse import parse_qs
    if "x-www-form-urlencoded" in (content_type or ""):
        f = {k: v[0] for k, v in parse_qs(body.decode("latin-1"), keep_blank_values=True).items()}
    else:
        try:
            f = json.loads(body or b"{}")
        except ValueError:
            return None, None
        if not isinstance(f, dict):
            return None, None
    g = f.get("grant_type")
    return g, f.get("refresh_token" if g == "refresh_token" else "code")


class OneUse:
    """A token endpoint's memory, as strict as the providers' (wire-facts):
    a refresh token works once, once a grant rotated it, and so does an
    authorization code. A reused one is refused as the provider refuses
    it: 400 invalid_grant from Claude's endpoint (a JSON request), 401
    refresh_token_reused from OpenAI's (a form). Every fake token endpoint
    answers through answer()."""

    def __init__(self):
        self.used = set()
        self.grants = 0         # refresh grants that rotated a token
        self.reused = 0         # refused as reused
        self.lock = threading.Lock()

    def answer(self, body, content_type, make):
        """make() -> (status line, JSON object, extra header bytes): the
        answer when the secret is fresh; returns what to send instead when
        it is not."""
        grant, secret = grant_of(body, content_type)
        form = "x-www-form-urlencoded" in (content_type or "")
        key = (grant, secret)
        with self.lock:
            if secret and key in self.used:
                self.reused += 1
                if form and grant == "refresh_token":
                    return "401 Unauthorized", {"error": {
                        "message": "Your refresh token has already been used to generate a new access "
                                   "token. Please try signing in again.",
                        "type": "invalid_request_error", "param": None, "code": "refresh_token_reused"}}, b""
                return "400 Bad Request", {"error": "invalid_grant",
                                           "error_description": "Invalid %s" % (
                                               "refresh token" if grant == "refresh_token" else
                                               "authorization code")}, b""
            if secret:
                self.used.add(key)
        status, obj, extra = make()
        # A refused grant spends nothing; one answered without a new
        # refresh token leaves the old one working.
        spent = status.startswith("200") and (grant != "refresh_token" or (
            isinstance(obj, dict) and obj.get("refresh_token") and obj.get("refresh_token") != secret))
        with self.lock:
            if secret and not spent:
                self.used.discard(key)
            if spent and grant == "refresh_token":
                self.grants += 1
        return status, obj, extra


def default_handler(req, conn):
    """200 JSON echoing what was asked; keeps the connection."""
    conn.send(json_response({"id": "msg_fake", "type": "message", "role": "assistant",
                             "target": req.target, "seq": req.seq, "conn": conn.id,
                             "content": [{"type": "text", "text": "hi"}]},
                            extra=b"request-id: req_fake_1\r\n"))
    return True


# ---------------------------------------------------------------- the providers' rules

# Anthropic's GET /v1/models as of 2026-12 (wire-facts.md, "Models"), newest
# first. The fake serves it and refuses any other model, as Anthropic does.
ANTHROPIC_MODELS = [
    ("claude-opus-5-5", "Claude Opus 5.5", "2026-11-20T00:00:00Z", 1000000, 128000),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-11-20T00:00:00Z", 1000000, 128000),
    ("claude-fable-5-1", "Claude Fable 5.1", "2026-11-20T00:00:00Z", 1000000, 128000),
    ("claude-opus-5", "Claude Opus 5", "2026-09-01T00:00:00Z", 1000000, 128000),
    ("claude-sonnet-5", "Claude Sonnet 5", "2026-09-01T00:00:00Z", 1000000, 128000),
    ("claude-fable-5", "Claude Fable 5", "2026-09-01T00:00:00Z", 1000000, 128000),
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-07-01T00:00:00Z", 1000000, 128000),
    ("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z", 1000000, 128000),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", 1000000, 128000),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-05T00:00:00Z", 1000000, 128000),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z", 200000, 64000),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", 200000, 64000),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", 200000, 64000),
]
# Retired: claude-opus-4-1 (2026-08-05), every 4-0 and 3.x id.
CLAUDE_RETIRED = ["claude-opus-4-1", "claude-opus-4-1-20250805", "claude-opus-4-20250514",
                  "claude-sonnet-4-20250514", "claude-3-7-sonnet-20250219", "claude-3-5-haiku-20241022"]

# The Codex backend's GET /models?client_version= as of 2026-12, in priority
# order; one model hidden from lists, as the real catalog has.
CODEX_MODELS = [
    ("gpt-5.6-sol", "GPT-5.6 Sol", ["low", "medium", "high", "xhigh", "max", "ultra"], "list", 1),
    ("gpt-5.6-terra", "GPT-5.6 Terra", ["low", "medium", "high", "xhigh", "max", "ultra"], "list", 2),
    ("gpt-5.6-luna", "GPT-5.6 Luna", ["low", "medium", "high", "xhigh", "max", "ultra"], "list", 3),
    ("gpt-5.5", "GPT-5.5", ["low", "medium", "high", "xhigh"], "list", 4),
    ("gpt-5.4", "GPT-5.4", ["low", "medium", "high", "xhigh"], "list", 5),
    ("gpt-5.4-mini", "GPT-5.4 Mini", ["low", "medium", "high", "xhigh"], "list", 6),
    ("gpt-5.3-codex-spark", "GPT-5.3 Codex Spark", ["low", "medium", "high"], "list", 7),
    ("codex-auto-review", "Codex Auto Review", ["medium"], "hide", 50),
]
CODEX_RETIRED = ["gpt-5", "gpt-5-codex", "gpt-5-codex-mini", "gpt-5.1", "gpt-5.1-codex",
                 "gpt-5.1-codex-max", "gpt-5.1-codex-mini", "gpt-5.2", "gpt-5.2-codex", "gpt-5.3-codex"]
CODEX_ETAG = '"catalog-2026-12-01"'


def anthropic_catalog(query, models=ANTHROPIC_MODELS):
    """One page of Anthropic's GET /v1/models for a query string."""
    from urllib.parse import parse_qs
    q = parse_qs(query)
    limit = max(1, min(1000, int(q.get("limit", ["20"])[0])))
    ids = [m[0] for m in models]
    start = ids.index(q["after_id"][0]) + 1 if "after_id" in q and q["after_id"][0] in ids else 0
    page = models[start:start + limit]
    data = [{"type": "model", "id": i, "display_name": d, "created_at": t, "max_input_tokens": ctx,
             "max_tokens": out, "capabilities": {"image_input": {"supported": True}}}
            for i, d, t, ctx, out in page]
    return {"data": data, "has_more": start + limit < len(ids),
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}


def codex_catalog(models=CODEX_MODELS):
    return {"models": [{"slug": s, "display_name": d, "description": d + " for Codex",
                        "context_window": 400000, "max_context_window": 400000,
                        "default_reasoning_level": "medium",
                        "supported_reasoning_levels": [{"effort": e, "description": e} for e in eff],
                        "visibility": vis, "priority": pr, "minimal_client_version": "0.98.0",
                        "supported_in_api": True, "available_in_plans": ["plus", "pro"],
                        "shell_type": "shell_command", "truncation_policy": {"mode": "tokens"}}
                       for s, d, eff, vis, pr in models]}


def claude_serves(model, models=ANTHROPIC_MODELS):
    """Anthropic serves its catalog's ids and their dateless aliases."""
    for i, *_ in models:
        if model == i or (i.startswith(model + "-20") and len(i) == len(model) + 9):
            return True
    return False


class ProviderRules:
    """What the real Anthropic and Codex backends refuse or serve, checked
    before a test's handler sees a request: the model catalogs (GET
    /v1/models, GET .../models?client_version=), a retired or unknown model
    (Anthropic 404 not_found_error, Codex 400 detail), a reasoning effort
    the model does not take, and the X-Models-Etag on every Codex answer.
    Requests that carry no JSON model are the handler's."""

    def __init__(self):
        self.catalog_asks = []      # (kind, target) of every catalog request
        self.catalog_reqs = []      # and the requests themselves
        # What this upstream serves: a test may change them (a model
        # retired, a new one, the catalog down).
        self.anthropic_models = list(ANTHROPIC_MODELS)
        self.codex_models = list(CODEX_MODELS)
        self.codex_etag = CODEX_ETAG
        self.catalog_status = None  # e.g. "503 Service Unavailable"
        # The usage endpoints (wire-facts.md, "Usage endpoints"): what each
        # token is told, by token; a status instead of figures (401, 403,
        # 429) with "status": "...". Every ask is kept.
        self.usage_asks = []        # (kind, token, user agent)
        self.usage = {}             # token -> usage JSON or {"status": ...}
        self.profile = {}           # token -> profile JSON or {"status": ...}
        self.wham = {}              # token -> wham/usage JSON or {"status": ...}

    def _json_model(self, req):
        try:
            j = json.loads(req.body)
        except ValueError:
            return None, None
        if not isinstance(j, dict) or not isinstance(j.get("model"), str):
            return None, None
        return j["model"], j

    def answer(self, req, conn):
        """True when the request was answered here."""
        path, _, query = req.target.partition("?")
        if req.method == "GET" and path.endswith("/models"):
            self.catalog_reqs.append(req)
        if req.method == "GET" and path.endswith("/models") and self.catalog_status:
            self.catalog_asks.append(("anthropic" if path.endswith("/v1/models") else "codex", req.target))
            conn.send(json_response({"detail": "unavailable"}, status=self.catalog_status))
            return True
        if req.method == "GET" and path.endswith("/v1/models"):
            self.catalog_asks.append(("anthropic", req.target))
            key, bearer = req.header("x-api-key"), req.header("authorization") or ""
            if not req.header("anthropic-version"):
                conn.send(json_response({"type": "error", "error": {"type": "invalid_request_error",
                          "message": "anthropic-version: header is required"}}, status="400 Bad Request"))
            elif not key and not bearer.startswith("Bearer "):
                conn.send(json_response({"type": "error", "error": {"type": "authentication_error",
                          "message": "x-api-key header is required"}}, status="401 Unauthorized"))
            elif bearer.startswith("Bearer sk-ant-oat") and OAUTH_BETA not in beta_list(req):
                conn.send(json_response({"type": "error", "error": {"type": "authentication_error",
                          "message": "OAuth authentication is currently not supported."}},
                          status="401 Unauthorized"))
            else:
                conn.send(json_response(anthropic_catalog(query, self.anthropic_models)))
            return True
        if req.method == "GET" and path.endswith("/models"):
            self.catalog_asks.append(("codex", req.target))
            if "client_version=" not in query:
                conn.send(json_response({"detail": "client_version is required"}, status="400 Bad Request"))
            elif not (req.header("authorization") or "").startswith("Bearer "):
                conn.send(json_response({"detail": "Unauthorized"}, status="401 Unauthorized"))
            else:
                conn.send(json_response(codex_catalog(self.codex_models),
                                        extra=("X-Models-Etag: %s\r\n" % self.codex_etag).encode()))
            return True
        if req.method == "GET" and path.endswith(("/api/oauth/usage", "/api/oauth/profile", "/wham/usage")):
            return self._usage(req, path, conn)
        if req.method != "POST":
            return False
        model, j = self._json_model(req)
        if path.endswith("/responses"):
            conn.head_extra = ("X-Models-Etag: %s\r\n" % self.codex_etag).encode()
            if model is None:
                return False
            cat = {m[0]: m for m in self.codex_models}
            if model not in cat:
                conn.send(json_response({"detail": "The '%s' model is not supported when using Codex "
                                                   "with a ChatGPT account." % model},
                                        status="400 Bad Request"))
                return True
            effort = (j.get("reasoning") or {}).get("effort") if isinstance(j.get("reasoning"), dict) else None
            if effort is not None and effort not in cat[model][2]:
                conn.send(json_response({"detail": "Unsupported value: '%s' is not supported with the "
                                                   "'%s' model." % (effort, model)},
                                        status="400 Bad Request"))
                return True
            return False
        if "/v1/messages" in path and model is not None and not claude_serves(model, self.anthropic_models):
            conn.send(json_response({"type": "error", "error": {"type": "not_found_error",
                                                                "message": "model: %s" % model},
                                     "request_id": "req_fake_404"}, status="404 Not Found"))
            return True
        return False


    def _usage(self, req, path, conn):
        kind = "usage" if path.endswith("/api/oauth/usage") else "profile" if path.endswith("/profile") else "wham"
        a = req.header("authorization") or ""
        token = a[7:] if a.startswith("Bearer ") else None
        self.usage_asks.append((kind, token, req.header("user-agent")))
        if token is None:
            conn.send(json_response({"error": "unauthorized"}, status="401 Unauthorized"))
            return True
        if kind != "wham" and OAUTH_BETA not in beta_list(req):
            conn.send(json_response({"type": "error", "error": {"type": "authentication_error",
                      "message": "OAuth authentication is currently not supported."}}, status="401 Unauthorized"))
            return True
        table = {"usage": self.usage, "profile": self.profile, "wham": self.wham}[kind]
        d = table.get(token)
        if d is None:
            d = default_usage(kind)
        if "delay" in d:        # a slow endpoint: its figures, late
            time.sleep(d["delay"])
            d = {k: v for k, v in d.items() if k != "delay"} or default_usage(kind)
        if "status" in d:
            extra = ("retry-after: %s\r\n" % d["retry_after"]).encode() if "retry_after" in d else b""
            conn.send(json_response(d.get("body", {"error": {"type": "error", "message": d["status"]}}),
                                    status=d["status"], extra=extra))
        else:
            conn.send(json_response(d))
        return True


def default_usage(kind, five=11.0, seven=23.0):
    """What the usage endpoints answer for an account nobody set figures
    for: a Max 20x subscription with extra usage on (the fake serves
    third-party requests on it, as Anthropic does only then), a Plus
    ChatGPT plan."""
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(t))
    if kind == "usage":
        return {"five_hour": {"utilization": five, "resets_at": iso(now + 7800)},
                "seven_day": {"utilization": seven, "resets_at": iso(now + 4 * 86400)},
                "seven_day_opus": None,
                "seven_day_sonnet": {"utilization": 5.0, "resets_at": iso(now + 4 * 86400)},
                "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 120.0,
                                "utilization": 2.4}}
    if kind == "profile":
        return {"account": {"uuid": "acct-uuid", "email": "user@example.com", "has_claude_max": True,
                            "has_claude_pro": False},
                "organization": {"uuid": "org-uuid", "organization_type": "claude_max",
                                 "rate_limit_tier": "default_claude_max_20x", "has_extra_usage_enabled": True,
                                 "subscription_status": "active"}}
    return {"plan_type": "plus",
            "rate_limit": {"allowed": True, "limit_reached": False,
                           "primary_window": {"used_percent": 7, "limit_window_seconds": 18000,
                                              "reset_after_seconds": 4851, "reset_at": int(now) + 4851},
                           "secondary_window": {"used_percent": 30, "limit_window_seconds": 604800,
                                                "reset_after_seconds": 300000, "reset_at": int(now) + 300000}},
            "credits": {"has_credits": False, "unlimited": False, "balance": "0"}}


class FakeUpstream:
    """A TLS HTTP/1.1 server on 127.0.0.1 (ephemeral port), one thread per
    connection. handler(request, conn) writes the raw response and returns
    True to keep the connection, False to close it (close_notify + FIN).
    The providers' rules (ProviderRules) answer first, as the real
    upstreams would: strict=False leaves every request to the handler."""

    def __init__(self, pki, cert="localhost", handler=None, strict=True):
        self.handler = handler or default_handler
        self.rules = ProviderRules() if strict else None
        self.requests = []
        self.errors = []
        self.conn_count = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []
        self.socks = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        c, k = pki.cert(cert)
        self.ctx.load_cert_chain(c, k)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.url = "https://localhost:%d" % self.port
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conn_count += 1
                cid = self.conn_count
                self.socks.append(s)
            t = threading.Thread(target=self._serve, args=(s, cid), daemon=True)
            t.start()
            with self.lock:
                self.threads.append(t)

    def _serve(self, raw, cid):
        raw.settimeout(5)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.errors.append("conn %d handshake: %s" % (cid, e))
            raw.close()
            return
        with self.lock:
            self.socks.append(s)
        conn = UpConn(s, cid, self)
        buf = b""
        try:
            while not self.stop.is_set():
                req, buf = self._read_request(s, buf, cid)
                if req is None:
                    break
                conn.head_extra = b""
                if self.rules and self.rules.answer(req, conn):
                    continue
                with self.lock:
                    req.seq = len(self.requests) + 1
                    self.requests.append(req)
                if not self.handler(req, conn):
                    conn.close_tls()
                    return
        except Exception as e:  # recorded; the test decides
            with self.lock:
                self.errors.append("conn %d: %r" % (cid, e))
        try:
            s.close()
        except OSError:
            pass

    def _recv(self, s, buf):
        while True:
            if self.stop.is_set():
                raise EOFError("stopped")
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                raise EOFError("eof")
            return buf + d

    def _read_request(self, s, buf, cid):
        s.settimeout(0.5)
        try:
            while b"\r\n\r\n" not in buf:
                buf = self._recv(s, buf)
        except EOFError:
            if buf:
                with self.lock:
                    self.errors.append("conn %d: partial head at EOF: %s" % (cid, short(buf)))
            return None, b""
        except (ssl.SSLError, OSError):
            return None, b""
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            raise ValueError("bad request line %r" % lines[0])
        method, target, version = parts
        headers = []
        for ln in lines[1:]:
            if b"\n" in ln or b"\r" in ln or ln[:1] in (b" ", b"\t") or b":" not in ln:
                raise ValueError("bad header line %r" % ln)
            k, v = ln.split(b":", 1)
            if k != k.strip() or not k:
                raise ValueError("bad header name %r" % k)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        hl = {k.lower(): v for k, v in headers}
        body = b""
        framing = "none"
        if "transfer-encoding" in hl:
            framing = "chunked"
            while True:
                while b"\r\n" not in buf:
                    buf = self._recv(s, buf)
                line, buf = buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while b"\r\n" not in buf:
                        buf = self._recv(s, buf)
                    while not buf.startswith(b"\r\n"):   # trailers
                        _, buf = buf.split(b"\r\n", 1)
                        while b"\r\n" not in buf:
                            buf = self._recv(s, buf)
                    buf = buf[2:]
                    break
                while len(buf) < n + 2:
                    buf = self._recv(s, buf)
                body += buf[:n]
                buf = buf[n + 2:]
        elif "content-length" in hl:
            framing = "length"
            n = int(hl["content-length"])
            while len(buf) < n:
                buf = self._recv(s, buf)
            body, buf = buf[:n], buf[n:]
        return UpRequest(cid, 0, method, target, version, headers, body, framing), buf

    def wait_requests(self, n, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return True
            time.sleep(0.02)
        return False

    def close(self):
        self.stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
            threads = list(self.threads)
        for t in threads:
            t.join(3)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


class BlackHole:
    """A plain TCP listener that accepts and never says anything (no TLS)."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.url = "https://localhost:%d" % self.port

    def close(self):
        self.lsock.close()


def children(pid):
    """[(pid, state)] of the processes whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces.
        rest = st[st.rindex(")") + 2:].split()
        if int(rest[1]) == pid:
            out.append((int(d), rest[0]))
    return out


def wait_children(pid, n, timeout=5, but=None, still=0.25):
    """The pids of pid's children once there are n of them, none of them
    but (a child on its way out), and the same ones for still seconds (a
    connection's child ending, --serve's next spare being made); what
    there is at the timeout otherwise."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        kids = sorted(k for k, _ in children(pid))
        now = time.monotonic()
        if kids != last:
            last, since = kids, now
        if (len(kids) == n and but not in kids and now - since >= still) or now > end:
            return kids
        time.sleep(0.05)


def connect(port, timeout=5):
    """A TCP connection to 127.0.0.1:port, waiting for a listener."""
    end = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            if time.monotonic() > end:
                raise TestFailure("nothing listening on 127.0.0.1:%d after %ds" % (port, timeout))
            time.sleep(0.05)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- config, tokens

def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        return "\n" + "".join("  - %s\n" % json.dumps(x) for x in v).rstrip("\n")
    return json.dumps(v)


def token_json(email, access, disabled=None):
    now = time.time()
    d = {"type": "claude", "access_token": access,
         "refresh_token": "sk-ant-ort01-REFRESH-" + secrets.token_hex(8),
         "email": email,
         "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86400)),
         "last_refresh": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
         "id_token": ""}
    if disabled is not None:
        d["disabled"] = disabled
    return d


class Case:
    """One test's world: a temp dir with auth-dir and config, an optional
    fake upstream, the proxies started; all undone by close()."""

    def __init__(self, pki, handler=None, cert="localhost", upstream=True, token=True, **cfg):
        self.pki = pki
        self.dir = tempfile.mkdtemp(prefix="cpa-e2e-")
        self.auth = os.path.join(self.dir, "auth")
        os.mkdir(self.auth, 0o700)
        self.procs = []
        self.stderrs = []
        self.up = None
        self.bin = BIN
        self.user = None
        self.token = "sk-ant-oat01-TESTACCESS-" + secrets.token_hex(12)
        self.refresh = None
        if token:
            self.refresh = self.add_token("user@example.com", self.token)
        try:
            if upstream:
                self.up = FakeUpstream(pki, cert=cert, handler=handler)
            base = self.up.url if self.up else "https://localhost:%d" % free_port()
            self.cfg_values = {"host": "127.0.0.1", "port": 8317, "auth-dir": self.auth,
                               "debug": False, "claude-base-url": base, "ca-file": pki.ca_file}
            self.cfg_values.update({k.replace("_", "-"): v for k, v in cfg.items()})
            self.cfg = self.write_config(self.cfg_values)
        except BaseException:
            self.close()
            raise

    def add_token(self, email, access, disabled=None, mode=0o600, name=None):
        d = token_json(email, access, disabled)
        path = os.path.join(self.auth, name or "claude-%s.json" % email)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        os.chmod(path, mode)
        return d["refresh_token"]

    def as_nobody(self):
        """Run the proxy as nobody from now on (run_pipe, spawn), its files
        nobody's: the config, the CA, auth-dir and the binary itself (the
        checkout may sit where nobody cannot go). Root only."""
        ca = os.path.join(self.dir, "ca.pem")
        shutil.copy(self.pki.ca_file, ca)
        self.bin = os.path.join(self.dir, "cli-proxy-api")
        shutil.copy(BIN, self.bin)
        self.cfg_values["ca-file"] = ca
        self.write_config(self.cfg_values)
        for root, dirs, files in os.walk(self.dir):
            os.chown(root, NOBODY, NOBODY)
            for n in files:
                os.chown(os.path.join(root, n), NOBODY, NOBODY)
        self.user = NOBODY

    def _who(self):
        """Popen's arguments that make the proxy's user."""
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user is not None else {}

    def write_config(self, values, name="config.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            for k, v in values.items():
                if v is None:
                    continue
                f.write("%s: %s\n" % (k, yaml_value(v)))
        return path

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.dir
        return e

    def run_pipe(self, data, args=None, timeout=20, stdin_file=False):
        """Run the proxy with data on stdin (a pipe, or a regular file);
        returns (rc, stdout bytes, stderr text)."""
        cmd = [self.bin, "--config", self.cfg] + (args or [])
        if stdin_file:
            p = os.path.join(self.dir, "request.bin")
            with open(p, "wb") as f:
                f.write(data)
            with open(p, "rb") as f:
                r = subprocess.run(cmd, stdin=f, capture_output=True, timeout=timeout, env=self.env(),
                                   **self._who())
        else:
            r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, env=self.env(),
                               **self._who())
        err = r.stderr.decode("utf-8", "replace")
        self.stderrs.append(err)
        return r.returncode, r.stdout, err

    def spawn(self, args=None):
        """The proxy in filter mode on one end of a socketpair."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        errpath = os.path.join(self.dir, "stderr-%d.txt" % len(self.procs))
        errf = open(errpath, "wb")
        try:
            proc = subprocess.Popen([self.bin, "--config", self.cfg] + (args or []), stdin=b, stdout=b,
                                    stderr=errf, env=self.env(), close_fds=True, **self._who())
        finally:
            b.close()
            errf.close()
        p = Proxy(proc, a, errpath)
        self.procs.append(p)
        return p

    def spawn_serve(self, args=None):
        errpath = os.path.join(self.dir, "serve-stderr-%d.txt" % len(self.procs))
        errf = open(errpath, "wb")
        try:
            proc = subprocess.Popen([BIN, "--serve", "--config", self.cfg] + (args or []),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errf, env=self.env(), start_new_session=True)
        finally:
            errf.close()
        p = Proxy(proc, None, errpath, group=True)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            p.kill()
            self.stderrs.append(p.stderr())
        if self.up:
            self.up.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, etype, *exc):
        self.close()
        if etype is None:   # a sanitizer report fails an otherwise passing test
            for e in self.stderrs:
                for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                    if mark in e:
                        raise TestFailure("sanitizer report: %s" % short(e[e.index(mark) - 20:], 600))
        return False


class Proxy:
    def __init__(self, proc, sock, errpath, group=False):
        self.proc = proc
        self.sock = sock
        self.errpath = errpath
        self.group = group
        self.reader = Reader(sock) if sock else None

    def send(self, data):
        """Send all of data; a peer that already closed is not an error here
        (the response read afterwards is what the test judges)."""
        try:
            self.sock.settimeout(10)
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def shutdown_wr(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def wait(self, timeout=10):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            try:
                if self.group:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:
                pass
        elif self.group:
            try:   # forked children left in the session
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass


# ---------------------------------------------------------------- a full disk

class Tmpfs:
    """A tmpfs of size ("64k") mounted on path while in use (CI runs as
    root); mounted is False when mount was refused (why says why)."""

    def __init__(self, path, size):
        self.path = path
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path],
                           capture_output=True, timeout=10)
        self.mounted = r.returncode == 0
        self.why = r.stderr.decode(errors="replace").strip() or "mount exited %d" % r.returncode

    def fill(self, name="zz-filler"):
        """Write into name until the file system is full (ENOSPC)."""
        fd = os.open(os.path.join(self.path, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for block in (b"\0" * 4096, b"\0"):
                while True:
                    try:
                        if os.write(fd, block) <= 0:
                            break
                    except OSError:
                        break
        finally:
            os.close(fd)
        check(os.statvfs(self.path).f_bavail == 0, "the tmpfs is not full")

    def free(self, name="zz-filler"):
        os.unlink(os.path.join(self.path, name))

    def close(self):
        if not self.mounted:
            return
        self.mounted = False
        if subprocess.run(["umount", self.path], capture_output=True, timeout=10).returncode != 0:
            subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def rerun_in_userns(test_file, name, why):
    """mount was refused (why), as it is to a user without CAP_SYS_ADMIN:
    run test name of test_file again in a user and mount namespace of its
    own (unshare -Urm), where a tmpfs may be mounted, so that the disk
    still fills up; its verdict is this test's. Skip when no namespace can
    be made either."""
    if os.environ.get("CPA_IN_USERNS"):
        raise TestFailure("cannot mount a tmpfs even in a user namespace: %s" % why)
    print("# cannot mount a tmpfs (%s): running %s in a user namespace (unshare -Urm)" % (why, name), flush=True)
    try:
        r = subprocess.run(["unshare", "-Urm", sys.executable, test_file, name], capture_output=True,
                           timeout=300, env=dict(os.environ, CPA_IN_USERNS="1"))
    except FileNotFoundError:
        raise Skip("cannot mount a tmpfs (%s) and no unshare to make a user namespace" % why)
    out = r.stdout.decode(errors="replace")
    ran = [ln for ln in out.splitlines() if ln.startswith(("ok - ", "not ok - "))]
    if not ran:
        raise Skip("cannot mount a tmpfs (%s) nor make a user namespace: %s"
                   % (why, short(r.stderr.decode(errors="replace"))))
    bad = [ln for ln in ran if ln.startswith("not ok")]
    check(not bad and r.returncode == 0, "in a user namespace: %s" % "; ".join(bad or ran))


# ---------------------------------------------------------------- client side

class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def header(self, name):
        v = self.all(name)
        return v[0] if v else None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise TestFailure("response body is not JSON: %s" % short(self.body))

    def __repr__(self):
        return "%d %s %s" % (self.status, short(self.raw_head, 200), short(self.body, 200))


class ReadTimeout(TestFailure):
    pass


class Reader:
    """Buffered reads off a socket (or off fixed bytes when sock is None)."""

    def __init__(self, sock, data=b""):
        self.sock = sock
        self.buf = data
        self.eof = sock is None

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise ReadTimeout("timed out waiting for the proxy (have %s)" % short(self.buf))
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise ReadTimeout("timed out waiting for the proxy (have %s)" % short(self.buf))
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def wait_for(self, pat, timeout=5):
        """Fill until pat is in the buffer (not consumed). True/False."""
        end = time.monotonic() + timeout
        try:
            while pat not in self.buf:
                if not self._fill(end):
                    return False
        except ReadTimeout:
            return False
        return True

    def read_until(self, pat, timeout=5):
        end = time.monotonic() + timeout
        while pat not in self.buf:
            if not self._fill(end):
                raise TestFailure("connection closed before %r (have %s)" % (pat, short(self.buf)))
        i = self.buf.index(pat) + len(pat)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=5):
        end = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(end):
                raise TestFailure("connection closed after %d of %d body bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, timeout=5):
        end = time.monotonic() + timeout
        while self._fill(end):
            pass
        out, self.buf = self.buf, b""
        return out

    def closed_within(self, timeout=5):
        """True if the peer closes (EOF) within timeout with nothing more sent."""
        end = time.monotonic() + timeout
        try:
            while self._fill(end):
                pass
        except ReadTimeout:
            return False
        return True

    def read_response(self, method="GET", timeout=10):
        end = time.monotonic() + timeout
        left = lambda: max(0.01, end - time.monotonic())
        head = self.read_until(b"\r\n\r\n", left())
        lines = head[:-4].split(b"\r\n")
        sl = lines[0].decode("latin-1")
        parts = sl.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise TestFailure("bad status line %r" % sl)
        status = int(parts[1])
        headers = []
        for ln in lines[1:]:
            if b":" not in ln or ln[:1] in (b" ", b"\t"):
                raise TestFailure("bad response header line %r" % ln)
            k, v = ln.split(b":", 1)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        r = Response(parts[0], status, parts[2] if len(parts) > 2 else "", headers, b"", head)
        if method == "HEAD" or status < 200 or status in (204, 304):
            return r
        te = r.header("transfer-encoding")
        cl = r.header("content-length")
        if te is not None:
            check(te.lower() == "chunked", "response Transfer-Encoding %r" % te)
            body = b""
            while True:
                line = self.read_until(b"\r\n", left())
                n = int(line[:-2].split(b";")[0], 16)
                if n == 0:
                    while self.read_until(b"\r\n", left()) != b"\r\n":
                        pass
                    break
                body += self.read_exact(n, left())
                check(self.read_exact(2, left()) == b"\r\n", "chunk not followed by CRLF")
            r.body = body
        elif cl is not None:
            r.body = self.read_exact(int(cl), left())
        else:
            r.body = self.read_to_eof(left())
        return r


def parse_responses(data, methods=None):
    """All responses in data (the proxy's whole stdout)."""
    rd = Reader(None, data)
    out = []
    i = 0
    while rd.buf:
        m = methods[i] if methods and i < len(methods) else "GET"
        out.append(rd.read_response(m, timeout=1))
        i += 1
    return out


def trickle_to_408(p, chunks, every, limit, seconds, what):
    """p's client sends chunks one at a time, every `every` seconds, from a
    thread (until they run out or the proxy closes): the proxy must answer
    408 once its `limit` of `seconds` has passed, within 3 s more, and
    close the connection. what names what was trickled (head, body).
    Returns the answer; the thread is stopped on the way out."""
    stop = threading.Event()

    def send():
        for chunk in chunks:
            if stop.is_set():
                return
            try:
                p.sock.send(chunk)
            except OSError:
                return
            stop.wait(every)
    t = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    t.start()
    try:
        try:
            r = p.reader.read_response("POST", timeout=seconds + 3)
        except TestFailure as e:
            raise TestFailure("no answer within %s %g + 3 s to a trickling %s: %s" % (limit, seconds, what, e))
        took = time.monotonic() - t0
        check(r.status == 408, "want 408, got %r" % r)
        check(took > seconds - 0.5, "dropped after %.1fs, before %s %g" % (took, limit, seconds))
        check(p.reader.closed_within(3), "connection kept open after the 408")
        return r
    finally:
        stop.set()
        t.join(3)


def expect_error(resp, status, etype, retry_false=False):
    check(resp.status == status, "want status %d, got %r" % (status, resp))
    j = resp.json()
    check(isinstance(j, dict) and j.get("type") == "error", "error body shape: %s" % short(resp.body))
    e = j.get("error")
    check(isinstance(e, dict), "no error object: %s" % short(resp.body))
    check(e.get("type") == etype, "want error type %s, got %s" % (etype, short(resp.body)))
    check(isinstance(e.get("message"), str) and e["message"], "empty error message")
    ct = resp.header("content-type") or ""
    check("application/json" in ct, "error Content-Type %r" % ct)
    if retry_false:
        check((resp.header("x-should-retry") or "").lower() == "false",
              "want x-should-retry: false, headers %r" % resp.headers)
    return e["message"]


# ---------------------------------------------------------------- requests

DROID_HEADERS = [
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
    ("User-Agent", "factory-cli/0.225.2"),
    ("X-Stainless-Arch", "x64"),
    ("X-Stainless-Lang", "js"),
    ("X-Stainless-OS", "Linux"),
    ("X-Stainless-Package-Version", "0.70.1"),
    ("X-Stainless-Retry-Count", "0"),
    ("X-Stainless-Runtime", "node"),
    ("X-Stainless-Runtime-Version", "v26.3.0"),
    ("X-Stainless-Timeout", "600"),
    ("anthropic-beta", "interleaved-thinking-2025-05-14"),
    ("anthropic-version", "2023-06-01"),
    ("x-api-key", "dummy-not-used"),
    ("Connection", "keep-alive"),
    ("Host", "127.0.0.1:8317"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
]


def droid_body(**over):
    b = {"model": "claude-sonnet-4-5", "max_tokens": 1024,
         "messages": [{"role": "user", "content": [{"type": "text", "text": "say hi"}]}],
         "tools": [{"name": "Read", "description": "read a file",
                    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}],
         "system": [{"type": "text", "text": "You are Droid, an AI software engineering agent built by Factory.",
                     "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Cwd: /home/u/project"}],
         "thinking": {"type": "enabled", "budget_tokens": 4000},
         "stream": False}
    for k, v in over.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def request(method="POST", target="/v1/messages", headers=None, body=None, cl=True):
    """Raw request bytes. headers: list of (name, value); body: bytes, str or
    a JSON-able object. Content-Length is added when cl and a body is given
    and the headers have none."""
    if headers is None:
        headers = [("Host", "127.0.0.1:8317"), ("Content-Type", "application/json")]
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    hs = list(headers)
    if body is not None and cl and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hs):
        hs.append(("Content-Length", str(len(body))))
    out = ("%s %s HTTP/1.1\r\n" % (method, target)).encode()
    for k, v in hs:
        out += ("%s: %s\r\n" % (k, v)).encode("latin-1")
    out += b"\r\n"
    return out + (body or b"")


def droid_request(body=None, target="/v1/messages", drop=(), add=()):
    hs = [(k, v) for k, v in DROID_HEADERS if k.lower() not in {d.lower() for d in drop}]
    hs += list(add)
    return request("POST", target, hs, droid_body() if body is None else body)


def beta_list(req):
    vals = []
    for v in req.all("anthropic-beta"):
        vals += [x.strip() for x in v.split(",") if x.strip()]
    return vals


# ---------------------------------------------------------------- runner

def run(tests, setup=None, binary=BIN):
    """Run test functions in order; print one ok / not ok line each. Each
    needs binary (None: a test brings its own)."""
    if len(sys.argv) > 1:   # run only the tests whose names contain an argument
        tests = [t for t in tests if any(a in t.__name__ for a in sys.argv[1:])]
    ctx = {}
    failed = 0
    try:
        if setup:
            ctx = setup()
        for fn in tests:
            name = fn.__name__[5:] if fn.__name__.startswith("test_") else fn.__name__
            t0 = time.monotonic()
            try:
                if binary and not os.path.exists(binary):
                    raise TestFailure("%s not built" % binary)
                fn(ctx)
                print("ok - %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            except Skip as e:
                print("skipped - %s: %s" % (name, e), flush=True)
            except TestFailure as e:
                failed += 1
                print("not ok - %s: %s" % (name, str(e).replace("\n", " | ")), flush=True)
            except Exception as e:
                failed += 1
                tb = traceback.extract_tb(e.__traceback__)[-1]
                print("not ok - %s: %s: %s (at %s:%d)" % (name, type(e).__name__, str(e).replace("\n", " | "),
                                                      os.path.basename(tb.filename), tb.lineno), flush=True)
    finally:
        if "pki" in ctx:
            ctx["pki"].cleanup()
    sys.exit(1 if failed else 0)


def setup_pki():
    return {"pki": PKI()}
