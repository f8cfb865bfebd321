/*
 * One client connection of wsload: TCP, optional TLS, optional RFC 6455
 * WebSocket on top.  Blocking sockets with timeouts: each connection is
 * driven by one thread, which keeps the measuring code simple and leaves
 * the waiting to the kernel.
 *
 * Frames to the server are masked (RFC 6455 5.3) with a key per frame;
 * frames from the server may have any length the 64-bit field allows, and
 * pings are answered.  conn_recv hands out payload where it lies in the
 * read buffer, so bulk data is never copied here.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "wsload.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX	4096
#define TOKEN_MAX	2048
#define OP_CONT		0x0
#define OP_TEXT		0x1
#define OP_BINARY	0x2
#define OP_CLOSE	0x8
#define OP_PING		0x9
#define OP_PONG		0xa

static int	conn_fill(struct wsconn *, size_t);

/* "ws://host:port/path", "wss://...", or with raw, "host:port". */
int
endpoint_parse(struct endpoint *e, const char *s, int raw)
{
	const char	*hp, *slash, *colon;
	size_t		 hl;

	memset(e, 0, sizeof(*e));
	e->raw = raw;
	if (raw)
		hp = s;
	else if (strncmp(s, "ws://", 5) == 0)
		hp = s + 5;
	else if (strncmp(s, "wss://", 6) == 0) {
		hp = s + 6;
		e->tls = 1;
	} else
		return -1;
	slash = strchr(hp, '/');
	if (slash == NULL)
		slash = hp + strlen(hp);
	if (raw && *slash != '\0')
		return -1;
	if ((colon = memchr(hp, ':', slash - hp)) == NULL)
		return -1;
	hl = colon - hp;
	if (hl == 0 || hl >= sizeof(e->host))
		return -1;
	memcpy(e->host, hp, hl);
	e->port = (int)strtol(colon + 1, NULL, 10);
	if (e->port <= 0 || e->port > 65535)
		return -1;
	if (snprintf(e->path, sizeof(e->path), "%s", *slash ? slash : "/") >=
	    (int)sizeof(e->path))
		return -1;
	return 0;
}

static int
tcp_connect(const struct endpoint *e)
{
	struct sockaddr_in	 sin;
	struct timeval		 tv = { IO_TIMEOUT, 0 };
	int			 fd, on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(e->port);
	if (inet_pton(AF_INET, e->host, &sin.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t
io_read(struct wsconn *c, void *p, size_t n)
{
	ssize_t	r;
	int	e;

	for (;;) {
		if (c->ssl == NULL)
			r = recv(c->fd, p, n, 0);
		else {
			r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX :
			    (int)n);
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
			}
		}
		if (r == -1 && errno == EINTR)
			continue;
		return r;
	}
}

static int
io_write(struct wsconn *c, const void *p, size_t n)
{
	const uint8_t	*b = p;
	ssize_t		 w;

	while (n > 0) {
		if (c->ssl == NULL)
			w = send(c->fd, b, n, MSG_NOSIGNAL);
		else
			w = SSL_write(c->ssl, b, n > INT32_MAX ? INT32_MAX :
			    (int)n);
		if (w == -1 && c->ssl == NULL && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= w;
	}
	return 0;
}

/* xorshift64: masking keys need to vary, not to be secret, in a bench. */
static void
conn_mask_key(struct wsconn *c, uint8_t key[4])
{
	uint64_t	x = c->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	memcpy(key, &x, 4);
}

/* Copies n bytes from src to dst, masked with key, eight at a time. */
void
ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
	uint8_t		k[8];
	uint64_t	m, w;
	size_t		i;

	for (i = 0; i < 8; i++)
		k[i] = key[i & 3];
	memcpy(&m, k, 8);
	for (; n >= 8; src += 8, dst += 8, n -= 8) {
		memcpy(&w, src, 8);
		w ^= m;
		memcpy(dst, &w, 8);
	}
	for (i = 0; i < n; i++)
		dst[i] = src[i] ^ k[i];
}

size_t
ws_header(uint8_t h[WS_HEADER_MAX], int opcode, uint64_t len,
    const uint8_t key[4])
{
	size_t	n = 2;
	int	i;

	h[0] = 0x80 | opcode;
	if (len < 126)
		h[1] = len;
	else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = len >> 8;
		h[3] = len;
		n = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = len >> (56 - 8 * i);
		n = 10;
	}
	h[1] |= 0x80;
	memcpy(h + n, key, 4);
	return n + 4;
}

static int
conn_frame(struct wsconn *c, int opcode, const void *p, size_t n)
{
	uint8_t	key[4];
	size_t	hl;

	if (n + WS_HEADER_MAX > c->wcap) {
		free(c->wbuf);
		if ((c->wbuf = malloc(n + WS_HEADER_MAX)) == NULL)
			return -1;
		c->wcap = n + WS_HEADER_MAX;
	}
	conn_mask_key(c, key);
	hl = ws_header(c->wbuf, opcode, n, key);
	ws_mask_copy(c->wbuf + hl, p, n, key);
	return io_write(c, c->wbuf, hl + n);
}

