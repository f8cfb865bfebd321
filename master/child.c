/*
 * Starting and watching the children.  Each child is this binary again,
 * re-executed with a role, so it gets a fresh address-space layout.  It
 * finds its channel to the master at descriptor 3 and receives everything
 * else (configuration, listeners, its channel to authd) as messages.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "log.h"
#include "master.h"

#define RESTART_MIN_MS		100
#define RESTART_MAX_MS		30000
#define STABLE_SECONDS		10

static void	child_closed(struct ipc *, void *);
static int	master_dispatch_child(struct ipc *, struct ipc_msg *, void *);

int
child_alive(struct child *ch)
{
	return ch->pid > 0;
}

static void
child_exec(struct child *ch, int sock)
{
	char	 title[64], id[16], verbose[16];
	char	*argv[12];
	int	 argc = 0, i;

	if (sock != CHILD_FD_MASTER) {
		if (dup2(sock, CHILD_FD_MASTER) == -1)
			_exit(127);
	} else
		fcntl(sock, F_SETFD, 0);
	close_range(CHILD_FD_MASTER + 1, ~0U, 0);
	/* Signals the master ignores or catches start out default here. */
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	snprintf(title, sizeof(title), ch->type == PROC_AUTHD ?
	    "vncrelayd: authd" : "vncrelayd: worker %d", ch->id);
	snprintf(id, sizeof(id), "%d", ch->id);
	argv[argc++] = title;
	argv[argc++] = "-P";
	argv[argc++] = ch->type == PROC_AUTHD ? "authd" : "worker";
	argv[argc++] = "-I";
	argv[argc++] = id;
	if (!master->foreground)
		argv[argc++] = "-L";
	if (master->verbose) {
		snprintf(verbose, sizeof(verbose), "-%.*s",
		    master->verbose > 8 ? 8 : master->verbose, "vvvvvvvv");
		argv[argc++] = verbose;
	}
	argv[argc] = NULL;
	execv(master->self, argv);
	_exit(127);
}

void
child_send_conf(struct child *ch, struct conf *c)
{
	ch->gen_sent = c->gen;
	if (conf_send(ch->ipc, c, ch->type) == -1)
		log_warn("cannot send the configuration to %s", ch->name);
}

/* A new socketpair between authd and one worker. */
static void
child_pair(struct child *w)
{
	int	 sv[2];

	if (!child_alive(w) || !child_alive(&master->authd) || w->retiring)
		return;
	if (ipc_socketpair(sv) == -1) {
		log_warn("socketpair for %s", w->name);
		return;
	}
	ipc_send(master->authd.ipc, IMSG_AUTHD_CHANNEL, w->id, sv[0], NULL, 0);
	ipc_send(w->ipc, IMSG_AUTHD_CHANNEL, w->id, sv[1], NULL, 0);
}

void
child_channel(struct child *ch)
{
	int	 i;

	if (ch->type == PROC_WORKER) {
		child_pair(ch);
		return;
	}
	for (i = 0; i < master->nworkers; i++)
		child_pair(&master->workers[i]);
}

void
child_spawn(struct child *ch)
{
	int	 sv[2], fd;
	pid_t	 pid;

	if (master->shutting_down)
		return;
	if (ipc_socketpair(sv) == -1) {
		log_warn("socketpair");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		child_exec(ch, sv[1]);
	}
	close(sv[1]);
	ch->pid = pid;
	ch->ready = 0;
	metrics_child_start(ch);
	gettimeofday(&ch->started, NULL);
	ch->ipc = ipc_new(master->base, sv[0], ch->id, master_dispatch_child,
	    child_closed, ch);
	if (ch->ipc == NULL)
		fatalx("cannot set up the channel to %s", ch->name);
	log_info("started %s pid=%d", ch->name, pid);
	if (ch->type == PROC_WORKER && master->load_fd != -1 &&
	    (fd = dup(master->load_fd)) != -1)
		ipc_send(ch->ipc, IMSG_LOAD_PAGE, 0, fd, NULL, 0);
	child_send_conf(ch, master->conf);
	/* Channels first: the used tokens may fill the queue. */
	child_channel(ch);
	if (ch->type == PROC_AUTHD) {
		remember_channel(ch);
		remember_send(ch, 0);
	}
}

static void
child_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child	*ch = arg;

	(void)fd;
	(void)what;
	if (!ch->retiring && !child_alive(ch)) {
		ch->restarts++;
		child_spawn(ch);
	}
}

/*
 * Restart with a backoff that doubles with every crash in a row, so that a
 * child that dies at once costs a little more time each round, not a spin.
 */
static void
child_schedule(struct child *ch)
{
	struct timeval	 now, tv;
	long		 ms;

	gettimeofday(&now, NULL);
	if (now.tv_sec - ch->started.tv_sec >= STABLE_SECONDS)
		ch->crashes = 0;
	ms = RESTART_MIN_MS << (ch->crashes > 9 ? 9 : ch->crashes);
	if (ms > RESTART_MAX_MS)
		ms = RESTART_MAX_MS;
	ch->crashes++;
	if (ch->ev_restart == NULL)
		ch->ev_restart = evtimer_new(master->base, child_restart_cb, ch);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ch->ev_restart, &tv);
	log_info("restarting %s in %ldms", ch->name, ms);
}

static struct child *
child_find(pid_t pid)
{
	int	 i;

	if (master->authd.pid == pid)
		return &master->authd;
	for (i = 0; i < master->nworkers; i++)
		if (master->workers[i].pid == pid)
			return &master->workers[i];
	return NULL;
}

static void
child_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
}

