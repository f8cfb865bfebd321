/*
 * authd: session limits and rate limits.
 *
 * authd is the one process that sees every worker's sessions, so the
 * counters live here: sessions in total, per target, per client address
 * and per token.  A session is named by (worker, session id) and remembers
 * the counters it holds, so that the death of a worker releases all it had.
 *
 * Every table is keyed by strings an attacker may choose (client addresses,
 * target names), so chains are picked with SipHash under a random key, and
 * every table is bounded: counters by the session cap, rate buckets by
 * RATELIMIT_MAX_KEYS with least-recently-used eviction.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authd_limits.h"

#define LIMITS_CHAINS		4096		/* a power of two */
#define RATELIMIT_CHAINS	16384		/* a power of two */

struct counter {
	LIST_ENTRY(counter)	 c_link;
	int			 c_count;
	char			 c_key[];
};
LIST_HEAD(counter_chain, counter);

struct ctable {
	struct counter_chain	 ct_chain[LIMITS_CHAINS];
	size_t			 ct_count;
};

struct lsession {
	LIST_ENTRY(lsession)	 s_link;	/* hash chain */
	TAILQ_ENTRY(lsession)	 s_entry;	/* all sessions */
	int			 s_worker;
	uint32_t		 s_id;
	struct counter		*s_target;
	struct counter		*s_client;
	struct counter		*s_token;
};
LIST_HEAD(session_chain, lsession);
TAILQ_HEAD(session_list, lsession);

struct limits {
	struct ctable		 l_targets;
	struct ctable		 l_clients;
	struct ctable		 l_tokens;
	struct session_chain	 l_chains[LIMITS_CHAINS];
	struct session_list	 l_sessions;
	int			 l_active;
	int			 l_max_total;
	int			 l_per_target;
	int			 l_per_client;
	int			 l_per_token;
	struct ratelimit	*l_rate;
	const char		*l_why;
	unsigned char		 l_key[SIPHASH_KEYLEN];
};

struct bucket {
	LIST_ENTRY(bucket)	 b_link;	/* hash chain */
	TAILQ_ENTRY(bucket)	 b_lru;
	double			 b_tokens;
	double			 b_last;
	char			 b_key[];
};
LIST_HEAD(bucket_chain, bucket);
TAILQ_HEAD(bucket_lru, bucket);

struct ratelimit {
	struct bucket_chain	 rl_chain[RATELIMIT_CHAINS];
	struct bucket_lru	 rl_lru;	/* least recently used first */
	size_t			 rl_count;
	double			 rl_rate;	/* tokens per second, 0: off */
	double			 rl_burst;
	unsigned char		 rl_key[SIPHASH_KEYLEN];
};

static int
key_ok(const char *key)
{
	return (key != NULL && strnlen(key, LIMITS_KEYLEN) < LIMITS_KEYLEN);
}

static struct counter_chain *
counter_chain(struct limits *l, struct ctable *ct, const char *key)
{
	uint64_t	 h;

	h = siphash24(l->l_key, key, strlen(key));
	return (&ct->ct_chain[h & (LIMITS_CHAINS - 1)]);
}

static struct counter *
counter_find(struct limits *l, struct ctable *ct, const char *key)
{
	struct counter	*c;

	LIST_FOREACH(c, counter_chain(l, ct, key), c_link)
		if (strcmp(c->c_key, key) == 0)
			return (c);
	return (NULL);
}

static int
counter_count(struct limits *l, struct ctable *ct, const char *key)
{
	struct counter	*c;

	if (!key_ok(key) || (c = counter_find(l, ct, key)) == NULL)
		return (0);
	return (c->c_count);
}

static struct counter *
counter_take(struct limits *l, struct ctable *ct, const char *key)
{
	struct counter	*c;
	size_t		 len;

	if ((c = counter_find(l, ct, key)) == NULL) {
		len = strlen(key);
		if ((c = malloc(sizeof(*c) + len + 1)) == NULL)
			return (NULL);
		c->c_count = 0;
		memcpy(c->c_key, key, len + 1);
		LIST_INSERT_HEAD(counter_chain(l, ct, key), c, c_link);
		ct->ct_count++;
	}
	c->c_count++;
	return (c);
}

