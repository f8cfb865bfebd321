/*
 * Issuing tokens: the console API (seed 004) and vncrelayctl token.  The
 * signing key never leaves authd; what goes out is a token for one
 * target, valid token-ttl seconds, usable once.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authd.h"
#include "authd_limits.h"
#include "log.h"
#include "proc.h"
#include "token.h"

static struct ratelimit	*api_failures;

static const struct token_key *
issue_key(void)
{
	const struct token_key	*k;
	const char		*want = ps->conf->g.signing_key;

	TAILQ_FOREACH(k, decide_keys(), entry) {
		if (want[0] != '\0' && strcmp(k->kid, want) != 0)
			continue;
		if (k->alg == TOKEN_ALG_HS256 || k->priv != NULL)
			return k;
	}
	return NULL;
}

/* Signs a one-time token; returns its expiry or -1. */
static int64_t
issue_sign(const char *user, const char *target, int ttl, char *out,
    size_t len)
{
	const struct token_key	*k = issue_key();
	char			 jti[TOKEN_RANDOM_LEN];
	time_t			 now = time(NULL);

	if (k == NULL) {
		log_warnx("no key that can sign tokens");
		return -1;
	}
	if (token_sign(k, user, target, ttl, now, out, len, jti) == -1)
		return -1;
	explicit_bzero(jti, sizeof(jti));
	return now + ttl;
}

/* Compares SHA-256(key) with every configured hash, in constant time. */
static struct apikey *
issue_apikey(const char *key)
{
	struct apikey	*a, *found = NULL;
	unsigned char	 md[32];
	char		 hex[65];
	unsigned int	 mdlen, i;

	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1)
		return NULL;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	TAILQ_FOREACH(a, &ps->conf->apikeys, entry)
		if (CRYPTO_memcmp(a->c.sha256, hex, 64) == 0)
			found = a;
	explicit_bzero(md, sizeof(md));
	explicit_bzero(hex, sizeof(hex));
	return found;
}

static enum err_code
issue_api_check(struct api_req *q, struct api_resp *r, struct apikey **a)
{
	struct target	*t;
	double		 now = (double)time(NULL);

	if (api_failures == NULL && (api_failures = ratelimit_new(1.0 / 60,
	    ps->conf->g.api_failures)) == NULL)
		return ERR_INTERNAL_ERROR;
	ratelimit_set(api_failures, 1.0 / 60, ps->conf->g.api_failures);
	if (!ratelimit_peek(api_failures, q->peer, now)) {
		log_info("api: %s: too many bad keys", q->peer);
		return ERR_MAX_CONNECTIONS_REACHED;
	}
	if (q->key[0] == '\0' || (*a = issue_apikey(q->key)) == NULL) {
		ratelimit_hit(api_failures, q->peer, now);
		log_info("api: %s: wrong or missing API key", q->peer);
		return ERR_UNAUTHORIZED;
	}
	if ((t = conf_target_find(ps->conf, q->target)) == NULL)
		return ERR_VM_NOT_FOUND;
	r->has_password = t->c.has_password;
	strlcpy_(r->type, t->c.type, sizeof(r->type));
	return ERR_NONE;
}

void
issue_api(struct wchan *w, struct api_req *q)
{
	struct api_resp	 r;
	struct apikey	*a = NULL;
	char		 target[LOG_VALUE_LEN(sizeof(q->target))];

	memset(&r, 0, sizeof(r));
	r.session = q->session;
	r.code = issue_api_check(q, &r, &a);
	explicit_bzero(q->key, sizeof(q->key));
	if (r.code == ERR_NONE && (r.expires = issue_sign(a->c.name, q->target,
	    ps->conf->g.token_ttl, r.token, sizeof(r.token))) == -1)
		r.code = ERR_INTERNAL_ERROR;
	log_info("api client=%s target=%s key=%s result=%s", q->peer,
	    log_value(q->target, target, sizeof(target)), a ? a->c.name : "-",
	    err_name(r.code));
	if (w->ipc)
		ipc_send(w->ipc, IMSG_API_RESP, 0, -1, &r, sizeof(r));
	explicit_bzero(&r, sizeof(r));
}

void
issue_ctl(struct ctl_token *ct)
{
	int	 ttl = ct->ttl > 0 ? ct->ttl : ps->conf->g.token_ttl;
	char	 target[LOG_VALUE_LEN(sizeof(ct->target))];
	char	 user[LOG_VALUE_LEN(sizeof(ct->user))];

	ct->token[0] = '\0';
	if (conf_target_find(ps->conf, ct->target) == NULL)
		ct->code = ERR_VM_NOT_FOUND;
	else if (ps->conf->g.max_token_lifetime &&
	    ttl > ps->conf->g.max_token_lifetime)
		ct->code = ERR_BAD_REQUEST;
	else if ((ct->expires = issue_sign(ct->user[0] ? ct->user : "vncrelayctl",
	    ct->target, ttl, ct->token, sizeof(ct->token))) == -1)
		ct->code = ERR_INTERNAL_ERROR;
	else
		ct->code = ERR_NONE;
	log_info("ctl token target=%s user=%s ttl=%d result=%s",
	    log_value(ct->target, target, sizeof(target)), ct->user[0] ?
	    log_value(ct->user, user, sizeof(user)) : "vncrelayctl", ttl,
	    err_name(ct->code));
	ipc_send(ps->master, IMSG_CTL_TOKEN_RESP, 0, -1, ct, sizeof(*ct));
	explicit_bzero(ct, sizeof(*ct));
}
