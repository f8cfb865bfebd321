/*
 * The master's totals, from what the children report, and the page of the
 * metrics listener (Prometheus text format 0.0.4), which a worker asks for
 * when it has read a scrape: the master renders it and sends it back in
 * parts, and reads nothing from the network.  A child counts from zero
 * when it starts; the master adds what grew since that child's previous
 * report, so a total never goes back when a child is restarted.  Gauges
 * (live sessions, open connections) are the sums of the live children's
 * last reports.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "stats.h"

#define METRICS_SERIES_MAX	256
#define METRICS_PAGES_PER_SECOND 50	/* that one worker may ask for */
#define METRICS_PART_MAX	(IPC_MAXPAYLOAD - sizeof(struct metrics_part))

static struct {
	uint64_t		 sessions_total;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 splice_bytes;
	uint64_t		 handshakes[ERR_MAX];
	uint64_t		 decisions[ERR_MAX];
	struct stats_series	 series[METRICS_SERIES_MAX];
	uint32_t		 nseries;
	struct latency_series	 latency[LATENCY_SERIES_MAX];
	uint32_t		 nlatency;
} tot;

static struct authd_stats	 authd_last;	/* authd's last report */

/* A new or gone child: its next report counts from zero. */
void
metrics_child_start(struct child *ch)
{
	memset(&ch->stats, 0, sizeof(ch->stats));
	if (ch->type == PROC_AUTHD)
		memset(&authd_last, 0, sizeof(authd_last));
}

static void
metrics_add_series(struct child *ch, uint32_t i, const struct stats_series *s)
{
	static const struct stats_series	 zero;
	const struct stats_series		*then = &ch->series[i];
	struct stats_series			*t;

	/* A worker's table only grows: slot i is the same pair as before. */
	if (i >= ch->stats.nseries || strcmp(then->route, s->route) != 0 ||
	    strcmp(then->target, s->target) != 0)
		then = &zero;
	ch->slot[i] = stats_series_slot(tot.series, &tot.nseries,
	    METRICS_SERIES_MAX, s->route, s->target);
	t = &tot.series[ch->slot[i]];
	t->total += stats_delta(s->total, then->total);
	t->bytes_in += stats_delta(s->bytes_in, then->bytes_in);
	t->bytes_out += stats_delta(s->bytes_out, then->bytes_out);
}

/* IMSG_STATS: a worker_stats, then its series; -1 if malformed. */
int
metrics_worker(struct child *ch, struct ipc_msg *m)
{
	static struct stats_series	 in[STATS_SERIES_MAX];
	struct worker_stats		 st;
	uint32_t			 i;

	if (m->hdr.len < sizeof(st))
		return -1;
	memcpy(&st, m->data, sizeof(st));
	if (st.nseries > STATS_SERIES_MAX ||
	    m->hdr.len != sizeof(st) + st.nseries * sizeof(in[0]))
		return -1;
	memcpy(in, m->data + sizeof(st), st.nseries * sizeof(in[0]));
	for (i = 0; i < st.nseries; i++)
		if (!ipc_str_ok(in[i].route, sizeof(in[i].route)) ||
		    !ipc_str_ok(in[i].target, sizeof(in[i].target)))
			return -1;
	tot.sessions_total += stats_delta(st.sessions_total,
	    ch->stats.sessions_total);
	tot.bytes_in += stats_delta(st.bytes_in, ch->stats.bytes_in);
	tot.bytes_out += stats_delta(st.bytes_out, ch->stats.bytes_out);
	tot.splice_bytes += stats_delta(st.splice_bytes,
	    ch->stats.splice_bytes);
	for (i = 0; i < ERR_MAX; i++)
		tot.handshakes[i] += stats_delta(st.handshakes[i],
		    ch->stats.handshakes[i]);
	for (i = 0; i < st.nseries; i++)
		metrics_add_series(ch, i, &in[i]);
	ch->stats = st;
	memcpy(ch->series, in, st.nseries * sizeof(in[0]));
	return 0;
}

