/*
 * What a proxy costs, summed over the process whose pid the bench knows
 * and all its descendants (vncrelayd's authd and workers, the processes
 * websockify and socat fork per connection): CPU time from
 * /proc/PID/stat, RSS and PSS from /proc/PID/smaps_rollup.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsload.h"

#define TREE_MAX	65536

/* Parent pid, and utime + stime in ticks, of one process. */
static int
stat_read(pid_t pid, pid_t *ppid, unsigned long long *ticks)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	int			 ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* The command name may hold anything: skip past its last ')'. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -1;
	ok = sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", ppid, &ut, &st) == 3;
	*ticks = ut + st;
	return ok ? 0 : -1;
}

static void
smaps_read(pid_t pid, struct treestat *t)
{
	char			 path[64], line[256];
	unsigned long long	 kb;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			t->rss += kb * 1024;
		else if (sscanf(line, "Pss: %llu kB", &kb) == 1)
			t->pss += kb * 1024;
	}
	fclose(f);
}

/*
 * Fills t for root and its descendants; with memory, RSS and PSS too
 * (reading smaps_rollup walks page tables: not during a timed run).
 */
int
proctree_stat(pid_t root, struct treestat *t, int memory)
{
	static pid_t		 pids[TREE_MAX], parents[TREE_MAX];
	static unsigned long long ticks[TREE_MAX];
	unsigned long long	 total = 0;
	struct dirent		*de;
	DIR			*d;
	static pid_t		 tree[TREE_MAX];
	int			 n = 0, nt = 0, i, j, grew;

	memset(t, 0, sizeof(*t));
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && n < TREE_MAX) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pids[n] = (pid_t)strtol(de->d_name, NULL, 10);
		if (stat_read(pids[n], &parents[n], &ticks[n]) == 0)
			n++;
	}
	closedir(d);
	tree[nt++] = root;
	/* Few processes are ours: repeat until no new child turns up. */
	do {
		grew = 0;
		for (i = 0; i < n; i++) {
			if (pids[i] == 0)
				continue;
			for (j = 0; j < nt; j++)
				if (parents[i] == tree[j] || pids[i] == root)
					break;
			if (j == nt || nt == TREE_MAX)
				continue;
			total += ticks[i];
			if (pids[i] != root)
				tree[nt++] = pids[i];
			if (memory)
				smaps_read(pids[i], t);
			pids[i] = 0;
			grew = 1;
		}
	} while (grew);
	t->nprocs = nt;
	t->cpu = (double)total / sysconf(_SC_CLK_TCK);
	return 0;
}
