"""Models as the providers serve them now: GET /v1/models from the
providers' catalogs (fetched with an account, kept in auth-dir/models.json,
fetched again when stale), in OpenAI's and Anthropic's shapes; effort
suffixes read against the catalog; retired models explained; aliases
(oauth-model-alias) served openly; --refresh and --doctor. The fake
upstream serves 2026's catalogs and refuses retired ids as the real
backends do (lib.ProviderRules)."""
import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403
from test_codex import (CodexCase, droid_responses_body, expect_openai_error,  # noqa: E402
                        oai_request, session)
from test_claude_code import fixture  # noqa: E402
from test_doctor import DocCase  # noqa: E402

ANTHROPIC_ASK = [("x-api-key", "dummy"), ("anthropic-version", "2023-06-01")]


def listing(c, headers=(), target="/v1/models"):
    """One GET /v1/models through a new proxy process: (response, stderr)."""
    rc, out, err = c.run_pipe(request("GET", target, [("Host", "127.0.0.1:8317")] + list(headers)))
    rs = parse_responses(out, ["GET"])
    check(len(rs) == 1 and rs[0].status == 200, "GET %s: %s; stderr %s" % (target, short(out), short(err)))
    return rs[0], err


def ids_of(r):
    return [m["id"] for m in r.json()["data"]]


def asks(c, kind=None):
    return [t for k, t in c.up.rules.catalog_asks if kind is None or k == kind]


def test_lists_from_the_catalogs(ctx):
    with CodexCase(ctx["pki"], claude=True) as c:
        # What the catalogs hold beyond any list in the binary: a model
        # announced after it was built.
        c.up.rules.codex_models.append(("gpt-6-astra", "GPT-6 Astra", ["low", "high"], "list", 8))
        r, err = listing(c)
        ids = ids_of(r)
        for m in ("claude-opus-5", "claude-sonnet-5", "claude-fable-5-1", "gpt-5.6-sol", "gpt-5.5",
                  "gpt-5.6-sol-high", "gpt-5.6-sol-ultra", "gpt-6-astra", "gpt-6-astra-high"):
            check(m in ids, "%s not listed: %r" % (m, ids))
        gone = [m for m in ids if m in CODEX_RETIRED + CLAUDE_RETIRED or m.startswith("codex-auto-review")]
        check(not gone, "retired or hidden models listed: %r" % gone)
        check(len(asks(c, "anthropic")) == 1 and len(asks(c, "codex")) == 1, "catalogs asked %r" % asks(c))
        check("client_version=0.171.0" in asks(c, "codex")[0], "codex catalog asked %r" % asks(c, "codex"))
        path = os.path.join(c.auth, "models.json")
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "models.json mode %o" % os.stat(path).st_mode)
        with open(path) as f:
            kept = json.load(f)
        check(kept["codex"]["etag"] == CODEX_ETAG and kept["claude"]["fetched"] > time.time() - 60,
              "kept %s" % short(json.dumps(kept)))
        # Three more listings within the minute ask no upstream.
        for h in ([], ANTHROPIC_ASK, [("Authorization", "Bearer sk-x")]):
            listing(c, h)
        check(len(asks(c)) == 2 and not c.up.requests, "asked again: %r %r" % (asks(c), c.up.requests))


