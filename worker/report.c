/*
 * What a worker tells the master: its counters, by route and target, at
 * most once a second (worker.c keeps the timer), and its live sessions
 * when the master asks for them.  Nothing here runs per frame: the relay
 * only adds to its session's byte counts, and those are read here.
 */
#include <sys/types.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "stats.h"
#include "worker.h"

static struct stats_series	 series[STATS_SERIES_MAX];
static uint32_t			 nseries;
static struct session_info	 batch[SESSION_BATCH];

void
report_session_start(struct conn *c)
{
	uint32_t	 i;

	i = stats_series_slot(series, &nseries, STATS_SERIES_MAX, c->pattern,
	    c->target);
	c->series = &series[i];
	c->series->active++;
	c->series->total++;
	worker->stats.sessions_total++;
	worker->stats.sessions_active++;
	worker_stats_dirty();
}

/* The session's bytes move from its own counters to the totals. */
void
report_session_end(struct conn *c)
{
	if (c->series != NULL) {
		c->series->active--;
		c->series->bytes_in += c->bytes_in;
		c->series->bytes_out += c->bytes_out;
		c->series = NULL;
		worker->stats.sessions_active--;
	}
	worker->stats.bytes_in += c->bytes_in;
	worker->stats.bytes_out += c->bytes_out;
	worker_stats_dirty();
}

/* The counters, with the bytes that live sessions have moved so far. */
void
report_stats(void)
{
	static struct stats_series	 snap[STATS_SERIES_MAX];
	struct worker_stats		 st = worker->stats;
	struct conn			*c;

	memcpy(snap, series, nseries * sizeof(*snap));
	TAILQ_FOREACH(c, &worker->conns, entry) {
		if (c->series == NULL)
			continue;
		snap[c->series - series].bytes_in += c->bytes_in;
		snap[c->series - series].bytes_out += c->bytes_out;
		st.bytes_in += c->bytes_in;
		st.bytes_out += c->bytes_out;
	}
	st.nseries = nseries;
	if (ipc_sendv(ps->master, IMSG_STATS, 0, -1, &st, sizeof(st), snap,
	    nseries * sizeof(*snap)) == -1)
		log_warn("cannot report counters to the master");
}

static void
report_fill(struct session_info *si, struct conn *c)
{
	memset(si, 0, sizeof(*si));
	si->id = c->id;
	strlcpy_(si->client, c->client, sizeof(si->client));
	snprintf(si->peer, sizeof(si->peer), strchr(c->peer, ':') ?
	    "[%s]:%u" : "%s:%u", c->peer, c->peer_port);
	strlcpy_(si->route, c->pattern, sizeof(si->route));
	strlcpy_(si->target, c->target, sizeof(si->target));
	strlcpy_(si->user, c->user, sizeof(si->user));
	si->since = c->since.tv_sec;
	si->bytes_in = c->bytes_in;
	si->bytes_out = c->bytes_out;
}

static int
report_batch(uint32_t reqid, uint32_t n, int last, int truncated)
{
	struct session_list	 sl;

	memset(&sl, 0, sizeof(sl));
	sl.n = n;
	sl.last = last;
	sl.truncated = truncated;
	return ipc_sendv(ps->master, IMSG_SESSION_LIST, reqid, -1, &sl,
	    sizeof(sl), batch, n * sizeof(*batch));
}

/*
 * The live sessions, SESSION_BATCH to a message so that each fits the
 * IPC bound, SESSION_LIST_MAX at most; the last message says it is.
 */
void
report_sessions(uint32_t reqid)
{
	struct conn	*c;
	uint32_t	 n = 0, total = 0;
	int		 truncated = 0;

	TAILQ_FOREACH(c, &worker->conns, entry) {
		if (c->series == NULL)
			continue;
		if (total++ == SESSION_LIST_MAX) {
			truncated = 1;
			break;
		}
		report_fill(&batch[n++], c);
		if (n == SESSION_BATCH) {
			if (report_batch(reqid, n, 0, 0) == -1)
				break;
			n = 0;
		}
	}
	if (report_batch(reqid, n, 1, truncated) == -1)
		log_warn("cannot send the session list to the master");
}
