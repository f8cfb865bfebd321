/*
 * Upstream HTTP/1.1 responses (RFC 9112), parsed in place.  Upstreams are
 * configured, not anonymous, but they still sit across a network: every
 * length is checked, and anything that could be read two ways (bare LF,
 * folded lines, conflicting lengths, an unknown transfer coding) is
 * refused.
 */
#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpc.h"

static int
httpc_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * The length of the head, terminator included, when buf holds all of it;
 * 0 when more is needed; -1 when it is already too long to be one.
 */
ssize_t
httpc_head_len(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i + 3 < len && i + 4 <= HTTPC_MAX_HEAD; i++)
		if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return len >= HTTPC_MAX_HEAD ? -1 : 0;
}

/* "HTTP/1.x SSS reason": the status, or -1. */
static int
httpc_status_line(const char *line)
{
	const char	*p;

	if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' &&
	    line[7] != '1') || line[8] != ' ')
		return -1;
	p = line + 9;
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || (p[3] != ' ' && p[3] != '\0'))
		return -1;
	if (p[0] < '1' || p[0] > '5')
		return -1;
	for (p += 3; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0';
}

static int
httpc_header_line(struct httpc_resp *r, char *line)
{
	char	*colon, *v, *e;

	if (r->nhdr >= HTTPC_MAX_HEADERS)
		return -1;
	for (colon = line; httpc_tchar(*colon); colon++)
		;
	if (colon == line || *colon != ':')
		return -1;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v; *e; e++)
		if (((unsigned char)*e < 0x20 && *e != '\t') || *e == 0x7f)
			return -1;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	r->hdr[r->nhdr].name = line;
	r->hdr[r->nhdr].value = v;
	r->nhdr++;
	return 0;
}

/*
 * head is what httpc_head_len measured.  Returns 0, or -1 when it is not
 * a well-formed response head.
 */
int
httpc_parse_head(struct httpc_resp *r, char *head, size_t len)
{
	char	*p = head, *end = head + len, *eol;
	int	 first = 1;

	memset(r, 0, sizeof(*r));
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(head, '\0', len) != NULL)
		return -1;
	while (p < end - 2) {
		if ((eol = memchr(p, '\r', end - p)) == NULL || eol[1] != '\n')
			return -1;
		*eol = '\0';
		if (memchr(p, '\n', eol - p) != NULL)
			return -1;
		if (first) {
			if ((r->status = httpc_status_line(p)) == -1)
				return -1;
			first = 0;
		} else if (*p == ' ' || *p == '\t' ||
		    httpc_header_line(r, p) == -1)
			return -1;
		p = eol + 2;
	}
	return first ? -1 : 0;
}

const char *
httpc_get(const struct httpc_resp *r, const char *name)
{
	size_t	 i = 0;

	return httpc_next(r, name, &i);
}

