#!/usr/bin/env python3
"""The Debian package on this machine: dpkg -i of the .deb that make deb
built (CPA_DEB; make check-deb sets it), what a user of the package then
has, and dpkg --purge leaving the machine as it was.

Installed: the binary, the units (ExecStart=/usr/bin/...) and the man page
where systemd and man look, the config as a conffile readable by the
service's group only, the system user and its 0700 state directory, the
socket and the timer enabled. From /usr/bin: --version; --doctor, the
filter and a login (the README's command, against a fake token endpoint)
as the service user with the packaged config, the login's token file in
the state directory and then used for a request; installed again, the
edited config and the token file kept. Purged: no path dpkg -L
listed, no state directory (with the login's token file), no user or
group, no enablement link, no statoverride, and no other path under /etc,
/usr, /var or /opt that was not there before.

Root only (dpkg, runuser). It refuses to run where the package, its user,
its group or its directories already are, so that it never removes what
it did not install. Where systemd is PID 1 the package starts the socket
on 127.0.0.1:8317, which must then be free, and the socket must answer;
elsewhere dpkg only records the enablement, and the test says so."""
import grp
import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from lib import (ROOT, FakeUpstream, Reader, Skip, TestFailure, check, droid_request,  # noqa: E402
                 free_port, request, run, setup_pki, short)
from test_login import Grants, browse  # noqa: E402

PKG = "cli-proxy-api"
USER = "cli-proxy-api"
BIN = "/usr/bin/cli-proxy-api"
CONF = "/etc/cli-proxy-api/config.yaml"
STATE = "/var/lib/cli-proxy-api"
DEB = os.environ.get("CPA_DEB", "")
SYSTEMD = os.path.isdir("/run/systemd/system")
PORT = 8317
# What dpkg, apt, man-db and the logs change on any install, and temp dirs.
SNAPSHOT_ROOTS = ("/etc", "/usr", "/var", "/opt")
SNAPSHOT_SKIP = ("/var/lib/dpkg", "/var/lib/apt", "/var/cache", "/var/log", "/var/tmp", "/var/backups")
USER_DB = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")


def sh(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def as_user(args, timeout=30):
    """args run as the service user, as sudo -u would (runuser: no sudo
    needed on a test machine), HOME its home, no XDG_CONFIG_HOME of root's."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    return sh(["runuser", "-u", USER, "--"] + args, timeout=timeout, env=env)


def version():
    with open(os.path.join(ROOT, "src", "support", "version.h")) as f:
        return re.search(r'#define VERSION "([^"]+)"', f.read()).group(1)


def unit_dir():
    r = sh(["pkg-config", "--variable=systemdsystemunitdir", "systemd"])
    check(r.returncode == 0 and r.stdout.strip(), "pkg-config systemd: %s" % r.stderr)
    return r.stdout.strip()


def status():
    """dpkg's status of the package: '' when dpkg knows nothing of it."""
    r = sh(["dpkg-query", "-W", "-f=${Status}", PKG])
    return r.stdout.strip() if r.returncode == 0 else ""


def installed():
    return status() not in ("", "unknown ok not-installed")


def getent(db, name):
    return sh(["getent", db, name]).returncode == 0


def port_busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def snapshot():
    """Every path under SNAPSHOT_ROOTS but SNAPSHOT_SKIP, and the user
    database's contents."""
    paths = {"/"} | {os.path.join("/", x) for x in os.listdir("/")}
    for top in SNAPSHOT_ROOTS:
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs if os.path.join(d, x) not in SNAPSHOT_SKIP]
            paths.update(os.path.join(d, x) for x in dirs + files)
    db = {}
    for p in USER_DB:
        with open(p) as f:
            db[p] = f.read()
    return paths, db


def real(p):
    """p with the links in its directories resolved: dpkg -L names
    /lib/systemd/... where /lib may be a link to /usr/lib (and / as /.)."""
    p = os.path.normpath(p)
    return p if p == "/" else os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))


def listed():
    r = sh(["dpkg", "-L", PKG])
    check(r.returncode == 0, "dpkg -L: %s" % r.stderr)
    return [p for p in r.stdout.splitlines() if p.startswith("/")]


def doctor_lines(out):
    return [ln for ln in out.splitlines() if ln.strip()]


