/*
 * What every connection will need whatever it brings, done ahead: by
 * --serve's spare while it waits for its connection (prefork.c), so a new
 * connection does not wait for it. The auth-dir files are read and kept
 * (the accounts layer re-reads any that change before they are used), the
 * trust anchors loaded, and the resolver's configuration read.
 */
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "accounts/store.h"
#include "connection/warm.h"
#include "network/trust.h"
#include "support/stamp.h"

/* Trust anchors loaded ahead by warm_prepare, and ca-file's identity
 * before they were. */
static struct trust ready_ta;
static struct stamp ready_ta_id;
static int ready;

int
warm_trust(const struct config *cfg, struct trust *out)
{
	if (!ready)
		return 0;
	ready = 0;
	ready_ta_id.look = 0;   /* stat it now, whatever was asked before */
	if (!stamp_check(&ready_ta_id, cfg->ca_file, 1)) {
		trust_free(&ready_ta);
		return 0;
	}
	*out = ready_ta;
	memset(&ready_ta, 0, sizeof ready_ta);
	return 1;
}

void
warm_prepare(const struct config *cfg)
{
	struct addrinfo hints, *res;
	struct stat st;
	char err[512];

	store_warm(cfg);
	/* A system bundle's anchors are some 100 KiB to read. */
	if (stat(cfg->ca_file, &st) == 0 && trust_load_cached(&ready_ta,
	    cfg->ca_file, cfg->auth_dir, err, sizeof err) == 0) {
		stamp_take(&ready_ta_id, &st);
		ready = 1;
	}
	/* glibc reads nsswitch.conf, host.conf and resolv.conf at the first
	 * lookup; "localhost" is answered from /etc/hosts, with no query on
	 * the network. */
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo("localhost", "443", &hints, &res) == 0)
		freeaddrinfo(res);
}
