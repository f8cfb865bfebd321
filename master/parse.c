/*
 * Reading vncrelayd.conf with libconfuse.  Values are checked where they
 * are read, so an error names the line it is on; a section that is
 * incomplete is reported at its closing brace.  Secrets named by the file
 * (key files, password files) are read here, by the master, and travel to
 * authd only.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netdb.h>

#include <confuse.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tlscert.h"
#include "log.h"
#include "master.h"
#include "replay.h"

static char	 parse_error[1024];

static void
parse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	 msg[768];

	/* Only the first error counts; later ones are consequences. */
	if (parse_error[0] != '\0')
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg && cfg->filename && cfg->line > 0)
		snprintf(parse_error, sizeof(parse_error), "%s:%d: %s",
		    cfg->filename, cfg->line, msg);
	else if (cfg && cfg->filename)
		snprintf(parse_error, sizeof(parse_error), "%s: %s",
		    cfg->filename, msg);
	else
		snprintf(parse_error, sizeof(parse_error), "%s", msg);
}

/* Value callbacks run as the value is read: cfg->line is its line. */
static int
cb_listen_title(cfg_t *cfg, cfg_opt_t *opt)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	cfg_t			*sec;

	sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	if (listen_parse(cfg_title(sec), &ss, &len) == -1) {
		cfg_error(cfg, "invalid listen address \"%s\" (want "
		    "ADDRESS:PORT or [V6ADDRESS]:PORT)", cfg_title(sec));
		return -1;
	}
	if (cfg_getbool(sec, "tls") && (cfg_getstr(sec, "certificate") == NULL
	    || cfg_getstr(sec, "key") == NULL)) {
		cfg_error(cfg, "listen %s: tls needs certificate and key",
		    cfg_title(sec));
		return -1;
	}
	return 0;
}