def check_doctor(r, extra_fail_ok):
    """Doctor's run: it ends by itself with 0 or 116 (a check failed), one
    line per check; every FAIL names its fix; the config and the state
    directory are the package's. Returns the FAIL lines but those that
    extra_fail_ok accepts."""
    what = "doctor: rc %d stdout %s stderr %s" % (r.returncode, short(r.stdout, 1500), short(r.stderr))
    check(r.returncode in (0, 116), what)
    lines = doctor_lines(r.stdout)
    check(lines and all(re.match(r"^(ok  |warn|FAIL) ", ln) for ln in lines), "not one check a line: " + what)
    check("ok   config %s" % CONF in lines, "the packaged config not used: " + what)
    check("ok   auth-dir %s (0700)" % STATE in lines, "the state directory not auth-dir: " + what)
    fails = [ln for ln in lines if ln.startswith("FAIL")]
    check(all(" -> " in ln for ln in fails), "a FAIL without its fix: " + what)
    check((r.returncode == 116) == bool(fails), "exit code and FAIL lines disagree: " + what)
    # Another program holding the port is this machine's, not the package's.
    return [ln for ln in fails if not extra_fail_ok(ln) and
            not re.match(r"^FAIL port 127\.0\.0\.1:%d is held by " % PORT, ln)]


# ------------------------------------------------------------ install

def test_install(ctx):
    r = sh(["dpkg", "-i", DEB], timeout=300, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check(r.returncode == 0, "dpkg -i %s: rc %d %s %s" % (DEB, r.returncode, r.stdout, r.stderr))
    check(status() == "install ok installed", "status %r" % status())
    r = sh(["dpkg-query", "-W", "-f=${Version}", PKG])
    check(r.stdout == version(), "package version %r, src/support/version.h %r" % (r.stdout, version()))
    ctx["listed"] = listed()


def test_files_in_place(ctx):
    units = unit_dir()
    names = ("cli-proxy-api.socket", "cli-proxy-api@.service", "cli-proxy-api-refresh.service",
             "cli-proxy-api-refresh.timer")
    want = [BIN, CONF, "/usr/share/man/man1/cli-proxy-api.1.gz"] + [units + "/" + n for n in names]
    want += ["/usr/lib/systemd/user/" + n for n in names]
    missing = [p for p in want if p not in ctx["listed"] or not os.path.exists(p)]
    check(not missing, "not installed: %s" % missing)
    check(os.access(BIN, os.X_OK), "%s not executable" % BIN)
    r = sh(["man", "-w", "cli-proxy-api"])
    check(r.stdout.strip() == "/usr/share/man/man1/cli-proxy-api.1.gz", "man -w: %r %r" % (r.stdout, r.stderr))
    for p in [u for u in want if "/systemd/" in u and u.endswith(".service")]:
        with open(p) as f:
            text = f.read()
        check("@BINDIR@" not in text and re.search(r"^ExecStart=%s " % BIN, text, re.M),
              "%s: ExecStart not /usr/bin: %s" % (p, short(text, 600)))
    # The installed system units, as systemd would load them: the binary
    # and the man page they name exist, every setting parses.
    r = sh(["systemd-analyze", "verify"] + [units + "/" + n for n in names])
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "systemd-analyze verify: %s %s" % (r.stdout, r.stderr))


def test_config_is_conffile(ctx):
    r = sh(["dpkg-query", "-W", "-f=${Conffiles}", PKG])
    check(re.search(r"^ %s [0-9a-f]{32}$" % re.escape(CONF), r.stdout, re.M), "conffiles %r" % r.stdout)
    with open(CONF) as f:
        check(re.search(r'^auth-dir: "%s"$' % STATE, f.read(), re.M), "auth-dir is not %s" % STATE)
    st = os.stat(CONF)
    check(stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 0 and
          st.st_gid == grp_id(USER), "%s: mode %o uid %d gid %d, want 0640 root:%s" % (
              CONF, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, USER))


def grp_id(name):
    return grp.getgrnam(name).gr_gid


