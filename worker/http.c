/*
 * A strict HTTP/1.1 request-head parser (RFC 9110, RFC 9112) and helpers.
 *
 * The head is parsed in place: NULs are written where lines, names and
 * values end, and the request points into it.  Anything that two parsers
 * could read two ways (bare CR or LF, folded lines, whitespace before a
 * colon, conflicting framing) is refused rather than guessed at, so that
 * no proxy in front of us can be made to see a different request.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

static char	*http_next_line(char **, char *);
static int	 http_request_line(struct http_req *, char *);
static int	 http_version(const char *, int *);
static int	 http_header_line(struct http_req *, char *, size_t);
static int	 http_check_headers(const struct http_req *);
static int	 http_tchar(unsigned char);
static int	 http_digit(int);
static int	 http_fieldchar(unsigned char);
static int	 http_hex(int);
static int	 http_path_byte(const char **);
static int	 http_unescape(const char *, const char *, char *, size_t);
static int	 http_digits(const char **, int, int *);
static int	 http_month(const char **, int *);
static int	 http_clock(const char **, struct tm *);
static int	 http_skip(const char **, const char *);
static int	 http_weekday(const char **, int);
static int	 http_mktime(struct tm *, time_t *);

static const char *const http_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const http_longdays[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const http_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/*
 * head holds the request line, the header lines and the empty line that
 * ends them, nothing more.  Returns 0 or the status to answer with.
 */
int
http_parse(struct http_req *req, char *head, size_t len, size_t max_headers)
{
	char	*p = head, *end = head + len, *line;
	int	 status;

	req->method = req->target = req->path = req->query = NULL;
	req->minor = 0;
	req->nhdr = 0;
	if (max_headers == 0 || max_headers > HTTP_MAX_HEADERS)
		max_headers = HTTP_MAX_HEADERS;
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return 400;
	if (memchr(head, '\0', len) != NULL)
		return 400;

	if ((line = http_next_line(&p, end)) == NULL)
		return 400;
	if ((status = http_request_line(req, line)) != 0)
		return status;
	for (;;) {
		if ((line = http_next_line(&p, end)) == NULL)
			return 400;
		if (*line == '\0')
			break;
		if ((status = http_header_line(req, line, max_headers)) != 0)
			return status;
	}
	if (p != end)
		return 400;
	return http_check_headers(req);
}

/* Lines end in CRLF; a CR or LF on its own is an error. */
static char *
http_next_line(char **pp, char *end)
{
	char	*line = *pp, *p;

	for (p = line; p < end && *p != '\r' && *p != '\n'; p++)
		;
	if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return NULL;
	*p = '\0';
	*pp = p + 2;
	return line;
}

/* method SP request-target SP HTTP-version, single spaces, origin-form. */
static int
http_request_line(struct http_req *req, char *line)
{
	unsigned char	*p = (unsigned char *)line;
	int		 status;

	req->method = line;
	while (http_tchar(*p))
		p++;
	if ((char *)p == line || *p != ' ')
		return 400;
	*p++ = '\0';

	req->target = (char *)p;
	while (*p > 0x20 && *p < 0x7f && *p != '#')
		p++;
	if ((char *)p == req->target || *p != ' ')
		return 400;
	*p++ = '\0';
	if (req->target[0] != '/')
		return 400;

	if ((status = http_version((char *)p, &req->minor)) != 0)
		return status;
	/* The path even for a 405: its Allow header depends on it. */
	req->path = req->target;
	if ((req->query = strchr(req->target, '?')) != NULL)
		*req->query++ = '\0';
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		return 405;
	return 0;
}

/* "HTTP/" DIGIT "." DIGIT is the grammar; only 1.0 and 1.1 are spoken. */
static int
http_version(const char *v, int *minor)
{
	if (strlen(v) != 8 || strncmp(v, "HTTP/", 5) != 0 ||
	    !http_digit(v[5]) || v[6] != '.' ||
	    !http_digit(v[7]))
		return 400;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return 505;
	*minor = v[7] - '0';
	return 0;
}

