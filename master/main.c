/*
 * vncrelayd: the master process.  It reads the configuration, binds the
 * listeners as root, starts authd and the workers by fork and re-exec,
 * restarts what dies, and turns SIGHUP into a reload transaction.  It
 * never parses network input.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "load.h"
#include "log.h"
#include "master.h"

struct master	*master;

static void
usage(void)
{
	fprintf(stderr, "usage: vncrelayd [-dnv] [-D macro=value] "
	    "[-f file]\n");
	exit(1);
}

/*
 * The capabilities the master keeps: bind low ports (reload may add a
 * listener), start children that chroot and change ids, signal them, and
 * hand the control socket to its group.  Everything else leaves the
 * bounding set too, so no child can regain it through exec.
 */
static const cap_value_t master_caps[] = {
	CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT,
	CAP_KILL, CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE,
};

static int
cap_kept(cap_value_t c)
{
	size_t	 i;

	for (i = 0; i < sizeof(master_caps) / sizeof(master_caps[0]); i++)
		if (master_caps[i] == c)
			return 1;
	return 0;
}

static void
master_drop_caps(void)
{
	cap_t		 caps;
	cap_value_t	 c;
	int		 n = sizeof(master_caps) / sizeof(master_caps[0]);

	if (geteuid() != 0)
		return;
	for (c = 0; c <= CAP_LAST_CAP; c++)
		if (!cap_kept(c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 && errno != EINVAL)
			fatal("cannot drop capability %d from the bounding set", c);
	if ((caps = cap_init()) == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, n, master_caps, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, master_caps, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_INHERITABLE, n, master_caps, CAP_SET) == -1 ||
	    cap_set_proc(caps) == -1)
		fatal("cannot limit the master's capabilities");
	cap_free(caps);
}

