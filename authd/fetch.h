/*
 * authd's HTTP client for upstream REST calls.
 */
#ifndef FETCH_H
#define FETCH_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "httpc.h"
#include "tlsc.h"

struct fetch_to {
	const char	*addr;		/* literal address */
	uint16_t	 port;
	const char	*host;		/* SNI and the certificate's name */
	SSL_CTX		*ctx;		/* required: credentials go over TLS only */
	int		 verify;
	int		 timeout;	/* seconds, for the whole exchange */
};

/* status -1: no answer, and why says what happened. */
struct fetch_result {
	int			 status;
	double			 ms;
	char			 why[256];
	struct httpc_resp	 resp;	/* valid only during the callback */
};

typedef void	(*fetch_cb)(struct fetch_result *, void *);

int	fetch_start(const struct fetch_to *, const char *, size_t, fetch_cb,
	    void *);

#endif /* FETCH_H */
