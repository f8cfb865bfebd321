/*
 * The control socket that vncrelayctl talks to.  One request per
 * connection: a line of words in, one JSON document out.  The socket is
 * mode 0660 and owned by root and control-group, so the file system keeps
 * everyone else out; the peer's credentials are checked again on accept
 * and logged with each command.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>

#include "log.h"
#include "master.h"

#define CTL_MAXLINE	1024
#define CTL_MAXCONNS	64
#define CTL_GATHER_SECONDS 3	/* for the workers' session lists */
#define CTL_GROUPS_MAX	65536	/* NGROUPS_MAX of Linux */

struct ctlconn {
	TAILQ_ENTRY(ctlconn)	 entry;
	struct bufferevent	*bev;
	uint32_t		 id;
	uid_t			 uid;
	int			 busy;		/* a command is under way */
	/* show sessions: the workers yet to answer, what they said */
	uint64_t		 waiting;
	json_t			*sessions;
	int			 truncated;
	struct event		*ev_gather;
	/* kill session: the worker yet to answer (-1: none), the session */
	int			 kill_worker;
	uint32_t		 kill_session;
};

static TAILQ_HEAD(, ctlconn) ctlconns = TAILQ_HEAD_INITIALIZER(ctlconns);
static struct event	*ev_accept;
static int		 ctl_fd = -1;
static uint32_t		 ctl_next;
static int		 ctl_nconns;
static char		 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static gid_t		 ctl_gid;
static int		 ctl_has_gid;	/* control-group was given */

static void
ctl_free(struct ctlconn *cc)
{
	TAILQ_REMOVE(&ctlconns, cc, entry);
	ctl_nconns--;
	bufferevent_free(cc->bev);
	if (cc->ev_gather)
		event_free(cc->ev_gather);
	json_decref(cc->sessions);
	free(cc);
}

static struct ctlconn *
ctl_find(uint32_t id)
{
	struct ctlconn	*cc;

	TAILQ_FOREACH(cc, &ctlconns, entry)
		if (cc->id == id)
			return cc;
	return NULL;
}

static void
ctl_flushed(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_free(arg);
}

/* Sends the answer and closes; takes the reference to j. */
static void
ctl_reply(struct ctlconn *cc, json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (s == NULL) {
		ctl_free(cc);
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(cc->bev), "%s\n", s);
	explicit_bzero(s, strlen(s));
	free(s);
	bufferevent_disable(cc->bev, EV_READ);
	bufferevent_setcb(cc->bev, NULL, ctl_flushed, NULL, cc);
}

static void
ctl_error(struct ctlconn *cc, const char *msg)
{
	ctl_reply(cc, json_pack("{s:s}", "error", msg));
}

static json_t *
ctl_summary(void)
{
	struct worker_stats	 sum;
	json_t			*procs, *hs;
	struct child		*ch;
	struct timeval		 now;
	int			 i, k;

	procs = json_array();
	json_array_append_new(procs, json_pack("{s:s,s:i,s:I}", "name",
	    "authd", "pid", (int)master->authd.pid, "restarts",
	    (json_int_t)master->authd.restarts));
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (ch->retiring && !child_alive(ch))
			continue;
		json_array_append_new(procs, json_pack("{s:s,s:i,s:I}", "name",
		    ch->name, "pid", (int)ch->pid, "restarts",
		    (json_int_t)ch->restarts));
	}
	metrics_summary(&sum);
	hs = json_object();
	for (k = 0; k < ERR_MAX; k++)
		json_object_set_new(hs, err_name(k),
		    json_integer(sum.handshakes[k]));
	gettimeofday(&now, NULL);
	return json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:o}",
	    "uptime", (json_int_t)(now.tv_sec - master->boot.tv_sec),
	    "processes", procs,
	    "connections", (json_int_t)sum.connections,
	    "sessions_active", (json_int_t)sum.sessions_active,
	    "sessions_total", (json_int_t)sum.sessions_total,
	    "bytes_in", (json_int_t)sum.bytes_in,
	    "bytes_out", (json_int_t)sum.bytes_out,
	    "handshakes", hs);
}