static int
cb_cidr(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct cidr	 c;

	(void)opt;
	if (cidr_parse(value, &c) == -1) {
		cfg_error(cfg, "invalid network \"%s\"", value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

static int
cb_address(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	if (value[0] != '\0' && listen_parse(value, &ss, &len) == -1) {
		cfg_error(cfg, "invalid %s address \"%s\" (want ADDRESS:PORT "
		    "or [V6ADDRESS]:PORT)", opt->name, value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

/*
 * A cipher, TLS 1.3 suite or group list in which OpenSSL knows no name
 * would leave its listener without TLS in every worker: refused here, on
 * its line, with the running configuration kept on a reload.
 */
static int
cb_tls_list(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static SSL_CTX	*ctx;
	int		 ok;

	if (ctx == NULL && (ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		cfg_error(cfg, "cannot check %s: out of memory", opt->name);
		return -1;
	}
	if (strcmp(opt->name, "ciphers") == 0)
		ok = SSL_CTX_set_cipher_list(ctx, value);
	else if (strcmp(opt->name, "ciphersuites") == 0)
		ok = SSL_CTX_set_ciphersuites(ctx, value);
	else
		ok = SSL_CTX_set1_groups_list(ctx, value);
	ERR_clear_error();
	if (ok != 1) {
		cfg_error(cfg, "invalid %s \"%s\" (OpenSSL accepts none of it)",
		    opt->name, value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

static int
cb_enum(cfg_t *cfg, const char *what, const char *value,
    const char *const *names)
{
	int	 i;

	for (i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	cfg_error(cfg, "invalid %s \"%s\"", what, value);
	return -1;
}

static const char *const backend_names[] = { "tcp", "prism", "kubevirt", NULL };
static const char *const auth_names[] = { "token", "none", NULL };
static const char *const errors_names[] = { "http", "json", "reason", NULL };
static const char *const alg_names[] = { "HS256", "EdDSA", NULL };
static const char *const type_names[] = { "vnc", "spice", NULL };
static const char *const apiversion_names[] = { "v1", "v1alpha3", NULL };

/* Where a pod finds its service account. */
#define SA_DIR	"/var/run/secrets/kubernetes.io/serviceaccount"

#define ENUM_CB(fn, what, names)					\
static int								\
fn(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)	\
{									\
	(void)opt;							\
	if (cb_enum(cfg, what, value, names) == -1)			\
		return -1;						\
	*(const char **)result = value;					\
	return 0;							\
}
ENUM_CB(cb_backend, "backend", backend_names)
ENUM_CB(cb_auth, "auth mode", auth_names)
ENUM_CB(cb_errors, "error style", errors_names)
ENUM_CB(cb_alg, "algorithm", alg_names)
ENUM_CB(cb_type, "console type", type_names)
ENUM_CB(cb_apiversion, "api-version", apiversion_names)

static int
cb_port(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char	*end;
	long	 v;

	(void)opt;
	errno = 0;
	v = strtol(value, &end, 0);
	if (*value == '\0' || *end != '\0' || errno || v < 1 || v > 65535) {
		cfg_error(cfg, "invalid port \"%s\"", value);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

/* A number from min to max. */
static int
cb_range(cfg_t *cfg, cfg_opt_t *opt, const char *value, long min, long max,
    void *result)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(value, &end, 0);
	if (*value == '\0' || *end != '\0' || errno || v < min || v > max) {
		cfg_error(cfg, "invalid value \"%s\" for %s (want a number "
		    "from %ld to %ld)", value, opt->name, min, max);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int
cb_positive(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cb_range(cfg, opt, value, 0, INT_MAX, result);
}

static int
cb_replay_size(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cb_range(cfg, opt, value, 1, REPLAY_SIZE_MAX, result);
}

/* A WebSocket backend needs an upstream and the placeholder it fills. */
static int
cb_route_backend(cfg_t *cfg, cfg_t *sec)
{
	const char	*b = cfg_getstr(sec, "backend"), *t = cfg_title(sec);

	if (strcmp(b, "tcp") == 0)
		return 0;
	if (cfg_getstr(sec, "upstream")[0] == '\0') {
		cfg_error(cfg, "route \"%s\": backend %s needs upstream", t, b);
		return -1;
	}
	if (strcmp(b, "prism") == 0 && strstr(t, "{uuid}") == NULL) {
		cfg_error(cfg, "route \"%s\": backend prism needs {uuid} in "
		    "the path", t);
		return -1;
	}
	if (strcmp(b, "kubevirt") == 0 && strstr(t, "{vmi}") == NULL &&
	    strstr(t, "{name}") == NULL) {
		cfg_error(cfg, "route \"%s\": backend kubevirt needs {vmi} "
		    "in the path", t);
		return -1;
	}
	return 0;
}

static int
cb_pattern(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t	*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	char	 why[128];

	if (pattern_valid(cfg_title(sec), why, sizeof(why)) == -1) {
		cfg_error(cfg, "route \"%s\": %s", cfg_title(sec), why);
		return -1;
	}
	if (strlen(cfg_title(sec)) >= PATTERN_LEN) {
		cfg_error(cfg, "route pattern too long");
		return -1;
	}
	if (strstr(cfg_title(sec), "{ip}") && cfg_size(sec, "networks") == 0) {
		cfg_error(cfg, "route \"%s\": {ip} needs a networks list",
		    cfg_title(sec));
		return -1;
	}
	return cb_route_backend(cfg, sec);
}

static int
cb_target(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t	*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	int	 host = cfg_getstr(sec, "host") != NULL;
	int	 sock = cfg_getstr(sec, "socket") != NULL;

	if (host == sock) {
		cfg_error(cfg, "target \"%s\" needs exactly one of host and "
		    "socket", cfg_title(sec));
		return -1;
	}
	if (strlen(cfg_title(sec)) >= NAME_LEN) {
		cfg_error(cfg, "target name too long");
		return -1;
	}
	return 0;
}

#define INT_OPT(name, def)	CFG_INT_CB(name, def, CFGF_NONE, cb_positive)

static cfg_opt_t listen_opts[] = {
	CFG_BOOL("tls", cfg_false, CFGF_NONE),
	CFG_STR("certificate", NULL, CFGF_NODEFAULT),
	CFG_STR("key", NULL, CFGF_NODEFAULT),
	CFG_STR_CB("ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:"
	    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
	    "ECDHE-RSA-CHACHA20-POLY1305", CFGF_NONE, cb_tls_list),
	CFG_STR_CB("ciphersuites", "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", CFGF_NONE,
	    cb_tls_list),
	CFG_STR_CB("curves", "X25519:P-256:P-384", CFGF_NONE, cb_tls_list),
	CFG_END()
};

static cfg_opt_t target_opts[] = {
	CFG_STR("host", NULL, CFGF_NODEFAULT),
	CFG_INT_CB("port", 5900, CFGF_NONE, cb_port),
	CFG_STR("socket", NULL, CFGF_NODEFAULT),
	CFG_STR_CB("type", "vnc", CFGF_NONE, cb_type),
	CFG_BOOL("asks-password", cfg_false, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t route_opts[] = {
	CFG_STR_CB("backend", "tcp", CFGF_NONE, cb_backend),
	CFG_STR_CB("auth", "token", CFGF_NONE, cb_auth),
	CFG_STR_CB("errors", "http", CFGF_NONE, cb_errors),
	CFG_STR_LIST_CB("networks", "{}", CFGF_NONE, cb_cidr),
	CFG_INT_CB("port", 5900, CFGF_NONE, cb_port),
	CFG_STR("upstream", "", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t prism_opts[] = {
	CFG_STR("host", NULL, CFGF_NODEFAULT),
	CFG_INT_CB("port", 9440, CFGF_NONE, cb_port),
	CFG_STR("username", NULL, CFGF_NODEFAULT),
	CFG_STR("password-file", NULL, CFGF_NODEFAULT),
	CFG_BOOL("central", cfg_false, CFGF_NONE),
	CFG_STR("ca-file", NULL, CFGF_NODEFAULT),
	CFG_BOOL("tls-verify", cfg_true, CFGF_NONE),
	INT_OPT("session-ttl", 900),
	INT_OPT("cluster-ttl", 300),
	INT_OPT("login-timeout", 10),
	CFG_END()
};

static cfg_opt_t kubevirt_opts[] = {
	CFG_STR("api-url", NULL, CFGF_NODEFAULT),
	CFG_STR("token-file", SA_DIR "/token", CFGF_NONE),
	CFG_STR("ca-file", NULL, CFGF_NODEFAULT),
	CFG_STR("namespace", "default", CFGF_NONE),
	CFG_STR_CB("api-version", "v1", CFGF_NONE, cb_apiversion),
	CFG_BOOL("preserve-session", cfg_false, CFGF_NONE),
	CFG_BOOL("tls-verify", cfg_true, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t key_opts[] = {
	CFG_STR_CB("algorithm", "HS256", CFGF_NONE, cb_alg),
	CFG_STR("file", NULL, CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t apikey_opts[] = {
	CFG_STR("sha256", NULL, CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t global_opts[] = {
	CFG_STR("user", VNCRELAYD_USER, CFGF_NONE),
	INT_OPT("prefork", 0),
	CFG_STR("webroot", VNCRELAYD_WEBROOT, CFGF_NONE),
	CFG_STR("authd-root", VNCRELAYD_AUTHD_ROOT, CFGF_NONE),
	CFG_STR("control-socket", VNCRELAYD_SOCKET, CFGF_NONE),
	CFG_STR("control-group", "", CFGF_NONE),
	CFG_STR("path-prefix", "", CFGF_NONE),
	CFG_STR_CB("metrics-listen", "", CFGF_NONE, cb_address),
	INT_OPT("drain-timeout", 10),
	INT_OPT("head-timeout", 10),
	INT_OPT("connect-timeout", 5),
	INT_OPT("idle-timeout", 600),
	INT_OPT("session-timeout", 0),
	INT_OPT("heartbeat", 30),
	INT_OPT("max-head-size", 8192),
	INT_OPT("max-headers", 64),
	INT_OPT("max-frame-size", 1048576),
	INT_OPT("buffer-size", 262144),
	INT_OPT("max-sessions", 100),
	INT_OPT("max-sessions-per-target", 5),
	INT_OPT("max-sessions-per-client", 0),
	INT_OPT("max-sessions-per-token", 0),
	INT_OPT("handshake-rate", 0),
	INT_OPT("clock-skew", 30),
	INT_OPT("max-token-lifetime", 86400),
	CFG_INT_CB("replay-cache-size", REPLAY_DEFAULT_MAX, CFGF_NONE,
	    cb_replay_size),
	INT_OPT("token-ttl", 300),
	INT_OPT("api-failures", 5),
	CFG_STR("console-api", "", CFGF_NONE),
	CFG_STR("signing-key", "", CFGF_NONE),
	CFG_STR_LIST("allowed-origins", "{}", CFGF_NONE),
	CFG_STR_LIST_CB("trusted-proxies", "{}", CFGF_NONE, cb_cidr),
#ifdef VNCRELAYD_DEBUG
	CFG_BOOL("debug-triggers", cfg_false, CFGF_NONE),
#endif
	CFG_SEC("listen", listen_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_SEC("target", target_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_SEC("route", route_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_SEC("key", key_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("api-key", apikey_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_SEC("prism", prism_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_SEC("kubevirt", kubevirt_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static int
parse_vfail(const char *file, int line, const char *fmt, va_list ap)
{
	char	 msg[768];

	if (parse_error[0] != '\0')
		return -1;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(parse_error, sizeof(parse_error), "%s:%d: %s", file,
		    line, msg);
	else
		snprintf(parse_error, sizeof(parse_error), "%s: %s", file, msg);
	return -1;
}

static int
parse_fail(const char *file, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_vfail(file, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* For what is checked once a section is read: its closing brace's line. */
static int
parse_fail_line(const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_vfail(file, line, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Reads a file the configuration names.  A secret must belong to root (or
 * to us) and be readable by nobody else: a secret that any local user can
 * read is no secret.
 */
static int
read_file(const char *conffile, const char *path, int secret, uint8_t **out,
    size_t *len)
{
	struct stat	 st;
	int		 fd;
	ssize_t		 n;

	/* O_NONBLOCK: a named pipe must not hang us before fstat refuses it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    (secret ? O_NOFOLLOW : 0))) == -1)
		return parse_fail(conffile, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > BLOB_MAXLEN) {
		close(fd);
		return parse_fail(conffile, "%s: not a regular file of at most "
		    "%d bytes", path, BLOB_MAXLEN);
	}
	if (secret && ((st.st_mode & (S_IRWXG | S_IRWXO)) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()))) {
		close(fd);
		return parse_fail(conffile, "%s: must be owned by root and not "
		    "readable by group or others (mode 0600)", path);
	}
	if ((*out = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		return parse_fail(conffile, "out of memory");
	}
	n = read(fd, *out, st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*out);
		return parse_fail(conffile, "%s: short read", path);
	}
	*len = n;
	return 0;
}

static int
add_file_blob(struct conf *c, const char *file, const char *path,
    enum blob_kind kind, int id, const char *name, int secret)
{
	uint8_t	*data = NULL;
	size_t	 len = 0;
	int	 rv;

	if ((rv = read_file(file, path, secret, &data, &len)) == -1)
		return -1;
	if (conf_blob_add(c, kind, id, name, data, len) == NULL)
		rv = parse_fail(file, "out of memory");
	explicit_bzero(data, len);
	free(data);
	return rv;
}

#define COPY(dst, src, what) do {					\
	if (strlcpy_((dst), (src), sizeof(dst)) >= sizeof(dst))		\
		return parse_fail(file, "%s too long: %s", (what), (src));	\
} while (0)

static int
parse_global(struct conf *c, cfg_t *cfg, const char *file)
{
	struct conf_global	*g = &c->g;
	unsigned int		 i;
	long			 ncpu;

	COPY(g->user, cfg_getstr(cfg, "user"), "user");
	COPY(g->webroot, cfg_getstr(cfg, "webroot"), "webroot");
	COPY(g->authd_root, cfg_getstr(cfg, "authd-root"), "authd-root");
	COPY(g->control_socket, cfg_getstr(cfg, "control-socket"),
	    "control-socket");
	COPY(g->control_group, cfg_getstr(cfg, "control-group"),
	    "control-group");
	COPY(g->path_prefix, cfg_getstr(cfg, "path-prefix"), "path-prefix");
	COPY(g->metrics_listen, cfg_getstr(cfg, "metrics-listen"),
	    "metrics-listen");
	g->prefork = cfg_getint(cfg, "prefork");
	if (g->prefork == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		g->prefork = ncpu < 1 ? 1 : ncpu > MAX_WORKERS ? MAX_WORKERS :
		    ncpu;
	}
	if (g->prefork > MAX_WORKERS)
		return parse_fail(file, "prefork %d is over the limit of %d",
		    g->prefork, MAX_WORKERS);
	g->drain_timeout = cfg_getint(cfg, "drain-timeout");
	g->head_timeout = cfg_getint(cfg, "head-timeout");
	g->connect_timeout = cfg_getint(cfg, "connect-timeout");
	g->idle_timeout = cfg_getint(cfg, "idle-timeout");
	g->session_timeout = cfg_getint(cfg, "session-timeout");
	g->heartbeat = cfg_getint(cfg, "heartbeat");
	g->max_head_size = cfg_getint(cfg, "max-head-size");
	g->max_headers = cfg_getint(cfg, "max-headers");
	g->max_frame_size = cfg_getint(cfg, "max-frame-size");
	g->buffer_size = cfg_getint(cfg, "buffer-size");
	g->max_sessions = cfg_getint(cfg, "max-sessions");
	g->max_sessions_per_target = cfg_getint(cfg, "max-sessions-per-target");
	g->max_sessions_per_client = cfg_getint(cfg, "max-sessions-per-client");
	g->max_sessions_per_token = cfg_getint(cfg, "max-sessions-per-token");
	g->handshake_rate = cfg_getint(cfg, "handshake-rate");
	g->clock_skew = cfg_getint(cfg, "clock-skew");
	g->max_token_lifetime = cfg_getint(cfg, "max-token-lifetime");
	g->replay_cache_size = cfg_getint(cfg, "replay-cache-size");
	g->token_ttl = cfg_getint(cfg, "token-ttl");
	g->api_failures = cfg_getint(cfg, "api-failures");
	COPY(g->console_api, cfg_getstr(cfg, "console-api"), "console-api");
	COPY(g->signing_key, cfg_getstr(cfg, "signing-key"), "signing-key");
	if (g->console_api[0] != '\0' && (g->console_api[0] != '/' ||
	    g->console_api[strlen(g->console_api) - 1] == '/'))
		return parse_fail(file, "console-api must start with / and not "
		    "end with one");
	if (g->token_ttl < 1 || (g->max_token_lifetime &&
	    g->token_ttl > g->max_token_lifetime))
		return parse_fail(file, "token-ttl must be 1 to "
		    "max-token-lifetime seconds");
	if (g->max_head_size < 512 || g->max_head_size > 65536)
		return parse_fail(file, "max-head-size must be 512 to 65536");
	if (g->max_headers < 4 || g->max_headers > 128)
		return parse_fail(file, "max-headers must be 4 to 128");
	if (g->head_timeout < 1 || g->connect_timeout < 1)
		return parse_fail(file, "head-timeout and connect-timeout must "
		    "be at least 1");
	if (g->buffer_size < 4096 || g->max_frame_size < 125)
		return parse_fail(file, "buffer-size must be at least 4096 and "
		    "max-frame-size at least 125");
	if (cfg_size(cfg, "allowed-origins") > MAX_ORIGINS)
		return parse_fail(file, "more than %d allowed-origins",
		    MAX_ORIGINS);
	for (i = 0; i < cfg_size(cfg, "allowed-origins"); i++)
		COPY(g->origins[g->norigins++], cfg_getnstr(cfg,
		    "allowed-origins", i), "origin");
	if (cfg_size(cfg, "trusted-proxies") > MAX_NETWORKS)
		return parse_fail(file, "more than %d trusted-proxies",
		    MAX_NETWORKS);
	for (i = 0; i < cfg_size(cfg, "trusted-proxies"); i++)
		cidr_parse(cfg_getnstr(cfg, "trusted-proxies", i),
		    &g->trusted[g->ntrusted++]);
#ifdef VNCRELAYD_DEBUG
	g->debug_triggers = cfg_getbool(cfg, "debug-triggers");
#endif
	return 0;
}

/*
 * The workers would refuse a pair that OpenSSL cannot serve with, and
 * leave the listener without TLS: it is an error of the listen section.
 */
static int
check_tls_pair(struct conf *c, cfg_t *sec, int id, const char *file)
{
	struct blob	*cert = conf_blob_find(c, BLOB_TLS_CERT, id, NULL);
	struct blob	*key = conf_blob_find(c, BLOB_TLS_KEY, id, NULL);
	SSL_CTX		*ctx;
	char		 why[256];
	int		 rv = 0;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return parse_fail(file, "out of memory");
	if (tlscert_use(ctx, cert->data, cert->len, key->data, key->len, why,
	    sizeof(why)) == -1)
		rv = parse_fail_line(file, sec->line, "listen \"%s\": "
		    "certificate \"%s\" and key \"%s\" cannot serve: %s",
		    cfg_title(sec), cfg_getstr(sec, "certificate"),
		    cfg_getstr(sec, "key"), why);
	SSL_CTX_free(ctx);
	return rv;
}

static int
parse_listen(struct conf *c, cfg_t *sec, int id, const char *file)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return parse_fail(file, "out of memory");
	l->fd = -1;
	l->c.id = id;
	TAILQ_INSERT_TAIL(&c->listeners, l, entry);
	COPY(l->c.addr, cfg_title(sec), "listen address");
	COPY(l->c.ciphers, cfg_getstr(sec, "ciphers"), "ciphers");
	COPY(l->c.ciphersuites, cfg_getstr(sec, "ciphersuites"),
	    "ciphersuites");
	COPY(l->c.curves, cfg_getstr(sec, "curves"), "curves");
	l->c.tls = cfg_getbool(sec, "tls");
	if (!l->c.tls)
		return 0;
	if (add_file_blob(c, file, cfg_getstr(sec, "certificate"),
	    BLOB_TLS_CERT, id, NULL, 0) == -1 ||
	    add_file_blob(c, file, cfg_getstr(sec, "key"), BLOB_TLS_KEY,
	    id, NULL, 1) == -1)
		return -1;
	return check_tls_pair(c, sec, id, file);
}

/*
 * authd sits in an empty root and cannot resolve names, so names are
 * resolved here, once per (re)load, to the first address.
 */
static int
resolve_host(const char *host, char *out, size_t len)
{
	struct addrinfo	 hints, *res;
	int		 rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	rv = getnameinfo(res->ai_addr, res->ai_addrlen, out, len, NULL, 0,
	    NI_NUMERICHOST) == 0 ? 0 : -1;
	freeaddrinfo(res);
	return rv;
}

static int
parse_target(struct conf *c, cfg_t *sec, const char *file)
{
	struct target	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->targets, t, entry);
	COPY(t->c.name, cfg_title(sec), "target name");
	if (cfg_getstr(sec, "host") && resolve_host(cfg_getstr(sec, "host"),
	    t->c.host, sizeof(t->c.host)) == -1)
		return parse_fail(file, "target %s: cannot resolve host %s",
		    cfg_title(sec), cfg_getstr(sec, "host"));
	if (cfg_getstr(sec, "socket"))
		COPY(t->c.socket, cfg_getstr(sec, "socket"), "socket path");
	COPY(t->c.type, cfg_getstr(sec, "type"), "type");
	t->c.port = cfg_getint(sec, "port");
	t->c.has_password = cfg_getbool(sec, "asks-password");
	return 0;
}

static int
parse_route(struct conf *c, cfg_t *sec, int id, const char *file)
{
	struct route	*r;
	unsigned int	 i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->routes, r, entry);
	r->c.id = id;
	COPY(r->c.pattern, cfg_title(sec), "route pattern");
	COPY(r->c.upstream, cfg_getstr(sec, "upstream"), "upstream");
	r->c.auth = cb_enum(sec, "auth", cfg_getstr(sec, "auth"), auth_names);
	r->c.errors = cb_enum(sec, "errors", cfg_getstr(sec, "errors"),
	    errors_names);
	r->c.port = cfg_getint(sec, "port");
	switch (cb_enum(sec, "backend", cfg_getstr(sec, "backend"),
	    backend_names)) {
	case 0:
		r->c.backend = strstr(r->c.pattern, "{ip}") ? BACKEND_NETWORK :
		    BACKEND_TCP;
		break;
	case 1:
		r->c.backend = BACKEND_PRISM;
		break;
	default:
		r->c.backend = BACKEND_KUBEVIRT;
		break;
	}
	if (cfg_size(sec, "networks") > MAX_NETWORKS)
		return parse_fail(file, "route %s: more than %d networks",
		    r->c.pattern, MAX_NETWORKS);
	for (i = 0; i < cfg_size(sec, "networks"); i++)
		cidr_parse(cfg_getnstr(sec, "networks", i),
		    &r->c.nets[r->c.nnets++]);
	return 0;
}

/* The CA that upstream name's certificate must chain to. */
static int
parse_upstream_ca(struct conf *c, const char *file, const char *kind,
    const char *name, const char *ca, int verify)
{
	if (!verify)
		return 0;
	if (ca == NULL)
		return parse_fail(file, "%s %s: ca-file is required (or write "
		    "tls-verify no)", kind, name);
	return add_file_blob(c, file, ca, BLOB_UPSTREAM_CA, 0, name, 0);
}

static int
parse_prism(struct conf *c, cfg_t *sec, const char *file)
{
	struct prism	*p;
	const char	*name = cfg_title(sec), *pw;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->prisms, p, entry);
	COPY(p->c.name, name, "prism name");
	if (cfg_getstr(sec, "host") == NULL || cfg_getstr(sec, "username") ==
	    NULL || (pw = cfg_getstr(sec, "password-file")) == NULL)
		return parse_fail(file, "prism %s needs host, username and "
		    "password-file", name);
	COPY(p->c.host, cfg_getstr(sec, "host"), "prism host");
	COPY(p->c.username, cfg_getstr(sec, "username"), "prism username");
	if (resolve_host(p->c.host, p->c.addr, sizeof(p->c.addr)) == -1)
		return parse_fail(file, "prism %s: cannot resolve host %s",
		    name, p->c.host);
	p->c.port = cfg_getint(sec, "port");
	p->c.central = cfg_getbool(sec, "central");
	p->c.tls_verify = cfg_getbool(sec, "tls-verify");
	p->c.session_ttl = cfg_getint(sec, "session-ttl");
	p->c.cluster_ttl = cfg_getint(sec, "cluster-ttl");
	p->c.login_timeout = cfg_getint(sec, "login-timeout");
	if (p->c.session_ttl < 1 || p->c.login_timeout < 1)
		return parse_fail(file, "prism %s: session-ttl and "
		    "login-timeout must be at least 1", name);
	if (add_file_blob(c, file, pw, BLOB_PASSWORD, 0, name, 1) == -1)
		return -1;
	return parse_upstream_ca(c, file, "prism", name,
	    cfg_getstr(sec, "ca-file"), p->c.tls_verify);
}

/* https://HOST[:PORT][/] (or http:// behind kubectl proxy). */
static int
parse_api_url(struct conf_kubevirt *k, const char *url)
{
	const char	*h, *e, *port = NULL;
	char		*end;
	long		 v;

	if (strncmp(url, "https://", 8) == 0) {
		k->tls = 1;
		h = url + 8;
	} else if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return -1;
	if (*h == '[') {
		if ((e = strchr(h, ']')) == NULL)
			return -1;
		if ((size_t)(e - h - 1) >= sizeof(k->host))
			return -1;
		memcpy(k->host, h + 1, e - h - 1);
		e++;
	} else {
		e = h + strcspn(h, ":/");
		if ((size_t)(e - h) >= sizeof(k->host))
			return -1;
		memcpy(k->host, h, e - h);
	}
	if (*e == ':')
		port = ++e;
	e += strcspn(e, "/");
	if (*e != '\0' && strcmp(e, "/") != 0)
		return -1;
	k->port = k->tls ? 443 : 80;
	if (port != NULL) {
		v = strtol(port, &end, 10);
		if (end == port || (*end != '\0' && *end != '/') || v < 1 ||
		    v > 65535)
			return -1;
		k->port = v;
	}
	return k->host[0] ? 0 : -1;
}

/*
 * The bearer token is read now, so that -n finds a missing file; the
 * master reads it again whenever the kubelet rotates it.
 */
static int
kubevirt_read_token(struct conf *c, struct conf_kubevirt *k,
    const char *file)
{
	return add_file_blob(c, file, k->token_file, BLOB_BEARER, 0, k->name,
	    0);
}

/* Outside the configuration, a pod's environment names the API server. */
static int
kubevirt_default_url(char *buf, size_t len)
{
	const char	*h = getenv("KUBERNETES_SERVICE_HOST");
	const char	*p = getenv("KUBERNETES_SERVICE_PORT");

	if (h == NULL || *h == '\0')
		return -1;
	snprintf(buf, len, strchr(h, ':') ? "https://[%s]:%s" :
	    "https://%s:%s", h, p && *p ? p : "443");
	return 0;
}

static int
parse_kubevirt(struct conf *c, cfg_t *sec, const char *file)
{
	struct kubevirt	*k;
	const char	*name = cfg_title(sec), *url, *ca;
	char		 envurl[HOST_LEN + 32];

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->kubevirts, k, entry);
	COPY(k->c.name, name, "kubevirt name");
	if ((url = cfg_getstr(sec, "api-url")) == NULL) {
		if (kubevirt_default_url(envurl, sizeof(envurl)) == -1)
			return parse_fail(file, "kubevirt %s: no api-url, and "
			    "KUBERNETES_SERVICE_HOST is not set", name);
		url = envurl;
	}
	if (parse_api_url(&k->c, url) == -1)
		return parse_fail(file, "kubevirt %s: invalid api-url %s "
		    "(want https://HOST[:PORT])", name, url);
	if (resolve_host(k->c.host, k->c.addr, sizeof(k->c.addr)) == -1)
		return parse_fail(file, "kubevirt %s: cannot resolve host %s",
		    name, k->c.host);
	COPY(k->c.namespace, cfg_getstr(sec, "namespace"), "namespace");
	if (!dns_label_ok(k->c.namespace))
		return parse_fail(file, "kubevirt %s: namespace %s is not a "
		    "DNS label", name, k->c.namespace);
	COPY(k->c.api_version, cfg_getstr(sec, "api-version"), "api-version");
	COPY(k->c.token_file, cfg_getstr(sec, "token-file"), "token-file");
	k->c.preserve_session = cfg_getbool(sec, "preserve-session");
	k->c.tls_verify = k->c.tls && cfg_getbool(sec, "tls-verify");
	if (kubevirt_read_token(c, &k->c, file) == -1)
		return -1;
	if ((ca = cfg_getstr(sec, "ca-file")) == NULL)
		ca = SA_DIR "/ca.crt";
	return parse_upstream_ca(c, file, "kubevirt", name, ca,
	    k->c.tls_verify);
}

static int
parse_key(struct conf *c, cfg_t *sec, const char *file)
{
	struct key	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->keys, k, entry);
	COPY(k->c.kid, cfg_title(sec), "key id");
	COPY(k->c.alg, cfg_getstr(sec, "algorithm"), "algorithm");
	if (cfg_getstr(sec, "file") == NULL)
		return parse_fail(file, "key %s: no file", k->c.kid);
	return add_file_blob(c, file, cfg_getstr(sec, "file"), BLOB_TOKEN_KEY,
	    0, k->c.kid, 1);
}

static int
parse_apikey(struct conf *c, cfg_t *sec, const char *file)
{
	struct apikey	*a;
	const char	*h = cfg_getstr(sec, "sha256");

	if (h == NULL || strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64)
		return parse_fail(file, "api-key %s: sha256 must be 64 "
		    "lowercase hex digits", cfg_title(sec));
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return parse_fail(file, "out of memory");
	TAILQ_INSERT_TAIL(&c->apikeys, a, entry);
	COPY(a->c.name, cfg_title(sec), "api-key name");
	COPY(a->c.sha256, h, "sha256");
	return 0;
}

static int
conf_key_exists(struct conf *c, const char *kid)
{
	struct key	*k;

	TAILQ_FOREACH(k, &c->keys, entry)
		if (strcmp(k->c.kid, kid) == 0)
			return 1;
	return 0;
}

/* Each WebSocket route names an upstream section of its kind. */
static int
parse_route_upstreams(struct conf *c, const char *file)
{
	struct route	*r;

	TAILQ_FOREACH(r, &c->routes, entry) {
		if (r->c.backend == BACKEND_PRISM &&
		    conf_prism_find(c, r->c.upstream) == NULL)
			return parse_fail(file, "route %s: no prism \"%s\"",
			    r->c.pattern, r->c.upstream);
		if (r->c.backend == BACKEND_KUBEVIRT &&
		    conf_kubevirt_find(c, r->c.upstream) == NULL)
			return parse_fail(file, "route %s: no kubevirt \"%s\"",
			    r->c.pattern, r->c.upstream);
	}
	return 0;
}

static int
parse_sections(struct conf *c, cfg_t *cfg, const char *file)
{
	cfg_t		*sec;
	unsigned int	 i;

	for (i = 0; i < cfg_size(cfg, "listen"); i++)
		if (parse_listen(c, cfg_getnsec(cfg, "listen", i), i, file))
			return -1;
	for (i = 0; i < cfg_size(cfg, "target"); i++)
		if (parse_target(c, cfg_getnsec(cfg, "target", i), file))
			return -1;
	for (i = 0; i < cfg_size(cfg, "route"); i++)
		if (parse_route(c, cfg_getnsec(cfg, "route", i), i, file))
			return -1;
	for (i = 0; i < cfg_size(cfg, "key"); i++)
		if (parse_key(c, cfg_getnsec(cfg, "key", i), file))
			return -1;
	for (i = 0; i < cfg_size(cfg, "api-key"); i++)
		if (parse_apikey(c, cfg_getnsec(cfg, "api-key", i), file))
			return -1;
	for (i = 0; i < cfg_size(cfg, "prism"); i++)
		if (parse_prism(c, cfg_getnsec(cfg, "prism", i), file))
			return -1;
	if (cfg_size(cfg, "kubevirt") > MAX_KUBEVIRTS) {
		sec = cfg_getnsec(cfg, "kubevirt", MAX_KUBEVIRTS);
		return parse_fail_line(file, sec->line, "kubevirt \"%s\": at "
		    "most %d kubevirt sections", cfg_title(sec), MAX_KUBEVIRTS);
	}
	for (i = 0; i < cfg_size(cfg, "kubevirt"); i++)
		if (parse_kubevirt(c, cfg_getnsec(cfg, "kubevirt", i), file))
			return -1;
	if (parse_route_upstreams(c, file) == -1)
		return -1;
	if (TAILQ_EMPTY(&c->listeners))
		return parse_fail(file, "no listen address");
	if (c->g.console_api[0] != '\0' && TAILQ_EMPTY(&c->keys))
		return parse_fail(file, "console-api needs a key to sign tokens");
	if (c->g.signing_key[0] != '\0' && !conf_key_exists(c,
	    c->g.signing_key))
		return parse_fail(file, "signing-key %s is not a configured key",
		    c->g.signing_key);
	return 0;
}

/* Warnings that do not stop the configuration but that -n should show. */
static void
parse_warnings(struct conf *c, const char *file, int print)
{
	struct route	*r;
	struct prism	*p;
	struct kubevirt	*k;

	if (!print)
		return;
	TAILQ_FOREACH(r, &c->routes, entry)
		if (r->c.auth == AUTH_NONE)
			fprintf(stderr, "%s: warning: route \"%s\" has auth "
			    "none: anyone who reaches it opens its consoles\n",
			    file, r->c.pattern);
	TAILQ_FOREACH(p, &c->prisms, entry)
		if (!p->c.tls_verify)
			fprintf(stderr, "%s: warning: prism %s has tls-verify "
			    "no: its password goes to whoever answers\n", file,
			    p->c.name);
	TAILQ_FOREACH(k, &c->kubevirts, entry)
		if (!k->c.tls_verify)
			fprintf(stderr, "%s: warning: kubevirt %s does not "
			    "verify TLS: its token goes to whoever answers\n",
			    file, k->c.name);
}

/*
 * Parses file into a new configuration.  Returns NULL and sets the reason
 * (FILE:LINE: what) for parse_lasterror().
 */
struct conf *
parse_config(const char *file, int print_warnings)
{
	struct conf	*c;
	cfg_t		*cfg;
	int		 rv;

	parse_error[0] = '\0';
	if (access(file, R_OK) == -1) {
		parse_fail(file, "%s", strerror(errno));
		return NULL;
	}
	if ((cfg = cfg_init(global_opts, CFGF_NONE)) == NULL) {
		parse_fail(file, "cannot initialise the parser");
		return NULL;
	}
	cfg_set_error_function(cfg, parse_errfunc);
	cfg_set_validate_func(cfg, "listen", cb_listen_title);
	cfg_set_validate_func(cfg, "route", cb_pattern);
	cfg_set_validate_func(cfg, "target", cb_target);
	rv = cfg_parse(cfg, file);
	if (rv != CFG_SUCCESS) {
		if (parse_error[0] == '\0')
			parse_fail(file, rv == CFG_FILE_ERROR ? strerror(errno) :
			    "parse error");
		cfg_free(cfg);
		return NULL;
	}
	if ((c = conf_new()) == NULL || parse_global(c, cfg, file) == -1 ||
	    parse_sections(c, cfg, file) == -1) {
		conf_free(c);
		cfg_free(cfg);
		return NULL;
	}
	cfg_free(cfg);
	parse_warnings(c, file, print_warnings);
	return c;
}

const char *
parse_lasterror(void)
{
	return parse_error;
}
