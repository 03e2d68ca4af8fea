/*
 * cli-proxy-api: arguments, the table of modes, exit codes. Everything
 * else lives in the modules named after what they do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/catalog.h"
#include "accounts/figures.h"
#include "accounts/refresh.h"
#include "accounts/store.h"
#include "accounts/usage.h"
#include "accounts/view.h"
#include "commands/claudecode.h"
#include "commands/doctor.h"
#include "commands/droid.h"
#include "commands/login.h"
#include "commands/sandbox.h"
#include "commands/serve.h"
#include "commands/statusline.h"
#include "connection/filter.h"
#include "parsers/config.h"
#include "support/log.h"
#include "support/owner.h"
#include "support/version.h"

/* Long options without a letter: values past any char getopt returns. */
enum {
	OPT_CLAUDE_LOGIN = 0x100,
	OPT_CODEX_LOGIN,
	OPT_NO_BROWSER,
	OPT_CB_PORT,
	OPT_SANDBOX_CHECK
};

/* --doctor and --setup-droid (doctor.c, droid.c): their own range. */
enum {
	OPT_DOCTOR = 0x200,
	OPT_SETUP_DROID,
	OPT_SETUP_CLAUDE,
	OPT_STATUSLINE,
	OPT_DRY_RUN
};

static const char usage_text[] =
"usage: cli-proxy-api [--config FILE] [--inetd | --serve]\n"
"       cli-proxy-api [--config FILE] --status | --refresh | --usage\n"
"       cli-proxy-api [--config FILE] --claude-login | --codex-login\n"
"                     [--no-browser] [--oauth-callback-port N]\n"
"       cli-proxy-api [--config FILE] --sandbox-check\n"
"       cli-proxy-api [--config FILE] --doctor | --statusline\n"
"       cli-proxy-api [--config FILE] --setup-droid | --setup-claude\n"
"                     [--dry-run]\n"
"       cli-proxy-api --version | --help\n"
"\n"
"Lets AI coding CLIs (droid, Claude Code, Anthropic and OpenAI SDKs) use a\n"
"Claude or ChatGPT subscription: relays their requests to the provider with\n"
"the account's credential swapped in.\n"
"\n"
"  --config FILE  config.yaml to read (default: ~/.config/cli-proxy-api/\n"
"                 config.yaml, then /etc/cli-proxy-api/config.yaml, then\n"
"                 built-in defaults)\n"
"  --inetd        filter mode: one client connection on stdin/stdout\n"
"                 (the default when stdin is a socket, pipe or file)\n"
"  --serve        listen on host:port and fork a filter per connection\n"
"                 (the default when stdin is a terminal or /dev/null)\n"
"  --status       one line per account: expiry, cooldown, needs-login,\n"
"                 plan, limit windows (due figures asked first, 2 s)\n"
"  --refresh      refresh every account that is due now, fetch the\n"
"                 providers' model catalogs and due figures, then exit\n"
"  --usage        totals from auth-dir/usage.jsonl by day, account, model\n"
"  --claude-login log in to a Claude Pro/Max account (OAuth, PKCE) and\n"
"                 save auth-dir/claude-EMAIL.json\n"
"  --codex-login  log in to a ChatGPT account for Codex; saves\n"
"                 auth-dir/codex-EMAIL.json\n"
"  --no-browser   print the login URL without opening a browser; on a\n"
"                 remote machine paste the URL the browser ends on\n"
"  --oauth-callback-port N  port of the login's callback on 127.0.0.1\n"
"                 (default 54545 for Claude, 1455 for Codex)\n"
"  --sandbox-check apply the filter's sandbox, try what it must forbid\n"
"                 and what it must allow, one line each; exit 118 when\n"
"                 a forbidden attempt went through or an allowed failed\n"
"  --doctor       check config, accounts, port, socket unit, upstreams\n"
"                 (DNS, TCP, TLS) and droid's settings, one line each\n"
"                 with the fix; exit 116 when a check FAILs\n"
"  --setup-droid  add the models served now, for the providers that have\n"
"                 an account, to ~/.factory/settings.json (backup in .bak)\n"
"  --statusline   Claude Code's status line: read its JSON on stdin, print\n"
"                 the account serving the session and its limits\n"
"  --setup-claude point Claude Code at this proxy in ~/.claude/settings.json\n"
"                 (env ANTHROPIC_BASE_URL, the status line; backup in .bak)\n"
"  --dry-run      with --setup-droid or --setup-claude: print the result,\n"
"                 write nothing\n"
"  --version      print the version\n"
"  --help         print this\n"
"\n"
"exit codes: 0 ok, 100 usage, 101 malformed client request, 102 client\n"
"timed out, 111 system call failed, 112 config error, 113 TLS setup error,\n"
"114 an account could not be refreshed (--refresh), 115 login failed or\n"
"timed out, 116 a --doctor check failed, 117 --setup-droid or\n"
"--setup-claude refused (settings.json is not JSON, or no usable account),\n"
"118 --sandbox-check found the sandbox wrong or missing\n";

