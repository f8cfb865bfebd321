/*
 * Upstream connections.  authd connects so that the workers never can: a
 * worker holds only the descriptors authd approved.  Connects are
 * non-blocking with a timeout, so a dead console never stalls a decision
 * for another.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd.h"
#include "log.h"
#include "proc.h"

static struct pendings	 connecting = TAILQ_HEAD_INITIALIZER(connecting);
static struct pendings	 unixwait = TAILQ_HEAD_INITIALIZER(unixwait);
static uint32_t		 unix_next;

/*
 * Connected: the time it took goes to the metrics, the socket to the
 * worker.  A Unix socket is one the master connected for us.
 */
static void
connect_ok(struct pending *p)
{
	measure_latency(LATENCY_CONNECT, p->unix_id ? "unix" : "tcp",
	    &p->connect_started);
	authd_reply(p, ERR_NONE);
}

static void
connect_done(struct pending *p, int error)
{
	TAILQ_REMOVE(&connecting, p, entry);
	event_free(p->ev);
	p->ev = NULL;
	if (error) {
		log_info("connect to %s failed: %s", p->resp.target,
		    error == ETIMEDOUT ? "timed out" : strerror(error));
		close(p->fd);
		p->fd = -1;
		authd_reply(p, ERR_CONNECTION_FAILED);
		return;
	}
	connect_ok(p);
}

static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p = arg;
	int		 error = 0;
	socklen_t	 len = sizeof(error);

	if (what & EV_TIMEOUT) {
		connect_done(p, ETIMEDOUT);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	connect_done(p, error);
}

/*
 * A console on this host has answered before connect(2) returned: the
 * handshake ran in the kernel within the call.  One getpeername(2) then
 * saves a write event to add, wait for and delete.  A connect that failed
 * as quickly is left to the event, which fetches its error.
 */
static int
connect_established(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

void
connect_start(struct pending *p, const struct sockaddr *sa, socklen_t salen,
    int timeout)
{
	struct timeval	 tv = { timeout, 0 };
	int		 on = 1;

	measure_start(&p->connect_started);
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1) {
		log_warn("socket");
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(p->fd, sa, salen) == 0) {
		connect_ok(p);
		return;
	}
	if (errno != EINPROGRESS && errno != EAGAIN) {
		log_info("connect to %s failed: %s", p->resp.target,
		    strerror(errno));
		close(p->fd);
		p->fd = -1;
		authd_reply(p, ERR_CONNECTION_FAILED);
		return;
	}
	if (connect_established(p->fd)) {
		connect_ok(p);
		return;
	}
	p->ev = event_new(ps->base, p->fd, EV_WRITE, connect_cb, p);
	if (p->ev == NULL) {
		close(p->fd);
		p->fd = -1;
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	TAILQ_INSERT_TAIL(&connecting, p, entry);
	event_add(p->ev, &tv);
}

/* The worker is gone: nobody will take these sockets. */
void
connect_cancel_worker(int worker)
{
	pendings_drop_worker(&connecting, worker);
	pendings_drop_worker(&unixwait, worker);
}

/*
 * A Unix-socket target lies outside authd's empty root.  The master,
 * which reads the configuration anyway, connects it by target name: it
 * connects only to sockets that the configuration names.
 */
void
connect_unix_start(struct pending *p, const char *target)
{
	char	 name[NAME_LEN];

	measure_start(&p->connect_started);
	p->unix_id = ++unix_next;
	strlcpy_(name, target, sizeof(name));
	if (ipc_send(ps->master, IMSG_CONNECT_UNIX, p->unix_id, -1, name,
	    sizeof(name)) == -1) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	TAILQ_INSERT_TAIL(&unixwait, p, entry);
}

int
connect_unix_done(struct ipc_msg *m)
{
	struct pending	*p;
	int		 error;

	if (ipc_get(m, &error, sizeof(error)) == -1)
		return -1;
	TAILQ_FOREACH(p, &unixwait, entry)
		if (p->unix_id == m->hdr.peerid)
			break;
	if (p == NULL) {
		/* Its worker went away meanwhile. */
		if (m->fd != -1)
			close(m->fd);
		m->fd = -1;
		return 0;
	}
	TAILQ_REMOVE(&unixwait, p, entry);
	if (error != 0 || m->fd == -1) {
		log_info("connect to %s failed: %s", p->resp.target,
		    strerror(error ? error : EBADF));
		authd_reply(p, ERR_CONNECTION_FAILED);
		return 0;
	}
	p->fd = m->fd;
	m->fd = -1;
	connect_ok(p);
	return 0;
}