/*
 * A string from a worker as JSON: jansson takes UTF-8 only, and a target
 * decoded from a path may be anything else; such bytes show as "?".
 */
static json_t *
ctl_string(const char *s)
{
	char	 buf[HOST_LEN + PATTERN_LEN];
	json_t	*j;
	size_t	 i;

	if ((j = json_string(s)) != NULL)
		return j;
	strlcpy_(buf, s, sizeof(buf));
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] >= 0x80)
			buf[i] = '?';
	return json_string(buf);
}

static json_t *
ctl_session_json(struct child *ch, const struct session_info *si)
{
	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I}",
	    "id", (json_int_t)si->id, "worker", ch->name,
	    "client", ctl_string(si->client), "peer", ctl_string(si->peer),
	    "route", ctl_string(si->route), "target", ctl_string(si->target),
	    "user", ctl_string(si->user), "since", (json_int_t)si->since,
	    "bytes_in", (json_int_t)si->bytes_in,
	    "bytes_out", (json_int_t)si->bytes_out);
}

/* Every worker answered, or the time is up: who did not is named. */
static void
ctl_sessions_done(struct ctlconn *cc)
{
	json_t	*missing = json_array(), *list = cc->sessions;
	int	 i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (cc->waiting & (1ULL << i))
			json_array_append_new(missing,
			    json_string(master->workers[i].name));
	cc->sessions = NULL;
	cc->waiting = 0;
	evtimer_del(cc->ev_gather);
	ctl_reply(cc, json_pack("{s:o,s:I,s:b,s:o}", "sessions", list,
	    "count", (json_int_t)json_array_size(list), "truncated",
	    cc->truncated, "missing", missing));
}

/* The worker's answer to kill session, or -1 when there was none. */
static void
ctl_killed(struct ctlconn *cc, int found)
{
	json_int_t	 id = cc->kill_session;

	cc->kill_worker = -1;
	evtimer_del(cc->ev_gather);
	if (found == 1)
		ctl_reply(cc, json_pack("{s:I,s:s}", "session", id, "result",
		    "killed"));
	else if (found == 0)
		ctl_error(cc, "no such session");
	else
		ctl_error(cc, "the session's worker did not answer");
}

static void
ctl_gather_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctlconn	*cc = arg;

	(void)fd;
	(void)what;
	if (cc->kill_worker != -1)
		ctl_killed(cc, -1);
	else
		ctl_sessions_done(cc);
}

/*
 * show sessions: the master keeps no session table; it asks each live
 * worker, which answers in batches, and replies when all have answered
 * or after CTL_GATHER_SECONDS.
 */
static void
ctl_sessions(struct ctlconn *cc)
{
	struct child	*ch;
	int		 i;

	cc->sessions = json_array();
	if (cc->sessions == NULL || cc->ev_gather == NULL) {
		ctl_error(cc, "out of memory");
		return;
	}
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (child_alive(ch) && ch->ipc != NULL && ipc_send(ch->ipc,
		    IMSG_CTL_SESSIONS, cc->id, -1, NULL, 0) == 0)
			cc->waiting |= 1ULL << i;
	}
	if (cc->waiting == 0)
		ctl_sessions_done(cc);
	else
		evtimer_add(cc->ev_gather, (&(struct timeval){
		    CTL_GATHER_SECONDS, 0 }));
}

static int
session_info_ok(struct child *ch, const struct session_info *si)
{
#define S(x)	ipc_str_ok((x), sizeof(x))
	return (int)(si->id >> 24) == ch->id && S(si->client) && S(si->peer) &&
	    S(si->route) && S(si->target) && S(si->user);
#undef S
}