static struct latency_series *
metrics_latency_slot(const struct latency_series *ls)
{
	struct latency_series	*t;
	uint32_t		 i;

	for (i = 0; i < tot.nlatency; i++) {
		t = &tot.latency[i];
		if (t->metric == ls->metric && strcmp(t->kind, ls->kind) == 0)
			return t;
	}
	if (tot.nlatency == LATENCY_SERIES_MAX)
		return NULL;
	t = &tot.latency[tot.nlatency++];
	t->metric = ls->metric;
	strlcpy_(t->kind, ls->kind, sizeof(t->kind));
	return t;
}

static void
metrics_add_latency(uint32_t i, const struct latency_series *ls)
{
	static const struct latency_series	 zero;
	const struct latency_series		*then = &authd_last.latency[i];
	struct latency_series			*t;
	int					 b;

	if (i >= authd_last.nlatency || then->metric != ls->metric ||
	    strcmp(then->kind, ls->kind) != 0 || then->h.count > ls->h.count)
		then = &zero;
	if ((t = metrics_latency_slot(ls)) == NULL)
		return;
	for (b = 0; b < HIST_BUCKETS; b++)
		t->h.bucket[b] += stats_delta(ls->h.bucket[b],
		    then->h.bucket[b]);
	t->h.count += ls->h.count - then->h.count;
	t->h.sum_us += stats_delta(ls->h.sum_us, then->h.sum_us);
}

/* IMSG_STATS_AUTHD; -1 if malformed. */
int
metrics_authd(struct ipc_msg *m)
{
	static struct authd_stats	 st;
	struct latency_series		*ls;
	uint32_t			 i;

	if (ipc_get(m, &st, sizeof(st)) == -1 ||
	    st.nlatency > LATENCY_SERIES_MAX)
		return -1;
	for (i = 0; i < st.nlatency; i++) {
		ls = &st.latency[i];
		if (ls->metric < 0 || ls->metric >= LATENCY_MAX ||
		    !ipc_str_ok(ls->kind, sizeof(ls->kind)) ||
		    !stats_hist_ok(&ls->h))
			return -1;
	}
	for (i = 0; i < ERR_MAX; i++)
		tot.decisions[i] += stats_delta(st.decisions[i],
		    authd_last.decisions[i]);
	for (i = 0; i < st.nlatency; i++)
		metrics_add_latency(i, &st.latency[i]);
	authd_last = st;
	return 0;
}

/* Totals for show summary; the gauges from the live workers. */
void
metrics_summary(struct worker_stats *sum)
{
	struct child	*ch;
	int		 i;

	memset(sum, 0, sizeof(*sum));
	sum->sessions_total = tot.sessions_total;
	sum->bytes_in = tot.bytes_in;
	sum->bytes_out = tot.bytes_out;
	memcpy(sum->handshakes, tot.handshakes, sizeof(sum->handshakes));
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (!child_alive(ch))
			continue;
		sum->sessions_active += ch->stats.sessions_active;
		sum->connections += ch->stats.connections;
	}
}

/*
 * A label value: quote, backslash and newline escaped as the format
 * wants; anything but printable ASCII becomes "_", so that the page is
 * valid UTF-8 whatever a target name holds.
 */
