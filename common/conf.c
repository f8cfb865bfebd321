/*
 * Moving the configuration between processes.  The master sends each item
 * as one fixed-size message; a child checks every size and string before
 * it keeps anything.  Secrets (token keys, passwords, bearer tokens) are
 * sent to authd only.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ipc.h"
#include "log.h"

#define MAX_ROUTES	256
#define MAX_TARGETS	65536
#define MAX_ITEMS	4096

struct conf *
conf_new(void)
{
	struct conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	TAILQ_INIT(&c->listeners);
	TAILQ_INIT(&c->routes);
	TAILQ_INIT(&c->targets);
	TAILQ_INIT(&c->keys);
	TAILQ_INIT(&c->prisms);
	TAILQ_INIT(&c->kubevirts);
	TAILQ_INIT(&c->apikeys);
	TAILQ_INIT(&c->blobs);
	return c;
}

#define FREELIST(head, type) do {					\
	struct type *_e;						\
	while ((_e = TAILQ_FIRST(head)) != NULL) {			\
		TAILQ_REMOVE(head, _e, entry);				\
		free(_e);						\
	}								\
} while (0)

void
conf_free(struct conf *c)
{
	struct listener	*l;
	struct blob	*b;

	if (c == NULL)
		return;
	while ((l = TAILQ_FIRST(&c->listeners)) != NULL) {
		TAILQ_REMOVE(&c->listeners, l, entry);
		if (l->fd != -1)
			close(l->fd);
		free(l);
	}
	while ((b = TAILQ_FIRST(&c->blobs)) != NULL) {
		TAILQ_REMOVE(&c->blobs, b, entry);
		explicit_bzero(b->data, b->len);
		free(b->data);
		free(b);
	}
	FREELIST(&c->routes, route);
	FREELIST(&c->targets, target);
	FREELIST(&c->keys, key);
	FREELIST(&c->prisms, prism);
	FREELIST(&c->kubevirts, kubevirt);
	FREELIST(&c->apikeys, apikey);
	free(c);
}

struct blob *
conf_blob_add(struct conf *c, enum blob_kind kind, int id, const char *name,
    const void *data, size_t len)
{
	struct blob	*b;

	if (len > BLOB_MAXLEN || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->data = malloc(len + 1)) == NULL) {
		free(b);
		return NULL;
	}
	memcpy(b->data, data, len);
	b->data[len] = '\0';	/* PEM readers like a terminated string */
	b->len = len;
	b->c.kind = kind;
	b->c.id = id;
	strlcpy_(b->c.name, name ? name : "", sizeof(b->c.name));
	TAILQ_INSERT_TAIL(&c->blobs, b, entry);
	return b;
}

struct blob *
conf_blob_find(struct conf *c, enum blob_kind kind, int id, const char *name)
{
	struct blob	*b;

	TAILQ_FOREACH(b, &c->blobs, entry) {
		if (b->c.kind != (uint32_t)kind)
			continue;
		if (name != NULL && strcmp(b->c.name, name) != 0)
			continue;
		if (name == NULL && b->c.id != id)
			continue;
		return b;
	}
	return NULL;
}

struct target *
conf_target_find(struct conf *c, const char *name)
{
	struct target	*t;

	TAILQ_FOREACH(t, &c->targets, entry)
		if (strcmp(t->c.name, name) == 0)
			return t;
	return NULL;
}

struct route *
conf_route_find(struct conf *c, int id)
{
	struct route	*r;

	TAILQ_FOREACH(r, &c->routes, entry)
		if (r->c.id == id)
			return r;
	return NULL;
}

struct prism *
conf_prism_find(struct conf *c, const char *name)
{
	struct prism	*p;

	TAILQ_FOREACH(p, &c->prisms, entry)
		if (strcmp(p->c.name, name) == 0)
			return p;
	return NULL;
}

struct kubevirt *
conf_kubevirt_find(struct conf *c, const char *name)
{
	struct kubevirt	*k;

	TAILQ_FOREACH(k, &c->kubevirts, entry)
		if (strcmp(k->c.name, name) == 0)
			return k;
	return NULL;
}

/* Receives one fixed-size item into a freshly allocated list entry. */
#define RECV_ITEM(head, type, member, strcheck) do {			\
	struct type *_e;						\
	if ((_e = calloc(1, sizeof(*_e))) == NULL)			\
		return -1;						\
	if (ipc_get(m, &_e->member, sizeof(_e->member)) == -1 ||	\
	    !(strcheck)) {						\
		free(_e);						\
		return -1;						\
	}								\
	TAILQ_INSERT_TAIL(head, _e, entry);				\
	return 0;							\
} while (0)

#define S(x)	ipc_str_ok((x), sizeof(x))

static int
conf_recv_listen(struct conf *c, struct ipc_msg *m)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	if (ipc_get(m, &l->c, sizeof(l->c)) == -1 || !S(l->c.addr) ||
	    !S(l->c.ciphers) || !S(l->c.ciphersuites) || !S(l->c.curves) ||
	    (l->c.metrics != 0 && l->c.metrics != 1)) {
		free(l);
		return -1;
	}
	l->fd = m->fd;
	m->fd = -1;
	TAILQ_INSERT_TAIL(&c->listeners, l, entry);
	return 0;
}

static int
conf_recv_blob(struct conf *c, struct ipc_msg *m)
{
	struct conf_blob	 hdr;

	if (m->hdr.len < sizeof(hdr))
		return -1;
	memcpy(&hdr, m->data, sizeof(hdr));
	if (!S(hdr.name))
		return -1;
	if (conf_blob_add(c, hdr.kind, hdr.id, hdr.name, m->data + sizeof(hdr),
	    m->hdr.len - sizeof(hdr)) == NULL)
		return -1;
	return 0;
}

