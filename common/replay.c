/*
 * The replay cache.  A token with a jti opens one session only, whichever
 * worker it arrives at, because authd alone decides; the master keeps a
 * copy for the next authd (master/remember.c).
 *
 * An entry is 24 bytes: the first 16 bytes of the jti's SHA-256 (two
 * different jti values share them with a chance of 2^-128 a pair), the
 * token's expiry in whole seconds, rounded up, and the next entry of its
 * hash chain.  Entries sit in one array and name each other by index, so
 * that a resize is a copy; a binary heap of indices ordered by expiry
 * forgets expired entries at a cost of the entries forgotten.  Chains are
 * picked with a random SipHash key, so that chosen jti values cannot pile
 * up in one.  Every array starts zeroed and is touched as entries come: a
 * large cache that is empty costs address space, not memory.  The chains
 * in use grow with the entries by linear hashing, one chain split at a
 * time: a table sized for millions at once would have each entry touch a
 * random page of it, and doubling it would stall authd while it rehashed.
 *
 * An entry is kept until its token's exp plus the clock skew: until then
 * token_verify could still accept the token.
 */
#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "replay.h"
#include "siphash.h"

#define REPLAY_MIN_CHAINS	16
#define REPLAY_MAX_CHAINS	(1 << 23)

struct replay_entry {
	uint8_t		 re_digest[REPLAY_DIGEST_LEN];
	uint32_t	 re_exp;	/* seconds since the epoch */
	uint32_t	 re_next;	/* index + 1 in a chain or the free list */
};

struct replay {
	struct replay_entry	*r_entries;
	uint32_t		*r_heap;	/* indices, soonest exp first */
	uint32_t		*r_chains;	/* index + 1 of the first; 0 */
	size_t			 r_base;	/* chains in use: base + split */
	size_t			 r_split;	/* chains split so far, < base */
	size_t			 r_nchains;	/* room for chains */
	size_t			 r_count;	/* entries in the heap */
	size_t			 r_used;	/* entries used so far */
	uint32_t		 r_free;	/* index + 1 of a free entry */
	size_t			 r_cap;		/* room in the arrays */
	size_t			 r_max;		/* entries allowed */
	double			 r_skew;
	unsigned char		 r_key[SIPHASH_KEYLEN];
};

#define ENTRY(r, i)	(&(r)->r_entries[(i)])

/* A power of two, about count / 2 chains, for arrays with room for cap. */
static size_t
replay_nchains(size_t count, size_t cap)
{
	size_t	 n = REPLAY_MIN_CHAINS;

	while (n < count / 2 && n < cap / 2 && n < REPLAY_MAX_CHAINS)
		n <<= 1;
	return (n);
}

/* The chain of digest d: below the split point, a split chain's half. */
static uint32_t *
replay_chain(struct replay *r, const uint8_t *d)
{
	uint64_t	 h = siphash24(r->r_key, d, REPLAY_DIGEST_LEN);
	size_t		 i = h & (r->r_base - 1);

	if (i < r->r_split)
		i = h & (2 * r->r_base - 1);
	return (&r->r_chains[i]);
}

static void
chain_insert(struct replay *r, uint32_t i)
{
	uint32_t	*head = replay_chain(r, ENTRY(r, i)->re_digest);

	ENTRY(r, i)->re_next = *head;
	*head = i + 1;
}

static void
chain_remove(struct replay *r, uint32_t i)
{
	uint32_t	*p = replay_chain(r, ENTRY(r, i)->re_digest);

	while (*p != 0 && *p != i + 1)
		p = &ENTRY(r, *p - 1)->re_next;
	if (*p != 0)
		*p = ENTRY(r, i)->re_next;
}

/*
 * Moves the entries into arrays with room for max (or for as many as
 * there are, when that is more), in heap order: the entry at heap
 * position i goes to index i, so the heap stays a heap.  On failure
 * nothing changes.
 */
static int
replay_rebuild(struct replay *r, size_t max)
{
	struct replay_entry	*old = r->r_entries;
	uint32_t		*oheap = r->r_heap, *ochains = r->r_chains;
	size_t			 cap, n, i;

	cap = max > r->r_count ? max : r->r_count;
	if (cap == 0 || cap >= UINT32_MAX)
		return (-1);
	n = replay_nchains(cap, cap);
	r->r_entries = calloc(cap, sizeof(*r->r_entries));
	r->r_heap = calloc(cap, sizeof(*r->r_heap));
	r->r_chains = calloc(n, sizeof(*r->r_chains));
	if (r->r_entries == NULL || r->r_heap == NULL || r->r_chains == NULL) {
		free(r->r_entries);
		free(r->r_heap);
		free(r->r_chains);
		r->r_entries = old;
		r->r_heap = oheap;
		r->r_chains = ochains;
		return (-1);
	}
	r->r_nchains = n;
	r->r_base = replay_nchains(r->r_count, cap);
	r->r_split = 0;
	for (i = 0; i < r->r_count; i++) {
		*ENTRY(r, i) = old[oheap[i]];
		r->r_heap[i] = i;
		chain_insert(r, i);
	}
	free(old);
	free(oheap);
	free(ochains);
	r->r_used = r->r_count;
	r->r_free = 0;
	r->r_cap = cap;
	r->r_max = max;
	return (0);
}

struct replay *
replay_new(size_t max)
{
	struct replay	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->r_skew = REPLAY_DEFAULT_SKEW;
	arc4random_buf(r->r_key, sizeof(r->r_key));
	if (replay_rebuild(r, max) == -1) {
		free(r);
		return (NULL);
	}
	return (r);
}

/*
 * A new size keeps every entry.  Below the entries there are, it refuses
 * new ones until enough have expired.  -1: no memory, nothing changed.
 */
