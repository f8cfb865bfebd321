/*
 * The HTTP front: accept, TLS, read one bounded request head under a
 * deadline, then hand it to the static file server or to a WebSocket
 * route (on the metrics listener, to exporter.c alone).  Nothing is read
 * past the head: GET and HEAD carry no body.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>

#include "log.h"
#include "proc.h"
#include "worker.h"

static void	conn_head_read(struct bufferevent *, void *);
static void	conn_event(struct bufferevent *, short, void *);
static void	conn_timeout(evutil_socket_t, short, void *);

static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: SAMEORIGIN\r\n";

struct conn *
conn_find(uint32_t id)
{
	struct conn	*c;

	LIST_FOREACH(c, &worker->byid[id % CONN_BUCKETS], byid)
		if (c->id == id)
			return c;
	return NULL;
}

/* The peer's address as text, and its port for show sessions. */
static void
peer_string(struct sockaddr *sa, char *buf, size_t len, uint16_t *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)sa;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)sa;

	buf[0] = '\0';
	*port = 0;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, buf, len);
		*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len);
		*port = ntohs(sin6->sin6_port);
	} else
		snprintf(buf, len, "local");
}

/* The connection's one timer, back on conn_timeout (the relay borrows it). */
static void
conn_arm_timer(struct conn *c, int seconds)
{
	event_del(c->timer);
	evtimer_assign(c->timer, ps->base, conn_timeout, c);
	evtimer_add(c->timer, (&(struct timeval){ seconds, 0 }));
}

/*
 * A closing connection goes once its callers have returned: still in
 * this loop iteration, but never under a caller that holds it.
 */
static void
conn_free_soon(struct conn *c)
{
	event_del(c->timer);
	evtimer_assign(c->timer, ps->base, conn_timeout, c);
	event_active(c->timer, EV_TIMEOUT, 1);
}

/* A connection whose stream is broken goes without another byte. */
void
conn_abort(struct conn *c)
{
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->up)
		bufferevent_disable(c->up, EV_READ | EV_WRITE);
	conn_free_soon(c);
}

/* A drain still answers scrapes: the operator watches it end. */
int
server_accepting(const struct wlistener *wl)
{
	return !worker->draining || wl->c.metrics;
}

void
server_accept(struct wlistener *wl, int fd, struct sockaddr *sa, int salen)
{
	struct conn	*c;

	(void)salen;
	if (!server_accepting(wl) || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	/* No TCP_NODELAY here: Linux copies it from the listening socket. */
	/*
	 * Ids are unique daemon-wide: the worker is in the top byte.  The
	 * counter wraps after 2^24 connections, so an id that a long session
	 * still holds is skipped, and so is 0.
	 */
	do
		c->id = ((uint32_t)ps->id << 24) |
		    (++worker->next_id & CONN_ID_MASK);
	while ((c->id & CONN_ID_MASK) == 0 || conn_find(c->id) != NULL);
	c->state = CONN_HEAD;
	c->tls = wl->c.tls;
	c->metrics = wl->c.metrics;
	peer_string(sa, c->peer, sizeof(c->peer), &c->peer_port);
	gettimeofday(&c->since, NULL);
	if (wl->ctx)
		c->bev = tls_accept(wl->ctx, fd);
	else
		c->bev = bufferevent_socket_new(ps->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(ps->base, conn_timeout, c);
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev == NULL)
			close(fd);
		conn_free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&worker->conns, c, entry);
	LIST_INSERT_HEAD(&worker->byid[c->id % CONN_BUCKETS], c, byid);
	worker->stats.connections++;
	worker_load_publish();
	bufferevent_setcb(c->bev, conn_head_read, NULL, conn_event, c);
	/* The whole head within head-timeout, however slowly it drips. */
	conn_arm_timer(c, ps->conf->g.head_timeout);
	/*
	 * The listener defers accept(2) until data came: read it now.  A
	 * whole head goes on to authd without a read event added for it;
	 * the start of one enables reading for the rest.  Writing is on
	 * already: enabling it would only add a write event.
	 */
	if (!c->tls && relay_fill(c->bev, RELAY_LIBEVENT_READ) > 0)
		conn_head_read(c->bev, c);
	else
		bufferevent_enable(c->bev, EV_READ);
}