static int
conf_global_ok(const struct conf_global *g)
{
	int	 i;

	if (!S(g->user) || !S(g->webroot) || !S(g->authd_root) ||
	    !S(g->control_socket) || !S(g->control_group) ||
	    !S(g->path_prefix) || !S(g->console_api) || !S(g->signing_key))
		return 0;
	if (g->norigins < 0 || g->norigins > MAX_ORIGINS ||
	    g->ntrusted < 0 || g->ntrusted > MAX_NETWORKS)
		return 0;
	for (i = 0; i < g->norigins; i++)
		if (!S(g->origins[i]))
			return 0;
	return 1;
}

/*
 * Takes one configuration message into c.  Returns 0, or -1 for a message
 * that does not fit: the caller treats that as a broken peer.
 */
int
conf_recv(struct conf *c, struct ipc_msg *m)
{
	switch (m->hdr.type) {
	case IMSG_CONF_GLOBAL:
		if (ipc_get(m, &c->g, sizeof(c->g)) == -1 ||
		    !conf_global_ok(&c->g))
			return -1;
		return 0;
	case IMSG_CONF_LISTEN:
		return conf_recv_listen(c, m);
	case IMSG_CONF_ROUTE:
		if (++c->nroutes > MAX_ROUTES)
			return -1;
		RECV_ITEM(&c->routes, route, c, S(_e->c.pattern) &&
		    S(_e->c.upstream) && _e->c.nnets >= 0 &&
		    _e->c.nnets <= MAX_NETWORKS);
	case IMSG_CONF_TARGET:
		if (++c->ntargets > MAX_TARGETS)
			return -1;
		RECV_ITEM(&c->targets, target, c, S(_e->c.name) &&
		    S(_e->c.host) && S(_e->c.socket) && S(_e->c.type));
	case IMSG_CONF_KEY:
		RECV_ITEM(&c->keys, key, c, S(_e->c.kid) && S(_e->c.alg));
	case IMSG_CONF_PRISM:
		RECV_ITEM(&c->prisms, prism, c, S(_e->c.name) &&
		    S(_e->c.host) && S(_e->c.addr) && S(_e->c.username));
	case IMSG_CONF_KUBEVIRT:
		RECV_ITEM(&c->kubevirts, kubevirt, c, S(_e->c.name) &&
		    S(_e->c.host) && S(_e->c.addr) && S(_e->c.namespace) &&
		    S(_e->c.api_version) && S(_e->c.token_file));
	case IMSG_CONF_APIKEY:
		RECV_ITEM(&c->apikeys, apikey, c, S(_e->c.name) &&
		    S(_e->c.sha256));
	case IMSG_CONF_BLOB:
		return conf_recv_blob(c, m);
	default:
		return -1;
	}
}

static int
conf_send_blob(struct ipc *ipc, struct blob *b)
{
	return ipc_sendv(ipc, IMSG_CONF_BLOB, 0, -1, &b->c, sizeof(b->c),
	    b->data, b->len);
}

static int
blob_for(enum blob_kind kind, enum proc_type to)
{
	switch (kind) {
	case BLOB_TLS_CERT:
	case BLOB_TLS_KEY:
		return to == PROC_WORKER;
	case BLOB_UPSTREAM_CA:
		/* Not a secret: authd logs in over TLS, workers connect. */
		return 1;
	default:
		return to == PROC_AUTHD;
	}
}

#define SEND_LIST(head, type, imsg) do {				\
	struct type *_e;						\
	TAILQ_FOREACH(_e, head, entry)					\
		if (ipc_send(ipc, imsg, 0, -1, &_e->c,			\
		    sizeof(_e->c)) == -1)				\
			return -1;					\
} while (0)

/*
 * Sends c to one child: BEGIN, the items that process needs, END.  The
 * child answers END with an ACK and switches on COMMIT.
 */
int
conf_send(struct ipc *ipc, struct conf *c, enum proc_type to)
{
	struct listener	*l;
	struct blob	*b;
	int		 fd;

	if (ipc_send(ipc, IMSG_CONF_BEGIN, c->gen, -1, NULL, 0) == -1 ||
	    ipc_send(ipc, IMSG_CONF_GLOBAL, 0, -1, &c->g, sizeof(c->g)) == -1)
		return -1;
	SEND_LIST(&c->routes, route, IMSG_CONF_ROUTE);
	if (to == PROC_WORKER) {
		TAILQ_FOREACH(l, &c->listeners, entry) {
			if ((fd = dup(l->fd)) == -1)
				return -1;
			if (ipc_send(ipc, IMSG_CONF_LISTEN, 0, fd, &l->c,
			    sizeof(l->c)) == -1)
				return -1;
		}
	}
	if (to == PROC_AUTHD) {
		SEND_LIST(&c->targets, target, IMSG_CONF_TARGET);
		SEND_LIST(&c->keys, key, IMSG_CONF_KEY);
		SEND_LIST(&c->prisms, prism, IMSG_CONF_PRISM);
		SEND_LIST(&c->kubevirts, kubevirt, IMSG_CONF_KUBEVIRT);
		SEND_LIST(&c->apikeys, apikey, IMSG_CONF_APIKEY);
	}
	TAILQ_FOREACH(b, &c->blobs, entry)
		if (blob_for(b->c.kind, to) && conf_send_blob(ipc, b) == -1)
			return -1;
	return ipc_send(ipc, IMSG_CONF_END, c->gen, -1, NULL, 0);
}
