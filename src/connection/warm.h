/* warm: what every connection needs, done ahead (see warm.c). */
#ifndef WARM_H
#define WARM_H
#include "network/trust.h"
#include "parsers/config.h"

/* Read auth-dir's files, load the trust anchors and the resolver's
 * configuration now, for a connection still to come. */
void warm_prepare(const struct config *cfg);

/* The trust anchors warm_prepare loaded, into out, when ca-file has not
 * changed since. 1 when out was filled (it is the caller's now), else 0:
 * load them now. */
int warm_trust(const struct config *cfg, struct trust *out);

#endif