def test_system_user_and_state_dir(ctx):
    pw = pwd.getpwnam(USER)
    check(100 <= pw.pw_uid <= 999, "uid %d is not a system uid" % pw.pw_uid)
    check(pw.pw_gid == grp_id(USER), "primary group is not %s" % USER)
    check(pw.pw_dir == STATE, "home %r, want %s" % (pw.pw_dir, STATE))
    check(pw.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), "shell %r" % pw.pw_shell)
    st = os.stat(STATE)
    check(stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and
          st.st_uid == pw.pw_uid and st.st_gid == pw.pw_gid,
          "%s: mode %o owner %d:%d" % (STATE, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))


def test_socket_and_timer_enabled(ctx):
    units = unit_dir()
    for wants, unit in (("sockets.target.wants", "cli-proxy-api.socket"),
                        ("timers.target.wants", "cli-proxy-api-refresh.timer")):
        link = "/etc/systemd/system/%s/%s" % (wants, unit)
        check(os.path.islink(link) and os.readlink(link) == units + "/" + unit,
              "%s not enabled: %s" % (unit, link))
    # The per-user units are installed, not enabled: they would take the
    # same port in every user's session.
    for d in ("/etc/systemd/user/sockets.target.wants", "/etc/systemd/user/timers.target.wants"):
        left = [n for n in (os.listdir(d) if os.path.isdir(d) else []) if n.startswith("cli-proxy-api")]
        check(not left, "user units enabled: %s/%s" % (d, left))


def test_socket_answers(ctx):
    if not SYSTEMD:
        raise Skip("systemd is not PID 1 here: dpkg recorded the socket's enablement only")
    r = sh(["systemctl", "is-active", "cli-proxy-api.socket"])
    check(r.stdout.strip() == "active", "cli-proxy-api.socket is %r" % r.stdout.strip())
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        s.sendall(request("GET", "/health", [("Host", "localhost")]))
        resp = Reader(s).read_response("GET")
    finally:
        s.close()
    check(resp.status == 200 and resp.json() == {"status": "ok"}, "health via the socket unit: %r" % resp)


# ------------------------------------------------------------ from /usr/bin

def test_version(ctx):
    r = sh([BIN, "--version"])
    check(r.returncode == 0 and version() in r.stdout, "--version: rc %d %r %r" % (r.returncode, r.stdout, r.stderr))


def test_doctor_before_login(ctx):
    """As the service user, without --config: the packaged config is found
    (HOME is the state directory, which holds no user config). No account
    yet is the one check that fails (and the port, if another program on
    this machine holds it)."""
    r = as_user([BIN, "--doctor"])
    fails = check_doctor(r, lambda ln: ln.startswith("FAIL no usable account in %s " % STATE))
    check(r.returncode == 116 and not fails, "doctor: rc %d, unexpected %s" % (r.returncode, fails))
    check(re.search(r"^FAIL no usable account in %s .* -> run cli-proxy-api --claude-login" % STATE,
                    r.stdout, re.M), "no account not reported: %s" % short(r.stdout, 1500))


def test_filter_as_service_user(ctx):
    """What cli-proxy-api@.service runs, as its user, with its config: the
    sandbox set up around the state directory, /health answered."""
    r = subprocess.run(["runuser", "-u", USER, "--", BIN, "--inetd", "--config", CONF],
                       input=request("GET", "/health", [("Host", "localhost")]),
                       capture_output=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith(b"HTTP/1.1 200 ") and r.stdout.rstrip().endswith(b'{"status":"ok"}'),
          "filter as %s: rc %d %s %s" % (USER, r.returncode, short(r.stdout), short(r.stderr)))


def set_keys(path, values):
    """Replace top-level keys in the config in place (owner and mode kept),
    as an administrator editing it would."""
    with open(path) as f:
        text = f.read()
    for k, v in values.items():
        text, n = re.subn(r"^%s: .*$" % re.escape(k), "%s: \"%s\"" % (k, v), text, flags=re.M)
        check(n == 1, "%s: key %s found %d times" % (path, k, n))
    with open(path, "w") as f:
        f.write(text)


