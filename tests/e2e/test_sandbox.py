"""End-to-end tests of the filter's sandbox (Landlock and seccomp): what
--sandbox-check reports, and that a proxied request still works inside it.

Every attempt must be denied on kernels with Landlock ABI 4 or later (files
and TCP ports). On older kernels the tests that need it are not run: a
"skipped: REASON" line says so, and it is not counted as a pass."""
import ctypes
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

FORBIDDEN = ("read /etc/shadow", "read /etc/passwd", "open ~/.ssh", "read ~/.ssh",
             "write outside auth-dir", "exec /bin/sh", "bind TCP", "connect TCP 127.0.0.1 to a port no upstream")
ALLOWED = ("read ca-file", "write in auth-dir", "resolve localhost",
           "connect TCP 127.0.0.1 to the first upstream")


def landlock_abi():
    """landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION):
    the same system call number (444) on x86_64 and arm64. 0: none."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    v = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return v if v > 0 else 0


def seccomp_available():
    try:
        with open("/proc/self/status") as f:
            return any(ln.startswith("Seccomp:") for ln in f)
    except OSError:
        return False


ABI = landlock_abi()


def with_ssh(c):
    """A ~/.ssh with a key in the test's HOME, so its probes prove something."""
    d = os.path.join(c.dir, ".ssh")
    os.mkdir(d, 0o700)
    with open(os.path.join(d, "id_ed25519"), "w") as f:
        f.write("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n")


def sandbox_check(c):
    rc, out, err = c.run_pipe(b"", args=["--sandbox-check"], timeout=30)
    return rc, out.decode("utf-8", "replace"), err


def attempts(out):
    """{label prefix: (verdict, line)} for the attempt lines."""
    got = {}
    for ln in out.splitlines():
        word, _, rest = ln.partition(" ")
        if word in ("denied", "ALLOWED", "allowed", "DENIED", "untested", "FAILED"):
            for label in FORBIDDEN + ALLOWED:
                if rest.startswith(label):
                    got[label] = (word, ln)
    return got


# ------------------------------------------------------------ --sandbox-check

def test_check_every_attempt_denied(ctx):
    with Case(ctx["pki"], upstream=False) as c:
        with_ssh(c)
        rc, out, err = sandbox_check(c)
        got = attempts(out)
        for label in FORBIDDEN:
            check(label in got, "no line for '%s': %s" % (label, short(out, 2000)))
            check(got[label][0] == "denied", "not denied: %s" % got[label][1])
        for label in ALLOWED:
            check(label in got, "no line for '%s': %s" % (label, short(out, 2000)))
            check(got[label][0] == "allowed", "not allowed: %s" % got[label][1])
        check("landlock: ABI %d" % ABI in out, "check does not report ABI %d: %s" % (ABI, short(out)))
        check(rc == 0, "exit %d; out %s; stderr %s" % (rc, short(out, 2000), short(err)))


def test_check_off_exits_118(ctx):
    with Case(ctx["pki"], upstream=False, sandbox="off") as c:
        rc, out, err = sandbox_check(c)
        check(rc == 118, "--sandbox-check with sandbox: off exit %d, want 118; out %s" % (rc, short(out, 800)))
        check("ALLOWED read /etc/passwd" in out and "FAILED" in out, "out %s" % short(out, 800))


def test_check_exec_killed_by_seccomp(ctx):
    with Case(ctx["pki"], upstream=False) as c:
        rc, out, err = sandbox_check(c)
        line = attempts(out).get("exec /bin/sh", ("", "(none)"))[1]
        check("SIGSYS" in line, "exec not killed by seccomp: %s" % line)


def test_filter_cannot_read_outside(ctx):
    """/etc/passwd is readable by anyone, this test included: only the
    sandbox can refuse it, and Landlock's refusal is EACCES."""
    with open("/etc/passwd", "rb") as f:
        check(len(f.read(1)) == 1, "/etc/passwd not readable by the test itself")
    with Case(ctx["pki"], upstream=False) as c:
        rc, out, err = sandbox_check(c)
        line = attempts(out).get("read /etc/passwd", ("", "(none)"))[1]
        check(line.startswith("denied") and "errno 13" in line,
              "read of /etc/passwd not refused by Landlock: %s" % line)
        # The control: the same probes without the sandbox go through,
        # so the lines above are not a constant.
        c.write_config(dict(c.cfg_values, sandbox="off"))
        rc, out, err = sandbox_check(c)
        got = attempts(out)
        check(got.get("read /etc/passwd", ("",))[0] == "ALLOWED",
              "sandbox: off still denies /etc/passwd: %s" % short(out, 2000))
        check(rc != 0, "--sandbox-check exit 0 with sandbox: off: %s" % short(out, 2000))


