/*
 * Bulk reads for the relay on plain sockets.
 *
 * libevent 2.1 reads at most 4096 bytes each time a socket is readable
 * (EVBUFFER_MAX_READ; 2.2 lets it be set, 2.1 does not), whatever
 * bufferevent_set_max_single_read says.  A console's full-screen update
 * then costs a read, a frame, a write and their wake-ups per 4 KiB.  So,
 * once libevent has read its 4 KiB, the relay takes what else the socket
 * holds with one more recvmsg into the input buffer's own free space.
 * EOF and errors are left for libevent to see on its next read, since
 * the socket stays readable.  TLS bufferevents read records of their own
 * and are left alone: their descriptor carries ciphertext.
 *
 * Upstream bytes bound for a plain browser socket with nothing queued go
 * out at once, frame header and payload in one writev from where libevent
 * read them: no copy, no write event to add and delete, no loop iteration
 * between a console's answer and the browser.  Browser payload, unmasked
 * where it was read, goes to a plain console socket the same way, in one
 * writev that steps over the frame headers between.  What a socket does
 * not take is queued behind as usual.  A TLS browser socket with nothing
 * queued gets the frame encrypted at once (tls_write).
 *
 * A plain console's bulk for a plain browser socket in binary mode with
 * nothing queued need not enter user space at all.  What the console's
 * socket holds beyond libevent's 4 KiB is spliced into the worker's pipe;
 * one frame header for all of it goes out with libevent's 4 KiB in a
 * sendmsg with MSG_MORE, and the rest is spliced from the pipe into the
 * browser's socket: two copies of every byte fewer.  What that socket
 * does not take is queued in order, the rest of the pipe read into the
 * output, so the pipe is empty whenever no callback runs.  So one pipe,
 * made before the sandbox is entered, serves all the worker's sessions,
 * and a ping or close frame can never land inside a frame.  EOF and
 * errors on the console are left for libevent's next read, and on the
 * browser for its next write.  This relies on the sockets being
 * non-blocking, as authd, the master and libevent's listener make them:
 * splice(2) waits on a blocking socket whatever its flags say.  Without
 * a pipe, the relay copies.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "log.h"
#include "worker.h"

#define FILL_IOV	2
#define WRITE_IOV	16
#define SPAN_IOV	64
#define SPLICE_ROUNDS	4	/* pipefuls one callback may splice */

static int	relay_span_iov(const struct ws_spans *,
		    const struct evbuffer_iovec *, int, struct iovec *, int);

/*
 * Reads up to want bytes from fd into the end of b, in its own free space;
 * returns how many, or -1 on EOF or an error.
 */
static ssize_t
relay_read(struct evbuffer *b, int fd, size_t want)
{
	struct evbuffer_iovec	 v[FILL_IOV];
	struct iovec		 iov[FILL_IOV];
	ssize_t			 r;
	size_t			 left;
	int			 n, i;

	if ((n = evbuffer_reserve_space(b, want, v, FILL_IOV)) <= 0)
		return -1;
	/* The space reserved may be larger: read no more than asked. */
	for (left = want, i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	if ((r = readv(fd, iov, n)) <= 0)
		n = 0;
	for (left = r > 0 ? r : 0, i = 0; i < n; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(b, v, n);
	return r > 0 ? r : -1;
}

/* Reads up to want more bytes into bev's input; returns how many. */
size_t
relay_fill(struct bufferevent *bev, size_t want)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	ssize_t			 r;
	int			 fd;

	if (want < RELAY_LIBEVENT_READ ||
	    bufferevent_openssl_get_ssl(bev) != NULL ||
	    (fd = bufferevent_getfd(bev)) == -1)
		return 0;
	/* The bufferevent keeps its input's end frozen between reads. */
	evbuffer_unfreeze(in, 0);
	r = relay_read(in, fd, want);
	evbuffer_freeze(in, 0);
	return r > 0 ? r : 0;
}

/* Queues hl bytes of h, then n bytes of src, on out. */
static int
relay_queue(struct evbuffer *out, const uint8_t *h, size_t hl,
    struct evbuffer *src, size_t n)
{
	if (hl > 0 && evbuffer_add(out, h, hl) == -1)
		return -1;
	if (n > 0 && evbuffer_remove_buffer(src, out, n) != (int)n)
		return -1;
	return 0;
}

/*
 * Sends hl bytes of h, then n bytes of src (none: src may be NULL), to
 * bev: on a plain socket with nothing queued, in one sendmsg with flags;
 * on a TLS connection, encrypted at once when it may (tls_write).  What
 * does not go out now is queued, all of it on an error, which libevent
 * sees when it writes.  -1 when that fails for want of memory, perhaps
 * with part of it sent: the stream is cut, and the connection must end
 * without another byte.
 */
static int
relay_sendv(struct bufferevent *bev, const uint8_t *h, size_t hl,
    struct evbuffer *src, size_t n, int flags)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[WRITE_IOV];
	struct iovec		 iov[WRITE_IOV + 1];
	struct msghdr		 msg;
	size_t			 cover = 0;
	ssize_t			 w;
	int			 fd, nv, i, r, k = 0;

	if (n + hl == 0)
		return 0;
	if (bufferevent_openssl_get_ssl(bev) != NULL) {
		/* tls_write: 0 sent, -1 not taken, -2 cut. */
		if (n > 0 && (r = tls_write(bev, h, hl, src, n)) != -1)
			return r == 0 ? 0 : -1;
		return relay_queue(out, h, hl, src, n);
	}
	if (evbuffer_get_length(out) != 0 ||
	    (fd = bufferevent_getfd(bev)) == -1)
		return relay_queue(out, h, hl, src, n);
	if (hl > 0) {
		iov[k].iov_base = (void *)h;
		iov[k++].iov_len = hl;
	}
	nv = n > 0 ? evbuffer_peek(src, n, NULL, v, WRITE_IOV) : 0;
	for (i = 0; i < nv && i < WRITE_IOV && cover < n; i++, k++) {
		iov[k].iov_base = v[i].iov_base;
		iov[k].iov_len = v[i].iov_len < n - cover ?
		    v[i].iov_len : n - cover;
		cover += iov[k].iov_len;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = k;
	if ((w = sendmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL)) ==
	    -1)
		w = 0;
	if ((size_t)w < hl)
		return relay_queue(out, h + w, hl - w, src, n);
	if ((w -= hl) > 0)
		evbuffer_drain(src, w);
	/* The rest of the payload, queued after its header. */
	return relay_queue(out, NULL, 0, src, n - w);
}

