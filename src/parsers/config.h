/* config: config.yaml (libyaml) into an immutable struct config. */
#ifndef CONFIG_H
#define CONFIG_H
#include <stddef.h>

#include "parsers/proxyurl.h"
#include "support/url.h"

/* model-aliases: a model name the client uses, and what it becomes. */
struct alias {
	char *from;
	char *to;
};

/* oauth-model-alias (CLIProxyAPI's): on provider's routes, a client
 * asking for alias is served the model name; fork keeps name listed
 * beside alias in /v1/models, else alias stands in its place. */
struct model_alias {
	char provider[8];       /* "claude", "codex" */
	char *name;
	char *alias;
	int fork;
};

/* droid-models: a custom model --setup-droid writes into droid's
 * settings.json. */
struct droid_model {
	const char *model;
	const char *display;   /* displayName */
	const char *provider;  /* "anthropic" or "openai" (a literal) */
	int max_tokens;        /* maxOutputTokens; 0: left to droid */
	char *own;             /* storage of model and display, or NULL */
};

/* An API key account from claude-api-key / codex-api-key. */
struct api_key {
	char *key;             /* secret */
	struct url base;       /* base-url; host NULL: the provider default */
};

struct config {
	char *path;            /* file read, or NULL for built-in defaults */
	char *host;            /* listen host; NULL: 127.0.0.1 and ::1 */
	int port;              /* 8317 */
	char *auth_dir;        /* ~/.cli-proxy-api, ~ expanded */
	int debug;
	char **api_keys;       /* client keys; n_api_keys 0 = no client auth */
	size_t n_api_keys;
	struct url claude_base; /* https://api.anthropic.com */
	char *ca_file;         /* /etc/ssl/certs/ca-certificates.crt */
	int claude_system_prefix; /* 1 */
	int claude_oauth_beta;  /* 1: add oauth-2025-04-20 to anthropic-beta */
	int codex_encrypted_reasoning; /* 1: reasoning.encrypted_content in
	                        * include (the backend stores nothing) */
	int routing;            /* ROUTING_HEADROOM, ROUTING_ROUND_ROBIN */
	int status_page;        /* STATUS_PAGE_LOCAL, _OFF, _API_KEY */
	int claude_third_party; /* THIRD_PARTY_SUBSCRIPTION, _API_KEY, _REFUSE */
	int claude_refusal_cooldown; /* 3600 s: an account that refused a kind
	                        * of client is not asked for it again */
	size_t max_head;       /* 65536 bytes */
	size_t max_headers;    /* 100 */
	size_t max_body;       /* 32 MiB */
	int head_timeout;      /* 30 s: client stalls mid-request */
	int idle_timeout;      /* 600 s: idle keep-alive connection */
	int first_byte_timeout; /* 10 s: a new connection's silence */
	int body_timeout;      /* 120 s: a whole request body */
	int max_connections;   /* 256: --serve's connections at once */
	int connect_timeout;   /* 10 s: TCP connect and TLS handshake */
	int upstream_timeout;  /* 600 s: upstream silent while we wait on it */
	struct proxy proxy;    /* proxy-url; kind PROXY_NONE: direct */
	int request_retry;     /* 3: more accounts tried after a failure */
	struct url claude_token_url; /* https://platform.claude.com/v1/oauth/token */
	struct url codex_token_url;  /* https://auth.openai.com/oauth/token */
	struct url claude_auth_url;  /* https://claude.ai/oauth/authorize */
	struct url codex_auth_url;   /* https://auth.openai.com/oauth/authorize */
	struct url codex_base;       /* https://chatgpt.com/backend-api/codex */
	int refresh_lead;      /* seconds; -1: per provider (4 h, 5 days) */
	int token_timeout;     /* 30 s: a whole token endpoint exchange */
	struct api_key *claude_keys; /* claude-api-key */
	size_t n_claude_keys;
	struct api_key *codex_keys;  /* codex-api-key */
	size_t n_codex_keys;
	int allow_remote;      /* --serve on a non-loopback host without api-keys */
	struct alias *aliases; /* model-aliases */
	size_t n_aliases;
	int logging_to_file;   /* 0: logs/ beside the config file */
	int usage_stats;       /* 0: usage-statistics-enabled */
	size_t usage_max;      /* 10 MiB: usage.jsonl rotates past it */
	size_t log_max;        /* 10 MiB: logs/cli-proxy-api.log rotates */
	int sandbox;           /* SANDBOX_AUTO, _REQUIRED or _OFF (sandbox.c) */
	struct droid_model *droid_models; /* NULL: the current models */
	size_t n_droid_models;
	struct model_alias *model_alias; /* oauth-model-alias */
	size_t n_model_alias;
	char *codex_client_version; /* "0.171.0": the Codex CLI version the
	                        * Codex model catalog is asked for */
	int models_refresh;    /* 86400 s: a kept catalog older is fetched
	                        * again */
	int usage_refresh;     /* 300 s: figures older are asked of the
	                        * usage endpoints again */
};

/* sandbox: auto (the default: what the kernel supports), required, off. */
enum { SANDBOX_AUTO = 0, SANDBOX_REQUIRED, SANDBOX_OFF };
/* status: the status page for local peers (with a key when api-keys are
 * set), for nobody, or for whoever has a client key. */
enum { STATUS_PAGE_LOCAL = 0, STATUS_PAGE_OFF, STATUS_PAGE_API_KEY };
/* routing: a conversation stays on its account and a new one goes where
 * the most headroom is; or every request to the next account in turn. */
enum { ROUTING_HEADROOM = 0, ROUTING_ROUND_ROBIN };
/* claude-third-party: where requests from clients other than Claude Code
 * go: subscriptions, then API keys (the default); API keys only; nowhere. */
enum { THIRD_PARTY_SUBSCRIPTION = 0, THIRD_PARTY_API_KEY, THIRD_PARTY_REFUSE };

/* Fill cfg with the built-in defaults. 0 or -1 (ENOMEM). */
int config_defaults(struct config *cfg);

/* Load path, or when path is NULL the first of
 * ~/.config/cli-proxy-api/config.yaml and /etc/cli-proxy-api/config.yaml that
 * exists, else defaults only. On error returns -1, cfg is left empty (nothing
 * half-applied) and err holds "file:line:column: what was expected".
 * Unknown keys get one warning line each through log_warn. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* "~/x" -> "$HOME/x". Returns a malloc'd string or NULL. */
char *config_expand_home(const char *path);

/* The provider droid must use for a model family: "anthropic" for
 * claude-*, "openai" for gpt-* and o<digit>* (o3, o4-mini), NULL when the
 * name says nothing. */
const char *config_droid_family(const char *model);

#endif