def test_anthropic_shape_for_claude_code_discovery(ctx):
    """Claude Code's gateway discovery: GET /v1/models?limit=1000 with
    anthropic-version; it keeps ids starting with claude or anthropic."""
    with CodexCase(ctx["pki"], claude=True) as c:
        r, err = listing(c, ANTHROPIC_ASK, "/v1/models?limit=1000")
        j = r.json()
        d = j["data"]
        check(d and all(m["id"].startswith("claude") for m in d), "not only Claude models: %r" % ids_of(r))
        check("claude-opus-5" in ids_of(r) and "claude-opus-4-1" not in ids_of(r), "ids %r" % ids_of(r))
        for m in d:
            check(m["type"] == "model" and m["display_name"] and re.match(r"\d{4}-\d\d-\d\dT", m["created_at"])
                  and m["max_input_tokens"] > 0 and m["max_tokens"] > 0, "entry %r" % m)
        check(j["has_more"] is False and j["first_id"] == d[0]["id"] and j["last_id"] == d[-1]["id"], short(r.body))
        # The Anthropic SDK pages with limit and after_id.
        r1, _ = listing(c, [("x-api-key", "k")], "/v1/models?limit=2")
        r2, _ = listing(c, [("x-api-key", "k")], "/v1/models?limit=2&after_id=" + r1.json()["last_id"])
        check(r1.json()["has_more"] is True and len(ids_of(r1)) == 2 and ids_of(r1) + ids_of(r2) ==
              [m["id"] for m in d[:4]], "pages %r %r" % (ids_of(r1), ids_of(r2)))


def test_only_providers_with_an_account(ctx):
    with CodexCase(ctx["pki"]) as c:
        ids = ids_of(listing(c)[0])
        check(ids and not [i for i in ids if i.startswith("claude")], "claude listed without an account: %r" % ids)
        check(asks(c) == asks(c, "codex"), "the Claude catalog was asked without an account: %r" % asks(c))


def test_unreachable_catalogs_builtin_list(ctx):
    hole = BlackHole()
    try:
        with CodexCase(ctx["pki"], claude=True) as c:
            c.cfg_values["claude-base-url"] = hole.url
            c.cfg_values["codex-base-url"] = hole.url + "/backend-api/codex"
            c.write_config(c.cfg_values)
            t0 = time.monotonic()
            r, err = listing(c)
            took = time.monotonic() - t0
            check(took < 5, "answered after %.1f s" % took)
            ids = ids_of(r)
            check("claude-opus-5" in ids and "gpt-5.6-sol" in ids and "gpt-5-codex" not in ids,
                  "not the built-in 2026 list: %r" % ids)
            check("could not be fetched" in err, "no word of the failed fetch: %s" % short(err))
            # Not asked again at once: the failure is kept.
            t0 = time.monotonic()
            listing(c)
            check(time.monotonic() - t0 < 1.5, "the dead catalog was waited for again")
    finally:
        hole.close()


def test_refused_catalog_falls_back(ctx):
    with CodexCase(ctx["pki"], claude=True) as c:
        c.up.rules.catalog_status = "403 Forbidden"
        r, err = listing(c)
        check("claude-sonnet-5" in ids_of(r) and "gpt-5.5" in ids_of(r), "ids %r" % ids_of(r))
        n = len(asks(c))
        listing(c)
        check(len(asks(c)) == n, "a refusing catalog asked on every listing")


def test_anthropic_catalog_asked_with_an_api_key_first(ctx):
    with Case(ctx["pki"]) as c:
        key = "sk-ant-api03-" + secrets.token_hex(12)
        c.cfg_values["claude-api-key"] = [{"api-key": key, "base-url": c.up.url}]
        c.write_config(c.cfg_values)
        listing(c, ANTHROPIC_ASK)
        q = c.up.rules.catalog_reqs[0]
        check(q.header("x-api-key") == key and not q.header("authorization"), "asked with %r" % q.headers)
        check((q.header("user-agent") or "").startswith("cli-proxy-api/"), "user agent %r" % q.header("user-agent"))
    with Case(ctx["pki"]) as c:
        listing(c, ANTHROPIC_ASK)
        q = c.up.rules.catalog_reqs[0]
        check(q.header("authorization") == "Bearer " + c.token and OAUTH_BETA in beta_list(q),
              "a subscription's ask %r" % q.headers)


