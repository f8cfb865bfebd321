/*
 * vncrelayctl: talks to vncrelayd's control socket.  It sends the command
 * words as one line and prints the JSON answer, as it is with -j or as
 * "key: value" lines for people.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vncrelayd.h"

#define CTL_ANSWER_MAX	(16 * 1024 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: vncrelayctl [-j] [-s socket] command [arg ...]\n"
	    "commands: show summary | show sessions | show targets | reload |\n"
	    "          log verbose|brief | kill session ID |\n"
	    "          token TARGET [-t ttl] [-u user]\n");
	exit(1);
}

static void
print_value(const char *key, json_t *v, int indent)
{
	const char	*k;
	json_t		*e;
	size_t		 i;
	char		*s;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (key)
			printf("%*s%s:\n", indent, "", key);
		json_object_foreach(v, k, e)
			print_value(k, e, key ? indent + 2 : indent);
		break;
	case JSON_ARRAY:
		printf("%*s%s:\n", indent, "", key ? key : "-");
		json_array_foreach(v, i, e) {
			s = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
			printf("%*s%s\n", indent + 2, "", s ? s : "?");
			free(s);
		}
		break;
	case JSON_STRING:
		printf("%*s%s: %s\n", indent, "", key, json_string_value(v));
		break;
	default:
		s = json_dumps(v, JSON_ENCODE_ANY);
		printf("%*s%s: %s\n", indent, "", key, s ? s : "?");
		free(s);
		break;
	}
}

/* A string field of e, or "-" when the daemon sent none. */
static const char *
field(json_t *e, const char *key)
{
	const char	*v = json_string_value(json_object_get(e, key));

	return v ? v : "-";
}

/* show sessions, for people: one line a session, the rest as usual. */
static void
print_sessions(json_t *j)
{
	json_t		*list = json_object_get(j, "sessions"), *e, *v;
	const char	*k;
	char		 since[32];
	struct tm	 tm;
	time_t		 t;
	size_t		 i;

	printf("%-10s %-8s %-16s %-20s %-12s %-12s %-20s %12s %12s\n", "ID",
	    "WORKER", "CLIENT", "ROUTE", "TARGET", "USER", "SINCE", "IN", "OUT");
	json_array_foreach(list, i, e) {
		t = (time_t)json_integer_value(json_object_get(e, "since"));
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			strcpy(since, "-");
		printf("%-10lld %-8s %-16s %-20s %-12s %-12s %-20s %12lld %12lld\n",
		    (long long)json_integer_value(json_object_get(e, "id")),
		    field(e, "worker"), field(e, "client"), field(e, "route"),
		    field(e, "target"), field(e, "user"), since,
		    (long long)json_integer_value(json_object_get(e, "bytes_in")),
		    (long long)json_integer_value(json_object_get(e,
		    "bytes_out")));
	}
	json_object_foreach(j, k, v)
		if (strcmp(k, "sessions") != 0)
			print_value(k, v, 0);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		errx(1, "%s: path too long", path);
	strcpy(sun.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "%s", path);
	return s;
}

int
main(int argc, char *argv[])
{
	const char	*path = VNCRELAYD_SOCKET;
	char		 line[1024], *buf;
	json_t		*j, *e;
	json_error_t	 jerr;
	size_t		 len = 0;
	ssize_t		 n, w;
	int		 ch, i, s, raw = 0;

	while ((ch = getopt(argc, argv, "+js:")) != -1) {
		switch (ch) {
		case 'j':
			raw = 1;
			break;
		case 's':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	line[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (strchr(argv[i], '\n') || strlen(line) + strlen(argv[i]) + 2 >
		    sizeof(line))
			errx(1, "command too long");
		strcat(line, argv[i]);
		strcat(line, i + 1 < argc ? " " : "\n");
	}
	/*
	 * A daemon that refuses us answers why and closes at once: the
	 * write may then fail, and the answer is still there to read.
	 */
	signal(SIGPIPE, SIG_IGN);
	s = ctl_connect(path);
	if ((w = write(s, line, strlen(line))) != (ssize_t)strlen(line) &&
	    !(w == -1 && errno == EPIPE))
		err(1, "write");
	/* The longest answer is a full session list. */
	if ((buf = malloc(CTL_ANSWER_MAX)) == NULL)
		err(1, NULL);
	while (len < CTL_ANSWER_MAX - 1 && (n = read(s, buf + len,
	    CTL_ANSWER_MAX - 1 - len)) > 0)
		len += n;
	close(s);
	buf[len] = '\0';
	if ((j = json_loads(buf, 0, &jerr)) == NULL)
		errx(1, "no answer from vncrelayd");
	if ((e = json_object_get(j, "error")) != NULL) {
		fprintf(stderr, "vncrelayctl: %s\n", json_string_value(e));
		json_decref(j);
		free(buf);
		return 1;
	}
	if (raw)
		printf("%s", buf);
	else if (json_is_array(json_object_get(j, "sessions")))
		print_sessions(j);
	else
		print_value(NULL, j, 0);
	json_decref(j);
	free(buf);
	return 0;
}
