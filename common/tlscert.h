/*
 * A listener's certificate chain and private key, from the PEM the master
 * read as root.
 */
#ifndef TLSCERT_H
#define TLSCERT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

int	tlscert_use(SSL_CTX *, const uint8_t *, size_t, const uint8_t *,
	    size_t, char *, size_t);

#endif /* TLSCERT_H */
