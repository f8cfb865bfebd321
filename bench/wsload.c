/*
 * wsload: the load client of make bench.  It speaks raw TCP, ws:// and
 * wss:// to a proxy in front of benchup (bench/upstream.c), or to benchup
 * itself, and prints one line of key=value results.
 *
 *	wsload -m MODE (-u ws[s]://HOST:PORT/PATH | -r HOST:PORT) [options]
 *
 * Modes:
 *	down		-n sessions download -b bytes in all, at once
 *	up		-n sessions upload -b bytes in all, in -f byte frames
 *	echo		-c round trips of 64-byte messages, one at a time
 *	hold		-n sessions opened one after the other and held; the
 *			proxy's memory before and after, then an echo on
 *			every session to show that all are still served
 *	handshake	-j threads open sessions for -t seconds (or -c in
 *			all), each a new connection, TLS handshake (no
 *			resumption), upgrade with a fresh token, greeting
 *
 * Options: -k keyfile, -K kid, -T target sign an HS256 token for each
 * upgrade; -p pid names the proxy, whose process tree's CPU time (and in
 * hold mode memory) is measured; -V checks every byte against the
 * pattern; -w seconds bounds the whole run.
 */
#include <sys/types.h>
#include <sys/resource.h>

#include <err.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pattern.h"
#include "wsload.h"

#define RBUF_BULK	(1024 * 1024)
#define RBUF_SMALL	4096
#define TLS_RBUF	(128 * 1024)
#define ECHO_LEN	64
#define ECHO_WARMUP	200
#define MAX_SESSIONS	20000
#define MAX_THREADS	64
#define MAX_COUNT	10000000

enum mode { M_NONE, M_DOWN, M_UP, M_ECHO, M_HOLD, M_HANDSHAKE };

struct opts {
	enum mode	 mode;
	uint64_t	 bytes;
	int		 sessions;
	long		 count;
	double		 seconds;
	int		 threads;
	size_t		 frame;
	pid_t		 proxy;
	int		 verify;
	int		 bound;
};

struct job {
	pthread_t	 th;
	struct wsconn	*c;
	uint64_t	 bytes;
	int		 ok;
	double		 end;
	long		 done, failed;
	char		 why[256];
};

static struct opts		 o = {
	.mode = M_NONE, .bytes = 1 << 20, .sessions = 1, .count = 10000,
	.seconds = 2, .threads = 4, .frame = 65536, .bound = 300,
};
static struct endpoint		 ep;
static struct signer		 signer;
static const uint8_t		*pattern;
static pthread_barrier_t	 ready, go;
static atomic_long		 hs_left;
static double			 hs_deadline;

