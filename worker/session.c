/*
 * A console session: the WebSocket upgrade, authd's verdict, and the
 * relay.  Browser frames are unmasked straight into the upstream's output
 * buffer; upstream bytes are framed by moving the buffer chain, not by
 * copying.  Each side's output has a bound: past it, the other side is
 * not read until the queue drains to half.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "worker.h"

#define BEARER_PREFIX	"base64url.bearer.authorization.k8s.io."

static void	relay_client_read(struct bufferevent *, void *);
static void	relay_client_write(struct bufferevent *, void *);
static void	relay_up_read(struct bufferevent *, void *);
static void	relay_up_write(struct bufferevent *, void *);
static void	relay_up_event(struct bufferevent *, short, void *);
static void	relay_client_event(struct bufferevent *, short, void *);
static void	relay_tick(evutil_socket_t, short, void *);
static void	session_finish(struct conn *, const char *);
static void	session_cut(struct conn *, const char *);

/*
 * Kubernetes clients put base64url(token) after the prefix; a JWT has
 * dots, which base64url has not, so a raw one is taken as it is.
 */
static void
bearer_decode(const char *in, char *out, size_t outlen)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t	 acc = 0;
	size_t		 o = 0;
	int		 bits = 0;
	const char	*p;

	out[0] = '\0';
	if (strchr(in, '.') != NULL) {
		if (strlen(in) < outlen)
			strlcpy_(out, in, outlen);
		return;
	}
	for (; *in && *in != '='; in++) {
		if ((p = strchr(alpha, *in)) == NULL || *in == '\0')
			goto bad;
		acc = (acc << 6) | (uint32_t)(p - alpha);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				goto bad;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL)
		goto bad;
	return;
bad:
	explicit_bzero(out, outlen);
}

/* Picks the subprotocol: binary when offered, else base64, else none. */
static void
session_subprotocol(struct conn *c, const char *offered, char *bearer,
    size_t blen)
{
	char		 buf[TOKEN_MAXLEN + 512], *tok, *save;

	c->mode = MODE_BINARY;
	c->proto_echo = 0;
	if (offered == NULL || strlen(offered) >= sizeof(buf))
		return;
	strlcpy_(buf, offered, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(tok, "binary") == 0) {
			c->mode = MODE_BINARY;
			c->proto_echo = 1;
		} else if (strcmp(tok, "base64") == 0 && c->proto_echo == 0) {
			c->mode = MODE_BASE64;
			c->proto_echo = 2;
		} else if (strncmp(tok, BEARER_PREFIX,
		    sizeof(BEARER_PREFIX) - 1) == 0 && bearer)
			bearer_decode(tok + sizeof(BEARER_PREFIX) - 1, bearer,
			    blen);
	}
	explicit_bzero(buf, sizeof(buf));
}

/* The token: path, then query, then cookie, then subprotocol. */
static int
session_token(struct conn *c, const char *path_token, const char *bearer,
    struct auth_req *q)
{
	const char	*cookie = http_get(&c->req, "Cookie");

	if (path_token[0]) {
		q->token_source = TOKSRC_PATH;
		return strlcpy_(q->token, path_token, sizeof(q->token)) <
		    sizeof(q->token) ? 0 : -1;
	}
	if (c->req.query && http_query_get(c->req.query, "token", q->token,
	    sizeof(q->token)) == 0) {
		q->token_source = TOKSRC_QUERY;
		return 0;
	}
	if (cookie && http_cookie_get(cookie, "token", q->token,
	    sizeof(q->token)) == 0) {
		q->token_source = TOKSRC_COOKIE;
		return 0;
	}
	if (bearer[0]) {
		q->token_source = TOKSRC_SUBPROTOCOL;
		return strlcpy_(q->token, bearer, sizeof(q->token)) <
		    sizeof(q->token) ? 0 : -1;
	}
	q->token_source = TOKSRC_NONE;
	return 0;
}

