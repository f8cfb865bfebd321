/*
 * WebSocket upstreams (Prism, KubeVirt): what authd hands a worker is a
 * connected socket plus the upgrade request to write on it, credentials
 * included.  authd keeps each such grant until the session ends, because
 * the upstream may refuse the credentials only when the worker upgrades:
 * then the worker asks again, and authd renews them once and retries.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "log.h"
#include "proc.h"
#include "tlsc.h"

struct upctx {
	TAILQ_ENTRY(upctx)	 entry;
	char			 name[NAME_LEN];
	SSL_CTX			*ctx;
};

static TAILQ_HEAD(, upctx)	 ctxs = TAILQ_HEAD_INITIALIZER(ctxs);
static struct pendings		 granted = TAILQ_HEAD_INITIALIZER(granted);

static void
upstream_ctx_add(struct conf *c, const char *name, int tls, int verify)
{
	struct upctx	*u;
	struct blob	*b = NULL;
	char		 why[256];

	if (!tls)
		return;
	if (verify && (b = conf_blob_find(c, BLOB_UPSTREAM_CA, 0, name)) ==
	    NULL) {
		log_warnx("%s: no CA", name);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatal("calloc");
	strlcpy_(u->name, name, sizeof(u->name));
	if ((u->ctx = tlsc_ctx_new(b ? b->data : NULL, b ? b->len : 0, why,
	    sizeof(why))) == NULL) {
		log_warnx("%s: CA: %s", name, why);
		free(u);
		return;
	}
	TAILQ_INSERT_TAIL(&ctxs, u, entry);
}

/* TLS contexts for a new configuration, one per upstream. */
void
upstream_configure(struct conf *c)
{
	struct upctx	*u;
	struct prism	*p;
	struct kubevirt	*k;

	while ((u = TAILQ_FIRST(&ctxs)) != NULL) {
		TAILQ_REMOVE(&ctxs, u, entry);
		SSL_CTX_free(u->ctx);
		free(u);
	}
	TAILQ_FOREACH(p, &c->prisms, entry)
		upstream_ctx_add(c, p->c.name, 1, p->c.tls_verify);
	TAILQ_FOREACH(k, &c->kubevirts, entry)
		upstream_ctx_add(c, k->c.name, k->c.tls, k->c.tls_verify);
}

SSL_CTX *
upstream_ctx(const char *name)
{
	struct upctx	*u;

	TAILQ_FOREACH(u, &ctxs, entry)
		if (strcmp(u->name, name) == 0)
			return u->ctx;
	return NULL;
}

/* The decision said yes: now the upstream's own steps. */
void
upstream_start(struct pending *p)
{
	if (p->backend == BACKEND_PRISM)
		prism_start(p);
	else
		kubevirt_start(p);
}

/* Sets what the worker needs to upgrade: TLS, path, subprotocol. */
void
upstream_ws(struct pending *p, int tls, int verify, const char *host,
    const char *path, const char *protocol)
{
	p->resp.upstream = UPSTREAM_WS;
	p->resp.upstream_tls = tls;
	p->resp.tls_verify = verify;
	strlcpy_(p->resp.sni, host, sizeof(p->resp.sni));
	strlcpy_(p->resp.ca, p->upstream, sizeof(p->resp.ca));
	strlcpy_(p->resp.ws_path, path, sizeof(p->resp.ws_path));
	strlcpy_(p->resp.ws_protocol, protocol, sizeof(p->resp.ws_protocol));
	p->resp.ws_headers[0] = '\0';
}

/* Appends one header line; -1 when they no longer fit. */
int
upstream_header(struct pending *p, const char *fmt, ...)
{
	char	*h = p->resp.ws_headers;
	size_t	 used = strlen(h), left = sizeof(p->resp.ws_headers) - used;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(h + used, left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= left) {
		explicit_bzero(h, sizeof(p->resp.ws_headers));
		return -1;
	}
	memcpy(h + used + n, "\r\n", 3);
	return 0;
}

/* authd_reply hands over a granted WebSocket request: keep it. */
void
upstream_keep(struct pending *p)
{
	explicit_bzero(p->resp.ws_headers, sizeof(p->resp.ws_headers));
	TAILQ_INSERT_TAIL(&granted, p, entry);
}

void
upstream_release(int worker, uint32_t session)
{
	struct pending	*p;

	TAILQ_FOREACH(p, &granted, entry)
		if (p->worker == worker && p->req.session == session) {
			TAILQ_REMOVE(&granted, p, entry);
			pending_free(p);
			return;
		}
}

void
upstream_release_worker(int worker)
{
	pendings_drop_worker(&granted, worker);
}

/*
 * The upstream refused the credentials of a grant.  Once per request
 * they are renewed and the verdict comes again; a second refusal is
 * final.  Returns -1 for a session authd never granted.
 */
int
upstream_retry(int worker, struct upstream_retry *ur)
{
	struct pending	*p;

	TAILQ_FOREACH(p, &granted, entry)
		if (p->worker == worker && p->req.session == ur->session)
			break;
	if (p == NULL)
		return -1;
	TAILQ_REMOVE(&granted, p, entry);
	p->resp.upstream = UPSTREAM_TCP;
	if (p->backend == BACKEND_PRISM)
		prism_retry(p, ur->status);
	else
		kubevirt_retry(p, ur->status);
	return 0;
}
