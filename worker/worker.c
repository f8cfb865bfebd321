/*
 * The worker process: listeners, the channel to authd, drain on shutdown.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "log.h"
#include "proc.h"
#include "worker.h"

struct worker	*worker;

static void	worker_apply(struct conf *, struct conf *);
static int	worker_dispatch_master(struct ipc_msg *);

static const struct proc worker_proc = {
	.title = "worker",
	.type = PROC_WORKER,
	.apply = worker_apply,
	.dispatch_master = worker_dispatch_master,
};

/*
 * How many connections one wake-up may take, and how long a worker that
 * holds more than another leaves new ones to that one, in case it hangs.
 */
#define ACCEPT_BATCH	64
#define ACCEPT_LATER_US	5000

static void	worker_accept(struct wlistener *, int);

/* This worker's count of connections, for the others to see (load.c). */
void
worker_load_publish(void)
{
	load_set(ps->id, worker->draining ? LOAD_ABSENT :
	    worker->stats.connections);
}

static void
worker_accept_later(struct wlistener *wl, suseconds_t us)
{
	evtimer_add(wl->ev_later, (&(struct timeval){ 0, us }));
}

/*
 * accept(2) failed, most likely out of descriptors: pause this listener
 * for a moment instead of spinning on a socket that stays readable.
 */
static void
worker_accept_error(struct wlistener *wl, int e)
{
	log_warnx("accept on %s: %s: pausing for 1s", wl->c.addr, strerror(e));
	event_del(wl->ev);
	evtimer_del(wl->ev_later);
	evtimer_add(wl->ev_resume, (&(struct timeval){ 1, 0 }));
}

static void
worker_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wlistener_enable(arg, 1);
}

/* What a less busy worker left waiting is this one's after all. */
static void
worker_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_accept(arg, 1);
}

static void
worker_listen_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_accept(arg, 0);
}

/*
 * Takes the connections waiting, up to a batch.  The listener is
 * edge-triggered: every worker wakes once for each new connection.  One
 * that holds more than another leaves the queue to that one, which woke
 * too and takes all that waits, so nothing is stranded between them.  A
 * worker that left connections takes what is still waiting a moment
 * later (ACCEPT_LATER_US), so one that died or hangs delays the others no
 * longer than that.  A full batch is followed by the next at once.
 */
static void
worker_accept(struct wlistener *wl, int force)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 n, s;

	if (!server_accepting(wl) || evtimer_pending(wl->ev_resume, NULL))
		return;
	if (!force && !wl->c.metrics &&
	    load_busier(ps->id, worker->stats.connections)) {
		worker_accept_later(wl, ACCEPT_LATER_US);
		return;
	}
	for (n = 0; n < ACCEPT_BATCH; n++) {
		len = sizeof(ss);
		s = accept4(event_get_fd(wl->ev), (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			if (errno != EAGAIN)
				worker_accept_error(wl, errno);
			return;
		}
		if (wl->c.metrics && exporter_full()) {
			log_debug("metrics: too many connections");
			close(s);
		} else
			server_accept(wl, s, (struct sockaddr *)&ss, len);
		if (!server_accepting(wl))
			return;
	}
	worker_accept_later(wl, 0);
}

/* Whether the listener waits for connections now. */
void
wlistener_enable(struct wlistener *wl, int on)
{
	evtimer_del(wl->ev_later);
	if (!on || !server_accepting(wl)) {
		event_del(wl->ev);
		return;
	}
	evtimer_del(wl->ev_resume);
	event_add(wl->ev, NULL);
	/* Edge-triggered: what waits already brings no wake-up. */
	worker_accept_later(wl, 0);
}

static void
wlistener_free(struct wlistener *wl)
{
	if (wl->ev) {
		close(event_get_fd(wl->ev));
		event_free(wl->ev);
	}
	if (wl->ev_resume)
		event_free(wl->ev_resume);
	if (wl->ev_later)
		event_free(wl->ev_later);
	if (wl->ctx)
		SSL_CTX_free(wl->ctx);
	free(wl);
}

