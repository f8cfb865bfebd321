/*
 * Nutanix Prism (seed 000).  authd logs in (Element: the Spring security
 * form, giving JSESSIONID; Central: v3 Basic auth, giving the NTNX_*
 * cookies), keeps the session for session-ttl seconds, and gives workers
 * only the cookie.  For Central it also finds each VM's cluster, cached
 * for cluster-ttl seconds.  A session the upstream refuses is dropped and
 * the login runs once more.  Requests that need a login wait for the one
 * in flight: a hundred consoles opening at once cause one login.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "authd.h"
#include "fetch.h"
#include "log.h"
#include "proc.h"

#define PRISM_COOKIE_MAX	4096
#define PRISM_WAIT_MAX		1024	/* requests waiting for one login */
#define PRISM_CLUSTERS_MAX	1024	/* cached VM-to-cluster answers */
#define UUID_LEN		36
#define PRISM_FAIL_HOLD		30	/* seconds a failed login is believed */

struct pcluster {
	TAILQ_ENTRY(pcluster)	 entry;
	char			 vm[UUID_LEN + 1];
	char			 cluster[UUID_LEN + 1];
	time_t			 at;
};

/* Survives reloads: a login in flight refers to it. */
struct pstate {
	TAILQ_ENTRY(pstate)	 entry;
	char			 name[NAME_LEN];
	char			 cookie[PRISM_COOKIE_MAX];
	time_t			 cookie_at;
	uint32_t		 gen;		/* of the cookie */
	int			 logging_in;
	struct pendings		 waiting;
	int			 nwaiting;
	struct conf_prism	 login;		/* what the cookie is for */
	time_t			 failed_at;	/* of the last refused login */
	TAILQ_HEAD(, pcluster)	 clusters;
	int			 nclusters;
};

static TAILQ_HEAD(, pstate)	 states = TAILQ_HEAD_INITIALIZER(states);

static const char *const central_cookies[] = {
	"NTNX_IGW_SESSION", "NTNX_IAM_SESSION", "NTNX_MERCURY_IAM_SESSION",
	NULL
};

static void	prism_session(struct pending *, struct pstate *);

static time_t
prism_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct pstate *
prism_state(const char *name)
{
	struct pstate	*s;

	TAILQ_FOREACH(s, &states, entry)
		if (strcmp(s->name, name) == 0)
			return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	strlcpy_(s->name, name, sizeof(s->name));
	TAILQ_INIT(&s->waiting);
	TAILQ_INIT(&s->clusters);
	TAILQ_INSERT_TAIL(&states, s, entry);
	return s;
}

static void
prism_forget(struct pstate *s)
{
	explicit_bzero(s->cookie, sizeof(s->cookie));
	s->cookie_at = 0;
}

/* Whether the session was made with the gateway and user c now names. */
static int
prism_same(const struct conf_prism *a, const struct conf_prism *b)
{
	return strcmp(a->host, b->host) == 0 && strcmp(a->addr, b->addr) ==
	    0 && a->port == b->port && a->central == b->central &&
	    strcmp(a->username, b->username) == 0;
}

/*
 * A reload that points a prism section at another gateway or user, or
 * removes it, ends what authd knew of it: a cookie must never go to a
 * server it was not issued by.  Any reload ends the hold on a failed
 * login.  A login in flight keeps its state.
 */
void
prism_configure(struct conf *c)
{
	struct pstate	*s;
	struct prism	*pr;
	struct pcluster	*k;

	TAILQ_FOREACH(s, &states, entry) {
		/* The operator may have fixed the password: try it. */
		s->failed_at = 0;
		pr = conf_prism_find(c, s->name);
		if (pr != NULL && prism_same(&pr->c, &s->login))
			continue;
		prism_forget(s);
		while ((k = TAILQ_FIRST(&s->clusters)) != NULL) {
			TAILQ_REMOVE(&s->clusters, k, entry);
			free(k);
		}
		s->nclusters = 0;
	}
}

static void
prism_to(const struct conf_prism *c, struct fetch_to *t)
{
	memset(t, 0, sizeof(*t));
	t->addr = c->addr;
	t->port = c->port;
	t->host = c->host;
	t->ctx = upstream_ctx(c->name);
	t->verify = c->tls_verify;
	t->timeout = c->login_timeout;
}

