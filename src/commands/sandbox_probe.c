/*
 * The attempts of --sandbox-check: each tries one thing a filter must not
 * do, or must be able to do, in a child already under the sandbox (or,
 * for a control, not). The exit status of that child is what it returns:
 * 0 when the attempt went through, else the errno that stopped it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/netlink.h>

#include "commands/sandbox_int.h"

static int
try_read(const char *path)
{
	char c;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return errno;
	if (read(fd, &c, 1) == -1)
		return errno;
	return 0;
}

static int
try_opendir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) == -1 ? errno :
	    0;
}

/* Create, write, rename, remove: what an atomic replace does. */
static int
try_write(const char *path)
{
	char tmp[4200], dst[4300];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(dst, sizeof dst, "%s", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return errno;
	if (write(fd, "probe\n", 6) != 6 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, dst) == -1) {
		int e = errno;

		unlink(tmp);
		return e;
	}
	return unlink(dst) == -1 ? errno : 0;
}

static int
try_exec(const char *path)
{
	static char sh[] = "sh", dash_c[] = "-c", script[] = "exit 0";
	char *const argv[] = { sh, dash_c, script, NULL };
	char *const envp[] = { NULL };

	execve(path, argv, envp);
	return errno;
}

void
sandbox_loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)port);
}

static int
try_bind(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	sandbox_loopback(&sa, port);
	return bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ? errno : 0;
}

/* The kernel let the connection be tried: refused counts as allowed. */
static int
try_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	sandbox_loopback(&sa, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
	    errno != ECONNREFUSED)
		return errno;
	return 0;
}

static int
try_resolve(const char *name)
{
	struct addrinfo hints, *res;
	int r;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(name, "443", &hints, &res)) != 0)
		return r == EAI_SYSTEM && errno ? errno : ENOENT;
	freeaddrinfo(res);
	return 0;
}

/*
 * A name only a nameserver can answer: an answer, the name found or not,
 * is a query that went there and back. One try of two seconds, so that
 * a nameserver that does not answer fails the check soon. The sandbox
 * set up the resolver (over TCP) already: res_init again would undo it.
 */
static int
try_dns(const char *name)
{
	struct addrinfo hints, *res;
	int r;

	if ((_res.options & RES_INIT) || res_init() == 0) {
		_res.retrans = 2;
		_res.retry = 1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(name, "443", &hints, &res);
	if (r == 0)
		freeaddrinfo(res);
	if (r == 0 || r == EAI_NONAME || r == EAI_NODATA)
		return 0;
	return r == EAI_SYSTEM && errno ? errno : r == EAI_AGAIN ?
	    ETIMEDOUT : EHOSTUNREACH;
}

/* A Unix stream socket, as D-Bus, ssh-agent or docker.sock listen on. */
static int
try_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	return connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ? errno :
	    0;
}

static int
try_udp(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	sandbox_loopback(&sa, port);
	return sendto(fd, "probe", 5, 0, (struct sockaddr *)&sa, sizeof sa) ==
	    -1 ? errno : 0;
}

/* Any of these made is a way past the TCP port rules. Not root, the
 * kernel refuses the first three by itself; netlink it does not. */
static int
try_raw(void)
{
	const int kinds[][3] = {
		{ AF_INET, SOCK_RAW, IPPROTO_ICMP },
		{ AF_INET6, SOCK_RAW, IPPROTO_ICMPV6 },
		{ AF_PACKET, SOCK_RAW, htons(ETH_P_ALL) },
		{ AF_NETLINK, SOCK_RAW, NETLINK_ROUTE },
	};
	size_t i;
	int e = 0;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (socket(kinds[i][0], kinds[i][1] | SOCK_CLOEXEC,
		    kinds[i][2]) != -1)
			return 0;
		e = errno;
	}
	return e;
}

static int
try_map_wx(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? errno : 0;
}

/* A page mapped writable and written (a "ret"), then given prot. */
static int
try_reprotect(int prot)
{
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return errno;
	m[0] = (char)0xc3;
	return mprotect(m, 4096, prot) == -1 ? errno : 0;
}

int
sandbox_try(int what, const char *path, int port)
{
	switch (what) {
	case SB_TRY_READ:
		return try_read(path);
	case SB_TRY_OPENDIR:
		return try_opendir(path);
	case SB_TRY_WRITE:
		return try_write(path);
	case SB_TRY_EXEC:
		return try_exec(path);
	case SB_TRY_BIND:
		return try_bind(port);
	case SB_TRY_CONNECT:
		return try_connect(port);
	case SB_TRY_RESOLVE:
		return try_resolve(path);
	case SB_TRY_DNS:
		return try_dns(path);
	case SB_TRY_UNIX:
		return try_unix(path);
	case SB_TRY_UDP:
		return try_udp(port);
	case SB_TRY_RAW:
		return try_raw();
	case SB_TRY_MAP_WX:
		return try_map_wx();
	case SB_TRY_PROTECT_WX:
		return try_reprotect(PROT_READ | PROT_WRITE | PROT_EXEC);
	case SB_TRY_EXEC_GAIN:
		return try_reprotect(PROT_READ | PROT_EXEC);
	}
	return EINVAL;
}
