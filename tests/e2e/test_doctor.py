"""End-to-end tests of --doctor: every link checked against fixtures on
127.0.0.1 (fake TLS upstreams from lib.py, token files, state.json, droid's
settings in a temporary HOME, a fake systemctl on PATH) and each failure
reported as a FAIL line with its fix, exit 116; 0 when nothing FAILs.

Nothing but 127.0.0.1 is touched: every upstream URL points at a fake."""
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

EX_DOCTOR = 116

# Answers like systemctl on a machine where the unit is not installed.
FAKE_SYSTEMCTL = """#!/bin/sh
for a in "$@"; do
  case $a in
  --version) echo "systemd 252 (fake)"; exit 0 ;;
  is-active) echo inactive; exit 3 ;;
  is-enabled) echo "Failed to get unit file state" >&2; exit 1 ;;
  esac
done
exit 1
"""


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class DocCase(Case):
    """A Case whose every upstream (both base URLs, both token endpoints)
    is the fake upstream, on a port of its own, with a fake systemctl."""

    def __init__(self, pki, codex=True, **cfg):
        cfg.setdefault("port", free_port())
        super().__init__(pki, **cfg)
        try:
            for k, v in (("claude-token-url", "/v1/oauth/token"),
                         ("codex-base-url", "/backend-api/codex"),
                         ("codex-token-url", "/oauth/token")):
                self.cfg_values.setdefault(k, self.up.url + v)
            self.write_config(self.cfg_values)
            self.port = self.cfg_values["port"]
            self.fakebin = os.path.join(self.dir, "bin")
            os.mkdir(self.fakebin)
            p = os.path.join(self.fakebin, "systemctl")
            with open(p, "w") as f:
                f.write(FAKE_SYSTEMCTL)
            os.chmod(p, 0o755)
            self.secrets = [x for x in (self.token, self.refresh) if x]
            if codex:
                self.add_codex("coder@example.com")
        except BaseException:
            self.close()
            raise

    def reconfig(self, **values):
        self.cfg_values.update({k.replace("_", "-"): v for k, v in values.items()})
        self.write_config(self.cfg_values)

    def add_codex(self, email, expires_in=10 * 86400):
        head = b64url(b'{"alg":"RS256","typ":"JWT"}')
        payload = b64url(json.dumps({"email": email, "exp": int(time.time()) + 3600,
                                     "https://api.openai.com/auth": {"chatgpt_account_id": "acct-1"}}).encode())
        d = {"type": "codex", "id_token": "%s.%s.%s" % (head, payload, b64url(b"sig")),
             "access_token": "codex-at-" + secrets.token_hex(10),
             "refresh_token": "codex-rt-" + secrets.token_hex(10), "account_id": "acct-1",
             "email": email, "expired": rfc3339(time.time() + expires_in)}
        self.write_json(os.path.join(self.auth, "codex-%s.json" % email), d)
        self.secrets += [d["access_token"], d["refresh_token"]]

    def add_raw_token(self, email, expires_in, refresh=True):
        d = {"type": "claude", "access_token": "sk-ant-oat01-RAW-" + secrets.token_hex(8),
             "email": email, "expired": rfc3339(time.time() + expires_in)}
        if refresh:
            d["refresh_token"] = "sk-ant-ort01-RAW-" + secrets.token_hex(8)
            self.secrets.append(d["refresh_token"])
        self.secrets.append(d["access_token"])
        self.write_json(os.path.join(self.auth, "claude-%s.json" % email), d)

    def write_json(self, path, obj, mode=0o600):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        os.chmod(path, mode)

    def droid(self, models, name="settings.json"):
        key = "customModels" if name == "settings.json" else "custom_models"
        self.write_json(os.path.join(self.dir, ".factory", name), {"theme": "x", key: models})

    def env(self):
        e = super().env()
        e["PATH"] = self.fakebin + os.pathsep + e.get("PATH", "/usr/bin:/bin")
        e.pop("XDG_CONFIG_HOME", None)
        return e

    def doctor(self, args=None, config=True):
        cmd = [BIN] + (["--config", self.cfg] if config else []) + ["--doctor"] + (args or [])
        r = subprocess.run(cmd, capture_output=True, timeout=60, env=self.env(), stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        self.stderrs.append(r.stderr.decode("utf-8", "replace"))
        for s in self.secrets:
            check(s not in out, "a token was printed: %s" % short(out, 2000))
        lines = out.splitlines()
        for ln in lines:
            check(ln[:5] in ("ok   ", "warn ", "FAIL "), "line without a level: %r" % ln)
            if ln.startswith("FAIL"):
                check(" -> " in ln, "FAIL without a fix: %r" % ln)
        return r.returncode, lines


def good_droid(port):
    base = "http://localhost:%d" % port
    return [{"model": "claude-sonnet-4-5-20250929", "baseUrl": base, "provider": "anthropic",
             "apiKey": "dummy-not-used"},
            {"model": "gpt-5-codex", "baseUrl": base, "provider": "openai", "apiKey": "dummy-not-used"},
            {"model": "gpt-5", "baseUrl": "https://api.openai.com/v1", "provider": "openai",
             "apiKey": "sk-elsewhere"}]


def find(lines, level, *words):
    for ln in lines:
        if ln.startswith(level) and all(w in ln for w in words):
            return ln
    return None


def want(lines, level, *words):
    ln = find(lines, level, *words)
    check(ln is not None, "no %r line with %r in:\n%s" % (level.strip(), words, "\n".join(lines)))
    return ln


def fails(lines):
    return [ln for ln in lines if ln.startswith("FAIL")]


# ------------------------------------------------------------ all well

def test_all_ok(ctx):
    with DocCase(ctx["pki"]) as c:
        c.droid(good_droid(c.port))
        rc, lines = c.doctor()
        check(rc == 0, "exit %d, FAILs %s" % (rc, fails(lines)))
        want(lines, "ok", "config", c.cfg)
        want(lines, "ok", "auth-dir", "0700")
        want(lines, "ok", "account claude user@example.com", "refresh token present")
        want(lines, "ok", "account codex coder@example.com")
        for key in ("claude-base-url", "codex-token-url"):
            want(lines, "ok", key, "certificate verified")
        want(lines, "warn", "port 127.0.0.1:%d is free" % c.port, "--serve")
        want(lines, "ok", "settings.json", "2 models for this proxy")
        sd = [ln for ln in lines if "systemd" in ln or "cli-proxy-api.socket" in ln]
        check(sd and not any(ln.startswith("FAIL") for ln in sd), "systemd lines %r" % sd)
        # One handshake per host:port, no request sent.
        check(not c.up.requests, "requests reached the upstream: %r" % c.up.requests)


def test_no_config_file(ctx):
    """No --config and nothing in ~/.config or /etc: the built-in defaults.
    Only the first line is waited for; the process is stopped before it
    reaches for the real upstreams."""
    if os.path.exists("/etc/cli-proxy-api/config.yaml"):
        print("# /etc/cli-proxy-api/config.yaml exists; skipped")
        return
    with DocCase(ctx["pki"]) as c:
        p = subprocess.Popen([BIN, "--doctor"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=c.env())
        try:
            first = p.stdout.readline().decode()
        finally:
            p.kill()
            p.wait(5)
            p.stdout.close()
        check(first.startswith("ok   config: no config file found; the built-in defaults are used"),
              "first line %r" % first)


# ------------------------------------------------------------ config, files

def test_bad_config(ctx):
    with DocCase(ctx["pki"]) as c:
        with open(c.cfg, "a") as f:
            f.write("request-retry: lots\n")
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "config", c.cfg + ":")
        check("request-retry must be a number" in ln, ln)
        want(lines, "warn", "built-in defaults")
        # The other links are still checked, on the defaults.
        want(lines, "FAIL", "auth-dir", os.path.join(c.dir, ".cli-proxy-api"))


def test_loose_modes(ctx):
    with DocCase(ctx["pki"]) as c:
        os.chmod(c.auth, 0o755)
        os.chmod(os.path.join(c.auth, "claude-user@example.com.json"), 0o644)
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "warn", "auth-dir", "0755")
        check("chmod 700 " + c.auth in ln, ln)
        ln = want(lines, "FAIL", "claude-user@example.com.json", "0644")
        check(ln.endswith("-> chmod 600 %s/claude-user@example.com.json" % c.auth), ln)


