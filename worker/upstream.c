/*
 * The worker as a WebSocket client, toward Prism and the Kubernetes API.
 * authd connected the socket and wrote the upgrade request's credentials;
 * here come TLS (SNI, the configured CA, the name), the upgrade, the
 * check of Sec-WebSocket-Accept, and then the relay: frames from the
 * browser are unmasked, re-framed as binary and masked toward the
 * upstream; the upstream's frames are unframed and framed again for the
 * browser.  Both directions keep the relay's bound on queued bytes.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "httpc.h"
#include "log.h"
#include "proc.h"
#include "secret.h"
#include "tlsc.h"
#include "worker.h"

#define UP_ANSWER_MAX	(HTTPC_MAX_HEAD + 4096)	/* a refusal's head+body */

struct upctx {
	TAILQ_ENTRY(upctx)	 entry;
	char			 name[NAME_LEN];
	SSL_CTX			*ctx;
};

static TAILQ_HEAD(, upctx)	 ctxs = TAILQ_HEAD_INITIALIZER(ctxs);
static SSL_CTX			*noverify;

static void	upclient_read(struct bufferevent *, void *);
static void	upclient_event(struct bufferevent *, short, void *);

/* One TLS context per upstream CA; one that verifies nothing. */
void
upclient_configure(struct conf *c)
{
	struct upctx	*u;
	struct blob	*b;
	char		 why[256];

	while ((u = TAILQ_FIRST(&ctxs)) != NULL) {
		TAILQ_REMOVE(&ctxs, u, entry);
		SSL_CTX_free(u->ctx);
		free(u);
	}
	if (noverify == NULL &&
	    (noverify = tlsc_ctx_new(NULL, 0, why, sizeof(why))) == NULL)
		log_warnx("TLS client context: %s", why);
	TAILQ_FOREACH(b, &c->blobs, entry) {
		if (b->c.kind != BLOB_UPSTREAM_CA)
			continue;
		if ((u = calloc(1, sizeof(*u))) == NULL)
			fatal("calloc");
		strlcpy_(u->name, b->c.name, sizeof(u->name));
		if ((u->ctx = tlsc_ctx_new(b->data, b->len, why,
		    sizeof(why))) == NULL) {
			log_warnx("%s: CA: %s", b->c.name, why);
			free(u);
			continue;
		}
		TAILQ_INSERT_TAIL(&ctxs, u, entry);
	}
}

static SSL_CTX *
upclient_ctx(const char *name, int verify)
{
	struct upctx	*u;

	if (!verify)
		return noverify;
	TAILQ_FOREACH(u, &ctxs, entry)
		if (strcmp(u->name, name) == 0)
			return u->ctx;
	return NULL;
}

static int
upclient_request(struct conn *c, struct auth_resp *r)
{
	struct evbuffer	*out = bufferevent_get_output(c->up);
	char		 key[WS_KEY_LEN + 1];

	if (ws_client_key(key, c->up_accept) == -1)
		return -1;
	strlcpy_(c->up_protocol, r->ws_protocol, sizeof(c->up_protocol));
	/* The headers hold the cookie or bearer: see secret.c. */
	if (evbuffer_add_printf(out, "GET %s HTTP/1.1\r\n", r->ws_path) < 0 ||
	    secret_add(out, r->ws_headers, strlen(r->ws_headers)) == -1)
		return -1;
	if (evbuffer_add_printf(out, "Upgrade: websocket\r\nConnection: "
	    "Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "%s%s%s\r\n", key, c->up_protocol[0] ?
	    "Sec-WebSocket-Protocol: " : "", c->up_protocol,
	    c->up_protocol[0] ? "\r\n" : "") < 0)
		return -1;
	return 0;
}

/* No console after all: log why, give authd its slot, tell the browser. */
static void
upclient_refuse(struct conn *c, enum err_code code, const char *why)
{
	struct session_end	 se;
	char			 keys[SESSION_KEYS_LEN];

	log_info("session refused %s code=%s reason=\"%s\"",
	    session_keys(c, keys, sizeof(keys)), err_name(code), why);
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (!c->finished && worker->authd) {
		memset(&se, 0, sizeof(se));
		se.session = c->id;
		ipc_send(worker->authd, IMSG_SESSION_END, 0, -1, &se,
		    sizeof(se));
	}
	c->finished = 1;
	c->state = CONN_AUTH;
	session_refuse(c, code);
}

