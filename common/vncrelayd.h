/*
 * vncrelayd: definitions shared by every process.  What two processes say
 * to each other is declared here once; nothing else is included across
 * process directories.
 */
#ifndef VNCRELAYD_H
#define VNCRELAYD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stddef.h>

#define VNCRELAYD_VERSION	"0.1"
#define VNCRELAYD_CONF		"/etc/vncrelayd.conf"
#define VNCRELAYD_USER		"_vncrelayd"
#ifndef VNCRELAYD_WEBROOT
#define VNCRELAYD_WEBROOT	"/usr/local/share/vncrelayd/www"
#endif
#define VNCRELAYD_AUTHD_ROOT	"/var/lib/vncrelayd/empty"
#define VNCRELAYD_SOCKET	"/run/vncrelayd.sock"

/* Fixed descriptor numbers in a re-executed child. */
#define CHILD_FD_MASTER		3

/* Bounds on configuration items (also the sizes of IPC fields). */
#define NAME_LEN		64
#define HOST_LEN		256
#define PATHNAME_LEN		256
#define PATTERN_LEN		256
#define ADDR_LEN		128
#define MAX_NETWORKS		32
#define MAX_ORIGINS		16
#define MAX_WORKERS		64
#define MAX_KUBEVIRTS		32	/* token files the master watches */
#define TOKEN_MAXLEN		4096
#define BLOB_MAXLEN		(60 * 1024)

enum proc_type {
	PROC_MASTER,
	PROC_AUTHD,
	PROC_WORKER,
};

/*
 * Error codes of seed 004; ERR_NONE means allowed.  The order is part of
 * the IPC format; names and HTTP statuses come from err_name(), err_status().
 */
enum err_code {
	ERR_NONE = 0,
	ERR_INVALID_TOKEN,
	ERR_TOKEN_EXPIRED,
	ERR_TOKEN_ALREADY_USED,
	ERR_VM_NOT_FOUND,
	ERR_NO_CONSOLE_AVAILABLE,
	ERR_CONNECTION_FAILED,
	ERR_MAX_CONNECTIONS_REACHED,
	ERR_UNAUTHORIZED,
	ERR_INTERNAL_ERROR,
	ERR_BAD_REQUEST,
	ERR_MAX
};

const char	*err_name(enum err_code);
const char	*err_message(enum err_code);
int		 err_status(enum err_code);

enum backend_kind {
	BACKEND_TCP,		/* named target, {name} */
	BACKEND_NETWORK,	/* {ip} inside allowed networks */
	BACKEND_PRISM,
	BACKEND_KUBEVIRT,
};

enum auth_mode {
	AUTH_TOKEN,
	AUTH_NONE,
};

/* How a refused WebSocket request is answered. */
enum error_style {
	ERRSTYLE_HTTP,		/* HTTP status with a JSON body, no upgrade */
	ERRSTYLE_JSON,		/* upgrade, JSON text message, close 1008/1011 */
	ERRSTYLE_REASON,	/* upgrade, close 1000 with a reason (seed 001) */
};

struct cidr {
	int		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	int		 bits;
};

/*
 * Configuration as the master parsed it.  These structures cross the IPC
 * channel as they are, so they hold no pointers.
 */
struct conf_global {
	char		 user[NAME_LEN];
	int		 prefork;
	char		 webroot[PATHNAME_LEN];
	char		 authd_root[PATHNAME_LEN];
	char		 control_socket[PATHNAME_LEN];
	char		 control_group[NAME_LEN];
	char		 metrics_listen[ADDR_LEN];
	char		 path_prefix[NAME_LEN];
	int		 drain_timeout;
	int		 head_timeout;
	int		 connect_timeout;
	int		 idle_timeout;
	int		 session_timeout;
	int		 heartbeat;
	uint32_t	 max_head_size;
	uint32_t	 max_headers;
	uint32_t	 max_frame_size;
	uint32_t	 buffer_size;
	int		 max_sessions;
	int		 max_sessions_per_target;
	int		 max_sessions_per_client;
	int		 max_sessions_per_token;
	int		 handshake_rate;
	int		 clock_skew;
	uint32_t	 replay_cache_size;
	int		 max_token_lifetime;
	int		 token_ttl;
	int		 api_failures;
	char		 console_api[PATTERN_LEN];
	char		 signing_key[NAME_LEN];
	int		 norigins;
	char		 origins[MAX_ORIGINS][HOST_LEN];
	int		 ntrusted;
	struct cidr	 trusted[MAX_NETWORKS];
	int		 verbose;
	int		 debug_triggers;	/* debug builds only */
};

