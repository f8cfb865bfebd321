/*
 * Bounded label sets and latency histograms.  A metric labelled with
 * whatever a request names would grow without end; a table of series here
 * has a fixed size, and what does not fit is counted as "other".
 */
#include <string.h>

#include "conf.h"
#include "stats.h"

/* Upper bounds of the latency buckets, in microseconds; then +Inf. */
const uint64_t stats_bounds_us[HIST_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

static int
series_find(struct stats_series *tab, uint32_t n, const char *route,
    const char *target)
{
	uint32_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].route, route) == 0 &&
		    strcmp(tab[i].target, target) == 0)
			return i;
	return -1;
}

static uint32_t
series_add(struct stats_series *tab, uint32_t *n, const char *route,
    const char *target)
{
	struct stats_series	*s = &tab[*n];

	memset(s, 0, sizeof(*s));
	strlcpy_(s->route, route, sizeof(s->route));
	strlcpy_(s->target, target, sizeof(s->target));
	return (*n)++;
}

/*
 * The slot of (route, target) in a table of max slots, n in use.  New
 * targets take slots up to max - STATS_OVERFLOW_SLOTS; past that a target
 * counts as "other" of its route while there is room for that, and as
 * route "other", target "other" in the last slot after.  A target too
 * long for a label is "other" too.
 */
uint32_t
stats_series_slot(struct stats_series *tab, uint32_t *n, uint32_t max,
    const char *route, const char *target)
{
	int	 i;

	if (strlen(route) >= sizeof(tab->route))
		route = "other";
	if (strlen(target) >= sizeof(tab->target))
		target = "other";
	if ((i = series_find(tab, *n, route, target)) != -1)
		return i;
	if (*n < max - STATS_OVERFLOW_SLOTS)
		return series_add(tab, n, route, target);
	if ((i = series_find(tab, *n, route, "other")) != -1)
		return i;
	if (*n < max - 1)
		return series_add(tab, n, route, "other");
	if ((i = series_find(tab, *n, "other", "other")) != -1)
		return i;
	return series_add(tab, n, "other", "other");
}

void
stats_hist_observe(struct histogram *h, uint64_t us)
{
	int	 i;

	for (i = 0; i < HIST_BUCKETS - 1 && us > stats_bounds_us[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum_us += us;
}

/* A histogram from another process: its buckets add up to its count. */
int
stats_hist_ok(const struct histogram *h)
{
	uint64_t	 sum = 0;
	int		 i;

	for (i = 0; i < HIST_BUCKETS; i++)
		sum += h->bucket[i];
	return sum == h->count;
}

/*
 * How much a counter of a child grew since its last report.  A counter
 * below its last value means a new process counting from zero.
 */
uint64_t
stats_delta(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now;
}
