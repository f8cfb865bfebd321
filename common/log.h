/*
 * Logging: stderr in the foreground (-d), syslog(3) otherwise.  Every line
 * starts with the process name so that one log shows the whole daemon.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

/* The room log_value() needs for a string of n bytes with its NUL. */
#define LOG_VALUE_LEN(n)	(2 * (n) + 3)

void	log_init(int foreground, int verbose);
void	log_procname(const char *);
void	log_pipe(void);
void	log_setverbose(int);
const char *log_getprocname(void);
int	log_getverbose(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
const char *log_value(const char *, char *, size_t);
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
