"""--serve mode over TCP, the command line (--version, --help, usage errors)
and start-up failures (config errors, an unreadable ca-file)."""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403


def test_serve_health_proxy_and_sigterm(ctx):
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        p = c.spawn_serve()
        s = connect(port)
        try:
            rd = Reader(s)
            s.sendall(request("GET", "/health", [("Host", "127.0.0.1:%d" % port)]))
            r = rd.read_response("GET")
            check(r.status == 200 and r.json() == {"status": "ok"}, "health %r" % r)
            s.sendall(droid_request())
            r = rd.read_response("POST")
            check(r.status == 200 and r.json().get("id") == "msg_fake", "proxied %r" % r)
            check(len(c.up.requests) == 1 and c.up.requests[0].header("authorization") == "Bearer " + c.token,
                  "upstream %r" % c.up.requests)
        finally:
            s.close()
        # A second connection is served by another child.
        s = connect(port)
        try:
            s.sendall(request("GET", "/healthz", [("Host", "x")]))
            r = Reader(s).read_response("GET")
            check(r.status == 200, "second connection %r" % r)
        finally:
            s.close()
        err = p.stderr()
        check(err.strip() != "", "no start-up line on stderr")
        check(p.proc.poll() is None, "server exited (%r) while serving" % p.proc.returncode)
        os.kill(p.proc.pid, signal.SIGTERM)
        rc = p.wait(5)
        check(rc is not None, "server still running 5 s after SIGTERM")
        time.sleep(0.1)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            raise TestFailure("port %d still accepts connections after SIGTERM" % port)
        except OSError:
            pass


def health(port):
    s = connect(port)
    try:
        s.sendall(request("GET", "/health", [("Host", "127.0.0.1:%d" % port)]))
        return Reader(s).read_response("GET").status
    finally:
        s.close()


def test_serve_spare_ready_replaced_and_gone_with_server(ctx):
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        p = c.spawn_serve()
        connect(port).close()
        # One child waits, forked and sandboxed, for the next connection.
        kids = wait_children(p.proc.pid, 1)
        check(len(kids) == 1, "idle server has %d children, want one spare" % len(kids))
        spare = kids[0]
        check(health(port) == 200, "connection through the spare")
        # The next spare is made once that connection is done.
        kids = wait_children(p.proc.pid, 1, but=spare)
        check(len(kids) == 1 and kids[0] != spare, "no new spare after a connection: %r" % kids)
        # A spare that died is replaced by a plain fork for the connection.
        os.kill(kids[0], signal.SIGKILL)
        time.sleep(0.2)
        for i in range(5):
            check(health(port) == 200, "connection %d after the spare was killed" % i)
        kids = wait_children(p.proc.pid, 1)
        check(len(kids) == 1, "after the killed spare: %d children" % len(kids))
        # The server gone, the spare goes too: nothing left behind.
        spare = kids[0]
        os.kill(p.proc.pid, signal.SIGKILL)
        p.wait(5)
        end = time.monotonic() + 5
        while os.path.exists("/proc/%d" % spare) and time.monotonic() < end:
            try:
                with open("/proc/%d/stat" % spare) as f:
                    if f.read().split(")")[-1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.05)
        alive = os.path.exists("/proc/%d" % spare)
        if alive:
            with open("/proc/%d/stat" % spare) as f:
                alive = f.read().split(")")[-1].split()[0] != "Z"
        check(not alive, "the spare outlived its server")


def test_serve_next_spare_while_a_connection_stays(ctx):
    """The next spare is made a moment after the last one took its
    connection, not only when that connection ends: a client that keeps
    its connection open does not leave the server without a spare."""
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        p = c.spawn_serve()
        first = wait_children(p.proc.pid, 1)
        check(len(first) == 1, "idle server has %d children, want one spare" % len(first))
        s = connect(port)
        try:
            s.sendall(request("GET", "/health", [("Host", "127.0.0.1:%d" % port)]))
            check(Reader(s).read_response("GET").status == 200, "health on the kept connection")
            kids = wait_children(p.proc.pid, 2, timeout=2)
            check(len(kids) == 2 and first[0] in kids, "with the connection kept open: children %r (want its "
                  "process %d and a new spare)" % (kids, first[0]))
            check(health(port) == 200, "a second connection beside the kept one")
        finally:
            s.close()


def proxied(port):
    s = connect(port)
    try:
        s.sendall(droid_request())
        return Reader(s).read_response("POST", timeout=15)
    finally:
        s.close()


