/*
 * Small helpers shared by every process: error codes, address and network
 * parsing, route patterns, log values.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "vncrelayd.h"

static const struct {
	const char	*name;
	const char	*message;
	int		 status;
} errtab[ERR_MAX] = {
	[ERR_NONE] = { "OK", "allowed", 101 },
	[ERR_INVALID_TOKEN] = { "INVALID_TOKEN", "Invalid or missing token", 401 },
	[ERR_TOKEN_EXPIRED] = { "TOKEN_EXPIRED", "Token has expired", 401 },
	[ERR_TOKEN_ALREADY_USED] = { "TOKEN_ALREADY_USED",
	    "Token has already been used", 401 },
	[ERR_VM_NOT_FOUND] = { "VM_NOT_FOUND", "Virtual machine not found", 404 },
	[ERR_NO_CONSOLE_AVAILABLE] = { "NO_CONSOLE_AVAILABLE",
	    "No console available for this virtual machine", 503 },
	[ERR_CONNECTION_FAILED] = { "CONNECTION_FAILED",
	    "Failed to connect to the console server", 502 },
	[ERR_MAX_CONNECTIONS_REACHED] = { "MAX_CONNECTIONS_REACHED",
	    "Connection limit exceeded", 429 },
	[ERR_UNAUTHORIZED] = { "UNAUTHORIZED", "Unauthorized", 403 },
	[ERR_INTERNAL_ERROR] = { "INTERNAL_ERROR", "Internal server error", 503 },
	[ERR_BAD_REQUEST] = { "BAD_REQUEST", "Bad request", 400 },
};

const char *
err_name(enum err_code e)
{
	return (e >= 0 && e < ERR_MAX) ? errtab[e].name : "INTERNAL_ERROR";
}

const char *
err_message(enum err_code e)
{
	return (e >= 0 && e < ERR_MAX) ? errtab[e].message : "Internal error";
}

int
err_status(enum err_code e)
{
	return (e >= 0 && e < ERR_MAX) ? errtab[e].status : 500;
}

size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size) {
		size_t n = len >= size ? size - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* t in UTC as RFC 3339 says it ("2024-01-15T10:30:00Z"). */
void
time_rfc3339(time_t t, char out[RFC3339_LEN])
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy_(out, "-", RFC3339_LEN);
}

/* Parses "a.b.c.d/n", "x:y::/n", or a bare address (a host route). */
int
cidr_parse(const char *s, struct cidr *c)
{
	char	 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long	 bits;
	int	 max;

	if (strlcpy_(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	memset(c, 0, sizeof(*c));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->af = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL) {
		c->bits = max;
		return 0;
	}
	if (*slash == '\0' || strspn(slash, "0123456789") != strlen(slash))
		return -1;
	bits = strtol(slash, &end, 10);
	if (bits < 0 || bits > max)
		return -1;
	c->bits = bits;
	return 0;
}

int
cidr_match(const struct cidr *c, int af, const void *addr)
{
	const uint8_t	*a = addr;
	int		 full = c->bits / 8, rest = c->bits % 8;
	uint8_t		 mask;

	if (af != c->af)
		return 0;
	if (memcmp(a, c->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (c->addr[full] & mask);
}

/*
 * A literal address into af and a, an IPv4-mapped IPv6 address taken as
 * the IPv4 address it maps: one host, one spelling for every check.
 */
static int
addr_literal(const char *s, int *af, uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	if (inet_pton(AF_INET, s, a) == 1)
		*af = AF_INET;
	else if (inet_pton(AF_INET6, s, a) == 1) {
		*af = AF_INET6;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memmove(a, a + 12, 4);
			*af = AF_INET;
		}
	} else
		return -1;
	return 0;
}

/*
 * Is the literal address s inside one of the networks?  Only canonical
 * literals count: inet_pton refuses octal, short and hex IPv4 forms, and
 * an IPv4-mapped IPv6 address is compared as the IPv4 address it is, so
 * it cannot reach around an IPv4 list.
 */
int
addr_in_nets(const char *s, const struct cidr *nets, int n)
{
	uint8_t		 a[16];
	int		 af, i;

	if (addr_literal(s, &af, a) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (cidr_match(&nets[i], af, a))
			return 1;
	return 0;
}

/*
 * The one spelling of a literal address (inet_ntop's, IPv4 for a mapped
 * address), so that limits and logs count one host once: -1 when s is
 * not a literal address.
 */
int
addr_canonical(const char *s, char *out, size_t len)
{
	uint8_t		 a[16];
	int		 af;

	if (addr_literal(s, &af, a) == -1 ||
	    inet_ntop(af, a, out, len) == NULL)
		return -1;
	return 0;
}

/* Parses "addr:port", "[v6]:port", "*:port" for a listener. */
int
listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char			 buf[ADDR_LEN], *port, *host, *end;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	long			 p;

	if (strlcpy_(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((port = strrchr(buf, ':')) == NULL)
		return -1;
	*port++ = '\0';
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port))
		return -1;
	p = strtol(port, &end, 10);
	if (p < 1 || p > 65535)
		return -1;
	host = buf;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		host++;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
		return 0;
	}
	if (strcmp(host, "*") == 0 || *host == '\0')
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(p);
	*len = sizeof(*sin);
	return 0;
}

/* A literal IPv4 or IPv6 address and a port, as a socket address. */
int
addr_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* 8-4-4-4-12 hex digits, nothing else: safe to put into any URL. */
int
uuid_valid(const char *s)
{
	static const int	 groups[] = { 8, 4, 4, 4, 12 };
	size_t			 i, n;

	for (i = 0; i < 5; i++) {
		n = strspn(s, "0123456789abcdefABCDEF");
		if (n != (size_t)groups[i])
			return 0;
		s += n;
		if (i < 4 && *s++ != '-')
			return 0;
	}
	return *s == '\0';
}

/* A namespace goes into an API path: RFC 1123 label, as Kubernetes has. */
int
dns_label_ok(const char *s)
{
	size_t	 i, len;

	len = strlen(s);
	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (s[i] == '-' && i != 0 && i != len - 1)
			continue;
		return 0;
	}
	return 1;
}

