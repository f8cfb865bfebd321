/*
 * How many connections each worker holds, in one page that the master
 * shares with every worker, so that an idle worker takes the next browser
 * rather than the one that happens to be awake (load.c).
 */
#ifndef LOAD_H
#define LOAD_H

#include <stdint.h>

#define LOAD_ABSENT	UINT32_MAX	/* no worker in this slot */

int		 load_create(void);
int		 load_attach(int);
void		 load_set(int, uint32_t);
int		 load_busier(int, uint32_t);

#endif /* LOAD_H */
