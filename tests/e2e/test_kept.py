"""What a kept connection sees of auth-dir. One process serves every
request of a keep-alive connection and keeps what it read of auth-dir (the
token files, state.json, the conversations table); what another process
changes must be seen by the very next request on the open connection, with
no pause between the change and the request: another process's refresh, a
new account and a deleted one, a cooldown, a refusal mark, a quota change
and a conversation moved. The last test takes every inotify instance of
the proxy's user, so that stat must tell the same."""
import json
import os
import secrets
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403
from test_store import StoreCase, TokenEndpoint, by_token, ok_response, ka_who  # noqa: E402
from test_routing import Accounts, claude_quota  # noqa: E402

def login_file(c, email, access):
    """A token file put in place as a login does: a temporary file renamed
    over the name."""
    d = token_json(email, access)
    path = os.path.join(c.auth, "claude-%s.json" % email)
    tmp = path + ".tmp.login"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(d, f)
    os.rename(tmp, path)
    return d


def served(tag):
    """Upstream handler: 200, served by tag."""
    return lambda q, k: ok_response(q, k, tag)


def state_of(c):
    with open(os.path.join(c.auth, "state.json")) as f:
        return json.load(f)


def settle(p, ask):
    """Let auth-dir's files grow older than the tick within which stat
    cannot tell two changes apart (FIDENT_RACY): a file read that soon
    after a change is read again whatever is asked, which would hide a
    change not seen. Then one request on the kept connection p (ask(p),
    writing nothing) reads them as settled."""
    time.sleep(2.2)
    ask(p)


def test_refresh_by_another_process(ctx):
    """--refresh in another process (with a longer refresh-lead, so the
    kept connection does not refresh itself) rotates the token: the next
    kept request sends the new one, and the endpoint, which lets each
    refresh token work once, saw one grant."""
    tok = TokenEndpoint(ctx["pki"])
    with StoreCase(ctx["pki"], tok=tok) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com", expires_in=86400)
        table[a["access_token"]] = served("old")
        p = c.spawn()
        check(ka_who(p) == ["old"], "the first token not used")
        settle(p, ka_who)
        other = dict(c.cfg_values, **{"refresh-lead": 2 * 86400})
        cfg = c.write_config(other, name="refresh.yaml")
        r = subprocess.run([BIN, "--config", cfg, "--refresh"], capture_output=True, timeout=30, env=c.env(),
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and len(tok.issued) == 1, "--refresh: exit %d %s" % (r.returncode, short(r.stdout)))
        table[tok.issued[0][0]] = served("new")
        check(ka_who(p) == ["new"], "the token another process refreshed was not used by the next request")
        check(tok.once.grants == 1 and len(tok.requests) == 1, "%d grants" % tok.once.grants)
        p.shutdown_wr()
        check(p.wait(10) is not None, "proxy did not exit")


def test_new_and_deleted_account(ctx):
    with StoreCase(ctx["pki"], routing="round-robin") as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        table[a["access_token"]] = served("a")
        p = c.spawn()
        check(ka_who(p) == ["a"], "one account")
        settle(p, ka_who)
        b = login_file(c, "b@example.com", "sk-ant-oat01-B-" + secrets.token_hex(8))
        table[b["access_token"]] = served("b")
        check(ka_who(p) == ["b"], "a new account was not the next in turn")
        settle(p, ka_who)
        os.unlink(c.path("a@example.com"))
        check(ka_who(p, 3) == ["b"] * 3, "a deleted account still served")
        p.shutdown_wr()
        p.wait(10)


def ka_ask(p, conv="prime-1"):
    """One request of conversation conv (its system prompt) on the kept
    connection p: who served."""
    body = droid_body(system=[{"type": "text", "text": "conversation %s" % conv}])
    p.send(droid_request(body))
    r = p.reader.read_response("POST", timeout=20)
    check(r.status == 200, "kept request of %s: %r; stderr %s" % (conv, r, short(p.stderr(), 600)))
    return r.json()["who"]


def headroom_world(ctx):
    """Accounts a (13 %) and b (71 %), figures known, a kept connection on
    which new conversations go to a and the conversation "conv" is on a,
    settled: (world, connection)."""
    w = Accounts(ctx["pki"], ["a", "b"])
    try:
        w.quota = {"a": claude_quota(0.13), "b": claude_quota(0.71)}
        p = w.spawn()
        got = {ka_ask(p, "prime-1"), ka_ask(p, "prime-2")}
        check(got == {"a", "b"}, "priming: %r" % got)
        check(ka_ask(p, "conv") == "a", "a new conversation did not go to a (13 %)")
        settle(p, lambda p: check(ka_ask(p, "conv") == "a", "the conversation left a"))
    except BaseException:
        w.close()
        raise
    return w, p