/* A counter that drops to zero goes, so tables hold live keys only. */
static void
counter_put(struct ctable *ct, struct counter *c)
{
	if (c == NULL || --c->c_count > 0)
		return;
	LIST_REMOVE(c, c_link);
	ct->ct_count--;
	free(c);
}

static void
ctable_init(struct ctable *ct)
{
	size_t	 i;

	for (i = 0; i < LIMITS_CHAINS; i++)
		LIST_INIT(&ct->ct_chain[i]);
}

static void
ctable_free(struct ctable *ct)
{
	struct counter	*c;
	size_t		 i;

	for (i = 0; i < LIMITS_CHAINS; i++)
		while ((c = LIST_FIRST(&ct->ct_chain[i])) != NULL) {
			LIST_REMOVE(c, c_link);
			free(c);
		}
}

struct limits *
limits_new(void)
{
	struct limits	*l;
	size_t		 i;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (NULL);
	if ((l->l_rate = ratelimit_new(0, 0)) == NULL) {
		free(l);
		return (NULL);
	}
	ctable_init(&l->l_targets);
	ctable_init(&l->l_clients);
	ctable_init(&l->l_tokens);
	for (i = 0; i < LIMITS_CHAINS; i++)
		LIST_INIT(&l->l_chains[i]);
	TAILQ_INIT(&l->l_sessions);
	arc4random_buf(l->l_key, sizeof(l->l_key));
	l->l_why = "";
	return (l);
}

/*
 * 0 means unlimited.  Lowering a limit below what is in use refuses new
 * sessions only; the ones running are left alone.  The handshake rate is
 * `rate' per second per client with a burst of `rate'.
 */
void
limits_set(struct limits *l, int max_total, int per_target, int per_client,
    int per_token, int rate)
{
	l->l_max_total = max_total > 0 ? max_total : 0;
	l->l_per_target = per_target > 0 ? per_target : 0;
	l->l_per_client = per_client > 0 ? per_client : 0;
	l->l_per_token = per_token > 0 ? per_token : 0;
	ratelimit_set(l->l_rate, rate, rate);
}

/* 1 if this client may start another handshake now. */
int
limits_rate_ok(struct limits *l, const char *client, double now)
{
	return (ratelimit_hit(l->l_rate, client, now));
}

static struct session_chain *
session_chain(struct limits *l, int worker, uint32_t id)
{
	unsigned char	 buf[sizeof(worker) + sizeof(id)];

	memcpy(buf, &worker, sizeof(worker));
	memcpy(buf + sizeof(worker), &id, sizeof(id));
	return (&l->l_chains[siphash24(l->l_key, buf, sizeof(buf)) &
	    (LIMITS_CHAINS - 1)]);
}

static struct lsession *
session_find(struct limits *l, int worker, uint32_t id)
{
	struct lsession	*s;

	LIST_FOREACH(s, session_chain(l, worker, id), s_link)
		if (s->s_worker == worker && s->s_id == id)
			return (s);
	return (NULL);
}

static int
over(int limit, int count)
{
	return (limit > 0 && count >= limit);
}

/* Say which limit a new session would break, or NULL. */
static const char *
limits_over(struct limits *l, const char *target, const char *client,
    const char *token)
{
	if (l->l_active >= LIMITS_MAX_SESSIONS ||
	    over(l->l_max_total, l->l_active))
		return ("max sessions");
	if (over(l->l_per_target, counter_count(l, &l->l_targets, target)))
		return ("max sessions per target");
	if (over(l->l_per_client, counter_count(l, &l->l_clients, client)))
		return ("max sessions per client");
	if (token != NULL &&
	    over(l->l_per_token, counter_count(l, &l->l_tokens, token)))
		return ("max sessions per token");
	return (NULL);
}

static void
session_drop(struct limits *l, struct lsession *s)
{
	counter_put(&l->l_targets, s->s_target);
	counter_put(&l->l_clients, s->s_client);
	counter_put(&l->l_tokens, s->s_token);
	LIST_REMOVE(s, s_link);
	TAILQ_REMOVE(&l->l_sessions, s, s_entry);
	l->l_active--;
	free(s);
}

