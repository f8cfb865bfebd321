/*
 * The metrics listener (metrics-listen), as a worker serves it.  The
 * master binds the socket and passes it to the workers with the console
 * listeners, but never reads from it: a worker accepts each scrape and
 * reads its head with the ordinary parser and bounds (max-head-size,
 * max-headers, head-timeout), so malformed heads get 400, other methods
 * 405.  GET or HEAD of exactly /metrics asks the master for the page; it
 * renders the counters it owns and sends the text back in parts, which the
 * worker gathers, METRICS_PAGE_MAX bytes at most, and answers with 200.
 * No page within EXPORTER_DEADLINE seconds, or one too big, is 503; any
 * other target is 404.  Nothing else is reachable here: no static file,
 * console route, console API or debug trigger.  A worker holds
 * EXPORTER_MAXCONNS of these connections at most and closes each after
 * its answer.
 */
#include <sys/types.h>

#include <string.h>

#include "log.h"
#include "proc.h"
#include "worker.h"

#define EXPORTER_MAXCONNS	8
#define EXPORTER_DEADLINE	5
#define EXPORTER_CTYPE		"text/plain; version=0.0.4; charset=utf-8"

/* Whether this worker holds as many metrics connections as it may. */
int
exporter_full(void)
{
	struct conn	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &worker->conns, entry)
		if (c->metrics && ++n >= EXPORTER_MAXCONNS)
			return 1;
	return 0;
}

static void
exporter_fail(struct conn *c, const char *why)
{
	log_debug("conn %u from %s: no metrics page: %s", c->id, c->peer, why);
	evtimer_del(c->timer);
	if (c->page != NULL) {
		evbuffer_free(c->page);
		c->page = NULL;
	}
	server_plain_error(c, 503);
}

/* The request head parsed as GET or HEAD: ask the master for the page. */
void
exporter_request(struct conn *c)
{
	if (strcmp(c->req.path, "/metrics") != 0 || c->req.query != NULL) {
		server_plain_error(c, 404);
		return;
	}
	c->state = CONN_SCRAPE;
	bufferevent_disable(c->bev, EV_READ);
	if ((c->page = evbuffer_new()) == NULL) {
		exporter_fail(c, "out of memory");
		return;
	}
	if (ipc_send(ps->master, IMSG_METRICS_REQ, c->id, -1, NULL, 0) == -1) {
		exporter_fail(c, "cannot ask the master");
		return;
	}
	evtimer_add(c->timer, (&(struct timeval){ EXPORTER_DEADLINE, 0 }));
}

void
exporter_timeout(struct conn *c)
{
	exporter_fail(c, "the master did not answer in time");
}

static void
exporter_answer(struct conn *c)
{
	evtimer_del(c->timer);
	server_write_head(c, 200, EXPORTER_CTYPE, NULL,
	    evbuffer_get_length(c->page), 0);
	if (strcmp(c->req.method, "HEAD") != 0)
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->page);
	conn_close_after_write(c);
}

/*
 * IMSG_METRICS_TEXT: a part of the page for connection peerid.  Parts for
 * a connection that has gone, or had its 503 already, are dropped.
 */
int
exporter_page(struct ipc_msg *m)
{
	struct metrics_part	 part;
	struct conn		*c;
	size_t			 n;

	if (m->hdr.len < sizeof(part))
		return -1;
	memcpy(&part, m->data, sizeof(part));
	n = m->hdr.len - sizeof(part);
	if (part.last > 1 || part.failed > 1 || (part.failed && n != 0))
		return -1;
	if ((c = conn_find(m->hdr.peerid)) == NULL || !c->metrics ||
	    c->state != CONN_SCRAPE)
		return 0;
	if (part.failed)
		exporter_fail(c, "the master gave none");
	else if (evbuffer_get_length(c->page) + n > METRICS_PAGE_MAX)
		exporter_fail(c, "over the size bound");
	else if (evbuffer_add(c->page, m->data + sizeof(part), n) == -1)
		exporter_fail(c, "out of memory");
	else if (part.last)
		exporter_answer(c);
	return 0;
}
