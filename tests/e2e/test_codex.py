"""End-to-end tests of the Codex routes: POST /responses, /v1/responses and
/v1/chat/completions relayed to a fake Codex backend (a TLS server on
localhost at codex-base-url), with codex accounts from token files or
codex-api-key; GET /v1/models in OpenAI's and Anthropic's shapes.

The fake backend answers as ChatGPT's does: text/event-stream, chunked,
frames "event: NAME\\ndata: JSON\\n\\n", no [DONE]."""
import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

BASE_PATH = "/backend-api/codex"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
DROPPED = ("max_output_tokens", "max_completion_tokens", "temperature", "top_p", "user",
           "previous_response_id", "truncation", "prompt_cache_retention", "metadata", "safety_identifier",
           "presence_penalty", "frequency_penalty", "seed", "top_logprobs")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def id_token(email, account_id):
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"email": email, "exp": int(time.time()) + 3600,
                                 "https://api.openai.com/auth": {"chatgpt_account_id": account_id,
                                                                 "chatgpt_plan_type": "plus"}}).encode())
    return "%s.%s.%s" % (head, payload, b64url(b"not-a-real-signature"))


# ------------------------------------------------------------ the fake backend

def ev(name, obj):
    obj = dict(obj)
    obj.setdefault("type", name)
    return ("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode()


USAGE = {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 4},
         "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 30}


def response_obj(rid, status, output, usage=None, model="gpt-5.6-sol"):
    r = {"id": rid, "object": "response", "created_at": 1760000000, "status": status, "model": model,
         "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    if usage is not None:
        r["usage"] = usage
    return r


def text_events(text=("Hel", "lo there"), rid="resp_text_1", completed=True):
    full = "".join(text)
    msg = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": full, "annotations": []}]}
    evs = [ev("response.created", {"sequence_number": 0, "response": response_obj(rid, "in_progress", [])}),
           ev("response.in_progress", {"sequence_number": 1, "response": response_obj(rid, "in_progress", [])}),
           ev("response.output_item.added", {"output_index": 0, "item": dict(msg, status="in_progress", content=[])}),
           ev("response.content_part.added", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                              "part": {"type": "output_text", "text": "", "annotations": []}})]
    for t in text:
        evs.append(ev("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                     "delta": t}))
    evs += [ev("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": full}),
            ev("response.content_part.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                              "part": msg["content"][0]}),
            ev("response.output_item.done", {"output_index": 0, "item": msg})]
    if completed:
        evs.append(ev("response.completed", {"response": response_obj(rid, "completed", [msg], USAGE)}))
    return evs


TOOL_ARGS = ('{"path":', '"/etc/hosts"}')


def tool_events(rid="resp_tool_1", call_id="call_abc123", name="Read", args=TOOL_ARGS):
    full = "".join(args)
    item = {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": name, "arguments": "",
            "status": "in_progress"}
    done = dict(item, arguments=full, status="completed")
    evs = [ev("response.created", {"response": response_obj(rid, "in_progress", [])}),
           ev("response.output_item.added", {"output_index": 0, "item": item})]
    for a in args:
        evs.append(ev("response.function_call_arguments.delta", {"item_id": "fc_1", "output_index": 0, "delta": a}))
    evs += [ev("response.function_call_arguments.done", {"item_id": "fc_1", "output_index": 0, "arguments": full}),
            ev("response.output_item.done", {"output_index": 0, "item": done}),
            ev("response.completed", {"response": response_obj(rid, "completed", [done], USAGE)})]
    return evs


def gate_wait(gate, conn, limit=10):
    end = time.monotonic() + limit
    while not gate.is_set() and not conn.stop.is_set() and time.monotonic() < end:
        gate.wait(0.05)


def sse_handler(events, gate=None, hold_after=1):
    """200 text/event-stream, chunked, one chunk per event; with a gate, the
    events after the first hold_after wait for it."""
    def h(req, conn):
        evs = events() if callable(events) else events
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                  b"Cache-Control: no-cache\r\nx-request-id: req_codex_1\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i, e in enumerate(evs):
            if gate is not None and i == hold_after:
                gate_wait(gate, conn)
            conn.send(b"%x\r\n" % len(e) + e + b"\r\n")
        conn.send(b"0\r\n\r\n")
        return True
    return h


def usage_limit_429(resets_in=120):
    def h(req, conn):
        now = int(time.time())
        conn.send(json_response({"error": {"type": "usage_limit_reached",
                                           "message": "The usage limit has been reached",
                                           "plan_type": "plus", "resets_at": now + resets_in,
                                           "resets_in_seconds": resets_in}},
                                status="429 Too Many Requests"))
        return True
    return h


def by_bearer(table):
    def h(req, conn):
        a = req.header("authorization") or ""
        fn = table.get(a[7:] if a.startswith("Bearer ") else None)
        if fn is None:
            conn.send(json_response({"detail": "Unauthorized"}, status="401 Unauthorized"))
            return True
        return fn(req, conn)
    return h


# ------------------------------------------------------------ the test world

class CodexCase(Case):
    """A Case whose fake upstream is the Codex backend (codex-base-url
    https://localhost:PORT/backend-api/codex), with codex accounts in
    auth-dir (no claude account unless claude=True)."""

    def __init__(self, pki, handler=None, accounts=(("user@example.com", "acct-0001"),), claude=False, **cfg):
        cfg.setdefault("codex_token_url", "https://localhost:%d/oauth/token" % free_port())
        super().__init__(pki, handler=handler or sse_handler(text_events), token=claude, **cfg)
        try:
            self.cfg_values.setdefault("codex-base-url", self.up.url + BASE_PATH)
            self.write_config(self.cfg_values)
            self.codex = {}
            for email, acct in accounts:
                self.add_codex(email, acct)
        except BaseException:
            self.close()
            raise

    def add_codex(self, email, account_id, access=None, expires_in=10 * 86400):
        now = time.time()
        d = {"type": "codex", "id_token": id_token(email, account_id),
             "access_token": access or "codex-at-%s-%s" % (email.split("@")[0], secrets.token_hex(10)),
             "refresh_token": "codex-rt-" + secrets.token_hex(10), "account_id": account_id,
             "email": email, "expired": rfc3339(now + expires_in), "last_refresh": rfc3339(now - 60)}
        path = os.path.join(self.auth, "codex-%s.json" % email)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        self.codex[email] = d
        return d

    def one(self, data, method="POST", timeout=20):
        rc, out, err = self.run_pipe(data, timeout=timeout)
        try:
            rs = parse_responses(out, [method])
        except TestFailure as e:
            raise TestFailure("%s; proxy exit %s, stderr %s" % (e, rc, short(err, 400)))
        check(len(rs) == 1, "want one response, stdout %s, exit %s, stderr %s" % (short(out), rc, short(err)))
        return rs[0], err

    def ok(self, data, method="POST"):
        r, err = self.one(data, method)
        check(r.status == 200, "want 200, got %r; stderr %s" % (r, short(err, 600)))
        check(not self.up.errors, "upstream errors: %s" % self.up.errors)
        return r, err

    def status(self):
        r = subprocess.run([BIN, "--config", self.cfg, "--status"], capture_output=True, timeout=20,
                           env=self.env(), stdin=subprocess.DEVNULL)
        out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
        self.stderrs.append(err)
        check(r.returncode == 0, "--status exit %s; stderr %s" % (r.returncode, short(err)))
        return out


def session(c, reqs, timeout=10):
    """Send requests one after another on one connection (a socketpair);
    returns the responses and the proxy."""
    p = c.spawn()
    out = []
    for data in reqs:
        p.send(data)
        try:
            out.append(p.reader.read_response("POST", timeout=timeout))
        except TestFailure as e:
            raise TestFailure("response %d: %s; proxy exit %s, stderr %s"
                              % (len(out) + 1, e, p.wait(2), short(p.stderr(), 400)))
    p.shutdown_wr()
    p.wait(10)
    return out, p


# ------------------------------------------------------------ requests

PCK = str(uuid.UUID("5c2f3a9e-8d4b-4f61-9a7e-2b1c0d3e4f5a"))

OPENAI_DROID_HEADERS = [
    ("Accept", "application/json"),
    ("Authorization", "Bearer dummy-not-used"),
    ("Content-Type", "application/json"),
    ("OpenAI-Platform", "org-Xq7fTestPlatform"),
    ("User-Agent", "factory-cli/0.225.2"),
    ("X-Stainless-Arch", "x64"),
    ("X-Stainless-Lang", "js"),
    ("X-Stainless-OS", "Linux"),
    ("X-Stainless-Package-Version", "0.70.1"),
    ("X-Stainless-Retry-Count", "0"),
    ("X-Stainless-Runtime", "node"),
    ("X-Stainless-Runtime-Version", "v26.3.0"),
    ("X-Stainless-Timeout", "600"),
    ("Connection", "keep-alive"),
    ("Host", "127.0.0.1:8317"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
]


def droid_responses_body(**over):
    b = {"model": "gpt-5.6-sol-high",
         "input": [{"role": "user", "content": [{"type": "input_text",
                                                 "text": "<system-reminder>Cwd: /home/u/project</system-reminder>"}]},
                   {"role": "user", "content": [{"type": "input_text", "text": "say hi"}]}],
         "store": False,
         "tools": [{"type": "function", "name": "Read", "description": "Read a file from disk",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                                   "required": ["path"], "additionalProperties": False},
                    "strict": False}],
         "instructions": "You are Droid, an AI software engineering agent built by Factory.",
         "stream": True,
         "tool_choice": "auto",
         "parallel_tool_calls": True,
         "include": ["reasoning.encrypted_content"],
         "reasoning": {"effort": "high", "summary": "auto"},
         "prompt_cache_key": PCK,
         "text": {"verbosity": "low"}}
    for k, v in over.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def oai_request(body, target="/responses", drop=(), add=()):
    dl = {d.lower() for d in drop}
    hs = [(k, v) for k, v in OPENAI_DROID_HEADERS if k.lower() not in dl] + list(add)
    return request("POST", target, hs, body)


def chat_request(body, target="/v1/chat/completions"):
    hs = [("Host", "127.0.0.1:8317"), ("Content-Type", "application/json"), ("Accept", "application/json"),
          ("Authorization", "Bearer sk-dummy-openai-sdk"), ("User-Agent", "OpenAI/Python 1.99.0")]
    return request("POST", target, hs, body)


# ------------------------------------------------------------ checks

def expect_openai_error(r, status):
    check(r.status == status, "want status %d, got %r" % (status, r))
    ct = r.header("content-type") or ""
    check("application/json" in ct, "error Content-Type %r" % ct)
    j = r.json()
    check(isinstance(j, dict) and set(j) == {"error"}, "not OpenAI's error shape: %s" % short(r.body))
    e = j["error"]
    check(isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"]
          and isinstance(e.get("type"), str) and e["type"] and "param" in e and "code" in e,
          "error object lacks message/type/param/code: %s" % short(r.body))
    return e


def check_codex_head(u, c, token, account_id, session_id=None, base=BASE_PATH):
    check(u.method == "POST" and u.target == base + "/responses", "upstream request line %s %s" % (u.method, u.target))
    check(u.all("authorization") == ["Bearer " + token], "upstream Authorization %r" % u.all("authorization"))
    if account_id is None:
        check(not u.all("chatgpt-account-id"), "chatgpt-account-id sent for an API key: %r" % u.all("chatgpt-account-id"))
    else:
        check(u.all("chatgpt-account-id") == [account_id], "chatgpt-account-id %r" % u.all("chatgpt-account-id"))
    check(u.all("openai-beta") == ["responses=experimental"], "OpenAI-Beta %r" % u.all("openai-beta"))
    check(u.all("originator") == ["codex_cli_rs"], "originator %r" % u.all("originator"))
    check(u.all("accept") == ["text/event-stream"], "Accept %r" % u.all("accept"))
    ct = u.all("content-type")
    check(len(ct) == 1 and ct[0].split(";")[0].strip().lower() == "application/json", "Content-Type %r" % ct)
    check(not u.all("x-api-key"), "x-api-key forwarded: %r" % u.all("x-api-key"))
    for k, v in u.headers:
        check("dummy" not in v, "a client credential reached the upstream in %s: %r" % (k, v))
    check(u.all("host") == ["localhost:%d" % c.up.port], "Host %r" % u.all("host"))
    sid = u.all("session_id")
    check(len(sid) == 1, "session_id headers %r" % sid)
    if session_id is not None:
        check(sid[0] == session_id, "session_id %r, want %r" % (sid[0], session_id))
    check(u.all("content-length") == [str(len(u.body))] or u.framing == "chunked",
          "Content-Length %r for %d bytes" % (u.all("content-length"), len(u.body)))
    return sid[0]


def sse_frames(body):
    """Parse a text/event-stream body into (event, data) pairs."""
    text = body.decode("utf-8")
    check("\r" not in text, "CR in the event stream: %s" % short(body))
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for ln in block.split("\n"):
            if ln.startswith("event:"):
                name = ln[6:].strip()
            elif ln.startswith("data:"):
                data.append(ln[5:][1:] if ln[5:].startswith(" ") else ln[5:])
            elif ln.startswith(":"):
                continue
            else:
                raise TestFailure("not an SSE line %r in %s" % (ln, short(body, 600)))
        out.append((name, "\n".join(data)))
    check(text.endswith("\n\n"), "event stream does not end with a blank line: %s" % short(body[-100:]))
    return out


def chat_chunks(r):
    """The chat.completion.chunk objects of a streamed response, checked for
    the frame shape and the final [DONE]."""
    check(r.status == 200, "status %r" % r)
    check((r.header("content-type") or "").startswith("text/event-stream"), "Content-Type %r" % r.header("content-type"))
    check((r.header("transfer-encoding") or "").lower() == "chunked", "want chunked framing, headers %r" % r.headers)
    frames = sse_frames(r.body)
    check(frames and frames[-1] == (None, "[DONE]"), "stream does not end with data: [DONE]: %s" % short(r.body[-200:]))
    check(all(n is None for n, _ in frames), "event: lines in a chat stream: %r" % [n for n, _ in frames])
    chunks = []
    for _, d in frames[:-1]:
        try:
            j = json.loads(d)
        except ValueError:
            raise TestFailure("chunk not JSON: %s" % short(d))
        check(j.get("object") == "chat.completion.chunk", "chunk object %r: %s" % (j.get("object"), short(d)))
        check(isinstance(j.get("id"), str) and j["id"] and isinstance(j.get("created"), int)
              and isinstance(j.get("model"), str), "chunk envelope: %s" % short(d))
        chunks.append(j)
    check(len({c["id"] for c in chunks}) == 1, "chunks carry different ids: %r" % sorted({c["id"] for c in chunks}))
    return chunks


# ------------------------------------------------------------ droid's request

def _droid(ctx, target):
    with CodexCase(ctx["pki"]) as c:
        body = droid_responses_body()
        r, err = c.ok(oai_request(body, target))
        check(len(c.up.requests) == 1, "upstream saw %d requests" % len(c.up.requests))
        u = c.up.requests[0]
        acct = c.codex["user@example.com"]
        check_codex_head(u, c, acct["access_token"], "acct-0001", session_id=PCK)
        check(u.all("user-agent") == ["factory-cli/0.225.2"], "User-Agent %r (the client's own is kept)" % u.all("user-agent"))
        for k, v in OPENAI_DROID_HEADERS:
            if k.lower().startswith("x-stainless"):
                check(u.all(k) == [v], "header %s: want [%r], upstream has %r" % (k, v, u.all(k)))
        want = droid_responses_body(model="gpt-5.6-sol", reasoning={"effort": "high", "summary": "auto"})
        got = u.json()
        check(got == want, "upstream body differs:\n got %s\nwant %s" % (short(json.dumps(got, sort_keys=True), 900),
                                                                        short(json.dumps(want, sort_keys=True), 900)))
        # stream true: the backend's events as they are.
        check((r.header("content-type") or "").startswith("text/event-stream"), "Content-Type %r" % r.header("content-type"))
        check(r.body == b"".join(text_events()), "stream body not relayed as is: %s" % short(r.body))
        for secret in (acct["access_token"], acct["refresh_token"]):
            check(secret not in err, "a token appears on stderr")


def test_droid_responses_no_v1(ctx):
    _droid(ctx, "/responses")


def test_droid_responses_v1(ctx):
    _droid(ctx, "/v1/responses")


# The head codex exec 0.171.0 sent to a proxy named as its model provider.
CODEX_CLI_HEADERS = [
    ("x-codex-beta-features", "remote_compaction_v2"),
    ("x-codex-window-id", "01a24e7f-5420-7c63-aae4-e3759d8d0dce:0"),
    ("x-client-request-id", "01a24e7f-5420-7c63-aae4-e3759d8d0dce"),
    ("session-id", "01a24e7f-5420-7c63-aae4-e3759d8d0dce"),
    ("thread-id", "01a24e7f-5420-7c63-aae4-e3759d8d0dce"),
    ("accept", "text/event-stream"),
    ("content-type", "application/json"),
    ("authorization", "Bearer dummy"),
    ("originator", "codex_exec"),
    ("user-agent", "codex_exec/0.171.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.171.0)"),
    ("accept-encoding", "zstd,gzip"),
    ("host", "127.0.0.1:8317"),
]


def test_codex_cli_names_itself(ctx):
    """Codex's own client keeps its originator and sends no OpenAI-Beta
    (it stopped in 2026); other clients get the backend's pair."""
    with CodexCase(ctx["pki"]) as c:
        c.ok(request("POST", "/v1/responses", CODEX_CLI_HEADERS, droid_responses_body()))
        u = c.up.requests[0]
        check(u.all("originator") == ["codex_exec"], "originator %r" % u.all("originator"))
        check(u.all("openai-beta") == [], "OpenAI-Beta added: %r" % u.all("openai-beta"))
        for k, v in CODEX_CLI_HEADERS[:5] + CODEX_CLI_HEADERS[9:10]:
            check(u.all(k) == [v], "header %s: want [%r], upstream has %r" % (k, v, u.all(k)))
        check(u.all("authorization") == ["Bearer " + c.codex["user@example.com"]["access_token"]],
              "Authorization %r" % u.all("authorization"))
        c.ok(oai_request(droid_responses_body(), add=[("originator", "my-app")]))
        u = c.up.requests[1]
        check(u.all("originator") == ["codex_cli_rs"] and u.all("openai-beta") == ["responses=experimental"],
              "another client: originator %r, OpenAI-Beta %r" % (u.all("originator"), u.all("openai-beta")))


def test_query_string_not_sent_as_path(ctx):
    with CodexCase(ctx["pki"]) as c:
        c.ok(oai_request(droid_responses_body(), "/v1/responses?api-version=1"))
        t = c.up.requests[0].target
        check(t.split("?")[0] == BASE_PATH + "/responses", "upstream target %r" % t)


# ------------------------------------------------------------ body rules

def test_every_alias_suffix(ctx):
    cases = [("gpt-5.5-low", "gpt-5.5", "low"), ("gpt-5.5-medium", "gpt-5.5", "medium"),
             ("gpt-5.5-high", "gpt-5.5", "high"), ("gpt-5.5-xhigh", "gpt-5.5", "xhigh"),
             ("gpt-5.6-sol-max", "gpt-5.6-sol", "max"), ("gpt-5.6-sol-ultra", "gpt-5.6-sol", "ultra"),
             ("gpt-5.4-mini-high", "gpt-5.4-mini", "high"),
             ("gpt-5.3-codex-spark-low", "gpt-5.3-codex-spark", "low")]
    with CodexCase(ctx["pki"]) as c:
        reqs = []
        for m, _, _ in cases:
            # droid's reasoning (summary auto, effort set to something else)
            reqs.append(oai_request(droid_responses_body(model=m, reasoning={"effort": "low", "summary": "auto"})))
        for m, _, _ in cases:
            reqs.append(oai_request(droid_responses_body(model=m, reasoning=None)))   # no reasoning at all
        for m in ("gpt-5.5", "gpt-5.6-sol", "gpt-5.4-mini"):                            # no suffix: unchanged
            reqs.append(oai_request(droid_responses_body(model=m, reasoning={"effort": "low", "summary": "auto"})))
        rs, p = session(c, reqs)
        check([r.status for r in rs] == [200] * len(reqs), "statuses %r" % [r.status for r in rs])
        got = [q.json() for q in c.up.requests]
        check(len(got) == len(reqs), "upstream saw %d requests" % len(got))
        for i, (m, base, eff) in enumerate(cases):
            g = got[i]
            check(g.get("model") == base and g.get("reasoning") == {"effort": eff, "summary": "auto"},
                  "%s (with reasoning): model %r reasoning %r" % (m, g.get("model"), g.get("reasoning")))
            g = got[len(cases) + i]
            check(g.get("model") == base and g.get("reasoning", {}).get("effort") == eff,
                  "%s (no reasoning): model %r reasoning %r" % (m, g.get("model"), g.get("reasoning")))
        for j, m in enumerate(("gpt-5.5", "gpt-5.6-sol", "gpt-5.4-mini")):
            g = got[2 * len(cases) + j]
            check(g.get("model") == m and g.get("reasoning") == {"effort": "low", "summary": "auto"},
                  "%s: model %r reasoning %r" % (m, g.get("model"), g.get("reasoning")))


def test_configured_alias(ctx):
    aliases = {"my-fast": "gpt-5.4-mini", "droid-deep": "gpt-5.6-sol-high"}
    with CodexCase(ctx["pki"], model_aliases=aliases) as c:
        rs, p = session(c, [oai_request(droid_responses_body(model="my-fast", reasoning=None)),
                            oai_request(droid_responses_body(model="droid-deep", reasoning={"summary": "auto"})),
                            oai_request(droid_responses_body(model="gpt-5.5-high", reasoning=None))])
        check([r.status for r in rs] == [200] * 3, "statuses %r; stderr %s" % ([r.status for r in rs], short(p.stderr())))
        g = [q.json() for q in c.up.requests]
        check(g[0].get("model") == "gpt-5.4-mini" and "reasoning" not in g[0],
              "my-fast -> model %r reasoning %r" % (g[0].get("model"), g[0].get("reasoning")))
        check(g[1].get("model") == "gpt-5.6-sol" and g[1].get("reasoning") == {"summary": "auto", "effort": "high"},
              "droid-deep (alias to gpt-5.6-sol-high) -> model %r reasoning %r" % (g[1].get("model"), g[1].get("reasoning")))
        check(g[2].get("model") == "gpt-5.5" and g[2].get("reasoning", {}).get("effort") == "high",
              "built-in suffixes stop working with model-aliases set: %r" % g[2].get("model"))


def test_dropped_parameters(ctx):
    extra = {"max_output_tokens": 4096, "max_completion_tokens": 4096, "temperature": 0.2, "top_p": 0.9,
             "user": "user-123", "previous_response_id": "resp_prev", "truncation": "auto",
             "prompt_cache_retention": "24h", "service_tier": "flex", "metadata": {"k": "v"},
             "safety_identifier": "user-hash", "presence_penalty": 0.1, "frequency_penalty": 0.1, "seed": 7,
             "top_logprobs": 2, "text": {"verbosity": "low", "format": {"type": "text"}}}
    with CodexCase(ctx["pki"]) as c:
        rs, p = session(c, [oai_request(droid_responses_body(**extra)),
                            oai_request(droid_responses_body(service_tier="priority")),
                            oai_request(droid_responses_body(service_tier="auto"))])
        check([r.status for r in rs] == [200] * 3, "statuses %r" % [r.status for r in rs])
        g = [q.json() for q in c.up.requests]
        left = [k for k in DROPPED + ("service_tier",) if k in g[0]]
        check(not left, "parameters the backend refuses were sent: %r" % left)
        check(g[0].get("text") == {"verbosity": "low", "format": {"type": "text"}},
              "a field the backend takes was dropped: %s" % short(json.dumps(g[0])))
        want = droid_responses_body(model="gpt-5.6-sol", text={"verbosity": "low", "format": {"type": "text"}})
        check(g[0] == want, "other fields changed: %s" % short(json.dumps(g[0], sort_keys=True), 800))
        check(g[1].get("service_tier") == "priority", "service_tier priority dropped: %r" % g[1].get("service_tier"))
        check("service_tier" not in g[2], "service_tier auto kept: %r" % g[2].get("service_tier"))


def test_backend_requirements_enforced(ctx):
    """stream true, store false, instructions a string, whatever the client said."""
    bodies = [droid_responses_body(stream=False, store=True, instructions=None),
              droid_responses_body(stream=None, store=None, instructions=None),
              droid_responses_body(instructions="Be brief.", store=True)]
    with CodexCase(ctx["pki"]) as c:
        rs, p = session(c, [oai_request(b) for b in bodies])
        check([r.status for r in rs] == [200] * 3, "statuses %r" % [r.status for r in rs])
        g = [q.json() for q in c.up.requests]
        for i, x in enumerate(g):
            check(x.get("stream") is True, "request %d: stream %r upstream" % (i, x.get("stream")))
            check(x.get("store") is False, "request %d: store %r upstream" % (i, x.get("store")))
            check(isinstance(x.get("instructions"), str), "request %d: instructions %r" % (i, x.get("instructions")))
        check(g[0]["instructions"] == "" and g[1]["instructions"] == "", "absent instructions not \"\": %r" %
              [g[0]["instructions"], g[1]["instructions"]])
        check(g[2]["instructions"] == "Be brief.", "instructions changed: %r" % g[2]["instructions"])


def test_encrypted_reasoning_included(ctx):
    """store is false: reasoning comes back encrypted or is lost between turns."""
    bodies = [droid_responses_body(include=None), droid_responses_body(include=["message.output_text.logprobs"]),
              droid_responses_body()]
    with CodexCase(ctx["pki"]) as c:
        rs, p = session(c, [oai_request(b) for b in bodies])
        check([r.status for r in rs] == [200] * 3, "statuses %r" % [r.status for r in rs])
        g = [q.json().get("include") for q in c.up.requests]
        check(g == [["reasoning.encrypted_content"], ["message.output_text.logprobs", "reasoning.encrypted_content"],
                    ["reasoning.encrypted_content"]], "include upstream %r" % g)
    with CodexCase(ctx["pki"], codex_encrypted_reasoning=False) as c:
        c.ok(oai_request(droid_responses_body(include=None)))
        check("include" not in c.up.requests[0].json(), "include added with the setting off")


def test_system_role_becomes_developer(ctx):
    inp = [{"role": "system", "content": [{"type": "input_text", "text": "sys one"}]},
           {"type": "message", "role": "system", "content": "sys two"},
           {"role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
           {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
           {"role": "assistant", "content": [{"type": "output_text", "text": "hello"}]},
           {"type": "function_call_output", "call_id": "call_1", "output": "system"}]
    with CodexCase(ctx["pki"]) as c:
        c.ok(oai_request(droid_responses_body(input=inp)))
        g = c.up.requests[0].json()["input"]
        want = json.loads(json.dumps(inp))
        want[0]["role"] = "developer"
        want[1]["role"] = "developer"
        check(g == want, "input upstream %s" % short(json.dumps(g), 800))


# ------------------------------------------------------------ session_id

def test_session_id_from_prompt_cache_key(ctx):
    with CodexCase(ctx["pki"]) as c:
        k2 = str(uuid.uuid4())
        rs, p = session(c, [oai_request(droid_responses_body()), oai_request(droid_responses_body(prompt_cache_key=k2))])
        check([r.status for r in rs] == [200, 200], "statuses %r" % [r.status for r in rs])
        sids = [q.all("session_id") for q in c.up.requests]
        check(sids == [[PCK], [k2]], "session_id %r, want the prompt_cache_keys %r" % (sids, [PCK, k2]))


def test_session_id_random_per_connection(ctx):
    with CodexCase(ctx["pki"]) as c:
        b = droid_responses_body(prompt_cache_key=None)
        rs, p = session(c, [oai_request(b), oai_request(b)])
        rs2, p2 = session(c, [oai_request(b)])
        check([r.status for r in rs + rs2] == [200] * 3, "statuses %r" % [r.status for r in rs + rs2])
        sids = [q.all("session_id") for q in c.up.requests]
        check(all(len(s) == 1 for s in sids), "session_id headers %r" % sids)
        s = [x[0] for x in sids]
        check(all(UUID_RE.match(x) for x in s), "session_id not a UUID: %r" % s)
        check(s[0] == s[1], "two requests on one connection got different session_ids: %r" % s[:2])
        check(s[2] != s[0], "a second connection reused the session_id %r" % s[0])
        check("prompt_cache_key" not in c.up.requests[0].json(), "a prompt_cache_key was invented in the body")


# ------------------------------------------------------------ responses back

def test_stream_relayed_as_it_comes(ctx):
    gate = threading.Event()
    evs = text_events()
    with CodexCase(ctx["pki"], handler=sse_handler(evs, gate=gate, hold_after=1)) as c:
        try:
            p = c.spawn()
            p.send(oai_request(droid_responses_body()))
            seen = p.reader.wait_for(evs[0], 5)
        finally:
            gate.set()
        check(seen, "the first event did not reach the client while the upstream was still sending; have %s"
              % short(p.reader.buf))
        r = p.reader.read_response("POST")
        check(r.status == 200, "status %r" % r)
        check(r.body == b"".join(evs), "stream body %s" % short(r.body))
        check((r.header("content-type") or "").startswith("text/event-stream"), "Content-Type %r" % r.header("content-type"))
        # Keep-alive: the next request on the same connection works.
        p.send(oai_request(droid_responses_body()))
        r2 = p.reader.read_response("POST")
        check(r2.status == 200 and r2.body == b"".join(evs), "second request on the connection: %r" % r2)
        p.shutdown_wr()
        check(p.wait(10) == 0, "exit %r; stderr %s" % (p.proc.returncode, short(p.stderr())))


def test_nonstream_aggregated(ctx):
    evs = text_events()
    completed = json.loads(evs[-1].split(b"data: ", 1)[1])["response"]
    for stream in (False, None):
        with CodexCase(ctx["pki"], handler=sse_handler(evs)) as c:
            r, err = c.ok(oai_request(droid_responses_body(stream=stream), "/v1/responses"))
            ct = r.header("content-type") or ""
            check(ct.startswith("application/json"), "stream %r: Content-Type %r" % (stream, ct))
            check(r.json() == completed, "stream %r: body is not the response of response.completed: %s"
                  % (stream, short(r.body, 600)))
            check(c.up.requests[0].json().get("stream") is True, "upstream asked without stream true")


def test_nonstream_without_completed_502(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(text_events(completed=False))) as c:
        r, err = c.one(oai_request(droid_responses_body(stream=False)))
        e = expect_openai_error(r, 502)
        check("completed" in e["message"] or "ended" in e["message"], "message %r does not say what happened" % e["message"])


def test_nonstream_upstream_400_passed(ctx):
    def h(req, conn):
        conn.send(json_response({"detail": "Unsupported parameter: foo"}, status="400 Bad Request"))
        return True
    with CodexCase(ctx["pki"], handler=h) as c:
        r, err = c.one(oai_request(droid_responses_body(stream=False)))
        check(r.status == 400 and r.json() == {"detail": "Unsupported parameter: foo"},
              "want the backend's 400 as it is, got %r" % r)


# ------------------------------------------------------------ chat completions

CHAT_TOOLS = [{"type": "function", "function": {"name": "Read", "description": "Read a file",
                                                  "parameters": {"type": "object",
                                                                 "properties": {"path": {"type": "string"}},
                                                                 "required": ["path"]}}}]


def chat_body(**over):
    b = {"model": "gpt-5.6-sol", "messages": [{"role": "system", "content": "You are terse."},
                                              {"role": "user", "content": "say hi"}],
         "tools": CHAT_TOOLS}
    b.update(over)
    return b


def test_chat_stream_text(ctx):
    with CodexCase(ctx["pki"]) as c:
        r, err = c.ok(chat_request(chat_body(stream=True, stream_options={"include_usage": True})))
        chunks = chat_chunks(r)
        with_choices = [x for x in chunks if x.get("choices")]
        check(with_choices, "no chunk with choices")
        first = with_choices[0]["choices"][0]
        check(first.get("index") == 0 and first.get("delta", {}).get("role") == "assistant",
              "first chunk does not name the role: %r" % first)
        text = "".join(x["choices"][0].get("delta", {}).get("content") or "" for x in with_choices)
        check(text == "Hello there", "content deltas join to %r" % text)
        ndeltas = sum(1 for x in with_choices if x["choices"][0].get("delta", {}).get("content"))
        check(ndeltas == 2, "want 2 content deltas (as the upstream sent), got %d" % ndeltas)
        fins = [x["choices"][0].get("finish_reason") for x in with_choices if x["choices"][0].get("finish_reason")]
        check(fins == ["stop"], "finish_reasons %r" % fins)
        last_choice = max(i for i, x in enumerate(chunks) if x.get("choices"))
        check(chunks[last_choice]["choices"][0].get("finish_reason") == "stop", "finish_reason not on the last choice chunk")
        usage = [x for x in chunks if x.get("usage")]
        check(len(usage) == 1, "want one usage chunk, got %d" % len(usage))
        u = usage[0]["usage"]
        check(u.get("prompt_tokens") == 21 and u.get("completion_tokens") == 9 and u.get("total_tokens") == 30,
              "usage %r" % u)
        check(chunks.index(usage[0]) > last_choice, "usage chunk before the final chunk")
        check(not any(x.get("tool_calls") for x in with_choices), "tool_calls in a text answer")


def test_chat_stream_no_usage_unless_asked(ctx):
    with CodexCase(ctx["pki"]) as c:
        r, err = c.ok(chat_request(chat_body(stream=True)))
        chunks = chat_chunks(r)
        check(not [x for x in chunks if x.get("usage")], "usage chunk without stream_options.include_usage")


def test_chat_stream_first_delta_early(ctx):
    gate = threading.Event()
    with CodexCase(ctx["pki"], handler=sse_handler(text_events, gate=gate, hold_after=5)) as c:
        try:
            p = c.spawn()
            p.send(chat_request(chat_body(stream=True)))
            seen = p.reader.wait_for(b'"Hel"', 5)
        finally:
            gate.set()
        check(seen, "the first content delta did not reach the client while the upstream was still sending; have %s;"
              " proxy exit %s, stderr %s" % (short(p.reader.buf), p.wait(2), short(p.stderr(), 400)))
        r = p.reader.read_response("POST")
        chat_chunks(r)


def test_chat_stream_tool_call(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(tool_events)) as c:
        r, err = c.ok(chat_request(chat_body(stream=True, stream_options={"include_usage": True})))
        chunks = chat_chunks(r)
        with_choices = [x for x in chunks if x.get("choices")]
        check(with_choices[0]["choices"][0].get("delta", {}).get("role") == "assistant", "no role in the first delta")
        tcs = []
        for x in with_choices:
            tcs += x["choices"][0].get("delta", {}).get("tool_calls") or []
        check(tcs, "no tool_calls deltas: %s" % short(r.body, 800))
        check(all(t.get("index") == 0 for t in tcs), "tool_call indexes %r" % [t.get("index") for t in tcs])
        head = tcs[0]
        check(head.get("id") == "call_abc123" and head.get("type") == "function"
              and head.get("function", {}).get("name") == "Read", "first tool_call delta %r" % head)
        args = "".join(t.get("function", {}).get("arguments") or "" for t in tcs)
        check(args == "".join(TOOL_ARGS), "arguments join to %r" % args)
        check(sum(1 for t in tcs if t.get("function", {}).get("arguments")) == 2,
              "want the 2 argument deltas as sent, got %r" % tcs)
        check(all("id" not in t for t in tcs[1:]), "id repeated in later tool_call deltas: %r" % tcs)
        fins = [x["choices"][0].get("finish_reason") for x in with_choices if x["choices"][0].get("finish_reason")]
        check(fins == ["tool_calls"], "finish_reasons %r" % fins)
        usage = [x for x in chunks if x.get("usage")]
        check(len(usage) == 1 and usage[0]["usage"].get("total_tokens") == 30, "usage chunks %r" % usage)


def test_chat_nonstream_text(ctx):
    with CodexCase(ctx["pki"]) as c:
        r, err = c.ok(chat_request(chat_body()))
        check((r.header("content-type") or "").startswith("application/json"), "Content-Type %r" % r.header("content-type"))
        j = r.json()
        check(j.get("object") == "chat.completion" and isinstance(j.get("id"), str) and j["id"]
              and isinstance(j.get("created"), int) and isinstance(j.get("model"), str), "envelope %s" % short(r.body))
        ch = j.get("choices")
        check(isinstance(ch, list) and len(ch) == 1 and ch[0].get("index") == 0, "choices %r" % ch)
        m = ch[0].get("message", {})
        check(m.get("role") == "assistant" and m.get("content") == "Hello there", "message %r" % m)
        check(not m.get("tool_calls"), "tool_calls in a text answer: %r" % m)
        check(ch[0].get("finish_reason") == "stop", "finish_reason %r" % ch[0].get("finish_reason"))
        u = j.get("usage", {})
        check(u.get("prompt_tokens") == 21 and u.get("completion_tokens") == 9 and u.get("total_tokens") == 30,
              "usage %r" % u)
        check(c.up.requests[0].json().get("stream") is True, "upstream not asked to stream")


def test_chat_nonstream_tool_call(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(tool_events)) as c:
        r, err = c.ok(chat_request(chat_body(stream=False)))
        j = r.json()
        ch = j["choices"][0]
        m = ch.get("message", {})
        check(m.get("role") == "assistant", "role %r" % m.get("role"))
        check(m.get("tool_calls") == [{"id": "call_abc123", "type": "function",
                                       "function": {"name": "Read", "arguments": "".join(TOOL_ARGS)}}],
              "tool_calls %r" % m.get("tool_calls"))
        check(not m.get("content"), "content %r with a tool call only" % m.get("content"))
        check(ch.get("finish_reason") == "tool_calls", "finish_reason %r" % ch.get("finish_reason"))
        check(j.get("usage", {}).get("total_tokens") == 30, "usage %r" % j.get("usage"))


def test_chat_nonstream_without_completed_502(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(text_events(completed=False))) as c:
        r, err = c.one(chat_request(chat_body()))
        expect_openai_error(r, 502)


def test_chat_request_translated(ctx):
    img = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    body = {
        "model": "gpt-5.6-sol",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "what is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": img, "detail": "high"}}]},
            {"role": "assistant", "content": "Let me read a file.",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "Read", "arguments": "{\"path\":\"/a\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "file contents"},
            {"role": "user", "content": "thanks"}],
        "tools": CHAT_TOOLS,
        "tool_choice": "auto",
        "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": True,
                                                                   "schema": {"type": "object"}}},
        "max_completion_tokens": 500, "temperature": 0.3, "user": "u1",
        "prompt_cache_key": PCK,
        "stream": False}
    with CodexCase(ctx["pki"]) as c:
        r, err = c.ok(chat_request(body, target="/chat/completions"))
        u = c.up.requests[0]
        check_codex_head(u, c, c.codex["user@example.com"]["access_token"], "acct-0001", session_id=PCK)
        check(not [v for _, v in u.headers if "sk-dummy-openai-sdk" in v], "client key forwarded")
        g = u.json()
        check(g.get("model") == "gpt-5.6-sol", "model %r" % g.get("model"))
        check(g.get("instructions") == "You are terse.", "instructions %r" % g.get("instructions"))
        check(g.get("stream") is True and g.get("store") is False, "stream/store %r/%r" % (g.get("stream"), g.get("store")))
        check((g.get("reasoning") or {}).get("effort") == "high", "reasoning %r" % g.get("reasoning"))
        check("messages" not in g and "reasoning_effort" not in g and "response_format" not in g,
              "chat fields left in the Responses body: %r" % sorted(g))
        left = [k for k in DROPPED if k in g]
        check(not left, "refused parameters sent: %r" % left)
        check(g.get("tools") == [{"type": "function", "name": "Read", "description": "Read a file",
                                  "parameters": CHAT_TOOLS[0]["function"]["parameters"]}],
              "tools not flattened: %s" % short(json.dumps(g.get("tools")), 500))
        check(g.get("tool_choice") == "auto", "tool_choice %r" % g.get("tool_choice"))
        fmt = (g.get("text") or {}).get("format")
        check(fmt == {"type": "json_schema", "name": "answer", "strict": True, "schema": {"type": "object"}},
              "response_format -> text.format %r" % fmt)
        inp = g.get("input")
        check(isinstance(inp, list) and len(inp) == 5, "input %s" % short(json.dumps(inp), 800))
        for it in inp:
            check(it.get("role") not in ("system",), "a system item in input: %r" % it)

        def msg(it, role):
            check(it.get("role") == role and it.get("type", "message") == "message", "want a %s message, got %s"
                  % (role, short(json.dumps(it), 400)))
            return it.get("content")
        c0 = msg(inp[0], "user")
        check(c0[0] == {"type": "input_text", "text": "what is in this picture?"}, "user text part %r" % c0[0])
        check(len(c0) == 2 and c0[1].get("type") == "input_image" and c0[1].get("image_url") == img,
              "image part %s" % short(json.dumps(c0[1:]), 300))
        c1 = msg(inp[1], "assistant")
        check(c1 == "Let me read a file." or c1 == [{"type": "output_text", "text": "Let me read a file."}]
              or (isinstance(c1, list) and len(c1) == 1 and c1[0].get("text") == "Let me read a file."),
              "assistant content %r" % c1)
        check(inp[2].get("type") == "function_call" and inp[2].get("call_id") == "call_1"
              and inp[2].get("name") == "Read" and inp[2].get("arguments") == "{\"path\":\"/a\"}",
              "tool call item %r" % inp[2])
        check(inp[3] == {"type": "function_call_output", "call_id": "call_1", "output": "file contents"},
              "tool result item %r" % inp[3])
        c4 = msg(inp[4], "user")
        check(c4 == "thanks" or c4 == [{"type": "input_text", "text": "thanks"}], "last user content %r" % c4)


