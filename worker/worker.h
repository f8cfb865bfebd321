/*
 * A worker: TLS, HTTP, static files, WebSocket, relay.  It holds no
 * secret and opens no socket; authd hands it every upstream connection.
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "http.h"
#include "ipc.h"
#include "log.h"
#include "ws.h"

struct wlistener {
	TAILQ_ENTRY(wlistener)	 entry;
	struct conf_listen	 c;
	struct event		*ev;		/* on the listening fd */
	SSL_CTX			*ctx;
	struct event		*ev_resume;	/* after accept(2) failed */
	struct event		*ev_later;	/* what others left waiting */
};

enum conn_state {
	CONN_HEAD,		/* reading a request head */
	CONN_AUTH,		/* waiting for authd's verdict */
	CONN_UPSTREAM,		/* upgrading to a WebSocket upstream */
	CONN_RELAY,		/* WebSocket session */
	CONN_CLOSING,		/* flushing the last bytes */
	CONN_SCRAPE,		/* waiting for the master's metrics page */
};

enum ws_mode {
	MODE_BINARY,
	MODE_BASE64,
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	LIST_ENTRY(conn)	 byid;		/* in worker->byid */
	uint32_t		 id;
	enum conn_state		 state;
	struct bufferevent	*bev;		/* the browser */
	struct bufferevent	*up;		/* the console */
	int			 tls;
	char			 peer[64];
	uint16_t		 peer_port;
	struct event		*timer;
	struct timeval		 since;
	struct timeval		 last_active;
	int			 requests;
	int			 api;		/* a console API request */
	int			 lingering;
	size_t			 discarded;
	int			 metrics;	/* on the metrics listener */
	struct evbuffer		*page;		/* the metrics page, arriving */

	/* The WebSocket request, kept until the verdict. */
	char			 pattern[PATTERN_LEN];
	enum error_style	 errors;
	char			*head;
	size_t			 headlen;
	struct http_req		 req;
	char			 accept[WS_ACCEPT_LEN + 1];
	enum ws_mode		 mode;
	int			 proto_echo;	/* subprotocol to echo */
	char			 target[HOST_LEN];
	char			 user[NAME_LEN];
	char			 jti_hash[17];
	char			 client[64];

	/* The session. */
	struct ws_decoder	 dec;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	int			 ping_outstanding;
	struct timeval		 last_ping;
	int			 finished;
	int			 close_sent;
	const char		*reason;
	int			 auth_session;	/* authd holds a slot */

	/* A WebSocket upstream (Prism, KubeVirt). */
	int			 up_ws;
	int			 up_retried;	/* credentials renewed once */
	int			 up_closed;	/* close frame sent */
	char			 up_accept[WS_ACCEPT_LEN + 1];
	char			 up_protocol[64];
	struct ws_decoder	 updec;
	struct stats_series	*series;	/* counted there while live */
};

TAILQ_HEAD(conns, conn);

/* Connections by id, so that a verdict finds its own in a crowd. */
#define CONN_BUCKETS	4096
/* session_keys(): id, client, route, target, user and jti of a session. */
#define SESSION_KEYS_LEN	(160 + LOG_VALUE_LEN(PATTERN_LEN) +	\
	LOG_VALUE_LEN(HOST_LEN) + LOG_VALUE_LEN(NAME_LEN))
#define CONN_ID_MASK	0xffffff	/* below the worker's byte */

struct worker {
	struct ipc		*authd;
	TAILQ_HEAD(, wlistener)	 listeners;
	struct conns		 conns;
	LIST_HEAD(, conn)	 byid[CONN_BUCKETS];
	uint32_t		 next_id;
	uint32_t		 next_reqid;
	int			 draining;
	struct event		*ev_drain;
	struct event		*ev_stats;
	struct worker_stats	 stats;
	struct evbuffer		*stage;	/* browser payload bound upstream */
};

extern struct worker	*worker;

/* worker.c */
int		 worker_ask_authd(struct conn *, struct auth_req *);
void		 worker_stats_dirty(void);
void		 worker_load_publish(void);
void		 wlistener_enable(struct wlistener *, int);

/* report.c */
void		 report_session_start(struct conn *);
void		 report_session_end(struct conn *);
void		 report_stats(void);
void		 report_sessions(uint32_t);

/* tls.c */
SSL_CTX		*tls_server_ctx(struct conf *, struct conf_listen *);
struct bufferevent *tls_accept(SSL_CTX *, int);
size_t		 tls_queued(struct bufferevent *);
void		 tls_release(struct bufferevent *);
void		 tls_close_notify(struct bufferevent *);
int		 tls_write(struct bufferevent *, const uint8_t *, size_t,
		    struct evbuffer *, size_t);

/* server.c */
void		 server_accept(struct wlistener *, int, struct sockaddr *, int);
int		 server_accepting(const struct wlistener *);
void		 conn_free(struct conn *);
void		 conn_abort(struct conn *);
void		 conn_forget_head(struct conn *);
void		 conn_close_after_write(struct conn *);
void		 server_write_head(struct conn *, int, const char *,
		    const char *, size_t, int);
void		 server_respond(struct conn *, int, const char *, const char *,
		    const char *, size_t, int);
void		 server_error_json(struct conn *, int, enum err_code);
void		 server_plain_error(struct conn *, int);
void		 server_next_request(struct conn *);
void		 server_drain(void);
struct conn	*conn_find(uint32_t);

/* static.c */
void		 static_init(const char *);
void		 static_serve(struct conn *, struct http_req *, const char *);

/* route.c */
struct route	*route_match(struct conf *, const char *, char *, size_t,
		    char *, size_t, char *, size_t);

int		 route_decode(const char *, char *, size_t);

/* exporter.c */
int		 exporter_full(void);
void		 exporter_request(struct conn *);
int		 exporter_page(struct ipc_msg *);
void		 exporter_timeout(struct conn *);

/* api.c */
const char	*api_match(const char *);
void		 api_request(struct conn *, const char *);
void		 api_verdict(struct conn *, struct api_resp *);

/* relayio.c */
#define RELAY_LIBEVENT_READ	4096	/* libevent 2.1's most per read */
size_t		 relay_fill(struct bufferevent *, size_t);
ssize_t		 relay_send(struct bufferevent *, struct evbuffer *);
int		 relay_send_spans(struct bufferevent *, struct evbuffer *,
		    const struct ws_spans *);
int		 relay_writev(struct bufferevent *, const uint8_t *, size_t,
		    struct evbuffer *, size_t);
int		 relay_write_frame(struct bufferevent *, struct evbuffer *,
		    size_t);
void		 relay_splice_init(void);
void		 relay_splice_configure(size_t);
int		 relay_splice_ok(void);
ssize_t		 relay_splice(struct bufferevent *, struct bufferevent *,
		    size_t, uint64_t *);

/* session.c */
void		 session_request(struct conn *, struct route *, const char *,
		    const char *, const char *);
void		 session_verdict(struct conn *, struct auth_resp *, int);
void		 session_end(struct conn *, uint16_t, const char *);
const char	*session_keys(struct conn *, char *, size_t);
int		 session_kill(uint32_t, const char *);
void		 session_relay(struct conn *);
void		 session_control(struct conn *);
void		 session_refuse(struct conn *, enum err_code);

/* upstream.c */
void		 upclient_configure(struct conf *);
void		 upclient_start(struct conn *, struct auth_resp *, int);
void		 upclient_timeout(struct conn *);
void		 upclient_client_read(struct conn *);
void		 upclient_up_read(struct conn *);

#endif