def test_missing_auth_dir(ctx):
    with DocCase(ctx["pki"], auth_dir="/nonexistent/cpa-auth") as c:
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        want(lines, "FAIL", "auth-dir /nonexistent/cpa-auth", "mkdir -m 700")
        want(lines, "FAIL", "no usable account", "--claude-login")


# ------------------------------------------------------------ accounts

def test_expiry(ctx):
    with DocCase(ctx["pki"], token=False, codex=False) as c:
        c.add_raw_token("gone@example.com", -3600, refresh=False)
        c.add_raw_token("stale@example.com", -60, refresh=True)
        c.add_raw_token("norefresh@example.com", 7200, refresh=False)
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "gone@example.com", "expired", "no refresh token")
        check(ln.endswith("-> run cli-proxy-api --claude-login"), ln)
        want(lines, "warn", "stale@example.com", "expired", "will refresh")
        want(lines, "warn", "norefresh@example.com", "no refresh token")
        check(len(fails(lines)) == 1, "FAILs %s" % fails(lines))


def test_needs_login_and_cooldown(ctx):
    with DocCase(ctx["pki"]) as c:
        c.add_token("cool@example.com", "sk-ant-oat01-COOL-" + secrets.token_hex(8))
        state = {"claude": {"cursor": 0}, "accounts": {
            "claude-user@example.com.json": {"needs_login": True, "last_error": "invalid_grant"},
            "claude-cool@example.com.json": {"cooldown_until": int(time.time()) + 600, "backoff": 4}}}
        c.write_json(os.path.join(c.auth, "state.json"), state)
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "user@example.com", "needs a new login")
        check(ln.endswith("-> run cli-proxy-api --claude-login"), ln)
        want(lines, "warn", "cool@example.com", "cooling down", "ready again in ")