/* Filter when stdin is a connection, a pipe or a file; serve when it is a
 * terminal or /dev/null (how `nohup cli-proxy-api &` starts it). */
static int
stdin_is_stream(void)
{
	struct stat st;

	if (fstat(0, &st) == -1)
		return 0;
	return S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) ||
	    S_ISREG(st.st_mode);
}

/* Under inetd, stderr may be the client's socket too: log elsewhere. */
static int
stderr_is_client(void)
{
	struct stat a, b;

	if (fstat(0, &a) == -1 || fstat(2, &b) == -1)
		return 0;
	return S_ISSOCK(a.st_mode) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/* Started with fd 0, 1 or 2 closed, the first file or socket opened
 * would take its number: a log line would go into an upstream's TLS
 * stream or a login's browser page. /dev/null holds the place. */
static void
std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* What the command line asked for. */
struct args {
	const char *config_path;
	int mode;               /* a mode's option; 0: by what stdin is */
	int dry_run;
	struct login_opts lo;
};

/* Each mode, run on the loaded config; returns an exit code. */
static int
run_filter(struct config *cfg, struct args *a)
{
	/* auth-dir watched while inotify may be set up; locked down before
	 * the first byte from the client. */
	(void)store_watch(cfg);
	return sandbox_apply(cfg) == -1 ? EXIT_SYS : filter_run(cfg, 0, 1);
}

static int
run_serve(struct config *cfg, struct args *a)
{
	return serve_run(cfg);
}

/* Figures older than usage-refresh are asked of the usage endpoints
 * first, 2 s at most for all: past that, what is kept is shown, aged. */
static int
run_status(struct config *cfg, struct args *a)
{
	(void)figures_fetch(cfg, NULL, FIGURES_DUE, 2000);
	return view_print(cfg, stdout) == 0 ? EXIT_OK : EXIT_SYS;
}

/* Tokens first (a catalog is asked with one), then the model catalogs
 * of the providers that have an account; a catalog that cannot be had
 * is said, and is no failure: the kept or built-in list still serves. */
static int
run_refresh(struct config *cfg, struct args *a)
{
	static const char *const prov[] = { "claude", "codex" };
	int rc = refresh_all(cfg, stdout) == 0 ? EXIT_OK : EXIT_ACCOUNTS;
	char err[1200];
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!view_has_usable(cfg, prov[i]))
			continue;
		if (catalog_fetch(cfg, prov[i], cfg->token_timeout * 1000, 1,
		    err, sizeof err) == 0)
			printf("%s models: %zu in the catalog\n", prov[i],
			    catalog_kept(cfg, prov[i])->n);
		else
			printf("%s models: the catalog could not be fetched: "
			    "%s (the %s list serves)\n", prov[i], err,
			    catalog_kept(cfg, prov[i])->n ? "kept" :
			    "built-in");
	}
	(void)figures_fetch(cfg, NULL, FIGURES_DUE, cfg->token_timeout * 1000);
	return rc;
}

static int
run_usage(struct config *cfg, struct args *a)
{
	return usage_report(cfg, stdout) == 0 ? EXIT_OK : EXIT_SYS;
}