int
relay_writev(struct bufferevent *bev, const uint8_t *h, size_t hl,
    struct evbuffer *src, size_t n)
{
	return relay_sendv(bev, h, hl, src, n, 0);
}

/* Sends n bytes of src to bev's socket as one binary frame. */
int
relay_write_frame(struct bufferevent *bev, struct evbuffer *src, size_t n)
{
	uint8_t	h[WS_HEADER_MAX];

	return relay_writev(bev, h, ws_header(h, WS_OP_BINARY, 1, n, NULL),
	    src, n);
}

/*
 * Sends all of src to bev's socket as it is, straight or queued; returns
 * how many bytes that was, or -1 (relay_sendv).
 */
ssize_t
relay_send(struct bufferevent *bev, struct evbuffer *src)
{
	size_t	n = evbuffer_get_length(src);

	if (relay_writev(bev, NULL, 0, src, n) == -1) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return -1;
	}
	return n;
}

/*
 * Sends the payload that sp describes in `in` to bev's plain socket in one
 * writev when nothing is queued there, and queues what the socket does not
 * take.  Either way, the payload and the headers around it leave `in`.
 */
int
relay_send_spans(struct bufferevent *bev, struct evbuffer *in,
    const struct ws_spans *sp)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[SPAN_IOV];
	struct iovec		 iov[SPAN_IOV];
	ssize_t			 w = 0;
	int			 fd, nv, k;

	if (sp->n == 0)
		return 0;
	if (evbuffer_get_length(out) == 0 &&
	    bufferevent_openssl_get_ssl(bev) == NULL &&
	    (fd = bufferevent_getfd(bev)) != -1) {
		nv = evbuffer_peek(in, sp->end, NULL, v, SPAN_IOV);
		k = relay_span_iov(sp, v, nv < SPAN_IOV ? nv : SPAN_IOV, iov,
		    SPAN_IOV);
		/* On an error all is queued, and libevent will see it. */
		if ((w = writev(fd, iov, k)) == -1)
			w = 0;
	}
	return ws_spans_take(sp, in, w, out);
}

/*
 * The iovecs for as much of sp's payload as max of them cover, in order,
 * from the nv extents that hold `in`; returns how many.
 */
static int
relay_span_iov(const struct ws_spans *sp, const struct evbuffer_iovec *v,
    int nv, struct iovec *iov, int max)
{
	size_t	base = 0, lo, hi, top, from;
	int	i, j = 0, k = 0;

	for (i = 0; i < sp->n && k < max; i++) {
		lo = sp->span[i].off;
		hi = lo + sp->span[i].len;
		for (; j < nv && k < max; base = top, j++) {
			top = base + v[j].iov_len;
			if (top <= lo)
				continue;
			from = lo > base ? lo : base;
			iov[k].iov_base = (uint8_t *)v[j].iov_base +
			    (from - base);
			iov[k++].iov_len = (top < hi ? top : hi) - from;
			/*
			 * Stay on this extent: the next span may begin in
			 * it (and one that ends here adds no empty iovec).
			 */
			if (top >= hi)
				break;
		}
	}
	return k;
}

/*
 * The worker's one pipe for splice(2), empty whenever no callback runs;
 * -1 when there is none and the relay copies.
 */
