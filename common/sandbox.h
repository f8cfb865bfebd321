/*
 * Privilege drop and the seccomp sandbox, behind two calls: prepare
 * builds the filter while the process can still read what it needs, enter
 * drops everything in one fixed order and loads the filter last.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include "vncrelayd.h"

struct sandbox;

struct sandbox	*sandbox_prepare(enum proc_type);
void		 sandbox_enter(struct sandbox *, const char *, const char *);

#endif
