/* claudecode: Claude Code's own settings, --setup-claude (see
 * claudecode.c). */
#ifndef CLAUDECODE_H
#define CLAUDECODE_H
#include <stdio.h>

#include "parsers/config.h"
#include "support/exits.h"

/* --setup-claude: write ANTHROPIC_BASE_URL (this proxy), a dummy
 * ANTHROPIC_API_KEY (one there is kept) and the statusLine (this
 * binary's --statusline) into ~/.claude/settings.json, everything else
 * kept, the old file in settings.json.bak; one line per entry on out.
 * With dry_run print the result, write nothing. EXIT_OK, EXIT_DROID (the
 * file is not a JSON object) or EXIT_SYS. */
int claudecode_setup(const struct config *cfg, int dry_run, FILE *out);

#endif
