/*
 * TLS contexts for the listeners, built from the certificate and key that
 * the master read as root and sent over.  TLS 1.2 and 1.3 only; ALPN
 * offers http/1.1, the only protocol spoken here.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "proc.h"
#include "tlscert.h"
#include "worker.h"

static void
tls_log_errors(const char *what)
{
	unsigned long	 e;
	char		 buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char	*sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
tls_server_ctx(struct conf *c, struct conf_listen *l)
{
	SSL_CTX		*ctx;
	struct blob	*cert, *key;
	char		 why[256];

	cert = conf_blob_find(c, BLOB_TLS_CERT, l->id, NULL);
	key = conf_blob_find(c, BLOB_TLS_KEY, l->id, NULL);
	if (cert == NULL || key == NULL) {
		log_warnx("listener %s: no certificate or key", l->addr);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Idle sessions give their buffers back: thousands sit idle. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, l->ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, l->ciphersuites) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, l->curves) != 1)
		goto fail;
	if (tlscert_use(ctx, cert->data, cert->len, key->data, key->len, why,
	    sizeof(why)) == -1) {
		log_warnx("listener %s: %s", l->addr, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return ctx;
fail:
	tls_log_errors(l->addr);
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The browser side's ciphertext.  OpenSSL hands its BIO one record of at
 * most 16 KiB at a time, and a socket BIO makes each a send(2): a 256 KiB
 * console update would cost sixteen system calls and as many loopback
 * segments.  This BIO queues the records instead and sends them with one
 * writev, from an event made active by the first record: it runs after
 * libevent's write callback has encrypted all it could, in the same turn
 * of the loop.  What the socket does not take waits for it to be writable;
 * meanwhile the queue takes more only while it is under buffer-size, past
 * which OpenSSL is told to retry and libevent keeps the plaintext.  An
 * idle session's queue is empty: its chains go back as soon as sent.
 * Reads go to the socket as a socket BIO's would.
 */
struct tls_out {
	int			 fd;
	int			 eof;
	int			 failed;
	int			 direct;	/* in tls_write: take all */
	size_t			 cap;
	struct evbuffer		*q;
	struct event		*ev;
	struct bufferevent	*bev;	/* told when all has left */
};

static BIO_METHOD	*tls_out_meth;
static int		 tls_out_type;

/* Sends what is queued; what the socket refuses waits for EV_WRITE. */
static void
tls_out_flush(struct tls_out *o)
{
	while (evbuffer_get_length(o->q) > 0) {
		if (evbuffer_write(o->q, o->fd) != -1)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!event_pending(o->ev, EV_WRITE, NULL))
				event_add(o->ev, NULL);
			return;
		}
		/* The next write fails, and libevent reports it. */
		o->failed = 1;
		evbuffer_drain(o->q, evbuffer_get_length(o->q));
	}
	if (event_pending(o->ev, EV_WRITE, NULL))
		event_del(o->ev);
}

/*
 * The queue's own turn.  Once it is empty, a bufferevent whose plaintext
 * is all encrypted hears of it, as if libevent had written the last byte:
 * that is what a connection closing after its last frame waits for.
 */
static void
tls_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_out	*o = arg;

	(void)fd;
	(void)what;
	tls_out_flush(o);
	if (evbuffer_get_length(o->q) == 0 && o->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(o->bev)) == 0)
		bufferevent_trigger(o->bev, EV_WRITE, 0);
}

static int
tls_out_write(BIO *b, const char *in, int inl)
{
	struct tls_out	*o = BIO_get_data(b);
	size_t		 queued = evbuffer_get_length(o->q);

	BIO_clear_retry_flags(b);
	if (queued >= o->cap && !o->direct) {
		tls_out_flush(o);
		queued = evbuffer_get_length(o->q);
	}
	if (o->failed || inl <= 0)
		return -1;
	if (queued >= o->cap && !o->direct) {
		BIO_set_retry_write(b);
		return -1;
	}
	if (evbuffer_add(o->q, in, inl) == -1)
		return -1;
	/* tls_write sends at once itself. */
	if (queued == 0 && !o->direct &&
	    !event_pending(o->ev, EV_WRITE, NULL))
		event_active(o->ev, EV_WRITE, 0);
	return inl;
}