int
replay_resize(struct replay *r, size_t max)
{
	if (max == r->r_max)
		return (0);
	return (replay_rebuild(r, max));
}

/* Set this to the skew token_verify uses, or entries go too early. */
void
replay_set_skew(struct replay *r, int skew)
{
	r->r_skew = skew > 0 ? skew : 0;
}

static uint32_t
exp_of(struct replay *r, size_t pos)
{
	return (ENTRY(r, r->r_heap[pos])->re_exp);
}

static void
heap_up(struct replay *r, size_t i)
{
	uint32_t	 e = r->r_heap[i], exp = ENTRY(r, e)->re_exp;
	size_t		 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (exp_of(r, p) <= exp)
			break;
		r->r_heap[i] = r->r_heap[p];
		i = p;
	}
	r->r_heap[i] = e;
}

static void
heap_down(struct replay *r, size_t i)
{
	uint32_t	 e = r->r_heap[i], exp = ENTRY(r, e)->re_exp;
	size_t		 c;

	while ((c = 2 * i + 1) < r->r_count) {
		if (c + 1 < r->r_count && exp_of(r, c + 1) < exp_of(r, c))
			c++;
		if (exp <= exp_of(r, c))
			break;
		r->r_heap[i] = r->r_heap[c];
		i = c;
	}
	r->r_heap[i] = e;
}

/* Forgets the entry that expires first; its slot goes to the free list. */
void
replay_forget_first(struct replay *r)
{
	uint32_t	 e;

	if (r->r_count == 0)
		return;
	e = r->r_heap[0];
	chain_remove(r, e);
	ENTRY(r, e)->re_next = r->r_free;
	r->r_free = e + 1;
	if (--r->r_count > 0) {
		r->r_heap[0] = r->r_heap[r->r_count];
		heap_down(r, 0);
	}
}

void
replay_expire(struct replay *r, double now)
{
	while (r->r_count > 0 && exp_of(r, 0) + r->r_skew <= now)
		replay_forget_first(r);
}

/* A jti's digest; -1 for a jti that is empty or too long. */
int
replay_digest(const char *jti, uint8_t d[REPLAY_DIGEST_LEN])
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	size_t		 len = strlen(jti);

	if (len == 0 || len > REPLAY_JTI_LEN)
		return (-1);
	SHA256((const unsigned char *)jti, len, md);
	memcpy(d, md, REPLAY_DIGEST_LEN);
	return (0);
}

/* Expiry in whole seconds, rounded up: an entry may stay, never go early. */
static uint32_t
replay_seconds(double exp)
{
	if (exp <= 0)
		return (0);
	if (exp >= UINT32_MAX)
		return (UINT32_MAX);
	return ((uint32_t)ceil(exp));
}

/*
 * One more chain in use: chain split moves each of its entries to itself
 * or to split + base, by one more bit of the hash.
 */
static void
replay_split(struct replay *r)
{
	uint32_t	 i, next;

	if (r->r_base + r->r_split >= r->r_nchains)
		return;
	i = r->r_chains[r->r_split];
	r->r_chains[r->r_split++] = 0;
	for (; i != 0; i = next) {
		next = ENTRY(r, i - 1)->re_next;
		chain_insert(r, i - 1);
	}
	if (r->r_split == r->r_base) {
		r->r_base *= 2;
		r->r_split = 0;
	}
}

/*
 * 0: first use, now recorded.  -1: used before.  -2: cannot record (the
 * cache is full even after forgetting expired entries, or a bad argument),
 * which must refuse the token too: forgetting would allow a replay.
 */
int
replay_add(struct replay *r, const uint8_t d[REPLAY_DIGEST_LEN], double exp,
    double now)
{
	uint32_t	 i;

	if (!isfinite(exp))
		return (-2);
	for (i = *replay_chain(r, d); i != 0; i = ENTRY(r, i - 1)->re_next)
		if (memcmp(ENTRY(r, i - 1)->re_digest, d,
		    REPLAY_DIGEST_LEN) == 0)
			return (-1);
	if (r->r_count >= r->r_max)
		replay_expire(r, now);
	if (r->r_count >= r->r_max)
		return (-2);
	if (r->r_free != 0) {
		i = r->r_free - 1;
		r->r_free = ENTRY(r, i)->re_next;
	} else
		i = r->r_used++;
	memcpy(ENTRY(r, i)->re_digest, d, REPLAY_DIGEST_LEN);
	ENTRY(r, i)->re_exp = replay_seconds(exp);
	chain_insert(r, i);
	r->r_heap[r->r_count] = i;
	heap_up(r, r->r_count++);
	if (r->r_count > 2 * (r->r_base + r->r_split))
		replay_split(r);
	return (0);
}

/* replay_add for a jti. */
int
replay_use(struct replay *r, const char *jti, double exp, double now)
{
	uint8_t	 d[REPLAY_DIGEST_LEN];

	if (replay_digest(jti, d) == -1)
		return (-2);
	return (replay_add(r, d, exp, now));
}

/* The entry at position pos (below replay_count), in no useful order. */
int
replay_get(struct replay *r, size_t pos, uint8_t d[REPLAY_DIGEST_LEN],
    double *exp)
{
	if (pos >= r->r_count)
		return (-1);
	memcpy(d, ENTRY(r, r->r_heap[pos])->re_digest, REPLAY_DIGEST_LEN);
	*exp = exp_of(r, pos);
	return (0);
}

size_t
replay_count(struct replay *r)
{
	return (r->r_count);
}

size_t
replay_max(struct replay *r)
{
	return (r->r_max);
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->r_entries);
	free(r->r_heap);
	free(r->r_chains);
	free(r);
}
