/*
 * Unit test of authd's decision modules: token verification against the
 * vectors mktokens.py minted with python3-jwt, token signing, the replay
 * cache, the session limits and the rate limits.
 *
 * usage: test_token vectors-file
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vncrelayd.h"
#include "token.h"
#include "authd_limits.h"
#include "tap.h"

#define NOW		1700000000.0

static double		 vnow = NOW;
static int		 vskew, vmaxlife;
static struct token_keys keys = TAILQ_HEAD_INITIALIZER(keys);

static const char *
err_str(enum err_code e)
{
	switch (e) {
	case ERR_NONE:
		return ("NONE");
	case ERR_INVALID_TOKEN:
		return ("INVALID_TOKEN");
	case ERR_TOKEN_EXPIRED:
		return ("TOKEN_EXPIRED");
	default:
		return ("OTHER");
	}
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	unsigned char	*buf;
	FILE		*f;
	long		 n;

	if ((f = fopen(path, "rb")) == NULL)
		err(1, "%s", path);
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		err(1, "%s", path);
	if ((buf = malloc(n + 1)) == NULL)
		err(1, NULL);
	if (fread(buf, 1, n, f) != (size_t)n)
		err(1, "%s: short read", path);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return (buf);
}

static struct token_key *
key_find(const char *kid)
{
	struct token_key	*k;

	TAILQ_FOREACH(k, &keys, entry)
		if (strcmp(k->kid, kid) == 0)
			return (k);
	return (NULL);
}

/* key <kid> <alg> <file>, or badkey <kid> <alg> <file> <what> */
static void
do_key(char **f, int n, int good)
{
	struct token_key	*k;
	unsigned char		*m;
	char			 msg[256] = "";
	size_t			 len;
	int			 rv;

	if (n != (good ? 4 : 5))
		errx(1, "bad key line");
	if ((k = calloc(1, sizeof(*k))) == NULL)
		err(1, NULL);
	m = slurp(f[3], &len);
	rv = token_key_load(k, f[1], f[2], m, len, msg, sizeof(msg));
	free(m);
	if (good) {
		ok(rv == 0, "key %s %s loads%s%s", f[1], f[2],
		    rv ? ": " : "", msg);
		if (rv == 0) {
			TAILQ_INSERT_TAIL(&keys, k, entry);
			return;
		}
	} else
		ok(rv == -1 && msg[0] != '\0', "key refused: %s (%s)", f[4],
		    msg);
	free(k);
}

static int
field_is(const char *want, const char *got)
{
	return (strcmp(want, "-") == 0 || strcmp(want, got) == 0);
}

/* A token's log name is its jti's hash, else the whole token's. */
static int
hash_ok(const struct token_claims *c, const char *tok)
{
	char	 hash[TOKEN_HASH_LEN];

	if (c->has_jti)
		token_hash(c->jti, strlen(c->jti), hash);
	else
		token_hash(tok, strlen(tok), hash);
	return (strlen(c->hash) == 16 && strcmp(hash, c->hash) == 0);
}

/* vec <name> <expect> <allow> <deny> <ns> <sub> <jti> <why> <token> */
static void
do_vec(char **f, int n)
{
	struct token_claims	 c;
	const char		*why = NULL;
	enum err_code		 e;
	int			 good;

	if (n != 10)
		errx(1, "bad vec line");
	e = token_verify(&keys, f[9], strlen(f[9]), vnow, vskew, vmaxlife,
	    &c, &why);
	good = strcmp(err_str(e), f[2]) == 0;
	if (good && e == ERR_NONE)
		good = (strcmp(f[3], "-") == 0 || token_allows(&c, f[3])) &&
		    (strcmp(f[4], "-") == 0 || !token_allows(&c, f[4])) &&
		    field_is(f[5], c.ns) && field_is(f[6], c.sub) &&
		    (strcmp(f[7], "-") == 0 ? !c.has_jti :
		    c.has_jti && strcmp(f[7], c.jti) == 0);
	if (good && e == ERR_NONE)
		good = hash_ok(&c, f[9]);
	if (good && strcmp(f[8], "-") != 0)
		good = why != NULL && strstr(why, f[8]) != NULL;
	ok(good, "%s: %s (%s)", f[1], err_str(e), why ? why : "no reason");
}