static void
master_dirs(struct conf *c)
{
	struct stat	 st;

	if (geteuid() != 0)
		return;
	if (stat(c->g.authd_root, &st) == -1) {
		if (mkdir(c->g.authd_root, 0755) == -1)
			fatal("cannot create authd-root %s", c->g.authd_root);
	} else if (!S_ISDIR(st.st_mode))
		fatalx("authd-root %s is not a directory", c->g.authd_root);
	if (stat(c->g.webroot, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("webroot %s is not a directory", c->g.webroot);
}

static void
master_reload_timeout(evutil_socket_t fd, short what, void *arg)
{
	int	 i;

	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("reload failed: children did not acknowledge the new "
	    "configuration in time");
	/* Those that staged it drop it; the running one stays. */
	if (child_alive(&master->authd))
		ipc_send(master->authd.ipc, IMSG_CONF_ABORT, 0, -1, NULL, 0);
	for (i = 0; i < master->nworkers; i++)
		if (child_alive(&master->workers[i]))
			ipc_send(master->workers[i].ipc, IMSG_CONF_ABORT, 0, -1,
			    NULL, 0);
	conf_free(master->pending);
	master->pending = NULL;
	master->waiting = 0;
}

static void	master_slot(int);

/* Every child acknowledged the pending configuration: switch to it. */
static void
master_commit(void)
{
	struct conf	*old = master->conf;
	struct child	*ch;
	uint32_t	 gen = master->pending->gen;
	int		 i, want;

	evtimer_del(master->ev_reload_timeout);
	master->conf = master->pending;
	master->pending = NULL;
	if (child_alive(&master->authd) && master->authd.gen_sent == gen)
		ipc_send(master->authd.ipc, IMSG_CONF_COMMIT, gen, -1, NULL, 0);
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (child_alive(ch) && ch->gen_sent == gen && !ch->retiring)
			ipc_send(ch->ipc, IMSG_CONF_COMMIT, gen, -1, NULL, 0);
		else if (child_alive(ch) && !ch->retiring)
			child_send_conf(ch, master->conf);
	}
	conf_free(old);
	want = master->conf->g.prefork;
	for (i = want; i < master->nworkers; i++) {
		ch = &master->workers[i];
		ch->retiring = 1;
		if (ch->ev_restart)
			evtimer_del(ch->ev_restart);
		if (child_alive(ch))
			ipc_send(ch->ipc, IMSG_SHUTDOWN, 0, -1, NULL, 0);
	}
	for (i = 0; i < want; i++) {
		ch = &master->workers[i];
		if (i >= master->nworkers)
			master_slot(i);
		ch->retiring = 0;
		if (!child_alive(ch) && (ch->ev_restart == NULL ||
		    !evtimer_pending(ch->ev_restart, NULL)))
			child_spawn(ch);
	}
	if (want > master->nworkers)
		master->nworkers = want;
	log_info("reload: configuration reloaded workers=%d", want);
}

void
master_dispatch_ack(struct child *ch, uint32_t gen)
{
	if (master->pending && gen == master->pending->gen) {
		/* Each child that was sent it counts once. */
		if (ch->gen_sent != gen || ch->gen_acked == gen) {
			log_warnx("%s: acknowledged configuration %u twice or "
			    "unasked", ch->name, gen);
			return;
		}
		ch->gen_acked = gen;
		if (--master->waiting == 0)
			master_commit();
		return;
	}
	if (gen == master->conf->gen)
		ipc_send(ch->ipc, IMSG_CONF_COMMIT, gen, -1, NULL, 0);
}

static void
master_reload(void)
{
	struct conf	*nc;
	struct child	*ch;
	int		 i;

	if (master->pending) {
		log_warnx("reload refused: another reload is pending");
		return;
	}
	if ((nc = parse_config(master->conffile, 0)) == NULL) {
		log_warnx("reload failed: %s", parse_lasterror());
		return;
	}
	if (listen_open(nc, master->conf) == -1) {
		conf_free(nc);
		return;
	}
	nc->gen = ++master->last_gen;
	master->pending = nc;
	master->waiting = 0;
	if (child_alive(&master->authd)) {
		child_send_conf(&master->authd, nc);
		master->waiting++;
	}
	for (i = 0; i < master->nworkers; i++) {
		ch = &master->workers[i];
		if (child_alive(ch) && !ch->retiring) {
			child_send_conf(ch, nc);
			master->waiting++;
		}
	}
	if (master->waiting == 0) {
		master_commit();
		return;
	}
	evtimer_add(master->ev_reload_timeout, (&(struct timeval){ 10, 0 }));
}

void
master_maybe_exit(void)
{
	int	 i;

	if (!master->shutting_down)
		return;
	for (i = 0; i < master->nworkers; i++)
		if (child_alive(&master->workers[i]))
			return;
	/* authd stays until the last worker has reported its sessions. */
	if (child_alive(&master->authd)) {
		ipc_send(master->authd.ipc, IMSG_SHUTDOWN, 0, -1, NULL, 0);
		return;
	}
	control_close();
	log_info("exiting");
	exit(0);
}

static void
master_kill_all(evutil_socket_t fd, short what, void *arg)
{
	int	 i;

	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("drain time is over: killing the remaining children");
	for (i = 0; i < master->nworkers; i++)
		if (child_alive(&master->workers[i]))
			kill(master->workers[i].pid, SIGKILL);
	if (child_alive(&master->authd))
		kill(master->authd.pid, SIGKILL);
}

static void
master_shutdown(void)
{
	struct listener	*l;
	int		 i;

	if (master->shutting_down)
		return;
	master->shutting_down = 1;
	log_info("shutting down");
	/* Stop accepting at once: our copies of the listeners go too. */
	TAILQ_FOREACH(l, &master->conf->listeners, entry) {
		close(l->fd);
		l->fd = -1;
	}
	for (i = 0; i < master->nworkers; i++) {
		if (master->workers[i].ev_restart)
			evtimer_del(master->workers[i].ev_restart);
		if (child_alive(&master->workers[i]))
			ipc_send(master->workers[i].ipc, IMSG_SHUTDOWN, 0, -1,
			    NULL, 0);
	}
	if (master->authd.ev_restart)
		evtimer_del(master->authd.ev_restart);
	master->ev_kill = evtimer_new(master->base, master_kill_all, NULL);
	evtimer_add(master->ev_kill, (&(struct timeval){
	    master->conf->g.drain_timeout + 2, 0 }));
	master_maybe_exit();
}

static void
master_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGHUP:
		log_info("reload requested");
		if (!master->shutting_down)
			master_reload();
		break;
	case SIGTERM:
	case SIGINT:
		master_shutdown();
		break;
	case SIGCHLD:
		child_reap();
		break;
	}
}

/* Lines from the children's stderr go to syslog with their priority. */
static void
master_logpipe_read(evutil_socket_t fd, short what, void *arg)
{
	static char	 buf[8192];
	static size_t	 len;
	char		*nl, *line;
	ssize_t		 n;
	int		 pri;

	(void)what;
	(void)arg;
	if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
		return;
	len += n;
	buf[len] = '\0';
	while ((nl = memchr(buf, '\n', len)) != NULL || len == sizeof(buf) - 1) {
		if (nl)
			*nl = '\0';
		line = buf;
		pri = LOG_INFO;
		if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
		    line[2] == '>') {
			pri = line[1] - '0';
			line += 3;
		}
		/* No child may page the whole machine (LOG_EMERG, LOG_ALERT). */
		if (pri < LOG_CRIT)
			pri = LOG_CRIT;
		syslog(pri, "%s", line);
		n = nl ? nl + 1 - buf : (ssize_t)len;
		memmove(buf, buf + n, len - n);
		len -= n;
		buf[len] = '\0';
	}
}

static int	 logpipe[2] = { -1, -1 };

