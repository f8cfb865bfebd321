/*
 * The log for fuzz harnesses: every line is formatted, as the daemon would,
 * so that a format that reads past a fuzzed string still trips the
 * sanitizers, and then dropped, so that a run of millions of inputs is not
 * a run of millions of lines.  fatal() from fuzzed input is a bug of the
 * code under test: it aborts, and libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int	 fuzz_verbose;

static void
fuzz_vlog(const char *fmt, va_list ap)
{
	char	 line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
}

void
log_init(int foreground, int verbose)
{
	(void)foreground;
	fuzz_verbose = verbose;
}

void
log_procname(const char *name)
{
	(void)name;
}

void
log_pipe(void)
{
}

void
log_setverbose(int v)
{
	fuzz_verbose = v;
}

const char *
log_getprocname(void)
{
	return "fuzz";
}

int
log_getverbose(void)
{
	return fuzz_verbose;
}

#define FUZZ_LOG(name)							\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	fuzz_vlog(fmt, ap);						\
	va_end(ap);							\
}
FUZZ_LOG(log_warn)
FUZZ_LOG(log_warnx)
FUZZ_LOG(log_info)
FUZZ_LOG(log_debug)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s: fatal() reached from fuzzed input\n",
	    strerror(errno));
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": fatalx() reached from fuzzed input\n");
	abort();
}