static int
split(char *line, char **f, int max)
{
	int	 n = 0;

	line[strcspn(line, "\n")] = '\0';
	while (n < max && (f[n] = strsep(&line, "\t")) != NULL)
		n++;
	return (n);
}

static void
run_vectors(const char *path)
{
	FILE	*fp;
	char	*line = NULL, *f[12];
	size_t	 sz = 0;
	int	 n;

	if ((fp = fopen(path, "r")) == NULL)
		err(1, "%s", path);
	while (getline(&line, &sz, fp) != -1) {
		if ((n = split(line, f, 12)) < 2)
			continue;
		if (strcmp(f[0], "now") == 0)
			vnow = strtod(f[1], NULL);
		else if (strcmp(f[0], "skew") == 0)
			vskew = atoi(f[1]);
		else if (strcmp(f[0], "maxlife") == 0)
			vmaxlife = atoi(f[1]);
		else if (strcmp(f[0], "key") == 0)
			do_key(f, n, 1);
		else if (strcmp(f[0], "badkey") == 0)
			do_key(f, n, 0);
		else if (strcmp(f[0], "vec") == 0)
			do_vec(f, n);
		else
			errx(1, "%s: unknown line %s", path, f[0]);
	}
	free(line);
	fclose(fp);
}

static void
test_sign_key(const char *kid)
{
	struct token_key	*k;
	struct token_claims	 c;
	char			 tok[TOKEN_MAXLEN + 1], jti[TOKEN_RANDOM_LEN];
	char			 hash[TOKEN_HASH_LEN];
	const char		*why = NULL;
	enum err_code		 e;

	if ((k = key_find(kid)) == NULL) {
		ok(0, "sign with %s: key not loaded", kid);
		return;
	}
	ok(token_sign(k, "bob", "console-1", 60, NOW + 0.7, tok, sizeof(tok),
	    jti) == 0, "sign with %s", kid);
	e = token_verify(&keys, tok, strlen(tok), NOW + 1, 30, 3600, &c, &why);
	ok(e == ERR_NONE, "%s: signed token verifies (%s)", kid, why);
	ok(strcmp(c.kid, kid) == 0 && strcmp(c.sub, "bob") == 0 &&
	    token_allows(&c, "console-1") && !token_allows(&c, "console-2"),
	    "%s: kid, sub and target round-trip", kid);
	ok(c.has_jti && strlen(jti) == 32 && strcmp(c.jti, jti) == 0 &&
	    strspn(jti, "0123456789abcdef") == 32,
	    "%s: jti is 128 random bits in hex", kid);
	ok(c.has_iat && c.iat == NOW && c.exp == NOW + 60,
	    "%s: iat is now, exp iat + ttl", kid);
	token_hash(jti, strlen(jti), hash);
	ok(strcmp(c.hash, hash) == 0, "%s: claims carry the jti hash", kid);
	e = token_verify(&keys, tok, strlen(tok), NOW + 91, 30, 3600, &c,
	    &why);
	ok(e == ERR_TOKEN_EXPIRED, "%s: signed token expires", kid);
}

