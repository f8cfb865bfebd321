/*
 * What the unit tests share: ok() prints one TAP-like line per check,
 * tap_done() the closing "N tests, N failed" and the exit status.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>

static int	tap_ntest, tap_nfail;

static void __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_ntest++;
	if (!cond)
		tap_nfail++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int
tap_done(void)
{
	printf("%d tests, %d failed\n", tap_ntest, tap_nfail);
	return tap_nfail != 0;
}

#endif /* TAP_H */