/*
 * A request head may carry a token (query, cookie, subprotocol) or an
 * API key: once its request has gone to authd it is wiped, not kept for
 * the whole session.
 */
void
conn_forget_head(struct conn *c)
{
	if (c->head != NULL) {
		explicit_bzero(c->head, c->headlen);
		free(c->head);
	}
	c->head = NULL;
	c->headlen = 0;
	memset(&c->req, 0, sizeof(c->req));
}

void
conn_free(struct conn *c)
{
	if (c->state == CONN_RELAY || c->auth_session)
		session_end(c, 0, NULL);
	if (c->timer)
		event_free(c->timer);
	if (c->bev) {
		TAILQ_REMOVE(&worker->conns, c, entry);
		LIST_REMOVE(c, byid);
		worker->stats.connections--;
		worker_load_publish();
		tls_release(c->bev);
		bufferevent_free(c->bev);
	}
	if (c->up)
		bufferevent_free(c->up);
	if (c->page)
		evbuffer_free(c->page);
	conn_forget_head(c);
	free(c);
	if (worker->draining && TAILQ_EMPTY(&worker->conns)) {
		log_info("drained");
		exit(0);
	}
}

/* A connection between requests, or before its first, goes now. */
static void
conn_close_idle(struct conn *c)
{
	if (c->tls)
		tls_close_notify(c->bev);
	conn_free(c);
}

#define LINGER_MAXBYTES	(1024 * 1024)

static size_t
outlen(struct bufferevent *bev)
{
	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) +
	    tls_queued(bev) : 0;
}

/* Reads and drops what the client still sends after our last byte. */
static void
conn_discard(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	c->discarded += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->discarded > LINGER_MAXBYTES)
		conn_free_soon(c);
}

static void
conn_linger_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

/*
 * Everything is sent.  Closing now, with unread input queued, would make
 * the kernel answer with a reset that can destroy our last bytes (the
 * close frame) in flight.  So half-close (over TLS: a close_notify), read
 * and drop what still comes, and close on the client's EOF, or after a
 * bounded time or amount.
 */
static void
conn_linger(struct conn *c)
{
	int	 fd = bufferevent_getfd(c->bev);

	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (c->lingering || fd == -1) {
		conn_free_soon(c);
		return;
	}
	c->lingering = 1;
	if (c->tls)
		tls_close_notify(c->bev);
	/* Reset by the peer (it closed with our bytes unread): nobody waits. */
	if (!c->tls && shutdown(fd, SHUT_WR) == -1 && errno == ENOTCONN) {
		conn_free_soon(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_discard, NULL, conn_linger_event, c);
	bufferevent_enable(c->bev, EV_READ);
	conn_arm_timer(c, 2);
	conn_discard(c->bev, c);
}

/* Called whenever either side's output drains while closing. */
static void
conn_check_flushed(struct conn *c)
{
	if (c->state != CONN_CLOSING || c->lingering)
		return;
	if (outlen(c->bev) == 0 && outlen(c->up) == 0)
		conn_linger(c);
}

static void
conn_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_check_flushed(arg);
}

static void
conn_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* The console is gone: what was queued for it cannot go. */
		bufferevent_free(c->up);
		c->up = NULL;
		conn_check_flushed(c);
	}
}

/*
 * Sends what is queued to both sides, then closes; a peer that never
 * reads is cut off by the timer.
 */
void
conn_close_after_write(struct conn *c)
{
	c->state = CONN_CLOSING;
	/* All sent already: no reads to stop, no write event to wait for. */
	if (outlen(c->bev) == 0 && outlen(c->up) == 0) {
		conn_linger(c);
		return;
	}
	if (c->up) {
		bufferevent_disable(c->up, EV_READ);
		bufferevent_setcb(c->up, NULL, conn_flushed, conn_up_event, c);
		bufferevent_setwatermark(c->up, EV_WRITE, 0, 0);
	}
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, conn_flushed, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	conn_arm_timer(c, 5);
	conn_check_flushed(c);
}

