/*
 * Binding the listeners.  Only the master can: it stays root for this.
 * On reload a listener whose address is unchanged keeps its socket, so no
 * connection waiting in its queue is lost.  The metrics listener is bound
 * here too and goes to the workers with the others: the master never
 * accepts on any of them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define LISTEN_BACKLOG	4096
#define METRICS_BACKLOG	16

/* A listening TCP socket on addr (ADDRESS:PORT), or -1 with a warning. */
int
listen_socket(const char *addr, int backlog)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, on = 1;

	if (listen_parse(addr, &ss, &len) == -1) {
		log_warnx("invalid listen address %s", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket for %s", addr);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* The request head arrives with the first data, not before. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, backlog) == -1) {
		log_warn("cannot listen on %s", addr);
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_bind(struct listener *l)
{
	if ((l->fd = listen_socket(l->c.addr, LISTEN_BACKLOG)) == -1)
		return -1;
	log_info("listening on %s", l->c.addr);
	return 0;
}

static struct listener *
listen_find(struct conf *c, const char *addr, int metrics)
{
	struct listener	*l;

	if (c == NULL)
		return NULL;
	TAILQ_FOREACH(l, &c->listeners, entry)
		if (strcmp(l->c.addr, addr) == 0 && l->fd != -1 &&
		    l->c.metrics == metrics)
			return l;
	return NULL;
}

/*
 * A browser speaks first (a request head, or a TLS ClientHello), so the
 * kernel need not wake a worker for a connection until its first bytes
 * are there: accepting and reading the head then take one wake-up, not
 * two.  A connection that stays silent still reaches a worker after
 * about head-timeout, and is cut off there when the head-timeout runs out.
 */
static void
listen_defer(struct listener *l, int seconds)
{
	if (setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds,
	    sizeof(seconds)) == -1)
		log_warn("listener %s: TCP_DEFER_ACCEPT", l->c.addr);
}

/*
 * metrics-listen becomes the last listener of nc, marked as the metrics
 * one.  Unlike a console listener, one that cannot be bound fails
 * nothing: the daemon runs without metrics, with a warning.  It gets
 * neither socket option of the console listeners: a scrape is one small
 * answer, and a connection over the workers' bound is to be closed at
 * once, not kept by the kernel until it speaks.
 */
static void
listen_metrics(struct conf *nc, struct conf *old)
{
	const char	*addr = nc->g.metrics_listen;
	struct listener	*l, *o;

	if (addr[0] == '\0')
		return;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("metrics listener %s", addr);
		return;
	}
	l->c.id = -1;
	l->c.metrics = 1;
	strlcpy_(l->c.addr, addr, sizeof(l->c.addr));
	if ((o = listen_find(old, addr, 1)) != NULL)
		l->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	else if ((l->fd = listen_socket(addr, METRICS_BACKLOG)) != -1)
		log_info("metrics on %s", addr);
	if (l->fd == -1) {
		log_warnx("metrics listener %s not available", addr);
		free(l);
		return;
	}
	TAILQ_INSERT_TAIL(&nc->listeners, l, entry);
}

/* Opens nc's listeners, reusing old's sockets where the address stays. */
int
listen_open(struct conf *nc, struct conf *old)
{
	struct listener	*l, *o;

	TAILQ_FOREACH(l, &nc->listeners, entry) {
		if ((o = listen_find(old, l->c.addr, 0)) != NULL) {
			if ((l->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
				log_warn("dup listener %s", l->c.addr);
				return -1;
			}
		} else if (listen_bind(l) == -1) {
			log_warnx("reload failed: cannot listen on %s",
			    l->c.addr);
			return -1;
		}
		listen_defer(l, nc->g.head_timeout);
	}
	listen_metrics(nc, old);
	return 0;
}
