/* SipHash-2-4, keyed with SIPHASH_KEYLEN random bytes (siphash.c). */
#ifndef SIPHASH_H
#define SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEYLEN	16

uint64_t	 siphash24(const unsigned char [SIPHASH_KEYLEN], const void *,
		    size_t);

#endif /* SIPHASH_H */