static void
conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_HEAD:
		log_debug("conn %u from %s: request head timed out", c->id,
		    c->peer);
		conn_close_idle(c);
		break;
	case CONN_AUTH:
		server_error_json(c, 503, ERR_INTERNAL_ERROR);
		break;
	case CONN_UPSTREAM:
		upclient_timeout(c);
		break;
	case CONN_CLOSING:
		conn_free(c);
		break;
	case CONN_RELAY:
		break;
	case CONN_SCRAPE:
		exporter_timeout(c);
		break;
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->state == CONN_RELAY)
			c->reason = (what & BEV_EVENT_EOF) ? "client closed" :
			    "client error";
		conn_free(c);
	}
}

/* The status line and headers of a response whose body has len bytes. */
void
server_write_head(struct conn *c, int status, const char *ctype,
    const char *extra, size_t len, int keep)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 date[HTTP_DATE_LEN];

	http_date(time(NULL), date);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Server: vncrelayd\r\n%s", status, http_reason(status), date,
	    security_headers);
	if (ctype)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	evbuffer_add_printf(out, "Content-Length: %zu\r\n%s%s\r\n", len,
	    extra ? extra : "", keep ? "" : "Connection: close\r\n");
}

/*
 * Writes a complete response.  keep is 1 to read another request after
 * it, 0 to close once it is sent.
 */
void
server_respond(struct conn *c, int status, const char *ctype,
    const char *extra, const char *body, size_t len, int keep)
{
	int	 head_only = c->req.method && strcmp(c->req.method, "HEAD") == 0;

	server_write_head(c, status, ctype, extra, len, keep);
	if (body && len && !head_only)
		evbuffer_add(bufferevent_get_output(c->bev), body, len);
	if (keep)
		server_next_request(c);
	else
		conn_close_after_write(c);
}

/* An error before the upgrade: the status and seed 004's JSON body. */
void
server_error_json(struct conn *c, int status, enum err_code code)
{
	char	 body[256];
	int	 n;

	n = snprintf(body, sizeof(body), "{\"type\":\"error\",\"code\":\"%s\","
	    "\"error\":\"%s\"}\n", err_name(code), err_message(code));
	server_respond(c, status, "application/json", NULL, body, n, 0);
}

static void
server_plain(struct conn *c, int status, const char *extra)
{
	char	 body[128];
	int	 n;

	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    http_reason(status));
	server_respond(c, status, "text/plain; charset=utf-8", extra, body, n,
	    0);
}

/* Behind a reverse proxy the whole site may sit under a prefix. */
static const char *
server_site_path(const char *path)
{
	size_t	 plen = strlen(ps->conf->g.path_prefix);

	if (plen && strncmp(path, ps->conf->g.path_prefix, plen) == 0 &&
	    (path[plen] == '/' || path[plen] == '\0'))
		return path + plen;
	return path;
}

/*
 * A 405 says which methods the resource allows (RFC 9110 15.5.6): the
 * console API hands out tokens for GET alone; everything else answers
 * GET and HEAD (a route, HEAD included, with its own error).
 */
void
server_plain_error(struct conn *c, int status)
{
	const char	*path = c->req.path;

	if (status != 405)
		server_plain(c, status, NULL);
	else if (!c->metrics && path != NULL &&
	    api_match(server_site_path(path)) != NULL)
		server_plain(c, 405, "Allow: GET\r\n");
	else
		server_plain(c, 405, "Allow: GET, HEAD\r\n");
}