static void
test_sign(void)
{
	struct token_key	*k;
	char			 tok[TOKEN_MAXLEN + 1], jti1[TOKEN_RANDOM_LEN];
	char			 jti2[TOKEN_RANDOM_LEN];

	test_sign_key("hs1");
	test_sign_key("ed2");
	if ((k = key_find("hs1")) == NULL)
		return;
	ok(token_sign(k, "a", "t", 60, NOW, tok, sizeof(tok), jti1) == 0 &&
	    token_sign(k, "a", "t", 60, NOW, tok, sizeof(tok), jti2) == 0 &&
	    strcmp(jti1, jti2) != 0, "two tokens get two jti");
	ok(token_sign(k, "a", "t", 60, NOW, tok, 40, NULL) == -1,
	    "sign refuses a short buffer");
	ok(token_sign(k, "a\nb", "t", 60, NOW, tok, sizeof(tok), NULL) == -1,
	    "sign refuses a sub it would not accept back");
	ok(token_sign(k, "a", "t", 0, NOW, tok, sizeof(tok), NULL) == -1,
	    "sign refuses a ttl of 0");
	ok(token_sign(k, NULL, NULL, 60, NOW, tok, sizeof(tok), NULL) == 0,
	    "sign without sub and target");
	if ((k = key_find("ed1")) != NULL)
		ok(token_sign(k, "a", "t", 60, NOW, tok, sizeof(tok), NULL) ==
		    -1, "cannot sign with a public EdDSA key");
}

static void
test_verify_edges(void)
{
	struct token_claims	 c;
	struct token_keys	 none = TAILQ_HEAD_INITIALIZER(none);
	struct token_key	*k;
	char			 tok[TOKEN_MAXLEN + 16], hash[TOKEN_HASH_LEN];
	const char		*why = NULL;
	enum err_code		 e;
	size_t			 len;

	if ((k = key_find("hs1")) == NULL ||
	    token_sign(k, "a", "t", 60, NOW, tok, sizeof(tok), NULL) == -1) {
		ok(0, "edge tests: cannot sign");
		return;
	}
	len = strlen(tok);
	e = token_verify(&none, tok, len, NOW, 30, 3600, &c, &why);
	ok(e == ERR_INVALID_TOKEN, "no keys configured: refused (%s)", why);
	e = token_verify(&keys, tok, len - 1, NOW, 30, 3600, &c, &why);
	ok(e == ERR_INVALID_TOKEN, "length one short: refused (%s)", why);
	e = token_verify(&keys, tok, len + 1, NOW, 30, 3600, &c, &why);
	ok(e == ERR_INVALID_TOKEN, "NUL included in the length: refused (%s)",
	    why);
	e = token_verify(&keys, tok, 0, NOW, 30, 3600, &c, &why);
	ok(e == ERR_INVALID_TOKEN, "empty token: refused (%s)", why);
	e = token_verify(&keys, NULL, 0, NOW, 30, 3600, &c, NULL);
	ok(e == ERR_INVALID_TOKEN, "NULL token and NULL why: refused");
	e = token_verify(&keys, tok, len, NOW, 30, 0, &c, NULL);
	ok(e == ERR_NONE, "max lifetime 0 means no limit");
	tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
	e = token_verify(&keys, tok, len, NOW, 30, 3600, &c, &why);
	ok(e == ERR_INVALID_TOKEN && c.sub[0] == '\0' && c.ntargets == 0,
	    "bad signature: refused, no claims (%s)", why);
	token_hash("abc", 3, hash);
	ok(strcmp(hash, "ba7816bf8f01cfea") == 0, "jti hash is SHA-256 "
	    "prefix (%s)", hash);
}

static void
test_siphash(void)
{
	unsigned char	 key[SIPHASH_KEYLEN], msg[15];
	int		 i;

	for (i = 0; i < SIPHASH_KEYLEN; i++)
		key[i] = i;
	for (i = 0; i < 15; i++)
		msg[i] = i;
	ok(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL,
	    "siphash24 reference vector, empty input");
	ok(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL,
	    "siphash24 reference vector, 15 bytes");
}

