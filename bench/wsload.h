/*
 * wsload: the load client of make bench.  See wsload.c for the modes.
 */
#ifndef WSLOAD_H
#define WSLOAD_H

#include <sys/types.h>

#include <stdint.h>

#include <openssl/ssl.h>

#define WS_HEADER_MAX	14
#define GREETING	"RFB 003.008\n"
#define GREETING_LEN	12
#define REQ_LEN		16
#define IO_TIMEOUT	30		/* seconds a blocking read may wait */

/* Where to connect, and how: raw TCP, ws:// or wss://. */
struct endpoint {
	int		 raw;
	int		 tls;
	char		 host[64];
	int		 port;
	char		 path[512];
	SSL_CTX		*ctx;
	int		 tls_rbuf;	/* bytes read ahead of OpenSSL, or 0 */
};

/* How to sign console tokens; no key file: no token at all. */
struct signer {
	uint8_t		 key[512];
	size_t		 keylen;
	char		 kid[64];
	char		 target[64];
	char		 jti_prefix[17];
};

struct wsconn {
	int		 fd;
	SSL		*ssl;
	int		 raw;
	uint8_t		*rbuf;
	size_t		 rcap, rpos, rlen;
	uint64_t	 frame_left;	/* payload of the current data frame */
	uint8_t		*wbuf;
	size_t		 wcap;
	uint64_t	 rng;		/* masking keys */
};

/* wsconn.c */
struct wsconn	*conn_open(const struct endpoint *, const struct signer *,
		    size_t, char *, size_t);
void		 conn_close(struct wsconn *, int);
ssize_t		 conn_recv(struct wsconn *, const uint8_t **);
int		 conn_recv_exact(struct wsconn *, void *, size_t);
int		 conn_send(struct wsconn *, const void *, size_t);
int		 conn_request(struct wsconn *, int, uint64_t);
int		 endpoint_parse(struct endpoint *, const char *, int);
void		 ws_mask_copy(uint8_t *, const uint8_t *, size_t,
		    const uint8_t [4]);
size_t		 ws_header(uint8_t [WS_HEADER_MAX], int, uint64_t,
		    const uint8_t [4]);

/* token.c */
int		 signer_load(struct signer *, const char *, const char *,
		    const char *);
int		 signer_token(const struct signer *, char *, size_t);

/* proctree.c */
struct treestat {
	int		 nprocs;
	double		 cpu;		/* user + system seconds */
	uint64_t	 rss;		/* bytes, summed */
	uint64_t	 pss;
};
int		 proctree_stat(pid_t, struct treestat *, int);

#endif
