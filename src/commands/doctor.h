/* doctor: --doctor, every link from droid to the provider checked, one
 * line each: "ok   ...", "warn ...", "FAIL ... -> what to do". */
#ifndef DOCTOR_H
#define DOCTOR_H
#include <stdio.h>

#include "parsers/config.h"
#include "support/exits.h"

/* Load the config at config_path (NULL: the search order) and run every
 * check, printing to out. A broken config is reported, not fatal: the
 * other checks then run on the built-in defaults. Sends no request
 * upstream (handshakes only) and never prints a token. Returns EXIT_OK
 * when nothing FAILed, else EXIT_DOCTOR. */
int doctor_run(const char *config_path, FILE *out);

#endif
