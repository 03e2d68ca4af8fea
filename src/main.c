/*
 * cli-proxy-api: arguments, mode, exit codes. Everything else lives in the
 * modules named after what they do.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "filter.h"
#include "log.h"
#include "serve.h"
#include "store.h"
#include "version.h"


static const char usage_text[] =
"usage: cli-proxy-api [--config FILE] [--inetd | --serve]\n"
"       cli-proxy-api [--config FILE] --status | --refresh\n"
"       cli-proxy-api --version | --help\n"
"\n"
"Relays Anthropic API requests from local clients (droid, Claude Code, SDKs)\n"
"to the provider with the account's credential swapped in.\n"
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
"  --version      print the version\n"
"  --help         print this\n"
"\n"
"exit codes: 0 ok, 100 usage, 101 malformed client request, 102 client\n"
"timed out, 111 system call failed, 112 config error, 113 TLS setup error,\n"
"114 an account could not be refreshed (--refresh)\n";

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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "inetd", no_argument, NULL, 'i' },
		{ "serve", no_argument, NULL, 's' },
		{ "status", no_argument, NULL, 'S' },
		{ "refresh", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config cfg;
	const char *config_path = NULL;
	char err[1024];
	int ch, mode = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:ishV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'i':
		case 's':
		case 'S':
		case 'R':
			if (mode && mode != ch) {
				fprintf(stderr, "cli-proxy-api: choose one of "
				    "--inetd, --serve, --status, --refresh\n");
				return EXIT_USAGE;
			}
			mode = ch;
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
	if (mode == 0)
		mode = stdin_is_stream() ? 'i' : 's';
	log_init(0, mode == 'i' && stderr_is_client());
	if (config_load(config_path, &cfg, err, sizeof err) == -1) {
		log_err("%s", err);
		return EXIT_CONFIG;
	}
	log_init(cfg.debug, mode == 'i' && stderr_is_client());
	/* A client or upstream that goes away shows up as EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	switch (mode) {
	case 'i':
		rc = filter_run(&cfg, 0, 1);
		break;
	case 'S':
		rc = store_status(&cfg, stdout) == 0 ? EXIT_OK : EXIT_SYS;
		break;
	case 'R':
		rc = store_refresh_all(&cfg, stdout) == 0 ? EXIT_OK :
		    EXIT_ACCOUNTS;
		break;
	default:
		rc = serve_run(&cfg);
	}
	config_free(&cfg);
	return rc;
}