/* -1 when the header does not fit: it is never shortened or dropped. */
static int
copy_header(struct http_req *r, const char *name, char *dst, size_t len)
{
	const char	*v = http_get(r, name);

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (strlcpy_(dst, v, len) >= len) {
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

void
session_request(struct conn *c, struct route *r, const char *target,
    const char *ns, const char *path_token)
{
	struct auth_req	*q;
	char		 bearer[TOKEN_MAXLEN + 1] = "";

	strlcpy_(c->pattern, r->c.pattern, sizeof(c->pattern));
	strlcpy_(c->target, target, sizeof(c->target));
	c->errors = r->c.errors;
	session_subprotocol(c, http_get(&c->req, "Sec-WebSocket-Protocol"),
	    bearer, sizeof(bearer));
	ws_accept_key(http_get(&c->req, "Sec-WebSocket-Key"), c->accept);
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		conn_free(c);
		return;
	}
	q->reqid = ++worker->next_reqid;
	q->route_id = r->c.id;
	q->session = c->id;
	q->tls = c->tls;
	strlcpy_(q->peer, c->peer, sizeof(q->peer));
	strlcpy_(q->target, target, sizeof(q->target));
	strlcpy_(q->ns, ns, sizeof(q->ns));
	/* An Origin too long to check must not pass as no Origin at all. */
	if (copy_header(&c->req, "X-Forwarded-For", q->xff,
	    sizeof(q->xff)) == -1 || copy_header(&c->req,
	    "X-Forwarded-Proto", q->xfproto, sizeof(q->xfproto)) == -1 ||
	    copy_header(&c->req, "Host", q->host, sizeof(q->host)) == -1 ||
	    copy_header(&c->req, "Origin", q->origin, sizeof(q->origin)) ==
	    -1) {
		log_info("conn %u from %s: a header authd checks is too long",
		    c->id, c->peer);
		explicit_bzero(bearer, sizeof(bearer));
		free(q);
		server_error_json(c, 400, ERR_BAD_REQUEST);
		return;
	}
	if (session_token(c, path_token, bearer, q) == -1)
		q->token[0] = '\0';
	explicit_bzero(bearer, sizeof(bearer));
	conn_forget_head(c);
	c->state = CONN_AUTH;
	bufferevent_disable(c->bev, EV_READ);
	if (worker_ask_authd(c, q) == -1) {
		log_warnx("conn %u: authd is not available", c->id);
		explicit_bzero(q, sizeof(*q));
		free(q);
		server_error_json(c, 503, ERR_INTERNAL_ERROR);
		return;
	}
	explicit_bzero(q, sizeof(*q));
	free(q);
	evtimer_add(c->timer, (&(struct timeval){
	    ps->conf->g.connect_timeout + 5, 0 }));
}

#define HEAD_101_MAX	256

/* The 101 response head; its length. */
static size_t
session_head_101(struct conn *c, char buf[HEAD_101_MAX])
{
	static const char *protos[] = { NULL, "binary", "base64" };
	int	 n;

	n = snprintf(buf, HEAD_101_MAX, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n", c->accept,
	    c->proto_echo ? "Sec-WebSocket-Protocol: " : "",
	    c->proto_echo ? protos[c->proto_echo] : "",
	    c->proto_echo ? "\r\n" : "");
	return n < 0 || n >= HEAD_101_MAX ? 0 : (size_t)n;
}

static void
session_write_101(struct conn *c)
{
	char	 head[HEAD_101_MAX];

	evbuffer_add(bufferevent_get_output(c->bev), head,
	    session_head_101(c, head));
}

/*
 * The 101 goes out at once, and in the same writev the console's first
 * bytes (the RFB greeting) when they have come already: the browser gets
 * one segment, and no write event is added and deleted for it.  What the
 * socket does not take is queued as usual.
 */
static void
session_send_101(struct conn *c)
{
	uint8_t		 h[HEAD_101_MAX + WS_HEADER_MAX];
	struct evbuffer	*in = NULL;
	size_t		 hl, n = 0;

	hl = session_head_101(c, (char *)h);
	if (!c->up_ws && c->mode == MODE_BINARY) {
		in = bufferevent_get_input(c->up);
		relay_fill(c->up, RELAY_LIBEVENT_READ);
		if ((n = evbuffer_get_length(in)) > 0)
			hl += ws_header(h + hl, WS_OP_BINARY, 1, n, NULL);
	}
	if (relay_writev(c->bev, h, hl, in, n) == -1) {
		session_cut(c, "relay buffer error");
		return;
	}
	c->bytes_out += n;
}

static const char *
seed001_reason(enum err_code code)
{
	switch (code) {
	case ERR_INVALID_TOKEN:
	case ERR_TOKEN_EXPIRED:
	case ERR_TOKEN_ALREADY_USED:
	case ERR_UNAUTHORIZED:
		return "invalid token";
	case ERR_VM_NOT_FOUND:
		return "invalid url";
	default:
		return err_message(code);
	}
}

/* A refusal after the upgrade: JSON text message (seed 004) or a reason. */
static void
session_refuse_ws(struct conn *c, enum err_code code)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev), *msg;
	char		 json[256];
	int		 n;
	uint16_t	 close_code;

	session_write_101(c);
	close_code = (code == ERR_CONNECTION_FAILED ||
	    code == ERR_INTERNAL_ERROR) ? WS_CLOSE_INTERNAL : WS_CLOSE_POLICY;
	if (c->errors == ERRSTYLE_JSON) {
		n = snprintf(json, sizeof(json), "{\"type\":\"error\","
		    "\"code\":\"%s\",\"error\":\"%s\"}", err_name(code),
		    err_message(code));
		if ((msg = evbuffer_new()) != NULL) {
			evbuffer_add(msg, json, n);
			ws_frame_append(out, WS_OP_TEXT, msg, n, 0);
			evbuffer_free(msg);
		}
		ws_close_append(out, close_code, err_name(code), 0);
	} else
		ws_close_append(out, WS_CLOSE_NORMAL, seed001_reason(code), 0);
	conn_close_after_write(c);
}