void
upclient_start(struct conn *c, struct auth_resp *r, int fd)
{
	SSL_CTX		*ctx = NULL;
	SSL		*ssl;

	c->state = CONN_UPSTREAM;
	c->up_ws = 1;
	if (r->upstream_tls && (ctx = upclient_ctx(r->ca,
	    r->tls_verify)) == NULL) {
		close(fd);
		upclient_refuse(c, ERR_INTERNAL_ERROR, "no TLS context for "
		    "the upstream");
		return;
	}
	if (ctx == NULL)
		c->up = bufferevent_socket_new(ps->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	else if ((ssl = tlsc_new(ctx, r->sni, r->tls_verify)) == NULL)
		c->up = NULL;
	else if ((c->up = bufferevent_openssl_socket_new(ps->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL)
		SSL_free(ssl);
	else
		bufferevent_openssl_set_allow_dirty_shutdown(c->up, 1);
	if (c->up == NULL) {
		close(fd);
		upclient_refuse(c, ERR_INTERNAL_ERROR, "upstream setup failed");
		return;
	}
	if (upclient_request(c, r) == -1) {
		upclient_refuse(c, ERR_INTERNAL_ERROR, "upstream setup failed");
		return;
	}
	bufferevent_setcb(c->up, upclient_read, NULL, upclient_event, c);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	evtimer_add(c->timer, (&(struct timeval){
	    ps->conf->g.connect_timeout + 5, 0 }));
}

void
upclient_timeout(struct conn *c)
{
	upclient_refuse(c, ERR_CONNECTION_FAILED, "upstream did not answer "
	    "the upgrade in time");
}

/* What an upstream's refusal means for the browser (UPSTREAMS.md). */
static enum err_code
upclient_code(int status, const char *body)
{
	switch (status) {
	case 401:
	case 403:
	case 302:
		return ERR_UNAUTHORIZED;
	case 404:
		return ERR_VM_NOT_FOUND;
	case 400:
		if (body && (strstr(body, "not running") ||
		    strstr(body, "No graphics")))
			return ERR_NO_CONSOLE_AVAILABLE;
		return ERR_CONNECTION_FAILED;
	case 429:
	case 503:
		return ERR_MAX_CONNECTIONS_REACHED;
	default:
		return ERR_CONNECTION_FAILED;
	}
}

/*
 * A refusal, with its body when there is one.  Rejected credentials get
 * one more try: authd renews them and answers again.
 */
static void
upclient_refused(struct conn *c, int status, const char *body)
{
	struct upstream_retry	 ur;
	char			 why[64];

	if ((status == 401 || status == 403 || status == 302) &&
	    !c->up_retried && worker->authd) {
		c->up_retried = 1;
		bufferevent_free(c->up);
		c->up = NULL;
		c->state = CONN_AUTH;
		memset(&ur, 0, sizeof(ur));
		ur.session = c->id;
		ur.status = status;
		ipc_send(worker->authd, IMSG_UPSTREAM_RETRY, 0, -1, &ur,
		    sizeof(ur));
		evtimer_add(c->timer, (&(struct timeval){
		    ps->conf->g.connect_timeout + 30, 0 }));
		return;
	}
	snprintf(why, sizeof(why), "upstream HTTP %d", status);
	upclient_refuse(c, upclient_code(status, body), why);
}

/* The 101: Upgrade, Connection, the accept value and the subprotocol. */
static const char *
upclient_check_101(struct conn *c, const struct httpc_resp *r)
{
	const char	*v;

	if ((v = httpc_get(r, "Upgrade")) == NULL ||
	    !httpc_token_has(v, "websocket"))
		return "no Upgrade: websocket";
	if (!httpc_token_has(httpc_get(r, "Connection"), "upgrade"))
		return "no Connection: upgrade";
	if ((v = httpc_get(r, "Sec-WebSocket-Accept")) == NULL ||
	    strcmp(v, c->up_accept) != 0)
		return "wrong Sec-WebSocket-Accept";
	if ((v = httpc_get(r, "Sec-WebSocket-Protocol")) != NULL &&
	    strcmp(v, c->up_protocol) != 0)
		return "a subprotocol that was not offered";
	if (httpc_get(r, "Sec-WebSocket-Extensions") != NULL)
		return "an extension that was not offered";
	return NULL;
}

static void
upclient_upgraded(struct conn *c, size_t headlen)
{
	evbuffer_drain(bufferevent_get_input(c->up), headlen);
	evtimer_del(c->timer);
	/*
	 * max-frame-size guards against browsers; an upstream's frames may
	 * be any size (a full-screen update is one frame), and the decoder
	 * streams them within buffer-size anyway.
	 */
	ws_decoder_init(&c->updec, WS_CLIENT, WS_TEXT_DROP, 0);
	session_relay(c);
	/* Frames that came with the 101 are waiting. */
	if (c->state == CONN_RELAY &&
	    evbuffer_get_length(bufferevent_get_input(c->up)))
		upclient_up_read(c);
}

/*
 * Reads the answer to the upgrade.  Returns 0 while it is incomplete; it
 * acts on it otherwise.
 */
static int
upclient_answer(struct conn *c, int eof)
{
	struct evbuffer		*in = bufferevent_get_input(c->up);
	struct httpc_resp	 r;
	size_t			 len = evbuffer_get_length(in);
	char			*buf;
	const char		*bad;
	ssize_t			 hl;
	int			 body;

	if (len > UP_ANSWER_MAX)
		len = UP_ANSWER_MAX;
	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	evbuffer_copyout(in, buf, len);
	if ((hl = httpc_head_len(buf, len)) == 0 && !eof) {
		free(buf);
		return 0;
	}
	if (hl <= 0 || httpc_parse_head(&r, buf, hl) == -1) {
		free(buf);
		upclient_refuse(c, ERR_CONNECTION_FAILED, eof && len == 0 ?
		    "upstream closed before answering" :
		    "malformed upstream answer");
		return 1;
	}
	if (r.status == 101) {
		bad = upclient_check_101(c, &r);
		free(buf);
		if (bad)
			upclient_refuse(c, ERR_CONNECTION_FAILED, bad);
		else
			upclient_upgraded(c, hl);
		return 1;
	}
	body = httpc_parse_body(&r, buf + hl, len - hl, eof ||
	    len == UP_ANSWER_MAX);
	if (body == 0) {
		free(buf);
		return 0;
	}
	upclient_refused(c, r.status, body == 1 ? r.body : NULL);
	free(buf);
	return 1;
}

static void
upclient_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	upclient_answer(arg, 0);
}

static void
upclient_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[300], reason[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF) {
		upclient_answer(c, 1);
		return;
	}
	snprintf(why, sizeof(why), "upstream%s: %s", tlsc_event_why(bev,
	    reason, sizeof(reason)) ? " TLS" : "", reason);
	upclient_refuse(c, ERR_CONNECTION_FAILED, why);
}

static void
upclient_control(struct conn *c)
{
	uint16_t	 code;

	switch (c->updec.ctl_opcode) {
	case WS_OP_PING:
		ws_control_append(bufferevent_get_output(c->up), WS_OP_PONG,
		    c->updec.ctl, c->updec.ctl_len, 1);
		break;
	case WS_OP_CLOSE:
		/* RFC 6455 5.5.1: a close is answered with a close. */
		ws_close_append(bufferevent_get_output(c->up), WS_CLOSE_NORMAL,
		    "", 1);
		c->up_closed = 1;
		code = c->updec.close_code;
		if (code == WS_CLOSE_NO_STATUS)
			code = WS_CLOSE_NORMAL;
		else if (!ws_close_code_valid(code))
			code = WS_CLOSE_INTERNAL;
		session_end(c, code, "upstream closed");
		break;
	}
}

/* Frames n bytes of the worker's stage for the other side; -1 on failure. */
static int
upclient_frame(struct conn *c, struct evbuffer *out, size_t n, int toward_up)
{
	if (toward_up) {
		c->bytes_in += n;
		return ws_frame_append(out, WS_OP_BINARY, worker->stage, n, 1);
	}
	c->bytes_out += n;
	if (c->mode == MODE_BASE64)
		return ws_frame_base64(out, worker->stage, n, 0);
	return ws_frame_append(out, WS_OP_BINARY, worker->stage, n, 0);
}

/*
 * One direction of the relay: frames are decoded into the worker's stage
 * (empty between callbacks) and framed again for the other side, masked
 * toward the upstream.  No more is decoded than the other side's queue
 * has room for under buffer-size; reading stops while it is full.
 */
static void
upclient_pump(struct conn *c, struct bufferevent *from, struct bufferevent *to,
    struct ws_decoder *dec, int toward_up)
{
	struct evbuffer	*in = bufferevent_get_input(from);
	struct evbuffer	*out = bufferevent_get_output(to);
	size_t		 bound = ps->conf->g.buffer_size, queued, n;
	enum ws_result	 res;

	while (c->state == CONN_RELAY) {
		if ((queued = evbuffer_get_length(out)) >= bound) {
			bufferevent_disable(from, EV_READ);
			return;
		}
		res = ws_decode(dec, in, worker->stage, bound - queued);
		if ((n = evbuffer_get_length(worker->stage)) > 0 &&
		    upclient_frame(c, out, n, toward_up) == -1) {
			evbuffer_drain(worker->stage, n);
			session_end(c, WS_CLOSE_INTERNAL, "framing failed");
			return;
		}
		switch (res) {
		case WS_NEED_MORE:
			return;
		case WS_FULL:
		case WS_AGAIN:		/* not from ws_decode */
			break;
		case WS_CONTROL:
			if (toward_up)
				session_control(c);
			else
				upclient_control(c);
			break;
		case WS_ERROR:
			if (toward_up)
				session_end(c, dec->close_code,
				    "protocol error");
			else
				session_end(c, WS_CLOSE_INTERNAL,
				    "upstream protocol error");
			return;
		}
	}
}

void
upclient_client_read(struct conn *c)
{
	upclient_pump(c, c->bev, c->up, &c->dec, 1);
}

void
upclient_up_read(struct conn *c)
{
	upclient_pump(c, c->up, c->bev, &c->updec, 0);
}