def test_effort_suffix_read_against_the_catalog(ctx):
    with CodexCase(ctx["pki"]) as c:
        rs, p = session(c, [oai_request(droid_responses_body(model="gpt-5.6-sol-xhigh", reasoning=None)),
                            oai_request(droid_responses_body(model="gpt-5.4-max"))])
        check(rs[0].status == 200, "gpt-5.6-sol-xhigh: %r" % rs[0])
        g = c.up.requests[0].json()
        check(g["model"] == "gpt-5.6-sol" and g["reasoning"]["effort"] == "xhigh", "sent %r %r" % (
            g["model"], g.get("reasoning")))
        e = expect_openai_error(rs[1], 400)
        check("gpt-5.4 does not take reasoning effort max" in e["message"] and "gpt-5.4-xhigh" in e["message"],
              "message %r" % e["message"])
        check(len(c.up.requests) == 1, "the refused effort went upstream")


def test_retired_codex_model_explained(ctx):
    with CodexCase(ctx["pki"]) as c:
        r, err = c.one(oai_request(droid_responses_body(model="gpt-5-codex-high")))
        e = expect_openai_error(r, 400)
        check("The 'gpt-5-codex' model is not supported" in e["message"], "the backend's words lost: %r" % e)
        check("gpt-5.6-sol" in e["message"] and "gpt-5.5" in e["message"] and "oauth-model-alias" in e["message"],
              "current models not named: %r" % e["message"])


def test_retired_claude_model_explained(ctx):
    with Case(ctx["pki"]) as c:
        rc, out, err = c.run_pipe(droid_request(droid_body(model="claude-opus-4-1-20250805")))
        r, = parse_responses(out, ["POST"])
        m = expect_error(r, 404, "not_found_error")
        check(m.startswith("model: claude-opus-4-1-20250805") and "current Claude Opus models are "
              "claude-opus-5-5, claude-opus-5, claude-opus-4-8" in m, "message %r" % m)


def test_aliases_served_openly(ctx):
    alias = {"codex": [{"name": "gpt-5.5", "alias": "gpt-5-codex"}],
             "claude": [{"name": "claude-opus-4-8", "alias": "claude-opus-4-1"},
                        {"name": "claude-sonnet-5", "alias": "claude-opus-5-5", "fork": True}],
             "gemini-cli": [{"name": "gemini-2.5-pro", "alias": "g"}]}
    with CodexCase(ctx["pki"], claude=True) as c:
        with open(c.cfg, "a") as f:
            f.write("oauth-model-alias: %s\n" % json.dumps(alias))
        r, err = c.ok(oai_request(droid_responses_body(model="gpt-5-codex-high")))
        g = c.up.requests[-1].json()
        check(g["model"] == "gpt-5.5" and g["reasoning"]["effort"] == "high", "sent %r" % g["model"])
        check(" gpt-5-codex-high=>gpt-5.5 200 " in err, "log %s" % short(err))
        r, err = c.ok(oai_request(droid_responses_body(model="gpt-5-codex", reasoning=None)))
        check(c.up.requests[-1].json()["model"] == "gpt-5.5", "alias not served")
        check(" gpt-5-codex=>gpt-5.5 200 " in err, "the log line does not show both ids: %s" % short(err))
        check("channel 'gemini-cli' is not served" in err, "no word of the unused channel: %s" % short(err))
        # A third-party Claude request: only the model's bytes change.
        body = json.dumps(droid_body(model="claude-opus-4-1"))
        rc, out, err = c.run_pipe(droid_request(body))
        check(parse_responses(out, ["POST"])[0].status == 200, "alias not served: %s" % short(out))
        u = c.up.requests[-1]
        want = json.loads(body)
        want["model"] = "claude-opus-4-8"
        want["system"] = [{"type": "text", "text": CC_LINE}] + want["system"]
        check(json.loads(u.body) == want, "sent %s" % short(u.body))
        block = ('{"type":"text","text":"%s"},' % CC_LINE).encode()
        check(u.body.replace(block, b"", 1).replace(b'"claude-opus-4-8"', b'"claude-opus-4-1"', 1) ==
              body.encode(), "bytes beyond the model and the Claude Code line changed: %s" % short(u.body))
        check(" claude-opus-4-1=>claude-opus-4-8 200 " in err, "log %s" % short(err))
        # Claude Code's own request goes as it came, alias or not.
        line, hs, cc_body, raw = fixture("claude-code-apikey.http")
        check(b'"model":"claude-opus-5-5"' in cc_body, "fixture model changed")
        rc, out, err = c.run_pipe(raw)
        check(parse_responses(out, ["POST"])[0].status == 200, short(out))
        check(c.up.requests[-1].body == cc_body, "Claude Code's request was rewritten for an alias")
        # Listed: an alias without fork in its model's place, with fork beside it.
        ids = ids_of(listing(c, ANTHROPIC_ASK, "/v1/models?limit=100")[0])
        check("claude-opus-4-1" in ids and "claude-opus-4-8" not in ids, "ids %r" % ids)
        check("claude-sonnet-5" in ids and "claude-opus-5-5" in ids, "ids %r" % ids)


