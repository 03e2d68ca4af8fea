/*
 * Unit tests for trust.c and trustcache.c. Certificates are made at test
 * time with the openssl CLI in a temp directory; each anchor is then
 * checked by letting BearSSL validate the certificate it came from.
 *
 * The fast PEM reader is checked against BearSSL's decoder by giving a
 * file a line that makes the reader give up ("x -----"), so the same
 * certificates then go through br_pem_decoder. The cache is checked by
 * comparing every field of hit and miss, by changing the ca-file under
 * it, and by damaging it: truncation, bad lengths, random byte flips,
 * with and without a valid checksum (resealed, so that the length checks
 * behind the checksum are reached too). Run it under ASan too.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "network/trust.h"
#include "network/trustcache.h"
#include "unit.h"

static char dir[64];

static const char *
tmppath(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A shell command, printf-style; 0 when it succeeded. */
static int
run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The whole of a file into *len bytes of malloc'd memory. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	unsigned char *p = NULL;
	FILE *fp;
	long n;

	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
	    fread(p, 1, (size_t)n, fp) == (size_t)n)
		*len = (size_t)n;
	fclose(fp);
	return p;
}

static void
append(FILE *out, const char *path, int keep_final_newline)
{
	unsigned char *p;
	size_t n;

	p = slurp(path, &n);
	if (p == NULL)
		return;
	if (!keep_final_newline && n > 0 && p[n - 1] == '\n')
		n--;
	fwrite(p, 1, n, out);
	free(p);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
}

/* Does BearSSL accept the DER certificate at path as a chain of one? */
static int
validates(const struct trust *s, const char *path)
{
	br_x509_minimal_context xc;
	const br_x509_class **vt = &xc.vtable;
	unsigned char *der;
	size_t len;
	unsigned err;

	if ((der = slurp(path, &len)) == NULL)
		return 0;
	br_x509_minimal_init_full(&xc, s->ta, s->n);
	(*vt)->start_chain(vt, NULL);
	(*vt)->start_cert(vt, (uint32_t)len);
	(*vt)->append(vt, der, len);
	(*vt)->end_cert(vt);
	err = (*vt)->end_chain(vt);
	free(der);
	if (err != 0)
		printf("# %s: BearSSL error %u\n", path, err);
	return err == 0;
}

#define REQ	"openssl req -x509 -nodes -days 2 -subj /CN=%s -newkey %s " \
		"-keyout %s.key -out %s.pem 2>/dev/null"
#define DER	"openssl x509 -in %s.pem -outform DER -out %s.der"

static int
make_certs(void)
{
	const char *rsa = tmppath("rsa"), *ec = tmppath("ec");
	FILE *fp;

	if (run(REQ, "ta-test-rsa", "rsa:2048", rsa, rsa) != 0 ||
	    run(REQ, "ta-test-ec", "ec -pkeyopt ec_paramgen_curve:prime256v1",
	    ec, ec) != 0 || run(DER, rsa, rsa) != 0 || run(DER, ec, ec) != 0)
		return -1;

	/* Junk, a certificate, a private key, a certificate with no final
	 * newline: only the two certificates count. */
	if ((fp = fopen(tmppath("bundle.pem"), "w")) == NULL)
		return -1;
	fputs("This bundle starts with some text.\n\n", fp);
	append(fp, tmppath("rsa.pem"), 1);
	fputs("# a comment between objects\n", fp);
	append(fp, tmppath("ec.key"), 1);
	append(fp, tmppath("ec.pem"), 0);
	fclose(fp);
	return 0;
}

static void
test_bundle(void)
{
	struct trust s;
	char err[512] = "";
	int rc;

	rc = trust_load(&s, tmppath("bundle.pem"), err, sizeof err);
	CHECK("bundle: loads", rc == 0);
	if (rc != 0) {
		printf("# %s\n", err);
		return;
	}
	CHECK("bundle: two anchors", s.n == 2);
	if (s.n != 2)
		goto done;
	CHECK("bundle: first is RSA",
	    s.ta[0].pkey.key_type == BR_KEYTYPE_RSA);
	CHECK("bundle: RSA modulus 2048 bits",
	    s.ta[0].pkey.key.rsa.nlen >= 256 &&
	    s.ta[0].pkey.key.rsa.nlen <= 257);
	CHECK("bundle: RSA exponent 65537", s.ta[0].pkey.key.rsa.elen == 3 &&
	    memcmp(s.ta[0].pkey.key.rsa.e, "\x01\x00\x01", 3) == 0);
	CHECK("bundle: second is EC", s.ta[1].pkey.key_type == BR_KEYTYPE_EC);
	CHECK("bundle: EC curve P-256",
	    s.ta[1].pkey.key.ec.curve == BR_EC_secp256r1 &&
	    s.ta[1].pkey.key.ec.qlen == 65);
	CHECK("bundle: CA flags", (s.ta[0].flags & BR_X509_TA_CA) &&
	    (s.ta[1].flags & BR_X509_TA_CA));
	CHECK("bundle: DNs", s.ta[0].dn.len > 0 && s.ta[1].dn.len > 0 &&
	    memmem(s.ta[0].dn.data, s.ta[0].dn.len, "ta-test-rsa", 11) &&
	    memmem(s.ta[1].dn.data, s.ta[1].dn.len, "ta-test-ec", 10));
	CHECK("bundle: RSA cert validates", validates(&s, tmppath("rsa.der")));
	CHECK("bundle: EC cert validates", validates(&s, tmppath("ec.der")));
done:
	trust_free(&s);
	CHECK("trust_free: empty", s.ta == NULL && s.n == 0);
}

