/*
 * Static files from the web root: noVNC and the console page.  The path
 * is cleaned before it is used, so nothing outside the root is reachable
 * even where no chroot holds (a worker started without root).  Files are
 * opened relative to a descriptor of the root taken before the sandbox.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "worker.h"

#define MAX_REQUESTS_PER_CONN	1000

static int	 webroot_fd = -1;

/* Called before the sandbox: the root's descriptor outlives the chroot. */
void
static_init(const char *webroot)
{
	if (webroot_fd != -1)
		return;
	if ((webroot_fd = open(webroot, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		log_warn("webroot %s", webroot);
}

static int
keep_alive(struct conn *c, struct http_req *r)
{
	const char	*h = http_get(r, "Connection");

	if (worker->draining || c->requests >= MAX_REQUESTS_PER_CONN)
		return 0;
	if (r->minor == 0)
		return h && http_list_has(h, "keep-alive");
	return !(h && http_list_has(h, "close"));
}

static int
static_open(const char *clean, struct stat *st, int *index)
{
	char	 path[1200];
	int	 fd;

	/* openat() with a relative path: strip the leading slash. */
	snprintf(path, sizeof(path), "%s", clean[1] ? clean + 1 : ".");
	fd = openat(webroot_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 || fstat(fd, st) == -1)
		goto fail;
	if (S_ISDIR(st->st_mode)) {
		/* No listings: a directory shows its index.html or nothing. */
		close(fd);
		*index = 1;
		snprintf(path, sizeof(path), "%s%sindex.html",
		    clean[1] ? clean + 1 : "", clean[1] ? "/" : "");
		fd = openat(webroot_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 || fstat(fd, st) == -1)
			goto fail;
	}
	if (!S_ISREG(st->st_mode))
		goto fail;
	return fd;
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

static int
not_modified(struct http_req *r, const char *etag, time_t mtime)
{
	const char	*inm = http_get(r, "If-None-Match");
	const char	*ims = http_get(r, "If-Modified-Since");
	time_t		 t;

	if (inm)
		return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
	if (ims && http_date_parse(ims, &t) == 0)
		return mtime <= t;
	return 0;
}

/* path is the request's path with any path-prefix taken off. */
void
static_serve(struct conn *c, struct http_req *r, const char *path)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct stat	 st;
	char		 clean[1024], etag[64], lm[HTTP_DATE_LEN], extra[256];
	int		 fd, index = 0, keep = keep_alive(c, r);

	if (http_path_clean(path, clean, sizeof(clean)) == -1 ||
	    (fd = static_open(clean, &st, &index)) == -1) {
		server_respond(c, 404, "text/plain; charset=utf-8", NULL,
		    "404 Not Found\n", 14, keep);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
	    (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
	http_date(st.st_mtime, lm);
	snprintf(extra, sizeof(extra), "ETag: %s\r\nLast-Modified: %s\r\n"
	    "Cache-Control: no-cache\r\n", etag, lm);
	if (not_modified(r, etag, st.st_mtime)) {
		close(fd);
		server_respond(c, 304, NULL, extra, NULL, 0, keep);
		return;
	}
	server_write_head(c, 200, http_mime_type(index ? "index.html" : clean),
	    extra, st.st_size, keep);
	if (strcmp(r->method, "HEAD") == 0 || st.st_size == 0)
		close(fd);
	else if (evbuffer_add_file(out, fd, 0, st.st_size) == -1)
		close(fd);
	if (keep)
		server_next_request(c);
	else
		conn_close_after_write(c);
}