def test_no_account(ctx):
    with DocCase(ctx["pki"], token=False, codex=False) as c:
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        want(lines, "FAIL", "no usable account", "--claude-login or --codex-login")
        # Upstreams nobody uses are not worth a FAIL.
        check(not find(lines, "FAIL", "base-url"), "FAIL for an unused upstream")


# ------------------------------------------------------------ the port

def test_port_held_by_another(ctx):
    with DocCase(ctx["pki"]) as c:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", c.port))
        ls.listen(4)
        stop = threading.Event()

        def answer():   # an HTTP server that is not us
            ls.settimeout(0.2)
            while not stop.is_set():
                try:
                    s, _ = ls.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                s.close()
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        try:
            rc, lines = c.doctor()
        finally:
            stop.set()
            t.join(3)
            ls.close()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "port 127.0.0.1:%d is held by" % c.port)
        check("pid %d" % os.getpid() in ln, "holder not named: %s" % ln)
        check("port:" in ln, ln)


def test_port_held_by_our_serve(ctx):
    with DocCase(ctx["pki"]) as c:
        p = c.spawn_serve()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", c.port), 0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        rc, lines = c.doctor()
        check(rc == 0, "exit %d, FAILs %s" % (rc, fails(lines)))
        ln = want(lines, "ok", "port 127.0.0.1:%d" % c.port, "cli-proxy-api answers /health")
        check("pid %d" % p.proc.pid in ln, "holder not named: %s" % ln)


# ------------------------------------------------------------ upstreams

def test_unreachable_upstream(ctx):
    with DocCase(ctx["pki"]) as c:
        dead = free_port()
        c.reconfig(codex_base_url="https://localhost:%d/backend-api/codex" % dead)
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "codex-base-url localhost:%d" % dead, "TCP connect failed")
        check("proxy-url" in ln, ln)
        want(lines, "ok", "claude-base-url", "certificate verified")


def test_untrusted_certificate(ctx):
    with DocCase(ctx["pki"]) as c:
        bad = FakeUpstream(ctx["pki"], cert="untrusted")
        try:
            c.reconfig(claude_token_url=bad.url + "/v1/oauth/token")
            rc, lines = c.doctor()
        finally:
            bad.close()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "claude-token-url localhost:%d: TLS" % bad.port)
        check("ca-file" in ln, ln)
        check(not bad.requests, "a request was sent")


def test_wrong_host_certificate(ctx):
    with DocCase(ctx["pki"]) as c:
        bad = FakeUpstream(ctx["pki"], cert="wrong")
        try:
            c.reconfig(codex_token_url=bad.url + "/oauth/token")
            rc, lines = c.doctor()
        finally:
            bad.close()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        want(lines, "FAIL", "codex-token-url localhost:%d: TLS" % bad.port)


def test_dns_failure(ctx):
    with DocCase(ctx["pki"]) as c:
        c.reconfig(claude_base_url="https://no-such-host.invalid")
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        want(lines, "FAIL", "claude-base-url no-such-host.invalid: DNS", "resolv.conf")


def test_through_proxy(ctx):
    """proxy-url: the handshake goes through the proxy (a tiny CONNECT
    proxy here), and the line says so."""
    with DocCase(ctx["pki"]) as c:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        while ls.getsockname()[1] == c.port:
            # The kernel may hand out the port free_port() chose for the
            # proxy itself: the doctor would then rightly see it taken.
            ls.close()
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        ls.settimeout(0.2)
        seen = []
        stop = threading.Event()

        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def serve():
            while not stop.is_set():
                try:
                    s, _ = ls.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                s.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    d = s.recv(4096)
                    if not d:
                        break
                    head += d
                line = head.split(b"\r\n")[0].decode()
                seen.append(line)
                host, port = line.split()[1].rsplit(":", 1)
                u = socket.create_connection(("127.0.0.1", int(port)), 5)
                s.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                s.settimeout(None)
                threading.Thread(target=pipe, args=(s, u), daemon=True).start()
                threading.Thread(target=pipe, args=(u, s), daemon=True).start()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        pport = ls.getsockname()[1]
        try:
            c.reconfig(proxy_url="http://127.0.0.1:%d" % pport)
            rc, lines = c.doctor()
        finally:
            stop.set()
            t.join(3)
            ls.close()
        check(rc == 0, "exit %d, FAILs %s" % (rc, fails(lines)))
        want(lines, "ok", "claude-base-url", "through proxy 127.0.0.1:%d" % pport)
        check(any(s.startswith("CONNECT localhost:%d" % c.up.port) for s in seen), "CONNECTs %r" % seen)