static void
test_errors(void)
{
	struct trust s;
	char err[512], want[300];
	int rc;

	err[0] = '\0';
	rc = trust_load(&s, tmppath("missing.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: cannot read: No such file "
	    "or directory", tmppath("missing.pem"));
	CHECK("missing file: error", rc == -1 && s.ta == NULL && s.n == 0);
	CHECK_STR("missing file: message", err, want);

	write_file(tmppath("empty.pem"), "no certificates here\n");
	err[0] = '\0';
	rc = trust_load(&s, tmppath("empty.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: no certificate found in it",
	    tmppath("empty.pem"));
	CHECK("no certificate: error", rc == -1 && s.ta == NULL);
	CHECK_STR("no certificate: message", err, want);

	/* Only a private key: a PEM object, but not a certificate. */
	err[0] = '\0';
	rc = trust_load(&s, tmppath("ec.key"), err, sizeof err);
	CHECK("key only: error", rc == -1 &&
	    strstr(err, "no certificate found") != NULL);

	/* Well-formed base64 that is not a certificate, after a good one. */
	if (run("cp %s %s", tmppath("rsa.pem"), tmppath("junk.pem")) == 0) {
		FILE *fp = fopen(tmppath("junk.pem"), "a");

		if (fp != NULL) {
			fputs("-----BEGIN CERTIFICATE-----\n"
			    "aGVsbG8gd29ybGQ=\n"
			    "-----END CERTIFICATE-----\n", fp);
			fclose(fp);
		}
	}
	err[0] = '\0';
	rc = trust_load(&s, tmppath("junk.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: certificate 2 cannot be "
	    "decoded", tmppath("junk.pem"));
	CHECK("bad certificate: error", rc == -1 && s.ta == NULL &&
	    s.n == 0);
	CHECK_STR("bad certificate: message", err, want);

	/* A directory is not a bundle. */
	err[0] = '\0';
	rc = trust_load(&s, dir, err, sizeof err);
	CHECK("directory: error", rc == -1 &&
	    strstr(err, "cannot read: Is a directory") != NULL);
}

static void
test_system(void)
{
	const char *path = "/etc/ssl/certs/ca-certificates.crt";
	struct trust s;
	char err[512] = "";
	int rc;

	if (access(path, R_OK) != 0) {
		printf("ok - system bundle: skipped, no %s\n", path);
		return;
	}
	rc = trust_load(&s, path, err, sizeof err);
	CHECK("system bundle: loads", rc == 0);
	if (rc != 0) {
		printf("# %s\n", err);
		return;
	}
	CHECK("system bundle: more than 50 anchors", s.n > 50);
	trust_free(&s);
}

/* ------------------------------------------------ fast reader, cache */

static int
same_anchor(const br_x509_trust_anchor *a, const br_x509_trust_anchor *b)
{
	const br_x509_pkey *p = &a->pkey, *q = &b->pkey;

	if (a->flags != b->flags || a->dn.len != b->dn.len ||
	    memcmp(a->dn.data, b->dn.data, a->dn.len) != 0 ||
	    p->key_type != q->key_type)
		return 0;
	if (p->key_type == BR_KEYTYPE_RSA)
		return p->key.rsa.nlen == q->key.rsa.nlen &&
		    p->key.rsa.elen == q->key.rsa.elen &&
		    memcmp(p->key.rsa.n, q->key.rsa.n, p->key.rsa.nlen) == 0 &&
		    memcmp(p->key.rsa.e, q->key.rsa.e, p->key.rsa.elen) == 0;
	if (p->key_type == BR_KEYTYPE_EC)
		return p->key.ec.curve == q->key.ec.curve &&
		    p->key.ec.qlen == q->key.ec.qlen &&
		    memcmp(p->key.ec.q, q->key.ec.q, p->key.ec.qlen) == 0;
	return 0;
}

/* Every field of every anchor equal? (Reading every byte also lets ASan
 * check that a set's pointers stay inside its memory.) */
static int
same_set(const struct trust *a, const struct trust *b)
{
	size_t i;

	if (a->n != b->n) {
		printf("# %zu anchors, not %zu\n", a->n, b->n);
		return 0;
	}
	for (i = 0; i < a->n; i++)
		if (!same_anchor(&a->ta[i], &b->ta[i])) {
			printf("# anchor %zu differs\n", i);
			return 0;
		}
	return 1;
}

static int
write_bytes(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd, ok;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) == -1)
		return -1;
	ok = write(fd, p, n) == (ssize_t)n;
	close(fd);
	return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static void
reseal(unsigned char *img, size_t len)
{
	uint64_t h;

	if (len >= 8) {
		h = trustcache_sum(img, len - 8);
		memcpy(img + len - 8, &h, 8);
	}
}

/* Offsets in the image (see trustcache.c's layout). */
#define OFF_VERSION	8
#define OFF_PATHLEN	68
#define OFF_PATH	72
#define REC_FLAGS	0
#define REC_TYPE	4
#define REC_DNLEN	8
#define REC_A		12

static size_t
off_count(const unsigned char *img)
{
	uint32_t n;

	memcpy(&n, img + OFF_PATHLEN, 4);
	return OFF_PATH + n;
}

static void
poke32(unsigned char *img, size_t off, uint32_t v)
{
	memcpy(img + off, &v, 4);
}

static int
load_c(struct trust *s, const char *pem, const char *auth)
{
	char err[512] = "";
	int rc;

	rc = trust_load_cached(s, pem, auth, err, sizeof err);
	if (rc != 0)
		printf("# %s\n", err);
	return rc;
}

static int
load_ref(struct trust *s, const char *pem)
{
	char err[512] = "";
	int rc;

	if ((rc = trust_load(s, pem, err, sizeof err)) != 0)
		printf("# %s\n", err);
	return rc;
}

/* Bundles the fast reader must read as BearSSL does. */
static void
test_fast(void)
{
	static const struct {
		const char *name;
		enum trust_src src;
	} v[] = {
		{ "plain.pem", TRUST_SRC_FAST },
		{ "crlf.pem", TRUST_SRC_FAST },
		{ "wrap76.pem", TRUST_SRC_FAST },
		{ "wrap0.pem", TRUST_SRC_FAST },
		{ "space.pem", TRUST_SRC_PEM },	/* a space in base64 */
		{ "lower.pem", TRUST_SRC_PEM },	/* begin certificate */
		{ "bundle.pem", TRUST_SRC_PEM },	/* holds a private key */
	};
	struct trust ref, s;
	char name[128];
	size_t i;

	if (load_ref(&ref, tmppath("punt.pem")) != 0) {
		CHECK("fast: BearSSL reference loads", 0);
		return;
	}
	CHECK("fast: reference went through BearSSL",
	    ref.src == TRUST_SRC_PEM && ref.n == 2);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(name, sizeof name, "fast: %s: same anchors as "
		    "BearSSL's decoder", v[i].name);
		if (load_ref(&s, tmppath(v[i].name)) != 0) {
			CHECK(name, 0);
			continue;
		}
		CHECK(name, same_set(&s, &ref));
		snprintf(name, sizeof name, "fast: %s: read by %s", v[i].name,
		    v[i].src == TRUST_SRC_FAST ? "the fast reader" : "BearSSL");
		CHECK(name, s.src == v[i].src);
		trust_free(&s);
	}
	trust_free(&ref);

	/* BearSSL wants a quartet's four characters on one line: the fast
	 * reader must not accept more than BearSSL does. */
	{
		char err[512] = "", want[300];
		int rc;

		rc = trust_load(&s, tmppath("wrap30.pem"), err, sizeof err);
		snprintf(want, sizeof want, "ca-file %s: bad PEM data after "
		    "certificate 0", tmppath("wrap30.pem"));
		CHECK("fast: quartets across lines refused, as by BearSSL",
		    rc == -1 && s.ta == NULL && s.n == 0);
		CHECK_STR("fast: quartets across lines: message", err, want);
	}
}

/* A load through the cache in tmppath(auth) that must (not) be a hit and
 * give the anchors of ref. */
static void
expect(const char *what, const char *pem, const char *auth, int hit,
    const struct trust *ref)
{
	struct trust s;
	char name[160];

	snprintf(name, sizeof name, "cache: %s: %s, same anchors", what,
	    hit ? "hit" : "miss");
	if (load_c(&s, tmppath(pem), tmppath(auth)) != 0) {
		CHECK(name, 0);
		return;
	}
	CHECK(name, (s.src == TRUST_SRC_CACHE) == hit && (s.blk != NULL) == hit &&
	    same_set(&s, ref));
	trust_free(&s);
}

/* Files for the cache tests, made first: they must be RACY_SEC old
 * (mtime and ctime) before ta.c will cache them. */
static int
make_cache_files(void)
{
	static const char *const pems[] = {
		"cache.pem", "touch.pem", "chmod.pem", "inplace.pem",
		"renamed.pem",
	};
	static const char *const auths[] = {
		"auth", "auth-touch", "auth-chmod", "auth-inplace",
		"auth-renamed", "sys",
	};
	FILE *fp;
	size_t i;

	if ((fp = fopen(tmppath("plain.pem"), "w")) == NULL)
		return -1;
	fputs("Some text before.\n", fp);
	append(fp, tmppath("rsa.pem"), 1);
	fputs("# between\n", fp);
	append(fp, tmppath("ec.pem"), 0);
	fclose(fp);
	if ((fp = fopen(tmppath("swapped.pem"), "w")) == NULL)
		return -1;
	fputs("Some text before.\n", fp);
	append(fp, tmppath("ec.pem"), 1);
	fputs("# between\n", fp);
	append(fp, tmppath("rsa.pem"), 0);
	fclose(fp);
	for (i = 0; i < sizeof pems / sizeof pems[0]; i++)
		if (run("cp %s %s", tmppath("plain.pem"), tmppath(pems[i])))
			return -1;
	for (i = 0; i < sizeof auths / sizeof auths[0]; i++)
		if (mkdir(tmppath(auths[i]), 0700) == -1)
			return -1;
	return run("sed 's/$/\\r/' %s > %s && (echo 'x -----'; cat %s) > %s",
	    tmppath("plain.pem"), tmppath("crlf.pem"), tmppath("plain.pem"),
	    tmppath("punt.pem")) ||
	    run("sed 's/^MII/MI I/' %s > %s", tmppath("plain.pem"),
	    tmppath("space.pem")) ||
	    run("sed 's/CERTIFICATE/certificate/' %s > %s",
	    tmppath("plain.pem"), tmppath("lower.pem")) ||
	    run("for w in 76 0 30; do for c in rsa ec; do "
	    "echo -----BEGIN CERTIFICATE-----; openssl x509 -in %s/$c.pem "
	    "-outform DER | base64 -w $w; if [ $w = 0 ]; then echo; fi; "
	    "echo -----END CERTIFICATE-----; done > %s/wrap$w.pem; done",
	    dir, dir);
}

static void
wait_unracy(void)
{
	struct stat st;

	if (stat(tmppath("cache.pem"), &st) == 0)
		while (time(NULL) < st.st_ctim.tv_sec + 2)
			usleep(100000);
}

/* A fresh cache for pem in auth: a miss, then a hit. */
static void
prime(const char *pem, const char *auth, const struct trust *ref)
{
	char what[128];

	snprintf(what, sizeof what, "%s, first load", pem);
	expect(what, pem, auth, 0, ref);
	snprintf(what, sizeof what, "%s, second load", pem);
	expect(what, pem, auth, 1, ref);
}

static void
test_cache(void)
{
	struct trust ref, swapped, ec, s;
	struct timespec ts[2];
	struct stat st, st2;
	char cpath[300];
	int rc;

	if (load_ref(&ref, tmppath("plain.pem")) != 0 ||
	    load_ref(&swapped, tmppath("swapped.pem")) != 0 ||
	    load_ref(&ec, tmppath("ec.pem")) != 0) {
		CHECK("cache: references load", 0);
		return;
	}
	wait_unracy();

	prime("cache.pem", "auth", &ref);
	snprintf(cpath, sizeof cpath, "%s/ta-cache.bin", tmppath("auth"));
	CHECK("cache: file is 0600 and ours", stat(cpath, &st) == 0 &&
	    S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	    st.st_uid == geteuid());
	if (load_c(&s, tmppath("cache.pem"), tmppath("auth")) == 0) {
		CHECK("cache: BearSSL validates with cached anchors",
		    validates(&s, tmppath("rsa.der")) &&
		    validates(&s, tmppath("ec.der")));
		trust_free(&s);
		CHECK("cache: trust_free empties a cached set",
		    s.ta == NULL && s.n == 0 && s.blk == NULL);
	}

	/* touch: mtime moves. Then too recent to be cached again. */
	prime("touch.pem", "auth-touch", &ref);
	utimensat(AT_FDCWD, tmppath("touch.pem"), NULL, 0);
	expect("after touch", "touch.pem", "auth-touch", 0, &ref);
	expect("just touched, not cached", "touch.pem", "auth-touch", 0,
	    &ref);

	/* chmod: only ctime moves. */
	prime("chmod.pem", "auth-chmod", &ref);
	chmod(tmppath("chmod.pem"), 0640);
	expect("after chmod", "chmod.pem", "auth-chmod", 0, &ref);

	/* Rewritten in place, same size, mtime put back to the ns: only
	 * ctime tells. */
	prime("inplace.pem", "auth-inplace", &ref);
	rc = stat(tmppath("inplace.pem"), &st);
	run("cat %s > %s", tmppath("swapped.pem"), tmppath("inplace.pem"));
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	utimensat(AT_FDCWD, tmppath("inplace.pem"), ts, 0);
	CHECK("cache: in-place rewrite kept inode, size and mtime", rc == 0 &&
	    stat(tmppath("inplace.pem"), &st2) == 0 &&
	    st.st_ino == st2.st_ino && st.st_size == st2.st_size &&
	    st.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);
	expect("after same-size rewrite", "inplace.pem", "auth-inplace", 0,
	    &swapped);

	/* Another file renamed over it. */
	prime("renamed.pem", "auth-renamed", &ref);
	rename(tmppath("ec.pem"), tmppath("renamed.pem"));
	expect("after rename over", "renamed.pem", "auth-renamed", 0, &ec);
	rename(tmppath("renamed.pem"), tmppath("ec.pem"));

	/* No cache_dir, a missing one: plain loads. */
	if (load_c(&s, tmppath("cache.pem"), NULL) == 0) {
		CHECK("cache: NULL cache_dir loads", same_set(&s, &ref) &&
		    s.src == TRUST_SRC_FAST);
		trust_free(&s);
	}
	if (load_c(&s, tmppath("cache.pem"), tmppath("nonesuch")) == 0) {
		CHECK("cache: missing cache_dir loads", same_set(&s, &ref));
		trust_free(&s);
	}
	/* A relative ca-file: keyed by the path made absolute. */
	{
		char cwd[4096];

		if (getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0) {
			rc = load_c(&s, "cache.pem", tmppath("auth"));
			CHECK("cache: relative ca-file loads", rc == 0 &&
			    same_set(&s, &ref));
			if (rc == 0)
				trust_free(&s);
			rc = chdir(cwd);
		}
	}
	/* Errors are trust_load's. */
	{
		char err[512] = "", want[300];

		rc = trust_load_cached(&s, tmppath("missing.pem"),
		    tmppath("auth"), err, sizeof err);
		snprintf(want, sizeof want, "ca-file %s: cannot read: No such "
		    "file or directory", tmppath("missing.pem"));
		CHECK("cache: missing ca-file: error", rc == -1 &&
		    s.ta == NULL && s.n == 0 && s.blk == NULL);
		CHECK_STR("cache: missing ca-file: message", err, want);
	}
	trust_free(&ref);
	trust_free(&swapped);
	trust_free(&ec);
}

/* A damaged cache in auth: ignored, same anchors as ref, and replaced by
 * the good image, 0600. */
static int
survives(const char *cpath, const struct trust *ref,
    const unsigned char *good, size_t goodlen)
{
	struct trust s;
	struct stat st;
	unsigned char *now;
	size_t len;
	int ok;

	if (load_c(&s, tmppath("cache.pem"), tmppath("auth")) != 0)
		return 0;
	ok = s.src != TRUST_SRC_CACHE && same_set(&s, ref);
	trust_free(&s);
	now = slurp(cpath, &len);
	ok = ok && now != NULL && len == goodlen &&
	    memcmp(now, good, len) == 0 && lstat(cpath, &st) == 0 &&
	    S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	    st.st_uid == geteuid();
	free(now);
	return ok;
}

/* The good image with a u32 changed at off, resealed. */
static int
poked(const char *cpath, const struct trust *ref, const unsigned char *good,
    size_t len, size_t off, uint32_t v)
{
	unsigned char *img = malloc(len);
	int ok;

	if (img == NULL || off + 4 > len) {
		free(img);
		return 0;
	}
	memcpy(img, good, len);
	poke32(img, off, v);
	reseal(img, len);
	ok = write_bytes(cpath, img, len, 0600) == 0 &&
	    survives(cpath, ref, good, len);
	free(img);
	return ok;
}

static void
test_cache_damage(void)
{
	struct trust ref;
	unsigned char *good, *img;
	char cpath[300], other[300];
	size_t len, i, cnt, rec;
	uint32_t n, dnlen;
	int ok;

	snprintf(cpath, sizeof cpath, "%s/ta-cache.bin", tmppath("auth"));
	if (load_ref(&ref, tmppath("plain.pem")) != 0)
		return;
	good = slurp(cpath, &len);
	if (good == NULL || len < OFF_PATH + 8 ||
	    (cnt = off_count(good)) + 4 + 20 > len) {
		CHECK("damage: have a good cache image", 0);
		free(good);
		trust_free(&ref);
		return;
	}
	rec = cnt + 4;
	memcpy(&n, good + cnt, 4);
	CHECK("damage: image holds two anchors", n == 2);
	if (n != 2) {
		free(good);
		trust_free(&ref);
		return;
	}

	for (ok = 1, i = 0; i < len; i++)
		ok = ok && write_bytes(cpath, good, i, 0600) == 0 &&
		    survives(cpath, &ref, good, len);
	CHECK("damage: every truncation ignored and rewritten", ok);
	if ((img = malloc(len + 1)) != NULL) {
		memcpy(img, good, len);
		img[len - 1] ^= 1;
		CHECK("damage: bad checksum",
		    write_bytes(cpath, img, len, 0600) == 0 &&
		    survives(cpath, &ref, good, len));
		memcpy(img, good, len);
		img[len] = 0;
		reseal(img, len + 1);
		CHECK("damage: a byte too many",
		    write_bytes(cpath, img, len + 1, 0600) == 0 &&
		    survives(cpath, &ref, good, len));
		free(img);
	}
	CHECK("damage: wrong magic", poked(cpath, &ref, good, len, 0,
	    0x41414141));
	CHECK("damage: wrong version", poked(cpath, &ref, good, len,
	    OFF_VERSION, 2));
	CHECK("damage: other path", poked(cpath, &ref, good, len,
	    OFF_PATH, 0x2f2f2f2f));
	CHECK("damage: path length past the end", poked(cpath, &ref, good,
	    len, OFF_PATHLEN, 0xfffffff0));
	CHECK("damage: no anchors", poked(cpath, &ref, good, len, cnt, 0));
	CHECK("damage: one anchor too many", poked(cpath, &ref, good, len,
	    cnt, n + 1));
	CHECK("damage: one anchor too few", poked(cpath, &ref, good, len,
	    cnt, n - 1));
	CHECK("damage: 2^32-1 anchors", poked(cpath, &ref, good, len, cnt,
	    0xffffffff));
	CHECK("damage: DN length past the end", poked(cpath, &ref, good,
	    len, rec + REC_DNLEN, 0xffffffff));
	memcpy(&dnlen, good + rec + REC_DNLEN, 4);
	CHECK("damage: DN length one more", poked(cpath, &ref, good, len,
	    rec + REC_DNLEN, dnlen + 1));
	CHECK("damage: modulus length past the end", poked(cpath, &ref, good,
	    len, rec + REC_A, 0x7fffffff));
	CHECK("damage: zero modulus length", poked(cpath, &ref, good, len,
	    rec + REC_A, 0));
	CHECK("damage: unknown key type", poked(cpath, &ref, good, len,
	    rec + REC_TYPE, 7));
	CHECK("damage: unknown flag", poked(cpath, &ref, good, len,
	    rec + REC_FLAGS, 0x80));

	/* Valid content, wrong file. */
	CHECK("damage: group-writable cache ignored",
	    write_bytes(cpath, good, len, 0620) == 0 &&
	    survives(cpath, &ref, good, len));
	CHECK("damage: world-writable cache ignored",
	    write_bytes(cpath, good, len, 0602) == 0 &&
	    survives(cpath, &ref, good, len));
	if (geteuid() == 0)
		CHECK("damage: cache of another owner ignored",
		    write_bytes(cpath, good, len, 0600) == 0 &&
		    chown(cpath, 1, 1) == 0 &&
		    survives(cpath, &ref, good, len));
	else
		printf("ok - damage: other owner: skipped, not root\n");
	snprintf(other, sizeof other, "%s", tmppath("elsewhere.bin"));
	unlink(cpath);
	CHECK("damage: symlink ignored",
	    write_bytes(other, good, len, 0600) == 0 &&
	    symlink(other, cpath) == 0 && survives(cpath, &ref, good, len));
	unlink(cpath);
	CHECK("damage: FIFO ignored, no hang", mkfifo(cpath, 0600) == 0 &&
	    survives(cpath, &ref, good, len));
	unlink(cpath);
	if (mkdir(cpath, 0700) == 0) {
		struct trust s;

		ok = load_c(&s, tmppath("cache.pem"), tmppath("auth")) == 0 &&
		    same_set(&s, &ref);
		trust_free(&s);
		CHECK("damage: directory in the way, still loads", ok);
		rmdir(cpath);
	}
	CHECK("damage: good cache back", write_bytes(cpath, good, len,
	    0600) == 0);
	free(good);
	trust_free(&ref);
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Random byte flips: never a crash; without a valid checksum never
 * accepted; with one (resealed), accepted only when the structure still
 * holds, and then every pointer must stay inside the block (ASan). */
static void
test_cache_fuzz(void)
{
	enum { ITER = 3000 };
	struct trust ref, s;
	unsigned char *good, *img;
	char cpath[300];
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t len, i, k, nflip, taken = 0, sealed_taken = 0;
	int ok = 1, sealed;

	snprintf(cpath, sizeof cpath, "%s/ta-cache.bin", tmppath("auth"));
	if (load_ref(&ref, tmppath("plain.pem")) != 0)
		return;
	good = slurp(cpath, &len);
	img = malloc(len ? len : 1);
	for (i = 0; good && img && ok && i < ITER; i++) {
		memcpy(img, good, len);
		nflip = 1 + rnd(&x) % 4;
		for (k = 0; k < nflip; k++)
			img[rnd(&x) % len] ^= (unsigned char)(1 + rnd(&x) % 255);
		if ((sealed = (int)(rnd(&x) & 1)))
			reseal(img, len);
		if (write_bytes(cpath, img, len, 0600) == -1 ||
		    load_c(&s, tmppath("cache.pem"), tmppath("auth")) != 0) {
			ok = 0;
			break;
		}
		if (s.src == TRUST_SRC_CACHE) {
			taken++;
			sealed_taken += sealed;
			ok = sealed && same_set(&s, &s);
		} else
			ok = same_set(&s, &ref);
		if (!ok)
			printf("# iteration %zu (sealed %d)\n", i, sealed);
		trust_free(&s);
	}
	CHECK("fuzz: byte flips ignored or harmless", good && img && ok);
	printf("# fuzz: %d iterations, %zu damaged images accepted "
	    "(all with a valid checksum: %s)\n", ITER, taken,
	    taken == sealed_taken ? "yes" : "no");
	if (good)
		write_bytes(cpath, good, len, 0600);
	free(good);
	free(img);
	trust_free(&ref);
}

/* Error message without its "ca-file PATH: " prefix. */
static const char *
tail(const char *err, const char *path)
{
	size_t n = strlen("ca-file ") + strlen(path) + 2;

	return strlen(err) >= n ? err + n : err;
}

/* Load path both ways: as is, and behind "x -----" (BearSSL's decoder).
 * Same result, same anchors, same error message? */
static int
agree(const char *path, unsigned char *img, size_t len, int *fast)
{
	char ea[512] = "", eb[512] = "", pb[300];
	struct trust a, b;
	int ra, rb, ok;

	snprintf(pb, sizeof pb, "%s.punt", path);
	memcpy(img, "x -----\n", 8);
	if (write_bytes(path, img + 8, len, 0600) == -1 ||
	    write_bytes(pb, img, len + 8, 0600) == -1)
		return 0;
	ra = trust_load(&a, path, ea, sizeof ea);
	rb = trust_load(&b, pb, eb, sizeof eb);
	*fast = a.src == TRUST_SRC_FAST || (ra == -1 &&
	    strstr(ea, "bad PEM") == NULL);
	ok = ra == rb && (ra == -1 ? strcmp(tail(ea, path),
	    tail(eb, pb)) == 0 : same_set(&a, &b) && b.src == TRUST_SRC_PEM);
	if (!ok)
		printf("# %d \"%s\" vs %d \"%s\"\n", ra, ea, rb, eb);
	trust_free(&a);
	trust_free(&b);
	return ok;
}

/* BearSSL refuses padding whose dropped bits are not zero. */
static void
test_pad_bits(void)
{
	unsigned char *good, *img, *q;
	size_t len;
	int fast, ok = 0;

	good = slurp(tmppath("plain.pem"), &len);
	img = malloc(len + 8);
	q = good ? memmem(good, len, "=\n-----END", 10) : NULL;
	if (q != NULL && img != NULL) {
		while (q > good && q[-1] == '=')
			q--;
		memcpy(img + 8, good, len);
		img[8 + (size_t)(q - good) - 1] = 'B';	/* 000001 */
		ok = agree(tmppath("padbits.pem"), img, len, &fast);
		CHECK("fast: padding with stray bits refused, as by BearSSL",
		    ok);
	} else
		printf("ok - fast: padding bits: skipped, no padding\n");
	free(good);
	free(img);
}

/* Random damage to a bundle: the fast reader, when it does not give up,
 * must agree with BearSSL's decoder, down to the error message. Half the
 * changes are next to the padding, where the rules are finest. */
static void
test_fast_fuzz(void)
{
	enum { ITER = 2000 };
	static const char alpha[] = "-=\r\n \tA/+0aZ=xBQgw";
	unsigned char *good, *img, *pad;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t len, i, k, at, nfast = 0;
	int ok = 1, fast;

	good = slurp(tmppath("plain.pem"), &len);
	img = malloc(len + 8);
	pad = good ? memchr(good, '=', len) : NULL;
	for (i = 0; good && img && ok && i < ITER; i++) {
		memcpy(img + 8, good, len);
		for (k = 1 + rnd(&x) % 3; k > 0; k--) {
			at = rnd(&x) % len;
			if (pad != NULL && (rnd(&x) & 1))
				at = (size_t)(pad - good) - rnd(&x) % 3;
			img[8 + at] =
			    (unsigned char)alpha[rnd(&x) % (sizeof alpha - 1)];
		}
		ok = agree(tmppath("fuzz.pem"), img, len, &fast);
		nfast += fast;
		if (!ok)
			printf("# iteration %zu\n", i);
	}
	CHECK("fast fuzz: damaged bundles read as BearSSL reads them",
	    good && img && ok);
	printf("# fast fuzz: %d iterations, about %zu not given up by the "
	    "fast reader\n", ITER, nfast);
	free(good);
	free(img);
}

static void
test_system_cache(void)
{
	const char *path = "/etc/ssl/certs/ca-certificates.crt";
	enum { ROUNDS = 20 };
	struct trust full, slow, miss, hit;
	double t0, t_slow, t_fast, t_hit;
	char cpath[300];
	struct stat st;
	int i, ok;

	if (access(path, R_OK) != 0) {
		printf("ok - system cache: skipped, no %s\n", path);
		return;
	}
	if (run("(echo 'x -----'; cat %s) > %s", path,
	    tmppath("system-punt.pem")) != 0 || load_ref(&full, path) != 0 ||
	    load_ref(&slow, tmppath("system-punt.pem")) != 0) {
		CHECK("system cache: loads", 0);
		return;
	}
	CHECK("system: fast reader used", full.src == TRUST_SRC_FAST);
	CHECK("system: BearSSL used for the reference",
	    slow.src == TRUST_SRC_PEM);
	CHECK("system: fast reader gives BearSSL's anchors, every field",
	    same_set(&full, &slow));
	trust_free(&slow);
	if (load_c(&miss, path, tmppath("sys")) != 0 ||
	    load_c(&hit, path, tmppath("sys")) != 0) {
		CHECK("system cache: loads", 0);
		trust_free(&full);
		return;
	}
	CHECK("system cache: miss then hit", miss.src != TRUST_SRC_CACHE &&
	    hit.src == TRUST_SRC_CACHE);
	CHECK("system cache: hit gives the same anchors, every field",
	    same_set(&miss, &full) && same_set(&hit, &full));
	trust_free(&miss);
	trust_free(&hit);

	t0 = unit_now_ms();
	for (i = 0; i < ROUNDS; i++) {
		load_ref(&slow, tmppath("system-punt.pem"));
		trust_free(&slow);
	}
	t_slow = (unit_now_ms() - t0) / ROUNDS;
	t0 = unit_now_ms();
	for (i = 0; i < ROUNDS; i++) {
		load_ref(&miss, path);
		trust_free(&miss);
	}
	t_fast = (unit_now_ms() - t0) / ROUNDS;
	t0 = unit_now_ms();
	for (ok = 1, i = 0; i < ROUNDS * 10; i++) {
		ok = ok && load_c(&hit, path, tmppath("sys")) == 0 &&
		    hit.src == TRUST_SRC_CACHE;
		trust_free(&hit);
	}
	t_hit = (unit_now_ms() - t0) / (ROUNDS * 10);
	CHECK("system cache: every timed load a hit", ok);
	snprintf(cpath, sizeof cpath, "%s/ta-cache.bin", tmppath("sys"));
	printf("# system bundle, %zu anchors, cache %lld bytes: BearSSL PEM "
	    "%.2f ms, fast PEM %.2f ms, cache hit %.3f ms\n", full.n,
	    stat(cpath, &st) == 0 ? (long long)st.st_size : -1LL, t_slow,
	    t_fast, t_hit);
	trust_free(&full);
}

int
main(void)
{
	int rc;

	snprintf(dir, sizeof dir, "/tmp/test_trust.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = make_certs();
	CHECK("openssl made the test certificates", rc == 0);
	if (rc == 0) {
		rc = make_cache_files();
		CHECK("made the cache test files", rc == 0);
	}
	if (rc == 0) {
		test_bundle();
		test_errors();
		test_fast();
		test_cache();
		test_cache_damage();
		test_cache_fuzz();
		test_pad_bits();
		test_fast_fuzz();
	}
	test_system();
	test_system_cache();

	run("rm -rf '%s'", dir);
	return UNIT_END();
}