def test_chat_alias_suffix_and_reasoning_effort(ctx):
    with CodexCase(ctx["pki"]) as c:
        rs, p = session(c, [chat_request(chat_body(model="gpt-5.5-xhigh")),
                            chat_request(chat_body(model="gpt-5.5", reasoning_effort="low"))])
        check([r.status for r in rs] == [200, 200], "statuses %r" % [r.status for r in rs])
        g = [q.json() for q in c.up.requests]
        check(g[0].get("model") == "gpt-5.5" and (g[0].get("reasoning") or {}).get("effort") == "xhigh",
              "gpt-5.5-xhigh -> %r %r" % (g[0].get("model"), g[0].get("reasoning")))
        check(g[1].get("model") == "gpt-5.5" and (g[1].get("reasoning") or {}).get("effort") == "low",
              "reasoning_effort low -> %r" % g[1].get("reasoning"))


def two_tool_events(rid="resp_tool_2"):
    items = [{"type": "function_call", "id": "fc_1", "call_id": "call_one", "name": "Read", "arguments": ""},
             {"type": "function_call", "id": "fc_2", "call_id": "call_two", "name": "Grep", "arguments": ""}]
    args = [('{"path":"/a"', '}'), ('{"pattern":', '"x"}')]
    evs = [ev("response.created", {"response": response_obj(rid, "in_progress", [])})]
    done = []
    for i, (it, a) in enumerate(zip(items, args)):
        evs.append(ev("response.output_item.added", {"output_index": i, "item": it}))
        for d in a:
            evs.append(ev("response.function_call_arguments.delta", {"item_id": it["id"], "output_index": i, "delta": d}))
        full = dict(it, arguments="".join(a), status="completed")
        done.append(full)
        evs.append(ev("response.output_item.done", {"output_index": i, "item": full}))
    evs.append(ev("response.completed", {"response": response_obj(rid, "completed", done, USAGE)}))
    return evs