static void
put_label(struct evbuffer *b, const char *name, const char *v, int first)
{
	evbuffer_add_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f)
			evbuffer_add(b, "_", 1);
		else
			evbuffer_add(b, v, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
put_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
put_series(struct evbuffer *b, const char *name, const struct stats_series *s,
    const char *direction, uint64_t v)
{
	evbuffer_add_printf(b, "%s{", name);
	put_label(b, "route", s->route, 1);
	put_label(b, "target", s->target, 0);
	if (direction)
		put_label(b, "direction", direction, 0);
	evbuffer_add_printf(b, "} %llu\n", (unsigned long long)v);
}

static void
put_one(struct evbuffer *b, const char *name, const char *label,
    const char *value, uint64_t v)
{
	evbuffer_add_printf(b, "%s{", name);
	put_label(b, label, value, 1);
	evbuffer_add_printf(b, "} %llu\n", (unsigned long long)v);
}

static void
render_sessions(struct evbuffer *b)
{
	uint32_t	 active[METRICS_SERIES_MAX];
	struct child	*ch;
	uint32_t	 i;
	int		 w;

	memset(active, 0, sizeof(active));
	for (w = 0; w < master->nworkers; w++) {
		ch = &master->workers[w];
		for (i = 0; child_alive(ch) && i < ch->stats.nseries; i++)
			active[ch->slot[i]] += ch->series[i].active;
	}
	put_family(b, "vncrelayd_sessions_active", "gauge",
	    "Live console sessions by route and target.");
	for (i = 0; i < tot.nseries; i++)
		put_series(b, "vncrelayd_sessions_active", &tot.series[i], NULL,
		    active[i]);
	put_family(b, "vncrelayd_sessions_total", "counter",
	    "Console sessions opened, by route and target.");
	for (i = 0; i < tot.nseries; i++)
		put_series(b, "vncrelayd_sessions_total", &tot.series[i], NULL,
		    tot.series[i].total);
	put_family(b, "vncrelayd_session_bytes_total", "counter",
	    "Bytes relayed; direction in is from the browser to the console.");
	for (i = 0; i < tot.nseries; i++) {
		put_series(b, "vncrelayd_session_bytes_total", &tot.series[i],
		    "in", tot.series[i].bytes_in);
		put_series(b, "vncrelayd_session_bytes_total", &tot.series[i],
		    "out", tot.series[i].bytes_out);
	}
}

static void
render_results(struct evbuffer *b, const char *name, const char *help,
    const uint64_t *counts)
{
	int	 i;

	put_family(b, name, "counter", help);
	for (i = 0; i < ERR_MAX; i++)
		put_one(b, name, "result", err_name(i), counts[i]);
}

static void
render_histograms(struct evbuffer *b, const char *name,
    enum latency_metric metric, const char *help)
{
	const struct latency_series	*ls;
	uint64_t			 cum;
	uint32_t			 i;
	int				 k;

	put_family(b, name, "histogram", help);
	for (i = 0; i < tot.nlatency; i++) {
		if ((ls = &tot.latency[i])->metric != (int32_t)metric)
			continue;
		for (cum = 0, k = 0; k < HIST_BUCKETS; k++) {
			cum += ls->h.bucket[k];
			evbuffer_add_printf(b, "%s_bucket{", name);
			put_label(b, "kind", ls->kind, 1);
			if (k < HIST_BUCKETS - 1)
				evbuffer_add_printf(b, ",le=\"%g\"} %llu\n",
				    stats_bounds_us[k] / 1e6,
				    (unsigned long long)cum);
			else
				evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n",
				    (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "%s_sum{", name);
		put_label(b, "kind", ls->kind, 1);
		evbuffer_add_printf(b, "} %.6f\n%s_count{", ls->h.sum_us / 1e6,
		    name);
		put_label(b, "kind", ls->kind, 1);
		evbuffer_add_printf(b, "} %llu\n",
		    (unsigned long long)ls->h.count);
	}
}

/* Open descriptors of a process; the master may list a child's. */
static int
fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* Our own count holds the descriptor that reads it. */
	return pid == getpid() ? n - 1 : n;
}

static void
render_fds(struct evbuffer *b, const char *name, pid_t pid)
{
	int	 n;

	if (pid > 0 && (n = fd_count(pid)) >= 0)
		put_one(b, "vncrelayd_open_fds", "process", name, n);
}

static void
render_processes(struct evbuffer *b)
{
	struct child	*ch;
	int		 i;

	put_family(b, "vncrelayd_child_restarts_total", "counter",
	    "Times the master restarted a child.");
	put_one(b, "vncrelayd_child_restarts_total", "process", "authd",
	    master->authd.restarts);
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (!ch->retiring || child_alive(ch))
			put_one(b, "vncrelayd_child_restarts_total", "process",
			    ch->name, ch->restarts);
	}
	put_family(b, "vncrelayd_open_fds", "gauge",
	    "Open file descriptors of each process, from /proc/PID/fd.");
	render_fds(b, "master", getpid());
	render_fds(b, "authd", master->authd.pid);
	for (i = 0; i < master->nworkers; i++)
		render_fds(b, master->workers[i].name, master->workers[i].pid);
}

