/*
 * The life of a child: it starts as root with only its channel to the
 * master, receives its configuration, enters the sandbox on the first
 * commit, and from then on runs its event loop.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

struct proc_state	*ps;

static void
proc_master_closed(struct ipc *ipc, void *arg)
{
	(void)ipc;
	(void)arg;
	if (ps->proc->master_gone)
		ps->proc->master_gone();
	exit(0);
}

static void
proc_commit(uint32_t gen)
{
	struct conf	*old = ps->conf;

	if (ps->staging == NULL || ps->staging->gen != gen) {
		log_warnx("commit of unknown configuration %u", gen);
		return;
	}
	ps->conf = ps->staging;
	ps->staging = NULL;
	ps->proc->apply(ps->conf, old);
	if (old == NULL) {
		sandbox_enter(ps->sandbox, ps->proc->type == PROC_AUTHD ?
		    ps->conf->g.authd_root : ps->conf->g.webroot,
		    ps->conf->g.user);
		ps->sandbox = NULL;
		log_info("ready");
	} else {
		log_debug("configuration %u in force", gen);
		conf_free(old);
	}
}

static int
proc_dispatch_conf(struct ipc_msg *m)
{
	switch (m->hdr.type) {
	case IMSG_CONF_BEGIN:
		conf_free(ps->staging);
		if ((ps->staging = conf_new()) == NULL)
			fatal("conf_new");
		ps->staging->gen = m->hdr.peerid;
		return 0;
	case IMSG_CONF_END:
		if (ps->staging == NULL || ps->staging->gen != m->hdr.peerid)
			return -1;
		return ipc_send(ps->master, IMSG_CONF_ACK, m->hdr.peerid, -1,
		    NULL, 0);
	case IMSG_CONF_COMMIT:
		proc_commit(m->hdr.peerid);
		return 0;
	case IMSG_CONF_ABORT:
		conf_free(ps->staging);
		ps->staging = NULL;
		return 0;
	default:
		if (ps->staging == NULL)
			return -1;
		return conf_recv(ps->staging, m);
	}
}

static int
proc_dispatch_master(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	int	 v;

	(void)ipc;
	(void)arg;
	if (m->hdr.type >= IMSG_CONF_BEGIN && m->hdr.type <= IMSG_CONF_ABORT &&
	    m->hdr.type != IMSG_CONF_ACK) {
		if (proc_dispatch_conf(m) == -1)
			fatalx("bad configuration message %u from the master",
			    m->hdr.type);
		return 0;
	}
	if (m->hdr.type == IMSG_CTL_VERBOSE) {
		if (ipc_get(m, &v, sizeof(v)) == 0)
			log_setverbose(v);
		return 0;
	}
	return ps->proc->dispatch_master(m);
}

void
proc_start(const struct proc *proc, int id, int verbose)
{
	char	 name[32];

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		fatal("calloc");
	ps->proc = proc;
	ps->id = id;
	if (proc->type == PROC_WORKER)
		snprintf(name, sizeof(name), "worker%d", id);
	else
		snprintf(name, sizeof(name), "%s", proc->title);
	log_procname(name);
	log_setverbose(verbose);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	/* OpenSSL reads its own files now, while it still can. */
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_LOAD_CONFIG, NULL);
	if ((ps->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ps->master = ipc_new(ps->base, CHILD_FD_MASTER, -1,
	    proc_dispatch_master, proc_master_closed, NULL);
	if (ps->master == NULL)
		fatalx("no channel to the master");
	ps->sandbox = sandbox_prepare(proc->type);
}

void
proc_run(void)
{
	event_base_dispatch(ps->base);
}