static int	splice_fd[2] = { -1, -1 };
static size_t	splice_cap;	/* /proc/sys/fs/pipe-max-size, 0: unknown */
static size_t	splice_size;	/* what the pipe holds at most */
static size_t	splice_want;	/* buffer-size, bounded by splice_cap */

/* The pipe's size: splice_want when the kernel grants it. */
static void
relay_pipe_size(void)
{
	int	 sz;

	if (splice_want > 0 && fcntl(splice_fd[0], F_SETPIPE_SZ,
	    (int)splice_want) == -1)
		log_debug("splice: pipe size %zu: %s", splice_want,
		    strerror(errno));
	sz = fcntl(splice_fd[0], F_GETPIPE_SZ);
	splice_size = sz > 0 ? sz : 0;
}

static int
relay_pipe_open(void)
{
	if (pipe2(splice_fd, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("splice: no pipe, the relay copies");
		splice_fd[0] = splice_fd[1] = -1;
		return -1;
	}
	relay_pipe_size();
	return 0;
}

/*
 * The pipe is made before the sandbox is entered, where the kernel's
 * bound on its size can still be read.
 */
void
relay_splice_init(void)
{
	FILE		*f;
	unsigned long	 cap;

	if ((f = fopen("/proc/sys/fs/pipe-max-size", "r")) != NULL) {
		if (fscanf(f, "%lu", &cap) == 1)
			splice_cap = cap;
		fclose(f);
	}
	relay_pipe_open();
}

/* A configuration's buffer-size, as far as the kernel lets the pipe hold. */
void
relay_splice_configure(size_t bound)
{
	splice_want = splice_cap > 0 && bound > splice_cap ? splice_cap : bound;
	if (splice_fd[0] != -1)
		relay_pipe_size();
}

int
relay_splice_ok(void)
{
	return splice_fd[0] != -1 && splice_size > 0;
}

/*
 * A pipe that could not be emptied would hand its bytes to the next
 * session: it is replaced.
 */
static void
relay_pipe_reopen(void)
{
	close(splice_fd[0]);
	close(splice_fd[1]);
	relay_pipe_open();
}

/* The n bytes left in the pipe go to the end of out. */
static int
relay_pipe_drain(struct evbuffer *out, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = relay_read(out, splice_fd[0], n)) == -1) {
			log_warnx("splice: cannot empty the pipe");
			return -1;
		}
		n -= r;
	}
	return 0;
}

/*
 * Frames the bytes waiting in src's input and what its socket holds for
 * dst's plain socket, which has nothing queued.  The socket's bytes move
 * through the pipe without a copy: splice(2) into it, their frame header
 * (with the waiting bytes) in a sendmsg that says more is coming,
 * splice(2) out of it.  What dst's socket does not take is queued in
 * order, the pipe's rest read into the output, and never more than bound
 * in all.  While dst's socket takes everything and src's fills the pipe,
 * this goes on for up to SPLICE_ROUNDS times bound: bytes that do not
 * stay in the worker need not wait for another wake-up, but a flood
 * should not keep the worker from its other sessions.  Returns the bytes
 * framed and adds to *direct those spliced into dst's socket; -1 when the
 * pipe failed, and the session's stream is broken.
 */
ssize_t
relay_splice(struct bufferevent *src, struct bufferevent *dst, size_t bound,
    uint64_t *direct)
{
	struct evbuffer	*in = bufferevent_get_input(src);
	struct evbuffer	*out = bufferevent_get_output(dst);
	uint8_t		 h[WS_HEADER_MAX];
	size_t		 m = evbuffer_get_length(in), m0 = m, hl, ask;
	size_t		 moved = 0, want = SPLICE_ROUNDS * bound;
	ssize_t		 n, w;
	int		 sfd = bufferevent_getfd(src);
	int		 dfd = bufferevent_getfd(dst);

	do {
		/* What the browser does not take is queued: within bound. */
		ask = bound - m < splice_size ? bound - m : splice_size;
		if (ask > want - moved)
			ask = want - moved;
		/* EOF and errors are left for libevent's next read. */
		if ((n = splice(sfd, NULL, splice_fd[1], NULL, ask,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE)) <= 0)
			n = 0;
		if (m + n == 0)
			break;
		hl = ws_header(h, WS_OP_BINARY, 1, m + n, NULL);
		if (relay_sendv(dst, h, hl, in, m, n > 0 ? MSG_MORE : 0) == -1)
			goto fail;
		m = 0;
		moved += n;
		w = 0;
		if (n > 0 && evbuffer_get_length(out) == 0 &&
		    (w = splice(splice_fd[0], NULL, dfd, NULL, n,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE)) == -1)
			w = 0;
		*direct += w;
		if (w < n && relay_pipe_drain(out, n - w) == -1)
			goto fail;
	} while ((size_t)n == ask && moved < want &&
	    evbuffer_get_length(out) == 0);
	return m0 + moved;
fail:
	if (n > 0)
		relay_pipe_reopen();
	return -1;
}