# ------------------------------------------------------------ droid

def test_bad_droid_entries(ctx):
    with DocCase(ctx["pki"]) as c:
        p = c.port
        c.droid([
            {"model": "claude-opus-4-1-20250805", "baseUrl": "http://localhost:%d" % (p + 1),
             "provider": "anthropic"},
            {"model": "gpt-5-codex", "baseUrl": "http://127.0.0.1:%d" % p, "provider": "anthropic"},
            {"model": "gpt-5", "baseUrl": "http://localhost:%d/v1" % p, "provider": "openai"},
            {"model": "claude-haiku-4-5-20251001", "baseUrl": "http://localhost:%d" % p,
             "provider": "anthropic"},
            {"model": "gpt-5", "baseUrl": "https://api.openai.com/v1", "provider": "openai"},
        ])
        c.droid([{"model": "claude-sonnet-4-5-20250929", "base_url": "http://[::1]:%d" % p,
                  "provider": "openai"}], name="config.json")
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        ln = want(lines, "FAIL", "settings.json", "claude-opus-4-1-20250805",
                  "port %d is not the proxy's port %d" % (p + 1, p))
        check("set the base URL to http://localhost:%d" % p in ln, ln)
        ln = want(lines, "FAIL", "settings.json", "gpt-5-codex", "provider anthropic")
        check("set provider to openai" in ln, ln)
        ln = want(lines, "FAIL", "settings.json", "model gpt-5 (http://localhost:%d/v1)" % p, "/v1")
        check("set the base URL to http://localhost:%d" % p in ln, ln)
        ln = want(lines, "FAIL", "config.json", "claude-sonnet-4-5-20250929", "provider openai")
        check("set provider to anthropic" in ln, ln)
        check(len([x for x in fails(lines) if "droid" in x]) == 4, "FAILs %s" % fails(lines))


def test_droid_invalid_json(ctx):
    with DocCase(ctx["pki"]) as c:
        c.write_json(os.path.join(c.dir, ".factory", "settings.json"), '{"customModels": [')
        rc, lines = c.doctor()
        check(rc == EX_DOCTOR, "exit %d" % rc)
        want(lines, "FAIL", "settings.json is not valid JSON")


def test_droid_not_configured(ctx):
    with DocCase(ctx["pki"]) as c:
        rc, lines = c.doctor()
        check(rc == 0, "exit %d, FAILs %s" % (rc, fails(lines)))
        ln = want(lines, "warn", "droid", "settings.json")
        check(ln.endswith("-> run cli-proxy-api --setup-droid"), ln)


def test_droid_model_without_account(ctx):
    with DocCase(ctx["pki"], codex=False) as c:
        c.droid(good_droid(c.port))
        rc, lines = c.doctor()
        check(rc == 0, "exit %d, FAILs %s" % (rc, fails(lines)))
        want(lines, "warn", "gpt-5-codex", "no usable codex account", "--codex-login")


def test_usage_dry_run_alone(ctx):
    r = subprocess.run([BIN, "--doctor", "--dry-run"], capture_output=True, timeout=10)
    check(r.returncode == EX_USAGE, "exit %d" % r.returncode)
    r = subprocess.run([BIN, "--doctor", "--status"], capture_output=True, timeout=10)
    check(r.returncode == EX_USAGE, "exit %d" % r.returncode)


if __name__ == "__main__":
    run([test_all_ok, test_no_config_file, test_bad_config, test_loose_modes, test_missing_auth_dir,
         test_expiry, test_needs_login_and_cooldown, test_no_account, test_port_held_by_another,
         test_port_held_by_our_serve, test_unreachable_upstream, test_untrusted_certificate,
         test_wrong_host_certificate, test_dns_failure, test_through_proxy, test_bad_droid_entries,
         test_droid_invalid_json, test_droid_not_configured, test_droid_model_without_account,
         test_usage_dry_run_alone],
        setup=setup_pki)
