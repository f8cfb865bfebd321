/*
 * libFuzzer harness: authd as a worker's messages reach it.  The harness
 * is authd's event loop with a configuration in force (sandbox aside), and
 * plays one worker: each input is a burst of packets on a fresh channel,
 * read by ipc_recv() and dispatched by authd_dispatch_worker(), down to
 * the decision, the session limits, the console API's token signing and
 * the upstream connect (to a local port that refuses, or through the
 * master for a Unix socket).  Then the worker hangs up, as a dying worker
 * would, and authd must let go of everything that channel held.
 *
 * Input: packets, each two bytes (which type, how to build it) and then
 * what that packet needs:
 *   type byte below 0xc0: one of the four messages a worker may send,
 *	else any type number (type byte - 0xc0);
 *   how & 3: 0, the structure built from fields (below); 1, 2, 3: raw
 *	payload of the structure's size, one byte less, or more (how >> 4
 *	bytes; 15 means one byte over IPC_MAXPAYLOAD), zeros after a length
 *	byte's worth of input;
 *   how & 4: a descriptor rides along; how & 8: the header's length lies;
 *   how & 0x80: the fields' strings fill their arrays, with no NUL.
 * Fields: a byte each for the numbers, then the strings, each up to a NUL.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "authd.h"
#include "proc.h"
#include "fuzz.h"

#define SECRET		"fuzz-secret-fuzz-secret-fuzz-secret-0123"
#define API_KEY		"fuzz-api-key"
#define WORKER		0
#define MAX_LOOPS	10000

static const struct proc	 fuzz_proc = { .title = "authd",
				    .type = PROC_AUTHD };
static int			 master_peer;	/* the master's end */
static int			 refused[2] = { -1, -1 };
static uint8_t			 pkt[sizeof(struct ipc_hdr) +
				    IPC_MAXPAYLOAD + 2];

struct in {
	const uint8_t	*p;
	size_t		 n;
};