static int
tick_seconds(void)
{
	struct conf_global	*g = &ps->conf->g;
	int			 t = 30;

	if (g->heartbeat > 0 && g->heartbeat < t)
		t = g->heartbeat;
	if (g->idle_timeout > 0 && g->idle_timeout < t)
		t = g->idle_timeout;
	if (g->session_timeout > 0 && g->session_timeout < t)
		t = g->session_timeout;
	return t < 1 ? 1 : t;
}

/* No console for this request: say why in the route's error style. */
void
session_refuse(struct conn *c, enum err_code code)
{
	worker->stats.handshakes[code]++;
	worker_stats_dirty();
	if (c->errors == ERRSTYLE_HTTP)
		server_error_json(c, err_status(code), code);
	else
		session_refuse_ws(c, code);
}

static void
session_start(struct conn *c, int fd)
{
	c->up = bufferevent_socket_new(ps->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->up == NULL) {
		close(fd);
		session_refuse(c, ERR_INTERNAL_ERROR);
		return;
	}
	session_relay(c);
}

/*
 * The keys that every line about a session starts with; a target or user
 * that is not one plain word is quoted (log_value).
 */
const char *
session_keys(struct conn *c, char *buf, size_t len)
{
	char	 route[LOG_VALUE_LEN(sizeof(c->pattern))];
	char	 target[LOG_VALUE_LEN(sizeof(c->target))];
	char	 user[LOG_VALUE_LEN(sizeof(c->user))];

	snprintf(buf, len, "id=%u client=%s route=%s target=%s user=%s jti=%s",
	    c->id, c->client, log_value(c->pattern, route, sizeof(route)),
	    log_value(c->target, target, sizeof(target)),
	    log_value(c->user, user, sizeof(user)),
	    c->jti_hash[0] ? c->jti_hash : "-");
	return buf;
}