static int
run_login(struct config *cfg, struct args *a)
{
	a->lo.provider = a->mode == OPT_CODEX_LOGIN ? LOGIN_CODEX :
	    LOGIN_CLAUDE;
	a->lo.config_path = a->config_path;
	return login_run(cfg, &a->lo);
}

static int
run_sandbox_check(struct config *cfg, struct args *a)
{
	return sandbox_check(cfg, stdout) == 0 ? EXIT_OK : EXIT_SANDBOX;
}

static int
run_setup_droid(struct config *cfg, struct args *a)
{
	return droid_setup(cfg, a->dry_run, stdout);
}

static int
run_setup_claude(struct config *cfg, struct args *a)
{
	return claudecode_setup(cfg, a->dry_run, stdout);
}

/* as_owner: run as root on another user's auth-dir (a system
 * service's), the mode takes on that user first (owner.h). The set-ups
 * write the running user's own settings, and --serve may bind a port
 * only root can: they run as started. */
static const struct mode {
	int opt;
	int (*run)(struct config *, struct args *);
	int as_owner;
} modes[] = {
	{ 'i', run_filter, 1 },
	{ 's', run_serve, 0 },
	{ 'S', run_status, 1 },
	{ 'R', run_refresh, 1 },
	{ 'U', run_usage, 1 },
	{ OPT_CLAUDE_LOGIN, run_login, 1 },
	{ OPT_CODEX_LOGIN, run_login, 1 },
	{ OPT_SANDBOX_CHECK, run_sandbox_check, 0 },
	{ OPT_SETUP_DROID, run_setup_droid, 0 },
	{ OPT_SETUP_CLAUDE, run_setup_claude, 0 },
	{ OPT_DOCTOR, NULL, 0 },   /* runs before the config is loaded */
	{ OPT_STATUSLINE, NULL, 0 }, /* so does this */
};

static const struct option opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "inetd", no_argument, NULL, 'i' },
	{ "serve", no_argument, NULL, 's' },
	{ "status", no_argument, NULL, 'S' },
	{ "refresh", no_argument, NULL, 'R' },
	{ "usage", no_argument, NULL, 'U' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "claude-login", no_argument, NULL, OPT_CLAUDE_LOGIN },
	{ "codex-login", no_argument, NULL, OPT_CODEX_LOGIN },
	{ "no-browser", no_argument, NULL, OPT_NO_BROWSER },
	{ "oauth-callback-port", required_argument, NULL, OPT_CB_PORT },
	{ "sandbox-check", no_argument, NULL, OPT_SANDBOX_CHECK },
	{ "doctor", no_argument, NULL, OPT_DOCTOR },
	{ "setup-droid", no_argument, NULL, OPT_SETUP_DROID },
	{ "setup-claude", no_argument, NULL, OPT_SETUP_CLAUDE },
	{ "statusline", no_argument, NULL, OPT_STATUSLINE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ NULL, 0, NULL, 0 }
};