static int
http_header_line(struct http_req *req, char *line, size_t max)
{
	unsigned char	*p = (unsigned char *)line, *v, *e;

	if (req->nhdr >= max)
		return 431;
	/* obs-fold, and a name that does not start at the margin. */
	if (*p == ' ' || *p == '\t')
		return 400;
	while (http_tchar(*p))
		p++;
	if ((char *)p == line || *p != ':')
		return 400;
	*p++ = '\0';

	while (*p == ' ' || *p == '\t')
		p++;
	for (v = p; *p != '\0'; p++)
		if (!http_fieldchar(*p))
			return 400;
	for (e = p; e > v && (e[-1] == ' ' || e[-1] == '\t'); )
		*--e = '\0';

	req->hdr[req->nhdr].name = line;
	req->hdr[req->nhdr].value = (char *)v;
	req->nhdr++;
	return 0;
}

/*
 * One Host, required on 1.1.  These requests have no body: a body length
 * other than 0 or any Transfer-Encoding could only be a smuggling attempt.
 */
static int
http_check_headers(const struct http_req *req)
{
	const char	*name, *v;
	size_t		 i;
	int		 host = 0, clen = 0;

	for (i = 0; i < req->nhdr; i++) {
		name = req->hdr[i].name;
		v = req->hdr[i].value;
		if (strcasecmp(name, "Host") == 0)
			host++;
		else if (strcasecmp(name, "Transfer-Encoding") == 0)
			return 400;
		else if (strcasecmp(name, "Content-Length") == 0) {
			if (++clen > 1 || *v == '\0')
				return 400;
			for (; *v != '\0'; v++)
				if (*v != '0')
					return 400;
		}
	}
	if (host > 1 || (host == 0 && req->minor == 1))
		return 400;
	return 0;
}

/* Spelt out rather than isalnum(3), which a locale could widen. */
static int
http_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
http_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* field-vchar, obs-text, SP and HTAB. */
static int
http_fieldchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

const char *
http_get(const struct http_req *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->nhdr; i++)
		if (strcasecmp(req->hdr[i].name, name) == 0)
			return req->hdr[i].value;
	return NULL;
}

/* Is token one of the elements of a comma-separated list? */
int
http_list_has(const char *value, const char *token)
{
	const char	*p = value, *s, *e;
	size_t		 tl = strlen(token);

	if (value == NULL || tl == 0)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		for (s = p; *p != '\0' && *p != ','; p++)
			;
		for (e = p; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
			return 1;
	}
	return 0;
}

static int
http_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes segment by segment so that an encoded byte can never act as a
 * separator: %2f, a NUL or a backslash anywhere refuses the path, a ".."
 * segment (however spelt) refuses it, "." and empty segments go.  A final
 * slash is kept, so that a directory stays recognisable.
 */