/* IMSG_SESSION_LIST: one batch of a worker's answer; -1 if malformed. */
int
control_session_list(struct child *ch, struct ipc_msg *m)
{
	static struct session_info	 si[SESSION_BATCH];
	struct session_list		 sl;
	struct ctlconn			*cc;
	uint32_t			 i;

	if (m->hdr.len < sizeof(sl))
		return -1;
	memcpy(&sl, m->data, sizeof(sl));
	if (sl.n > SESSION_BATCH || m->hdr.len != sizeof(sl) + sl.n *
	    sizeof(si[0]))
		return -1;
	memcpy(si, m->data + sizeof(sl), sl.n * sizeof(si[0]));
	for (i = 0; i < sl.n; i++)
		if (!session_info_ok(ch, &si[i]))
			return -1;
	/* An answer after the time was up finds nobody waiting. */
	if ((cc = ctl_find(m->hdr.peerid)) == NULL || cc->sessions == NULL ||
	    !(cc->waiting & (1ULL << ch->id)))
		return 0;
	for (i = 0; i < sl.n; i++) {
		if (json_array_size(cc->sessions) >= SESSION_LIST_MAX) {
			cc->truncated = 1;
			break;
		}
		json_array_append_new(cc->sessions, ctl_session_json(ch,
		    &si[i]));
	}
	cc->truncated |= sl.truncated != 0;
	if (sl.last) {
		cc->waiting &= ~(1ULL << ch->id);
		if (cc->waiting == 0)
			ctl_sessions_done(cc);
	}
	return 0;
}

/* IMSG_CTL_KILLED; -1 if malformed. */
int
control_killed(struct child *ch, struct ipc_msg *m)
{
	struct kill_result	 kr;
	struct ctlconn		*cc;

	if (m->hdr.len != sizeof(kr))
		return -1;
	memcpy(&kr, m->data, sizeof(kr));
	if ((int)(kr.session >> 24) != ch->id || (kr.found != 0 &&
	    kr.found != 1))
		return -1;
	/* An answer after the time was up finds nobody waiting. */
	if ((cc = ctl_find(m->hdr.peerid)) == NULL || cc->kill_worker !=
	    ch->id || cc->kill_session != kr.session)
		return 0;
	ctl_killed(cc, kr.found);
	return 0;
}

/* A worker that died answers no more. */
void
control_child_gone(struct child *ch)
{
	struct ctlconn	*cc, *next;

	if (ch->type != PROC_WORKER)
		return;
	for (cc = TAILQ_FIRST(&ctlconns); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, entry);
		if (cc->kill_worker == ch->id) {
			ctl_killed(cc, -1);
			continue;
		}
		if (cc->sessions == NULL || !(cc->waiting & (1ULL << ch->id)))
			continue;
		cc->waiting &= ~(1ULL << ch->id);
		if (cc->waiting == 0)
			ctl_sessions_done(cc);
	}
}

static json_t *
ctl_targets(void)
{
	struct target	*t;
	json_t		*a = json_array();

	TAILQ_FOREACH(t, &master->conf->targets, entry)
		json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:s,s:s}",
		    "name", t->c.name, "host", t->c.host, "port", t->c.port,
		    "socket", t->c.socket, "type", t->c.type));
	return json_pack("{s:o}", "targets", a);
}

static void
ctl_verbose(struct ctlconn *cc, int v)
{
	int	 i;

	log_setverbose(v);
	master->verbose = v;
	if (child_alive(&master->authd))
		ipc_send(master->authd.ipc, IMSG_CTL_VERBOSE, 0, -1, &v,
		    sizeof(v));
	for (i = 0; i < master->nworkers; i++)
		if (child_alive(&master->workers[i]))
			ipc_send(master->workers[i].ipc, IMSG_CTL_VERBOSE, 0, -1,
			    &v, sizeof(v));
	ctl_reply(cc, json_pack("{s:s}", "log", v ? "verbose" : "brief"));
}

/*
 * kill session: the session's id names its worker, which answers whether
 * it had the session; the reply waits for that, CTL_GATHER_SECONDS at
 * most.
 */
