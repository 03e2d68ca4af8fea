/*
 * cli-proxy-api: arguments, mode, exit codes. Everything else lives in the
 * modules named after what they do.
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

#include "config.h"
#include "doctor.h"
#include "droid.h"
#include "filter.h"
#include "log.h"
#include "login.h"
#include "refresh.h"
#include "sandbox.h"
#include "serve.h"
#include "store.h"
#include "usage.h"
#include "version.h"
#include "view.h"


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
	OPT_DRY_RUN
};

static const char usage_text[] =
"usage: cli-proxy-api [--config FILE] [--inetd | --serve]\n"
"       cli-proxy-api [--config FILE] --status | --refresh | --usage\n"
"       cli-proxy-api [--config FILE] --claude-login | --codex-login\n"
"                     [--no-browser] [--oauth-callback-port N]\n"
"       cli-proxy-api [--config FILE] --sandbox-check\n"
"       cli-proxy-api [--config FILE] --doctor | --setup-droid [--dry-run]\n"
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
"  --status       one line per account: expiry, cooldown, needs-login\n"
"  --refresh      refresh every account that is due now, then exit\n"
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
"  --setup-droid  add this proxy's models for the providers that have an\n"
"                 account to ~/.factory/settings.json (backup in .bak)\n"
"  --dry-run      with --setup-droid: print the result, write nothing\n"
"  --version      print the version\n"
"  --help         print this\n"
"\n"
"exit codes: 0 ok, 100 usage, 101 malformed client request, 102 client\n"
"timed out, 111 system call failed, 112 config error, 113 TLS setup error,\n"
"114 an account could not be refreshed (--refresh), 115 login failed or\n"
"timed out, 116 a --doctor check failed, 117 --setup-droid refused\n"
"(settings.json is not JSON, or no usable account), 118 --sandbox-check\n"
"found the sandbox wrong or missing\n";

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

int
main(int argc, char **argv)
{
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
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ NULL, 0, NULL, 0 }
	};
	struct config cfg;
	const char *config_path = NULL;
	char err[1024];
	struct login_opts lo = { 0 };
	char *end;
	long v;
	int ch, mode = 0, rc, dry_run = 0;

	std_fds();
	while ((ch = getopt_long(argc, argv, "c:ishV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'i':
		case 's':
		case 'S':
		case 'R':
		case 'U':
		case OPT_CLAUDE_LOGIN:
		case OPT_CODEX_LOGIN:
		case OPT_SANDBOX_CHECK:
		case OPT_DOCTOR:
		case OPT_SETUP_DROID:
			if (mode && mode != ch) {
				fprintf(stderr, "cli-proxy-api: choose one of "
				    "--inetd, --serve, --status, --refresh, "
				    "--claude-login, --codex-login, "
				    "--sandbox-check, --doctor, --setup-droid\n");
				return EXIT_USAGE;
			}
			mode = ch;
			break;
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case OPT_NO_BROWSER:
			lo.no_browser = 1;
			break;
		case OPT_CB_PORT:
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    v > 65535) {
				fprintf(stderr, "cli-proxy-api: "
				    "--oauth-callback-port wants a port "
				    "number (1 to 65535), not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			lo.port = (int)v;
			break;
		case 'V':
			printf("cli-proxy-api %s\n", VERSION);
			return EXIT_OK;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cli-proxy-api: unexpected argument '%s'\n%s",
		    argv[optind], usage_text);
		return EXIT_USAGE;
	}
	if ((lo.no_browser || lo.port) && mode != OPT_CLAUDE_LOGIN &&
	    mode != OPT_CODEX_LOGIN) {
		fprintf(stderr, "cli-proxy-api: --no-browser and "
		    "--oauth-callback-port go with --claude-login or "
		    "--codex-login\n");
		return EXIT_USAGE;
	}
	if (dry_run && mode != OPT_SETUP_DROID) {
		fprintf(stderr, "cli-proxy-api: --dry-run goes with "
		    "--setup-droid\n");
		return EXIT_USAGE;
	}
	/* The doctor reports a broken config instead of dying of it. */
	if (mode == OPT_DOCTOR) {
		log_init(0, 0);
		signal(SIGPIPE, SIG_IGN);
		return doctor_run(config_path, stdout);
	}
	if (mode == 0)
		mode = stdin_is_stream() ? 'i' : 's';
	log_init(0, mode == 'i' && stderr_is_client());
	if (config_load(config_path, &cfg, err, sizeof err) == -1) {
		log_err("%s", err);
		return EXIT_CONFIG;
	}
	log_init(cfg.debug, mode == 'i' && stderr_is_client());
	if (cfg.logging_to_file) {
		char dir[4096] = "logs";

		if (log_dir(cfg.path, cfg.auth_dir, dir, sizeof dir) == -1 ||
		    log_open_file(dir, cfg.log_max) == -1)
			log_warn("logging-to-file: cannot write %s/"
			    "cli-proxy-api.log: %s; logging to stderr only",
			    dir, strerror(errno));
	}
	/* A client or upstream that goes away shows up as EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	switch (mode) {
	case 'i':
		/* Locked down before the first byte from the client. */
		rc = sandbox_apply(&cfg) == -1 ? EXIT_SYS :
		    filter_run(&cfg, 0, 1);
		break;
	case OPT_SANDBOX_CHECK:
		rc = sandbox_check(&cfg, stdout) == 0 ? EXIT_OK : EXIT_SANDBOX;
		break;
	case OPT_SETUP_DROID:
		rc = droid_setup(&cfg, dry_run, stdout);
		break;
	case 'S':
		rc = view_print(&cfg, stdout) == 0 ? EXIT_OK : EXIT_SYS;
		break;
	case 'U':
		rc = usage_report(&cfg, stdout) == 0 ? EXIT_OK : EXIT_SYS;
		break;
	case 'R':
		rc = refresh_all(&cfg, stdout) == 0 ? EXIT_OK :
		    EXIT_ACCOUNTS;
		break;
	case OPT_CLAUDE_LOGIN:
	case OPT_CODEX_LOGIN:
		lo.provider = mode == OPT_CODEX_LOGIN ? LOGIN_CODEX :
		    LOGIN_CLAUDE;
		lo.config_path = config_path;
		rc = login_run(&cfg, &lo);
		break;
	default:
		rc = serve_run(&cfg);
	}
	config_free(&cfg);
	return rc;
}