void
metrics_render(struct evbuffer *b)
{
	struct worker_stats	 sum;

	metrics_summary(&sum);
	put_family(b, "vncrelayd_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	evbuffer_add_printf(b, "vncrelayd_start_time_seconds %lld\n",
	    (long long)master->boot.tv_sec);
	put_family(b, "vncrelayd_connections", "gauge",
	    "Open client connections, HTTP and WebSocket.");
	evbuffer_add_printf(b, "vncrelayd_connections %u\n", sum.connections);
	render_sessions(b);
	put_family(b, "vncrelayd_splice_bytes_total", "counter",
	    "Console bytes that reached a browser socket by splice(2), "
	    "without a copy in the worker.");
	evbuffer_add_printf(b, "vncrelayd_splice_bytes_total %llu\n",
	    (unsigned long long)tot.splice_bytes);
	render_results(b, "vncrelayd_handshakes_total", "WebSocket handshakes "
	    "by result, as workers answered them.", tot.handshakes);
	render_results(b, "vncrelayd_authd_decisions_total", "Console "
	    "requests authd decided, by result.", tot.decisions);
	render_histograms(b, "vncrelayd_upstream_connect_seconds",
	    LATENCY_CONNECT, "Time to connect to a console upstream, by kind.");
	render_histograms(b, "vncrelayd_upstream_login_seconds", LATENCY_LOGIN,
	    "Time to log in to an upstream (Prism), by kind.");
	render_processes(b);
}

/*
 * A worker asks at most METRICS_PAGES_PER_SECOND times a second, and only
 * while its channel takes the page at once: a worker that asks in a loop,
 * or a flood of scrapes, costs the master that much rendering and no more.
 */
static int
metrics_may_render(struct child *ch)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != ch->page_second) {
		ch->page_second = now.tv_sec;
		ch->pages = 0;
	}
	return ++ch->pages <= METRICS_PAGES_PER_SECOND &&
	    ch->ipc->queued < IPC_MAXQUEUE / 2;
}

/* The page in parts; a page that does not fit is no page (failed). */
static void
metrics_send(struct child *ch, uint32_t id, struct evbuffer *b)
{
	struct metrics_part	 part = { .last = 1, .failed = 1 };
	size_t			 len = b ? evbuffer_get_length(b) : 0, n;

	if (b == NULL || len > METRICS_PAGE_MAX ||
	    ch->ipc->queued + len > IPC_MAXQUEUE / 2) {
		if (ipc_send(ch->ipc, IMSG_METRICS_TEXT, id, -1, &part,
		    sizeof(part)) == -1)
			log_warn("%s: metrics page", ch->name);
		return;
	}
	part.failed = 0;
	do {
		n = len < METRICS_PART_MAX ? len : METRICS_PART_MAX;
		part.last = n == len;
		if (ipc_sendv(ch->ipc, IMSG_METRICS_TEXT, id, -1, &part,
		    sizeof(part), evbuffer_pullup(b, n), n) == -1) {
			log_warn("%s: metrics page", ch->name);
			return;
		}
		evbuffer_drain(b, n);
		len -= n;
	} while (len > 0);
}

/*
 * IMSG_METRICS_REQ: no payload; peerid names the connection that scrapes,
 * one of the asking worker's (its slot is the id's top byte).  -1 if
 * malformed.
 */
int
metrics_request(struct child *ch, struct ipc_msg *m)
{
	struct evbuffer	*b = NULL;

	if (m->hdr.len != 0 || m->hdr.peerid >> 24 != (uint32_t)ch->id)
		return -1;
	if (metrics_may_render(ch) && (b = evbuffer_new()) != NULL)
		metrics_render(b);
	else
		log_debug("%s: no metrics page this time", ch->name);
	metrics_send(ch, m->hdr.peerid, b);
	if (b != NULL)
		evbuffer_free(b);
	return 0;
}
