/*
 * authd: holds every secret and decides every console request.
 */
#ifndef AUTHD_H
#define AUTHD_H

#include <sys/queue.h>
#include <time.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "ipc.h"

struct wchan {
	int			 id;
	struct ipc		*ipc;
	int			 early_fd;	/* channel before the first config */
	uint32_t		 gen;		/* channels this slot has had */
	int			 claimed;	/* sent IMSG_CLAIMS_DONE */
};

/* One request between the worker's question and authd's answer. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 worker;
	uint32_t		 chan_gen;	/* wchans[worker].gen when asked */
	struct auth_req		 req;
	struct auth_resp	 resp;
	int			 fd;
	struct event		*ev;
	int			 acquired;	/* holds a limits slot */
	uint32_t		 unix_id;
	char			 route[PATTERN_LEN];

	/* A WebSocket upstream: which one, and the credentials used. */
	int			 backend;	/* enum backend_kind */
	char			 upstream[NAME_LEN];
	int			 retried;	/* credentials renewed once */
	uint32_t		 cred_gen;
	struct timespec		 connect_started;
};

TAILQ_HEAD(pendings, pending);

/* authd.c */
void	authd_reply(struct pending *, enum err_code);
void	pending_free(struct pending *);
int	pendings_drop_worker(struct pendings *, int);
void	authd_open_channel(int, int);
void	authd_handback_in(void);
extern struct wchan	 wchans[MAX_WORKERS];

/* decide.c */
void	decide_configure(struct conf *, int);
void	decide(struct pending *);
void	decide_release(int, uint32_t);
void	decide_release_worker(int);
int	decide_replay_batch(struct ipc_msg *);
void	decide_replay_channel(int);
void	decide_claim(int, struct session_claim *);
void	decide_connect(struct pending *, const char *, uint16_t);

struct token_keys;
const struct token_keys *decide_keys(void);

/* issue.c */
void	issue_api(struct wchan *, struct api_req *);
void	issue_ctl(struct ctl_token *);

/* upstream.c */
void	upstream_configure(struct conf *);
SSL_CTX	*upstream_ctx(const char *);
void	upstream_start(struct pending *);
void	upstream_keep(struct pending *);
void	upstream_release(int, uint32_t);
void	upstream_release_worker(int);
int	upstream_retry(int, struct upstream_retry *);
void	upstream_ws(struct pending *, int, int, const char *, const char *,
	    const char *);
int	upstream_header(struct pending *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* prism.c */
void	prism_configure(struct conf *);
void	prism_start(struct pending *);
void	prism_retry(struct pending *, int);

/* kubevirt.c */
void	kubevirt_start(struct pending *);
void	kubevirt_retry(struct pending *, int);
int	kubevirt_bearer(struct ipc_msg *);

/* measure.c */
void	measure_decision(enum err_code);
void	measure_start(struct timespec *);
void	measure_observe(enum latency_metric, const char *, uint64_t);
void	measure_latency(enum latency_metric, const char *,
	    const struct timespec *);

/* connect.c */
void	connect_start(struct pending *, const struct sockaddr *, socklen_t,
	    int);
void	connect_cancel_worker(int);
void	connect_unix_start(struct pending *, const char *);
int	connect_unix_done(struct ipc_msg *);

#endif
