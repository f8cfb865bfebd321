/*
 * authd: the only process that holds secrets, and the only one that
 * decides.  Each worker asks over its own channel; the answer carries a
 * verdict and, when allowed, a connected upstream socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "log.h"
#include "proc.h"

struct wchan	 wchans[MAX_WORKERS];

static void	authd_apply(struct conf *, struct conf *);
static int	authd_dispatch_master(struct ipc_msg *);

static const struct proc authd_proc = {
	.title = "authd",
	.type = PROC_AUTHD,
	.apply = authd_apply,
	.dispatch_master = authd_dispatch_master,
};

/*
 * Until the first configuration is in force there is nothing to decide
 * with: worker channels stay unread and token requests from the control
 * socket wait here, so that a request racing authd's start is answered
 * late rather than crashing it.
 */
#define EARLY_CTL_MAX	16
static struct ctl_token	 early_ctl[EARLY_CTL_MAX];
static int		 nearly_ctl;

/*
 * A new authd counts no session until the workers claim theirs, and knows
 * no used token until the master hands them back.  Console requests wait
 * (HELD_MAX of them) until the master has handed back every used token,
 * and every worker has said it claimed all or CLAIMS_WAIT seconds have
 * passed (a worker that is gone claims nothing): else a request could be
 * decided before another worker's claims arrive, and get a slot that is
 * taken, or before its token's jti arrives, and be let in twice.  The
 * master's hand-back has no such timeout: it comes, and it is bounded by
 * the replay cache.
 */
#define HELD_MAX	1024
#define CLAIMS_WAIT	2
static struct pendings	 held = TAILQ_HEAD_INITIALIZER(held);
static int		 nheld;
static int		 claims_in, handback_in, deciding;
static struct event	*ev_claims;

static void
authd_decide_held(void)
{
	struct pending	*p;

	if (!claims_in || !handback_in)
		return;
	deciding = 1;
	while ((p = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, p, entry);
		nheld--;
		decide(p);
	}
}

static void
authd_claims_in(void)
{
	claims_in = 1;
	if (ev_claims != NULL)
		evtimer_del(ev_claims);
	authd_decide_held();
}

static void
authd_claims_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!claims_in)
		log_info("not every worker claimed its sessions within %ds: "
		    "deciding anyway", CLAIMS_WAIT);
	if (!handback_in)
		log_info("the master has not handed back every used token "
		    "yet: requests wait for them");
	authd_claims_in();
}

/*
 * The master has handed back every used token; also how
 * regress/fuzz/fuzz_ipc.c, which plays no master, lets authd decide.
 */
void
authd_handback_in(void)
{
	handback_in = 1;
	authd_decide_held();
}

/* Have all the workers the configuration names claimed their sessions? */
static void
authd_claims_check(void)
{
	int	 i;

	if (claims_in)
		return;
	for (i = 0; i < ps->conf->g.prefork && i < MAX_WORKERS; i++)
		if (!wchans[i].claimed)
			return;
	authd_claims_in();
}

static void
authd_apply(struct conf *nc, struct conf *old)
{
	int	 i;

	decide_configure(nc, old == NULL);
	upstream_configure(nc);
	prism_configure(nc);
	if (old != NULL)
		return;
	if ((ev_claims = evtimer_new(ps->base, authd_claims_timeout,
	    NULL)) == NULL)
		fatal("evtimer_new");
	evtimer_add(ev_claims, (&(struct timeval){ CLAIMS_WAIT, 0 }));
	for (i = 0; i < MAX_WORKERS; i++)
		if (wchans[i].early_fd > 0) {
			authd_open_channel(i, wchans[i].early_fd);
			wchans[i].early_fd = 0;
		}
	for (i = 0; i < nearly_ctl; i++)
		issue_ctl(&early_ctl[i]);
	nearly_ctl = 0;
}

/* A request's memory may hold a token, a cookie or a bearer: wipe it. */
void
pending_free(struct pending *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->fd != -1)
		close(p->fd);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

/* Frees the requests of a worker that is gone from q; returns how many. */
int
pendings_drop_worker(struct pendings *q, int worker)
{
	struct pending	*p, *next;
	int		 n = 0;

	for (p = TAILQ_FIRST(q); p; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->worker != worker)
			continue;
		TAILQ_REMOVE(q, p, entry);
		pending_free(p);
		n++;
	}
	return n;
}

