/*
 * What authd counts for the metrics: decisions by result and the latency
 * of upstream connects and logins.  The master gets the counters at most
 * once a second, not per decision.
 */
#include <sys/types.h>

#include <string.h>
#include <time.h>

#include "authd.h"
#include "log.h"
#include "proc.h"
#include "stats.h"

static struct authd_stats	 stats;
static struct event		*ev_report;

static void
measure_send(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (ipc_send(ps->master, IMSG_STATS_AUTHD, 0, -1, &stats,
	    sizeof(stats)) == -1)
		log_warn("cannot report counters to the master");
}

static void
measure_dirty(void)
{
	if (ev_report == NULL &&
	    (ev_report = evtimer_new(ps->base, measure_send, NULL)) == NULL)
		return;
	if (!evtimer_pending(ev_report, NULL))
		evtimer_add(ev_report, (&(struct timeval){ 1, 0 }));
}

void
measure_decision(enum err_code code)
{
	if (code >= 0 && code < ERR_MAX)
		stats.decisions[code]++;
	measure_dirty();
}

/* A start time for measure_latency(). */
void
measure_start(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static struct latency_series *
measure_series(enum latency_metric metric, const char *kind)
{
	struct latency_series	*ls;
	uint32_t		 i;

	for (i = 0; i < stats.nlatency; i++) {
		ls = &stats.latency[i];
		if (ls->metric == (int32_t)metric && strcmp(ls->kind, kind) == 0)
			return ls;
	}
	if (stats.nlatency == LATENCY_SERIES_MAX ||
	    strlen(kind) >= sizeof(ls->kind))
		return NULL;
	ls = &stats.latency[stats.nlatency++];
	ls->metric = metric;
	strlcpy_(ls->kind, kind, sizeof(ls->kind));
	return ls;
}

/*
 * Counts a time in the histogram of metric and kind (a constant such as
 * "tcp" or "prism": the kinds are a bounded set).
 */
void
measure_observe(enum latency_metric metric, const char *kind, uint64_t us)
{
	struct latency_series	*ls;

	if ((ls = measure_series(metric, kind)) == NULL) {
		log_debug("no room to time %s", kind);
		return;
	}
	stats_hist_observe(&ls->h, us);
	measure_dirty();
}

/* Counts the time since start, taken with measure_start(). */
void
measure_latency(enum latency_metric metric, const char *kind,
    const struct timespec *start)
{
	struct timespec		 now;
	int64_t			 us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	    (now.tv_nsec - start->tv_nsec) / 1000;
	measure_observe(metric, kind, us < 0 ? 0 : (uint64_t)us);
}
