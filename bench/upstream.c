/*
 * benchup: a test upstream for make bench that behaves like a VNC server
 * as far as a relay can tell.  Each connection gets the 12-byte RFB 3.8
 * greeting at once; then the client may send one 16-byte request:
 *
 *	byte 0		'D' send COUNT bytes of the pattern (download)
 *			'S' read COUNT bytes, check them against the pattern,
 *			    then answer one byte: 'K' all matched, 'X' not
 *			'E' echo every byte that follows, until EOF
 *	bytes 1-7	zero
 *	bytes 8-15	COUNT, big-endian
 *
 * A connection that sends nothing stays open and idle, like a console no
 * one looks at.  The pattern is byte i = i mod 251: a prime period, so a
 * lost, repeated or misplaced byte anywhere shows.
 *
 *	benchup [-p port] [-n maxconns]
 *
 * It listens on 127.0.0.1 only and prints "benchup: listening on PORT"
 * when ready.  One thread, epoll, non-blocking sockets; every connection
 * has a fixed-size state and the count of connections has a bound.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"

#define GREETING	"RFB 003.008\n"
#define REQ_LEN		16
#define IOBUF		(256 * 1024)
#define MAXEVENTS	256

enum upstate {
	UP_GREET,		/* the greeting is not all sent yet */
	UP_REQUEST,		/* waiting for the 16-byte request */
	UP_DOWN,		/* sending the pattern */
	UP_SINK,		/* reading and checking the pattern */
	UP_ACK,			/* the sink's answer is not sent yet */
	UP_ECHO,		/* echoing */
	UP_DONE,		/* idle until the client goes */
};

struct upconn {
	int		 fd;
	enum upstate	 state;
	uint8_t		 req[REQ_LEN];
	size_t		 reqlen;
	size_t		 greeted;
	uint64_t	 count;		/* bytes to send or to read */
	uint64_t	 done;
	int		 bad;		/* the sink saw a wrong byte */
	uint8_t		*echo;		/* echo only: bytes read, not sent */
	size_t		 echolen;
};

static int		 ep;
static uint8_t		 iobuf[IOBUF];
static uint8_t		*pattern;	/* PATTERN_SPAN + PATTERN_PERIOD */
static struct upconn	**conns;	/* indexed by descriptor */
static int		 maxfd;

static void
usage(void)
{
	fprintf(stderr, "usage: benchup [-p port] [-n maxconns]\n");
	exit(2);
}

static void
up_watch(struct upconn *u, uint32_t events)
{
	struct epoll_event	ev = { .events = events, .data.fd = u->fd };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, u->fd, &ev) == -1)
		err(1, "epoll_ctl");
}

static void
up_close(struct upconn *u)
{
	close(u->fd);
	conns[u->fd] = NULL;
	free(u->echo);
	free(u);
}