def test_chat_two_tool_calls(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(two_tool_events)) as c:
        rs, p = session(c, [chat_request(chat_body(stream=True)), chat_request(chat_body())])
        chunks = chat_chunks(rs[0])
        calls = {}
        for x in chunks:
            for t in (x["choices"][0].get("delta", {}).get("tool_calls") or []) if x.get("choices") else []:
                e = calls.setdefault(t.get("index"), {"id": None, "name": None, "args": ""})
                if t.get("id"):
                    check(e["id"] is None, "id sent twice for index %r" % t.get("index"))
                    e["id"] = t["id"]
                fn = t.get("function") or {}
                if fn.get("name"):
                    e["name"] = fn["name"]
                e["args"] += fn.get("arguments") or ""
        want = {0: {"id": "call_one", "name": "Read", "args": '{"path":"/a"}'},
                1: {"id": "call_two", "name": "Grep", "args": '{"pattern":"x"}'}}
        check(calls == want, "streamed tool calls by index %r" % calls)
        m = rs[1].json()["choices"][0]["message"]
        got = [(t.get("id"), t["function"]["name"], t["function"]["arguments"]) for t in m.get("tool_calls") or []]
        check(got == [("call_one", "Read", '{"path":"/a"}'), ("call_two", "Grep", '{"pattern":"x"}')],
              "non-stream tool_calls %r" % got)
        check(rs[1].json()["choices"][0].get("finish_reason") == "tool_calls", "finish_reason")


