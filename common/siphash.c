/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash for the tables
 * whose keys an attacker may choose (authd's limits, the replay cache).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "siphash.h"

#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t
le64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return (v);
}

static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13) ^ v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17) ^ v[2];
	v[2] = ROTL64(v[2], 32);
}

static void
sipcompress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012). */
uint64_t
siphash24(const unsigned char key[SIPHASH_KEYLEN], const void *buf,
    size_t len)
{
	const unsigned char	*p = buf;
	unsigned char		 last[8];
	uint64_t		 k0, k1, v[4];
	size_t			 i, tail = len & 7;

	k0 = le64(key);
	k1 = le64(key + 8);
	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8)
		sipcompress(v, le64(p + i));
	memset(last, 0, sizeof(last));
	if (tail > 0)
		memcpy(last, p + len - tail, tail);
	last[7] = (unsigned char)len;
	sipcompress(v, le64(last));
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return (v[0] ^ v[1] ^ v[2] ^ v[3]);
}