int
http_path_clean(const char *raw, char *out, size_t outlen)
{
	const char	*p = raw;
	size_t		 o = 0, start;
	int		 c, dropped = 0;

	if (*p != '/' || outlen < 2)
		return -1;
	while (*p == '/') {
		p++;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = '/';
		start = o;
		while (*p != '\0' && *p != '/') {
			if ((c = http_path_byte(&p)) == -1 || o + 1 >= outlen)
				return -1;
			out[o++] = c;
		}
		if (o - start == 2 && out[start] == '.' && out[start + 1] == '.')
			return -1;
		dropped = o == start || (o - start == 1 && out[start] == '.');
		if (dropped)
			o = start - 1;
	}
	if (o == 0 || dropped)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* One byte of a path, percent-decoded; -1 for what no file name holds. */
static int
http_path_byte(const char **pp)
{
	const char	*p = *pp;
	int		 c = (unsigned char)*p, hi, lo;

	if (c == '%') {
		if ((hi = http_hex(p[1])) == -1 || (lo = http_hex(p[2])) == -1)
			return -1;
		c = hi << 4 | lo;
		if (c == '/')
			return -1;
		p += 3;
	} else
		p++;
	if (c == '\\' || c < 0x20 || c == 0x7f)
		return -1;
	*pp = p;
	return c;
}

/* Decodes [s, e) of a query: %XX and '+' for space, no NUL. */
static int
http_unescape(const char *s, const char *e, char *out, size_t outlen)
{
	size_t	o = 0;
	int	hi, lo, c;

	for (; s < e; s++) {
		c = (unsigned char)*s;
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (e - s < 3 || (hi = http_hex(s[1])) == -1 ||
			    (lo = http_hex(s[2])) == -1)
				return -1;
			c = hi << 4 | lo;
			s += 2;
		}
		if (c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* The first parameter called name, decoded. */
int
http_query_get(const char *query, const char *name, char *out,
    size_t outlen)
{
	const char	*p, *next, *eq;
	size_t		 nl = strlen(name);

	if (query == NULL)
		return -1;
	for (p = query;; p = next + 1) {
		if ((next = strchr(p, '&')) == NULL)
			next = p + strlen(p);
		eq = memchr(p, '=', next - p);
		if ((size_t)((eq != NULL ? eq : next) - p) == nl &&
		    strncmp(p, name, nl) == 0)
			return http_unescape(eq != NULL ? eq + 1 : next, next,
			    out, outlen);
		if (*next == '\0')
			return -1;
	}
}

/* Cookie: a=b; c="d" (RFC 6265 5.4); values are not decoded. */
int
http_cookie_get(const char *header, const char *name, char *out,
    size_t outlen)
{
	const char	*p = header, *s, *e, *eq;
	size_t		 nl = strlen(name), vl;

	if (header == NULL)
		return -1;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		for (s = p; *p != '\0' && *p != ';'; p++)
			;
		for (e = p; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		eq = memchr(s, '=', e - s);
		if (eq == NULL || (size_t)(eq - s) != nl ||
		    strncmp(s, name, nl) != 0)
			continue;
		s = eq + 1;
		if (e - s >= 2 && *s == '"' && e[-1] == '"') {
			s++;
			e--;
		}
		if ((vl = e - s) >= outlen)
			return -1;
		memcpy(out, s, vl);
		out[vl] = '\0';
		return 0;
	}
	return -1;
}

const char *
http_mime_type(const char *path)
{
	static const struct {
		const char	*ext;
		const char	*type;
	} types[] = {
		{ "html",	"text/html; charset=utf-8" },
		{ "htm",	"text/html; charset=utf-8" },
		{ "js",		"text/javascript; charset=utf-8" },
		{ "mjs",	"text/javascript; charset=utf-8" },
		{ "css",	"text/css; charset=utf-8" },
		{ "txt",	"text/plain; charset=utf-8" },
		{ "svg",	"image/svg+xml" },
		{ "png",	"image/png" },
		{ "ico",	"image/x-icon" },
		{ "json",	"application/json" },
		{ "map",	"application/json" },
		{ "wasm",	"application/wasm" },
		{ "woff",	"font/woff" },
		{ "woff2",	"font/woff2" },
	};
	const char	*dot, *slash;
	size_t		 i;

	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (dot != NULL && (slash == NULL || dot > slash))
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

const char *
http_reason(int status)
{
	switch (status) {
	case 101:	return "Switching Protocols";
	case 200:	return "OK";
	case 204:	return "No Content";
	case 301:	return "Moved Permanently";
	case 302:	return "Found";
	case 304:	return "Not Modified";
	case 307:	return "Temporary Redirect";
	case 308:	return "Permanent Redirect";
	case 400:	return "Bad Request";
	case 401:	return "Unauthorized";
	case 403:	return "Forbidden";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 408:	return "Request Timeout";
	case 409:	return "Conflict";
	case 410:	return "Gone";
	case 413:	return "Content Too Large";
	case 414:	return "URI Too Long";
	case 426:	return "Upgrade Required";
	case 429:	return "Too Many Requests";
	case 431:	return "Request Header Fields Too Large";
	case 500:	return "Internal Server Error";
	case 501:	return "Not Implemented";
	case 502:	return "Bad Gateway";
	case 503:	return "Service Unavailable";
	case 504:	return "Gateway Timeout";
	case 505:	return "HTTP Version Not Supported";
	default:	return "Unknown";
	}
}

/* IMF-fixdate, without strftime so that no locale can change it. */
void
http_date(time_t t, char out[HTTP_DATE_LEN])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		out[0] = '\0';
		return;
	}
	snprintf(out, HTTP_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    http_days[tm.tm_wday], tm.tm_mday, http_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The three forms RFC 9110 5.6.7 obliges a recipient to accept:
 *	Sun, 06 Nov 1994 08:49:37 GMT	IMF-fixdate
 *	Sunday, 06-Nov-94 08:49:37 GMT	RFC 850
 *	Sun Nov  6 08:49:37 1994	asctime
 */
int
http_date_parse(const char *s, time_t *t)
{
	struct tm	 tm;
	const char	*p = s, *comma = strchr(s, ',');
	int		 ok;

	memset(&tm, 0, sizeof(tm));
	if (comma != NULL && comma - s == 3) {
		ok = http_weekday(&p, 0) == 0 && http_skip(&p, ", ") == 0 &&
		    http_digits(&p, 2, &tm.tm_mday) == 0 &&
		    http_skip(&p, " ") == 0 && http_month(&p, &tm.tm_mon) == 0 &&
		    http_skip(&p, " ") == 0 &&
		    http_digits(&p, 4, &tm.tm_year) == 0 &&
		    http_skip(&p, " ") == 0 && http_clock(&p, &tm) == 0 &&
		    http_skip(&p, " GMT") == 0;
		tm.tm_year -= 1900;
	} else if (comma != NULL) {
		ok = http_weekday(&p, 1) == 0 && http_skip(&p, ", ") == 0 &&
		    http_digits(&p, 2, &tm.tm_mday) == 0 &&
		    http_skip(&p, "-") == 0 && http_month(&p, &tm.tm_mon) == 0 &&
		    http_skip(&p, "-") == 0 &&
		    http_digits(&p, 2, &tm.tm_year) == 0 &&
		    http_skip(&p, " ") == 0 && http_clock(&p, &tm) == 0 &&
		    http_skip(&p, " GMT") == 0;
		/* Two-digit years: 70-99 are the past century. */
		if (tm.tm_year < 70)
			tm.tm_year += 100;
	} else {
		ok = http_weekday(&p, 0) == 0 && http_skip(&p, " ") == 0 &&
		    http_month(&p, &tm.tm_mon) == 0 && http_skip(&p, " ") == 0;
		if (ok && *p == ' ') {
			p++;
			ok = http_digits(&p, 1, &tm.tm_mday) == 0;
		} else if (ok)
			ok = http_digits(&p, 2, &tm.tm_mday) == 0;
		ok = ok && http_skip(&p, " ") == 0 &&
		    http_clock(&p, &tm) == 0 && http_skip(&p, " ") == 0 &&
		    http_digits(&p, 4, &tm.tm_year) == 0;
		tm.tm_year -= 1900;
	}
	if (!ok || *p != '\0')
		return -1;
	return http_mktime(&tm, t);
}

/* Exactly n digits. */
static int
http_digits(const char **pp, int n, int *v)
{
	const char	*p = *pp;
	int		 i;

	for (*v = 0, i = 0; i < n; i++, p++) {
		if (!http_digit(*p))
			return -1;
		*v = *v * 10 + (*p - '0');
	}
	*pp = p;
	return 0;
}

static int
http_month(const char **pp, int *mon)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (strncmp(*pp, http_months[i], 3) == 0) {
			*mon = i;
			*pp += 3;
			return 0;
		}
	return -1;
}

static int
http_weekday(const char **pp, int longform)
{
	const char	*const *names = longform ? http_longdays : http_days;
	size_t		 l;
	int		 i;

	for (i = 0; i < 7; i++) {
		l = strlen(names[i]);
		if (strncmp(*pp, names[i], l) == 0) {
			*pp += l;
			return 0;
		}
	}
	return -1;
}

static int
http_clock(const char **pp, struct tm *tm)
{
	if (http_digits(pp, 2, &tm->tm_hour) == -1 ||
	    http_skip(pp, ":") == -1 ||
	    http_digits(pp, 2, &tm->tm_min) == -1 ||
	    http_skip(pp, ":") == -1 ||
	    http_digits(pp, 2, &tm->tm_sec) == -1)
		return -1;
	return 0;
}

static int
http_skip(const char **pp, const char *lit)
{
	size_t	l = strlen(lit);

	if (strncmp(*pp, lit, l) != 0)
		return -1;
	*pp += l;
	return 0;
}

/*
 * Range checks, then timegm, which normalises the fields: a day that moved
 * was one like 31 Feb.
 */
static int
http_mktime(struct tm *tm, time_t *t)
{
	int	mday = tm->tm_mday, mon = tm->tm_mon;

	if (mday < 1 || mday > 31 || tm->tm_hour > 23 || tm->tm_min > 59 ||
	    tm->tm_sec > 60 || tm->tm_year < 70)
		return -1;
	if (tm->tm_sec == 60)
		tm->tm_sec = 59;	/* a leap second */
	if ((*t = timegm(tm)) == (time_t)-1)
		return -1;
	if (tm->tm_mday != mday || tm->tm_mon != mon)
		return -1;
	return 0;
}