static int
session_add(struct limits *l, int worker, uint32_t id, const char *target,
    const char *client, const char *token)
{
	struct lsession	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (-1);
	s->s_worker = worker;
	s->s_id = id;
	LIST_INSERT_HEAD(session_chain(l, worker, id), s, s_link);
	TAILQ_INSERT_TAIL(&l->l_sessions, s, s_entry);
	l->l_active++;
	if ((s->s_target = counter_take(l, &l->l_targets, target)) == NULL ||
	    (s->s_client = counter_take(l, &l->l_clients, client)) == NULL ||
	    (token != NULL &&
	    (s->s_token = counter_take(l, &l->l_tokens, token)) == NULL)) {
		session_drop(l, s);
		return (-1);
	}
	return (0);
}

/*
 * Count a new session.  0: counted.  -1: over a limit (limits_reason()
 * says which).  -2: refused for another reason: a session already known
 * under that name (a worker that lies), a key too long, no memory.
 */
int
limits_acquire(struct limits *l, int worker, uint32_t id, const char *target,
    const char *client, const char *token)
{
	const char	*why;

	if (!key_ok(target) || !key_ok(client) ||
	    (token != NULL && !key_ok(token))) {
		l->l_why = "bad key";
		return (-2);
	}
	if (session_find(l, worker, id) != NULL) {
		l->l_why = "duplicate session";
		return (-2);
	}
	if ((why = limits_over(l, target, client, token)) != NULL) {
		l->l_why = why;
		return (-1);
	}
	if (session_add(l, worker, id, target, client, token) == -1) {
		l->l_why = "out of memory";
		return (-2);
	}
	l->l_why = "";
	return (0);
}

/* -1 when the session is unknown: the caller may hold that against it. */
int
limits_release(struct limits *l, int worker, uint32_t id)
{
	struct lsession	*s;

	if ((s = session_find(l, worker, id)) == NULL)
		return (-1);
	session_drop(l, s);
	return (0);
}

/* A worker went away: release all it held.  Returns how many. */
int
limits_release_worker(struct limits *l, int worker)
{
	struct lsession	*s, *next;
	int		 n = 0;

	for (s = TAILQ_FIRST(&l->l_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, s_entry);
		if (s->s_worker == worker) {
			session_drop(l, s);
			n++;
		}
	}
	return (n);
}

int
limits_active(struct limits *l)
{
	return (l->l_active);
}

int
limits_target_count(struct limits *l, const char *target)
{
	return (counter_count(l, &l->l_targets, target));
}

int
limits_client_count(struct limits *l, const char *client)
{
	return (counter_count(l, &l->l_clients, client));
}

int
limits_token_count(struct limits *l, const char *token)
{
	return (counter_count(l, &l->l_tokens, token));
}

/* Keys tracked in all counter tables: for statistics, and the tests. */
size_t
limits_tracked(struct limits *l)
{
	return (l->l_targets.ct_count + l->l_clients.ct_count +
	    l->l_tokens.ct_count);
}

/* Which limit the last refused limits_acquire() hit, for the log. */
const char *
limits_reason(struct limits *l)
{
	return (l->l_why);
}

void
limits_free(struct limits *l)
{
	struct lsession	*s;

	if (l == NULL)
		return;
	while ((s = TAILQ_FIRST(&l->l_sessions)) != NULL)
		session_drop(l, s);
	ctable_free(&l->l_targets);
	ctable_free(&l->l_clients);
	ctable_free(&l->l_tokens);
	ratelimit_free(l->l_rate);
	free(l);
}

/*
 * Token buckets: each key starts with `burst' tokens and earns `rate' per
 * second up to `burst'; a hit spends one.  A bucket idle for burst / rate
 * seconds is full again, which is the same as having no bucket, so such
 * buckets are dropped from the old end of the LRU list as time passes.
 */
struct ratelimit *
ratelimit_new(double rate, double burst)
{
	struct ratelimit	*rl;
	size_t			 i;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return (NULL);
	for (i = 0; i < RATELIMIT_CHAINS; i++)
		LIST_INIT(&rl->rl_chain[i]);
	TAILQ_INIT(&rl->rl_lru);
	arc4random_buf(rl->rl_key, sizeof(rl->rl_key));
	ratelimit_set(rl, rate, burst);
	return (rl);
}