/* The password file's content, without a trailing newline. */
static int
prism_password(const char *name, char *out, size_t len)
{
	struct blob	*b = conf_blob_find(ps->conf, BLOB_PASSWORD, 0, name);
	size_t		 n;

	if (b == NULL || b->len >= len || memchr(b->data, '\0', b->len))
		return -1;
	n = b->len;
	if (n > 0 && b->data[n - 1] == '\n')
		n--;
	if (n > 0 && b->data[n - 1] == '\r')
		n--;
	memcpy(out, b->data, n);
	out[n] = '\0';
	return 0;
}

/* application/x-www-form-urlencoded, for the Element login form. */
static void
form_append(char *dst, size_t len, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = strlen(dst);

	for (; *s && o + 4 < len; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~", *s))
			dst[o++] = *s;
		else {
			dst[o++] = '%';
			dst[o++] = hex[(unsigned char)*s >> 4];
			dst[o++] = hex[(unsigned char)*s & 15];
		}
	}
	dst[o] = '\0';
}

/*
 * Keeps the wanted cookies of a login answer as one Cookie header value.
 * Returns how many it found.
 */
static int
prism_cookies(struct pstate *s, const struct httpc_resp *r, int central)
{
	static const char *const element[] = { "JSESSIONID", NULL };
	const char *const	*want = central ? central_cookies : element;
	const char		*v;
	size_t			 i = 0, nl, vl, used = 0;
	int			 k, n = 0;

	s->cookie[0] = '\0';
	while ((v = httpc_next(r, "Set-Cookie", &i)) != NULL) {
		nl = strcspn(v, "=");
		if (v[nl] != '=')
			continue;
		vl = strcspn(v + nl + 1, "; \t,\"\\");
		for (k = 0; want[k]; k++)
			if (strlen(want[k]) == nl &&
			    strncmp(v, want[k], nl) == 0)
				break;
		if (want[k] == NULL || vl == 0 ||
		    used + nl + vl + 4 >= sizeof(s->cookie))
			continue;
		used += snprintf(s->cookie + used, sizeof(s->cookie) - used,
		    "%s%.*s", n ? "; " : "", (int)(nl + 1 + vl), v);
		n++;
	}
	return n;
}

