/*
 * A listener's certificate chain and private key, from the PEM the master
 * read as root.  The workers build their server contexts with it, and the
 * master checks each pair with it as it reads the configuration: a pair
 * that OpenSSL refuses, such as a new certificate with the old key in the
 * middle of a rotation, is an error of the file (and a reload keeps the
 * running configuration), not a listener that stops serving TLS.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "tlscert.h"

/* The first certificate is the listener's, the rest its chain. */
static int
tlscert_chain(SSL_CTX *ctx, const uint8_t *pem, size_t len)
{
	BIO	*bio;
	X509	*x;
	int	 first = 1, rv = -1;

	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if ((first ? SSL_CTX_use_certificate(ctx, x) :
		    SSL_CTX_add0_chain_cert(ctx, x)) != 1) {
			X509_free(x);
			goto done;
		}
		/* add0 took x; use_certificate took a reference of its own. */
		if (first)
			X509_free(x);
		first = 0;
	}
	ERR_clear_error();	/* the end of the PEM stream */
	rv = first ? -1 : 0;
done:
	BIO_free(bio);
	return rv;
}

static int
tlscert_key(SSL_CTX *ctx, const uint8_t *pem, size_t len)
{
	BIO		*bio;
	EVP_PKEY	*pkey;
	int		 rv;

	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
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

/*
 * Puts the chain and the key into ctx; -1 with why (OpenSSL's reason, or
 * which part held nothing it could read) when the pair cannot serve.
 */
int
tlscert_use(SSL_CTX *ctx, const uint8_t *cert, size_t certlen,
    const uint8_t *key, size_t keylen, char *why, size_t whylen)
{
	unsigned long	 e;
	const char	*part, *pem;

	if (tlscert_chain(ctx, cert, certlen) == -1) {
		part = "certificate";
		pem = "certificate";
	} else if (tlscert_key(ctx, key, keylen) == -1) {
		part = "key";
		pem = "private key";
	} else
		return 0;
	if ((e = ERR_peek_last_error()) != 0) {
		snprintf(why, whylen, "%s: ", part);
		ERR_error_string_n(e, why + strlen(why), whylen - strlen(why));
	} else
		snprintf(why, whylen, "%s: no PEM %s in it", part, pem);
	ERR_clear_error();
	return -1;
}