/* The console is connected (and upgraded, for a WebSocket upstream). */
void
session_relay(struct conn *c)
{
	size_t	 bound = ps->conf->g.buffer_size;
	char	 keys[SESSION_KEYS_LEN];

	c->state = CONN_RELAY;
	worker->stats.handshakes[ERR_NONE]++;
	report_session_start(c);
	ws_decoder_init(&c->dec, WS_SERVER, c->mode == MODE_BASE64 ?
	    WS_TEXT_BASE64 : WS_TEXT_RELAY, ps->conf->g.max_frame_size);
	event_base_gettimeofday_cached(ps->base, &c->last_active);
	c->last_ping = c->last_active;
	bufferevent_setcb(c->bev, relay_client_read, relay_client_write,
	    relay_client_event, c);
	bufferevent_setcb(c->up, relay_up_read, relay_up_write,
	    relay_up_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, bound / 2, 0);
	bufferevent_setwatermark(c->up, EV_WRITE, bound / 2, 0);
	/* libevent reads 16 KiB at a time by default: bulk wants more. */
	bufferevent_set_max_single_read(c->up, bound);
	bufferevent_set_max_single_read(c->bev, bound);
	bufferevent_set_max_single_write(c->up, bound);
	bufferevent_set_max_single_write(c->bev, bound);
	/* Writing is on from the start: enabling it adds a write event. */
	bufferevent_enable(c->up, EV_READ);
	bufferevent_enable(c->bev, EV_READ);
	event_del(c->timer);
	event_assign(c->timer, ps->base, -1, EV_PERSIST, relay_tick, c);
	evtimer_add(c->timer, (&(struct timeval){ tick_seconds(), 0 }));
	log_info("session start %s", session_keys(c, keys, sizeof(keys)));
	session_send_101(c);
	/* Frames that came with the head are already waiting. */
	if (c->state == CONN_RELAY &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)))
		relay_client_read(c->bev, c);
}

void
session_verdict(struct conn *c, struct auth_resp *r, int fd)
{
	enum err_code	 code = r->code;

	evtimer_del(c->timer);
	if (r->target[0] != '\0')
		strlcpy_(c->target, r->target, sizeof(c->target));
	strlcpy_(c->client, r->client, sizeof(c->client));
	strlcpy_(c->user, r->user, sizeof(c->user));
	strlcpy_(c->jti_hash, r->jti_hash, sizeof(c->jti_hash));
	if (code < 0 || code >= ERR_MAX)
		code = ERR_INTERNAL_ERROR;
	if (code != ERR_NONE || fd == -1) {
		if (fd != -1)
			close(fd);
		if (code == ERR_NONE)
			code = ERR_INTERNAL_ERROR;
		/* After a retry, authd released the slot itself. */
		c->finished = c->auth_session;
		session_refuse(c, code);
		return;
	}
	c->auth_session = 1;
	if (r->upstream == UPSTREAM_WS)
		upclient_start(c, r, fd);
	else
		session_start(c, fd);
}

