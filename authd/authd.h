/*
 * authd: holds every secret and decides every console request.
 */
#ifndef AUTHD_H
#define AUTHD_H

#include <sys/queue.h>
#include <event2/event.h>

#include "conf.h"
#include "ipc.h"

struct wchan {
	int			 id;
	struct ipc		*ipc;
	int			 early_fd;	/* channel before the first config */
};

/* One request between the worker's question and authd's answer. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 worker;
	struct auth_req		 req;
	struct auth_resp	 resp;
	int			 fd;
	struct event		*ev;
	int			 acquired;	/* holds a limits slot */
	uint32_t		 unix_id;
	char			 route[PATTERN_LEN];
};

TAILQ_HEAD(pendings, pending);

/* authd.c */
void	authd_reply(struct pending *, enum err_code);
extern struct wchan	 wchans[MAX_WORKERS];

/* decide.c */
void	decide_configure(struct conf *, int);
void	decide(struct pending *);
void	decide_release(int, uint32_t);
void	decide_release_worker(int);
void	decide_replay_note(struct replay_note *);
void	decide_claim(int, struct session_claim *);

struct token_keys;
const struct token_keys *decide_keys(void);

/* issue.c */
void	issue_api(struct wchan *, struct api_req *);
void	issue_ctl(struct ctl_token *);

/* connect.c */
void	connect_start(struct pending *, const struct sockaddr *, socklen_t,
	    int);
void	connect_cancel_worker(int);
void	connect_unix_start(struct pending *, const char *);
int	connect_unix_done(struct ipc_msg *);

#endif