static const struct mode *
mode_of(int opt)
{
	size_t i;

	for (i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (modes[i].opt == opt)
			return &modes[i];
	return NULL;
}

/* One option into a. 0 to go on, else the exit code to end with (-1:
 * EXIT_OK after --help or --version). */
static int
option(int ch, struct args *a)
{
	char *end;
	long v;

	if (mode_of(ch)) {
		if (a->mode && a->mode != ch) {
			fprintf(stderr, "cli-proxy-api: choose one of "
			    "--inetd, --serve, --status, --refresh, "
			    "--claude-login, --codex-login, "
			    "--sandbox-check, --doctor, --setup-droid, "
			    "--setup-claude, --statusline\n");
			return EXIT_USAGE;
		}
		a->mode = ch;
		return 0;
	}
	switch (ch) {
	case 'c':
		a->config_path = optarg;
		return 0;
	case OPT_DRY_RUN:
		a->dry_run = 1;
		return 0;
	case OPT_NO_BROWSER:
		a->lo.no_browser = 1;
		return 0;
	case OPT_CB_PORT:
		v = strtol(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || v < 1 || v > 65535) {
			fprintf(stderr, "cli-proxy-api: --oauth-callback-port "
			    "wants a port number (1 to 65535), not '%s'\n",
			    optarg);
			return EXIT_USAGE;
		}
		a->lo.port = (int)v;
		return 0;
	case 'V':
		printf("cli-proxy-api %s\n", VERSION);
		return -1;
	case 'h':
		fputs(usage_text, stdout);
		return -1;
	default:
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
}

/* The command line into a. 0, or the exit code to end with (as option). */
static int
parse_args(int argc, char **argv, struct args *a)
{
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:ishV", opts, NULL)) != -1)
		if ((rc = option(ch, a)) != 0)
			return rc;
	if (optind < argc) {
		fprintf(stderr, "cli-proxy-api: unexpected argument '%s'\n%s",
		    argv[optind], usage_text);
		return EXIT_USAGE;
	}
	if ((a->lo.no_browser || a->lo.port) && a->mode != OPT_CLAUDE_LOGIN &&
	    a->mode != OPT_CODEX_LOGIN) {
		fprintf(stderr, "cli-proxy-api: --no-browser and "
		    "--oauth-callback-port go with --claude-login or "
		    "--codex-login\n");
		return EXIT_USAGE;
	}
	if (a->dry_run && a->mode != OPT_SETUP_DROID &&
	    a->mode != OPT_SETUP_CLAUDE) {
		fprintf(stderr, "cli-proxy-api: --dry-run goes with "
		    "--setup-droid or --setup-claude\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* The config, and where the log goes. 0, or EXIT_CONFIG. */
static int
setup(struct config *cfg, const struct args *a)
{
	char err[1024], dir[4096] = "logs";
	int to_syslog = a->mode == 'i' && stderr_is_client();

	log_init(0, to_syslog);
	if (config_load(a->config_path, cfg, err, sizeof err) == -1) {
		log_err("%s", err);
		return EXIT_CONFIG;
	}
	log_init(cfg->debug, to_syslog);
	if (cfg->logging_to_file && (log_dir(cfg->path, cfg->auth_dir, dir,
	    sizeof dir) == -1 || log_open_file(dir, cfg->log_max) == -1))
		log_warn("logging-to-file: cannot write %s/cli-proxy-api.log: "
		    "%s; logging to stderr only", dir, strerror(errno));
	/* A client or upstream that goes away shows up as EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Root on a service's auth-dir: that user's ids for good, said once
 * by a command (a filter's every connection would repeat it). */
static int
as_owner(const struct config *cfg, const struct args *a)
{
	char who[256];
	int r = owner_become(cfg->auth_dir, 0, who, sizeof who);

	if (r == -1) {
		log_err("cannot act as the owner of auth-dir %s: %s (run it as "
		    "that user: sudo -u OWNER cli-proxy-api ...)", cfg->auth_dir,
		    strerror(errno));
		return EXIT_SYS;
	}
	if (r == 1 && a->mode != 'i')
		log_info("running as %s, the owner of auth-dir %s: the files "
		    "written there stay theirs", who, cfg->auth_dir);
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct config cfg;
	int rc;

	std_fds();
	memset(&a, 0, sizeof a);
	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc == -1 ? EXIT_OK : rc;
	/* The doctor reports a broken config instead of dying of it. */
	if (a.mode == OPT_DOCTOR) {
		log_init(0, 0);
		signal(SIGPIPE, SIG_IGN);
		return doctor_run(a.config_path, stdout);
	}
	/* Claude Code must always get a line: a config this user cannot
	 * read (a system service's) leaves the defaults. */
	if (a.mode == OPT_STATUSLINE) {
		log_init(0, 0);
		if (config_load(a.config_path, &cfg, NULL, 0) == -1 &&
		    config_defaults(&cfg) == -1)
			return statusline_run(NULL, 0, stdout);
		rc = statusline_run(&cfg, 0, stdout);
		config_free(&cfg);
		return rc;
	}
	if (a.mode == 0)
		a.mode = stdin_is_stream() ? 'i' : 's';
	if ((rc = setup(&cfg, &a)) != 0)
		return rc;
	if (mode_of(a.mode)->as_owner && (rc = as_owner(&cfg, &a)) != 0) {
		config_free(&cfg);
		return rc;
	}
	rc = mode_of(a.mode)->run(&cfg, &a);
	config_free(&cfg);
	return rc;
}
