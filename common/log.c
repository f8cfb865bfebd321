/*
 * Logging for every process.  Lines are "proc: message"; with -d they go
 * to stderr, otherwise to syslog with the daemon facility.  Verbosity 0
 * logs warnings and info, 1 adds debug lines, 2 adds everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_topipe;	/* a child whose stderr the master syslogs */
static int	 log_verbose;
static char	 log_proc[32] = "vncrelayd";

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("vncrelayd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/*
 * A child of a daemonised master writes "<priority>line" to the pipe the
 * master gave it as stderr; the master passes each line to syslog.  So no
 * sandboxed process ever needs a socket to /dev/log.
 */
void
log_pipe(void)
{
	log_foreground = 1;
	log_topipe = 1;
}

void
log_procname(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
}

const char *
log_getprocname(void)
{
	return log_proc;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static const char *prio[8] = {
	"0>", "1>", "2>", "3>", "4>", "5>", "6>", "7>"
};

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	 msg[2048];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		/* One write(2) per line, so lines of several processes never mix. */
		char	 line[2200];
		int	 n;

		n = snprintf(line, sizeof(line), "%s%s%s: %s%s%s\n",
		    log_topipe ? "<" : "", log_topipe ? prio[pri & 7] : "",
		    log_proc, msg, suffix ? ": " : "", suffix ? suffix : "");
		/* A cut line still ends in a newline, and holds no NUL. */
		if (n >= (int)sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (write(STDERR_FILENO, line, n) == -1)
			(void)0;
	} else
		syslog(pri, "%s: %s%s%s", log_proc, msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	 e[128];

	snprintf(e, sizeof(e), "%s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, e);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 e[128];

	snprintf(e, sizeof(e), "%s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, e);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