void
master_logpipe_open(void)
{
	if (pipe2(logpipe, O_CLOEXEC) == -1)
		fatal("pipe");
	if (dup2(logpipe[1], STDERR_FILENO) == -1)
		fatal("dup2");
}

static void
master_logpipe_watch(void)
{
	struct event	*ev;

	if (logpipe[0] == -1)
		return;
	ev = event_new(master->base, logpipe[0], EV_READ | EV_PERSIST,
	    master_logpipe_read, NULL);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch the log pipe");
}

static void
master_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };
	struct event	*ev;
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(master->base, sigs[i], master_signal, NULL);
		if (ev == NULL || evsignal_add(ev, NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
	}
}

static void
master_slot(int i)
{
	struct child	*ch = &master->workers[i];

	memset(ch, 0, sizeof(*ch));
	ch->type = PROC_WORKER;
	ch->id = i;
	snprintf(ch->name, sizeof(ch->name), "worker%d", i);
}

static void
master_start(void)
{
	int	 i;

	master->nworkers = master->conf->g.prefork;
	if ((master->load_fd = load_create()) == -1)
		log_warn("load page: workers will not balance accepts");
	master->authd.type = PROC_AUTHD;
	master->authd.id = -1;
	strlcpy_(master->authd.name, "authd", sizeof(master->authd.name));
	child_spawn(&master->authd);
	for (i = 0; i < master->nworkers; i++) {
		master_slot(i);
		child_spawn(&master->workers[i]);
	}
}

static int
child_role(const char *role, int id, int topipe, int verbose)
{
	log_init(1, verbose);
	if (topipe)
		log_pipe();
	if (strcmp(role, "authd") == 0)
		return authd_main(id, verbose);
	if (strcmp(role, "worker") == 0)
		return worker_main(id, verbose);
	fatalx("unknown role %s", role);
}

/* -D name=value: the file refers to it as ${name}. */
static void
master_define(const char *def)
{
	char		 name[128];
	const char	*eq = strchr(def, '=');

	if (eq == NULL || eq == def || (size_t)(eq - def) >= sizeof(name)) {
		fprintf(stderr, "vncrelayd: -D wants macro=value\n");
		exit(1);
	}
	memcpy(name, def, eq - def);
	name[eq - def] = '\0';
	if (setenv(name, eq + 1, 1) == -1) {
		perror("vncrelayd: setenv");
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	const char	*conffile = VNCRELAYD_CONF, *role = NULL;
	int		 ch, debug = 0, noaction = 0, verbose = 0, id = 0;
	int		 topipe = 0;
	ssize_t		 n;

	while ((ch = getopt(argc, argv, "D:df:I:LnP:v")) != -1) {
		switch (ch) {
		case 'D':
			master_define(optarg);
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'I':
			id = atoi(optarg);
			break;
		case 'L':
			topipe = 1;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'P':
			role = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (role)
		return child_role(role, id, topipe, verbose);

	if ((master = calloc(1, sizeof(*master))) == NULL) {
		perror("vncrelayd");
		exit(1);
	}
	/* argv is about to become the process title: keep a copy. */
	if ((master->conffile = strdup(conffile)) == NULL) {
		perror("vncrelayd");
		exit(1);
	}
	master->foreground = debug;
	master->verbose = verbose;
	if ((master->conf = parse_config(conffile, noaction)) == NULL) {
		fprintf(stderr, "%s\n", parse_lasterror());
		exit(1);
	}
	if (noaction) {
		printf("configuration OK\n");
		exit(0);
	}
	if ((n = readlink("/proc/self/exe", master->self,
	    sizeof(master->self) - 1)) == -1) {
		perror("vncrelayd: /proc/self/exe");
		exit(1);
	}
	master->self[n] = '\0';
	master->conf->gen = master->last_gen = 1;
	log_init(debug, verbose);
	log_procname("master");
	if (!debug && daemon(0, 0) == -1)
		fatal("daemon");
	if (!debug)
		master_logpipe_open();
	proctitle_init(argc, argv);
	proctitle_set("vncrelayd: master");
	gettimeofday(&master->boot, NULL);
	log_info("startup version=%s workers=%d", VNCRELAYD_VERSION,
	    master->conf->g.prefork);
	if (geteuid() != 0)
		log_warnx("WARNING: running without root: chroot and setuid "
		    "are skipped, children keep this user's rights");
	master_dirs(master->conf);
	if (listen_open(master->conf, NULL) == -1)
		fatalx("cannot open the listeners");
	master_drop_caps();
	if ((master->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	master->ev_reload_timeout = evtimer_new(master->base,
	    master_reload_timeout, NULL);
	master_signals();
	master_logpipe_watch();
	bearer_watch();
	if (control_open(master->conf) == -1)
		log_warnx("control socket %s not available",
		    master->conf->g.control_socket);
	master_start();
	event_base_dispatch(master->base);
	return 0;
}