/*
 * Sends the verdict, with the upstream socket when there is one.  A
 * verdict for a worker that has restarted since it asked goes nowhere:
 * the new worker reuses session ids, and its slots are not this one's.
 */
void
authd_reply(struct pending *p, enum err_code code)
{
	struct wchan	*w = &wchans[p->worker];
	int		 fd = -1;
	char		 when[RFC3339_LEN];
	char		 route[LOG_VALUE_LEN(sizeof(p->route))];
	char		 target[LOG_VALUE_LEN(sizeof(p->resp.target))];
	char		 user[LOG_VALUE_LEN(sizeof(p->resp.user))];

	if (w->ipc == NULL || p->chan_gen != w->gen) {
		log_info("decision for worker%d session %u dropped: that "
		    "worker has gone", p->worker, p->req.session);
		pending_free(p);
		return;
	}
	p->resp.reqid = p->req.reqid;
	p->resp.session = p->req.session;
	p->resp.code = code;
	measure_decision(code);
	if (code == ERR_NONE) {
		fd = p->fd;
		p->fd = -1;
	} else {
		if (p->fd != -1) {
			close(p->fd);
			p->fd = -1;
		}
		if (p->acquired)
			decide_release(p->worker, p->req.session);
	}
	time_rfc3339(time(NULL), when);
	log_info("decision worker=%d session=%u client=%s route=%s target=%s "
	    "user=%s jti=%s result=%s time=%s", p->worker, p->req.session,
	    p->resp.client, log_value(p->route, route, sizeof(route)),
	    log_value(p->resp.target, target, sizeof(target)),
	    log_value(p->resp.user, user, sizeof(user)),
	    p->resp.jti_hash[0] ? p->resp.jti_hash : "-", err_name(code), when);
	if (ipc_send(w->ipc, IMSG_AUTH_RESP, 0, fd, &p->resp,
	    sizeof(p->resp)) == -1) {
		log_warn("reply to worker%d", p->worker);
		if (p->acquired)
			decide_release(p->worker, p->req.session);
		pending_free(p);
		return;
	}
	/* A WebSocket grant stays until the session ends: see upstream.c. */
	if (code == ERR_NONE && p->resp.upstream == UPSTREAM_WS) {
		upstream_keep(p);
		return;
	}
	pending_free(p);
}

static int
auth_req_ok(const struct auth_req *q)
{
#define S(x)	ipc_str_ok((x), sizeof(x))
	return S(q->peer) && S(q->xff) && S(q->xfproto) && S(q->host) &&
	    S(q->origin) && S(q->target) && S(q->ns) && S(q->token);
#undef S
}

/* A worker broke the protocol: the master ends it, and it is restarted. */
static int
authd_worker_bad(struct wchan *w, struct ipc_msg *m)
{
	log_warnx("worker%d: malformed message type %u length %u: ending it",
	    w->id, m->hdr.type, m->hdr.len);
	ipc_send(ps->master, IMSG_WORKER_BAD, w->id, -1, NULL, 0);
	return -1;
}

static int
authd_dispatch_worker(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct wchan	*w = arg;
	struct pending	*p;
	struct session_end se;
	struct api_req	 aq;
	struct session_claim sc;
	struct upstream_retry ur;

	(void)ipc;
	if (m->fd != -1)
		return authd_worker_bad(w, m);
	switch (m->hdr.type) {
	case IMSG_AUTH_REQ:
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatal("calloc");
		p->fd = -1;
		p->worker = w->id;
		p->chan_gen = w->gen;
		if (ipc_get(m, &p->req, sizeof(p->req)) == -1 ||
		    !auth_req_ok(&p->req)) {
			pending_free(p);
			return authd_worker_bad(w, m);
		}
		explicit_bzero(m->data, m->hdr.len);
		if (deciding)
			decide(p);
		else if (nheld < HELD_MAX) {
			TAILQ_INSERT_TAIL(&held, p, entry);
			nheld++;
		} else
			authd_reply(p, ERR_INTERNAL_ERROR);
		return 0;
	case IMSG_API_REQ:
		if (ipc_get(m, &aq, sizeof(aq)) == -1 ||
		    !ipc_str_ok(aq.peer, sizeof(aq.peer)) ||
		    !ipc_str_ok(aq.xff, sizeof(aq.xff)) ||
		    !ipc_str_ok(aq.target, sizeof(aq.target)) ||
		    !ipc_str_ok(aq.key, sizeof(aq.key)))
			return authd_worker_bad(w, m);
		issue_api(w, &aq);
		return 0;
	case IMSG_SESSION_CLAIM:
		if (ipc_get(m, &sc, sizeof(sc)) == -1 ||
		    !ipc_str_ok(sc.target, sizeof(sc.target)) ||
		    !ipc_str_ok(sc.client, sizeof(sc.client)) ||
		    !ipc_str_ok(sc.token, sizeof(sc.token)))
			return authd_worker_bad(w, m);
		decide_claim(w->id, &sc);
		return 0;
	case IMSG_CLAIMS_DONE:
		if (m->hdr.len != 0)
			return authd_worker_bad(w, m);
		w->claimed = 1;
		authd_claims_check();
		return 0;
	case IMSG_SESSION_END:
		if (ipc_get(m, &se, sizeof(se)) == -1)
			return authd_worker_bad(w, m);
		decide_release(w->id, se.session);
		return 0;
	case IMSG_UPSTREAM_RETRY:
		if (ipc_get(m, &ur, sizeof(ur)) == -1)
			return authd_worker_bad(w, m);
		if (upstream_retry(w->id, &ur) == -1)
			log_warnx("worker%d: retry for session %u, which has "
			    "no upstream grant", w->id, ur.session);
		return 0;
	default:
		return authd_worker_bad(w, m);
	}
}

