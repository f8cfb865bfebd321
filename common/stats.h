/*
 * Counting for vncrelayctl and the metrics listener: bounded label sets
 * and latency histograms, shared by the processes that count and the
 * master that adds them up.
 */
#ifndef STATS_H
#define STATS_H

#include "vncrelayd.h"

/* A table of series keeps this many slots for targets past its bound. */
#define STATS_OVERFLOW_SLOTS	8

extern const uint64_t	 stats_bounds_us[HIST_BUCKETS - 1];

uint32_t	 stats_series_slot(struct stats_series *, uint32_t *, uint32_t,
		    const char *, const char *);
void		 stats_hist_observe(struct histogram *, uint64_t);
int		 stats_hist_ok(const struct histogram *);
uint64_t	 stats_delta(uint64_t, uint64_t);

#endif