def test_new_catalog_tag_fetched_by_the_next_listing(ctx):
    with CodexCase(ctx["pki"]) as c:
        listing(c)
        check(len(asks(c, "codex")) == 1, "asks %r" % asks(c))
        # The backend changes its catalog; its answers carry the new tag.
        c.up.rules.codex_etag = '"catalog-2026-12-07"'
        c.up.rules.codex_models.insert(0, ("gpt-6-astra", "GPT-6 Astra", ["low", "high"], "list", 0))
        r, err = c.ok(oai_request(droid_responses_body(model="gpt-5.5")))
        check(len(asks(c, "codex")) == 1, "a /responses request fetched the catalog: %r" % asks(c))
        check("gpt-6-astra" not in ids_of(listing(c)[0]) or len(asks(c, "codex")) == 2,
              "listed without a fetch")
        check(len(asks(c, "codex")) == 2, "the new tag did not make the next listing fetch: %r" % asks(c))
        check("gpt-6-astra" in ids_of(listing(c)[0]), "the new model is not listed")
        check(len(asks(c, "codex")) == 2, "fetched again for the same tag")


def test_stale_catalog_fetched_again(ctx):
    with CodexCase(ctx["pki"], models_refresh=60) as c:
        listing(c)
        path = os.path.join(c.auth, "models.json")
        with open(path) as f:
            kept = json.load(f)
        kept["codex"]["fetched"] -= 120
        with open(path, "w") as f:
            json.dump(kept, f)
        listing(c)
        check(len(asks(c, "codex")) == 2, "a catalog older than models-refresh was not fetched: %r" % asks(c))


def test_refresh_fetches_the_catalogs(ctx):
    with CodexCase(ctx["pki"], claude=True) as c:
        r = subprocess.run([BIN, "--config", c.cfg, "--refresh"], capture_output=True, timeout=30, env=c.env(),
                           stdin=subprocess.DEVNULL)
        out = r.stdout.decode()
        check(r.returncode == 0, "exit %d: %s %s" % (r.returncode, out, r.stderr.decode()))
        check(re.search(r"claude models: \d+ in the catalog", out) and re.search(r"codex models: \d+ in the "
              "catalog", out), out)
        check(len(asks(c, "anthropic")) == 1 and len(asks(c, "codex")) == 1, "asks %r" % asks(c))


def test_doctor_warns_of_a_retired_droid_model(ctx):
    with DocCase(ctx["pki"]) as c:
        base = "http://localhost:%d" % c.port
        c.write_json(os.path.join(c.dir, ".factory", "settings.json"), {"customModels": [
            {"model": "gpt-5-codex-high", "baseUrl": base, "provider": "openai", "apiKey": "dummy-not-used"},
            {"model": "gpt-5.6-sol-high", "baseUrl": base, "provider": "openai", "apiKey": "dummy-not-used"},
            {"model": "claude-haiku-4-5", "baseUrl": base, "provider": "anthropic", "apiKey": "dummy-not-used"}]})
        rc, lines = c.doctor()
        bad = [ln for ln in lines if "not in the" in ln]
        check(len(bad) == 1 and bad[0].startswith("warn") and "gpt-5-codex-high" in bad[0] and
              "--setup-droid" in bad[0], "\n".join(lines))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)], setup_pki)