static void
ctl_kill(struct ctlconn *cc, const char *arg)
{
	struct child	*ch;
	char		*end;
	unsigned long	 id = strtoul(arg, &end, 10);
	uint32_t	 sid = (uint32_t)id;
	int		 w = (int)(id >> 24);

	if (*arg < '0' || *arg > '9' || *end != '\0' || id > UINT32_MAX ||
	    w >= master->nworkers) {
		ctl_error(cc, "no such session");
		return;
	}
	ch = &master->workers[w];
	if (!child_alive(ch) || ch->ipc == NULL || ipc_send(ch->ipc,
	    IMSG_CTL_KILL, cc->id, -1, &sid, sizeof(sid)) == -1) {
		ctl_error(cc, "no such session");
		return;
	}
	cc->kill_worker = w;
	cc->kill_session = sid;
	evtimer_add(cc->ev_gather, (&(struct timeval){ CTL_GATHER_SECONDS,
	    0 }));
}

/* A TTL: 1 to 9 decimal digits, more than zero. */
static int
ctl_seconds(const char *s, int32_t *out)
{
	size_t	 n = strspn(s, "0123456789");

	if (n == 0 || n > 9 || s[n] != '\0' || atoi(s) == 0)
		return -1;
	*out = atoi(s);
	return 0;
}

static void
ctl_token(struct ctlconn *cc, char **av, int ac)
{
	struct ctl_token	 ct;
	int			 i;

	memset(&ct, 0, sizeof(ct));
	if (ac < 2 || !child_alive(&master->authd)) {
		ctl_error(cc, ac < 2 ? "usage: token TARGET [-t ttl] [-u user]" :
		    "authd is not running");
		return;
	}
	/* Nothing is cut short or guessed: a bad word is an error. */
	if (strlcpy_(ct.target, av[1], sizeof(ct.target)) >=
	    sizeof(ct.target)) {
		ctl_error(cc, "target name too long");
		return;
	}
	for (i = 2; i + 1 < ac; i += 2) {
		if (strcmp(av[i], "-t") == 0 && ctl_seconds(av[i + 1],
		    &ct.ttl) == 0)
			continue;
		if (strcmp(av[i], "-u") == 0 && strlcpy_(ct.user, av[i + 1],
		    sizeof(ct.user)) < sizeof(ct.user))
			continue;
		break;
	}
	if (i != ac) {
		ctl_error(cc, "usage: token TARGET [-t seconds] [-u user]");
		return;
	}
	ct.id = cc->id;
	ipc_send(master->authd.ipc, IMSG_CTL_TOKEN, 0, -1, &ct, sizeof(ct));
}

static void
ctl_command(struct ctlconn *cc, char *line)
{
	char	*av[16], *save, *w;
	int	 ac = 0;

	for (w = strtok_r(line, " \t", &save); w && ac < 16;
	    w = strtok_r(NULL, " \t", &save))
		av[ac++] = w;
	if (ac == 0) {
		ctl_error(cc, "empty command");
		return;
	}
	log_info("control: uid=%u command=%s%s%s", (unsigned)cc->uid, av[0],
	    ac > 1 ? " " : "", ac > 1 ? av[1] : "");
	if (ac == 2 && strcmp(av[0], "show") == 0 &&
	    strcmp(av[1], "summary") == 0)
		ctl_reply(cc, ctl_summary());
	else if (ac == 2 && strcmp(av[0], "show") == 0 &&
	    strcmp(av[1], "sessions") == 0)
		ctl_sessions(cc);
	else if (ac == 2 && strcmp(av[0], "show") == 0 &&
	    strcmp(av[1], "targets") == 0)
		ctl_reply(cc, ctl_targets());
	else if (ac == 1 && strcmp(av[0], "reload") == 0) {
		kill(getpid(), SIGHUP);
		ctl_reply(cc, json_pack("{s:s}", "result", "reload requested"));
	} else if (ac == 2 && strcmp(av[0], "log") == 0 &&
	    (strcmp(av[1], "verbose") == 0 || strcmp(av[1], "brief") == 0))
		ctl_verbose(cc, strcmp(av[1], "verbose") == 0 ? 2 : 0);
	else if (ac == 3 && strcmp(av[0], "kill") == 0 &&
	    strcmp(av[1], "session") == 0)
		ctl_kill(cc, av[2]);
	else if (ac >= 1 && strcmp(av[0], "token") == 0)
		ctl_token(cc, av, ac);
	else
		ctl_error(cc, "unknown command");
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctlconn	*cc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 n;

	/* One command a connection: what follows it is not read. */
	if (cc->busy) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CTL_MAXLINE)
			ctl_error(cc, "command too long");
		return;
	}
	cc->busy = 1;
	if (n > CTL_MAXLINE)
		ctl_error(cc, "command too long");
	else
		ctl_command(cc, line);
	free(line);
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		ctl_free(arg);
}

