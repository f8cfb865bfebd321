/*
 * What the fuzz harnesses share: CHECK() states a property of the code
 * under test; when it does not hold, the harness aborts and libFuzzer
 * keeps the input, as for a crash.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

#endif /* FUZZ_H */
