/*
 * Unit test of the request-head parser and helpers (worker/http.c).
 * Prints one "ok N - what" or "not ok N - what" line per check.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "tap.h"

static struct http_req	req;
static char		head[16384];


static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Parses a copy, since the parser writes into what it is given. */
static int
parse_n(const char *s, size_t n, size_t max)
{
	if (n > sizeof(head))
		abort();
	memcpy(head, s, n);
	return http_parse(&req, head, n, max);
}

static int
parse(const char *s)
{
	return parse_n(s, strlen(s), 0);
}

static void
test_good(void)
{
	const char	*three = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\n\r\n";
	char	 big[8192];
	size_t	 o, i;

	ok(parse("GET /vnc/10.0.0.1?token=abc&x=1 HTTP/1.1\r\n"
	    "Host: example.org\r\n"
	    "Upgrade:  websocket \t\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "X-Empty:\r\n"
	    "X-Obs: caf\xc3\xa9\tbar\r\n"
	    "\r\n") == 0, "WebSocket upgrade request parses");
	ok(streq(req.method, "GET") && streq(req.path, "/vnc/10.0.0.1") &&
	    streq(req.target, "/vnc/10.0.0.1") &&
	    streq(req.query, "token=abc&x=1") && req.minor == 1 &&
	    req.nhdr == 5, "method, path, query, version, header count");
	ok(streq(http_get(&req, "upgrade"), "websocket") &&
	    streq(http_get(&req, "HOST"), "example.org") &&
	    streq(http_get(&req, "x-empty"), "") &&
	    streq(http_get(&req, "X-Obs"), "caf\xc3\xa9\tbar") &&
	    http_get(&req, "missing") == NULL,
	    "http_get is case-insensitive and values are trimmed");
	ok(http_list_has(http_get(&req, "connection"), "upgrade"),
	    "Connection lists Upgrade");

	ok(parse("HEAD /index.html HTTP/1.0\r\n\r\n") == 0 &&
	    streq(req.method, "HEAD") && req.minor == 0 && req.query == NULL &&
	    req.nhdr == 0, "HTTP/1.0 HEAD without Host");
	ok(parse("GET /?x HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    streq(req.path, "/") && streq(req.query, "x"), "query only");
	ok(parse("GET /? HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    streq(req.query, ""), "empty query");
	ok(parse("POST /api/v1/console/vm?x HTTP/1.1\r\nHost: a\r\n\r\n") ==
	    405 && streq(req.path, "/api/v1/console/vm"),
	    "405 with the path, for its Allow header");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") ==
	    0, "Content-Length: 0 on GET");
	ok(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 0 &&
	    streq(http_get(&req, "host"), ""), "empty Host");
	ok(parse("GET /a;b=c@d:e!$&'()*+,~ HTTP/1.1\r\nHost: a\r\n\r\n") == 0,
	    "sub-delims in target");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~: 1\r\n\r\n")
	    == 0, "every tchar in a header name");

	ok(parse_n(three, strlen(three), 3) == 0,
	    "exactly max_headers headers");
	ok(parse_n(three, strlen(three), 2) == 431,
	    "one more than max_headers -> 431");

	o = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP_MAX_HEADERS; i++)
		o += snprintf(big + o, sizeof(big) - o, "X-%zu: v\r\n", i);
	o += snprintf(big + o, sizeof(big) - o, "\r\n");
	ok(parse_n(big, o, 0) == 0 && req.nhdr == HTTP_MAX_HEADERS,
	    "128 headers with the default cap");
	ok(parse_n(big, o, 1000) == 0, "max_headers above 128 is capped");
	o -= 2;
	o += snprintf(big + o, sizeof(big) - o, "X-last: v\r\n\r\n");
	ok(parse_n(big, o, 0) == 431, "129 headers -> 431");
	ok(parse_n(big, o, 1000) == 431, "129 headers, max 1000 -> 431");
}

static void
test_bad(void)
{
	static const struct {
		const char	*head;
		int		 status;
		const char	*why;
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "bare LF" },
		{ "GET / HTTP/1.1\nHost: a\r\n\r\n", 400,
		    "bare LF after the request line" },
		{ "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, "bare CR" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400,
		    "CR CR LF" },
		{ "GET / HTTP/1.1\nHost: a\n\n", 400, "LF line endings" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400,
		    "obs-fold with space" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", 400,
		    "obs-fold with tab" },
		{ "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
		    "first header line indented" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\001b\r\n\r\n", 400,
		    "control character in a value" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\177\r\n\r\n", 400,
		    "DEL in a value" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX(: y\r\n\r\n", 400,
		    "'(' in a header name" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX@Y: y\r\n\r\n", 400,
		    "'@' in a header name" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n: y\r\n\r\n", 400,
		    "empty header name" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400,
		    "space inside a header name" },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
		    "space before the colon" },
		{ "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400,
		    "tab before the colon" },
		{ "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, "no colon" },
		{ "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "missing Host on 1.1" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
		    "duplicate Host" },
		{ "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400,
		    "duplicate Host on 1.0" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
		    "content-length: 0\r\n\r\n", 400,
		    "duplicate Content-Length" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
		    400, "Content-Length: 5 on GET" },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n",
		    400, "Content-Length: 1 on HEAD" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -0\r\n\r\n",
		    400, "Content-Length: -0" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\n",
		    400, "Content-Length: 0, 0" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
		    400, "empty Content-Length" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n", 400, "Transfer-Encoding: chunked" },
		{ "GET / HTTP/1.0\r\ntransfer-encoding: identity\r\n\r\n", 400,
		    "Transfer-Encoding: identity" },
		{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "asterisk-form target" },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "absolute-form target" },
		{ "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "relative target" },
		{ "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "fragment in the target" },
		{ "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "raw non-ASCII in the target" },
		{ "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "space in the target" },
		{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double space" },
		{ "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "tab separator" },
		{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400,
		    "space after the version" },
		{ "GET /\r\nHost: a\r\n\r\n", 400, "no version" },
		{ "GET / \r\nHost: a\r\n\r\n", 400, "empty version" },
		{ " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "leading space" },
		{ "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		    "leading empty line" },
		{ "/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "no method" },
		{ "GET / http/1.1\r\nHost: a\r\n\r\n", 400,
		    "lowercase protocol name" },
		{ "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "HTTP/1.10" },
		{ "GET / HTTP/11\r\nHost: a\r\n\r\n", 400, "HTTP/11" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n", 400, "no empty line" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\n", 400,
		    "bytes after the empty line" },
		{ "", 400, "nothing" },
		{ "\r\n\r\n", 400, "only the empty lines" },
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0" },
		{ "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2" },
		{ "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP/0.9" },
		{ "POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "POST" },
		{ "PUT / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "PUT" },
		{ "get / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "lowercase get" },
		{ "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "CONNECT" },
		{ "POST / HTTP/3.0\r\nHost: a\r\n\r\n", 505,
		    "POST with HTTP/3.0: the version comes first" },
	};
	size_t	i;
	int	status;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		status = parse(t[i].head);
		ok(status == t[i].status, "%s -> %d (got %d)", t[i].why,
		    t[i].status, status);
	}
	ok(parse_n("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29, 0) == 400,
	    "NUL in a header value -> 400");
	ok(parse_n("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 28, 0) == 400,
	    "NUL in the target -> 400");
}

static void
test_list(void)
{
	ok(http_list_has("keep-alive, Upgrade", "upgrade"), "list: Upgrade");
	ok(http_list_has("keep-alive,Upgrade", "UPGRADE"), "list: no space");
	ok(http_list_has(" , ,upgrade ,", "upgrade"), "list: empty elements");
	ok(http_list_has("binary, base64", "base64") &&
	    http_list_has("binary, base64", "binary"), "list: subprotocols");
	ok(!http_list_has("Upgradex", "upgrade"), "list: no prefix match");
	ok(!http_list_has("xupgrade", "upgrade"), "list: no suffix match");
	ok(!http_list_has("up grade", "upgrade"), "list: no space match");
	ok(!http_list_has("", "upgrade") && !http_list_has(NULL, "upgrade"),
	    "list: empty and NULL");
	ok(!http_list_has("a, b", ""), "list: empty token");
}

static void
test_path(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} good[] = {
		{ "/", "/" },
		{ "/index.html", "/index.html" },
		{ "/app/core/rfb.js", "/app/core/rfb.js" },
		{ "/a/./b", "/a/b" },
		{ "/./a", "/a" },
		{ "/a//b", "/a/b" },
		{ "//a", "/a" },
		{ "///", "/" },
		{ "/a/", "/a/" },
		{ "/a/.", "/a/" },
		{ "/a/%2e", "/a/" },
		{ "/%2e/a", "/a" },
		{ "/%61%62c", "/abc" },
		{ "/a%20b", "/a b" },
		{ "/caf%C3%A9", "/caf\xc3\xa9" },
		{ "/...", "/..." },
		{ "/..a/a..", "/..a/a.." },
		{ "/.hidden", "/.hidden" },
	};
	static const struct {
		const char	*in;
		const char	*why;
	} bad[] = {
		{ "/../etc/passwd", "/../" },
		{ "/a/../../b", "/a/../../" },
		{ "/a/../b", "/a/../b" },
		{ "/a/..", "trailing /.." },
		{ "/..", "/.." },
		{ "/%2e%2e/x", "/%2e%2e/" },
		{ "/%2E%2E/x", "/%2E%2E/" },
		{ "/.%2e/x", "/.%2e/" },
		{ "/%2e./x", "/%2e./" },
		{ "/a/%2e%2e", "trailing /%2e%2e" },
		{ "/..%2fetc", "/..%2f" },
		{ "/a%2fb", "encoded slash" },
		{ "/a%2Fb", "encoded slash, upper case" },
		{ "/a%00b", "%00" },
		{ "/a\\b", "backslash" },
		{ "/..\\x", "/..\\" },
		{ "/a%5cb", "encoded backslash" },
		{ "/a%5Cb", "encoded backslash, upper case" },
		{ "/%zz", "bad escape %zz" },
		{ "/%4", "truncated escape %4" },
		{ "/%", "lone %" },
		{ "/%%32%65", "double encoding start" },
		{ "/a%0a", "encoded LF" },
		{ "/a\001", "raw control byte" },
		{ "/a%7f", "encoded DEL" },
		{ "a/b", "no leading slash" },
		{ "", "empty" },
	};
	char	out[64];
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 'X', sizeof(out));
		ok(http_path_clean(good[i].in, out, sizeof(out)) == 0 &&
		    streq(out, good[i].out), "path %s -> %s", good[i].in,
		    good[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(http_path_clean(bad[i].in, out, sizeof(out)) == -1,
		    "path refused: %s", bad[i].why);
	ok(http_path_clean("/abcdef", out, 8) == 0 && streq(out, "/abcdef"),
	    "path that just fits");
	ok(http_path_clean("/abcdefg", out, 8) == -1, "path one too long");
	ok(http_path_clean("/abcdef/", out, 8) == -1,
	    "final slash one too long");
	ok(http_path_clean("/a/b/../c", out, 2) == -1, "tiny buffer");
	ok(http_path_clean("/", out, 1) == -1, "no room at all");
}

static void
test_query(void)
{
	const char	*q = "token=abc%2Bdef+g&x=1&empty=&flag&x=2&bad=%zz"
	    "&nul=%00&trunc=%4&&last=z";
	char		 out[64];

	ok(http_query_get(q, "token", out, sizeof(out)) == 0 &&
	    streq(out, "abc+def g"), "query: %%2B and + decoded");
	ok(http_query_get(q, "x", out, sizeof(out)) == 0 && streq(out, "1"),
	    "query: first of two");
	ok(http_query_get(q, "empty", out, sizeof(out)) == 0 &&
	    streq(out, ""), "query: empty value");
	ok(http_query_get(q, "flag", out, sizeof(out)) == 0 &&
	    streq(out, ""), "query: name without =");
	ok(http_query_get(q, "last", out, sizeof(out)) == 0 &&
	    streq(out, "z"), "query: after an empty pair");
	ok(http_query_get(q, "tok", out, sizeof(out)) == -1,
	    "query: no prefix match");
	ok(http_query_get(q, "oken", out, sizeof(out)) == -1,
	    "query: no suffix match");
	ok(http_query_get(q, "missing", out, sizeof(out)) == -1,
	    "query: absent");
	ok(http_query_get(q, "bad", out, sizeof(out)) == -1,
	    "query: bad escape");
	ok(http_query_get(q, "nul", out, sizeof(out)) == -1, "query: %%00");
	ok(http_query_get(q, "trunc", out, sizeof(out)) == -1,
	    "query: truncated escape");
	ok(http_query_get(q, "token", out, 9) == -1, "query: too long");
	ok(http_query_get(q, "token", out, 10) == 0, "query: just fits");
	ok(http_query_get(NULL, "token", out, sizeof(out)) == -1,
	    "query: none");
	ok(http_query_get("path=proxy%2Fabc&name=vm", "path", out,
	    sizeof(out)) == 0 && streq(out, "proxy/abc"),
	    "query: vnc_auto.html path parameter");
}

static void
test_cookie(void)
{
	const char	*c = "a=1; token=xyz; quoted=\"q v\"; xtoken=no; "
	    "empty=;last=L ";
	char		 out[64];

	ok(http_cookie_get(c, "token", out, sizeof(out)) == 0 &&
	    streq(out, "xyz"), "cookie: token");
	ok(http_cookie_get(c, "a", out, sizeof(out)) == 0 && streq(out, "1"),
	    "cookie: first");
	ok(http_cookie_get(c, "quoted", out, sizeof(out)) == 0 &&
	    streq(out, "q v"), "cookie: quotes removed");
	ok(http_cookie_get(c, "xtoken", out, sizeof(out)) == 0 &&
	    streq(out, "no"), "cookie: longer name");
	ok(http_cookie_get(c, "empty", out, sizeof(out)) == 0 &&
	    streq(out, ""), "cookie: empty value");
	ok(http_cookie_get(c, "last", out, sizeof(out)) == 0 &&
	    streq(out, "L"), "cookie: no space after ;, trailing space");
	ok(http_cookie_get(c, "tok", out, sizeof(out)) == -1,
	    "cookie: no prefix match");
	ok(http_cookie_get(c, "missing", out, sizeof(out)) == -1,
	    "cookie: absent");
	ok(http_cookie_get(c, "token", out, 3) == -1, "cookie: too long");
	ok(http_cookie_get(c, "token", out, 4) == 0, "cookie: just fits");
	ok(http_cookie_get(NULL, "token", out, sizeof(out)) == -1,
	    "cookie: no header");
	ok(http_cookie_get("token=one; token=two", "token", out,
	    sizeof(out)) == 0 && streq(out, "one"), "cookie: first wins");
	ok(http_cookie_get("flag; token=t", "token", out, sizeof(out)) == 0 &&
	    streq(out, "t"), "cookie: after a pair without =");
}

static void
test_mime(void)
{
	static const struct {
		const char	*path;
		const char	*type;
	} t[] = {
		{ "/index.html", "text/html; charset=utf-8" },
		{ "/vnc_lite.HTML", "text/html; charset=utf-8" },
		{ "/app/ui.js", "text/javascript; charset=utf-8" },
		{ "/core/rfb.mjs", "text/javascript; charset=utf-8" },
		{ "/app/styles/base.css", "text/css; charset=utf-8" },
		{ "/app/images/x.svg", "image/svg+xml" },
		{ "/app/images/icons/n.png", "image/png" },
		{ "/favicon.ico", "image/x-icon" },
		{ "/package.json", "application/json" },
		{ "/a.js.map", "application/json" },
		{ "/d.wasm", "application/wasm" },
		{ "/f.woff", "font/woff" },
		{ "/f.woff2", "font/woff2" },
		{ "/LICENSE.txt", "text/plain; charset=utf-8" },
		{ "/LICENSE", "application/octet-stream" },
		{ "/dir.d/file", "application/octet-stream" },
		{ "/x.exe", "application/octet-stream" },
		{ "/x.", "application/octet-stream" },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(streq(http_mime_type(t[i].path), t[i].type), "mime %s: %s",
		    t[i].path, t[i].type);
}

static void
test_date(void)
{
	char	d[HTTP_DATE_LEN];
	time_t	t, now = time(NULL);

	ok(streq(http_reason(101), "Switching Protocols") &&
	    streq(http_reason(404), "Not Found") &&
	    streq(http_reason(431), "Request Header Fields Too Large") &&
	    streq(http_reason(505), "HTTP Version Not Supported") &&
	    streq(http_reason(999), "Unknown"), "reason phrases");

	http_date(784111777, d);
	ok(streq(d, "Sun, 06 Nov 1994 08:49:37 GMT"), "IMF-fixdate: %s", d);
	http_date(0, d);
	ok(streq(d, "Thu, 01 Jan 1970 00:00:00 GMT"), "epoch: %s", d);
	ok(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0 &&
	    t == 784111777, "parse IMF-fixdate");
	ok(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t) == 0 &&
	    t == 784111777, "parse RFC 850 date");
	ok(http_date_parse("Sun Nov  6 08:49:37 1994", &t) == 0 &&
	    t == 784111777, "parse asctime date");
	ok(http_date_parse("Thursday, 01-Jul-21 00:00:00 GMT", &t) == 0 &&
	    t == 1625097600, "RFC 850 two-digit year 21 is 2021");
	http_date(now, d);
	ok(http_date_parse(d, &t) == 0 && t == now, "round trip of now");
	ok(http_date_parse("Tue, 31 Dec 2024 23:59:60 GMT", &t) == 0,
	    "leap second accepted");
	ok(http_date_parse("Sun, 31 Feb 1994 08:49:37 GMT", &t) == -1,
	    "31 Feb refused");
	ok(http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t) == -1,
	    "UTC instead of GMT refused");
	ok(http_date_parse("Sun, 6 Nov 1994 08:49:37 GMT", &t) == -1,
	    "one-digit day refused in IMF-fixdate");
	ok(http_date_parse("Sun, 06 Nov 1994 24:00:00 GMT", &t) == -1,
	    "hour 24 refused");
	ok(http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", &t) == -1,
	    "unknown month refused");
	ok(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT junk", &t) == -1,
	    "trailing junk refused");
	ok(http_date_parse("Sun, 06 Nov 1969 08:49:37 GMT", &t) == -1,
	    "before 1970 refused");
	ok(http_date_parse("", &t) == -1 && http_date_parse("garbage", &t) ==
	    -1 && http_date_parse("Sun,", &t) == -1, "garbage refused");
}

int
main(void)
{
	test_good();
	test_bad();
	test_list();
	test_path();
	test_query();
	test_cookie();
	test_mime();
	test_date();
	return tap_done();
}