static void
test_replay(void)
{
	struct replay	*r;
	char		 jti[TOKEN_JTI_LEN + 2];

	if ((r = replay_new(4)) == NULL)
		errx(1, "replay_new");
	replay_set_skew(r, 30);
	ok(replay_use(r, "a", NOW + 10, NOW) == 0, "replay: first use");
	ok(replay_use(r, "a", NOW + 10, NOW + 1) == -1,
	    "replay: second use refused");
	ok(replay_use(r, "b", NOW + 20, NOW) == 0 &&
	    replay_use(r, "c", NOW + 5, NOW) == 0 &&
	    replay_use(r, "d", NOW + 100, NOW) == 0 && replay_count(r) == 4,
	    "replay: four entries");
	ok(replay_use(r, "e", NOW + 10, NOW + 1) == -2,
	    "replay: full cache refuses");
	ok(replay_use(r, "b", NOW + 20, NOW + 1) == -1,
	    "replay: a full cache still answers `used'");
	replay_expire(r, NOW + 34);
	ok(replay_count(r) == 4, "replay: kept until exp + skew");
	ok(replay_use(r, "e", NOW + 50, NOW + 35) == 0 && replay_count(r) == 4,
	    "replay: full cache makes room by expiring");
	replay_expire(r, NOW + 40);
	ok(replay_count(r) == 3, "replay: expire forgets a");
	ok(replay_use(r, "a", NOW + 10, NOW + 41) == 0,
	    "replay: forgotten after expiry");
	memset(jti, 'x', TOKEN_JTI_LEN + 1);
	jti[TOKEN_JTI_LEN + 1] = '\0';
	ok(replay_use(r, jti, NOW + 10, NOW) == -2, "replay: jti too long");
	ok(replay_use(r, "", NOW + 10, NOW) == -2, "replay: empty jti");
	replay_expire(r, NOW + 1000);
	ok(replay_count(r) == 0, "replay: all expired");
	replay_free(r);
}

/* The heap must release entries in exp order, whatever the insert order. */
static void
test_replay_order(void)
{
	struct replay	*r;
	double		 exps[2000];
	char		 jti[32];
	int		 i, j, good = 1;
	size_t		 left;

	if ((r = replay_new(2000)) == NULL)
		errx(1, "replay_new");
	replay_set_skew(r, 0);
	srandom(7);
	for (i = 0; i < 2000; i++) {
		exps[i] = NOW + random() % 500;
		snprintf(jti, sizeof(jti), "j%d", i);
		if (replay_use(r, jti, exps[i], NOW) != 0)
			good = 0;
	}
	for (i = 0; i <= 500 && good; i += 7) {
		replay_expire(r, NOW + i);
		for (left = 0, j = 0; j < 2000; j++)
			if (exps[j] > NOW + i)
				left++;
		if (left != replay_count(r))
			good = 0;
	}
	ok(good, "replay: 2000 entries expire in exp order");
	for (i = 0; i < 2000; i++) {
		snprintf(jti, sizeof(jti), "k%d", i);
		replay_use(r, jti, NOW + 1e6, NOW);
	}
	snprintf(jti, sizeof(jti), "k%d", 0);
	ok(replay_count(r) == 2000 && replay_use(r, "new", NOW + 1e6,
	    NOW) == -2 && replay_use(r, jti, NOW + 1e6, NOW) == -1,
	    "replay: bounded at its maximum");
	replay_free(r);
}

/*
 * A cache sized for a million starts with few chains and doubles them as
 * entries come: every one of 50000 is still found after the growth, and
 * after half of them expired and as many new ones came.
 */