def next_goes_to_b(w, p, what, conv="new-1"):
    n = len(w.served)
    got = ka_ask(p, conv)
    check(got == "b" and w.served[n:] == ["b"], "%s: the next kept request went to %r" % (what, w.served[n:]))
    p.shutdown_wr()
    p.wait(10)


def test_cooldown_by_another_process(ctx):
    w, p = headroom_world(ctx)
    with w:
        w.limited["a"] = 60
        check(w.ask("other") == "b", "the other process was not served by b")
        check(state_of(w)["accounts"]["claude-a@example.com.json"].get("cooldown_until", 0) > time.time() + 50,
              "a did not cool down")
        del w.limited["a"]
        next_goes_to_b(w, p, "a cooled down by another process")


def test_refusal_mark_by_another_process(ctx):
    w, p = headroom_world(ctx)
    with w:
        w.refuse.add("a")
        check(w.ask("other") == "b", "the other process was not served by b")
        check("refused" in state_of(w)["accounts"]["claude-a@example.com.json"], "a not marked")
        w.refuse.discard("a")
        next_goes_to_b(w, p, "a marked by another process as refusing third-party use")


def test_quota_change_by_another_process(ctx):
    w, p = headroom_world(ctx)
    with w:
        w.quota["a"] = claude_quota(1.0, status="allowed_warning")
        check(w.ask("other") == "a", "the other process was not served by a")
        next_goes_to_b(w, p, "a used up, as its answer to another process said")


def test_conversation_moved_by_another_process(ctx):
    w, p = headroom_world(ctx)
    with w:
        # Another process's request of it meets Anthropic's extra-usage
        # gate on a (no cooldown, no mark, no figures) and moves it to b.
        w.gated.add("a")
        check(w.ask("conv") == "b", "the other process did not move the conversation")
        w.gated.discard("a")
        next_goes_to_b(w, p, "the conversation another process moved", conv="conv")


# The watch falls back to stat when the user has no inotify instance left
# (fs.inotify.max_user_instances, 128 by default, per user).
HOG = r"""
import ctypes, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init1(0o2000000) != -1:
    n += 1
print(n, ctypes.get_errno(), flush=True)
sys.stdin.read()
"""


def inotify_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:inotify"
        except OSError:
            pass
    return n


def test_no_inotify_left_stat_tells(ctx):
    """Every inotify instance of the proxy's user taken (by a helper of that
    user: nobody, when the tests run as root): the connection makes no
    watch, and stat (a few calls a request) tells what changed, still by
    the next request."""
    with StoreCase(ctx["pki"]) as c:
        table = {}
        c.up.handler = by_token(table)
        a = c.put("a@example.com")
        table[a["access_token"]] = served("a1")
        who = {}
        if os.geteuid() == 0:
            c.as_nobody()
            who = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        # The system's python: nobody may not reach the one running this.
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        hog = subprocess.Popen([py, "-c", HOG], stdin=subprocess.PIPE, stdout=subprocess.PIPE, **who)
        try:
            n, err = hog.stdout.readline().split()
            check(int(err) == 24, "the helper stopped at errno %s after %s instances, not EMFILE" % (err, n))
            p = c.spawn()
            check(ka_who(p) == ["a1"], "first token")
            check(inotify_fds(p.proc.pid) == 0, "the proxy has a watch although none was left")
            settle(p, ka_who)
        finally:
            hog.stdin.close()
            hog.wait(10)

        def put(email, tag):
            d = login_file(c, email, "sk-ant-oat01-%s-%s" % (tag, secrets.token_hex(8)))
            if c.user is not None:
                os.chown(c.path(email), NOBODY, NOBODY)
            table[d["access_token"]] = served(tag)
        put("a@example.com", "a2")
        check(ka_who(p) == ["a2"], "a token file replaced (no watch) was not read again")
        settle(p, ka_who)
        put("a@example.com", "a3")
        check(ka_who(p) == ["a3"], "a token file replaced again (no watch) was not read again")
        settle(p, ka_who)
        put("b@example.com", "b")
        os.unlink(c.path("a@example.com"))
        check(ka_who(p) == ["b"], "a new account and a deleted one (no watch) not seen")
        p.shutdown_wr()
        p.wait(10)


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
