/*
 * One HTTP request to an upstream's REST API (a Prism login, a VM
 * lookup), in authd's event loop: connect, TLS, write, read the whole
 * answer, call back.  Every fetch has a deadline and a size bound, so a
 * slow or hostile Prism costs one pending request, never the loop.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "authd.h"
#include "fetch.h"
#include "log.h"
#include "proc.h"
#include "secret.h"

#define FETCH_MAX	(64 * 1024)	/* the whole answer, head and body */
/* Deferred: a connect refused at once must not call back into fetch_start. */
#define FETCH_BEV_OPTS	(BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)

struct fetch {
	struct bufferevent	*bev;
	struct event		*deadline;
	struct timeval		 start;
	fetch_cb		 cb;
	void			*arg;
};

static void
fetch_free(struct fetch *f)
{
	/* The answer may hold a session cookie. */
	if (f->bev) {
		secret_wipe_input(bufferevent_get_input(f->bev));
		bufferevent_free(f->bev);
	}
	if (f->deadline)
		event_free(f->deadline);
	free(f);
}

static double
fetch_ms(struct fetch *f)
{
	struct timeval	 now, d;

	gettimeofday(&now, NULL);
	timersub(&now, &f->start, &d);
	return d.tv_sec * 1000.0 + d.tv_usec / 1000.0;
}

static void
fetch_fail(struct fetch *f, const char *why)
{
	struct fetch_result	 r;

	memset(&r, 0, sizeof(r));
	r.status = -1;
	r.ms = fetch_ms(f);
	strlcpy_(r.why, why, sizeof(r.why));
	f->cb(&r, f->arg);
	fetch_free(f);
}

/*
 * Parses what has arrived.  Returns 0 when the answer is complete (and
 * has gone to the callback), 1 when more is needed, -1 when it is bad.
 */
static int
fetch_try(struct fetch *f, int eof)
{
	struct evbuffer		*in = bufferevent_get_input(f->bev);
	struct fetch_result	 r;
	size_t			 len = evbuffer_get_length(in);
	ssize_t			 hl;
	char			*buf;
	int			 rv;

	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	evbuffer_copyout(in, buf, len);
	memset(&r, 0, sizeof(r));
	if ((hl = httpc_head_len(buf, len)) <= 0)
		rv = hl == 0 && !eof ? 1 : -1;
	else if (httpc_parse_head(&r.resp, buf, hl) == -1)
		rv = -1;
	else if ((rv = httpc_parse_body(&r.resp, buf + hl, len - hl,
	    eof)) == 1) {
		r.status = r.resp.status;
		r.ms = fetch_ms(f);
		f->cb(&r, f->arg);
		rv = 0;
	} else
		rv = rv == 0 ? 1 : -1;
	explicit_bzero(buf, len);
	free(buf);
	return rv;
}

static void
fetch_read(struct bufferevent *bev, void *arg)
{
	struct fetch	*f = arg;

	switch (fetch_try(f, 0)) {
	case 0:
		fetch_free(f);
		return;
	case 1:
		if (evbuffer_get_length(bufferevent_get_input(bev)) <
		    FETCH_MAX)
			return;
		fetch_fail(f, "answer too large");
		return;
	default:
		fetch_fail(f, "malformed HTTP answer");
	}
}

static void
fetch_event(struct bufferevent *bev, short what, void *arg)
{
	struct fetch	*f = arg;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF) {
		if (fetch_try(f, 1) == 0)
			fetch_free(f);
		else
			fetch_fail(f, "connection closed before a complete "
			    "answer");
		return;
	}
	tlsc_event_why(bev, why, sizeof(why));
	fetch_fail(f, why);
}

static void
fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fetch_fail(arg, "timed out");
}

/*
 * Sends request (a complete HTTP/1.1 message with Connection: close) to
 * the upstream t and calls cb once with the answer or the failure.
 */
int
fetch_start(const struct fetch_to *t, const char *request, size_t len,
    fetch_cb cb, void *arg)
{
	struct fetch		*f;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	SSL			*ssl = NULL;

	/* A login in clear text would hand the password to the network. */
	if (t->ctx == NULL || addr_sockaddr(t->addr, t->port, &ss,
	    &sslen) == -1 || (f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->cb = cb;
	f->arg = arg;
	gettimeofday(&f->start, NULL);
	if ((ssl = tlsc_new(t->ctx, t->host, t->verify)) == NULL)
		goto fail;
	f->bev = bufferevent_openssl_socket_new(ps->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, FETCH_BEV_OPTS);
	if (f->bev)
		bufferevent_openssl_set_allow_dirty_shutdown(f->bev, 1);
	else
		SSL_free(ssl);
	if (f->bev == NULL || (f->deadline = evtimer_new(ps->base,
	    fetch_timeout, f)) == NULL)
		goto fail;
	bufferevent_setcb(f->bev, fetch_read, NULL, fetch_event, f);
	bufferevent_setwatermark(f->bev, EV_READ, 0, FETCH_MAX);
	if (bufferevent_socket_connect(f->bev, (struct sockaddr *)&ss,
	    sslen) == -1 || secret_add(bufferevent_get_output(f->bev),
	    request, len) == -1 ||
	    bufferevent_enable(f->bev, EV_READ | EV_WRITE) == -1)
		goto fail;
	evtimer_add(f->deadline, (&(struct timeval){ t->timeout, 0 }));
	return 0;
fail:
	ERR_clear_error();
	fetch_free(f);
	return -1;
}
