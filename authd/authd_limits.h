/*
 * authd: session limits across every worker, and token-bucket rate limits
 * (limits.c).  Pure bookkeeping: no I/O, no logging, the caller passes the
 * time.  Not named limits.h: the build puts authd/ on the include path,
 * where that name would shadow the system's <limits.h>.
 */
#ifndef AUTHD_LIMITS_H
#define AUTHD_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define LIMITS_MAX_SESSIONS	65536	/* whatever max_total says */
#define LIMITS_KEYLEN		256	/* target, client and token keys */
#define RATELIMIT_MAX_KEYS	65536	/* clients tracked per rate limit */

struct limits;
struct ratelimit;

struct limits	*limits_new(void);
void		 limits_free(struct limits *);
void		 limits_set(struct limits *, int, int, int, int, int);
int		 limits_rate_ok(struct limits *, const char *, double);
int		 limits_acquire(struct limits *, int, uint32_t, const char *,
		    const char *, const char *);
int		 limits_release(struct limits *, int, uint32_t);
int		 limits_release_worker(struct limits *, int);
int		 limits_active(struct limits *);
int		 limits_target_count(struct limits *, const char *);
int		 limits_client_count(struct limits *, const char *);
int		 limits_token_count(struct limits *, const char *);
size_t		 limits_tracked(struct limits *);
const char	*limits_reason(struct limits *);

struct ratelimit *ratelimit_new(double, double);
void		 ratelimit_free(struct ratelimit *);
void		 ratelimit_set(struct ratelimit *, double, double);
int		 ratelimit_hit(struct ratelimit *, const char *, double);
int		 ratelimit_peek(struct ratelimit *, const char *, double);
size_t		 ratelimit_count(struct ratelimit *);

#endif /* AUTHD_LIMITS_H */
