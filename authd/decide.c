/*
 * The decision: may this request open this console?  In order: the real
 * client address, the handshake rate, the Origin, the token (signature,
 * lifetime, target), the session limits, one-time use, and finally the
 * upstream connection.  Nothing here blocks: the connect is the only
 * step that waits, and it waits in the event loop.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "authd.h"
#include "authd_limits.h"
#include "log.h"
#include "proc.h"
#include "token.h"

static struct token_keys	 keys = TAILQ_HEAD_INITIALIZER(keys);
static struct replay		*replay;
static struct limits		*limits;
static struct ipc		*notes;		/* used jti values, to the master */

static double
now_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
keys_clear(void)
{
	struct token_key	*k;

	while ((k = TAILQ_FIRST(&keys)) != NULL) {
		TAILQ_REMOVE(&keys, k, entry);
		token_key_clear(k);
		free(k);
	}
}

/*
 * Loads the token keys of a new configuration.  A key that fails to load
 * is left out with a warning; the rest work.
 */
/*
 * The replay cache and the counters exist before the first configuration:
 * the master and the workers refill them as soon as authd starts.
 */
static void
decide_init(void)
{
	if (replay == NULL && (replay = replay_new(REPLAY_DEFAULT_MAX)) == NULL)
		fatalx("cannot allocate the replay cache");
	if (limits == NULL && (limits = limits_new()) == NULL)
		fatalx("cannot allocate the session limits");
}

/*
 * replay-cache-size, at the first configuration and at each reload: the
 * entries stay.  Without the memory for it, the cache keeps its size.
 */
static void
decide_replay_size(size_t size)
{
	if (size == replay_max(replay))
		return;
	if (replay_resize(replay, size) == -1) {
		log_warnx("no memory for a replay cache of %zu: it keeps room "
		    "for %zu used tokens", size, replay_max(replay));
		return;
	}
	log_info("replay cache: room for %zu used tokens, %zu in it", size,
	    replay_count(replay));
}

/*
 * A batch of the jti values used before this authd started, which the
 * master remembered.  Returns 1 after the last batch, 0 when more are to
 * come (and asks for them), -1 when the batch is malformed.
 */
int
decide_replay_batch(struct ipc_msg *m)
{
	static uint32_t		 taken, batches, lost;
	struct replay_batch	 b;
	struct replay_note	 n;
	double			 now = now_seconds();
	uint32_t		 i, next;

	if (m->hdr.len < sizeof(b))
		return -1;
	memcpy(&b, m->data, sizeof(b));
	if (m->hdr.len != sizeof(b) + (size_t)b.n * sizeof(n))
		return -1;
	decide_init();
	for (i = 0; i < b.n; i++) {
		memcpy(&n, m->data + sizeof(b) + i * sizeof(n), sizeof(n));
		if (replay_add(replay, n.digest, n.exp, now) == -2)
			lost++;
	}
	taken += b.n;
	batches++;
	if (!b.last) {
		next = b.offset + b.n;
		ipc_send(ps->master, IMSG_REPLAY_MORE, 0, -1, &next,
		    sizeof(next));
		return 0;
	}
	if (taken > 0)
		log_info("took back %u used tokens from the master in %u "
		    "messages", taken, batches);
	if (lost > 0)
		log_warnx("replay cache full: %u used tokens taken back are "
		    "not remembered", lost);
	return 1;
}

static int
decide_notes_dispatch(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	(void)ipc;
	(void)arg;
	log_warnx("unexpected message %u on the replay channel", m->hdr.type);
	return -1;
}

static void
decide_notes_closed(struct ipc *ipc, void *arg)
{
	(void)arg;
	log_warnx("replay channel closed: used tokens go to the master's "
	    "channel");
	ipc_free(ipc);
	notes = NULL;
}

/*
 * The channel for used jti values.  The master reads it in batches, so
 * that a note wakes nobody; it is a socket all the same, and what authd
 * sent there before a verdict is the master's even if authd dies.
 */