struct conf_listen {
	int		 id;
	char		 addr[ADDR_LEN];
	int		 tls;
	int		 metrics;	/* metrics-listen, not a console one */
	char		 ciphers[512];
	char		 ciphersuites[256];
	char		 curves[128];
};

struct conf_target {
	char		 name[NAME_LEN];
	char		 host[HOST_LEN];
	uint16_t	 port;
	char		 socket[108];
	char		 type[8];	/* "vnc" or "spice" */
	int		 has_password;
};

struct conf_route {
	int		 id;
	char		 pattern[PATTERN_LEN];
	enum backend_kind backend;
	enum auth_mode	 auth;
	enum error_style errors;
	uint16_t	 port;		/* BACKEND_NETWORK */
	char		 upstream[NAME_LEN];	/* prism or kubevirt name */
	int		 nnets;
	struct cidr	 nets[MAX_NETWORKS];
};


struct conf_key {
	char		 kid[NAME_LEN];
	char		 alg[16];	/* "HS256" or "EdDSA" */
};

/* A Prism Element or Central gateway (seed 000). */
struct conf_prism {
	char		 name[NAME_LEN];
	char		 host[HOST_LEN];	/* as written: SNI, Host, cert */
	char		 addr[ADDR_LEN];	/* resolved by the master */
	uint16_t	 port;
	char		 username[NAME_LEN];
	int		 central;
	int		 tls_verify;
	int		 session_ttl;
	int		 cluster_ttl;
	int		 login_timeout;
};

/* A Kubernetes API server with KubeVirt's VNC subresource (seed 001). */
struct conf_kubevirt {
	char		 name[NAME_LEN];
	char		 host[HOST_LEN];	/* from api-url: SNI, Host, cert */
	char		 addr[ADDR_LEN];	/* resolved by the master */
	uint16_t	 port;
	int		 tls;			/* https */
	char		 namespace[NAME_LEN];
	char		 api_version[16];
	int		 preserve_session;
	int		 tls_verify;
	char		 token_file[PATHNAME_LEN];
};

struct conf_apikey {
	char		 name[NAME_LEN];
	char		 sha256[65];	/* hex SHA-256 of the key */
};

/* Variable-sized configuration: certificates, keys, secrets. */
enum blob_kind {
	BLOB_TLS_CERT,		/* listener chain, by listen id (workers) */
	BLOB_TLS_KEY,		/* listener key, by listen id (workers) */
	BLOB_UPSTREAM_CA,	/* CA bundle, by upstream name (workers, authd) */
	BLOB_TOKEN_KEY,		/* token key material, by kid (authd) */
	BLOB_PASSWORD,		/* prism or target password, by name (authd) */
	BLOB_BEARER,		/* kubevirt bearer token, by name (authd) */
};

struct conf_blob {
	uint32_t	 kind;
	int32_t		 id;
	char		 name[NAME_LEN];
	/* followed by the data */
};

/*
 * Message types.  Numbers are stable within one binary only: every process
 * is the same executable, re-executed.
 */