static void
test_replay_grow(void)
{
	struct replay	*r;
	char		 jti[32];
	int		 i, good = 1, seen = 1;

	if ((r = replay_new(1000000)) == NULL)
		errx(1, "replay_new");
	replay_set_skew(r, 0);
	for (i = 0; i < 50000; i++) {
		snprintf(jti, sizeof(jti), "g%d", i);
		if (replay_use(r, jti, NOW + 10 + i % 2 * 1000, NOW) != 0)
			good = 0;
	}
	for (i = 0; i < 50000; i++) {
		snprintf(jti, sizeof(jti), "g%d", i);
		if (replay_use(r, jti, NOW + 2000, NOW) != -1)
			seen = 0;
	}
	ok(good && seen && replay_count(r) == 50000,
	    "replay: 50000 entries found again after the chains grew");
	replay_expire(r, NOW + 500);
	for (i = 0; i < 25000; i++) {
		snprintf(jti, sizeof(jti), "h%d", i);
		if (replay_use(r, jti, NOW + 3000, NOW + 500) != 0)
			good = 0;
	}
	for (i = 0; i < 50000; i++) {
		snprintf(jti, sizeof(jti), "g%d", i);
		if (replay_use(r, jti, NOW + 3000, NOW + 500) != (i % 2 ?
		    -1 : 0))
			seen = 0;
	}
	ok(good && seen && replay_count(r) == 75000,
	    "replay: expired entries go, the others stay found");
	replay_free(r);
}

/*
 * A resize keeps every entry, in a smaller size too (new ones then wait
 * for room); the entries read back are those added; the first forgotten
 * is the first to expire.
 */
static void
test_replay_resize(void)
{
	struct replay	*r;
	uint8_t		 d[REPLAY_DIGEST_LEN], want[REPLAY_DIGEST_LEN];
	double		 exp, sum = 0;
	char		 jti[32];
	size_t		 i, found = 0;
	int		 good = 1;

	if ((r = replay_new(100)) == NULL)
		errx(1, "replay_new");
	replay_set_skew(r, 0);
	for (i = 0; i < 100; i++) {
		snprintf(jti, sizeof(jti), "r%zu", i);
		if (replay_use(r, jti, NOW + 100 + (i * 37) % 100, NOW) != 0)
			good = 0;
	}
	ok(good && replay_use(r, "more", NOW + 500, NOW) == -2,
	    "replay: 100 entries fill a cache of 100");
	ok(replay_resize(r, 150) == 0 && replay_max(r) == 150 &&
	    replay_count(r) == 100 && replay_use(r, "r7", NOW + 500, NOW) == -1
	    && replay_use(r, "more", NOW + 500, NOW) == 0,
	    "replay: grown, it keeps its entries and takes more");
	ok(replay_resize(r, 10) == 0 && replay_count(r) == 101 &&
	    replay_use(r, "r99", NOW + 500, NOW) == -1 &&
	    replay_use(r, "less", NOW + 500, NOW) == -2,
	    "replay: shrunk below its entries, it keeps them, takes none");
	replay_expire(r, NOW + 192);
	ok(replay_count(r) == 8 && replay_use(r, "less", NOW + 500,
	    NOW + 192) == 0 && replay_use(r, "again", NOW + 500,
	    NOW + 192) == 0 && replay_use(r, "full", NOW + 500,
	    NOW + 192) == -2, "replay: below its size again, it takes new "
	    "ones up to it");
	replay_digest("more", want);
	for (i = 0; replay_get(r, i, d, &exp) == 0; i++) {
		sum += exp;
		if (memcmp(d, want, sizeof(d)) == 0 && exp == NOW + 500)
			found++;
	}
	/* Left: exp NOW + 193 to NOW + 199, and three at NOW + 500. */
	ok(i == 10 && found == 1 && sum == 10 * NOW + 1372 + 1500,
	    "replay: replay_get reads back every entry (%zu)", i);
	replay_forget_first(r);
	ok(replay_count(r) == 9, "replay: forget_first forgets one");
	replay_free(r);
}

