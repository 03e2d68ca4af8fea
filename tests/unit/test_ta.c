/*
 * Unit tests for ta.c. Certificates are made at test time with the openssl
 * CLI in a temp directory; each anchor is then checked by letting BearSSL
 * validate the certificate it came from.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ta.h"
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
validates(const struct ta_set *s, const char *path)
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
	struct ta_set s;
	char err[512] = "";
	int rc;

	rc = ta_load(&s, tmppath("bundle.pem"), err, sizeof err);
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
	ta_free(&s);
	CHECK("ta_free: empty", s.ta == NULL && s.n == 0);
}

static void
test_errors(void)
{
	struct ta_set s;
	char err[512], want[300];
	int rc;

	err[0] = '\0';
	rc = ta_load(&s, tmppath("missing.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: cannot read: No such file "
	    "or directory", tmppath("missing.pem"));
	CHECK("missing file: error", rc == -1 && s.ta == NULL && s.n == 0);
	CHECK_STR("missing file: message", err, want);

	write_file(tmppath("empty.pem"), "no certificates here\n");
	err[0] = '\0';
	rc = ta_load(&s, tmppath("empty.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: no certificate found in it",
	    tmppath("empty.pem"));
	CHECK("no certificate: error", rc == -1 && s.ta == NULL);
	CHECK_STR("no certificate: message", err, want);

	/* Only a private key: a PEM object, but not a certificate. */
	err[0] = '\0';
	rc = ta_load(&s, tmppath("ec.key"), err, sizeof err);
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
	rc = ta_load(&s, tmppath("junk.pem"), err, sizeof err);
	snprintf(want, sizeof want, "ca-file %s: certificate 2 cannot be "
	    "decoded", tmppath("junk.pem"));
	CHECK("bad certificate: error", rc == -1 && s.ta == NULL &&
	    s.n == 0);
	CHECK_STR("bad certificate: message", err, want);

	/* A directory is not a bundle. */
	err[0] = '\0';
	rc = ta_load(&s, dir, err, sizeof err);
	CHECK("directory: error", rc == -1 &&
	    strstr(err, "cannot read: Is a directory") != NULL);
}

static void
test_system(void)
{
	const char *path = "/etc/ssl/certs/ca-certificates.crt";
	struct ta_set s;
	char err[512] = "";
	int rc;

	if (access(path, R_OK) != 0) {
		printf("ok - system bundle: skipped, no %s\n", path);
		return;
	}
	rc = ta_load(&s, path, err, sizeof err);
	CHECK("system bundle: loads", rc == 0);
	if (rc != 0) {
		printf("# %s\n", err);
		return;
	}
	CHECK("system bundle: more than 50 anchors", s.n > 50);
	ta_free(&s);
}

int
main(void)
{
	static const char *const files[] = {
		"rsa.key", "rsa.pem", "rsa.der", "ec.key", "ec.pem", "ec.der",
		"bundle.pem", "empty.pem", "junk.pem",
	};
	size_t i;
	int rc;

	snprintf(dir, sizeof dir, "/tmp/test_ta.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = make_certs();
	CHECK("openssl made the test certificates", rc == 0);
	if (rc == 0) {
		test_bundle();
		test_errors();
	}
	test_system();

	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(tmppath(files[i]));
	rmdir(dir);
	return UNIT_END();
}
