/* statusline: --statusline, Claude Code's status line (see
 * statusline.c). */
#ifndef STATUSLINE_H
#define STATUSLINE_H
#include <stdio.h>

#include "parsers/config.h"
#include "support/exits.h"

/* Read Claude Code's status JSON from fd and print the one line for its
 * session on out: the account serving it, its windows, the pool. Always
 * EXIT_OK (a line says what went wrong). */
int statusline_run(const struct config *cfg, int fd, FILE *out);

#endif