class LoginRun:
    """The README's login for the system service, run as its user with its
    config; stdout read as it comes."""

    def __init__(self, port):
        env = dict(os.environ, CLI_PROXY_API_LOGIN_TIMEOUT="30")
        self.proc = subprocess.Popen(["runuser", "-u", USER, "--", BIN, "--claude-login", "--no-browser",
                                      "--oauth-callback-port", str(port), "--config", CONF],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, start_new_session=True)
        self.out = b""

    def url(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(rb"^\s*(https://\S+)\r?\n", self.out, re.M)
            if m:
                return m.group(1).decode()
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.out += chunk
        raise TestFailure("no authorization URL: stdout %s" % short(self.out))

    def wait(self, timeout=20):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("login still running after %ds" % timeout)
        self.out += out
        return self.proc.returncode, self.out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def test_login_as_service_user(ctx):
    """sudo -u cli-proxy-api cli-proxy-api --claude-login --config
    /etc/cli-proxy-api/config.yaml, with the config's token endpoint and
    upstream pointed at fakes: the token file lands in the state directory,
    the service user's and 0600, and the filter uses it."""
    g = Grants(email="service@example.com")
    up = FakeUpstream(ctx["pki"], handler=g.handler)
    cadir = tempfile.mkdtemp(prefix="cpa-deb-ca-")
    login = None
    try:
        # The service user reads the CA (the temp dir is root's, 0700).
        os.chmod(cadir, 0o755)
        ca = os.path.join(cadir, "ca.pem")
        shutil.copy(ctx["pki"].ca_file, ca)
        os.chmod(ca, 0o644)
        set_keys(CONF, {"claude-base-url": up.url, "claude-token-url": up.url + "/v1/oauth/token",
                        "ca-file": ca})
        port = free_port()
        login = LoginRun(port)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(login.url()).query)
        st, body, _ = browse(port, "/callback?code=the-code&state=" + urllib.parse.quote(q["state"][0]))
        check(st == 200, "callback answered %d: %s" % (st, short(body)))
        rc, out, err = login.wait()
        check(rc == 0, "login: rc %d stdout %s stderr %s" % (rc, short(out), short(err)))
        check(len(g.token_requests(up)) == 1, "token endpoint saw %d requests" % len(g.token_requests(up)))

        path = os.path.join(STATE, "claude-service@example.com.json")
        check(os.path.exists(path), "no token file in %s: %s" % (STATE, sorted(os.listdir(STATE))))
        st = os.stat(path)
        check(st.st_uid == pwd.getpwnam(USER).pw_uid and stat.S_IMODE(st.st_mode) == 0o600,
              "%s: uid %d mode %o" % (path, st.st_uid, stat.S_IMODE(st.st_mode)))

        r = subprocess.run(["runuser", "-u", USER, "--", BIN, "--inetd", "--config", CONF],
                           input=droid_request(), capture_output=True, timeout=30)
        check(r.returncode == 0 and r.stdout.startswith(b"HTTP/1.1 200 "),
              "request with the new account: rc %d %s %s" % (r.returncode, short(r.stdout), short(r.stderr)))
        msgs = [x for x in up.requests if x.target.startswith("/v1/messages")]
        check(len(msgs) == 1 and msgs[0].header("authorization") == "Bearer " + g.access,
              "upstream saw %r" % msgs)

        # The doctor passes now: the account is usable and its upstream
        # and token endpoint (the fakes) answer over verified TLS.
        r = as_user([BIN, "--doctor"])
        fails = check_doctor(r, lambda ln: False)
        check(not fails, "doctor after the login: %s" % fails)
        check(re.search(r"^ok   account claude service@example\.com: ", r.stdout, re.M),
              "account not reported: %s" % short(r.stdout, 1500))

        # Root (plain sudo) on the service's state: the commands act as
        # its owner, so nothing there becomes root's.
        r = sh([BIN, "--doctor", "--config", CONF], timeout=60)
        check("ok   checking as %s, the owner of auth-dir" % USER in r.stdout,
              "root's doctor does not act as %s: %s" % (USER, short(r.stdout, 1500)))
        r = sh([BIN, "--status", "--config", CONF], timeout=60)
        check(r.returncode == 0 and "service@example.com" in r.stdout, "root's --status: rc %d %s %s"
              % (r.returncode, short(r.stdout), short(r.stderr)))
        uid = pwd.getpwnam(USER).pw_uid
        roots = [n for n in os.listdir(STATE) if os.stat(os.path.join(STATE, n)).st_uid != uid]
        check(not roots, "files in %s not %s's after root's commands: %s" % (STATE, USER, roots))
    finally:
        if login:
            login.kill()
        up.close()
        shutil.rmtree(cadir, ignore_errors=True)