/* Whether gid is among the peer's groups, as they were at connect(2). */
static int
ctl_peer_in_group(int s, gid_t gid)
{
	gid_t		 some[64], *g = some;
	socklen_t	 len = sizeof(some);
	size_t		 i, n;
	int		 found = 0;

	if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &len) == -1) {
		if (errno != ERANGE || len > CTL_GROUPS_MAX * sizeof(gid_t) ||
		    (g = malloc(len)) == NULL)
			return 0;
		if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &len) == -1)
			len = 0;
	}
	n = len / sizeof(gid_t);
	for (i = 0; i < n && !found; i++)
		found = g[i] == gid;
	if (g != some)
		free(g);
	return found;
}

/*
 * The socket's mode keeps out whoever is not root or in control-group;
 * the peer's credentials say the same again, so a socket whose mode was
 * loosened, or whose descriptor was passed on, still serves them alone.
 */
static int
ctl_peer_allowed(int s, const struct ucred *cred)
{
	if (cred->uid == 0 || cred->uid == geteuid())
		return 1;
	return ctl_has_gid && (cred->gid == ctl_gid ||
	    ctl_peer_in_group(s, ctl_gid));
}

static void
ctl_refuse(int s, const struct ucred *cred)
{
	static const char	 msg[] = "{\"error\": \"permission denied: "
	    "not root and not in control-group\"}\n";

	log_warnx("control: refused uid=%u gid=%u pid=%d: not root and not "
	    "in control-group", (unsigned)cred->uid, (unsigned)cred->gid,
	    (int)cred->pid);
	/* The socket is new and its buffer empty: this goes out at once. */
	if (write(s, msg, sizeof(msg) - 1) == -1)
		log_debug("control: refusal not sent: %s", strerror(errno));
	close(s);
}

static void
ctl_accept(evutil_socket_t fd, short what, void *arg)
{
	struct ctlconn	*cc;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 s;

	(void)what;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (ctl_nconns >= CTL_MAXCONNS) {
		log_warnx("control: too many connections");
		close(s);
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(s);
		return;
	}
	if (!ctl_peer_allowed(s, &cred)) {
		ctl_refuse(s, &cred);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		close(s);
		return;
	}
	cc->uid = cred.uid;
	cc->id = ++ctl_next;
	cc->kill_worker = -1;
	cc->bev = bufferevent_socket_new(master->base, s, BEV_OPT_CLOSE_ON_FREE);
	cc->ev_gather = evtimer_new(master->base, ctl_gather_timeout, cc);
	if (cc->bev == NULL || cc->ev_gather == NULL) {
		if (cc->bev != NULL)
			bufferevent_free(cc->bev);
		else
			close(s);
		if (cc->ev_gather != NULL)
			event_free(cc->ev_gather);
		free(cc);
		return;
	}
	TAILQ_INSERT_TAIL(&ctlconns, cc, entry);
	ctl_nconns++;
	bufferevent_setcb(cc->bev, ctl_read, NULL, ctl_event, cc);
	bufferevent_set_timeouts(cc->bev, (&(struct timeval){ 10, 0 }), NULL);
	bufferevent_enable(cc->bev, EV_READ);
}

/*
 * A console URL for a fresh token: the first listener (TLS preferred),
 * the first route whose pattern names a target, and the token in the
 * fragment, where it stays out of every server's logs.
 */
