/*
 * Used one-time tokens, remembered for authd.  authd holds the replay
 * cache; if it dies, a new one would accept a used token again until it
 * expired.  So authd tells the master each jti it accepts, and the master
 * hands the unexpired ones to every new authd before its first request.
 * A jti is no secret: without the signature it opens nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "master.h"

#define REMEMBER_MAX	100000

static struct replay_note	*notes;
static size_t			 nnotes;

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

void
remember_send(struct child *authd)
{
	size_t	 i, sent = 0;

	remember_expire();
	for (i = 0; i < nnotes; i++)
		if (ipc_send(authd->ipc, IMSG_REPLAY_NOTE, 0, -1, &notes[i],
		    sizeof(notes[i])) == 0)
			sent++;
	if (sent)
		log_info("gave authd %zu used tokens to refuse", sent);
	if (sent < nnotes)
		log_warnx("could not give authd %zu used tokens: a restarted "
		    "authd may accept them again until they expire",
		    nnotes - sent);
}