static void
usage(void)
{
	fprintf(stderr, "usage: wsload -m down|up|echo|hold|handshake "
	    "(-u ws[s]://host:port/path | -r host:port)\n"
	    "\t[-b bytes] [-n sessions] [-c count] [-t seconds] [-j threads]\n"
	    "\t[-f frame] [-k keyfile [-K kid] [-T target]] [-p pid] [-V] "
	    "[-w seconds]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
parse_size(const char *s)
{
	char		*end;
	uint64_t	 v;

	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K':
		return v << 10;
	case 'M':
		return v << 20;
	case 'G':
		return v << 30;
	case '\0':
		return v;
	default:
		errx(2, "bad size %s", s);
	}
}

static void
tree(struct treestat *t, int memory)
{
	if (o.proxy == 0 || proctree_stat(o.proxy, t, memory) == -1)
		memset(t, 0, sizeof(*t));
}

/* What the proxy spent on the data just moved, as key=value fields. */
static void
print_cpu(const struct treestat *a, const struct treestat *b, uint64_t bytes)
{
	double	cpu = b->cpu - a->cpu;

	if (o.proxy == 0)
		return;
	printf(" proxy_cpu=%.3f cpu_per_gib=%.3f", cpu,
	    cpu / ((double)bytes / (1 << 30)));
}

static void
print_cipher(struct wsconn *c)
{
	if (c != NULL && c->ssl != NULL)
		printf(" cipher=%s", SSL_get_cipher_name(c->ssl));
}

static void *
down_thread(void *arg)
{
	struct job	*j = arg;
	const uint8_t	*p;
	uint64_t	 got = 0;
	ssize_t		 n;
	int		 bad = 0;

	j->c = conn_open(&ep, &signer, RBUF_BULK, j->why, sizeof(j->why));
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	if (j->c == NULL)
		return NULL;
	if (conn_request(j->c, 'D', j->bytes) == -1) {
		snprintf(j->why, sizeof(j->why), "cannot send the request");
		return NULL;
	}
	while (got < j->bytes && (n = conn_recv(j->c, &p)) > 0) {
		if (o.verify && !bad && !pattern_check(p, n, got))
			bad = 1;
		got += n;
	}
	j->end = now();
	if (got != j->bytes || bad)
		snprintf(j->why, sizeof(j->why), "got %llu of %llu bytes%s",
		    (unsigned long long)got, (unsigned long long)j->bytes,
		    bad ? ", not the pattern" : "");
	else
		j->ok = 1;
	return NULL;
}

/* Frames of o.frame bytes, masked while copied, then the sink's answer. */
static void *
up_thread(void *arg)
{
	struct job	*j = arg;
	uint64_t	 sent = 0;
	size_t		 n;
	char		 ack;

	j->c = conn_open(&ep, &signer, RBUF_SMALL, j->why, sizeof(j->why));
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	if (j->c == NULL)
		return NULL;
	if (conn_request(j->c, 'S', j->bytes) == -1)
		goto fail;
	for (; sent < j->bytes; sent += n) {
		n = j->bytes - sent < o.frame ? j->bytes - sent : o.frame;
		if (conn_send(j->c, pattern + sent % PATTERN_PERIOD, n) == -1)
			goto fail;
	}
	if (conn_recv_exact(j->c, &ack, 1) == -1)
		goto fail;
	j->end = now();
	if (ack != 'K') {
		snprintf(j->why, sizeof(j->why), "the upstream saw other "
		    "bytes than were sent");
		return NULL;
	}
	j->ok = 1;
	return NULL;
fail:
	snprintf(j->why, sizeof(j->why), "upload cut off after %llu bytes",
	    (unsigned long long)sent);
	return NULL;
}

/* down and up: every session connected, then all start at once. */
static int
run_bulk(void *(*fn)(void *), const char *name)
{
	struct job	*jobs;
	struct treestat	 a, b;
	double		 t0, t1 = 0;
	int		 i, ok = 1;

	if ((jobs = calloc(o.sessions, sizeof(*jobs))) == NULL)
		err(1, "calloc");
	pthread_barrier_init(&ready, NULL, o.sessions + 1);
	pthread_barrier_init(&go, NULL, o.sessions + 1);
	for (i = 0; i < o.sessions; i++) {
		jobs[i].bytes = o.bytes / o.sessions +
		    (i == 0 ? o.bytes % o.sessions : 0);
		if (pthread_create(&jobs[i].th, NULL, fn, &jobs[i]) != 0)
			err(1, "pthread_create");
	}
	pthread_barrier_wait(&ready);
	tree(&a, 0);
	t0 = now();
	pthread_barrier_wait(&go);
	for (i = 0; i < o.sessions; i++) {
		pthread_join(jobs[i].th, NULL);
		if (!jobs[i].ok) {
			fprintf(stderr, "wsload: session %d: %s\n", i,
			    jobs[i].why);
			ok = 0;
		}
		if (jobs[i].end > t1)
			t1 = jobs[i].end;
	}
	tree(&b, 0);
	if (ok) {
		printf("wsload: mode=%s sessions=%d bytes=%llu seconds=%.4f "
		    "gbps=%.4f verified=%s", name, o.sessions,
		    (unsigned long long)o.bytes, t1 - t0,
		    o.bytes / (t1 - t0) / 1e9,
		    o.verify || fn == up_thread ? "yes" : "off");
		print_cpu(&a, &b, o.bytes);
		print_cipher(jobs[0].c);
		printf("\n");
	}
	for (i = 0; i < o.sessions; i++)
		conn_close(jobs[i].c, 1);
	free(jobs);
	return ok ? 0 : 1;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, long n, double p)
{
	long	i = (long)(p * (n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

static int
run_echo(void)
{
	struct wsconn	*c;
	double		*rtt, t;
	uint8_t		 back[ECHO_LEN];
	char		 why[256];
	long		 i;

	if ((rtt = calloc(o.count, sizeof(*rtt))) == NULL)
		err(1, "calloc");
	if ((c = conn_open(&ep, &signer, RBUF_SMALL, why, sizeof(why))) ==
	    NULL)
		errx(1, "%s", why);
	if (conn_request(c, 'E', 0) == -1)
		errx(1, "cannot send the request");
	for (i = -ECHO_WARMUP; i < o.count; i++) {
		t = now();
		if (conn_send(c, pattern + (i & 127), ECHO_LEN) == -1 ||
		    conn_recv_exact(c, back, ECHO_LEN) == -1)
			errx(1, "echo %ld: connection lost", i);
		t = now() - t;
		if (memcmp(back, pattern + (i & 127), ECHO_LEN) != 0)
			errx(1, "echo %ld: other bytes came back", i);
		if (i >= 0)
			rtt[i] = t * 1e6;
	}
	qsort(rtt, o.count, sizeof(*rtt), cmp_double);
	printf("wsload: mode=echo count=%ld p50_us=%.1f p90_us=%.1f "
	    "p99_us=%.1f max_us=%.1f", o.count, pct(rtt, o.count, 0.5),
	    pct(rtt, o.count, 0.9), pct(rtt, o.count, 0.99),
	    rtt[o.count - 1]);
	print_cipher(c);
	printf("\n");
	conn_close(c, 1);
	free(rtt);
	return 0;
}

/* Every held session: one echo of 8 bytes, all sent before any is read. */
static int
hold_check(struct wsconn **cs, int n)
{
	uint8_t	msg[REQ_LEN + 8], back[8];
	int	i, served = 0;

	memset(msg, 0, sizeof(msg));
	msg[0] = 'E';
	for (i = 0; i < n; i++) {
		memcpy(msg + REQ_LEN, &i, sizeof(i));
		if (conn_send(cs[i], msg, sizeof(msg)) == -1) {
			conn_close(cs[i], 0);
			cs[i] = NULL;
		}
	}
	for (i = 0; i < n; i++) {
		if (cs[i] == NULL || conn_recv_exact(cs[i], back, 8) == -1)
			continue;
		memcpy(msg + REQ_LEN, &i, sizeof(i));
		if (memcmp(back, msg + REQ_LEN, 8) == 0)
			served++;
	}
	return served;
}

static int
run_hold(void)
{
	struct wsconn	**cs;
	struct treestat	  a, b;
	char		  why[256] = "";
	int		  i, opened = 0, served;

	if ((cs = calloc(o.sessions, sizeof(*cs))) == NULL)
		err(1, "calloc");
	tree(&a, 1);
	for (i = 0; i < o.sessions; i++) {
		cs[opened] = conn_open(&ep, &signer, RBUF_SMALL, why,
		    sizeof(why));
		if (cs[opened] == NULL) {
			fprintf(stderr, "wsload: session %d: %s\n", i, why);
			break;
		}
		opened++;
	}
	/* Let the proxy settle: lazy frees, TLS buffers given back. */
	sleep(2);
	tree(&b, 1);
	served = hold_check(cs, opened);
	printf("wsload: mode=hold sessions=%d opened=%d served=%d "
	    "procs=%d", o.sessions, opened, served, b.nprocs);
	if (o.proxy && opened > 0)
		printf(" rss_per_session=%.0f pss_per_session=%.0f "
		    "rss_total=%llu pss_total=%llu",
		    ((double)b.rss - a.rss) / opened,
		    ((double)b.pss - a.pss) / opened,
		    (unsigned long long)b.rss, (unsigned long long)b.pss);
	printf("\n");
	for (i = 0; i < opened; i++)
		conn_close(cs[i], 0);
	free(cs);
	return opened == o.sessions && served == opened ? 0 : 1;
}

static void *
handshake_thread(void *arg)
{
	struct job	*j = arg;
	struct wsconn	*c;

	while (now() < hs_deadline && atomic_fetch_sub(&hs_left, 1) > 0) {
		c = conn_open(&ep, &signer, RBUF_SMALL, j->why, sizeof(j->why));
		if (c == NULL) {
			j->failed++;
			continue;
		}
		j->done++;
		conn_close(c, 1);
	}
	j->end = now();
	return NULL;
}

static int
run_handshake(void)
{
	struct job	*jobs;
	struct treestat	 a, b;
	double		 t0, t1 = 0;
	long		 done = 0, failed = 0;
	int		 i;

	if ((jobs = calloc(o.threads, sizeof(*jobs))) == NULL)
		err(1, "calloc");
	atomic_store(&hs_left, o.count);
	tree(&a, 0);
	t0 = now();
	hs_deadline = t0 + o.seconds;
	for (i = 0; i < o.threads; i++)
		if (pthread_create(&jobs[i].th, NULL, handshake_thread,
		    &jobs[i]) != 0)
			err(1, "pthread_create");
	for (i = 0; i < o.threads; i++) {
		pthread_join(jobs[i].th, NULL);
		done += jobs[i].done;
		failed += jobs[i].failed;
		if (jobs[i].failed)
			fprintf(stderr, "wsload: %s\n", jobs[i].why);
		if (jobs[i].end > t1)
			t1 = jobs[i].end;
	}
	tree(&b, 0);
	printf("wsload: mode=handshake threads=%d sessions=%ld failed=%ld "
	    "seconds=%.3f rate=%.1f", o.threads, done, failed, t1 - t0,
	    done / (t1 - t0));
	if (o.proxy)
		printf(" proxy_cpu=%.3f", b.cpu - a.cpu);
	printf("\n");
	free(jobs);
	return failed == 0 && done > 0 ? 0 : 1;
}

static enum mode
parse_mode(const char *s)
{
	static const char	*names[] = { "", "down", "up", "echo", "hold",
	    "handshake" };
	size_t			 i;

	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
	return M_NONE;
}

static void
tls_setup(void)
{
	if ((ep.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		errx(1, "SSL_CTX_new failed");
	/* Every handshake a full one: no session cache, no tickets. */
	SSL_CTX_set_session_cache_mode(ep.ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ep.ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ep.ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ep.ctx, SSL_VERIFY_NONE, NULL);
	if (o.mode == M_DOWN)
		ep.tls_rbuf = TLS_RBUF;
}

static void
on_alarm(int sig)
{
	static const char msg[] = "wsload: error: run not done in time\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void
parse_args(int argc, char *argv[])
{
	const char	*url = NULL, *keyfile = NULL, *kid = "bench";
	const char	*target = "bench";
	int		 ch, raw = 0;

	while ((ch = getopt(argc, argv, "b:c:f:j:K:k:m:n:p:r:T:t:u:Vw:")) !=
	    -1) {
		switch (ch) {
		case 'b': o.bytes = parse_size(optarg); break;
		case 'c': o.count = strtol(optarg, NULL, 10); break;
		case 'f': o.frame = parse_size(optarg); break;
		case 'j': o.threads = (int)strtol(optarg, NULL, 10); break;
		case 'K': kid = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'm': o.mode = parse_mode(optarg); break;
		case 'n': o.sessions = (int)strtol(optarg, NULL, 10); break;
		case 'p': o.proxy = (pid_t)strtol(optarg, NULL, 10); break;
		case 'r': url = optarg; raw = 1; break;
		case 'T': target = optarg; break;
		case 't': o.seconds = strtod(optarg, NULL); break;
		case 'u': url = optarg; raw = 0; break;
		case 'V': o.verify = 1; break;
		case 'w': o.bound = (int)strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (argc != optind || o.mode == M_NONE || url == NULL ||
	    o.sessions < 1 || o.sessions > MAX_SESSIONS || o.count < 1 ||
	    o.count > MAX_COUNT || o.threads < 1 || o.threads > MAX_THREADS ||
	    o.frame < 1 || o.frame > (64 << 20) || o.bound < 1 ||
	    o.seconds <= 0 || o.bytes < (uint64_t)o.sessions)
		usage();
	if (endpoint_parse(&ep, url, raw) == -1)
		errx(2, "bad address %s", url);
	if (keyfile && signer_load(&signer, keyfile, kid, target) == -1)
		errx(2, "cannot read an HS256 key from %s", keyfile);
}

int
main(int argc, char *argv[])
{
	struct rlimit	rl;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(o.bound);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((pattern = pattern_new()) == NULL || !pattern_check(pattern, 1, 0))
		errx(1, "out of memory");
	if (ep.tls)
		tls_setup();
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (o.mode) {
	case M_DOWN:
		return run_bulk(down_thread, "down");
	case M_UP:
		return run_bulk(up_thread, "up");
	case M_ECHO:
		return run_echo();
	case M_HOLD:
		return run_hold();
	case M_HANDSHAKE:
		return run_handshake();
	default:
		usage();
	}
	return 2;
}