def reasoning_events():
    evs = text_events()
    r = [ev("response.output_item.added", {"output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
         ev("response.reasoning_summary_text.delta", {"item_id": "rs_1", "output_index": 0, "summary_index": 0,
                                                      "delta": "Thinking about "}),
         ev("response.reasoning_summary_text.delta", {"item_id": "rs_1", "output_index": 0, "summary_index": 0,
                                                      "delta": "greetings."})]
    return evs[:2] + r + evs[2:]


def test_chat_reasoning_not_in_content(ctx):
    with CodexCase(ctx["pki"], handler=sse_handler(reasoning_events)) as c:
        rs, p = session(c, [chat_request(chat_body(stream=True, reasoning_effort="high")),
                            chat_request(chat_body(reasoning_effort="high"))])
        chunks = chat_chunks(rs[0])
        deltas = [x["choices"][0].get("delta", {}) for x in chunks if x.get("choices")]
        text = "".join(d.get("content") or "" for d in deltas)
        check(text == "Hello there", "content %r (reasoning must not be mixed into it)" % text)
        other = "".join(str(v) for d in deltas for k, v in d.items() if k not in ("content", "role"))
        check("Thinking about greetings." in other.replace("'", ""), "reasoning summary not streamed: %r" % deltas)
        m = rs[1].json()["choices"][0]["message"]
        check(m.get("content") == "Hello there", "non-stream content %r" % m.get("content"))
        check("Thinking about greetings." in json.dumps(m), "non-stream reasoning missing: %r" % m)
        check(c.up.requests[0].json().get("reasoning", {}).get("effort") == "high", "effort not sent")


# ------------------------------------------------------------ accounts

def test_account_id_header_from_token_file(ctx):
    with CodexCase(ctx["pki"], accounts=[("team@example.com", "8b5f0c2e-acct-team")]) as c:
        d = c.codex["team@example.com"]
        payload = json.loads(base64.urlsafe_b64decode(d["id_token"].split(".")[1] + "=="))
        check(payload["https://api.openai.com/auth"]["chatgpt_account_id"] == d["account_id"], "test token broken")
        c.ok(oai_request(droid_responses_body()))
        u = c.up.requests[0]
        check_codex_head(u, c, d["access_token"], "8b5f0c2e-acct-team", session_id=PCK)


def test_codex_api_key_account(ctx):
    key = "sk-proj-TESTKEY-" + secrets.token_hex(8)
    with CodexCase(ctx["pki"], accounts=()) as c:
        c.cfg_values["codex-api-key"] = [{"api-key": key, "base-url": c.up.url + "/other/v9"}]
        c.write_config(c.cfg_values)
        r, err = c.ok(oai_request(droid_responses_body()))
        u = c.up.requests[0]
        check_codex_head(u, c, key, None, session_id=PCK, base="/other/v9")
        check(key not in err, "the API key appears on stderr")


CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def test_codex_token_refreshed_within_5_days(ctx):
    from urllib.parse import parse_qs
    new_at, new_rt = "codex-at-NEW-" + secrets.token_hex(8), "codex-rt-NEW-" + secrets.token_hex(8)
    new_idt = id_token("user@example.com", "acct-0001")

    once = OneUse()

    def tok_h(req, conn):
        status, obj, _ = once.answer(req.body, req.header("content-type"), lambda: (
            "200 OK", {"id_token": new_idt, "access_token": new_at, "refresh_token": new_rt,
                       "expires_in": 864000, "token_type": "Bearer"}, b""))
        conn.send(json_response(obj, status=status, close=True))
        return False
    tok = FakeUpstream(ctx["pki"], handler=tok_h)
    try:
        with CodexCase(ctx["pki"], accounts=(), codex_token_url=tok.url + "/oauth/token") as c:
            far = c.add_codex("far@example.com", "acct-far", expires_in=6 * 86400)
            c.ok(oai_request(droid_responses_body()))
            check(not tok.requests, "a codex token 6 days from expiry was refreshed (lead is 5 days)")
            check(c.up.requests[0].header("authorization") == "Bearer " + far["access_token"], "far token not used")
            os.unlink(os.path.join(c.auth, "codex-far@example.com.json"))
            old = c.add_codex("user@example.com", "acct-0001", expires_in=3 * 86400)
            t0 = time.time()
            c.ok(oai_request(droid_responses_body()))
            check(len(tok.requests) == 1, "want one refresh of a token 3 days from expiry, got %d" % len(tok.requests))
            q = tok.requests[0]
            check(q.method == "POST" and q.target == "/oauth/token", "token request %s %s" % (q.method, q.target))
            ct = (q.header("content-type") or "").split(";")[0].strip().lower()
            check(ct == "application/x-www-form-urlencoded", "token request Content-Type %r" % q.header("content-type"))
            form = {k: v for k, v in parse_qs(q.body.decode(), keep_blank_values=True).items()}
            want = {"client_id": [CODEX_CLIENT_ID], "grant_type": ["refresh_token"],
                    "refresh_token": [old["refresh_token"]], "scope": ["openid profile email"]}
            check(form == want, "token request form %r" % {k: (v if k != "refresh_token" else ["..."]) for k, v in form.items()})
            u = c.up.requests[1]
            check(u.header("authorization") == "Bearer " + new_at, "upstream did not get the refreshed token")
            check(u.header("chatgpt-account-id") == "acct-0001", "chatgpt-account-id %r" % u.header("chatgpt-account-id"))
            path = os.path.join(c.auth, "codex-user@example.com.json")
            d = json.load(open(path))
            check(d.get("access_token") == new_at and d.get("refresh_token") == new_rt, "file not updated")
            check(d.get("id_token") == new_idt, "id_token not the new one")
            check(d.get("type") == "codex" and d.get("account_id") == "acct-0001" and d.get("email") == "user@example.com",
                  "known fields changed: %r" % {k: d.get(k) for k in ("type", "account_id", "email")})
            check(os.stat(path).st_mode & 0o777 == 0o600, "file mode %o" % (os.stat(path).st_mode & 0o777))
            import calendar
            exp = calendar.timegm(time.strptime(d["expired"][:19], "%Y-%m-%dT%H:%M:%S"))
            check(t0 + 864000 - 120 <= exp <= time.time() + 864000 + 120, "expired %s not now + expires_in" % d["expired"])
    finally:
        tok.close()


def test_codex_full_disk_no_grant(ctx):
    """auth-dir on a full tmpfs and an expired Codex token: no grant is
    asked (the endpoint lets each refresh token work once), the client
    gets a 503 in OpenAI's error shape naming auth-dir, the error and the
    fix; once space is freed, one grant and the request is served."""
    new_at, new_rt = "codex-at-NEW-" + secrets.token_hex(8), "codex-rt-NEW-" + secrets.token_hex(8)
    once = OneUse()

    def tok_h(req, conn):
        status, obj, _ = once.answer(req.body, req.header("content-type"), lambda: (
            "200 OK", {"id_token": id_token("user@example.com", "acct-0001"), "access_token": new_at,
                       "refresh_token": new_rt, "expires_in": 864000}, b""))
        conn.send(json_response(obj, status=status, close=True))
        return False
    tok = FakeUpstream(ctx["pki"], handler=tok_h)
    try:
        with CodexCase(ctx["pki"], accounts=(), codex_token_url=tok.url + "/oauth/token") as c, \
                Tmpfs(c.auth, "64k") as fs:
            if not fs.mounted:
                rerun_in_userns(os.path.abspath(__file__), "codex_full_disk_no_grant", fs.why)
                return
            c.add_codex("user@example.com", "acct-0001", expires_in=-60)
            fs.fill()
            r, err = c.one(oai_request(droid_responses_body()))
            check(r.status == 503, "want 503, got %r; stderr %s" % (r, short(err, 600)))
            e = r.json().get("error")
            check(isinstance(e, dict) and isinstance(e.get("message"), str) and "type" in e,
                  "not OpenAI's error shape: %s" % short(r.body))
            for want in (c.auth, "No space left on device", "free space", "refresh token is kept"):
                check(want in e["message"], "the 503 does not say %r: %r" % (want, e["message"]))
            check(not tok.requests and not c.up.requests, "a grant or the expired token went out")
            fs.free()
            c.ok(oai_request(droid_responses_body()))
            check(len(tok.requests) == 1 and once.grants == 1, "%d token requests" % len(tok.requests))
            check(c.up.requests[-1].header("authorization") == "Bearer " + new_at, "the new token was not used")
            check(not [n for n in os.listdir(c.auth) if ".tmp" in n], "temporary files left")
    finally:
        tok.close()


def test_round_robin_two_accounts(ctx):
    with CodexCase(ctx["pki"], accounts=[("a@example.com", "acct-a"), ("b@example.com", "acct-b")],
                   routing="round-robin") as c:
        for _ in range(4):
            c.ok(oai_request(droid_responses_body()))
        ids = [q.header("chatgpt-account-id") for q in c.up.requests]
        check(sorted(set(ids)) == ["acct-a", "acct-b"], "requests went to %r" % ids)
        for q in c.up.requests:
            want = c.codex["a@example.com" if q.header("chatgpt-account-id") == "acct-a" else "b@example.com"]
            check(q.header("authorization") == "Bearer " + want["access_token"],
                  "account id and token from different accounts")


def test_usage_limit_429_next_account_and_cooling(ctx):
    with CodexCase(ctx["pki"], accounts=[("a@example.com", "acct-a"), ("b@example.com", "acct-b")]) as c:
        table = {c.codex["a@example.com"]["access_token"]: usage_limit_429(120),
                 c.codex["b@example.com"]["access_token"]: sse_handler(text_events)}
        c.up.handler = by_bearer(table)
        # Whichever account comes first: make a the one that answers 429 first
        # by asking until a has been tried.
        r, err = c.ok(oai_request(droid_responses_body()))
        check(r.body == b"".join(text_events()), "client did not get b's stream: %s" % short(r.body))
        for _ in range(3):
            r, err = c.ok(oai_request(droid_responses_body()))
        ids = [q.header("chatgpt-account-id") for q in c.up.requests]
        check(ids.count("acct-a") == 1, "a was asked %d times (it must cool after its 429): %r" % (ids.count("acct-a"), ids))
        check(ids.count("acct-b") == 4, "b served %d of 4 requests: %r" % (ids.count("acct-b"), ids))
        out = c.status()
        la = [ln for ln in out.splitlines() if "a@example.com" in ln]
        lb = [ln for ln in out.splitlines() if "b@example.com" in ln]
        check(len(la) == 1 and "cooling" in la[0], "--status does not show a cooling: %r" % out)
        check(len(lb) == 1 and "cooling" not in lb[0], "--status shows b cooling: %r" % out)
        m = re.search(r"in (\d+)m(\d+)s", la[0])
        if m:
            secs = int(m.group(1)) * 60 + int(m.group(2))
            check(90 <= secs <= 125, "cooldown %d s, want about resets_in_seconds (120): %r" % (secs, la[0]))


def test_usage_limit_429_single_account_passed(ctx):
    with CodexCase(ctx["pki"], handler=usage_limit_429(300)) as c:
        r, err = c.one(oai_request(droid_responses_body()))
        check(r.status == 429, "want the backend's 429, got %r" % r)
        e = r.json().get("error", {})
        check(e.get("type") == "usage_limit_reached" and e.get("resets_in_seconds") == 300,
              "not the backend's 429 body: %s" % short(r.body))
        r, err = c.one(oai_request(droid_responses_body()))
        expect_openai_error(r, 429)      # the proxy's own answer while the only account cools
        check(len(c.up.requests) == 1, "a cooling account was asked again: %d upstream requests" % len(c.up.requests))
        ra = r.header("retry-after")
        check(ra is not None and ra.isdigit() and 250 <= int(ra) <= 301, "retry-after %r, want about 300" % ra)


# ------------------------------------------------------------ errors

def test_no_codex_account_401(ctx):
    with CodexCase(ctx["pki"], accounts=(), claude=True) as c:
        for target, data in (("/responses", oai_request(droid_responses_body())),
                             ("/v1/responses", oai_request(droid_responses_body(), "/v1/responses")),
                             ("/v1/chat/completions", chat_request(chat_body()))):
            r, err = c.one(data)
            e = expect_openai_error(r, 401)
            check("codex" in e["message"].lower(), "%s: message %r does not name the missing codex account"
                  % (target, e["message"]))
        time.sleep(0.05)
        check(not c.up.requests, "forwarded without a codex account: %r" % c.up.requests)


def test_non_json_body_400_and_close(ctx):
    for target, body in (("/responses", b"this is not json"), ("/v1/responses", b"[1,2,3]"),
                         ("/v1/chat/completions", b"{\"model\": \"gpt-5.5\", "),
                         ("/responses", b"{\"model\":\"gpt-5.5\"} trailing")):
        with CodexCase(ctx["pki"]) as c:
            p = c.spawn()
            p.send(oai_request(body, target))
            r = p.reader.read_response("POST")
            expect_openai_error(r, 400)
            check(p.reader.closed_within(5), "%s: connection still open after a 400 for a non-JSON body" % target)
            time.sleep(0.05)
            check(not c.up.requests, "%s: a non-JSON body was forwarded" % target)


def test_chat_bad_request_400(ctx):
    with CodexCase(ctx["pki"]) as c:
        r, err = c.one(chat_request({"model": "gpt-5.5", "messages": []}))
        expect_openai_error(r, 400)
        check(not c.up.requests, "forwarded a chat request without messages")


def test_unknown_route_error_shape_unchanged(ctx):
    """GET /v1/responses is no Codex route: a 404, and nothing sent upstream."""
    with CodexCase(ctx["pki"]) as c:
        r, err = c.one(request("GET", "/v1/responses", [("Host", "x")]), method="GET")
        check(r.status == 404, "GET /v1/responses: %r" % r)
        check(not c.up.requests, "GET /v1/responses went upstream")


# ------------------------------------------------------------ models

def _models(c, hs):
    r, err = c.one(request("GET", "/v1/models", [("Host", "x")] + hs), method="GET")
    check(r.status == 200, "status %r" % r)
    check((r.header("content-type") or "").startswith("application/json"), "Content-Type %r" % r.header("content-type"))
    return r.json()


def _openai_ids(j):
    check(j.get("object") == "list" and isinstance(j.get("data"), list), "not OpenAI's list shape: %s" % short(json.dumps(j)))
    for m in j["data"]:
        check(m.get("object") == "model" and isinstance(m.get("id"), str) and m["id"]
              and isinstance(m.get("created"), int) and isinstance(m.get("owned_by"), str),
              "model entry %r" % m)
    ids = [m["id"] for m in j["data"]]
    check(len(ids) == len(set(ids)), "duplicate model ids %r" % ids)
    return ids


CURRENT_MODELS = ["gpt-5.6-sol", "gpt-5.6-sol-high", "gpt-5.6-sol-ultra", "gpt-5.5", "gpt-5.5-xhigh", "gpt-5.4-mini"]


def test_models_openai_shape_codex_only(ctx):
    with CodexCase(ctx["pki"]) as c:
        ids = _openai_ids(_models(c, [("Authorization", "Bearer sk-dummy")]))
        missing = [m for m in CURRENT_MODELS if m not in ids]
        check(not missing, "current models missing: %r (have %r)" % (missing, ids))
        check(not [i for i in ids if i.startswith("claude")], "claude models listed without a claude account: %r" % ids)
        time.sleep(0.05)
        check(not c.up.requests, "the model list went upstream")


def test_models_both_providers(ctx):
    with CodexCase(ctx["pki"], claude=True) as c:
        ids = _openai_ids(_models(c, []))
        check(any(i.startswith("claude") for i in ids), "no claude models with a claude account: %r" % ids)
        check(all(m in ids for m in CURRENT_MODELS), "codex models missing: %r" % ids)


def test_models_claude_only_no_codex(ctx):
    with CodexCase(ctx["pki"], accounts=(), claude=True) as c:
        ids = _openai_ids(_models(c, []))
        check(ids and not [i for i in ids if i.startswith("gpt")], "codex models listed without a codex account: %r" % ids)


def test_models_codex_api_key_counts(ctx):
    with CodexCase(ctx["pki"], accounts=()) as c:
        c.cfg_values["codex-api-key"] = [{"api-key": "sk-proj-x"}]
        c.write_config(c.cfg_values)
        ids = _openai_ids(_models(c, []))
        check("gpt-5.6-sol" in ids, "codex-api-key account not counted: %r" % ids)


def test_models_anthropic_shape_with_version(ctx):
    with CodexCase(ctx["pki"], claude=True) as c:
        j = _models(c, [("x-api-key", "dummy"), ("anthropic-version", "2023-06-01")])
        d = j.get("data")
        check(isinstance(d, list) and d and "object" not in j, "not Anthropic's shape: %s" % short(json.dumps(j)))
        for m in d:
            check(m.get("type") == "model" and isinstance(m.get("display_name"), str)
                  and isinstance(m.get("created_at"), str), "model entry %r" % m)
        check(j.get("has_more") is False and j.get("first_id") == d[0]["id"] and j.get("last_id") == d[-1]["id"],
              "has_more/first_id/last_id %r" % {k: j.get(k) for k in ("has_more", "first_id", "last_id")})


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
