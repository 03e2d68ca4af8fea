/* url: the https:// base URLs of upstreams and token endpoints. */
#ifndef URL_H
#define URL_H

struct url {
	char *host;   /* as written, without [] for IPv6 literals */
	char *port;   /* "443" when absent */
	char *path;   /* prefix without trailing '/', may be "" */
	char *hostport; /* what goes into the Host header */
};

/* Parse "https://host[:port][/path]". 0, or -1 with a reason in err. */
int url_parse(const char *s, struct url *u, char *err, unsigned errlen);
void url_free(struct url *u);

#endif
