/*
 * What authd and the workers share as children of the master: the
 * channel at descriptor 3, configuration transactions, the sandbox.
 */
#ifndef PROC_H
#define PROC_H

#include <event2/event.h>
#include "conf.h"
#include "ipc.h"

struct proc {
	const char	*title;
	enum proc_type	 type;
	/* Switches to a committed configuration; old is NULL the first time. */
	void		(*apply)(struct conf *, struct conf *);
	/* Messages from the master other than configuration. */
	int		(*dispatch_master)(struct ipc_msg *);
	/* The master has gone: the process must end. */
	void		(*master_gone)(void);
};

struct proc_state {
	const struct proc	*proc;
	int			 id;
	struct event_base	*base;
	struct ipc		*master;
	struct conf		*conf;
	struct conf		*staging;
	struct sandbox		*sandbox;
};

extern struct proc_state	*ps;

void	proc_start(const struct proc *, int, int);
void	proc_run(void);

#endif