/* rate <= 0 switches the limit off; a burst below one would refuse all. */
void
ratelimit_set(struct ratelimit *rl, double rate, double burst)
{
	rl->rl_rate = rate > 0 ? rate : 0;
	rl->rl_burst = burst >= 1 ? burst : 1;
}

static void
bucket_drop(struct ratelimit *rl, struct bucket *b)
{
	LIST_REMOVE(b, b_link);
	TAILQ_REMOVE(&rl->rl_lru, b, b_lru);
	rl->rl_count--;
	free(b);
}

static struct bucket_chain *
bucket_chain(struct ratelimit *rl, const char *key)
{
	uint64_t	 h;

	h = siphash24(rl->rl_key, key, strlen(key));
	return (&rl->rl_chain[h & (RATELIMIT_CHAINS - 1)]);
}

static struct bucket *
bucket_find(struct ratelimit *rl, const char *key)
{
	struct bucket	*b;

	LIST_FOREACH(b, bucket_chain(rl, key), b_link)
		if (strcmp(b->b_key, key) == 0)
			return (b);
	return (NULL);
}

/*
 * When the table is full the least recently used bucket goes: a flood of
 * new addresses then costs old clients their history, not new clients
 * their access.
 */
static struct bucket *
bucket_new(struct ratelimit *rl, const char *key, double now)
{
	struct bucket	*b;
	size_t		 len;

	if (rl->rl_count >= RATELIMIT_MAX_KEYS)
		bucket_drop(rl, TAILQ_FIRST(&rl->rl_lru));
	len = strlen(key);
	if ((b = malloc(sizeof(*b) + len + 1)) == NULL)
		return (NULL);
	b->b_tokens = rl->rl_burst;
	b->b_last = now;
	memcpy(b->b_key, key, len + 1);
	LIST_INSERT_HEAD(bucket_chain(rl, key), b, b_link);
	TAILQ_INSERT_TAIL(&rl->rl_lru, b, b_lru);
	rl->rl_count++;
	return (b);
}

static double
bucket_level(struct ratelimit *rl, const struct bucket *b, double now)
{
	double	 t = b->b_tokens;

	/* A clock that steps back earns nothing. */
	if (now > b->b_last)
		t += (now - b->b_last) * rl->rl_rate;
	return (t < rl->rl_burst ? t : rl->rl_burst);
}

static void
ratelimit_prune(struct ratelimit *rl, double now)
{
	struct bucket	*b;

	while ((b = TAILQ_FIRST(&rl->rl_lru)) != NULL &&
	    now - b->b_last >= rl->rl_burst / rl->rl_rate)
		bucket_drop(rl, b);
}

/* Spend one token for key: 1 allowed, 0 refused (also when out of memory). */
int
ratelimit_hit(struct ratelimit *rl, const char *key, double now)
{
	struct bucket	*b;

	if (rl->rl_rate <= 0)
		return (1);
	if (!key_ok(key))
		return (0);
	ratelimit_prune(rl, now);
	if ((b = bucket_find(rl, key)) == NULL) {
		if ((b = bucket_new(rl, key, now)) == NULL)
			return (0);
	} else {
		b->b_tokens = bucket_level(rl, b, now);
		if (now > b->b_last)
			b->b_last = now;
		TAILQ_REMOVE(&rl->rl_lru, b, b_lru);
		TAILQ_INSERT_TAIL(&rl->rl_lru, b, b_lru);
	}
	if (b->b_tokens < 1)
		return (0);
	b->b_tokens -= 1;
	return (1);
}

/* Would a hit be allowed?  Spends nothing, records nothing. */
int
ratelimit_peek(struct ratelimit *rl, const char *key, double now)
{
	struct bucket	*b;

	if (rl->rl_rate <= 0)
		return (1);
	if (!key_ok(key))
		return (0);
	if ((b = bucket_find(rl, key)) == NULL)
		return (1);
	return (bucket_level(rl, b, now) >= 1);
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	return (rl->rl_count);
}

void
ratelimit_free(struct ratelimit *rl)
{
	struct bucket	*b;

	if (rl == NULL)
		return;
	while ((b = TAILQ_FIRST(&rl->rl_lru)) != NULL)
		bucket_drop(rl, b);
	free(rl);
}