static int
prism_login_request(const struct conf_prism *c, char *buf, size_t len)
{
	char		 pw[1024], cred[1200], b64[1700], form[4096];
	int		 n;

	if (prism_password(c->name, pw, sizeof(pw)) == -1)
		return -1;
	if (c->central) {
		snprintf(cred, sizeof(cred), "%s:%s", c->username, pw);
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)cred,
		    strlen(cred));
		n = snprintf(buf, len, "POST /api/nutanix/v3/clusters/list "
		    "HTTP/1.1\r\nHost: %s:%u\r\nAuthorization: Basic %s\r\n"
		    "Content-Type: application/json\r\nAccept: "
		    "application/json\r\nContent-Length: 2\r\nConnection: "
		    "close\r\n\r\n{}", c->host, c->port, b64);
	} else {
		strlcpy_(form, "j_username=", sizeof(form));
		form_append(form, sizeof(form), c->username);
		strlcpy_(form + strlen(form), "&j_password=",
		    sizeof(form) - strlen(form));
		form_append(form, sizeof(form), pw);
		n = snprintf(buf, len, "POST /PrismGateway/"
		    "j_spring_security_check HTTP/1.1\r\nHost: %s:%u\r\n"
		    "Content-Type: application/x-www-form-urlencoded\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    c->host, c->port, strlen(form), form);
	}
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(b64, sizeof(b64));
	explicit_bzero(form, sizeof(form));
	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Every waiting request goes on, or gets code. */
static void
prism_wake(struct pstate *s, enum err_code code)
{
	struct pending	*p;

	while ((p = TAILQ_FIRST(&s->waiting)) != NULL) {
		TAILQ_REMOVE(&s->waiting, p, entry);
		s->nwaiting--;
		if (code == ERR_NONE)
			prism_session(p, s);
		else
			authd_reply(p, code);
	}
}

static void
prism_login_done(struct fetch_result *r, void *arg)
{
	struct pstate		*s = arg;
	struct prism		*pr = conf_prism_find(ps->conf, s->name);
	enum err_code		 code = ERR_CONNECTION_FAILED;

	s->logging_in = 0;
	if (pr == NULL)
		code = ERR_INTERNAL_ERROR;
	else if (r->status == -1)
		log_warnx("prism %s: login failed: %s", s->name, r->why);
	else if (r->status != 200)
		log_warnx("prism %s: login failed: HTTP %d", s->name,
		    r->status);
	else if (prism_cookies(s, &r->resp, pr->c.central) == 0)
		log_warnx("prism %s: login failed: no session cookie in the "
		    "answer", s->name);
	else {
		s->cookie_at = prism_now();
		s->login = pr->c;
		s->failed_at = 0;
		s->gen++;
		log_info("prism %s: login ok (%s) time=%.0fms", s->name,
		    pr->c.central ? "central" : "element", r->ms);
		measure_observe(LATENCY_LOGIN, "prism", r->ms * 1000);
		code = ERR_NONE;
	}
	if (r->status == 401 || r->status == 403 || r->status == 302)
		code = ERR_UNAUTHORIZED;
	if (code != ERR_NONE)
		prism_forget(s);
	/* Only a refused password risks the account; a timeout does not. */
	if (code == ERR_UNAUTHORIZED)
		s->failed_at = prism_now();
	prism_wake(s, code);
}

static void
prism_login(struct pstate *s, const struct conf_prism *c)
{
	struct fetch_to	 t;
	char		 req[8192];
	int		 n;

	prism_to(c, &t);
	if (t.ctx == NULL) {
		log_warnx("prism %s: no TLS context (its CA did not load): "
		    "not logging in", c->name);
		prism_wake(s, ERR_INTERNAL_ERROR);
		return;
	}
	if ((n = prism_login_request(c, req, sizeof(req))) == -1) {
		log_warnx("prism %s: no usable password", c->name);
		prism_wake(s, ERR_INTERNAL_ERROR);
		return;
	}
	s->logging_in = 1;
	if (fetch_start(&t, req, n, prism_login_done, s) == -1) {
		s->logging_in = 0;
		log_warnx("prism %s: cannot start the login", c->name);
		prism_wake(s, ERR_INTERNAL_ERROR);
	}
	explicit_bzero(req, sizeof(req));
}

static const char *
prism_cluster_cached(struct pstate *s, const struct conf_prism *c,
    const char *vm)
{
	struct pcluster	*k;

	TAILQ_FOREACH(k, &s->clusters, entry)
		if (strcmp(k->vm, vm) == 0) {
			if (prism_now() - k->at < c->cluster_ttl)
				return k->cluster;
			TAILQ_REMOVE(&s->clusters, k, entry);
			s->nclusters--;
			free(k);
			return NULL;
		}
	return NULL;
}

static void
prism_cluster_put(struct pstate *s, const char *vm, const char *cluster)
{
	struct pcluster	*k;

	if (s->nclusters >= PRISM_CLUSTERS_MAX) {
		k = TAILQ_FIRST(&s->clusters);
		TAILQ_REMOVE(&s->clusters, k, entry);
		s->nclusters--;
		free(k);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return;
	strlcpy_(k->vm, vm, sizeof(k->vm));
	strlcpy_(k->cluster, cluster, sizeof(k->cluster));
	k->at = prism_now();
	TAILQ_INSERT_TAIL(&s->clusters, k, entry);
	s->nclusters++;
}

/* The console connection itself: path, cookie, then the TCP connect. */
static void
prism_connect(struct pending *p, struct pstate *s,
    const struct conf_prism *c, const char *cluster)
{
	char	 path[HOST_LEN + 128];

	if (cluster)
		snprintf(path, sizeof(path), "/vnc/vm/%s/proxy?"
		    "proxyClusterUuid=%s", p->req.target, cluster);
	else
		snprintf(path, sizeof(path), "/vnc/vm/%s/proxy",
		    p->req.target);
	upstream_ws(p, 1, c->tls_verify, c->host, path, "binary");
	if (upstream_header(p, "Host: %s:%u", c->host, c->port) == -1 ||
	    upstream_header(p, "Origin: https://%s:%u", c->host,
	    c->port) == -1 || upstream_header(p, "Cookie: %s",
	    s->cookie) == -1) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	p->cred_gen = s->gen;
	decide_connect(p, c->addr, c->port);
}

/* status.cluster_reference.uuid of a v3 VM. */
static int
prism_cluster_parse(const struct httpc_resp *r, char *out, size_t len)
{
	json_t		*j, *u;
	int		 rv = -1;

	if ((j = json_loadb(r->body, r->bodylen, 0, NULL)) == NULL)
		return -1;
	u = json_object_get(json_object_get(json_object_get(j, "status"),
	    "cluster_reference"), "uuid");
	if (json_is_string(u) && uuid_valid(json_string_value(u)) &&
	    strlen(json_string_value(u)) < len) {
		strlcpy_(out, json_string_value(u), len);
		rv = 0;
	}
	json_decref(j);
	return rv;
}

static void
prism_lookup_done(struct fetch_result *r, void *arg)
{
	struct pending	*p = arg;
	struct pstate	*s = prism_state(p->upstream);
	struct prism	*pr = conf_prism_find(ps->conf, p->upstream);
	char		 cluster[UUID_LEN + 1];

	if (pr == NULL) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	switch (r->status) {
	case 200:
		if (prism_cluster_parse(&r->resp, cluster,
		    sizeof(cluster)) == -1)
			break;
		prism_cluster_put(s, p->req.target, cluster);
		prism_connect(p, s, &pr->c, cluster);
		return;
	case 401:
	case 403:
		prism_retry(p, r->status);
		return;
	case 404:
		log_info("prism %s: no VM %s", p->upstream, p->req.target);
		authd_reply(p, ERR_VM_NOT_FOUND);
		return;
	case -1:
		log_warnx("prism %s: VM lookup failed: %s", p->upstream,
		    r->why);
		authd_reply(p, ERR_CONNECTION_FAILED);
		return;
	}
	log_warnx("prism %s: VM lookup for %s: HTTP %d", p->upstream,
	    p->req.target, r->status);
	authd_reply(p, ERR_CONNECTION_FAILED);
}

static void
prism_lookup(struct pending *p, struct pstate *s, const struct conf_prism *c)
{
	struct fetch_to	 t;
	char		 req[PRISM_COOKIE_MAX + 512];
	int		 n;

	prism_to(c, &t);
	n = snprintf(req, sizeof(req), "GET /api/nutanix/v3/vms/%s HTTP/1.1\r\n"
	    "Host: %s:%u\r\nCookie: %s\r\nAccept: application/json\r\n"
	    "Connection: close\r\n\r\n", p->req.target, c->host, c->port,
	    s->cookie);
	p->cred_gen = s->gen;
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    fetch_start(&t, req, n, prism_lookup_done, p) == -1)
		authd_reply(p, ERR_INTERNAL_ERROR);
	explicit_bzero(req, sizeof(req));
}

/* A session is at hand: find the cluster (Central), then connect. */
static void
prism_session(struct pending *p, struct pstate *s)
{
	struct prism	*pr = conf_prism_find(ps->conf, p->upstream);
	const char	*cluster;

	if (pr == NULL) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	if (!pr->c.central)
		prism_connect(p, s, &pr->c, NULL);
	else if ((cluster = prism_cluster_cached(s, &pr->c,
	    p->req.target)) != NULL)
		prism_connect(p, s, &pr->c, cluster);
	else
		prism_lookup(p, s, &pr->c);
}

void
prism_start(struct pending *p)
{
	struct prism	*pr = conf_prism_find(ps->conf, p->upstream);
	struct pstate	*s;

	if (pr == NULL) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	/* decide_target() checked the UUID and put it in lower case. */
	s = prism_state(pr->c.name);
	if (s->cookie[0] != '\0' && prism_now() - s->cookie_at <
	    pr->c.session_ttl) {
		prism_session(p, s);
		return;
	}
	/*
	 * A gateway that just refused the password is not asked again at
	 * once: a burst of consoles must not lock the account.
	 */
	if (s->failed_at != 0 && prism_now() - s->failed_at <
	    PRISM_FAIL_HOLD) {
		log_info("prism %s: the last login failed less than %ds ago: "
		    "not logging in again yet", pr->c.name, PRISM_FAIL_HOLD);
		authd_reply(p, ERR_UNAUTHORIZED);
		return;
	}
	if (s->nwaiting >= PRISM_WAIT_MAX) {
		authd_reply(p, ERR_MAX_CONNECTIONS_REACHED);
		return;
	}
	TAILQ_INSERT_TAIL(&s->waiting, p, entry);
	s->nwaiting++;
	if (!s->logging_in)
		prism_login(s, &pr->c);
}

/*
 * The session was refused (on the upgrade or a REST call).  Unless
 * another request has logged in since this one got its cookie, the
 * cookie is forgotten; then the request starts over, once.
 */
void
prism_retry(struct pending *p, int status)
{
	struct pstate	*s = prism_state(p->upstream);

	if (p->retried) {
		log_warnx("prism %s: session rejected again (HTTP %d)",
		    p->upstream, status);
		authd_reply(p, ERR_UNAUTHORIZED);
		return;
	}
	p->retried = 1;
	if (p->cred_gen == s->gen && s->cookie[0] != '\0') {
		log_info("prism %s: session rejected (HTTP %d): logging in "
		    "again", p->upstream, status);
		prism_forget(s);
	}
	prism_start(p);
}
