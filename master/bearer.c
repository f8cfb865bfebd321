/*
 * KubeVirt bearer tokens.  The kubelet rotates a service account's token
 * file, and authd, in its empty root, cannot see the file: so the master
 * looks at every token file the configuration names once a second, and
 * when one changed, it keeps the new token in its configuration (a
 * restarted authd gets it from there) and sends it to authd.  authd asks
 * for a fresh read at once when the API server refuses a token.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define BEARER_MAX	8192	/* must fit an upgrade request's headers */
#define BEARER_WATCHED	MAX_KUBEVIRTS

struct bearer_seen {
	char		 name[NAME_LEN];
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

static struct bearer_seen	 seen[BEARER_WATCHED];
static struct event		*ev_watch;

static struct bearer_seen *
bearer_seen_find(const char *name)
{
	int	 i, free_slot = -1;

	for (i = 0; i < BEARER_WATCHED; i++) {
		if (strcmp(seen[i].name, name) == 0)
			return &seen[i];
		if (seen[i].name[0] == '\0' && free_slot == -1)
			free_slot = i;
	}
	if (free_slot == -1)
		return NULL;
	strlcpy_(seen[free_slot].name, name, sizeof(seen[free_slot].name));
	return &seen[free_slot];
}

/* A section a reload removed frees its slot for one it adds. */
static void
bearer_seen_forget(void)
{
	int	 i;

	for (i = 0; i < BEARER_WATCHED; i++)
		if (seen[i].name[0] != '\0' &&
		    conf_kubevirt_find(master->conf, seen[i].name) == NULL)
			memset(&seen[i], 0, sizeof(seen[i]));
}

static int
bearer_same(const struct bearer_seen *s, const struct stat *st)
{
	return s->dev == st->st_dev && s->ino == st->st_ino &&
	    s->size == st->st_size &&
	    s->mtime.tv_sec == st->st_mtim.tv_sec &&
	    s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads path whole; NULL (with errno) when it cannot be a token. */
static uint8_t *
bearer_read(const char *path, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf;
	ssize_t		 n;
	int		 fd;

	/* Non-blocking: a FIFO at the path must not hang the master. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > BEARER_MAX || (buf = malloc(st.st_size + 1)) ==
	    NULL) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	*len = n;
	return buf;
}

/* Whether data holds anything but whitespace. */
static int
bearer_nonblank(const uint8_t *data, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (data[i] > ' ')
			return 1;
	return 0;
}

/*
 * Replaces the token that k's blob holds and tells authd.  When authd
 * asked (force), it is told even when nothing changed: it waits for the
 * answer before it tries again.  A file caught empty (truncated, then
 * written) keeps the old token.  Returns -1 when the file could not be
 * read, so that the next look tries again.
 */
static int
bearer_update(struct kubevirt *k, int force)
{
	struct blob	*b;
	uint8_t		*data;
	size_t		 len;
	int		 rv = 0;

	if ((b = conf_blob_find(master->conf, BLOB_BEARER, 0, k->c.name)) ==
	    NULL)
		return 0;
	if ((data = bearer_read(k->c.token_file, &len)) == NULL) {
		log_warn("kubevirt %s: %s", k->c.name, k->c.token_file);
		rv = -1;
	} else if (!bearer_nonblank(data, len)) {
		log_warnx("kubevirt %s: %s holds no token: keeping the old "
		    "one", k->c.name, k->c.token_file);
		free(data);
		rv = -1;
	} else if (len == b->len && memcmp(data, b->data, len) == 0) {
		explicit_bzero(data, len);
		free(data);
	} else {
		explicit_bzero(b->data, b->len);
		free(b->data);
		b->data = data;
		b->len = len;
		log_info("kubevirt %s: token file changed", k->c.name);
		force = 1;
	}
	if (force && child_alive(&master->authd))
		ipc_sendv(master->authd.ipc, IMSG_BEARER, 0, -1, &b->c,
		    sizeof(b->c), b->data, b->len);
	return rv;
}

static void
bearer_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kubevirt		*k;
	struct bearer_seen	*s;
	struct stat		 st;

	(void)fd;
	(void)what;
	(void)arg;
	if (master->conf == NULL)
		return;
	bearer_seen_forget();
	TAILQ_FOREACH(k, &master->conf->kubevirts, entry) {
		if ((s = bearer_seen_find(k->c.name)) == NULL ||
		    stat(k->c.token_file, &st) == -1 || bearer_same(s, &st) ||
		    bearer_update(k, 0) == -1)
			continue;
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->size = st.st_size;
		s->mtime = st.st_mtim;
	}
}

void
bearer_watch(void)
{
	if (ev_watch != NULL)
		return;
	if ((ev_watch = event_new(master->base, -1, EV_PERSIST, bearer_tick,
	    NULL)) == NULL)
		fatalx("event_new");
	evtimer_add(ev_watch, (&(struct timeval){ 1, 0 }));
}

/* authd's token was refused: read the file now, not in a second. */
int
bearer_refresh(struct ipc_msg *m)
{
	struct kubevirt	*k;
	char		 name[NAME_LEN];

	if (ipc_get(m, name, sizeof(name)) == -1 ||
	    !ipc_str_ok(name, sizeof(name)))
		return -1;
	if (master->conf == NULL ||
	    (k = conf_kubevirt_find(master->conf, name)) == NULL)
		return 0;
	bearer_update(k, 1);
	return 0;
}
