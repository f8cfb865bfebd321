/*
 * The client side of HTTP/1.1: the responses of upstream servers (Prism
 * logins and REST calls in authd, WebSocket upgrade answers in the
 * workers).  Parsing is in place and allocates nothing.
 */
#ifndef HTTPC_H
#define HTTPC_H

#include <stddef.h>
#include <sys/types.h>

#define HTTPC_MAX_HEADERS	48
#define HTTPC_MAX_HEAD		16384	/* a response head larger is refused */

struct httpc_hdr {
	char		*name;
	char		*value;
};

struct httpc_resp {
	int		 status;
	struct httpc_hdr hdr[HTTPC_MAX_HEADERS];
	size_t		 nhdr;
	char		*body;		/* NUL-terminated, chunking removed */
	size_t		 bodylen;
};

ssize_t		 httpc_head_len(const char *, size_t);
int		 httpc_parse_head(struct httpc_resp *, char *, size_t);
int		 httpc_parse_body(struct httpc_resp *, char *, size_t, int);
const char	*httpc_get(const struct httpc_resp *, const char *);
const char	*httpc_next(const struct httpc_resp *, const char *, size_t *);
int		 httpc_token_has(const char *, const char *);

#endif /* HTTPC_H */
