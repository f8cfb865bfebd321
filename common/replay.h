/*
 * The replay cache: the one-time tokens (jti values) used and not yet
 * expired.  authd holds one and refuses a token whose jti it finds there;
 * the master holds a copy, to hand back to a restarted authd.  Pure
 * bookkeeping: no I/O, no logging, the caller passes the time.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_DIGEST_LEN	16	/* of a jti's SHA-256 */
#define REPLAY_JTI_LEN		128	/* the longest jti, without the NUL */
#define REPLAY_DEFAULT_SKEW	300
#define REPLAY_DEFAULT_MAX	3000000	/* replay-cache-size */
#define REPLAY_SIZE_MAX		16000000

struct replay;

struct replay	*replay_new(size_t);
int		 replay_resize(struct replay *, size_t);
void		 replay_set_skew(struct replay *, int);
int		 replay_digest(const char *, uint8_t [REPLAY_DIGEST_LEN]);
int		 replay_use(struct replay *, const char *, double, double);
int		 replay_add(struct replay *, const uint8_t [REPLAY_DIGEST_LEN],
		    double, double);
int		 replay_get(struct replay *, size_t,
		    uint8_t [REPLAY_DIGEST_LEN], double *);
void		 replay_expire(struct replay *, double);
void		 replay_forget_first(struct replay *);
size_t		 replay_count(struct replay *);
size_t		 replay_max(struct replay *);
void		 replay_free(struct replay *);

#endif /* REPLAY_H */