/* Sends n bytes of the stream: as they are, or as one binary frame. */
int
conn_send(struct wsconn *c, const void *p, size_t n)
{
	if (c->raw)
		return io_write(c, p, n);
	return conn_frame(c, OP_BINARY, p, n);
}

/* The 16-byte request the bench upstream understands. */
int
conn_request(struct wsconn *c, int op, uint64_t count)
{
	uint8_t	req[REQ_LEN];
	int	i;

	memset(req, 0, sizeof(req));
	req[0] = op;
	for (i = 0; i < 8; i++)
		req[8 + i] = count >> (56 - 8 * i);
	return conn_send(c, req, sizeof(req));
}

/* At least need bytes from rpos on in the buffer; -1 on EOF or error. */
static int
conn_fill(struct wsconn *c, size_t need)
{
	ssize_t	r;

	if (need > c->rcap)
		return -1;
	if (c->rpos + need > c->rcap) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	while (c->rlen - c->rpos < need) {
		r = io_read(c, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (r <= 0)
			return -1;
		c->rlen += r;
	}
	return 0;
}

/*
 * Reads frame headers until a data frame's payload is due; answers pings.
 * 0 at a data frame, 1 on a close frame, -1 on error.
 */
static int
conn_next_frame(struct wsconn *c)
{
	uint8_t		*h, ctl[125];
	uint64_t	 len;
	size_t		 need;
	int		 op, len7, i;

	while (c->frame_left == 0) {
		if (conn_fill(c, 2) == -1)
			return -1;
		h = c->rbuf + c->rpos;
		if (h[1] & 0x80)
			return -1;	/* a server never masks */
		len7 = h[1] & 0x7f;
		need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
		if (conn_fill(c, need) == -1)
			return -1;
		h = c->rbuf + c->rpos;
		op = h[0] & 0x0f;
		if (len7 == 126)
			len = (uint64_t)h[2] << 8 | h[3];
		else if (len7 == 127)
			for (len = 0, i = 2; i < 10; i++)
				len = len << 8 | h[i];
		else
			len = len7;
		c->rpos += need;
		if (op == OP_CONT || op == OP_TEXT || op == OP_BINARY) {
			c->frame_left = len;
			continue;
		}
		if (len > sizeof(ctl) || conn_fill(c, len) == -1)
			return -1;
		memcpy(ctl, c->rbuf + c->rpos, len);
		c->rpos += len;
		if (op == OP_CLOSE)
			return 1;
		if (op == OP_PING && conn_frame(c, OP_PONG, ctl, len) == -1)
			return -1;
	}
	return 0;
}

/*
 * The next piece of the byte stream, where it lies in the read buffer:
 * its length, 0 at the end of the stream, -1 on error.
 */
ssize_t
conn_recv(struct wsconn *c, const uint8_t **p)
{
	size_t	n;
	int	r;

	if (c->raw) {
		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
			if (conn_fill(c, 1) == -1)
				return 0;
		}
		n = c->rlen - c->rpos;
	} else {
		if ((r = conn_next_frame(c)) != 0)
			return r == 1 ? 0 : -1;
		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
			if (conn_fill(c, 1) == -1)
				return -1;
		}
		n = c->rlen - c->rpos;
		if (n > c->frame_left)
			n = c->frame_left;
		c->frame_left -= n;
	}
	*p = c->rbuf + c->rpos;
	c->rpos += n;
	return n;
}

int
conn_recv_exact(struct wsconn *c, void *buf, size_t n)
{
	const uint8_t	*p;
	uint8_t		*o = buf;
	ssize_t		 r;
	size_t		 take;

	while (n > 0) {
		if ((r = conn_recv(c, &p)) <= 0)
			return -1;
		take = (size_t)r < n ? (size_t)r : n;
		memcpy(o, p, take);
		/* Give back what was not asked for. */
		c->rpos -= r - take;
		if (!c->raw)
			c->frame_left += r - take;
		o += take;
		n -= take;
	}
	return 0;
}

static void
accept_key(const char *key, char out[29])
{
	EVP_MD_CTX	*ctx;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
	    EVP_DigestUpdate(ctx, WS_GUID, strlen(WS_GUID)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20)
		EVP_EncodeBlock((unsigned char *)out, md, 20);
	EVP_MD_CTX_free(ctx);
}

/* The value of header name in a response head, or NULL. */
static const char *
head_get(char *head, const char *name, char *val, size_t len)
{
	char	*line, *save, *colon, *v;
	size_t	 vl;

	for (line = strtok_r(head, "\r\n", &save); line;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if ((colon = strchr(line, ':')) == NULL ||
		    (size_t)(colon - line) != strlen(name) ||
		    strncasecmp(line, name, colon - line) != 0)
			continue;
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		vl = strcspn(v, " \t");
		if (vl >= len)
			return NULL;
		memcpy(val, v, vl);
		val[vl] = '\0';
		return val;
	}
	return NULL;
}

