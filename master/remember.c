/*
 * Used one-time tokens, remembered for authd.  authd holds the replay
 * cache; if it dies, a new one would accept a used token again until it
 * expired.  So authd tells the master each jti it accepts, and the master
 * hands the unexpired ones back to every new authd, which decides no
 * request before it has them all.  It keeps what authd keeps: a digest of
 * each jti and its expiry (common/replay.c).
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
#include "replay.h"

#define REMEMBER_PAUSE_MS	100
#define REMEMBER_DRAIN		65536	/* notes read at once: more than a
					   socket holds */
#define REMEMBER_BATCH		((IPC_MAXPAYLOAD - sizeof(struct replay_batch)) \
				    / sizeof(struct replay_note))

static struct replay		*used;
static struct replay_note	 batch[REMEMBER_BATCH];
static int			 chan_fd = -1;
static struct event		*ev_chan, *ev_pause;

/*
 * The copy, created on first use, sized as authd's cache; after a reload
 * it takes its new size here, keeping its entries.  NULL when there is no
 * memory for it.
 */
static struct replay *
remember_copy(void)
{
	struct conf_global	*g = &master->conf->g;

	if (used == NULL && (used = replay_new(g->replay_cache_size)) == NULL)
		log_warnx("no memory for the used tokens");
	if (used == NULL)
		return NULL;
	if (replay_max(used) != g->replay_cache_size &&
	    replay_resize(used, g->replay_cache_size) == -1)
		log_warnx("no memory for %u used tokens: room for %zu",
		    g->replay_cache_size, replay_max(used));
	replay_set_skew(used, g->clock_skew);
	return used;
}

void
remember_add(struct replay_note *n)
{
	double	 now = (double)time(NULL);

	if (remember_copy() == NULL ||
	    replay_add(used, n->digest, n->exp, now) != -2)
		return;
	/* Full of live tokens: forget the first to expire, and say so. */
	log_warnx("used tokens full: forgetting the first to expire");
	replay_forget_first(used);
	replay_add(used, n->digest, n->exp, now);
}

/*
 * Hands authd the used tokens from offset on, as many as one message
 * holds.  authd asks for the next batch once it has taken this one, so
 * that however many there are, the queue to authd holds one batch at a
 * time; the last (empty when there are none) tells authd that it may
 * decide.  The copy does not change meanwhile: notes come only from
 * authd, and a new authd decides nothing before it has the last batch.
 */
void
remember_send(struct child *authd, uint32_t offset)
{
	struct replay_batch	 b;
	size_t			 count = 0, i;

	if (offset == 0 && remember_copy() != NULL)
		replay_expire(used, (double)time(NULL));
	if (used != NULL)
		count = replay_count(used);
	if (offset > count) {
		log_warnx("authd asked for used tokens from %u of %zu", offset,
		    count);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.offset = offset;
	b.n = count - offset < REMEMBER_BATCH ? count - offset :
	    REMEMBER_BATCH;
	b.total = count;
	b.last = offset + b.n == count;
	for (i = 0; i < b.n; i++)
		replay_get(used, offset + i, batch[i].digest, &batch[i].exp);
	if (ipc_sendv(authd->ipc, IMSG_REPLAY_BATCH, 0, -1, &b, sizeof(b),
	    batch, b.n * sizeof(*batch)) == -1) {
		log_warn("cannot hand authd its used tokens");
		return;
	}
	if (b.last && count > 0)
		log_info("handed authd %zu used tokens to refuse", count);
}

/* Reads what authd has sent; 0 when the channel is still open. */
static int
remember_drain(void)
{
	struct ipc_msg		 m;
	struct replay_note	 rn;
	int			 i, rv;

	for (i = 0; i < REMEMBER_DRAIN; i++) {
		rv = ipc_recv(chan_fd, &m, (uint8_t *)&rn, sizeof(rn));
		if (rv == 0 && errno == EAGAIN)
			return 0;
		if (rv <= 0)
			return -1;
		if (m.fd != -1)
			close(m.fd);
		if (m.hdr.type != IMSG_REPLAY_NOTE || m.hdr.len != sizeof(rn)) {
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