static struct wlistener *
wlistener_new(struct conf *c, struct listener *l)
{
	struct wlistener	*wl;

	if ((wl = calloc(1, sizeof(*wl))) == NULL)
		fatal("calloc");
	wl->c = l->c;
	if (l->c.tls && (wl->ctx = tls_server_ctx(c, &l->c)) == NULL) {
		free(wl);
		return NULL;
	}
	/*
	 * The master's socket is listening already, and all workers share
	 * it.  Per-worker SO_REUSEPORT sockets were measured against it
	 * (issue 7): no fewer accept(2) calls or wake-ups per handshake
	 * with deferred accept, and connections hashed to a dead worker's
	 * socket would wait for its restart; with one queue the others
	 * take them.  Each worker's count in the load page spreads them.
	 */
	if (evutil_make_socket_nonblocking(l->fd) == -1)
		fatal("listener %s", l->c.addr);
	wl->ev = event_new(ps->base, l->fd, EV_READ | EV_PERSIST | EV_ET,
	    worker_listen_cb, wl);
	wl->ev_resume = evtimer_new(ps->base, worker_resume_cb, wl);
	wl->ev_later = evtimer_new(ps->base, worker_later_cb, wl);
	if (wl->ev == NULL || wl->ev_resume == NULL || wl->ev_later == NULL)
		fatalx("cannot set up listener %s", l->c.addr);
	l->fd = -1;	/* closed with wl->ev */
	return wl;
}

/*
 * A new configuration brings fresh copies of the listening sockets.  The
 * old listeners go; connections already accepted keep their TLS context,
 * which is reference counted, so a certificate reload drops nobody.
 */
static void
worker_apply(struct conf *nc, struct conf *old)
{
	struct wlistener	*wl;
	struct listener		*l;
	TAILQ_HEAD(, wlistener)	 fresh = TAILQ_HEAD_INITIALIZER(fresh);

	if (old == NULL)
		static_init(nc->g.webroot);
	upclient_configure(nc);
	relay_splice_configure(nc->g.buffer_size);
	TAILQ_FOREACH(l, &nc->listeners, entry) {
		if ((wl = wlistener_new(nc, l)) == NULL) {
			log_warnx("listener %s: TLS setup failed, not served "
			    "until a reload", l->c.addr);
			continue;
		}
		TAILQ_INSERT_TAIL(&fresh, wl, entry);
	}
	while ((wl = TAILQ_FIRST(&worker->listeners)) != NULL) {
		TAILQ_REMOVE(&worker->listeners, wl, entry);
		wlistener_free(wl);
	}
	while ((wl = TAILQ_FIRST(&fresh)) != NULL) {
		TAILQ_REMOVE(&fresh, wl, entry);
		TAILQ_INSERT_TAIL(&worker->listeners, wl, entry);
		wlistener_enable(wl, 1);
	}
	worker_load_publish();
}

int
worker_ask_authd(struct conn *c, struct auth_req *q)
{
	(void)c;
	if (worker->authd == NULL)
		return -1;
	return ipc_send(worker->authd, IMSG_AUTH_REQ, 0, -1, q, sizeof(*q));
}

static int
worker_dispatch_authd(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct auth_resp	*r;
	struct api_resp		*ar;
	struct conn		*c;

	(void)ipc;
	(void)arg;
	if (m->hdr.type == IMSG_API_RESP && m->hdr.len == sizeof(*ar)) {
		ar = (struct api_resp *)m->data;
		if (!ipc_str_ok(ar->token, sizeof(ar->token)) ||
		    !ipc_str_ok(ar->type, sizeof(ar->type)))
			return -1;
		if ((c = conn_find(ar->session)) != NULL &&
		    c->state == CONN_AUTH && c->api)
			api_verdict(c, ar);
		explicit_bzero(m->data, m->hdr.len);
		return 0;
	}
	if (m->hdr.type != IMSG_AUTH_RESP || m->hdr.len != sizeof(*r)) {
		log_warnx("unexpected message %u from authd", m->hdr.type);
		return -1;
	}
	r = (struct auth_resp *)m->data;
	if (!ipc_str_ok(r->target, sizeof(r->target)) ||
	    !ipc_str_ok(r->ws_headers, sizeof(r->ws_headers)) ||
	    !ipc_str_ok(r->ws_path, sizeof(r->ws_path)) ||
	    !ipc_str_ok(r->ws_protocol, sizeof(r->ws_protocol)) ||
	    !ipc_str_ok(r->sni, sizeof(r->sni)) ||
	    !ipc_str_ok(r->ca, sizeof(r->ca)) ||
	    !ipc_str_ok(r->client, sizeof(r->client)) ||
	    !ipc_str_ok(r->user, sizeof(r->user)) ||
	    !ipc_str_ok(r->jti_hash, sizeof(r->jti_hash))) {
		log_warnx("malformed verdict from authd");
		return -1;
	}
	if ((c = conn_find(r->session)) == NULL || c->state != CONN_AUTH) {
		/* The browser left while authd decided. */
		if (m->fd != -1)
			close(m->fd);
		m->fd = -1;
		if (r->code == ERR_NONE && worker->authd) {
			struct session_end se = { .session = r->session };
			ipc_send(worker->authd, IMSG_SESSION_END, 0, -1, &se,
			    sizeof(se));
		}
		return 0;
	}
	session_verdict(c, r, m->fd);
	m->fd = -1;
	explicit_bzero(m->data, m->hdr.len);
	return 0;
}