/* The next header called name from *i on (Set-Cookie comes many times). */
const char *
httpc_next(const struct httpc_resp *r, const char *name, size_t *i)
{
	for (; *i < r->nhdr; (*i)++)
		if (strcasecmp(r->hdr[*i].name, name) == 0)
			return r->hdr[(*i)++].value;
	return NULL;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
int
httpc_token_has(const char *list, const char *token)
{
	size_t	 n = strlen(token), l;

	while (list && *list) {
		list += strspn(list, " \t,");
		l = strcspn(list, " \t,");
		if (l == n && strncasecmp(list, token, n) == 0)
			return 1;
		list += l;
	}
	return 0;
}

/* A decimal or hex number of at most 9 digits; -1 if none. */
static long
httpc_number(const char *s, size_t n, int base, size_t *used)
{
	size_t	 i;
	long	 v = 0;
	int	 d;

	for (i = 0; i < n && i < 10; i++) {
		if (isdigit((unsigned char)s[i]))
			d = s[i] - '0';
		else if (base == 16 && isxdigit((unsigned char)s[i]))
			d = tolower((unsigned char)s[i]) - 'a' + 10;
		else
			break;
		v = v * base + d;
	}
	if (i == 0 || i == 10)
		return -1;
	*used = i;
	return v;
}

/*
 * Walks a chunked body.  With out, copies the data there (out may be buf
 * itself: data only ever moves back).  Returns the decoded length when
 * the last chunk and trailer are in, -2 when more is needed, -1 when the
 * framing is bad.
 */
static long
httpc_chunks(char *buf, size_t len, char *out)
{
	size_t	 pos = 0, used, olen = 0;
	long	 n;
	char	*eol;

	for (;;) {
		if ((eol = memchr(buf + pos, '\n', len - pos)) == NULL)
			return len - pos > 64 ? -1 : -2;
		if ((n = httpc_number(buf + pos, eol - buf - pos, 16,
		    &used)) == -1)
			return -1;
		/* Chunk extensions are allowed and ignored. */
		if (buf[pos + used] != ';' && buf + pos + used != eol - 1)
			return -1;
		if (eol[-1] != '\r')
			return -1;
		pos = eol - buf + 1;
		if (n == 0)
			break;
		if (len - pos < (size_t)n + 2)
			return -2;
		if (buf[pos + n] != '\r' || buf[pos + n + 1] != '\n')
			return -1;
		if (out)
			memmove(out + olen, buf + pos, n);
		olen += n;
		pos += n + 2;
	}
	/* Trailer fields, then the empty line. */
	for (;;) {
		if ((eol = memchr(buf + pos, '\n', len - pos)) == NULL)
			return -2;
		if (eol == buf + pos || eol[-1] != '\r')
			return -1;
		if (eol - 1 == buf + pos)
			return olen;
		pos = eol - buf + 1;
	}
}

static int
httpc_body_chunked(struct httpc_resp *r, char *body, size_t len, int eof)
{
	long	 n = httpc_chunks(body, len, NULL);

	if (n == -2)
		return eof ? -1 : 0;
	if (n < 0)
		return -1;
	httpc_chunks(body, len, body);
	r->body = body;
	r->bodylen = n;
	body[n] = '\0';
	return 1;
}

static int
httpc_body_length(struct httpc_resp *r, const char *cl, char *body,
    size_t len, int eof)
{
	size_t	 used;
	long	 n;
	size_t	 i = 0;
	const char *other;

	if ((n = httpc_number(cl, strlen(cl), 10, &used)) == -1 ||
	    cl[used] != '\0')
		return -1;
	httpc_next(r, "Content-Length", &i);
	while ((other = httpc_next(r, "Content-Length", &i)) != NULL)
		if (strcmp(other, cl) != 0)
			return -1;
	if (len < (size_t)n)
		return eof ? -1 : 0;
	r->body = body;
	r->bodylen = n;
	body[n] = '\0';
	return 1;
}

/*
 * body holds the bytes read after the head, and body[len] must be
 * writable.  eof says that the connection has ended.  Returns 1 with
 * r->body set when the body is complete, 0 when more is needed, -1 when
 * its framing is bad.
 */
int
httpc_parse_body(struct httpc_resp *r, char *body, size_t len, int eof)
{
	const char	*te = httpc_get(r, "Transfer-Encoding");
	const char	*cl = httpc_get(r, "Content-Length");

	if (te != NULL) {
		if (cl != NULL || strcasecmp(te, "chunked") != 0)
			return -1;
		return httpc_body_chunked(r, body, len, eof);
	}
	if (cl != NULL)
		return httpc_body_length(r, cl, body, len, eof);
	if (r->status < 200 || r->status == 204 || r->status == 304) {
		r->body = body;
		r->bodylen = 0;
		body[0] = '\0';
		return 1;
	}
	if (!eof)
		return 0;
	r->body = body;
	r->bodylen = len;
	body[len] = '\0';
	return memchr(body, '\0', len) ? -1 : 1;
}