static int
ws_upgrade(struct wsconn *c, const struct endpoint *e,
    const struct signer *s, char *why, size_t whylen)
{
	char		 req[HEAD_MAX + TOKEN_MAX], token[TOKEN_MAX] = "";
	char		 head[HEAD_MAX + 1], key[25], want[29], got[64];
	uint8_t		 raw[16];
	uint8_t		*end;
	size_t		 hl;
	int		 n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	if (s->keylen && signer_token(s, token, sizeof(token)) == -1) {
		snprintf(why, whylen, "cannot sign a token");
		return -1;
	}
	n = snprintf(req, sizeof(req), "GET %s%s%s HTTP/1.1\r\n"
	    "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: binary\r\n\r\n", e->path,
	    token[0] ? (strchr(e->path, '?') ? "&token=" : "?token=") : "",
	    token, e->host, e->port, key);
	if (n < 0 || n >= (int)sizeof(req) || io_write(c, req, n) == -1) {
		snprintf(why, whylen, "cannot send the upgrade request");
		return -1;
	}
	for (;;) {
		end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (c->rlen >= HEAD_MAX || conn_fill(c, c->rlen + 1) == -1) {
			snprintf(why, whylen, "no response head");
			return -1;
		}
	}
	hl = end + 4 - c->rbuf;
	memcpy(head, c->rbuf, hl);
	head[hl] = '\0';
	c->rpos = hl;
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		snprintf(why, whylen, "upgrade refused: %.*s",
		    (int)strcspn(head, "\r\n"), head);
		return -1;
	}
	accept_key(key, want);
	if (head_get(head, "Sec-WebSocket-Accept", got, sizeof(got)) == NULL ||
	    strcmp(got, want) != 0) {
		snprintf(why, whylen, "wrong Sec-WebSocket-Accept");
		return -1;
	}
	return 0;
}

/*
 * OpenSSL alone reads a record's 5-byte header, then its body: two reads
 * per 16 KiB.  Its own read-ahead moves what is left of its buffer to the
 * front at every record, which costs more than it saves with a big one.
 * So a buffering BIO reads tls_rbuf bytes at a time under it instead.
 */
static int
conn_tls_bio(struct wsconn *c, const struct endpoint *e)
{
	BIO	*sock, *buf;

	if (e->tls_rbuf == 0)
		return SSL_set_fd(c->ssl, c->fd) == 1 ? 0 : -1;
	if ((sock = BIO_new_socket(c->fd, BIO_NOCLOSE)) == NULL)
		return -1;
	if ((buf = BIO_new(BIO_f_buffer())) == NULL ||
	    BIO_set_read_buffer_size(buf, e->tls_rbuf) != 1) {
		BIO_free(buf);
		BIO_free(sock);
		return -1;
	}
	/* Writes go straight to the socket: nothing to flush. */
	BIO_up_ref(sock);
	SSL_set_bio(c->ssl, BIO_push(buf, sock), sock);
	return 0;
}

static int
conn_tls(struct wsconn *c, const struct endpoint *e)
{
	if ((c->ssl = SSL_new(e->ctx)) == NULL ||
	    conn_tls_bio(c, e) == -1 ||
	    SSL_set_tlsext_host_name(c->ssl, "localhost") != 1)
		return -1;
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

/*
 * A connection that has done everything up to the upstream's greeting,
 * which it has read and checked.  rcap is the read buffer's size.
 */
struct wsconn *
conn_open(const struct endpoint *e, const struct signer *s, size_t rcap,
    char *why, size_t whylen)
{
	struct wsconn	*c;
	char		 greet[GREETING_LEN];

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->rbuf = malloc(rcap)) == NULL) {
		free(c);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->rcap = rcap;
	c->raw = e->raw;
	if (RAND_bytes((uint8_t *)&c->rng, sizeof(c->rng)) != 1 || !c->rng)
		c->rng = 0x9e3779b97f4a7c15ULL;
	if ((c->fd = tcp_connect(e)) == -1) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto fail;
	}
	if (e->tls && conn_tls(c, e) == -1) {
		snprintf(why, whylen, "TLS handshake failed");
		goto fail;
	}
	if (!e->raw && ws_upgrade(c, e, s, why, whylen) == -1)
		goto fail;
	if (conn_recv_exact(c, greet, sizeof(greet)) == -1 ||
	    memcmp(greet, GREETING, GREETING_LEN) != 0) {
		snprintf(why, whylen, "no RFB greeting");
		goto fail;
	}
	return c;
fail:
	conn_close(c, 0);
	return NULL;
}

/* With polite, a WebSocket says goodbye with a close frame first. */
void
conn_close(struct wsconn *c, int polite)
{
	static const uint8_t	bye[2] = { 0x03, 0xe8 };	/* 1000 */

	if (c == NULL)
		return;
	if (polite && !c->raw && c->fd != -1)
		(void)conn_frame(c, OP_CLOSE, bye, sizeof(bye));
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}
