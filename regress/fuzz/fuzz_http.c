/*
 * libFuzzer harness: the worker's HTTP request head parser and what the
 * worker does with a parsed head (worker/http.c, worker/route.c).
 *
 * Input: one byte for max-headers, then the head.  Beyond "no crash", it
 * checks what a caller relies on: an accepted head is GET or HEAD with an
 * origin-form target and clean header lines; a cleaned path never climbs
 * or hides a separator; a route placeholder never holds a slash or a
 * control byte; a parsed date formats back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "fuzz.h"

static struct conf	*routes;

static const char *const patterns[] = {
	"/ws/vnc/{name}", "/vnc/{ip}", "/proxy/{uuid}", "/{token}/{vmi}",
	"/{prefix}/{token}/{vmi}", "/k8s/{namespace}/{vmi}",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct route	*r;
	size_t		 i;

	(void)argc;
	(void)argv;
	if ((routes = conf_new()) == NULL)
		abort();
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			abort();
		r->c.id = i;
		strlcpy_(r->c.pattern, patterns[i], sizeof(r->c.pattern));
		TAILQ_INSERT_TAIL(&routes->routes, r, entry);
	}
	return 0;
}

static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
check_request(const struct http_req *req, size_t max)
{
	const char	*v;
	size_t		 i, n;

	CHECK(strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0);
	CHECK(req->target == req->path && req->path[0] == '/');
	CHECK(req->minor == 0 || req->minor == 1);
	CHECK(req->nhdr <= max);
	for (i = 0; i < req->nhdr; i++) {
		CHECK(req->hdr[i].name[0] != '\0');
		for (v = req->hdr[i].name; *v; v++)
			CHECK(tchar(*v));
		v = req->hdr[i].value;
		CHECK(strpbrk(v, "\r\n") == NULL);
		n = strlen(v);
		CHECK(n == 0 || (v[0] != ' ' && v[0] != '\t' &&
		    v[n - 1] != ' ' && v[n - 1] != '\t'));
	}
}

static void
check_clean_path(const char *raw)
{
	char	 out[512];
	size_t	 n;

	if (http_path_clean(raw, out, sizeof(out)) == -1)
		return;
	n = strlen(out);
	CHECK(n < sizeof(out) && out[0] == '/');
	CHECK(strstr(out, "//") == NULL && strstr(out, "/./") == NULL);
	CHECK(strstr(out, "/../") == NULL && strchr(out, '\\') == NULL);
	CHECK(!(n >= 3 && strcmp(out + n - 3, "/..") == 0));
	CHECK(!(n >= 2 && strcmp(out + n - 2, "/.") == 0));
	for (n = 0; out[n]; n++)
		CHECK((unsigned char)out[n] >= 0x20 && out[n] != 0x7f);
}

static void
check_segment(const char *s, size_t size)
{
	size_t	 n = strnlen(s, size);

	CHECK(n < size);
	for (; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f && *s != '/' &&
		    *s != '\\');
}

static void
check_route(const char *path)
{
	char	 target[HOST_LEN], ns[NAME_LEN], token[TOKEN_MAXLEN + 1];

	if (route_match(routes, path, target, sizeof(target), ns, sizeof(ns),
	    token, sizeof(token)) == NULL) {
		CHECK(target[0] == '\0' && ns[0] == '\0' && token[0] == '\0');
		return;
	}
	check_segment(target, sizeof(target));
	check_segment(ns, sizeof(ns));
	check_segment(token, sizeof(token));
}

static void
check_date(const char *v)
{
	char	 again[HTTP_DATE_LEN];
	time_t	 t, t2;

	if (v == NULL || http_date_parse(v, &t) == -1)
		return;
	http_date(t, again);
	CHECK(again[0] != '\0');
	CHECK(http_date_parse(again, &t2) == 0 && t2 == t);
}

static void
check_helpers(const struct http_req *req)
{
	char	 out[TOKEN_MAXLEN + 1];

	check_clean_path(req->path);
	check_route(req->path);
	if (http_query_get(req->query, "token", out, sizeof(out)) == 0)
		CHECK(strlen(out) < sizeof(out));
	if (http_cookie_get(http_get(req, "Cookie"), "token", out,
	    sizeof(out)) == 0)
		CHECK(strlen(out) < sizeof(out));
	(void)http_list_has(http_get(req, "Connection"), "upgrade");
	(void)ws_key_valid(http_get(req, "Sec-WebSocket-Key"));
	(void)http_mime_type(req->path);
	check_date(http_get(req, "If-Modified-Since"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req	*req;
	char		*head;
	size_t		 max;

	if (size < 1)
		return 0;
	max = data[0] % (HTTP_MAX_HEADERS + 8);
	/*
	 * The head's bytes and the NUL that server_head() puts after
	 * them, nothing more, so that a read past them is caught.
	 */
	if ((head = malloc(size)) == NULL ||
	    (req = calloc(1, sizeof(*req))) == NULL)
		abort();
	memcpy(head, data + 1, size - 1);
	head[size - 1] = '\0';
	if (http_parse(req, head, size - 1, max) == 0) {
		check_request(req, max == 0 || max > HTTP_MAX_HEADERS ?
		    HTTP_MAX_HEADERS : max);
		check_helpers(req);
	}
	free(req);
	free(head);
	return 0;
}
