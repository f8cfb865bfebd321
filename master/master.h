/*
 * The master: configuration, listeners, children, reload, control.
 */
#ifndef MASTER_H
#define MASTER_H

#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "ipc.h"

struct child {
	enum proc_type		 type;
	int			 id;		/* worker slot, -1 for authd */
	char			 name[24];
	pid_t			 pid;
	struct ipc		*ipc;
	uint32_t		 gen;		/* configuration it runs */
	uint32_t		 gen_sent;	/* configuration it was sent */
	uint32_t		 gen_acked;	/* ... and acknowledged */
	int			 ready;
	int			 retiring;	/* asked to stop; not restarted */
	int			 crashes;
	struct timeval		 started;
	struct event		*ev_restart;
	struct worker_stats	 stats;		/* its last report */
	struct stats_series	 series[STATS_SERIES_MAX];
	uint32_t		 slot[STATS_SERIES_MAX]; /* in the totals */
	uint64_t		 restarts;
	time_t			 page_second;	/* metrics pages it asked for */
	int			 pages;		/* ... in that second */
};

struct master {
	struct event_base	*base;
	struct conf		*conf;
	struct conf		*pending;
	const char		*conffile;
	char			 self[4096];
	int			 foreground;
	int			 verbose;
	int			 shutting_down;
	int			 nworkers;	/* slots in use */
	int			 load_fd;	/* the workers' page (load.c) */
	int			 waiting;	/* acks for pending */
	uint32_t		 last_gen;	/* never reused, aborted or not */
	struct child		 authd;
	struct child		 workers[MAX_WORKERS];
	struct event		*ev_reload_timeout;
	struct event		*ev_kill;
	struct timeval		 boot;
};

extern struct master	*master;

/* parse.c */
struct conf	*parse_config(const char *, int);
const char	*parse_lasterror(void);

/* child.c */
void		 child_spawn(struct child *);
void		 child_reap(void);
void		 child_channel(struct child *);
void		 child_send_conf(struct child *, struct conf *);
int		 child_alive(struct child *);
void		 master_dispatch_ack(struct child *, uint32_t);

/* listen.c */
int		 listen_open(struct conf *, struct conf *);
int		 listen_socket(const char *, int);

/* metrics.c */
void		 metrics_child_start(struct child *);
int		 metrics_worker(struct child *, struct ipc_msg *);
int		 metrics_authd(struct ipc_msg *);
void		 metrics_summary(struct worker_stats *);
void		 metrics_render(struct evbuffer *);
int		 metrics_request(struct child *, struct ipc_msg *);

/* remember.c */
void		 remember_add(struct replay_note *);
void		 remember_send(struct child *, uint32_t);
void		 remember_channel(struct child *);

/* bearer.c */
void		 bearer_watch(void);
int		 bearer_refresh(struct ipc_msg *);

/* control.c */
int		 control_open(struct conf *);
void		 control_close(void);
void		 control_token_reply(struct ctl_token *);
int		 control_session_list(struct child *, struct ipc_msg *);
void		 control_child_gone(struct child *);
int		 control_killed(struct child *, struct ipc_msg *);

/* main.c */
void		 master_maybe_exit(void);
void		 master_logpipe_open(void);

#endif