/*
 * authd is gone, and with it the answers it owed: the requests waiting
 * for them fail now with INTERNAL_ERROR, as new ones do until the master
 * hands over a channel to the next authd, rather than at their timeout.
 */
static void
worker_authd_closed(struct ipc *ipc, void *arg)
{
	struct conn	*c, *next;

	(void)arg;
	log_warnx("authd channel closed: waiting for a new one");
	ipc_free(ipc);
	worker->authd = NULL;
	for (c = TAILQ_FIRST(&worker->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_AUTH) {
			log_info("conn %u: authd went away while deciding",
			    c->id);
			server_error_json(c, 503, ERR_INTERNAL_ERROR);
		}
	}
}

static void
worker_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	report_stats();
	/* Live sessions move bytes without a word: report them each second. */
	if (worker->stats.sessions_active > 0)
		worker_stats_dirty();
}

/* Counters reach the master in batches, at most once a second. */
void
worker_stats_dirty(void)
{
	if (!evtimer_pending(worker->ev_stats, NULL))
		evtimer_add(worker->ev_stats, (&(struct timeval){ 1, 0 }));
}

/*
 * A new authd knows nothing of the sessions already running: tell it, so
 * that its limits count them.
 */
static void
worker_claim_sessions(void)
{
	struct session_claim	 sc;
	struct conn		*c;

	TAILQ_FOREACH(c, &worker->conns, entry) {
		if (!c->auth_session || c->finished)
			continue;
		memset(&sc, 0, sizeof(sc));
		sc.session = c->id;
		strlcpy_(sc.target, c->target, sizeof(sc.target));
		strlcpy_(sc.client, c->client, sizeof(sc.client));
		strlcpy_(sc.token, c->jti_hash, sizeof(sc.token));
		ipc_send(worker->authd, IMSG_SESSION_CLAIM, 0, -1, &sc,
		    sizeof(sc));
	}
	ipc_send(worker->authd, IMSG_CLAIMS_DONE, 0, -1, NULL, 0);
}

static int
worker_dispatch_master(struct ipc_msg *m)
{
	switch (m->hdr.type) {
	case IMSG_AUTHD_CHANNEL:
		if (m->fd == -1)
			return -1;
		if (worker->authd)
			ipc_free(worker->authd);
		worker->authd = ipc_new(ps->base, m->fd, 0,
		    worker_dispatch_authd, worker_authd_closed, NULL);
		m->fd = -1;
		log_info("authd channel");
		worker_claim_sessions();
		return 0;
	case IMSG_LOAD_PAGE:
		if (m->fd == -1 || m->hdr.len != 0)
			return -1;
		if (load_attach(m->fd) == -1)
			log_warn("load page: not balancing accepts");
		m->fd = -1;
		/* Counted once it listens, not before. */
		if (!TAILQ_EMPTY(&worker->listeners))
			worker_load_publish();
		return 0;
	case IMSG_SHUTDOWN:
		server_drain();
		return 0;
	case IMSG_CTL_KILL: {
		struct kill_result	 kr;

		if (m->hdr.len != sizeof(kr.session))
			return -1;
		memcpy(&kr.session, m->data, sizeof(kr.session));
		kr.found = session_kill(kr.session, "killed by the operator");
		ipc_send(ps->master, IMSG_CTL_KILLED, m->hdr.peerid, -1, &kr,
		    sizeof(kr));
		return 0;
	}
	case IMSG_CTL_SESSIONS:
		if (m->hdr.len != 0)
			return -1;
		report_sessions(m->hdr.peerid);
		return 0;
	case IMSG_METRICS_TEXT:
		return exporter_page(m);
	default:
		log_warnx("unexpected message %u from the master", m->hdr.type);
		return 0;
	}
}

/*
 * A relay pass allocates and frees buffer chains of up to buffer-size
 * bytes.  glibc would hand the freed top of the heap back at once and
 * fault the pages in again on the next pass; keeping up to a few MiB of
 * it costs one bulk-relaying worker that much, not every session.
 */
#define WORKER_MMAP_THRESHOLD	(1 << 20)
#define WORKER_TRIM_THRESHOLD	(4 << 20)

int
worker_main(int id, int verbose)
{
	mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD);
	if ((worker = calloc(1, sizeof(*worker))) == NULL)
		fatal("calloc");
	TAILQ_INIT(&worker->listeners);
	TAILQ_INIT(&worker->conns);
	proc_start(&worker_proc, id, verbose);
	relay_splice_init();
	worker->ev_stats = evtimer_new(ps->base, worker_stats_cb, NULL);
	if ((worker->stage = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	proc_run();
	return 0;
}
