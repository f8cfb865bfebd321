/*
 * Matching a request path against the configured route patterns.  A
 * pattern is literal segments and whole-segment placeholders; the first
 * route that matches wins, in the order of the configuration file.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

/* Percent-decodes one segment; refuses control bytes and slashes in it. */
static int
segment_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t		 i, o = 0;
	unsigned int	 v;
	char		 hex[3] = { 0, 0, 0 };

	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			if (!isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			v = (unsigned int)strtoul(hex, NULL, 16);
			ch = (unsigned char)v;
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\')
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return o == 0 ? -1 : 0;
}

static int
route_try(const char *pattern, const char *path, char *target, size_t tlen,
    char *ns, size_t nslen, char *token, size_t toklen)
{
	const char	*p = pattern, *q = path, *pe, *qe;
	size_t		 pn, qn;
	char		*dst;
	size_t		 dlen;
	char		 scratch[HOST_LEN];

	while (*p == '/' && *q == '/') {
		p++;
		q++;
		pe = strchrnul(p, '/');
		qe = strchrnul(q, '/');
		pn = pe - p;
		qn = qe - q;
		if (pn > 2 && p[0] == '{' && p[pn - 1] == '}') {
			if (strncmp(p, "{token}", pn) == 0) {
				dst = token;
				dlen = toklen;
			} else if (strncmp(p, "{namespace}", pn) == 0) {
				dst = ns;
				dlen = nslen;
			} else if (strncmp(p, "{prefix}", pn) == 0) {
				dst = scratch;
				dlen = sizeof(scratch);
			} else {
				dst = target;
				dlen = tlen;
			}
			if (segment_decode(q, qn, dst, dlen) == -1)
				return 0;
		} else if (pn != qn || strncmp(p, q, pn) != 0)
			return 0;
		p = pe;
		q = qe;
	}
	return *p == '\0' && *q == '\0';
}

/* One path segment, percent-decoded and checked. */
int
route_decode(const char *seg, char *out, size_t outlen)
{
	return segment_decode(seg, strlen(seg), out, outlen);
}

struct route *
route_match(struct conf *c, const char *path, char *target, size_t tlen,
    char *ns, size_t nslen, char *token, size_t toklen)
{
	struct route	*r;

	TAILQ_FOREACH(r, &c->routes, entry) {
		target[0] = ns[0] = token[0] = '\0';
		if (route_try(r->c.pattern, path, target, tlen, ns, nslen,
		    token, toklen))
			return r;
	}
	target[0] = ns[0] = token[0] = '\0';
	return NULL;
}
