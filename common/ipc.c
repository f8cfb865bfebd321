/*
 * IPC between the master, authd and the workers.  Sending tries the
 * socket first and queues only what the peer cannot take now, so the
 * common case costs one sendmsg(2).  Receiving takes one packet at a time
 * and refuses anything truncated: a short or long packet is an error of
 * the peer, which the caller ends.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

static void	ipc_readcb(evutil_socket_t, short, void *);
static void	ipc_writecb(evutil_socket_t, short, void *);

int
ipc_socketpair(int sv[2])
{
	int	 bufsz = 1024 * 1024;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	/* Larger buffers let a burst of configuration messages pass at once. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	return 0;
}

struct ipc *
ipc_new(struct event_base *base, int fd, int peer, ipc_dispatch_cb dispatch,
    ipc_closed_cb closed, void *arg)
{
	struct ipc	*ipc;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		return NULL;
	if ((ipc->rbuf = malloc(IPC_MAXPAYLOAD)) == NULL) {
		free(ipc);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ipc->fd = fd;
	ipc->peer = peer;
	ipc->dispatch = dispatch;
	ipc->closed = closed;
	ipc->arg = arg;
	TAILQ_INIT(&ipc->outq);
	ipc->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ipc_readcb, ipc);
	ipc->ev_write = event_new(base, fd, EV_WRITE, ipc_writecb, ipc);
	if (ipc->ev_read == NULL || ipc->ev_write == NULL) {
		ipc_free(ipc);
		return NULL;
	}
	event_add(ipc->ev_read, NULL);
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	struct ipc_out	*out;

	if (ipc == NULL)
		return;
	while ((out = TAILQ_FIRST(&ipc->outq)) != NULL) {
		TAILQ_REMOVE(&ipc->outq, out, entry);
		if (out->fd != -1)
			close(out->fd);
		explicit_bzero(out->buf, out->len);
		free(out);
	}
	if (ipc->ev_read)
		event_free(ipc->ev_read);
	if (ipc->ev_write)
		event_free(ipc->ev_write);
	close(ipc->fd);
	free(ipc->rbuf);
	free(ipc);
}

/*
 * Sends one prepared packet, header included, with fd unless it is -1;
 * returns 1 when sent, 0 on EAGAIN, -1 on error.  The descriptor stays
 * the caller's.
 */
int
ipc_sendpkt(int sock, const void *buf, size_t len, int fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (errno == EAGAIN || errno == ENOBUFS) ? 0 : -1;
	return 1;
}

static int
ipc_pack(uint8_t *pkt, uint32_t type, uint32_t peerid, const void *a,
    size_t alen, const void *b, size_t blen)
{
	struct ipc_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = alen + blen;
	hdr.peerid = peerid;
	memcpy(pkt, &hdr, sizeof(hdr));
	if (alen)
		memcpy(pkt + sizeof(hdr), a, alen);
	if (blen)
		memcpy(pkt + sizeof(hdr) + alen, b, blen);
	return 0;
}

/*
 * Sends a message of two parts (a fixed structure and a variable tail).
 * The descriptor, if any, is closed here once sent: ownership passes.
 */