enum imsg_type {
	IMSG_NONE,
	IMSG_CONF_BEGIN,	/* m->c: u32 generation */
	IMSG_CONF_GLOBAL,
	IMSG_CONF_LISTEN,	/* + listening socket */
	IMSG_CONF_ROUTE,
	IMSG_CONF_TARGET,
	IMSG_CONF_KEY,
	IMSG_CONF_PRISM,
	IMSG_CONF_KUBEVIRT,
	IMSG_CONF_APIKEY,
	IMSG_CONF_BLOB,
	IMSG_CONF_END,
	IMSG_CONF_ACK,		/* c->m: u32 generation */
	IMSG_CONF_COMMIT,	/* m->c: u32 generation */
	IMSG_CONF_ABORT,
	IMSG_AUTHD_CHANNEL,	/* m->w, m->a (peerid = worker id): + socket */
	IMSG_SHUTDOWN,		/* m->c: stop accepting, drain */
	IMSG_AUTH_REQ,		/* w->a */
	IMSG_AUTH_RESP,		/* a->w: + upstream socket when allowed */
	IMSG_SESSION_END,	/* w->a */
	IMSG_STATS,		/* w->m */
	IMSG_CTL_TOKEN,		/* m->a, a->m */
	IMSG_CTL_KILL,		/* m->w: peerid = request; uint32_t session */
	IMSG_CTL_VERBOSE,	/* m->c: int */
	IMSG_WORKER_BAD,	/* a->m: peerid = worker that misbehaved */
	IMSG_CONNECT_UNIX,	/* a->m: path; m->a: + connected socket */
	IMSG_API_REQ,		/* w->a: console API token request */
	IMSG_API_RESP,		/* a->w */
	IMSG_CTL_TOKEN_RESP,	/* a->m */
	IMSG_REPLAY_NOTE,	/* a->m: a used jti */
	IMSG_SESSION_CLAIM,	/* w->a: a live session, to a new authd */
	IMSG_CLAIMS_DONE,	/* w->a: every live session has been claimed */
	IMSG_UPSTREAM_RETRY,	/* w->a: the upstream refused our credentials */
	IMSG_BEARER,		/* m->a: a kubevirt token file changed; a->m: re-read it */
	IMSG_STATS_AUTHD,	/* a->m: struct authd_stats */
	IMSG_CTL_SESSIONS,	/* m->w: peerid = request */
	IMSG_SESSION_LIST,	/* w->m: peerid = request; a batch */
	IMSG_CTL_KILLED,	/* w->m: peerid = request; struct kill_result */
	IMSG_REPLAY_CHANNEL,	/* m->a: + the socket for IMSG_REPLAY_NOTE */
	IMSG_METRICS_REQ,	/* w->m: peerid = the connection that scrapes */
	IMSG_METRICS_TEXT,	/* m->w: peerid as asked; struct metrics_part */
	IMSG_REPLAY_BATCH,	/* m->a: struct replay_batch, then the notes */
	IMSG_REPLAY_MORE,	/* a->m: u32 offset of the next batch */
	IMSG_LOAD_PAGE,		/* m->w: + the shared page of counts (load.c) */
	IMSG_MAX
};

/* Where a request's token was found. */
enum token_source {
	TOKSRC_NONE,
	TOKSRC_QUERY,
	TOKSRC_COOKIE,
	TOKSRC_PATH,
	TOKSRC_SUBPROTOCOL,
	TOKSRC_BEARER,
};

/* Worker to authd: may this request open this console? */
struct auth_req {
	uint32_t	 reqid;
	int32_t		 route_id;
	uint32_t	 session;
	int32_t		 tls;
	int32_t		 token_source;
	char		 peer[64];		/* address of the TCP peer */
	char		 xff[256];		/* X-Forwarded-For, may be "" */
	char		 xfproto[16];		/* X-Forwarded-Proto */
	char		 host[HOST_LEN];	/* Host header */
	char		 origin[HOST_LEN];	/* Origin header, "" if none */
	char		 target[HOST_LEN];	/* {name}, {ip}, {uuid}, {vmi} */
	char		 ns[NAME_LEN];		/* {namespace} */
	char		 token[TOKEN_MAXLEN + 1];
};

enum upstream_kind {
	UPSTREAM_TCP,
	UPSTREAM_WS,
};

/* authd to worker: the verdict and, when allowed, how to talk upstream. */
struct auth_resp {
	uint32_t	 reqid;
	uint32_t	 session;
	int32_t		 code;			/* enum err_code */
	int32_t		 upstream;		/* enum upstream_kind */
	int32_t		 upstream_tls;
	int32_t		 tls_verify;
	char		 client[64];		/* the client as authd believes */
	char		 target[HOST_LEN];
	char		 user[NAME_LEN];
	char		 jti_hash[17];
	char		 sni[HOST_LEN];
	char		 ca[NAME_LEN];		/* BLOB_UPSTREAM_CA name */
	char		 ws_path[1024];
	char		 ws_protocol[64];
	char		 ws_headers[8192];	/* Host, Cookie/Authorization, Origin */
};

/* Worker to authd: the console API asks for a token (seed 004). */
struct api_req {
	uint32_t	 session;
	char		 peer[64];
	char		 xff[256];
	char		 target[HOST_LEN];
	char		 key[256];		/* the bearer API key */
};

struct api_resp {
	uint32_t	 session;
	int32_t		 code;
	int64_t		 expires;
	int32_t		 has_password;
	char		 type[8];
	char		 token[TOKEN_MAXLEN + 1];
};

/* Master and authd: vncrelayctl token. */
struct ctl_token {
	uint32_t	 id;
	int32_t		 ttl;
	int32_t		 code;
	int64_t		 expires;
	char		 target[HOST_LEN];
	char		 user[NAME_LEN];
	char		 token[TOKEN_MAXLEN + 1];
};