def test_serve_spare_rereads_what_changed_while_it_waited(ctx):
    """The spare reads ca-file, auth-dir and the token files before its
    connection comes: what changes meanwhile is read again."""
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        # ca-file starts as the wrong CA: the upstream is not trusted.
        ca = os.path.join(c.dir, "ca.pem")
        shutil.copy(os.path.join(ctx["pki"].dir, "ca2.pem"), ca)
        c.write_config(dict(c.cfg_values, **{"ca-file": ca}))
        time.sleep(2.2)   # settled files: the spare may trust what it read
        p = c.spawn_serve()
        connect(port).close()
        r = proxied(port)
        check(r.status == 502, "upstream trusted through the wrong CA: %r" % r)
        check(len(wait_children(p.proc.pid, 1)) == 1, "no spare")
        time.sleep(0.3)
        # Fixed while the next spare waits.
        shutil.copy(ctx["pki"].ca_file, ca + ".new")
        os.rename(ca + ".new", ca)
        r = proxied(port)
        check(r.status == 200, "ca-file fixed, next connection still refused: %r; stderr %s"
              % (r, short(p.stderr(), 600)))
        # A new token (a login or another process's refresh) while the
        # spare waits.
        time.sleep(0.3)
        new = "sk-ant-oat01-NEWTOKEN-" + secrets.token_hex(12)
        c.add_token("user@example.com", new)
        r = proxied(port)
        check(r.status == 200, "after the token changed: %r" % r)
        check(c.up.requests[-1].header("authorization") == "Bearer " + new,
              "the spare sent the token it read before the file changed")


def test_serve_startup_line_once(ctx):
    port = free_port()
    with Case(ctx["pki"], port=port) as c:
        p = c.spawn_serve()
        end = time.monotonic() + 5
        while not p.stderr().strip() and time.monotonic() < end and p.proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)
        lines = [ln for ln in p.stderr().splitlines() if ln.strip()]
        connect(port).close()
        check(len(lines) == 1, "want one start-up line, got %r" % lines)
        check(str(port) in lines[0], "start-up line does not say the port: %r" % lines[0])


def _cmd(args, timeout=10, **kw):
    r = subprocess.run([BIN] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, **kw)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_version(ctx):
    rc, out, err = _cmd(["--version"])
    check(rc == 0 and out.strip(), "exit %r, stdout %r" % (rc, out))


def test_help(ctx):
    rc, out, err = _cmd(["--help"])
    check(rc == 0 and "--config" in out, "exit %r, stdout %s" % (rc, short(out)))
    for code in ("100", "101", "102", "111", "112", "113"):
        check(code in out, "--help does not list exit code %s" % code)


def test_unknown_option_usage(ctx):
    rc, out, err = _cmd(["--no-such-option"])
    check(rc == EX_USAGE, "exit %r, want %d" % (rc, EX_USAGE))
    check(err.strip(), "no message on stderr")


def _config_error(ctx, text, line):
    with Case(ctx["pki"], upstream=False) as c:
        path = os.path.join(c.dir, "bad.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([BIN, "--inetd", "--config", path], input=request("GET", "/health", [("Host", "x")]),
                           capture_output=True, timeout=10, env=c.env())
        err = r.stderr.decode("utf-8", "replace")
        check(r.returncode == EX_CONFIG, "exit %r, want %d; stderr %s" % (r.returncode, EX_CONFIG, short(err)))
        check(re.search(r"bad\.yaml:%s:\d+" % line, err), "message lacks bad.yaml:%s:COL: %r" % (line, err))
        check(b"200" not in r.stdout[:20], "served a request with a broken config")


def test_config_bad_port(ctx):
    _config_error(ctx, "host: 127.0.0.1\ndebug: false\nport: 99999\n", 3)


def test_config_string_for_list(ctx):
    _config_error(ctx, "port: 8317\napi-keys: \"just-a-string\"\n", 2)


def test_config_malformed_yaml(ctx):
    _config_error(ctx, "port: 8317\nhost: [127.0.0.1\n", "[23]")


def test_config_unknown_key_warns(ctx):
    with Case(ctx["pki"], upstream=False) as c:
        c.cfg_values["usage-statistics-enabled"] = False
        c.cfg_values["request-retry"] = 3
        c.write_config(c.cfg_values)
        rc, out, err = c.run_pipe(request("GET", "/health", [("Host", "x")]))
        rs = parse_responses(out, ["GET"])
        check(rc == 0 and len(rs) == 1 and rs[0].status == 200, "exit %r, %r, stderr %s" % (rc, rs, short(err)))


def test_ca_file_unreadable(ctx):
    with Case(ctx["pki"], ca_file="/nonexistent/ca-bundle.pem") as c:
        rc, out, err = c.run_pipe(droid_request())
        check("/nonexistent/ca-bundle.pem" in err, "stderr does not name the ca-file: %s" % short(err))
        if out:   # answering is optional; an answer must not look like success
            rs = parse_responses(out, ["POST"])
            check(len(rs) == 1, "stdout %s" % short(out))
            msg = expect_error(rs[0], 502, "api_error")
            check("/nonexistent/ca-bundle.pem" in msg, "502 message does not name the ca-file: %r" % msg)
        check(rc == EX_TLS, "exit %r, want %d (TLS setup error); stderr %s" % (rc, EX_TLS, short(err)))
        check(not c.up.requests, "forwarded without a trust store")


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