/* Writes what it can; -1 when the connection must go. */
static ssize_t
up_send(struct upconn *u, const void *p, size_t n)
{
	ssize_t	w;

	w = send(u->fd, p, n, MSG_NOSIGNAL);
	if (w == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return w;
}

static int
up_greet(struct upconn *u)
{
	ssize_t	w;

	w = up_send(u, GREETING + u->greeted, 12 - u->greeted);
	if (w == -1)
		return -1;
	u->greeted += w;
	if (u->greeted < 12)
		return 0;
	u->state = UP_REQUEST;
	up_watch(u, EPOLLIN);
	return 0;
}

static int
up_start(struct upconn *u)
{
	int	i;

	for (u->count = 0, i = 8; i < REQ_LEN; i++)
		u->count = u->count << 8 | u->req[i];
	switch (u->req[0]) {
	case 'D':
		u->state = UP_DOWN;
		up_watch(u, EPOLLIN | EPOLLOUT);
		return 0;
	case 'S':
		u->state = u->count ? UP_SINK : UP_ACK;
		if (u->state == UP_ACK)
			up_watch(u, EPOLLIN | EPOLLOUT);
		return 0;
	case 'E':
		if ((u->echo = malloc(IOBUF)) == NULL)
			return -1;
		u->state = UP_ECHO;
		return 0;
	default:
		return -1;
	}
}

static int
up_down(struct upconn *u)
{
	size_t	off, n;
	ssize_t	w;

	while (u->done < u->count) {
		off = u->done % PATTERN_PERIOD;
		n = u->count - u->done;
		if (n > PATTERN_SPAN)
			n = PATTERN_SPAN;
		if ((w = up_send(u, pattern + off, n)) <= 0)
			return w;
		u->done += w;
	}
	u->state = UP_DONE;
	up_watch(u, EPOLLIN);
	return 0;
}

static int
up_sink(struct upconn *u, const uint8_t *p, size_t n)
{
	if (n > u->count - u->done)
		return -1;	/* more than was announced */
	if (!u->bad && !pattern_check(p, n, u->done))
		u->bad = 1;
	u->done += n;
	if (u->done == u->count) {
		u->state = UP_ACK;
		up_watch(u, EPOLLIN | EPOLLOUT);
	}
	return 0;
}

static int
up_ack(struct upconn *u)
{
	ssize_t	w;

	w = up_send(u, u->bad ? "X" : "K", 1);
	if (w == 1) {
		u->state = UP_DONE;
		up_watch(u, EPOLLIN);
	}
	return w == -1 ? -1 : 0;
}

/* Echo keeps at most IOBUF bytes in flight: it stops reading when full. */
static int
up_echo_flush(struct upconn *u)
{
	ssize_t	w;

	if (u->echolen == 0)
		return 0;
	if ((w = up_send(u, u->echo, u->echolen)) == -1)
		return -1;
	memmove(u->echo, u->echo + w, u->echolen - w);
	u->echolen -= w;
	up_watch(u, u->echolen ? EPOLLOUT : EPOLLIN);
	return 0;
}

static int
up_request(struct upconn *u, const uint8_t *p, size_t n)
{
	size_t	take = REQ_LEN - u->reqlen;

	if (take > n)
		take = n;
	memcpy(u->req + u->reqlen, p, take);
	u->reqlen += take;
	if (u->reqlen < REQ_LEN)
		return take == n ? 0 : -1;
	if (up_start(u) == -1)
		return -1;
	p += take;
	n -= take;
	if (n == 0)
		return 0;
	switch (u->state) {
	case UP_SINK:
		return up_sink(u, p, n);
	case UP_ECHO:
		memcpy(u->echo, p, n);
		u->echolen = n;
		return up_echo_flush(u);
	default:
		return -1;	/* nothing may follow these requests */
	}
}

static int
up_readable(struct upconn *u)
{
	ssize_t	r;
	size_t	room = IOBUF;

	if (u->state == UP_ECHO)
		room = IOBUF - u->echolen;
	r = recv(u->fd, u->state == UP_ECHO ? u->echo + u->echolen : iobuf,
	    room, 0);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0)
		return -1;
	switch (u->state) {
	case UP_REQUEST:
		return up_request(u, iobuf, r);
	case UP_SINK:
		return up_sink(u, iobuf, r);
	case UP_ECHO:
		u->echolen += r;
		return up_echo_flush(u);
	default:
		return -1;	/* the protocol has nothing more to say */
	}
}

static int
up_writable(struct upconn *u)
{
	switch (u->state) {
	case UP_GREET:
		return up_greet(u);
	case UP_DOWN:
		return up_down(u);
	case UP_ACK:
		return up_ack(u);
	case UP_ECHO:
		return up_echo_flush(u);
	default:
		return 0;
	}
}

static void
up_accept(int lfd)
{
	struct epoll_event	 ev;
	struct upconn		*u;
	int			 fd, on = 1, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		if (fd >= maxfd || (u = calloc(1, sizeof(*u))) == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		u->fd = fd;
		u->state = UP_GREET;
		conns[fd] = u;
		ev.events = EPOLLOUT;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			err(1, "epoll_ctl");
	}
}

static int
up_listen(int port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen on 127.0.0.1 port %d", port);
	printf("benchup: listening on %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

static void
up_event(struct epoll_event *e)
{
	struct upconn	*u = conns[e->data.fd];
	int		 rv = 0;

	if (u == NULL)
		return;
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rv = up_readable(u);
	if (rv == 0 && (e->events & EPOLLOUT) && conns[e->data.fd] == u)
		rv = up_writable(u);
	if (rv == -1)
		up_close(u);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[MAXEVENTS], ev;
	struct rlimit		 rl;
	int			 ch, port = 0, lfd, n, i;

	maxfd = 30000;
	while ((ch = getopt(argc, argv, "n:p:")) != -1) {
		switch (ch) {
		case 'n':
			maxfd = (int)strtol(optarg, NULL, 10) + 16;
			break;
		case 'p':
			port = (int)strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (argc != optind || port < 0 || port > 65535 || maxfd < 17)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((conns = calloc(maxfd, sizeof(*conns))) == NULL ||
	    (pattern = pattern_new()) == NULL)
		err(1, "calloc");
	lfd = up_listen(port);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		err(1, "epoll_ctl");
	for (;;) {
		if ((n = epoll_wait(ep, evs, MAXEVENTS, -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				up_accept(lfd);
			else
				up_event(&evs[i]);
		}
	}
}