static void
child_gone(struct child *ch, int status)
{
	char	 st[32];
	int	 expected = master->shutting_down || ch->retiring;

	child_status(status, st, sizeof(st));
	if (expected && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("child exited %s pid=%d status=%s", ch->name, ch->pid,
		    st);
	else
		log_warnx("lost child %s pid=%d status=%s", ch->name, ch->pid,
		    st);
	ch->pid = 0;
	if (ch->type == PROC_WORKER)
		load_set(ch->id, LOAD_ABSENT);
	if (ch->ipc) {
		ipc_free(ch->ipc);
		ch->ipc = NULL;
	}
	metrics_child_start(ch);
	control_child_gone(ch);
	/* A pending reload no longer waits for this child, if it did. */
	if (master->pending && ch->gen_sent == master->pending->gen &&
	    ch->gen_acked != master->pending->gen && master->waiting > 0)
		master->waiting--;
	ch->gen_sent = ch->gen_acked = 0;
	if (!master->shutting_down && !ch->retiring)
		child_schedule(ch);
	master_maybe_exit();
}

void
child_reap(void)
{
	struct child	*ch;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((ch = child_find(pid)) != NULL)
			child_gone(ch, status);
}

/*
 * The channel broke before the child was reaped.  A child that closes its
 * channel is gone or going; make sure it goes, SIGCHLD does the rest.
 * The channel stays, unwatched, until then: a child that is alive has a
 * channel for whoever sends to it (what they send is lost), and the
 * master does not crash on a control command that comes in between.
 */
static void
child_closed(struct ipc *ipc, void *arg)
{
	struct child	*ch = arg;

	if (child_alive(ch)) {
		kill(ch->pid, SIGKILL);
		event_del(ipc->ev_read);
		event_del(ipc->ev_write);
	}
}

/* Connects a configured Unix-socket target for authd. */
static void
child_connect_unix(struct child *ch, uint32_t id, const char *name)
{
	struct target		*t = conf_target_find(master->conf, name);
	struct sockaddr_un	 sun;
	int			 fd = -1, error = 0;

	if (t == NULL || t->c.socket[0] == '\0')
		error = ENOENT;
	else if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		error = errno;
	else {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strlcpy_(sun.sun_path, t->c.socket, sizeof(sun.sun_path));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			error = errno;
			close(fd);
			fd = -1;
		}
	}
	ipc_send(ch->ipc, IMSG_CONNECT_UNIX, id, fd, &error, sizeof(error));
}

static int
master_dispatch_child(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct child	*ch = arg;
	struct ctl_token ct;
	struct replay_note rn;
	uint32_t	 offset;

	(void)ipc;
	switch (m->hdr.type) {
	case IMSG_CONF_ACK:
		if (m->hdr.len != 0)
			break;
		ch->ready = 1;
		master_dispatch_ack(ch, m->hdr.peerid);
		return 0;
	case IMSG_WORKER_BAD:
		if (ch->type != PROC_AUTHD || m->hdr.len != 0 ||
		    m->hdr.peerid >= (uint32_t)master->nworkers)
			break;
		if (child_alive(&master->workers[m->hdr.peerid])) {
			log_warnx("authd reports worker%u misbehaved: ending it",
			    m->hdr.peerid);
			kill(master->workers[m->hdr.peerid].pid, SIGKILL);
		}
		return 0;
	case IMSG_CTL_TOKEN_RESP:
		if (ch->type != PROC_AUTHD || m->hdr.len != sizeof(ct))
			break;
		memcpy(&ct, m->data, sizeof(ct));
		explicit_bzero(m->data, m->hdr.len);
		if (!ipc_str_ok(ct.token, sizeof(ct.token)) ||
		    !ipc_str_ok(ct.target, sizeof(ct.target)))
			break;
		control_token_reply(&ct);
		explicit_bzero(&ct, sizeof(ct));
		return 0;
	case IMSG_CONNECT_UNIX:
		if (ch->type != PROC_AUTHD || m->hdr.len != NAME_LEN ||
		    !ipc_str_ok((char *)m->data, NAME_LEN))
			break;
		child_connect_unix(ch, m->hdr.peerid, (char *)m->data);
		return 0;
	case IMSG_REPLAY_NOTE:
		if (ch->type != PROC_AUTHD || m->hdr.len != sizeof(rn))
			break;
		memcpy(&rn, m->data, sizeof(rn));
		remember_add(&rn);
		return 0;
	case IMSG_REPLAY_MORE:
		if (ch->type != PROC_AUTHD || ipc_get(m, &offset,
		    sizeof(offset)) == -1)
			break;
		remember_send(ch, offset);
		return 0;
	case IMSG_BEARER:
		if (ch->type != PROC_AUTHD || bearer_refresh(m) == -1)
			break;
		return 0;
	case IMSG_STATS:
		if (ch->type != PROC_WORKER || metrics_worker(ch, m) == -1)
			break;
		return 0;
	case IMSG_STATS_AUTHD:
		if (ch->type != PROC_AUTHD || metrics_authd(m) == -1)
			break;
		return 0;
	case IMSG_SESSION_LIST:
		if (ch->type != PROC_WORKER || control_session_list(ch, m) == -1)
			break;
		return 0;
	case IMSG_CTL_KILLED:
		if (ch->type != PROC_WORKER || control_killed(ch, m) == -1)
			break;
		return 0;
	case IMSG_METRICS_REQ:
		if (ch->type != PROC_WORKER || metrics_request(ch, m) == -1)
			break;
		return 0;
	default:
		break;
	}
	log_warnx("%s: malformed message type %u length %u", ch->name,
	    m->hdr.type, m->hdr.len);
	return -1;
}
