/*
 * The workers share one listening socket, and the kernel wakes them all
 * for each connection: the first to run takes it.  That is whichever was
 * awake, so connections that come one after another pile onto one worker
 * while the others sleep.  Each worker therefore publishes how many
 * connections it holds in a page the master made and handed to all of
 * them.  A worker holding more than another one lets the connection go
 * to that one (worker.c).
 *
 * The page is advisory.  A slot holds a count or LOAD_ABSENT; the master
 * marks a worker absent when it dies, the worker itself when it drains.
 * A worker that writes nonsense there can only make the others accept
 * later, never not at all: a worker that stood aside accepts whatever is
 * still waiting a moment later.
 */
#include <sys/mman.h>

#include <errno.h>
#include <unistd.h>

#include "load.h"
#include "vncrelayd.h"

struct load_page {
	uint32_t	 conns[MAX_WORKERS];
};

static struct load_page	*load;

static int
load_map(int fd)
{
	void	*p;

	p = mmap(NULL, sizeof(*load), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	if (p == MAP_FAILED)
		return -1;
	if (load != NULL)
		munmap(load, sizeof(*load));
	load = p;
	return 0;
}

/* The master's page, every slot absent; returns its descriptor or -1. */
int
load_create(void)
{
	int	 fd, i, save;

	if ((fd = memfd_create("vncrelayd-load", MFD_CLOEXEC)) == -1)
		return -1;
	if (ftruncate(fd, sizeof(*load)) == -1 || load_map(fd) == -1) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	for (i = 0; i < MAX_WORKERS; i++)
		load_set(i, LOAD_ABSENT);
	return fd;
}

/* A worker maps the page it was sent; the descriptor is closed. */
int
load_attach(int fd)
{
	int	 rv;

	rv = load_map(fd);
	close(fd);
	return rv;
}

void
load_set(int slot, uint32_t conns)
{
	if (load != NULL && slot >= 0 && slot < MAX_WORKERS)
		__atomic_store_n(&load->conns[slot], conns, __ATOMIC_RELAXED);
}

/* Whether some other worker holds fewer connections than conns. */
int
load_busier(int slot, uint32_t conns)
{
	uint32_t	 n;
	int		 i;

	if (load == NULL || conns == 0)
		return 0;
	for (i = 0; i < MAX_WORKERS; i++) {
		if (i == slot)
			continue;
		n = __atomic_load_n(&load->conns[i], __ATOMIC_RELAXED);
		if (n != LOAD_ABSENT && n < conns)
			return 1;
	}
	return 0;
}