def test_reinstall_keeps_config_and_accounts(ctx):
    """dpkg -i again (an upgrade runs the same steps): the edited conffile,
    its owner and mode, and the login's token file stay as they were."""
    with open(CONF) as f:
        conf = f.read()
    token = os.path.join(STATE, "claude-service@example.com.json")
    check(os.path.exists(token), "no token file from the login to keep")
    with open(token) as f:
        tok = f.read()
    r = sh(["dpkg", "-i", DEB], timeout=300, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check(r.returncode == 0, "dpkg -i again: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    with open(CONF) as f:
        check(f.read() == conf, "the edited config was replaced")
    st = os.stat(CONF)
    check(stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == grp_id(USER),
          "config mode %o gid %d after reinstalling" % (stat.S_IMODE(st.st_mode), st.st_gid))
    with open(token) as f:
        check(f.read() == tok, "the token file changed")


# ------------------------------------------------------------ purge

def test_purge_leaves_nothing(ctx):
    check("listed" in ctx, "not installed")
    r = sh(["dpkg", "--purge", PKG], timeout=300)
    check(r.returncode == 0, "dpkg --purge: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    check(PKG + ": " not in r.stderr, "postrm said: %s" % r.stderr)
    check(not installed(), "status after purge %r" % status())
    before, db = ctx["before"]
    left = [p for p in ctx["listed"] if os.path.lexists(p) and real(p) not in before]
    check(not left, "dpkg -L paths left: %s" % left)
    check(not os.path.lexists(STATE), "%s left: %s" % (STATE, os.listdir(STATE) if os.path.isdir(STATE) else ""))
    check(not getent("passwd", USER) and not getent("group", USER), "user or group %s left" % USER)
    r = sh(["dpkg-statoverride", "--list", CONF])
    check(r.returncode != 0, "statoverride left: %r" % r.stdout)
    after, db_after = snapshot()
    new = sorted(after - before)
    gone = sorted(before - after)
    check(not new, "left after purge: %s" % new[:20])
    check(not gone, "gone after install and purge: %s" % gone[:20])
    changed = [p for p in USER_DB if db[p] != db_after[p]]
    check(not changed, "user database not as it was: %s" % changed)


def refuse(msg):
    print("not ok - deb: %s" % msg, flush=True)
    sys.exit(1)


def main():
    if os.geteuid() != 0:
        print("skipped - deb: installing the package needs root", flush=True)
        return
    if not shutil.which("dpkg") or not shutil.which("runuser"):
        print("skipped - deb: no dpkg or runuser here (not Debian)", flush=True)
        return
    if not DEB or not os.path.isfile(DEB):
        refuse("no package %r: make check-deb builds it and sets CPA_DEB" % DEB)
    # Never remove what this test did not install.
    if status() not in ("", "unknown ok not-installed"):
        refuse("%s is installed here (%s): purge it first, or run elsewhere" % (PKG, status()))
    for db in ("passwd", "group"):
        if getent(db, USER):
            refuse("a %s entry %s exists: purge would remove it" % (db, USER))
    for p in (STATE, os.path.dirname(CONF)):
        if os.path.lexists(p):
            refuse("%s exists: purge would remove it" % p)
    if SYSTEMD and port_busy(PORT):
        refuse("systemd runs here and 127.0.0.1:%d is taken: the package's socket could not "
               "listen; stop what holds it" % PORT)

    def setup():
        ctx = setup_pki()
        ctx["before"] = snapshot()
        return ctx
    tests = [test_install, test_files_in_place, test_config_is_conffile, test_system_user_and_state_dir,
             test_socket_and_timer_enabled, test_socket_answers, test_version, test_doctor_before_login,
             test_filter_as_service_user, test_login_as_service_user, test_reinstall_keeps_config_and_accounts,
             test_purge_leaves_nothing]
    try:
        run(tests, setup, binary=None)
    finally:
        # A test failed before the purge: the machine is left as found.
        if installed():
            sh(["dpkg", "--purge", PKG], timeout=300)


if __name__ == "__main__":
    main()
