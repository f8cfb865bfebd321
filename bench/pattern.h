/*
 * The bytes the bench moves: byte i of a stream is i mod 251.  A prime
 * period shows a lost, repeated or shifted byte wherever it happens,
 * including at frame and buffer boundaries, which fall on powers of two.
 */
#ifndef PATTERN_H
#define PATTERN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN_PERIOD	251
#define PATTERN_SPAN	(PATTERN_PERIOD * 1044)	/* about 256 KiB */

/*
 * PATTERN_SPAN + PATTERN_PERIOD bytes: the pattern from stream offset o
 * is at p + o % PATTERN_PERIOD, for up to PATTERN_SPAN bytes.
 */
static inline uint8_t *
pattern_new(void)
{
	uint8_t	*p;
	size_t	 i;

	if ((p = malloc(PATTERN_SPAN + PATTERN_PERIOD)) == NULL)
		return NULL;
	for (i = 0; i < PATTERN_SPAN + PATTERN_PERIOD; i++)
		p[i] = i % PATTERN_PERIOD;
	return p;
}

/* Whether the n bytes at p are the stream's bytes from offset off on. */
static inline int
pattern_check(const uint8_t *p, size_t n, uint64_t off)
{
	static uint8_t	*ref;
	size_t		 k;

	if (ref == NULL && (ref = pattern_new()) == NULL)
		return 0;
	for (; n > 0; p += k, n -= k, off += k) {
		k = n < PATTERN_SPAN ? n : PATTERN_SPAN;
		if (memcmp(p, ref + off % PATTERN_PERIOD, k) != 0)
			return 0;
	}
	return 1;
}

#endif
