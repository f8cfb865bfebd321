/*
 * libFuzzer harness: the configuration parser (master/parse.c and
 * libconfuse under it), through a file as the master reads one.
 *
 * The file is root's, so this is about robustness, not attack: whatever
 * it holds, -n and a reload must end in a configuration or in a message
 * naming the file, never in a crash, a hang or a leak.  Names to resolve
 * are looked up as numeric addresses only (the link wraps getaddrinfo),
 * so that fuzzing sends nothing to a resolver.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "fuzz.h"

int	__real_getaddrinfo(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **);
int	__wrap_getaddrinfo(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **);

int
__wrap_getaddrinfo(const char *host, const char *serv,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo	 h;

	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return __real_getaddrinfo(host, serv, &h, res);
}

static char	 path[] = "/tmp/fuzz_conf.XXXXXX";
static int	 fd = -1;

static void
remove_file(void)
{
	unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK((fd = mkstemp(path)) != -1);
	CHECK(atexit(remove_file) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c;
	const char	*err;

	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	if ((c = parse_config(path, 0)) != NULL) {
		CHECK(!TAILQ_EMPTY(&c->listeners));
		CHECK(c->g.prefork >= 1 && c->g.prefork <= MAX_WORKERS);
		conf_free(c);
		return 0;
	}
	/* A refusal names the file, so that -n can say where. */
	err = parse_lasterror();
	CHECK(err != NULL && strncmp(err, path, strlen(path)) == 0);
	return 0;
}
