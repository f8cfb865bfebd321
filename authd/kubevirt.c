/*
 * KubeVirt (seed 001): the VNC subresource of a VirtualMachineInstance,
 * behind the Kubernetes API server's bearer authentication.  The token
 * comes from a file the kubelet rotates; the master reads it and sends it
 * here.  When the API server refuses it, authd asks the master to read
 * the file again, waits for the answer, and tries once more.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "log.h"
#include "proc.h"

#define KUBEVIRT_WAIT_MAX	1024

static struct pendings	 rereading = TAILQ_HEAD_INITIALIZER(rereading);
static int		 nrereading;

/* The token without the whitespace a file has around it. */
static int
kubevirt_token(const char *name, const uint8_t **tok, size_t *len,
    uint32_t *renewed)
{
	struct blob	*b = conf_blob_find(ps->conf, BLOB_BEARER, 0, name);
	const uint8_t	*s, *e;

	if (b == NULL)
		return -1;
	*renewed = b->renewed;
	s = b->data;
	e = b->data + b->len;
	while (s < e && isspace(*s))
		s++;
	while (e > s && isspace(e[-1]))
		e--;
	if (s == e || memchr(s, '\0', e - s) != NULL)
		return -1;
	for (*tok = s; s < e; s++)
		if (*s < 0x21 || *s > 0x7e)
			return -1;
	*len = e - *tok;
	return 0;
}

void
kubevirt_start(struct pending *p)
{
	struct kubevirt	*k = conf_kubevirt_find(ps->conf, p->upstream);
	const char	*ns;
	const uint8_t	*tok;
	size_t		 toklen;
	char		 path[512];

	if (k == NULL) {
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	ns = p->req.ns[0] ? p->req.ns : k->c.namespace;
	if (!dns_label_ok(ns) || !dns_name_ok(p->req.target)) {
		log_info("kubevirt %s: not a namespace and VMI name", k->c.name);
		authd_reply(p, ERR_VM_NOT_FOUND);
		return;
	}
	if (kubevirt_token(k->c.name, &tok, &toklen, &p->cred_gen) == -1) {
		log_warnx("kubevirt %s: the token file holds no token",
		    k->c.name);
		authd_reply(p, ERR_CONNECTION_FAILED);
		return;
	}
	snprintf(path, sizeof(path), "/apis/subresources.kubevirt.io/%s/"
	    "namespaces/%s/virtualmachineinstances/%s/vnc%s",
	    k->c.api_version, ns, p->req.target,
	    k->c.preserve_session ? "?preserveSession=true" : "");
	upstream_ws(p, k->c.tls, k->c.tls_verify, k->c.host, path,
	    "plain.kubevirt.io");
	if (upstream_header(p, "Host: %s:%u", k->c.host, k->c.port) == -1 ||
	    upstream_header(p, "Authorization: Bearer %.*s", (int)toklen,
	    tok) == -1) {
		log_warnx("kubevirt %s: the token is too long", k->c.name);
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	decide_connect(p, k->c.addr, k->c.port);
}

/*
 * The API server refused the token.  Maybe the kubelet rotated it less
 * than a second ago: the master reads the file now and answers with
 * IMSG_BEARER, and the request goes on then.
 */
void
kubevirt_retry(struct pending *p, int status)
{
	struct blob	*b;
	char		 name[NAME_LEN];

	if (p->retried) {
		log_warnx("kubevirt %s: token refused (HTTP %d)", p->upstream,
		    status);
		authd_reply(p, ERR_UNAUTHORIZED);
		return;
	}
	if (nrereading >= KUBEVIRT_WAIT_MAX) {
		log_warnx("kubevirt %s: %d requests already wait for the token "
		    "file", p->upstream, KUBEVIRT_WAIT_MAX);
		authd_reply(p, ERR_MAX_CONNECTIONS_REACHED);
		return;
	}
	p->retried = 1;
	b = conf_blob_find(ps->conf, BLOB_BEARER, 0, p->upstream);
	if (b != NULL && p->cred_gen != b->renewed) {
		/* A new token for this upstream came while it was out. */
		kubevirt_start(p);
		return;
	}
	log_info("kubevirt %s: token refused (HTTP %d): reading the token "
	    "file again", p->upstream, status);
	memset(name, 0, sizeof(name));
	strlcpy_(name, p->upstream, sizeof(name));
	if (ipc_send(ps->master, IMSG_BEARER, 0, -1, name, sizeof(name)) ==
	    -1) {
		log_warn("kubevirt %s: asking the master to read the token",
		    p->upstream);
		authd_reply(p, ERR_INTERNAL_ERROR);
		return;
	}
	TAILQ_INSERT_TAIL(&rereading, p, entry);
	nrereading++;
}

/* The master sent a token (a rotation, or the answer to a request). */
int
kubevirt_bearer(struct ipc_msg *m)
{
	struct conf_blob	 h;
	struct blob		*b;
	struct pending		*p, *next;
	uint8_t			*data;
	size_t			 len;

	if (m->hdr.len < sizeof(h) || m->hdr.len - sizeof(h) > BLOB_MAXLEN)
		return -1;
	memcpy(&h, m->data, sizeof(h));
	if (h.kind != BLOB_BEARER || !ipc_str_ok(h.name, sizeof(h.name)))
		return -1;
	len = m->hdr.len - sizeof(h);
	if (ps->conf != NULL && (b = conf_blob_find(ps->conf, BLOB_BEARER, 0,
	    h.name)) != NULL && (data = malloc(len + 1)) != NULL) {
		memcpy(data, (uint8_t *)m->data + sizeof(h), len);
		explicit_bzero(b->data, b->len);
		free(b->data);
		b->data = data;
		b->len = len;
		b->renewed++;
	}
	for (p = TAILQ_FIRST(&rereading); p; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (strcmp(p->upstream, h.name) != 0)
			continue;
		TAILQ_REMOVE(&rereading, p, entry);
		nrereading--;
		kubevirt_start(p);
	}
	return 0;
}
