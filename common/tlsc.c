/*
 * TLS client contexts.  The CA bundle comes as PEM in memory (the master
 * read the file; no child can), every certificate in it is trusted, and
 * the peer's name is checked against what the configuration wrote: a DNS
 * name, or an IP address when that is what was written.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tlsc.h"

static void
tlsc_errstr(char *why, size_t len)
{
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		snprintf(why, len, "unknown TLS error");
	else
		ERR_error_string_n(e, why, len);
	ERR_clear_error();
}

/*
 * A context that trusts the certificates in pem, or verifies nothing when
 * pem is NULL (tls-verify no).  NULL with why on failure.
 */
SSL_CTX *
tlsc_ctx_new(const uint8_t *pem, size_t len, char *why, size_t whylen)
{
	SSL_CTX		*ctx;
	X509_STORE	*store;
	BIO		*bio = NULL;
	X509		*x;
	int		 n = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * KubeVirt ends a console by dropping TCP, without close_notify:
	 * that is the upstream's end, not an attack on a finished stream
	 * (WebSocket frames carry their own lengths).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (pem == NULL) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	store = SSL_CTX_get_cert_store(ctx);
	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();	/* the end of the PEM stream */
	BIO_free(bio);
	if (n == 0) {
		snprintf(why, whylen, "no certificate in the CA file");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
fail:
	tlsc_errstr(why, whylen);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return NULL;
}

/* A connection to host: SNI for a name, and the name or address checked. */
SSL *
tlsc_new(SSL_CTX *ctx, const char *host, int verify)
{
	SSL		*ssl;
	X509_VERIFY_PARAM *vp;
	uint8_t		 a[16];
	int		 literal;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	literal = inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
	if (!literal && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (verify) {
		vp = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) :
		    X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1)
			goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/*
 * Why a connection through bev failed, for the log; 1 when it was TLS.
 * libevent keeps the OpenSSL errors it saw (the thread's queue is empty
 * by the time a deferred callback runs); a failed certificate check is
 * named only where certificates are checked; else the socket's error.
 */
int
tlsc_event_why(struct bufferevent *bev, char *why, size_t len)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long	 e = bufferevent_get_openssl_error(bev);
	long		 v;
	int		 soerr = 0;
	socklen_t	 sl = sizeof(soerr);

	while (bufferevent_get_openssl_error(bev) != 0)
		;
	ERR_clear_error();
	if (ssl != NULL && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) &&
	    (v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
		return 1;
	}
	if (e != 0) {
		ERR_error_string_n(e, why, len);
		return 1;
	}
	if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &soerr,
	    &sl) == -1 || soerr == 0)
		snprintf(why, len, "connection closed");
	else
		snprintf(why, len, "%s", strerror(soerr));
	return 0;
}