static void
authd_worker_closed(struct ipc *ipc, void *arg)
{
	struct wchan	*w = arg;

	(void)ipc;
	log_debug("worker%d channel closed", w->id);
	connect_cancel_worker(w->id);
	nheld -= pendings_drop_worker(&held, w->id);
	decide_release_worker(w->id);
	ipc_free(w->ipc);
	w->ipc = NULL;
}

/* A worker's channel; also how regress/fuzz/fuzz_ipc.c talks to authd. */
void
authd_open_channel(int id, int fd)
{
	struct wchan	*w = &wchans[id];

	if (w->ipc != NULL)
		authd_worker_closed(w->ipc, w);
	w->id = id;
	w->gen++;
	w->ipc = ipc_new(ps->base, fd, id, authd_dispatch_worker,
	    authd_worker_closed, w);
}

static int
authd_dispatch_master(struct ipc_msg *m)
{
	struct wchan	*w;
	struct ctl_token ct;

	switch (m->hdr.type) {
	case IMSG_AUTHD_CHANNEL:
		if (m->fd == -1 || m->hdr.peerid >= MAX_WORKERS)
			return -1;
		w = &wchans[m->hdr.peerid];
		if (ps->conf == NULL) {
			if (w->early_fd > 0)
				close(w->early_fd);
			w->early_fd = m->fd;
		} else
			authd_open_channel(m->hdr.peerid, m->fd);
		m->fd = -1;
		return 0;
	case IMSG_SHUTDOWN:
		log_debug("shutting down");
		exit(0);
	case IMSG_CONNECT_UNIX:
		return connect_unix_done(m);
	case IMSG_BEARER:
		return kubevirt_bearer(m);
	case IMSG_REPLAY_CHANNEL:
		if (m->fd == -1 || m->hdr.len != 0)
			return -1;
		decide_replay_channel(m->fd);
		m->fd = -1;
		return 0;
	case IMSG_REPLAY_BATCH:
		if (handback_in)
			return -1;
		switch (decide_replay_batch(m)) {
		case -1:
			return -1;
		case 1:
			authd_handback_in();
			break;
		}
		return 0;
	case IMSG_CTL_TOKEN:
		if (ipc_get(m, &ct, sizeof(ct)) == -1 ||
		    !ipc_str_ok(ct.target, sizeof(ct.target)) ||
		    !ipc_str_ok(ct.user, sizeof(ct.user)))
			return -1;
		if (ps->conf != NULL)
			issue_ctl(&ct);
		else if (nearly_ctl < EARLY_CTL_MAX)
			early_ctl[nearly_ctl++] = ct;
		else
			log_warnx("token request before authd is configured: "
			    "%d already wait, dropping it", EARLY_CTL_MAX);
		explicit_bzero(&ct, sizeof(ct));
		return 0;
	default:
		log_warnx("unexpected message %u from the master", m->hdr.type);
		return 0;
	}
}

int
authd_main(int id, int verbose)
{
	proc_start(&authd_proc, id, verbose);
	proc_run();
	return 0;
}