int
ipc_sendv(struct ipc *ipc, uint32_t type, uint32_t peerid, int fd,
    const void *a, size_t alen, const void *b, size_t blen)
{
	struct ipc_out	*out;
	size_t		 len = sizeof(struct ipc_hdr) + alen + blen;
	int		 rv;

	if (alen + blen > IPC_MAXPAYLOAD) {
		if (fd != -1)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	if (ipc->queued + len > IPC_MAXQUEUE) {
		if (fd != -1)
			close(fd);
		errno = ENOBUFS;
		return -1;
	}
	if ((out = malloc(sizeof(*out) + len)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	ipc_pack(out->buf, type, peerid, a, alen, b, blen);
	out->len = len;
	out->fd = fd;
	if (TAILQ_EMPTY(&ipc->outq)) {
		rv = ipc_sendpkt(ipc->fd, out->buf, len, fd);
		if (rv != 0) {
			if (fd != -1)
				close(fd);
			/* Verdicts carry cookies and bearer tokens. */
			explicit_bzero(out->buf, len);
			free(out);
			return rv == 1 ? 0 : -1;
		}
	}
	TAILQ_INSERT_TAIL(&ipc->outq, out, entry);
	ipc->queued += len;
	event_add(ipc->ev_write, NULL);
	return 0;
}

int
ipc_send(struct ipc *ipc, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	return ipc_sendv(ipc, type, peerid, fd, data, len, NULL, 0);
}

static void
ipc_writecb(evutil_socket_t sock, short what, void *arg)
{
	struct ipc	*ipc = arg;
	struct ipc_out	*out;
	int		 rv;

	(void)sock;
	(void)what;
	while ((out = TAILQ_FIRST(&ipc->outq)) != NULL) {
		rv = ipc_sendpkt(ipc->fd, out->buf, out->len, out->fd);
		if (rv == 0) {
			event_add(ipc->ev_write, NULL);
			return;
		}
		TAILQ_REMOVE(&ipc->outq, out, entry);
		ipc->queued -= out->len;
		if (out->fd != -1)
			close(out->fd);
		explicit_bzero(out->buf, out->len);
		free(out);
		if (rv == -1) {
			log_warn("ipc send");
			ipc->closed(ipc, ipc->arg);
			return;
		}
	}
}

/*
 * Receives one packet.  Returns 1 with a message, 0 on EOF or EAGAIN
 * (errno tells which), -1 on a malformed packet or an error.
 */
int
ipc_recv(int sock, struct ipc_msg *m, uint8_t *buf, size_t bufsz)
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	}		 cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 fds[4], nfd = 0, i;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &m->hdr;
	iov[0].iov_len = sizeof(m->hdr);
	iov[1].iov_base = buf;
	iov[1].iov_len = bufsz;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	m->fd = -1;
	m->data = buf;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == 0) {
		errno = 0;
		return 0;
	}
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; (size_t)i < (cmsg->cmsg_len - CMSG_LEN(0)) /
		    sizeof(int) && nfd < 4; i++)
			memcpy(&fds[nfd++], CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
	}
	/* At most one descriptor; anything else is a malformed message. */
	if (nfd > 1 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(m->hdr) || m->hdr.len != n - sizeof(m->hdr)) {
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		errno = EBADMSG;
		return -1;
	}
	if (nfd == 1)
		m->fd = fds[0];
	return 1;
}

static void
ipc_readcb(evutil_socket_t sock, short what, void *arg)
{
	struct ipc	*ipc = arg;
	struct ipc_msg	 m;
	int		 rv, i;

	(void)what;
	/* Bounded so that one busy peer cannot starve the others. */
	for (i = 0; i < 64; i++) {
		rv = ipc_recv(sock, &m, ipc->rbuf, IPC_MAXPAYLOAD);
		if (rv == 0 && errno == EAGAIN)
			return;
		if (rv <= 0) {
			if (rv == -1)
				log_warn("ipc receive from peer %d", ipc->peer);
			ipc->closed(ipc, ipc->arg);
			return;
		}
		if (ipc->dispatch(ipc, &m, ipc->arg) == -1) {
			if (m.fd != -1)
				close(m.fd);
			ipc->closed(ipc, ipc->arg);
			return;
		}
		/* Requests and verdicts carry tokens, cookies, bearers. */
		explicit_bzero(ipc->rbuf, m.hdr.len);
	}
}

/* Sends one packet on a blocking path, before any event loop exists. */
int
ipc_send_blocking(int sock, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	uint8_t		*pkt;
	int		 rv;

	if (len > IPC_MAXPAYLOAD)
		return -1;
	if ((pkt = malloc(sizeof(struct ipc_hdr) + len)) == NULL)
		return -1;
	ipc_pack(pkt, type, peerid, data, len, NULL, 0);
	rv = ipc_sendpkt(sock, pkt, sizeof(struct ipc_hdr) + len, fd);
	free(pkt);
	return rv == 1 ? 0 : -1;
}

/* Copies a fixed-size payload; refuses any other size. */
int
ipc_get(const struct ipc_msg *m, void *dst, size_t size)
{
	if (m->hdr.len != size) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(dst, m->data, size);
	return 0;
}

/* A string field must be NUL-terminated inside its array. */
int
ipc_str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}