/* Logs the end and gives authd its slot back; safe to call twice. */
static void
session_finish(struct conn *c, const char *reason)
{
	struct session_end	 se;
	struct timeval		 now, d;
	char			 when[RFC3339_LEN];
	char			 keys[SESSION_KEYS_LEN];

	if (c->finished || !c->auth_session)
		return;
	c->finished = 1;
	gettimeofday(&now, NULL);
	timersub(&now, &c->since, &d);
	time_rfc3339(now.tv_sec, when);
	log_info("session end %s in=%llu out=%llu duration=%lld.%03ld "
	    "reason=\"%s\" time=%s", session_keys(c, keys, sizeof(keys)),
	    (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
	    (long long)d.tv_sec, (long)d.tv_usec / 1000,
	    reason ? reason : c->reason ? c->reason : "closed", when);
	memset(&se, 0, sizeof(se));
	se.session = c->id;
	se.bytes_in = c->bytes_in;
	se.bytes_out = c->bytes_out;
	if (worker->authd)
		ipc_send(worker->authd, IMSG_SESSION_END, 0, -1, &se,
		    sizeof(se));
	report_session_end(c);
}

/* A frame may be cut short: nothing more can follow it. */
static void
session_cut(struct conn *c, const char *reason)
{
	session_finish(c, reason);
	conn_abort(c);
}

/*
 * The close frame goes straight to a plain socket with nothing queued, so
 * that closing needs no write event either.
 */
static void
session_send_close(struct conn *c, uint16_t code, const char *reason)
{
	struct evbuffer	*f;

	/* A send that failed may have cut the frame: it is not repeated. */
	if ((f = evbuffer_new()) == NULL ||
	    ws_close_append(f, code, reason, 0) == -1)
		ws_close_append(bufferevent_get_output(c->bev), code, reason,
		    0);
	else
		(void)relay_send(c->bev, f);
	if (f != NULL)
		evbuffer_free(f);
}

/*
 * Ends the session: code 0 only records it (the connection is going
 * anyway); otherwise a close frame with code and reason goes out first.
 */
void
session_end(struct conn *c, uint16_t code, const char *reason)
{
	session_finish(c, reason);
	if (code == 0 || c->state == CONN_CLOSING)
		return;
	if (c->up_ws && c->up && !c->up_closed) {
		ws_close_append(bufferevent_get_output(c->up), WS_CLOSE_NORMAL,
		    "", 1);
		c->up_closed = 1;
	}
	if (!c->close_sent) {
		session_send_close(c, code, reason ? reason : "");
		c->close_sent = 1;
	}
	conn_close_after_write(c);
}

/* Ends session id with 1008 and why; 0 when there is no such session. */
int
session_kill(uint32_t id, const char *why)
{
	struct conn	*c = conn_find(id);

	if (c == NULL || c->state != CONN_RELAY)
		return 0;
	session_end(c, WS_CLOSE_POLICY, why);
	return 1;
}

/* A ping, pong or close from the browser. */
void
session_control(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint16_t	 code;

	switch (c->dec.ctl_opcode) {
	case WS_OP_PING:
		ws_control_append(out, WS_OP_PONG, c->dec.ctl, c->dec.ctl_len,
		    0);
		break;
	case WS_OP_PONG:
		c->ping_outstanding = 0;
		break;
	case WS_OP_CLOSE:
		code = c->dec.close_code;
		if (code == WS_CLOSE_NO_STATUS)
			code = WS_CLOSE_NORMAL;
		session_end(c, code, "client closed");
		break;
	}
}

/*
 * Reads what the socket holds, short of the other side's bound.  Right
 * after libevent's own read, which takes what the socket holds up to
 * RELAY_LIBEVENT_READ, an input shorter than that means the socket is
 * empty: a console's keystroke echo costs no futile recvmsg.  A side
 * resumed after backpressure was not read meanwhile, so it is topped up.
 */
static void
relay_top_up(struct bufferevent *bev, struct evbuffer *in,
    struct evbuffer *out, int resumed)
{
	size_t	bound = ps->conf->g.buffer_size;
	size_t	queued = evbuffer_get_length(in) + evbuffer_get_length(out);

	if (!resumed && evbuffer_get_length(in) < RELAY_LIBEVENT_READ)
		return;
	if (queued < bound)
		relay_fill(bev, bound - queued);
}

/*
 * Browser payload is unmasked where it was read and written to the console
 * from there, at once when nothing is queued there; base64 text is decoded
 * into the worker's stage first.
 */
static void
relay_client_take(struct conn *c, int resumed)
{
	struct bufferevent	*bev = c->bev;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer		*out = bufferevent_get_output(c->up);
	size_t			 bound = ps->conf->g.buffer_size, queued;
	struct ws_spans		 sp;
	ssize_t			 sent;
	enum ws_result		 res;

	event_base_gettimeofday_cached(ps->base, &c->last_active);
	if (c->up_ws) {
		upclient_client_read(c);
		return;
	}
	relay_top_up(bev, in, out, resumed);
	while (c->state == CONN_RELAY) {
		if ((queued = evbuffer_get_length(out)) >= bound) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
		res = ws_decode_spans(&c->dec, in, worker->stage,
		    bound - queued, &sp);
		/* The stage's text came before the spans. */
		if ((sent = relay_send(c->up, worker->stage)) == -1 ||
		    relay_send_spans(c->up, in, &sp) == -1) {
			session_end(c, WS_CLOSE_INTERNAL, "relay buffer error");
			return;
		}
		c->bytes_in += sent + sp.payload;
		switch (res) {
		case WS_NEED_MORE:
			return;
		case WS_FULL:
		case WS_AGAIN:
			/* What went straight out left room: look again. */
			break;
		case WS_CONTROL:
			session_control(c);
			break;
		case WS_ERROR:
			session_end(c, c->dec.close_code, "protocol error");
			return;
		}
	}
}

static void
relay_client_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	relay_client_take(arg, 0);
}