/* A used one-time token, kept by the master across authd restarts. */
struct replay_note {
	uint8_t		 digest[16];		/* REPLAY_DIGEST_LEN */
	double		 exp;
};

/*
 * Master to authd: the used tokens from offset on, n of them (as many as
 * one message holds); total in all.  The last batch may be empty.
 */
struct replay_batch {
	uint32_t	 offset;
	uint32_t	 n;
	uint32_t	 total;
	uint32_t	 last;
};

struct session_claim {
	uint32_t	 session;
	char		 target[HOST_LEN];
	char		 client[64];
	char		 token[17];
};

/* Worker to authd: the upstream answered the upgrade with this status. */
struct upstream_retry {
	uint32_t	 session;
	int32_t		 status;
};

struct session_end {
	uint32_t	 session;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	int32_t		 reason;
};

/*
 * What the children report to the master, for vncrelayctl and the metrics
 * listener.  Counters count from the reporting process's start; the
 * master turns them into its own totals.  Label sets are bounded here.
 */
#define LABEL_LEN		64	/* a target as a metric label */
#define STATS_SERIES_MAX	64	/* (route, target) pairs per process */
#define HIST_BUCKETS		14	/* latency buckets, the last is +Inf */
#define LATENCY_SERIES_MAX	8	/* (metric, kind) pairs authd times */
#define LATENCY_KIND_LEN	16
#define SESSION_BATCH		64	/* sessions in one IMSG_SESSION_LIST */
#define SESSION_LIST_MAX	4096	/* sessions one listing shows */

/* The sessions of one route and target. */
struct stats_series {
	char		 route[PATTERN_LEN];
	char		 target[LABEL_LEN];
	uint32_t	 active;
	uint32_t	 unused;
	uint64_t	 total;
	uint64_t	 bytes_in;		/* browser to console */
	uint64_t	 bytes_out;		/* console to browser */
};

/* Worker to master, once a second at most: then nseries stats_series. */
struct worker_stats {
	uint64_t	 sessions_total;
	uint32_t	 sessions_active;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 splice_bytes;		/* of bytes_out, by splice(2) */
	uint64_t	 handshakes[ERR_MAX];
	uint32_t	 connections;
	uint32_t	 nseries;
};

enum latency_metric {
	LATENCY_CONNECT,	/* upstream connect, kind "tcp" or "unix" */
	LATENCY_LOGIN,		/* upstream login, kind "prism" */
	LATENCY_MAX
};

/* Observations by bucket (not cumulative; the last bucket is +Inf). */
struct histogram {
	uint64_t	 bucket[HIST_BUCKETS];
	uint64_t	 count;
	uint64_t	 sum_us;
};

struct latency_series {
	int32_t		 metric;		/* enum latency_metric */
	char		 kind[LATENCY_KIND_LEN];
	struct histogram h;
};

/* authd to master, once a second at most. */
struct authd_stats {
	uint64_t	 decisions[ERR_MAX];
	uint32_t	 nlatency;
	struct latency_series latency[LATENCY_SERIES_MAX];
};

/* One live session, for vncrelayctl show sessions. */
struct session_info {
	uint32_t	 id;
	char		 client[64];		/* as authd believes */
	char		 peer[64];		/* TCP peer, address:port */
	char		 route[PATTERN_LEN];
	char		 target[HOST_LEN];
	char		 user[NAME_LEN];
	int64_t		 since;			/* seconds since the epoch */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
};

/* A worker's answer to IMSG_CTL_KILL. */
struct kill_result {
	uint32_t	 session;
	int32_t		 found;		/* 1: it is ending; 0: no such session */
};

/* Worker to master: then n session_info; the last batch says so. */
struct session_list {
	uint32_t	 n;
	uint32_t	 last;
	uint32_t	 truncated;
	uint32_t	 unused;
};

/*
 * Master to worker: a part of the metrics page, then at most
 * IPC_MAXPAYLOAD - sizeof(struct metrics_part) bytes of its text.  The
 * page is METRICS_PAGE_MAX bytes at most; failed (with no text) says that
 * the master gives no page this time.
 */
#define METRICS_PAGE_MAX	(4 * 1024 * 1024)

struct metrics_part {
	uint32_t	 last;		/* 1: the page is complete */
	uint32_t	 failed;	/* 1: no page; the scrape gets 503 */
};

/* Entry points of the re-executed children (one binary, three roles). */
int	authd_main(int, int);
int	worker_main(int, int);

/* util.c: the process title shown by ps(1). */
void	proctitle_init(int, char **);
void	proctitle_set(const char *);

#endif /* VNCRELAYD_H */