static void
test_limits(void)
{
	struct limits	*l;
	int		 rv;

	if ((l = limits_new()) == NULL)
		errx(1, "limits_new");
	limits_set(l, 5, 2, 3, 1, 0);
	ok(limits_acquire(l, 1, 1, "vm1", "10.0.0.1", "tokA") == 0 &&
	    limits_acquire(l, 1, 2, "vm1", "10.0.0.2", NULL) == 0,
	    "limits: two sessions on vm1");
	rv = limits_acquire(l, 2, 1, "vm1", "10.0.0.3", NULL);
	ok(rv == -1 && strstr(limits_reason(l), "target") != NULL,
	    "limits: per target (%s)", limits_reason(l));
	rv = limits_acquire(l, 2, 2, "vm2", "10.0.0.3", "tokA");
	ok(rv == -1 && strstr(limits_reason(l), "token") != NULL,
	    "limits: per token (%s)", limits_reason(l));
	ok(limits_acquire(l, 2, 3, "vm2", "10.0.0.1", NULL) == 0 &&
	    limits_acquire(l, 2, 4, "vm3", "10.0.0.1", NULL) == 0,
	    "limits: three sessions from 10.0.0.1");
	rv = limits_acquire(l, 2, 5, "vm4", "10.0.0.1", NULL);
	ok(rv == -1 && strstr(limits_reason(l), "client") != NULL,
	    "limits: per client (%s)", limits_reason(l));
	ok(limits_acquire(l, 3, 1, "vm4", "10.0.0.9", NULL) == 0,
	    "limits: fifth session");
	rv = limits_acquire(l, 3, 2, "vm5", "10.0.0.8", NULL);
	ok(rv == -1 && strcmp(limits_reason(l), "max sessions") == 0,
	    "limits: total (%s)", limits_reason(l));
	ok(limits_active(l) == 5 && limits_tracked(l) == 4 + 3 + 1 &&
	    limits_target_count(l, "vm1") == 2 &&
	    limits_client_count(l, "10.0.0.1") == 3 &&
	    limits_token_count(l, "tokA") == 1, "limits: counters");
	ok(limits_acquire(l, 1, 1, "vm9", "10.0.0.9", NULL) == -2,
	    "limits: duplicate (worker, session) refused");
	ok(limits_release(l, 1, 1) == 0 && limits_target_count(l, "vm1") == 1 &&
	    limits_token_count(l, "tokA") == 0 && limits_active(l) == 4,
	    "limits: release frees its slots");
	ok(limits_release(l, 1, 1) == -1, "limits: double release noticed");
	ok(limits_acquire(l, 2, 6, "vm2", "10.0.0.3", "tokA") == 0,
	    "limits: per-token slot reusable after release");
	ok(limits_release_worker(l, 2) == 3 && limits_active(l) == 2 &&
	    limits_client_count(l, "10.0.0.1") == 0 &&
	    limits_target_count(l, "vm2") == 0 &&
	    limits_target_count(l, "vm1") == 1,
	    "limits: worker death releases all it held");
	ok(limits_release_worker(l, 1) == 1 &&
	    limits_release_worker(l, 3) == 1 &&
	    limits_active(l) == 0 && limits_target_count(l, "vm4") == 0 &&
	    limits_tracked(l) == 0, "limits: all released, no key left");
	limits_set(l, 0, 0, 0, 0, 0);
	for (rv = 0; rv < 100; rv++)
		if (limits_acquire(l, 1, rv, "vm", "c", "t") != 0)
			break;
	ok(rv == 100, "limits: 0 means unlimited");
	ok(limits_acquire(l, 9, 1, "vm", "c", NULL) == 0 &&
	    limits_release_worker(l, 1) == 100 && limits_active(l) == 1,
	    "limits: release one worker, keep another");
	limits_free(l);
}