#ifdef VNCRELAYD_DEBUG
/* Debug builds only: ways for the tests to make a worker misbehave. */
static int
server_debug(struct conn *c, const char *path)
{
	char	 junk[3] = { 1, 2, 3 };

	if (!ps->conf->g.debug_triggers || strncmp(path, "/_debug/", 8) != 0)
		return 0;
	if (strcmp(path, "/_debug/malformed-ipc") == 0 && worker->authd) {
		log_warnx("debug: sending a malformed message to authd");
		ipc_send(worker->authd, IMSG_AUTH_REQ, 0, -1, junk,
		    sizeof(junk));
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/malformed-stats") == 0) {
		/* The counters claim a series that is not there. */
		struct worker_stats st = { .nseries = 1 };

		log_warnx("debug: sending malformed counters to the master");
		ipc_send(ps->master, IMSG_STATS, 0, -1, &st, sizeof(st));
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/foreign-session") == 0) {
		/* A session listed whose id is another worker's. */
		struct {
			struct session_list	l;
			struct session_info	i;
		} m = { { .n = 1, .last = 1 },
		    { .id = ((uint32_t)ps->id + 1) << 24 } };

		log_warnx("debug: listing another worker's session");
		ipc_send(ps->master, IMSG_SESSION_LIST, 0, -1, &m, sizeof(m));
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/foreign-scrape") == 0 ||
	    strcmp(path, "/_debug/long-scrape") == 0) {
		/* A metrics page for another's connection, or with a payload. */
		int	 foreign = path[8] == 'f';

		log_warnx("debug: asking the master for a page the wrong way");
		ipc_send(ps->master, IMSG_METRICS_REQ, foreign ?
		    ((uint32_t)ps->id + 1) << 24 : c->id, -1, junk,
		    foreign ? 0 : sizeof(junk));
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/leak") == 0) {
		/* For leak_sessions: proof that LeakSanitizer is watching. */
		char *volatile lost = malloc(64);

		log_warnx("debug: losing 64 bytes");
		if (lost != NULL)
			lost[0] = 1;
		lost = NULL;
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/rewind-ids") == 0) {
		/* The next connection would take the oldest one's id. */
		struct conn	*old = TAILQ_FIRST(&worker->conns);

		log_warnx("debug: connection ids rewound to %08x", old->id);
		worker->next_id = (old->id & CONN_ID_MASK) - 1;
		server_plain_error(c, 202);
		return 1;
	}
	if (strcmp(path, "/_debug/socket") == 0) {
		log_warnx("debug: calling socket(2)");
		if (socket(AF_INET, SOCK_STREAM, 0) != -1)
			log_warnx("debug: socket(2) was allowed");
		server_plain_error(c, 500);
		return 1;
	}
	return 0;
}
#endif

static int
is_upgrade(struct http_req *r)
{
	const char	*u = http_get(r, "Upgrade");
	const char	*conn = http_get(r, "Connection");

	return u && http_list_has(u, "websocket") && conn &&
	    http_list_has(conn, "upgrade");
}

/* 426 names the protocol and the one version we speak, then closes. */
static void
server_upgrade_required(struct conn *c, const char *body)
{
	server_respond(c, 426, "text/plain; charset=utf-8",
	    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", body,
	    strlen(body), 0);
}

static void
server_route(struct conn *c, struct route *r, const char *target,
    const char *ns, const char *token)
{
	const char	*v = http_get(&c->req, "Sec-WebSocket-Version");
	const char	*key = http_get(&c->req, "Sec-WebSocket-Key");

	if (!is_upgrade(&c->req)) {
		server_upgrade_required(c, "426 WebSocket upgrade required\n");
		return;
	}
	if (v == NULL || strcmp(v, "13") != 0) {
		server_upgrade_required(c,
		    "426 WebSocket version 13 required\n");
		return;
	}
	if (strcmp(c->req.method, "GET") != 0 || key == NULL ||
	    !ws_key_valid(key)) {
		server_plain_error(c, 400);
		return;
	}
	/* A VM uuid goes into Prism's URLs: nothing but 8-4-4-4-12 hex. */
	if (r->c.backend == BACKEND_PRISM && !uuid_valid(target)) {
		server_error_json(c, 400, ERR_BAD_REQUEST);
		return;
	}
	session_request(c, r, target, ns, token);
}

static void
server_dispatch(struct conn *c)
{
	struct route	*r;
	char		 target[HOST_LEN], ns[NAME_LEN], token[TOKEN_MAXLEN + 1];
	const char	*path = c->req.path, *api;

	/* The metrics listener serves /metrics, and nothing else at all. */
	if (c->metrics) {
		exporter_request(c);
		return;
	}
#ifdef VNCRELAYD_DEBUG
	if (server_debug(c, path))
		return;
#endif
	path = server_site_path(path);
	if (!is_upgrade(&c->req) && (api = api_match(path)) != NULL) {
		if (strcmp(c->req.method, "GET") != 0)
			server_plain_error(c, 405);
		else
			api_request(c, api);
		return;
	}
	r = route_match(ps->conf, path, target, sizeof(target), ns, sizeof(ns),
	    token, sizeof(token));
	if (r != NULL) {
		server_route(c, r, target, ns, token);
		explicit_bzero(token, sizeof(token));
		return;
	}
	if (is_upgrade(&c->req)) {
		server_error_json(c, 404, ERR_VM_NOT_FOUND);
		return;
	}
	static_serve(c, &c->req, path);
}

