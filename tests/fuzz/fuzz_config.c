/* Fuzz the config loader (libyaml into struct config). config_load takes a
 * path, so the input goes into a memfd and is read through /proc/self/fd.
 * Unknown keys warn on stderr: run with -close_fd_mask=2 (run.sh does). */
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/config.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct config cfg;
	char path[64], err[512];
	size_t i;

	if (fd == -1 && (fd = memfd_create("fuzz-config", 0)) == -1)
		abort();
	/* auth-dir defaults to ~/...: make sure HOME does not decide. */
	setenv("HOME", "/nonexistent-fuzz-home", 1);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	err[0] = '\0';
	memset(&cfg, 0xa5, sizeof cfg);
	if (config_load(path, &cfg, err, sizeof err) == 0) {
		if (cfg.auth_dir == NULL || cfg.path == NULL)
			abort();
		for (i = 0; i < cfg.n_aliases; i++)
			if (cfg.aliases[i].from == NULL ||
			    cfg.aliases[i].to == NULL)
				abort();
		for (i = 0; i < cfg.n_api_keys; i++)
			if (cfg.api_keys[i] == NULL)
				abort();
		config_free(&cfg);
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL) {
		abort();
	}
	return 0;
}
