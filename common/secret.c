/*
 * Requests that carry a password, a cookie or a bearer token go into an
 * evbuffer by reference to a private copy, which is wiped and freed when
 * the evbuffer lets go of it.  Answers that carried one are wiped before
 * their buffer is freed.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "secret.h"

static void
secret_cleanup(const void *data, size_t len, void *arg)
{
	(void)arg;
	explicit_bzero((void *)data, len);
	free((void *)data);
}

/* Appends a copy of len bytes of s to out; -1 when it cannot. */
int
secret_add(struct evbuffer *out, const void *s, size_t len)
{
	void	*copy;

	if (len == 0)
		return 0;
	if ((copy = malloc(len)) == NULL)
		return -1;
	memcpy(copy, s, len);
	if (evbuffer_add_reference(out, copy, len, secret_cleanup, NULL) ==
	    -1) {
		secret_cleanup(copy, len, NULL);
		return -1;
	}
	return 0;
}

/* Wipes and empties what an input buffer still holds. */
void
secret_wipe_input(struct evbuffer *in)
{
	size_t		 len = evbuffer_get_length(in);
	unsigned char	*p;

	if (len > 0 && (p = evbuffer_pullup(in, -1)) != NULL)
		explicit_bzero(p, len);
	evbuffer_drain(in, len);
}
