/*
 * The metrics listener (metrics-listen).  The master serves one read-only
 * page from its own counters, so this is the only network input it reads:
 * the request line alone, inside a bounded head, from a bounded number of
 * connections, each under a deadline.  GET /metrics is answered; any other
 * request is 404, anything that is not a request line 400, and the
 * connection closes after the answer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "log.h"
#include "master.h"

#define EXPORTER_MAXCONNS	8
#define EXPORTER_MAXHEAD	4096
#define EXPORTER_TIMEOUT	5
#define EXPORTER_BACKLOG	16

#define EXPORTER_MAXDISCARD	(64 * 1024)

struct mconn {
	TAILQ_ENTRY(mconn)	 entry;
	struct bufferevent	*bev;
	size_t			 discarded;
};

static void	mconn_event(struct bufferevent *, short, void *);

static TAILQ_HEAD(, mconn) mconns = TAILQ_HEAD_INITIALIZER(mconns);
static int		 nmconns;
static int		 exp_fd = -1;
static struct event	*ev_accept;
static char		 exp_addr[ADDR_LEN];

static void
mconn_free(struct mconn *mc)
{
	TAILQ_REMOVE(&mconns, mc, entry);
	nmconns--;
	bufferevent_free(mc->bev);
	free(mc);
}

/*
 * After the answer, what the client still sends is read and dropped until
 * its EOF (or the deadline, or a bound): closing with unread input would
 * make the kernel reset the connection, and the answer could be lost.
 */
static void
mconn_discard(struct bufferevent *bev, void *arg)
{
	struct mconn	*mc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	mc->discarded += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (mc->discarded > EXPORTER_MAXDISCARD)
		mconn_free(mc);
}

static void
mconn_flushed(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
mconn_answer(struct mconn *mc, int status, const char *reason,
    struct evbuffer *body)
{
	struct evbuffer	*out = bufferevent_get_output(mc->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason,
	    status == 200 ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", body ? evbuffer_get_length(body) :
	    strlen(reason) + 1);
	if (body)
		evbuffer_add_buffer(out, body);
	else
		evbuffer_add_printf(out, "%s\n", reason);
	bufferevent_setwatermark(mc->bev, EV_READ, 0, 0);
	bufferevent_setcb(mc->bev, mconn_discard, mconn_flushed, mconn_event,
	    mc);
	mconn_discard(mc->bev, mc);
}

/*
 * "METHOD SP TARGET SP HTTP/1.x" and nothing else: the method in capitals,
 * the target printable ASCII without spaces.  Returns 0 for GET /metrics,
 * 1 for another well-formed request, -1 for anything else.
 */
static int
request_line(const char *line)
{
	const char	*sp1, *sp2, *p;

	if ((sp1 = strchr(line, ' ')) == NULL || sp1 == line ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    (strcmp(sp2 + 1, "HTTP/1.1") != 0 &&
	    strcmp(sp2 + 1, "HTTP/1.0") != 0))
		return -1;
	for (p = line; p < sp1; p++)
		if (!isupper((unsigned char)*p))
			return -1;
	if (sp1[1] != '/')
		return -1;
	for (p = sp1 + 1; p < sp2; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return -1;
	if (sp1 - line == 3 && strncmp(line, "GET", 3) == 0 &&
	    sp2 - sp1 - 1 == 8 && strncmp(sp1 + 1, "/metrics", 8) == 0)
		return 0;
	return 1;
}

static void
mconn_read(struct bufferevent *bev, void *arg)
{
	struct mconn	*mc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev), *body;
	struct evbuffer_ptr end;
	char		*line;
	size_t		 n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) >= EXPORTER_MAXHEAD)
			mconn_answer(mc, 400, "Bad Request", NULL);
		return;
	}
	if (end.pos + 4 > EXPORTER_MAXHEAD ||
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL) {
		mconn_answer(mc, 400, "Bad Request", NULL);
		return;
	}
	switch (strlen(line) == n ? request_line(line) : -1) {
	case 0:
		if ((body = evbuffer_new()) == NULL) {
			mconn_free(mc);
			break;
		}
		metrics_render(body);
		mconn_answer(mc, 200, "OK", body);
		evbuffer_free(body);
		break;
	case 1:
		mconn_answer(mc, 404, "Not Found", NULL);
		break;
	default:
		mconn_answer(mc, 400, "Bad Request", NULL);
		break;
	}
	free(line);
}

static void
mconn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		mconn_free(arg);
}

static void
exporter_accept(evutil_socket_t fd, short what, void *arg)
{
	struct mconn	*mc;
	int		 s;

	(void)what;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (nmconns >= EXPORTER_MAXCONNS) {
		log_debug("metrics: too many connections");
		close(s);
		return;
	}
	if ((mc = calloc(1, sizeof(*mc))) == NULL) {
		close(s);
		return;
	}
	mc->bev = bufferevent_socket_new(master->base, s, BEV_OPT_CLOSE_ON_FREE);
	if (mc->bev == NULL) {
		close(s);
		free(mc);
		return;
	}
	TAILQ_INSERT_TAIL(&mconns, mc, entry);
	nmconns++;
	bufferevent_setcb(mc->bev, mconn_read, NULL, mconn_event, mc);
	bufferevent_set_timeouts(mc->bev, (&(struct timeval){ EXPORTER_TIMEOUT,
	    0 }), (&(struct timeval){ EXPORTER_TIMEOUT, 0 }));
	bufferevent_setwatermark(mc->bev, EV_READ, 0, EXPORTER_MAXHEAD);
	bufferevent_enable(mc->bev, EV_READ);
}

void
exporter_close(void)
{
	if (exp_fd == -1)
		return;
	event_free(ev_accept);
	close(exp_fd);
	exp_fd = -1;
	exp_addr[0] = '\0';
}

/*
 * Opens metrics-listen, or closes it when the configuration has none.  An
 * address that stays keeps its socket across a reload; one that cannot be
 * bound leaves the metrics off with a warning, the daemon runs on.
 */
void
exporter_open(struct conf *c)
{
	const char	*addr = c->g.metrics_listen;

	if (exp_fd != -1 && strcmp(addr, exp_addr) == 0)
		return;
	exporter_close();
	if (addr[0] == '\0')
		return;
	if ((exp_fd = listen_socket(addr, EXPORTER_BACKLOG)) == -1) {
		log_warnx("metrics listener %s not available", addr);
		return;
	}
	ev_accept = event_new(master->base, exp_fd, EV_READ | EV_PERSIST,
	    exporter_accept, NULL);
	if (ev_accept == NULL || event_add(ev_accept, NULL) == -1)
		fatalx("cannot watch the metrics listener");
	strlcpy_(exp_addr, addr, sizeof(exp_addr));
	log_info("metrics on %s", addr);
}
