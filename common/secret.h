/*
 * Secrets on their way out through an evbuffer: the bytes are wiped as
 * soon as they have been written, not left in freed chains.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

struct evbuffer;

int	 secret_add(struct evbuffer *, const void *, size_t);
void	 secret_wipe_input(struct evbuffer *);

#endif /* SECRET_H */
