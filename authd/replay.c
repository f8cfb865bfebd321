/*
 * authd: the replay cache.  A token with a jti opens one session only,
 * whichever worker it arrives at, because authd alone decides.
 *
 * Entries live in a hash table keyed with a random SipHash key, so that
 * chosen jti values cannot pile up in one chain, and in a binary heap
 * ordered by expiry, so that forgetting expired entries costs only the
 * entries forgotten.  An entry is kept until its token's exp plus the clock
 * skew: until then token_verify could still accept the token.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vncrelayd.h"
#include "token.h"
#include "authd_limits.h"

#define REPLAY_MIN_CHAINS	16
#define REPLAY_MAX_CHAINS	(1 << 20)

struct replay_entry {
	LIST_ENTRY(replay_entry) re_link;
	double			 re_exp;
	char			 re_jti[];
};
LIST_HEAD(replay_chain, replay_entry);

struct replay {
	struct replay_chain	*r_chains;
	size_t			 r_mask;	/* number of chains - 1 */
	struct replay_entry	**r_heap;	/* soonest exp first */
	size_t			 r_count;
	size_t			 r_max;
	double			 r_skew;
	unsigned char		 r_key[SIPHASH_KEYLEN];
};

/* About two entries per chain when full. */
static size_t
replay_nchains(size_t max)
{
	size_t	 n = REPLAY_MIN_CHAINS;

	while (n < max / 2 && n < REPLAY_MAX_CHAINS)
		n <<= 1;
	return (n);
}

struct replay *
replay_new(size_t max)
{
	struct replay	*r;
	size_t		 i, n;

	if (max == 0)
		max = REPLAY_DEFAULT_MAX;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	n = replay_nchains(max);
	r->r_chains = calloc(n, sizeof(*r->r_chains));
	r->r_heap = calloc(max, sizeof(*r->r_heap));
	if (r->r_chains == NULL || r->r_heap == NULL) {
		free(r->r_chains);
		free(r->r_heap);
		free(r);
		return (NULL);
	}
	for (i = 0; i < n; i++)
		LIST_INIT(&r->r_chains[i]);
	r->r_mask = n - 1;
	r->r_max = max;
	r->r_skew = REPLAY_DEFAULT_SKEW;
	arc4random_buf(r->r_key, sizeof(r->r_key));
	return (r);
}

/* Set this to the skew token_verify uses, or entries go too early. */
void
replay_set_skew(struct replay *r, int skew)
{
	r->r_skew = skew > 0 ? skew : 0;
}

static void
heap_up(struct replay *r, size_t i)
{
	struct replay_entry	*e = r->r_heap[i];
	size_t			 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (r->r_heap[p]->re_exp <= e->re_exp)
			break;
		r->r_heap[i] = r->r_heap[p];
		i = p;
	}
	r->r_heap[i] = e;
}

static void
heap_down(struct replay *r, size_t i)
{
	struct replay_entry	*e = r->r_heap[i];
	size_t			 c;

	while ((c = 2 * i + 1) < r->r_count) {
		if (c + 1 < r->r_count &&
		    r->r_heap[c + 1]->re_exp < r->r_heap[c]->re_exp)
			c++;
		if (e->re_exp <= r->r_heap[c]->re_exp)
			break;
		r->r_heap[i] = r->r_heap[c];
		i = c;
	}
	r->r_heap[i] = e;
}

/* Forget the entry that expires first. */
static void
heap_pop(struct replay *r)
{
	struct replay_entry	*e = r->r_heap[0];

	LIST_REMOVE(e, re_link);
	free(e);
	if (--r->r_count > 0) {
		r->r_heap[0] = r->r_heap[r->r_count];
		heap_down(r, 0);
	}
}

void
replay_expire(struct replay *r, double now)
{
	while (r->r_count > 0 && r->r_heap[0]->re_exp + r->r_skew <= now)
		heap_pop(r);
}

static struct replay_chain *
replay_chain(struct replay *r, const char *jti, size_t len)
{
	return (&r->r_chains[siphash24(r->r_key, jti, len) & r->r_mask]);
}

/*
 * 0: first use, now recorded.  -1: used before.  -2: cannot record (the
 * cache is full even after forgetting expired entries, or a bad argument),
 * which must refuse the token too: forgetting would allow a replay.
 */
int
replay_use(struct replay *r, const char *jti, double exp, double now)
{
	struct replay_chain	*chain;
	struct replay_entry	*e;
	size_t			 len;

	len = strlen(jti);
	if (len == 0 || len > TOKEN_JTI_LEN || !isfinite(exp))
		return (-2);
	chain = replay_chain(r, jti, len);
	LIST_FOREACH(e, chain, re_link)
		if (strcmp(e->re_jti, jti) == 0)
			return (-1);
	if (r->r_count == r->r_max)
		replay_expire(r, now);
	if (r->r_count == r->r_max)
		return (-2);
	if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
		return (-2);
	e->re_exp = exp;
	memcpy(e->re_jti, jti, len + 1);
	LIST_INSERT_HEAD(chain, e, re_link);
	r->r_heap[r->r_count] = e;
	heap_up(r, r->r_count);
	r->r_count++;
	return (0);
}

size_t
replay_count(struct replay *r)
{
	return (r->r_count);
}

void
replay_free(struct replay *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->r_count; i++)
		free(r->r_heap[i]);
	free(r->r_heap);
	free(r->r_chains);
	free(r);
}
