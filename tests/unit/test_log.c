/* log_clean: what reaches a log line or a terminal is text. */
#include <stdio.h>
#include <string.h>

#include "support/log.h"
#include "unit.h"

int
main(void)
{
	char out[64];

	log_clean(out, sizeof out, "plain text, \xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
	CHECK_STR("text and UTF-8 kept", out,
	    "plain text, \xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
	log_clean(out, sizeof out, "a\nb\r\x1b[2J\x7f\t");
	CHECK_STR("C0 and DEL as \\xHH", out, "a\\x0Ab\\x0D\\x1B[2J\\x7F\\x09");
	log_clean(out, sizeof out, "x\xc2\x9b" "2J");
	CHECK_STR("C1 as UTF-8 escaped whole", out, "x\\xC2\\x9B2J");
	CHECK("cut short, never mid-escape", log_clean(out, 8, "abc\n\n") ==
	    7 && strcmp(out, "abc\\x0A") == 0);
	CHECK("room for nothing", log_clean(out, 1, "x") == 0 && out[0] == 0);
	return UNIT_END();
}
