/*
 * A small message layer over AF_UNIX/SOCK_SEQPACKET socketpairs.  Each
 * message is one packet: a fixed header, then exactly hdr.len bytes of
 * payload, optionally with one descriptor passed as SCM_RIGHTS.
 */
#ifndef IPC_H
#define IPC_H

#include <sys/queue.h>
#include <stdint.h>
#include <stddef.h>
#include <event2/event.h>

#define IPC_MAXPAYLOAD	(64 * 1024)
#define IPC_MAXQUEUE	(8 * 1024 * 1024)	/* bytes queued to a slow peer */

struct ipc_hdr {
	uint32_t	 type;
	uint32_t	 len;
	uint32_t	 peerid;
	uint32_t	 flags;
};

struct ipc_msg {
	struct ipc_hdr	 hdr;
	uint8_t		*data;
	int		 fd;		/* -1, or a received descriptor */
};

struct ipc_out {
	TAILQ_ENTRY(ipc_out) entry;
	size_t		 len;
	int		 fd;
	uint8_t		 buf[];
};

struct ipc;
/* A dispatcher returns -1 to end the peer; closed() is then called once. */
typedef int (*ipc_dispatch_cb)(struct ipc *, struct ipc_msg *, void *);
typedef void (*ipc_closed_cb)(struct ipc *, void *);

struct ipc {
	int		 fd;
	int		 peer;		/* the caller's name for the peer */
	struct event	*ev_read;
	struct event	*ev_write;
	TAILQ_HEAD(, ipc_out) outq;
	size_t		 queued;
	ipc_dispatch_cb	 dispatch;
	ipc_closed_cb	 closed;
	void		*arg;
	uint8_t		*rbuf;
};

struct ipc	*ipc_new(struct event_base *, int, int, ipc_dispatch_cb,
		    ipc_closed_cb, void *);
void		 ipc_free(struct ipc *);
int		 ipc_send(struct ipc *, uint32_t, uint32_t, int, const void *,
		    size_t);
int		 ipc_sendv(struct ipc *, uint32_t, uint32_t, int, const void *,
		    size_t, const void *, size_t);
int		 ipc_recv(int, struct ipc_msg *, uint8_t *, size_t);
int		 ipc_sendpkt(int, const void *, size_t, int);
int		 ipc_send_blocking(int, uint32_t, uint32_t, int, const void *,
		    size_t);
int		 ipc_get(const struct ipc_msg *, void *, size_t);
int		 ipc_str_ok(const char *, size_t);
int		 ipc_socketpair(int [2]);

#endif
