/*
 * config_default: what holds when config.yaml says nothing, and where
 * config.yaml is looked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/config.h"
#include "parsers/config_int.h"

#define DEFAULT_BASE_URL	"https://api.anthropic.com"
#define DEFAULT_CLAUDE_TOKEN_URL "https://platform.claude.com/v1/oauth/token"
#define DEFAULT_CODEX_TOKEN_URL	"https://auth.openai.com/oauth/token"
#define DEFAULT_CLAUDE_AUTH_URL	"https://claude.ai/oauth/authorize"
#define DEFAULT_CODEX_AUTH_URL	"https://auth.openai.com/oauth/authorize"
#define DEFAULT_CODEX_BASE_URL	"https://chatgpt.com/backend-api/codex"
/* The Codex CLI release the README's set-up was run with. */
#define DEFAULT_CODEX_CLIENT_VERSION "0.171.0"
#define DEFAULT_CA_FILE		"/etc/ssl/certs/ca-certificates.crt"
#define USER_CONFIG		"cli-proxy-api/config.yaml"
#define SYSTEM_CONFIG		"/etc/cli-proxy-api/config.yaml"

/* First existing of the user's and the system's config.yaml, or NULL. */
int
config_find(char **out)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *h = config_home();
	char *p = NULL;
	int n = 0;

	*out = NULL;
	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	if (xdg != NULL && xdg[0] == '/')
		n = asprintf(&p, "%s/%s", xdg, USER_CONFIG);
	else if (h != NULL)
		n = asprintf(&p, "%s/.config/%s", h, USER_CONFIG);
	if (n == -1)
		return -1;
	if (p != NULL && access(p, F_OK) == 0) {
		*out = p;
		return 0;
	}
	free(p);
	if (access(SYSTEM_CONFIG, F_OK) == 0 &&
	    (*out = strdup(SYSTEM_CONFIG)) == NULL)
		return -1;
	return 0;
}

/* Every default but auth-dir, whose ~ needs HOME only if it is used. */
int
config_defaults_base(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->port = 8317;
	c->claude_system_prefix = 1;
	c->claude_oauth_beta = 1;
	c->max_head = 65536;
	c->max_headers = 100;
	c->max_body = 33554432;
	c->head_timeout = 30;
	c->idle_timeout = 600;
	c->first_byte_timeout = 10;
	c->body_timeout = 120;
	c->max_connections = 256;
	c->connect_timeout = 10;
	c->upstream_timeout = 600;
	c->request_retry = 3;
	c->claude_refusal_cooldown = 3600;
	c->codex_encrypted_reasoning = 1;
	c->refresh_lead = -1;
	c->token_timeout = 30;
	c->usage_max = 10485760;
	c->log_max = 10485760;
	c->models_refresh = 86400;
	c->usage_refresh = 300;
	if ((c->ca_file = strdup(DEFAULT_CA_FILE)) == NULL ||
	    (c->codex_client_version = strdup(DEFAULT_CODEX_CLIENT_VERSION)) ==
	    NULL)
		goto fail;
	if (url_parse(DEFAULT_BASE_URL, &c->claude_base, NULL, 0) == -1 ||
	    url_parse(DEFAULT_CLAUDE_TOKEN_URL, &c->claude_token_url, NULL,
	    0) == -1 || url_parse(DEFAULT_CODEX_TOKEN_URL,
	    &c->codex_token_url, NULL, 0) == -1 ||
	    url_parse(DEFAULT_CLAUDE_AUTH_URL, &c->claude_auth_url, NULL,
	    0) == -1 || url_parse(DEFAULT_CODEX_AUTH_URL, &c->codex_auth_url,
	    NULL, 0) == -1 || url_parse(DEFAULT_CODEX_BASE_URL,
	    &c->codex_base, NULL, 0) == -1)
		goto fail;
	return 0;
fail:
	config_free(c);
	errno = ENOMEM;
	return -1;
}

int
config_defaults(struct config *cfg)
{
	if (config_defaults_base(cfg) == -1)
		return -1;
	if ((cfg->auth_dir = config_expand_home(CONFIG_AUTH_DIR)) == NULL) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