/* A VMI name: an RFC 1123 subdomain, labels joined by dots. */
int
dns_name_ok(const char *s)
{
	char	 label[64];
	size_t	 n;

	if (strlen(s) > 253)
		return 0;
	for (;;) {
		n = strcspn(s, ".");
		if (n >= sizeof(label))
			return 0;
		memcpy(label, s, n);
		label[n] = '\0';
		if (!dns_label_ok(label))
			return 0;
		if (s[n] == '\0')
			return 1;
		s += n + 1;
	}
}

static const char *placeholders[] = {
	"name", "ip", "uuid", "vmi", "token", "namespace", "prefix", NULL
};

/*
 * A route pattern is an absolute path of literal segments and whole-segment
 * placeholders.  Returns 0, or -1 with the reason in why.
 */
int
pattern_valid(const char *p, char *why, size_t whylen)
{
	const char	*seg, *end;
	char		 ph[32];
	size_t		 n;
	int		 i, found;

	if (p[0] != '/') {
		snprintf(why, whylen, "route pattern must start with /");
		return -1;
	}
	for (seg = p + 1; *seg; seg = *end ? end + 1 : end) {
		end = strchr(seg, '/');
		if (end == NULL)
			end = seg + strlen(seg);
		n = end - seg;
		if (n == 0 || seg[0] != '{')
			continue;
		if (n < 3 || seg[n - 1] != '}' || n - 2 >= sizeof(ph)) {
			snprintf(why, whylen, "bad placeholder in route pattern");
			return -1;
		}
		memcpy(ph, seg + 1, n - 2);
		ph[n - 2] = '\0';
		for (found = 0, i = 0; placeholders[i]; i++)
			if (strcmp(ph, placeholders[i]) == 0)
				found = 1;
		if (!found) {
			snprintf(why, whylen, "unknown placeholder {%s} in "
			    "route pattern", ph);
			return -1;
		}
	}
	return 0;
}

static char	*title_base;
static size_t	 title_len;

/*
 * Makes room for a process title in the argument area, moving the
 * environment out of the way so that a short command line still has room.
 */
void
proctitle_init(int argc, char **argv)
{
	extern char	**environ;
	char		 *end;
	int		  i, n;
	char		**env;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	for (n = 0; environ[n]; n++)
		if (environ[n] == end)
			end += strlen(environ[n]) + 1;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return;
	for (i = 0; i < n; i++)
		env[i] = strdup(environ[i]);
	environ = env;
	for (i = 1; i < argc; i++)
		argv[i] = strdup(argv[i]);
	title_base = argv[0];
	title_len = end - argv[0];
}

void
proctitle_set(const char *title)
{
	if (title_base == NULL || title_len < 2)
		return;
	memset(title_base, 0, title_len);
	strlcpy_(title_base, title, title_len);
}

/*
 * A value for a key=value log line.  One word of printable characters
 * without quotes, '=' or '\\' stands as it is; anything else, such as a
 * user name with spaces from a token's claims, goes in double quotes with
 * '"' and '\\' escaped, so that log tools split the line where we meant.
 * "-" stands for nothing.  buf holds LOG_VALUE_LEN(strlen(s) + 1) bytes.
 */
const char *
log_value(const char *s, char *buf, size_t len)
{
	const unsigned char	*p;
	size_t			 o = 0;
	int			 plain = 1;

	if (s == NULL || *s == '\0')
		return "-";
	for (p = (const unsigned char *)s; *p && plain; p++)
		plain = *p > ' ' && *p != 0x7f && !strchr("\"=\\", *p);
	if (plain)
		return s;
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p && o + 4 <= len; p++) {
		if (*p == '"' || *p == '\\')
			buf[o++] = '\\';
		buf[o++] = *p < ' ' || *p == 0x7f ? '?' : *p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