static int
in_byte(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* A port on 127.0.0.1 (and ::1) that is bound, never listening: refuses. */
static uint16_t
refusing_port(void)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	socklen_t		 len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK((refused[0] = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	CHECK(bind(refused[0], (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(refused[0], (struct sockaddr *)&sin, &len) == 0);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = sin.sin_port;
	if ((refused[1] = socket(AF_INET6, SOCK_STREAM, 0)) != -1 &&
	    bind(refused[1], (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		close(refused[1]);
		refused[1] = -1;
	}
	return ntohs(sin.sin_port);
}

static void
add_route(struct conf *c, int id, const char *pattern, enum backend_kind b,
    enum auth_mode auth, uint16_t port)
{
	struct route	*r;

	CHECK((r = calloc(1, sizeof(*r))) != NULL);
	r->c.id = id;
	strlcpy_(r->c.pattern, pattern, sizeof(r->c.pattern));
	r->c.backend = b;
	r->c.auth = auth;
	r->c.port = port;
	if (b == BACKEND_NETWORK) {
		cidr_parse("127.0.0.1/32", &r->c.nets[r->c.nnets++]);
		if (refused[1] != -1)
			cidr_parse("::1/128", &r->c.nets[r->c.nnets++]);
	}
	TAILQ_INSERT_TAIL(&c->routes, r, entry);
	c->nroutes++;
}

static void
add_target(struct conf *c, const char *name, uint16_t port,
    const char *sock)
{
	struct target	*t;

	CHECK((t = calloc(1, sizeof(*t))) != NULL);
	strlcpy_(t->c.name, name, sizeof(t->c.name));
	strlcpy_(t->c.type, "vnc", sizeof(t->c.type));
	if (sock != NULL)
		strlcpy_(t->c.socket, sock, sizeof(t->c.socket));
	else
		strlcpy_(t->c.host, "127.0.0.1", sizeof(t->c.host));
	t->c.port = port;
	TAILQ_INSERT_TAIL(&c->targets, t, entry);
	c->ntargets++;
}

static void
add_keys(struct conf *c)
{
	struct key	*k;
	struct apikey	*a;
	unsigned char	 md[32];
	unsigned int	 i, mdlen;

	CHECK((k = calloc(1, sizeof(*k))) != NULL);
	strlcpy_(k->c.kid, "k1", sizeof(k->c.kid));
	strlcpy_(k->c.alg, "HS256", sizeof(k->c.alg));
	TAILQ_INSERT_TAIL(&c->keys, k, entry);
	CHECK(conf_blob_add(c, BLOB_TOKEN_KEY, 0, "k1", SECRET,
	    strlen(SECRET)) != NULL);
	CHECK((a = calloc(1, sizeof(*a))) != NULL);
	strlcpy_(a->c.name, "fuzz", sizeof(a->c.name));
	CHECK(EVP_Digest(API_KEY, strlen(API_KEY), md, &mdlen, EVP_sha256(),
	    NULL) == 1);
	for (i = 0; i < mdlen; i++)
		snprintf(a->c.sha256 + 2 * i, 3, "%02x", md[i]);
	TAILQ_INSERT_TAIL(&c->apikeys, a, entry);
}

static struct conf *
fuzz_conf(void)
{
	struct conf		*c;
	struct conf_global	*g;
	uint16_t		 port = refusing_port();

	CHECK((c = conf_new()) != NULL);
	g = &c->g;
	g->connect_timeout = 1;
	g->max_sessions = 100;
	g->max_sessions_per_target = 5;
	g->max_sessions_per_client = 50;
	g->max_sessions_per_token = 2;
	g->clock_skew = 30;
	g->max_token_lifetime = 86400;
	g->token_ttl = 300;
	g->api_failures = 5;
	g->norigins = 1;
	strlcpy_(g->origins[0], "https://console.example", HOST_LEN);
	g->ntrusted = 1;
	cidr_parse("127.0.0.2", &g->trusted[0]);
	add_route(c, 0, "/ws/vnc/{name}", BACKEND_TCP, AUTH_NONE, 0);
	add_route(c, 1, "/vnc/{ip}", BACKEND_NETWORK, AUTH_NONE, port);
	add_route(c, 2, "/t/{name}", BACKEND_TCP, AUTH_TOKEN, 0);
	add_route(c, 3, "/{token}/{vmi}", BACKEND_TCP, AUTH_TOKEN, 0);
	add_target(c, "vm1", port, NULL);
	add_target(c, "sock", 0, "/nonexistent/vnc.sock");
	add_keys(c);
	return c;
}

static int
master_dispatch(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	(void)ipc;
	(void)m;
	(void)arg;
	return 0;
}

static void
master_closed(struct ipc *ipc, void *arg)
{
	(void)ipc;
	(void)arg;
	abort();	/* the harness holds the master's end open */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 sv[2];

	(void)argc;
	(void)argv;
	CHECK((ps = calloc(1, sizeof(*ps))) != NULL);
	ps->proc = &fuzz_proc;
	CHECK((ps->base = event_base_new()) != NULL);
	CHECK(ipc_socketpair(sv) == 0);
	master_peer = sv[1];
	fcntl(master_peer, F_SETFL, O_NONBLOCK);
	CHECK((ps->master = ipc_new(ps->base, sv[0], -1, master_dispatch,
	    master_closed, NULL)) != NULL);
	ps->conf = fuzz_conf();
	decide_configure(ps->conf, 1);
	/* No used tokens to take back: requests are decided once claimed. */
	authd_handback_in();
	return 0;
}

/* Reads and drops what authd sent, closing any descriptor it carried. */
static void
drain(int fd)
{
	struct ipc_msg	 m;
	static uint8_t	 buf[IPC_MAXPAYLOAD];

	while (ipc_recv(fd, &m, buf, sizeof(buf)) == 1)
		if (m.fd != -1)
			close(m.fd);
}

/* Copies a string field: up to a NUL of the input, or, fill, no NUL. */
static void
field(struct in *in, char *dst, size_t size, int fill)
{
	size_t	 i = 0;
	int	 c;

	memset(dst, 0, size);
	while (in->n > 0 && (c = in_byte(in)) != 0)
		if (i < size - 1)
			dst[i++] = c;
	if (fill && i > 0)
		for (; i < size; i++)
			dst[i] = dst[i % 7];
}

static size_t
typed(int type, struct in *in, uint8_t *p, int fill)
{
	struct auth_req		*q = (struct auth_req *)p;
	struct api_req		*a = (struct api_req *)p;
	struct session_claim	*sc = (struct session_claim *)p;
	struct session_end	*se = (struct session_end *)p;

	switch (type) {
	case IMSG_AUTH_REQ:
		q->reqid = in_byte(in);
		q->route_id = in_byte(in) % 6 - 1;
		q->session = in_byte(in);
		q->tls = in_byte(in) & 1;
		q->token_source = in_byte(in) % 7;
		field(in, q->peer, sizeof(q->peer), fill);
		field(in, q->xff, sizeof(q->xff), fill);
		field(in, q->xfproto, sizeof(q->xfproto), fill);
		field(in, q->host, sizeof(q->host), fill);
		field(in, q->origin, sizeof(q->origin), fill);
		field(in, q->target, sizeof(q->target), fill);
		field(in, q->ns, sizeof(q->ns), fill);
		field(in, q->token, sizeof(q->token), fill);
		return sizeof(*q);
	case IMSG_API_REQ:
		a->session = in_byte(in);
		field(in, a->peer, sizeof(a->peer), fill);
		field(in, a->xff, sizeof(a->xff), fill);
		field(in, a->target, sizeof(a->target), fill);
		field(in, a->key, sizeof(a->key), fill);
		return sizeof(*a);
	case IMSG_SESSION_CLAIM:
		sc->session = in_byte(in);
		field(in, sc->target, sizeof(sc->target), fill);
		field(in, sc->client, sizeof(sc->client), fill);
		field(in, sc->token, sizeof(sc->token), fill);
		return sizeof(*sc);
	case IMSG_SESSION_END:
		se->session = in_byte(in);
		se->reason = in_byte(in);
		return sizeof(*se);
	default:
		return 0;
	}
}

static size_t
natural(int type)
{
	switch (type) {
	case IMSG_AUTH_REQ:
		return sizeof(struct auth_req);
	case IMSG_API_REQ:
		return sizeof(struct api_req);
	case IMSG_SESSION_CLAIM:
		return sizeof(struct session_claim);
	case IMSG_SESSION_END:
		return sizeof(struct session_end);
	default:
		return 0;
	}
}

static size_t
raw(int type, int how, struct in *in, uint8_t *p)
{
	size_t	 len = natural(type), n;

	switch (how & 3) {
	case 2:
		len = len > 0 ? len - 1 : 0;
		break;
	case 3:
		len = (how >> 4) == 15 ? IPC_MAXPAYLOAD + 1 : len + (how >> 4);
		break;
	}
	n = in_byte(in);
	if (n > in->n)
		n = in->n;
	if (n > len)
		n = len;
	memcpy(p, in->p, n);
	in->p += n;
	in->n -= n;
	return len;
}

static void
send_packet(int sock, const uint8_t *buf, size_t len, int withfd)
{
	int	 fd = -1, i, rv;

	if (withfd)
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* A full socket: let authd read, as a real peer would wait. */
	for (i = 0; i < MAX_LOOPS && (rv = ipc_sendpkt(sock, buf, len,
	    fd)) == 0; i++) {
		event_base_loop(ps->base, EVLOOP_NONBLOCK);
		drain(sock);
		drain(master_peer);
	}
	if (fd != -1)
		close(fd);
}

static void
one_packet(int sock, struct in *in)
{
	struct ipc_hdr	 hdr;
	int		 t, how;
	size_t		 len;

	t = in_byte(in);
	how = in_byte(in);
	t = t < 0xc0 ? (int[]){ IMSG_AUTH_REQ, IMSG_API_REQ,
	    IMSG_SESSION_CLAIM, IMSG_SESSION_END }[t & 3] : t - 0xc0;
	memset(pkt, 0, sizeof(pkt));
	if ((how & 3) == 0 && natural(t) > 0)
		len = typed(t, in, pkt + sizeof(hdr), how & 0x80);
	else
		len = raw(t, how, in, pkt + sizeof(hdr));
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = t;
	hdr.len = how & 8 ? len + 1 : len;
	memcpy(pkt, &hdr, sizeof(hdr));
	send_packet(sock, pkt, sizeof(hdr) + len, how & 4);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in	 in = { data, size };
	int		 sv[2], i;

	CHECK(ipc_socketpair(sv) == 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	authd_open_channel(WORKER, sv[0]);
	CHECK(wchans[WORKER].ipc != NULL);
	for (i = 0; i < 64 && in.n >= 2; i++)
		one_packet(sv[1], &in);
	/* The worker goes away; authd reads what is queued, then EOF. */
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < MAX_LOOPS && wchans[WORKER].ipc != NULL; i++) {
		event_base_loop(ps->base, EVLOOP_NONBLOCK);
		drain(sv[1]);
		drain(master_peer);
	}
	CHECK(wchans[WORKER].ipc == NULL);
	close(sv[1]);
	drain(master_peer);
	return 0;
}