def test_check_port_rules_follow_config(ctx):
    """The ports a filter may connect to are those of its upstreams."""
    with Case(ctx["pki"], upstream=False, codex_base_url="https://localhost:7443",
              claude_token_url="https://localhost:7444/t") as c:
        rc, out, err = sandbox_check(c)
        ports = [ln for ln in out.splitlines() if ln.startswith("landlock:")]
        check(ports, "no landlock line: %s" % short(out))
        for p in ("7443", "7444", "443", "53"):
            check(" %s" % p in ports[0].split("ports", 1)[-1], "port %s missing: %s" % (p, ports[0]))
        check("no bind" in ports[0], "bind not said to be denied: %s" % ports[0])


# ------------------------------------------------------------ the filter inside it

def test_proxied_request_in_sandbox(ctx):
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "want one 200, got %s; stderr %s" % (short(out), short(err)))
        check(rc == EX_OK, "exit %d; stderr %s" % (rc, short(err)))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        # What the filter writes in auth-dir under the sandbox: state, TLS session.
        names = os.listdir(c.auth)
        check(any(n.startswith("tls-") for n in names), "no TLS session cache in auth-dir: %s" % names)


def test_sandbox_required_serves(ctx):
    with Case(ctx["pki"], sandbox="required") as c:
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "want one 200, got %s; stderr %s" % (short(out), short(err)))
        check(rc == EX_OK, "exit %d; stderr %s" % (rc, short(err)))


def test_sandbox_required_socketpair_keepalive(ctx):
    """Two requests on one connection (socketpair, as under inetd)."""
    with Case(ctx["pki"], sandbox="required") as c:
        p = c.spawn()
        for i in range(2):
            p.send(droid_request())
            r = p.reader.read_response("POST")
            check(r.status == 200, "request %d: %r; stderr %s" % (i + 1, r, short(p.stderr())))
        p.shutdown_wr()
        check(p.wait(10) == EX_OK, "exit %s; stderr %s" % (p.proc.returncode, short(p.stderr())))


def test_serve_spare_sandboxed_before_connection(ctx):
    """--serve's spare is sandboxed while it waits, and serves."""
    port = free_port()
    with Case(ctx["pki"], port=port, sandbox="required") as c:
        p = c.spawn_serve()
        end = time.monotonic() + 5
        kids = []
        while time.monotonic() < end:
            kids = [k for k, _ in children(p.proc.pid)]
            st = open_quiet("/proc/%s/status" % kids[0]) if kids else ""
            if "Seccomp:\t2" in st:
                break
            time.sleep(0.05)
        check(len(kids) == 1, "want one spare child, got %r" % kids)
        check("NoNewPrivs:\t1" in st and "Seccomp:\t2" in st,
              "spare not under seccomp with no_new_privs: %s" % short(st, 2000))
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            s.sendall(droid_request())
            r = Reader(s).read_response("POST")
            check(r.status == 200, "through the spare: %r; stderr %s" % (r, short(p.stderr())))
        finally:
            s.close()


def open_quiet(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def test_sandbox_value_checked(ctx):
    with Case(ctx["pki"], upstream=False, sandbox="sometimes") as c:
        rc, out, err = c.run_pipe(request("GET", "/health"))
        check(rc == EX_CONFIG, "exit %d, want %d; stderr %s" % (rc, EX_CONFIG, short(err)))
        check("sandbox must be auto, required or off" in err, "message: %s" % short(err))


def test_sandbox_off_serves(ctx):
    with Case(ctx["pki"], sandbox="off") as c:
        rc, out, err = c.run_pipe(droid_request())
        rs = parse_responses(out, ["POST"])
        check(len(rs) == 1 and rs[0].status == 200, "want one 200, got %s; stderr %s" % (short(out), short(err)))


def test_required_refuses_without_landlock(ctx):
    """Only on kernels without Landlock: required must not serve."""
    with Case(ctx["pki"], sandbox="required") as c:
        rc, out, err = c.run_pipe(droid_request())
        check(rc == EX_SYS, "exit %d, want %d; stderr %s" % (rc, EX_SYS, short(err)))
        check("sandbox: required" in err, "message: %s" % short(err))
        check(out == b"", "answered without the sandbox: %s" % short(out))


if __name__ == "__main__":
    tests = [test_proxied_request_in_sandbox, test_sandbox_value_checked, test_sandbox_off_serves,
             test_check_off_exits_118]
    if ABI >= 1 and seccomp_available():
        tests += [test_sandbox_required_serves, test_sandbox_required_socketpair_keepalive,
                  test_serve_spare_sandboxed_before_connection]
    elif ABI == 0:
        tests += [test_required_refuses_without_landlock]
    if ABI >= 4 and seccomp_available():
        tests += [test_check_every_attempt_denied, test_check_exec_killed_by_seccomp,
                  test_filter_cannot_read_outside, test_check_port_rules_follow_config]
    else:
        # Printed, not counted as ok: the sandbox cannot be shown to hold.
        print("skipped: --sandbox-check needs Landlock ABI 4 or later (this kernel, %s, has %s)%s"
              % (platform.release(), ABI if ABI else "none",
                 "" if seccomp_available() else " and seccomp"), flush=True)
    run(tests, setup=setup_pki)