/* The upstream's queue drained to half: read the browser again. */
static void
relay_up_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->state != CONN_RELAY)
		return;
	if (!(bufferevent_get_enabled(c->bev) & EV_READ)) {
		bufferevent_enable(c->bev, EV_READ);
		relay_client_take(c, 1);
	}
}

/*
 * A plain console socket bound for a plain browser socket with nothing
 * queued, in binary mode, goes through the worker's pipe (relayio.c) when
 * it may hold more than libevent read.  0 when the session does not, or
 * not now.
 */
static int
relay_up_splice(struct conn *c, size_t n, int resumed)
{
	size_t	 bound = ps->conf->g.buffer_size;
	ssize_t	 r;

	if (c->up_ws || c->tls || c->mode != MODE_BINARY ||
	    !relay_splice_ok() || (!resumed && n < RELAY_LIBEVENT_READ) ||
	    n >= bound || evbuffer_get_length(bufferevent_get_output(c->bev)))
		return 0;
	if ((r = relay_splice(c->up, c->bev, bound,
	    &worker->stats.splice_bytes)) == -1) {
		session_cut(c, "relay pipe error");
		return 1;
	}
	c->bytes_out += r;
	return 1;
}

static void
relay_up_take(struct conn *c, int resumed)
{
	struct bufferevent	*bev = c->up;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	size_t			 n = evbuffer_get_length(in);

	if (c->state != CONN_RELAY || n == 0)
		return;
	event_base_gettimeofday_cached(ps->base, &c->last_active);
	if (c->up_ws) {
		upclient_up_read(c);
		return;
	}
	if (!relay_up_splice(c, n, resumed)) {
		relay_top_up(bev, in, out, resumed);
		n = evbuffer_get_length(in);
		if (c->mode == MODE_BASE64)
			ws_frame_base64(out, in, n, 0);
		else if (relay_write_frame(c->bev, in, n) == -1) {
			session_cut(c, "relay buffer error");
			return;
		}
		c->bytes_out += n;
	}
	if (evbuffer_get_length(out) >= ps->conf->g.buffer_size)
		bufferevent_disable(bev, EV_READ);
}

static void
relay_up_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	relay_up_take(arg, 0);
}

/* The browser's queue drained to half: read the console again. */
static void
relay_client_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->state != CONN_RELAY)
		return;
	if (!(bufferevent_get_enabled(c->up) & EV_READ)) {
		bufferevent_enable(c->up, EV_READ);
		relay_up_take(c, 1);
	}
}

static void
relay_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		relay_up_read(c->up, c);
		/* A WebSocket that ends without a close frame ended badly. */
		if (c->up_ws)
			session_end(c, WS_CLOSE_INTERNAL, "upstream closed "
			    "without a close frame");
		else
			session_end(c, WS_CLOSE_NORMAL, "upstream closed");
	} else if (what & BEV_EVENT_ERROR)
		session_end(c, WS_CLOSE_INTERNAL, "upstream error");
}

static void
relay_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		session_finish(c, (what & BEV_EVENT_EOF) ? "client went away" :
		    "client error");
		conn_free(c);
	}
}

static void
relay_tick(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct conf_global	*g = &ps->conf->g;
	struct timeval		 now;

	(void)fd;
	(void)what;
	event_base_gettimeofday_cached(ps->base, &now);
	if (g->session_timeout && now.tv_sec - c->since.tv_sec >=
	    g->session_timeout) {
		session_end(c, WS_CLOSE_POLICY, "session time limit");
		return;
	}
	if (g->idle_timeout && now.tv_sec - c->last_active.tv_sec >=
	    g->idle_timeout) {
		session_end(c, WS_CLOSE_NORMAL, "idle timeout");
		return;
	}
	if (!g->heartbeat)
		return;
	if (c->ping_outstanding && now.tv_sec - c->last_ping.tv_sec >=
	    g->heartbeat) {
		session_finish(c, "heartbeat: no pong");
		conn_free(c);
		return;
	}
	if (!c->ping_outstanding && now.tv_sec - c->last_ping.tv_sec >=
	    g->heartbeat) {
		ws_control_append(bufferevent_get_output(c->bev), WS_OP_PING,
		    "vncrelayd", 9, 0);
		c->ping_outstanding = 1;
		c->last_ping = now;
	}
}