static void
test_limits_bounds(void)
{
	struct limits	*l;
	char		 big[LIMITS_KEYLEN + 1], client[32];
	int		 i, rv = 0;

	if ((l = limits_new()) == NULL)
		errx(1, "limits_new");
	memset(big, 'x', LIMITS_KEYLEN);
	big[LIMITS_KEYLEN] = '\0';
	ok(limits_acquire(l, 1, 1, big, "c", NULL) == -2,
	    "limits: key too long refused");
	for (i = 0; i < LIMITS_MAX_SESSIONS && rv == 0; i++) {
		snprintf(client, sizeof(client), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		rv = limits_acquire(l, i & 63, i, "vm", client, NULL);
	}
	ok(rv == 0 && limits_acquire(l, 99, 0, "vm", "x", NULL) == -1,
	    "limits: hard cap of %d sessions", LIMITS_MAX_SESSIONS);
	for (i = 0; i < 64; i++)
		limits_release_worker(l, i);
	ok(limits_active(l) == 0 && limits_target_count(l, "vm") == 0 &&
	    limits_tracked(l) == 0, "limits: all workers released");
	limits_free(l);
}

static void
test_rate(void)
{
	struct limits		*l;
	struct ratelimit	*rl;
	char			 key[32];
	int			 i, n;

	if ((l = limits_new()) == NULL)
		errx(1, "limits_new");
	for (i = 0, n = 0; i < 50; i++)
		n += limits_rate_ok(l, "c1", NOW);
	ok(n == 50, "rate: off by default");
	limits_set(l, 0, 0, 0, 0, 3);
	for (i = 0, n = 0; i < 10; i++)
		n += limits_rate_ok(l, "c1", NOW);
	ok(n == 3, "rate: burst of 3 (%d)", n);
	ok(limits_rate_ok(l, "c2", NOW), "rate: another client unaffected");
	ok(!limits_rate_ok(l, "c1", NOW + 0.2) &&
	    limits_rate_ok(l, "c1", NOW + 0.34) &&
	    !limits_rate_ok(l, "c1", NOW + 0.35),
	    "rate: 3 per second refill");
	for (i = 0, n = 0; i < 10; i++)
		n += limits_rate_ok(l, "c1", NOW + 100);
	ok(n == 3, "rate: refill caps at the burst");
	limits_free(l);

	if ((rl = ratelimit_new(0.5, 2)) == NULL)
		errx(1, "ratelimit_new");
	ok(ratelimit_peek(rl, "k", NOW) && ratelimit_count(rl) == 0,
	    "ratelimit: peek records nothing");
	ok(ratelimit_hit(rl, "k", NOW) && ratelimit_hit(rl, "k", NOW) &&
	    !ratelimit_hit(rl, "k", NOW) && !ratelimit_peek(rl, "k", NOW),
	    "ratelimit: burst of 2 failures");
	ok(!ratelimit_peek(rl, "k", NOW + 1.9) &&
	    ratelimit_peek(rl, "k", NOW + 2) && ratelimit_hit(rl, "k", NOW + 2),
	    "ratelimit: one more every 2 seconds");
	for (i = 0; i < RATELIMIT_MAX_KEYS + 1000; i++) {
		snprintf(key, sizeof(key), "2001:db8::%x", i);
		ratelimit_hit(rl, key, NOW + 3);
	}
	ok(ratelimit_count(rl) == RATELIMIT_MAX_KEYS,
	    "ratelimit: bounded at %d keys", RATELIMIT_MAX_KEYS);
	ok(ratelimit_hit(rl, "late", NOW + 10) && ratelimit_count(rl) == 1,
	    "ratelimit: stale buckets evicted");
	ratelimit_free(rl);
}

int
main(int argc, char *argv[])
{
	struct token_key	*k;

	if (argc != 2) {
		fprintf(stderr, "usage: test_token vectors-file\n");
		return (2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_vectors(argv[1]);
	test_sign();
	test_verify_edges();
	test_siphash();
	test_replay();
	test_replay_order();
	test_replay_resize();
	test_replay_grow();
	test_limits();
	test_limits_bounds();
	test_rate();
	while ((k = TAILQ_FIRST(&keys)) != NULL) {
		TAILQ_REMOVE(&keys, k, entry);
		token_key_clear(k);
		free(k);
	}
	return tap_done();
}
