/*
 * TLS contexts for the listeners, built from the certificate and key that
 * the master read as root and sent over.  TLS 1.2 and 1.3 only; ALPN
 * offers http/1.1, the only protocol spoken here.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "log.h"
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

static int
tls_load_chain(SSL_CTX *ctx, struct blob *b)
{
	BIO	*bio;
	X509	*x;
	int	 first = 1, rv = -1;

	if ((bio = BIO_new_mem_buf(b->data, b->len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (first) {
			if (SSL_CTX_use_certificate(ctx, x) != 1) {
				X509_free(x);
				goto done;
			}
			X509_free(x);
			first = 0;
			continue;
		}
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			goto done;
		}
	}
	ERR_clear_error();	/* the end of the PEM stream */
	rv = first ? -1 : 0;
done:
	BIO_free(bio);
	return rv;
}

static int
tls_load_key(SSL_CTX *ctx, struct blob *b)
{
	BIO		*bio;
	EVP_PKEY	*pkey;
	int		 rv;

	if ((bio = BIO_new_mem_buf(b->data, b->len)) == NULL)
		return -1;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return -1;
	rv = SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1 ? 0 : -1;
	EVP_PKEY_free(pkey);
	return rv;
}

SSL_CTX *
tls_server_ctx(struct conf *c, struct conf_listen *l)
{
	SSL_CTX		*ctx;
	struct blob	*cert, *key;

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
	if (tls_load_chain(ctx, cert) == -1 || tls_load_key(ctx, key) == -1)
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return ctx;
fail:
	tls_log_errors(l->addr);
	SSL_CTX_free(ctx);
	return NULL;
}
