/*
 * TLS toward upstreams (Prism, the Kubernetes API), for authd's logins
 * and the workers' console connections alike: one context per upstream,
 * verified against the CA the configuration names.
 */
#ifndef TLSC_H
#define TLSC_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

SSL_CTX		*tlsc_ctx_new(const uint8_t *, size_t, char *, size_t);
SSL		*tlsc_new(SSL_CTX *, const char *, int);
struct bufferevent;
int		 tlsc_event_why(struct bufferevent *, char *, size_t);

#endif /* TLSC_H */