static int
control_url(const char *target, const char *token, char *url, size_t len)
{
	struct listener	*l, *best = NULL;
	struct route	*r;
	char		 path[PATTERN_LEN + HOST_LEN], host[ADDR_LEN];
	const char	*ph;

	TAILQ_FOREACH(l, &master->conf->listeners, entry)
		if (!l->c.metrics && (best == NULL || (l->c.tls &&
		    !best->c.tls)))
			best = l;
	TAILQ_FOREACH(r, &master->conf->routes, entry)
		if (strstr(r->c.pattern, "{name}") && r->c.backend == BACKEND_TCP)
			break;
	if (best == NULL || r == NULL)
		return -1;
	ph = strstr(r->c.pattern, "{name}");
	if ((size_t)snprintf(path, sizeof(path), "%.*s%s%s",
	    (int)(ph - r->c.pattern - 1), r->c.pattern + 1, target, ph + 6) >=
	    sizeof(path))
		return -1;
	strlcpy_(host, best->c.addr, sizeof(host));
	if (strncmp(host, "*:", 2) == 0 || strncmp(host, "0.0.0.0:", 8) == 0) {
		char	 hn[128];

		gethostname(hn, sizeof(hn));
		hn[sizeof(hn) - 1] = '\0';
		snprintf(host, sizeof(host), "%s%s", hn, strchr(best->c.addr,
		    ':'));
	}
	/* The page connects to /path on its origin: the prefix goes in too. */
	snprintf(url, len, "%s://%s%s/console.html?path=%s%s%s&name=%s#token=%s",
	    best->c.tls ? "https" : "http", host, master->conf->g.path_prefix,
	    master->conf->g.path_prefix[0] ? master->conf->g.path_prefix + 1 :
	    "", master->conf->g.path_prefix[0] ? "/" : "", path, target, token);
	return 0;
}

/* authd answered a token request: find who asked. */
void
control_token_reply(struct ctl_token *ct)
{
	struct ctlconn	*cc;
	json_t		*j;
	char		 url[TOKEN_MAXLEN + 1024];

	if ((cc = ctl_find(ct->id)) == NULL)
		return;
	if (ct->code != ERR_NONE) {
		ctl_error(cc, err_name(ct->code));
		return;
	}
	j = json_pack("{s:s,s:s,s:I}", "target", ct->target, "token",
	    ct->token, "expires", (json_int_t)ct->expires);
	if (control_url(ct->target, ct->token, url, sizeof(url)) == 0)
		json_object_set_new(j, "url", json_string(url));
	explicit_bzero(url, sizeof(url));
	ctl_reply(cc, j);
}

int
control_open(struct conf *c)
{
	struct sockaddr_un	 sun;
	struct group		*gr = NULL;
	mode_t			 old;

	if (c->g.control_socket[0] == '\0')
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy_(sun.sun_path, c->g.control_socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("control socket path too long");
		return -1;
	}
	if (c->g.control_group[0] && (gr = getgrnam(c->g.control_group)) ==
	    NULL) {
		log_warnx("control-group %s does not exist", c->g.control_group);
		return -1;
	}
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd == -1)
		return -1;
	unlink(sun.sun_path);
	old = umask(0117);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("control socket %s", sun.sun_path);
		close(ctl_fd);
		return -1;
	}
	umask(old);
	if (chmod(sun.sun_path, gr ? 0660 : 0600) == -1 ||
	    (gr && chown(sun.sun_path, 0, gr->gr_gid) == -1) ||
	    listen(ctl_fd, 16) == -1) {
		log_warn("control socket %s", sun.sun_path);
		close(ctl_fd);
		return -1;
	}
	strlcpy_(ctl_path, sun.sun_path, sizeof(ctl_path));
	ctl_has_gid = gr != NULL;
	ctl_gid = gr ? gr->gr_gid : 0;
	ev_accept = event_new(master->base, ctl_fd, EV_READ | EV_PERSIST,
	    ctl_accept, NULL);
	event_add(ev_accept, NULL);
	log_info("control socket %s", ctl_path);
	return 0;
}

void
control_close(void)
{
	if (ctl_fd == -1)
		return;
	event_free(ev_accept);
	close(ctl_fd);
	unlink(ctl_path);
	ctl_fd = -1;
}