static void
server_head(struct conn *c, size_t len)
{
	int	 status;

	conn_forget_head(c);
	if ((c->head = malloc(len + 1)) == NULL) {
		conn_free(c);
		return;
	}
	evbuffer_remove(bufferevent_get_input(c->bev), c->head, len);
	c->head[len] = '\0';
	c->headlen = len;
	c->requests++;
	memset(&c->req, 0, sizeof(c->req));
	status = http_parse(&c->req, c->head, len, ps->conf->g.max_headers);
	if (status != 0) {
		log_debug("conn %u from %s: bad request head: %d", c->id,
		    c->peer, status);
		server_plain_error(c, status);
		return;
	}
	evtimer_del(c->timer);
	server_dispatch(c);
}

static void
conn_head_read(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p, lf;
	size_t			 max = ps->conf->g.max_head_size;

	if (c->state != CONN_HEAD)
		return;
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	/*
	 * Two LFs without CRs end a head for a lenient reader; we refuse
	 * bare LFs anyway, so say so now rather than at head-timeout.
	 */
	lf = evbuffer_search(in, "\n\n", 2, NULL);
	if (lf.pos != -1 && (p.pos == -1 || lf.pos < p.pos)) {
		bufferevent_disable(bev, EV_READ);
		server_plain_error(c, 400);
		return;
	}
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > max) {
			bufferevent_disable(bev, EV_READ);
			server_plain_error(c, 431);
		} else
			bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((size_t)p.pos + 4 > max) {
		bufferevent_disable(bev, EV_READ);
		server_plain_error(c, 431);
		return;
	}
	server_head(c, p.pos + 4);
}

/* After a keep-alive response: the next head, pipelined or not. */
void
server_next_request(struct conn *c)
{
	c->state = CONN_HEAD;
	conn_arm_timer(c, ps->conf->g.head_timeout);
	bufferevent_setcb(c->bev, conn_head_read, NULL, conn_event, c);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_head_read(c->bev, c);
}

/*
 * The master kills what is left two seconds after the drain time: what
 * is still flushing gets one of them, then the worker exits regardless.
 */
#define DRAIN_FLUSH	1

static void
server_drain_exit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_info("drain flush is over");
	exit(0);
}

/*
 * The drain time is over.  Each session still gets its 1001 close: it is
 * queued behind what the browser has not read yet, and the connection
 * closes once that has gone or DRAIN_FLUSH has passed.  Anything that is
 * not a session goes at once.
 */
static void
server_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c, *next;

	(void)fd;
	(void)what;
	(void)arg;
	log_info("drain time is over: closing the remaining sessions");
	for (c = TAILQ_FIRST(&worker->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_RELAY)
			session_end(c, WS_CLOSE_GOING_AWAY, "server shutdown");
		if (c->state == CONN_CLOSING)
			conn_arm_timer(c, DRAIN_FLUSH);
		else
			conn_free(c);
	}
	event_free(worker->ev_drain);
	worker->ev_drain = evtimer_new(ps->base, server_drain_exit, NULL);
	evtimer_add(worker->ev_drain, (&(struct timeval){ DRAIN_FLUSH,
	    500000 }));
}

/* Stop accepting; idle connections go now, sessions may finish. */
void
server_drain(void)
{
	struct wlistener	*wl;
	struct conn		*c, *next;

	if (worker->draining)
		return;
	worker->draining = 1;
	TAILQ_FOREACH(wl, &worker->listeners, entry)
		if (!server_accepting(wl))
			wlistener_enable(wl, 0);
	worker_load_publish();
	for (c = TAILQ_FIRST(&worker->conns); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_HEAD && !c->metrics)
			conn_close_idle(c);
	}
	if (TAILQ_EMPTY(&worker->conns)) {
		log_info("drained");
		exit(0);
	}
	worker->ev_drain = evtimer_new(ps->base, server_drain_timeout, NULL);
	evtimer_add(worker->ev_drain, (&(struct timeval){
	    ps->conf->g.drain_timeout, 0 }));
}