static int
tls_out_read(BIO *b, char *out, int outl)
{
	struct tls_out	*o = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if ((n = recv(o->fd, out, outl, 0)) == -1 && (errno == EAGAIN ||
	    errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	else if (n == 0)
		o->eof = 1;	/* OpenSSL tells a truncation from a close */
	return n;
}

static long
tls_out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_out	*o = BIO_get_data(b);

	switch (cmd) {
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = o->fd;
		return o->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_get_shutdown(b);
	case BIO_CTRL_SET_CLOSE:
		BIO_set_shutdown(b, (int)num);
		return 1;
	case BIO_CTRL_FLUSH:
		/* The handshake's flights; a remainder has its event. */
		tls_out_flush(o);
		return 1;
	case BIO_CTRL_WPENDING:
		return evbuffer_get_length(o->q);
	case BIO_CTRL_EOF:
		return o->eof;
	case BIO_CTRL_DUP:
		return 1;
	default:
		return 0;
	}
}

static int
tls_out_destroy(BIO *b)
{
	struct tls_out	*o = BIO_get_data(b);

	if (o == NULL)
		return 1;
	event_free(o->ev);
	evbuffer_free(o->q);
	if (BIO_get_shutdown(b))
		close(o->fd);
	free(o);
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *
tls_out_method(void)
{
	BIO_METHOD	*m;

	if (tls_out_meth != NULL)
		return tls_out_meth;
	tls_out_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR;
	if ((m = BIO_meth_new(tls_out_type, "vncrelayd socket")) == NULL)
		return NULL;
	if (BIO_meth_set_write(m, tls_out_write) != 1 ||
	    BIO_meth_set_read(m, tls_out_read) != 1 ||
	    BIO_meth_set_ctrl(m, tls_out_ctrl) != 1 ||
	    BIO_meth_set_destroy(m, tls_out_destroy) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return tls_out_meth = m;
}

/* A BIO on fd for ssl, which does not close fd: libevent does. */
static struct tls_out *
tls_out_attach(SSL *ssl, int fd)
{
	BIO_METHOD	*m;
	BIO		*b;
	struct tls_out	*o;

	if ((m = tls_out_method()) == NULL || (b = BIO_new(m)) == NULL)
		return NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->q = evbuffer_new()) == NULL ||
	    (o->ev = event_new(ps->base, fd, EV_WRITE | EV_PERSIST,
	    tls_out_cb, o)) == NULL) {
		if (o != NULL && o->q != NULL)
			evbuffer_free(o->q);
		free(o);
		BIO_free(b);
		return NULL;
	}
	o->fd = fd;
	o->cap = ps->conf->g.buffer_size;
	BIO_set_data(b, o);
	BIO_set_shutdown(b, 0);
	BIO_set_init(b, 1);
	SSL_set_bio(ssl, b, b);
	return o;
}

static struct tls_out *
tls_out_of(struct bufferevent *bev)
{
	SSL	*ssl;
	BIO	*b;

	if (bev == NULL || tls_out_meth == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    (b = SSL_get_wbio(ssl)) == NULL ||
	    BIO_method_type(b) != tls_out_type)
		return NULL;
	return BIO_get_data(b);
}

/*
 * A TLS connection accepted on fd, its handshake under way.  On failure
 * fd is left open for the caller.
 */
struct bufferevent *
tls_accept(SSL_CTX *ctx, int fd)
{
	struct bufferevent	*bev;
	struct tls_out		*o;
	SSL			*ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if ((o = tls_out_attach(ssl, fd)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/*
	 * libevent takes the BIO's descriptor and closes it on free.  When
	 * it fails, it may have freed ssl already: ssl is not freed here.
	 */
	if ((bev = bufferevent_openssl_socket_new(ps->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	o->bev = bev;
	return bev;
}

/* Ciphertext that OpenSSL has written and the socket not yet taken. */
size_t
tls_queued(struct bufferevent *bev)
{
	struct tls_out	*o = tls_out_of(bev);

	return o != NULL ? evbuffer_get_length(o->q) : 0;
}

/* bev is being freed: its queue neither sends nor reports any more. */
void
tls_release(struct bufferevent *bev)
{
	struct tls_out	*o = tls_out_of(bev);

	if (o == NULL)
		return;
	o->bev = NULL;
	event_del(o->ev);
	evbuffer_drain(o->q, evbuffer_get_length(o->q));
}

/*
 * We close a TLS connection cleanly: a close_notify alert first (RFC 8446
 * 6.1), so that the client can tell our close from a truncation; libevent
 * frees the SSL without one.  One SSL_shutdown, which does not wait for
 * the client's alert, and one try to send it: a socket that takes nothing
 * now loses it, as it would lose anything else.  Not after an error, nor
 * with plaintext still waiting, whose end the alert would claim.
 */
void
tls_close_notify(struct bufferevent *bev)
{
	struct tls_out	*o = tls_out_of(bev);
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);

	if (o == NULL || o->failed || o->bev == NULL ||
	    !SSL_is_init_finished(ssl) ||
	    (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	o->direct = 1;
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
	o->direct = 0;
	tls_out_flush(o);
}

/* Encrypts hl bytes of h, then n bytes of src, into o's queue. */
static int
tls_encrypt(struct tls_out *o, SSL *ssl, const uint8_t *h, size_t hl,
    struct evbuffer *src, size_t n)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	size_t			 done = 0, w;
	int			 ok = 1;

	o->direct = 1;
	if (hl > 0)
		ok = SSL_write_ex(ssl, h, hl, &w);
	evbuffer_ptr_set(src, &pos, 0, EVBUFFER_PTR_SET);
	while (ok && done < n && evbuffer_peek(src, n - done, &pos, &v,
	    1) > 0) {
		if (v.iov_len > n - done)
			v.iov_len = n - done;
		if ((ok = SSL_write_ex(ssl, v.iov_base, v.iov_len, &w)) == 1) {
			done += w;
			evbuffer_ptr_set(src, &pos, w, EVBUFFER_PTR_ADD);
		}
	}
	o->direct = 0;
	if (!ok)
		return -1;
	evbuffer_drain(src, n);
	return 0;
}

/*
 * Sends hl bytes of h, then n bytes of src, on bev's TLS connection at
 * once when libevent has no plaintext queued for it: encrypted here into
 * the queue, which takes it whatever its length, and sent with one
 * writev.  While the queue holds buffer-size or more, or the connection
 * is not ours, -1, and nothing was done: the caller queues the plaintext
 * for libevent, whose output then bounds the session's reading as usual.
 * An error from OpenSSL here, perhaps after some records, is -2: the
 * stream is cut, and nothing more may follow.
 */
int
tls_write(struct bufferevent *bev, const uint8_t *h, size_t hl,
    struct evbuffer *src, size_t n)
{
	struct tls_out	*o = tls_out_of(bev);
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);

	if (o == NULL || o->failed || o->bev == NULL ||
	    evbuffer_get_length(o->q) >= o->cap ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0 ||
	    !SSL_is_init_finished(ssl))
		return -1;
	if (tls_encrypt(o, ssl, h, hl, src, n) == -1) {
		o->failed = 1;
		return -2;
	}
	tls_out_flush(o);
	return 0;
}