void
decide_replay_channel(int fd)
{
	if (notes != NULL)
		ipc_free(notes);
	if ((notes = ipc_new(ps->base, fd, -1, decide_notes_dispatch,
	    decide_notes_closed, NULL)) == NULL)
		log_warnx("cannot set up the replay channel");
}

/* A session that was running before this authd started. */
void
decide_claim(int worker, struct session_claim *sc)
{
	decide_init();
	if (limits_acquire(limits, worker, sc->session, sc->target, sc->client,
	    sc->token[0] ? sc->token : NULL) != 0)
		log_info("worker%d session %u: counted over a limit after a "
		    "restart", worker, sc->session);
}

void
decide_configure(struct conf *c, int first)
{
	struct key		*ck;
	struct blob		*b;
	struct token_key	*k;
	char			 err[128];
	struct conf_global	*g = &c->g;

	if (first)
		/* jansson seeds its hash from /dev/urandom: before chroot. */
		json_object_seed(0);
	decide_init();
	decide_replay_size(g->replay_cache_size);
	replay_set_skew(replay, g->clock_skew);
	limits_set(limits, g->max_sessions, g->max_sessions_per_target,
	    g->max_sessions_per_client, g->max_sessions_per_token,
	    g->handshake_rate);
	keys_clear();
	TAILQ_FOREACH(ck, &c->keys, entry) {
		b = conf_blob_find(c, BLOB_TOKEN_KEY, 0, ck->c.kid);
		if (b == NULL || (k = calloc(1, sizeof(*k))) == NULL)
			continue;
		if (token_key_load(k, ck->c.kid, ck->c.alg, b->data, b->len,
		    err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			free(k);
			continue;
		}
		TAILQ_INSERT_TAIL(&keys, k, entry);
	}
}

const struct token_keys *
decide_keys(void)
{
	return &keys;
}

void
decide_release(int worker, uint32_t session)
{
	decide_init();
	limits_release(limits, worker, session);
	upstream_release(worker, session);
}

void
decide_release_worker(int worker)
{
	int	 n;

	decide_init();
	n = limits_release_worker(limits, worker);
	upstream_release_worker(worker);

	if (n > 0)
		log_info("worker%d gone: released %d session slots", worker, n);
}

static int
is_literal(const char *s)
{
	uint8_t	 a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/*
 * The client is the TCP peer, unless the peer is a trusted proxy: then it
 * is the rightmost X-Forwarded-For entry that is not itself trusted.
 */
static int
client_address(struct auth_req *q, char *out, size_t len)
{
	struct conf_global	*g = &ps->conf->g;
	char			 xff[sizeof(q->xff)], *p, *e;

	strlcpy_(out, q->peer, len);
	if (!addr_in_nets(q->peer, g->trusted, g->ntrusted))
		return 0;
	strlcpy_(xff, q->xff, sizeof(xff));
	while (xff[0] != '\0') {
		p = strrchr(xff, ',');
		e = p ? p + 1 : xff;
		while (*e == ' ' || *e == '\t')
			e++;
		e[strcspn(e, " \t")] = '\0';
		if (!is_literal(e))
			break;
		strlcpy_(out, e, len);
		if (!addr_in_nets(e, g->trusted, g->ntrusted))
			break;
		if (p == NULL)
			break;
		*p = '\0';
	}
	return 1;
}

/*
 * Origin, when a browser sends one: its scheme must be ours (https with a
 * TLS listener, or what a trusted proxy says), and its host must be the
 * request's own Host or one of allowed-origins.
 */
static int
origin_ok(struct auth_req *q, int trusted)
{
	struct conf_global	*g = &ps->conf->g;
	const char		*scheme = q->tls ? "https" : "http";
	const char		*host;
	size_t			 slen;
	int			 i;

	if (q->origin[0] == '\0')
		return 1;
	if (trusted && (strcasecmp(q->xfproto, "https") == 0 ||
	    strcasecmp(q->xfproto, "http") == 0))
		scheme = q->xfproto;
	slen = strlen(scheme);
	if (strncasecmp(q->origin, scheme, slen) != 0 ||
	    strncmp(q->origin + slen, "://", 3) != 0) {
		log_info("origin %s: scheme is not %s", q->origin, scheme);
		return 0;
	}
	host = q->origin + slen + 3;
	/* Our own host is always allowed; the list adds others. */
	if (strcasecmp(host, q->host) == 0)
		return 1;
	for (i = 0; i < g->norigins; i++)
		if (strcasecmp(g->origins[i], q->origin) == 0 ||
		    strcasecmp(g->origins[i], host) == 0)
			return 1;
	log_info("origin %s is not allowed for host %s", q->origin, q->host);
	return 0;
}

static enum err_code
decide_token(struct pending *p, struct route *r, struct token_claims *cl)
{
	const char	*why = NULL;
	enum err_code	 e;

	if (p->req.token[0] == '\0') {
		log_info("no token");
		return ERR_INVALID_TOKEN;
	}
	e = token_verify(&keys, p->req.token, strlen(p->req.token),
	    now_seconds(), ps->conf->g.clock_skew,
	    ps->conf->g.max_token_lifetime, cl, &why);
	explicit_bzero(p->req.token, sizeof(p->req.token));
	if (e != ERR_NONE) {
		log_info("token refused: %s", why ? why : "invalid");
		return e;
	}
	strlcpy_(p->resp.user, cl->sub, sizeof(p->resp.user));
	strlcpy_(p->resp.jti_hash, cl->hash, sizeof(p->resp.jti_hash));
	/* A route without a target in its path takes the token's. */
	if (p->req.target[0] == '\0' && cl->ntargets > 0)
		strlcpy_(p->req.target, cl->targets[0], sizeof(p->req.target));
	/* A token that names its namespace (seed 001) is held to it. */
	if (cl->ns[0] != '\0') {
		if (p->req.ns[0] != '\0' && strcmp(p->req.ns, cl->ns) != 0) {
			log_info("token is for namespace %s, not %s (route %s)",
			    cl->ns, p->req.ns, r->c.pattern);
			return ERR_UNAUTHORIZED;
		}
		strlcpy_(p->req.ns, cl->ns, sizeof(p->req.ns));
	}
	if (!token_allows(cl, p->req.target)) {
		log_info("token does not allow target %s (route %s)",
		    p->req.target, r->c.pattern);
		return ERR_UNAUTHORIZED;
	}
	return ERR_NONE;
}

/* A literal address (the master resolved names) and a port. */
void
decide_connect(struct pending *p, const char *host, uint16_t port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	if (addr_sockaddr(host, port, &ss, &len) == -1) {
		authd_reply(p, ERR_NO_CONSOLE_AVAILABLE);
		return;
	}
	connect_start(p, (struct sockaddr *)&ss, len,
	    ps->conf->g.connect_timeout);
}

/* Which console the request names, before anything is spent on it. */
static enum err_code
decide_target(struct pending *p, struct route *r, struct target **t)
{
	char	 host[INET6_ADDRSTRLEN];
	size_t	 i;

	*t = NULL;
	/*
	 * A WebSocket upstream knows its own consoles (404 from it).  A VM
	 * UUID is counted in lower case, the way Prism spells it, so that
	 * spellings of one VM share its limit; the worker checked it, but
	 * authd trusts no worker.
	 */
	if (r->c.backend == BACKEND_PRISM) {
		if (!uuid_valid(p->req.target))
			return ERR_BAD_REQUEST;
		for (i = 0; p->req.target[i] != '\0'; i++)
			p->req.target[i] =
			    tolower((unsigned char)p->req.target[i]);
		return ERR_NONE;
	}
	if (r->c.backend == BACKEND_KUBEVIRT)
		return ERR_NONE;
	if (r->c.backend == BACKEND_NETWORK) {
		if (!is_literal(p->req.target)) {
			log_info("%s is not an address", p->req.target);
			return ERR_UNAUTHORIZED;
		}
		if (!addr_in_nets(p->req.target, r->c.nets, r->c.nnets)) {
			log_info("address %s is outside the networks of route "
			    "%s", p->req.target, r->c.pattern);
			return ERR_UNAUTHORIZED;
		}
		/* One host, one spelling: for the limits and the log. */
		if (addr_canonical(p->req.target, host, sizeof(host)) == -1)
			return ERR_UNAUTHORIZED;
		strlcpy_(p->req.target, host, sizeof(p->req.target));
		return ERR_NONE;
	}
	if ((*t = conf_target_find(ps->conf, p->req.target)) == NULL)
		return ERR_VM_NOT_FOUND;
	return ERR_NONE;
}

/*
 * One-time use.  The master keeps the digests of used jti values, so that
 * a new authd knows them.
 */
static enum err_code
decide_once(struct token_claims *cl)
{
	struct replay_note	 n;

	memset(&n, 0, sizeof(n));
	n.exp = cl->exp;
	memcpy(n.digest, cl->jti_digest, sizeof(n.digest));
	switch (replay_add(replay, n.digest, n.exp, now_seconds())) {
	case 0:
		ipc_send(notes ? notes : ps->master, IMSG_REPLAY_NOTE, 0, -1,
		    &n, sizeof(n));
		return ERR_NONE;
	case -1:
		return ERR_TOKEN_ALREADY_USED;
	default:
		log_warnx("replay cache full: %zu unexpired used tokens, a new "
		    "jti is refused until some expire (replay-cache-size)",
		    replay_count(replay));
		return ERR_INTERNAL_ERROR;
	}
}

static enum err_code
decide_limits(struct pending *p, struct token_claims *cl, int token)
{
	if (limits_acquire(limits, p->worker, p->req.session, p->req.target,
	    p->resp.client, token ? cl->hash : NULL) != 0) {
		log_info("limit reached: %s", limits_reason(limits));
		return ERR_MAX_CONNECTIONS_REACHED;
	}
	p->acquired = 1;
	if (token && cl->has_jti)
		return decide_once(cl);
	return ERR_NONE;
}

void
decide(struct pending *p)
{
	struct route		*r;
	struct target		*t;
	struct token_claims	 cl;
	enum err_code		 e;
	int			 trusted, token;

	memset(&cl, 0, sizeof(cl));
	trusted = client_address(&p->req, p->resp.client,
	    sizeof(p->resp.client));
	p->resp.upstream = UPSTREAM_TCP;
	if ((r = conf_route_find(ps->conf, p->req.route_id)) == NULL) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	strlcpy_(p->route, r->c.pattern, sizeof(p->route));
	p->backend = r->c.backend;
	strlcpy_(p->upstream, r->c.upstream, sizeof(p->upstream));
	token = r->c.auth == AUTH_TOKEN;
	if (!limits_rate_ok(limits, p->resp.client, now_seconds()))
		e = ERR_MAX_CONNECTIONS_REACHED;
	else if (!origin_ok(&p->req, trusted))
		e = ERR_UNAUTHORIZED;
	else if (token && (e = decide_token(p, r, &cl)) != ERR_NONE)
		;
	else if ((e = decide_target(p, r, &t)) != ERR_NONE)
		;
	else
		e = decide_limits(p, &cl, token);
	explicit_bzero(p->req.token, sizeof(p->req.token));
	strlcpy_(p->resp.target, p->req.target, sizeof(p->resp.target));
	if (e != ERR_NONE) {
		authd_reply(p, e);
		return;
	}
	if (p->backend == BACKEND_PRISM || p->backend == BACKEND_KUBEVIRT)
		upstream_start(p);
	else if (t == NULL)
		decide_connect(p, p->req.target, r->c.port);
	else if (t->c.socket[0] != '\0')
		connect_unix_start(p, t->c.name);
	else
		decide_connect(p, t->c.host, t->c.port);
	explicit_bzero(&cl, sizeof(cl));
}
