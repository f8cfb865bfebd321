/*
 * The configuration as a process holds it: the master fills it from the
 * file, the children rebuild it from IPC messages.
 */
#ifndef CONF_H
#define CONF_H

#include <sys/queue.h>
#include "vncrelayd.h"

struct ipc;
struct ipc_msg;

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct conf_listen	 c;
	int			 fd;
};

struct route {
	TAILQ_ENTRY(route)	 entry;
	struct conf_route	 c;
};

struct target {
	TAILQ_ENTRY(target)	 entry;
	struct conf_target	 c;
};

struct key {
	TAILQ_ENTRY(key)	 entry;
	struct conf_key		 c;
};

struct prism {
	TAILQ_ENTRY(prism)	 entry;
	struct conf_prism	 c;
};

struct kubevirt {
	TAILQ_ENTRY(kubevirt)	 entry;
	struct conf_kubevirt	 c;
};

struct apikey {
	TAILQ_ENTRY(apikey)	 entry;
	struct conf_apikey	 c;
};

struct blob {
	TAILQ_ENTRY(blob)	 entry;
	struct conf_blob	 c;
	size_t			 len;
	uint8_t			*data;
	uint32_t		 renewed;	/* times authd replaced data */
};

struct conf {
	uint32_t		 gen;
	struct conf_global	 g;
	TAILQ_HEAD(, listener)	 listeners;
	TAILQ_HEAD(, route)	 routes;
	TAILQ_HEAD(, target)	 targets;
	TAILQ_HEAD(, key)	 keys;
	TAILQ_HEAD(, prism)	 prisms;
	TAILQ_HEAD(, kubevirt)	 kubevirts;
	TAILQ_HEAD(, apikey)	 apikeys;
	TAILQ_HEAD(, blob)	 blobs;
	int			 nroutes;
	int			 ntargets;
};

struct conf	*conf_new(void);
void		 conf_free(struct conf *);
int		 conf_recv(struct conf *, struct ipc_msg *);
int		 conf_send(struct ipc *, struct conf *, enum proc_type);
struct blob	*conf_blob_add(struct conf *, enum blob_kind, int, const char *,
		    const void *, size_t);
struct blob	*conf_blob_find(struct conf *, enum blob_kind, int, const char *);
struct target	*conf_target_find(struct conf *, const char *);
struct route	*conf_route_find(struct conf *, int);
struct prism	*conf_prism_find(struct conf *, const char *);
struct kubevirt	*conf_kubevirt_find(struct conf *, const char *);

/* util.c */
int		 cidr_parse(const char *, struct cidr *);
int		 cidr_match(const struct cidr *, int, const void *);
int		 addr_in_nets(const char *, const struct cidr *, int);
int		 addr_canonical(const char *, char *, size_t);
int		 listen_parse(const char *, struct sockaddr_storage *,
		    socklen_t *);
size_t		 strlcpy_(char *, const char *, size_t);
int		 pattern_valid(const char *, char *, size_t);
int		 addr_sockaddr(const char *, uint16_t, struct sockaddr_storage *,
		    socklen_t *);
int		 uuid_valid(const char *);
int		 dns_label_ok(const char *);
int		 dns_name_ok(const char *);
#define RFC3339_LEN	32
void		 time_rfc3339(time_t, char [RFC3339_LEN]);

#endif
