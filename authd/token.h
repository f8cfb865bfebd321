/*
 * authd: JSON Web Tokens (RFC 7519, compact JWS form); common/replay.h
 * makes a token with a jti usable once.  Pure decision code: no I/O
 * besides the random bytes it needs, no logging (callers log `why').
 */
#ifndef AUTHD_TOKEN_H
#define AUTHD_TOKEN_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "vncrelayd.h"
#include "replay.h"

#define TOKEN_ALG_HS256		1
#define TOKEN_ALG_EDDSA		2

#define TOKEN_KID_LEN		64	/* with the NUL */
#define TOKEN_SECRET_MIN	32	/* RFC 7518 3.2: >= the hash size */
#define TOKEN_SECRET_MAX	512
#define TOKEN_SUB_LEN		128
#define TOKEN_JTI_LEN		REPLAY_JTI_LEN	/* without the NUL */
#define TOKEN_MAXTARGETS	16
#define TOKEN_TARGET_LEN	128
#define TOKEN_NS_LEN		64
#define TOKEN_MAXDEPTH		5	/* JSON nesting of header and payload */
#define TOKEN_HASH_LEN		17	/* 16 hex digits and the NUL */
#define TOKEN_RANDOM_LEN	33	/* 128 random bits in hex and the NUL */

struct token_key {
	TAILQ_ENTRY(token_key)	 entry;
	char			 kid[TOKEN_KID_LEN];
	int			 alg;
	unsigned char		 secret[TOKEN_SECRET_MAX];
	size_t			 secretlen;
	EVP_PKEY		*pub;
	EVP_PKEY		*priv;
};
TAILQ_HEAD(token_keys, token_key);

struct token_claims {
	char			 kid[TOKEN_KID_LEN];	/* key that verified */
	char			 sub[TOKEN_SUB_LEN];	/* or seed 001's id */
	char			 jti[TOKEN_JTI_LEN + 1];
	int			 has_jti;
	uint8_t			 jti_digest[REPLAY_DIGEST_LEN];	/* for replay */
	char			 hash[TOKEN_HASH_LEN];	/* of jti or token */
	double			 exp;
	double			 nbf;
	double			 iat;
	int			 has_nbf;
	int			 has_iat;
	char			 targets[TOKEN_MAXTARGETS][TOKEN_TARGET_LEN];
	int			 ntargets;
	char			 ns[TOKEN_NS_LEN];	/* seed 001 namespace */
};

int		 token_key_load(struct token_key *, const char *, const char *,
		    const void *, size_t, char *, size_t);
void		 token_key_clear(struct token_key *);
enum err_code	 token_verify(const struct token_keys *, const char *, size_t,
		    double, int, int, struct token_claims *, const char **);
int		 token_allows(const struct token_claims *, const char *);
int		 token_sign(const struct token_key *, const char *,
		    const char *, int, double, char *, size_t,
		    char [TOKEN_RANDOM_LEN]);
void		 token_hash(const void *, size_t, char [TOKEN_HASH_LEN]);

#endif /* AUTHD_TOKEN_H */
