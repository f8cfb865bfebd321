/*
 * A strict HTTP/1.1 request-head parser and the small helpers the worker
 * needs around it.  Nothing here does I/O or allocates.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <time.h>

#define HTTP_MAX_HEADERS	128	/* hard cap on max_headers */
#define HTTP_DATE_LEN		32

struct http_hdr {
	char		*name;
	char		*value;		/* optional whitespace trimmed */
};

/*
 * All pointers point into the head given to http_parse.  The target is
 * split in place at '?': target and path are the same string, the path
 * without its query, which is safe to log (a query may carry a token);
 * query is NULL when the target has no '?'.
 */
struct http_req {
	char		*method;
	char		*target;
	char		*path;
	char		*query;
	int		 minor;		/* HTTP/1.minor */
	struct http_hdr	 hdr[HTTP_MAX_HEADERS];
	size_t		 nhdr;
};

int		 http_parse(struct http_req *, char *, size_t, size_t);
const char	*http_get(const struct http_req *, const char *);
int		 http_list_has(const char *, const char *);
int		 http_path_clean(const char *, char *, size_t);
int		 http_query_get(const char *, const char *, char *, size_t);
int		 http_cookie_get(const char *, const char *, char *, size_t);
const char	*http_mime_type(const char *);
const char	*http_reason(int);
void		 http_date(time_t, char [HTTP_DATE_LEN]);
int		 http_date_parse(const char *, time_t *);

#endif /* HTTP_H */
