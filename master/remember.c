/*
 * Used one-time tokens, remembered for authd.  authd holds the replay
 * cache; if it dies, a new one would accept a used token again until it
 * expired.  So authd tells the master each jti it accepts, and the master
 * hands the unexpired ones back to every new authd, which decides no
 * request before it has them all.
 * A jti is no secret: without the signature it opens nothing.
 *
 * The notes come on a channel of their own, which the master reads in
 * batches: after reading it pauses for REMEMBER_PAUSE_MS, so that at a
 * high handshake rate a note does not wake the master each time.  authd
 * sends each note before its verdict, and the socket keeps what was sent:
 * when authd dies, the master reads the rest before starting the next.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define REMEMBER_MAX		100000
#define REMEMBER_PAUSE_MS	100
#define REMEMBER_BATCH		((IPC_MAXPAYLOAD - sizeof(struct replay_batch)) \
				    / sizeof(struct replay_note))

static struct replay_note	*notes;
static size_t			 nnotes;
static int			 chan_fd = -1;
static struct event		*ev_chan, *ev_pause;

/* Drops the expired entries, keeping the order. */
static void
remember_expire(void)
{
	double	 now = (double)time(NULL);
	size_t	 i, j;

	for (i = j = 0; i < nnotes; i++)
		if (notes[i].exp + master->conf->g.clock_skew >= now)
			notes[j++] = notes[i];
	nnotes = j;
}

void
remember_add(struct replay_note *n)
{
	if (notes == NULL && (notes = calloc(REMEMBER_MAX,
	    sizeof(*notes))) == NULL) {
		log_warn("replay notes");
		return;
	}
	if (nnotes == REMEMBER_MAX)
		remember_expire();
	if (nnotes == REMEMBER_MAX) {
		/* Full of live tokens: forget the oldest, and say so. */
		log_warnx("replay notes full: forgetting the oldest");
		memmove(notes, notes + 1, (nnotes - 1) * sizeof(*notes));
		nnotes--;
	}
	notes[nnotes++] = *n;
}

/*
 * Hands authd the used tokens from offset on, as many as one message
 * holds.  authd asks for the next batch once it has taken this one, so
 * that however many there are, the queue to authd holds one batch at a
 * time; the last tells authd that it may decide.  The list does not move
 * meanwhile: notes come only from authd, and a new authd decides nothing
 * before it has the last batch.
 */
void
remember_send(struct child *authd, uint32_t offset)
{
	struct replay_batch	 b;

	if (offset == 0)
		remember_expire();
	if (offset > nnotes) {
		log_warnx("authd asked for used tokens from %u of %zu", offset,
		    nnotes);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.offset = offset;
	b.n = nnotes - offset < REMEMBER_BATCH ? nnotes - offset :
	    REMEMBER_BATCH;
	b.total = nnotes;
	b.last = offset + b.n == nnotes;
	if (ipc_sendv(authd->ipc, IMSG_REPLAY_BATCH, 0, -1, &b, sizeof(b),
	    notes + offset, b.n * sizeof(*notes)) == -1) {
		log_warn("cannot hand authd its used tokens");
		return;
	}
	if (b.last && nnotes > 0)
		log_info("handed authd %zu used tokens to refuse", nnotes);
}

/* Reads what authd has sent; 0 when the channel is still open. */
static int
remember_drain(void)
{
	struct ipc_msg		 m;
	struct replay_note	 rn;
	int			 i, rv;

	for (i = 0; i < REMEMBER_MAX; i++) {
		rv = ipc_recv(chan_fd, &m, (uint8_t *)&rn, sizeof(rn));
		if (rv == 0 && errno == EAGAIN)
			return 0;
		if (rv <= 0)
			return -1;
		if (m.fd != -1)
			close(m.fd);
		if (m.hdr.type != IMSG_REPLAY_NOTE || m.hdr.len != sizeof(rn) ||
		    !ipc_str_ok(rn.jti, sizeof(rn.jti))) {
			log_warnx("authd sent a malformed replay note");
			continue;
		}
		remember_add(&rn);
	}
	return 0;
}

static void
remember_close(void)
{
	if (chan_fd == -1)
		return;
	event_free(ev_chan);
	ev_chan = NULL;
	evtimer_del(ev_pause);
	close(chan_fd);
	chan_fd = -1;
}

static void
remember_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (remember_drain() == -1) {
		remember_close();
		return;
	}
	evtimer_add(ev_pause, (&(struct timeval){ 0,
	    REMEMBER_PAUSE_MS * 1000 }));
}

static void
remember_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (ev_chan != NULL)
		event_add(ev_chan, NULL);
}

/*
 * A new authd: what its predecessor sent is read to the end, then the
 * new one gets a channel of its own.  Without one it sends its notes on
 * its main channel, which the master reads too.
 */
void
remember_channel(struct child *authd)
{
	int	 sv[2];

	if (chan_fd != -1)
		remember_drain();
	remember_close();
	if (ev_pause == NULL &&
	    (ev_pause = evtimer_new(master->base, remember_resume, NULL)) == NULL)
		return;
	if (ipc_socketpair(sv) == -1) {
		log_warn("replay channel");
		return;
	}
	if ((ev_chan = event_new(master->base, sv[0], EV_READ, remember_read,
	    NULL)) == NULL || ipc_send(authd->ipc, IMSG_REPLAY_CHANNEL, 0,
	    sv[1], NULL, 0) == -1) {
		log_warnx("cannot give authd its replay channel");
		if (ev_chan != NULL)
			event_free(ev_chan);
		ev_chan = NULL;
		close(sv[0]);
		return;
	}
	chan_fd = sv[0];
	fcntl(chan_fd, F_SETFL, fcntl(chan_fd, F_GETFL) | O_NONBLOCK);
	event_add(ev_chan, NULL);
}
