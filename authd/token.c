/*
 * authd: JSON Web Tokens in compact JWS form (RFC 7519, RFC 7515), signed
 * with HS256 or EdDSA over Ed25519 (RFC 8037).
 *
 * Each configured key pins its algorithm: the token's "alg" header only has
 * to agree with it, it never picks the verification method.  That closes
 * "alg: none" and the HS256-with-a-public-key confusion by construction.
 * The signature is checked before the payload is parsed at all, so an
 * unauthenticated sender only ever reaches the base64url decoder and the
 * header parser, both bounded.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "conf.h"
#include "token.h"

#define HS256_LEN		32
#define ED25519_SIGLEN		64
#define ED25519_KEYLEN		32
#define SIG_MAX			64	/* the larger of the two */

/* The three parts of header.payload.signature, pointing into the token. */
struct jws {
	const char	*hdr;
	size_t		 hdrlen;
	const char	*pay;
	size_t		 paylen;
	const char	*sig;
	size_t		 siglen;
	size_t		 signedlen;	/* "header.payload", what is signed */
};

static const char b64u_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64u_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '-')
		return (62);
	if (c == '_')
		return (63);
	return (-1);
}

/*
 * Strict base64url without padding (RFC 7515 section 2).  Whatever a
 * canonical encoder would not produce is refused, padding and non-zero
 * trailing bits included: a token then has one spelling only, and its
 * hash (per-token limits, audit lines) cannot be dodged by re-spelling it.
 */
static int
b64u_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize,
    size_t *outlen)
{
	uint32_t	 acc = 0;
	int		 bits = 0, v;
	size_t		 i, n = 0;

	if (inlen % 4 == 1)
		return (-1);
	for (i = 0; i < inlen; i++) {
		if ((v = b64u_value(in[i])) == -1)
			return (-1);
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outsize)
				return (-1);
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	if (acc != 0)
		return (-1);
	*outlen = n;
	return (0);
}

/* Encode without padding; the output is not NUL-terminated. */
static int
b64u_encode(const unsigned char *in, size_t inlen, char *out, size_t outsize,
    size_t *outlen)
{
	uint32_t	 acc = 0;
	int		 bits = 0;
	size_t		 i, n = 0;

	for (i = 0; i < inlen; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if (n == outsize)
				return (-1);
			out[n++] = b64u_alphabet[(acc >> bits) & 63];
		}
		acc &= (1U << bits) - 1;
	}
	if (bits > 0) {
		if (n == outsize)
			return (-1);
		out[n++] = b64u_alphabet[(acc << (6 - bits)) & 63];
	}
	*outlen = n;
	return (0);
}

static void
hexstr(const unsigned char *in, size_t len, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * jansson accepts 2048 levels of nesting and a token needs a handful.
 * Counting brackets outside strings first makes a JSON bomb cost one
 * linear scan and no allocation.
 */
static int
token_depth_ok(const unsigned char *s, size_t len, int max)
{
	size_t	 i;
	int	 depth = 0, instr = 0, esc = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (esc)
				esc = 0;
			else if (s[i] == '\\')
				esc = 1;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '{':
		case '[':
			if (++depth > max)
				return (0);
			break;
		case '}':
		case ']':
			depth--;
			break;
		}
	}
	return (1);
}

/* Decode one base64url part into a JSON object, or say why not. */
static json_t *
token_json(const char *b64, size_t len, const char **why)
{
	unsigned char	 buf[TOKEN_MAXLEN];
	json_error_t	 jerr;
	json_t		*j;
	size_t		 n;

	if (b64u_decode(b64, len, buf, sizeof(buf), &n) == -1) {
		*why = "bad base64url";
		return (NULL);
	}
	if (!token_depth_ok(buf, n, TOKEN_MAXDEPTH)) {
		*why = "JSON nested too deep";
		return (NULL);
	}
	j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		*why = "bad JSON";
		return (NULL);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "JSON is not an object";
		return (NULL);
	}
	return (j);
}

static int
token_alg(const char *name)
{
	if (strcmp(name, "HS256") == 0)
		return (TOKEN_ALG_HS256);
	if (strcmp(name, "EdDSA") == 0)
		return (TOKEN_ALG_EDDSA);
	return (0);
}

static const char *
token_alg_name(int alg)
{
	return (alg == TOKEN_ALG_EDDSA ? "EdDSA" : "HS256");
}

static int
key_error(char *errbuf, size_t errlen, const char *kid, const char *what)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "key %s: %s", kid, what);
	return (-1);
}

/* A kid is matched byte for byte and shows up in logs: printable only. */
static int
kid_ok(const char *kid)
{
	size_t	 i, len;

	len = strlen(kid);
	if (len == 0 || len >= TOKEN_KID_LEN)
		return (0);
	for (i = 0; i < len; i++)
		if (kid[i] <= ' ' || kid[i] >= 0x7f)
			return (0);
	return (1);
}

/*
 * HS256 material is the file's bytes less one trailing newline, the one
 * `echo secret > file' or an editor adds.  A PEM text is refused: it is a
 * public key configured by mistake, and a public key as an HMAC secret is
 * exactly the algorithm confusion an attacker would want.
 */
static int
key_hs256(struct token_key *k, const unsigned char *m, size_t len,
    char *errbuf, size_t errlen)
{
	if (len > 0 && m[len - 1] == '\n')
		len--;
	if (memmem(m, len, "-----BEGIN", 10) != NULL)
		return (key_error(errbuf, errlen, k->kid,
		    "a PEM key is not an HS256 secret"));
	if (len < TOKEN_SECRET_MIN)
		return (key_error(errbuf, errlen, k->kid,
		    "HS256 secret shorter than 32 bytes"));
	if (len > TOKEN_SECRET_MAX)
		return (key_error(errbuf, errlen, k->kid,
		    "HS256 secret longer than 512 bytes"));
	memcpy(k->secret, m, len);
	k->secretlen = len;
	k->alg = TOKEN_ALG_HS256;
	return (0);
}

/* Never prompt on a terminal for a pass phrase: encrypted keys fail. */
static int
pem_nopass(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return (0);
}

static EVP_PKEY *
pem_read(const void *m, size_t len, int private)
{
	BIO		*bio;
	EVP_PKEY	*pk;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(m, (int)len)) == NULL)
		return (NULL);
	if (private)
		pk = PEM_read_bio_PrivateKey(bio, NULL, pem_nopass, NULL);
	else
		pk = PEM_read_bio_PUBKEY(bio, NULL, pem_nopass, NULL);
	BIO_free(bio);
	return (pk);
}

/* Keep a public-only copy for verifying, whatever the file held. */
static EVP_PKEY *
ed25519_public(EVP_PKEY *priv)
{
	unsigned char	 raw[ED25519_KEYLEN];
	size_t		 rawlen = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(priv, raw, &rawlen) != 1 ||
	    rawlen != sizeof(raw))
		return (NULL);
	return (EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
	    rawlen));
}

static int
key_eddsa(struct token_key *k, const void *m, size_t len, char *errbuf,
    size_t errlen)
{
	if ((k->priv = pem_read(m, len, 1)) != NULL) {
		if (EVP_PKEY_get_id(k->priv) != EVP_PKEY_ED25519)
			return (key_error(errbuf, errlen, k->kid,
			    "not an Ed25519 key"));
		if ((k->pub = ed25519_public(k->priv)) == NULL)
			return (key_error(errbuf, errlen, k->kid,
			    "cannot derive the public key"));
	} else if ((k->pub = pem_read(m, len, 0)) == NULL)
		return (key_error(errbuf, errlen, k->kid,
		    "no unencrypted PEM key"));
	if (EVP_PKEY_get_id(k->pub) != EVP_PKEY_ED25519)
		return (key_error(errbuf, errlen, k->kid,
		    "not an Ed25519 key"));
	k->alg = TOKEN_ALG_EDDSA;
	return (0);
}

/*
 * Fill k from the file contents the master passed.  On failure k holds
 * nothing to free and errbuf says why; the secret is never quoted.
 */
int
token_key_load(struct token_key *k, const char *kid, const char *alg,
    const void *material, size_t len, char *errbuf, size_t errlen)
{
	int	 rv;

	memset(k, 0, sizeof(*k));
	if (!kid_ok(kid))
		return (key_error(errbuf, errlen, "?",
		    "kid must be 1 to 63 printable characters"));
	memcpy(k->kid, kid, strlen(kid) + 1);
	switch (token_alg(alg)) {
	case TOKEN_ALG_HS256:
		rv = key_hs256(k, material, len, errbuf, errlen);
		break;
	case TOKEN_ALG_EDDSA:
		rv = key_eddsa(k, material, len, errbuf, errlen);
		break;
	default:
		rv = key_error(errbuf, errlen, kid,
		    "algorithm must be HS256 or EdDSA");
		break;
	}
	ERR_clear_error();
	if (rv == -1)
		token_key_clear(k);
	return (rv);
}

/* Forget the key material; the list linkage is left to the caller. */
void
token_key_clear(struct token_key *k)
{
	OPENSSL_cleanse(k->secret, sizeof(k->secret));
	k->secretlen = 0;
	EVP_PKEY_free(k->pub);
	EVP_PKEY_free(k->priv);
	k->pub = k->priv = NULL;
	k->alg = 0;
}

static int
hs256_ok(const struct token_key *k, const char *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	int		 ok;

	if (siglen != HS256_LEN || k->secretlen < TOKEN_SECRET_MIN)
		return (0);
	if (HMAC(EVP_sha256(), k->secret, (int)k->secretlen,
	    (const unsigned char *)in, inlen, mac, &maclen) == NULL ||
	    maclen != HS256_LEN)
		return (0);
	/* Constant time, so the MAC cannot be guessed byte by byte. */
	ok = CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return (ok);
}

static int
eddsa_ok(const struct token_key *k, const char *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	int		 ok = 0;

	if (siglen != ED25519_SIGLEN || k->pub == NULL)
		return (0);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (0);
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)in,
	    inlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return (ok);
}

static int
sig_ok(const struct token_key *k, const char *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	switch (k->alg) {
	case TOKEN_ALG_HS256:
		return (hs256_ok(k, in, inlen, sig, siglen));
	case TOKEN_ALG_EDDSA:
		return (eddsa_ok(k, in, inlen, sig, siglen));
	}
	return (0);
}

/*
 * With a kid, that key alone, and its pinned algorithm must be the one the
 * header names; an unknown kid is how a retired key is refused.  Without
 * a kid, every key pinned to the header's algorithm is tried.
 */
static const struct token_key *
key_find(const struct token_keys *keys, const char *kid, int alg,
    const struct jws *j, const unsigned char *sig, size_t siglen,
    const char **why)
{
	const struct token_key	*k;
	int			 tried = 0;

	TAILQ_FOREACH(k, keys, entry) {
		if (kid != NULL && strcmp(k->kid, kid) != 0)
			continue;
		if (k->alg != alg) {
			if (kid == NULL)
				continue;
			*why = "alg differs from the key's";
			return (NULL);
		}
		tried = 1;
		if (sig_ok(k, j->hdr, j->signedlen, sig, siglen))
			return (k);
		if (kid != NULL)
			break;
	}
	if (tried)
		*why = "bad signature";
	else
		*why = kid != NULL ? "unknown kid" : "no key for this alg";
	return (NULL);
}

/*
 * "crit" names extensions that must be understood (RFC 7515 4.1.11); we
 * understand none, so its presence alone is a refusal.  Other headers that
 * could point at keys (jku, jwk, x5u, x5c) are ignored: keys come only
 * from the configuration.
 */
static int
token_header(json_t *hdr, int *alg, const char **kid, const char **why)
{
	json_t	*a, *k;

	if (json_object_get(hdr, "crit") != NULL) {
		*why = "critical header extension";
		return (-1);
	}
	a = json_object_get(hdr, "alg");
	if (!json_is_string(a)) {
		*why = "no alg";
		return (-1);
	}
	if ((*alg = token_alg(json_string_value(a))) == 0) {
		*why = "unsupported alg";
		return (-1);
	}
	*kid = NULL;
	if ((k = json_object_get(hdr, "kid")) != NULL) {
		if (!json_is_string(k)) {
			*why = "kid is not a string";
			return (-1);
		}
		*kid = json_string_value(k);
	}
	return (0);
}

static int
token_split(const char *tok, size_t len, struct jws *j, const char **why)
{
	const char	*d1, *d2;

	if (tok == NULL || len == 0 || len > TOKEN_MAXLEN) {
		*why = "token empty or too long";
		return (-1);
	}
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (d2 + 1 - tok)) != NULL) {
		*why = "not a compact JWS";
		return (-1);
	}
	j->hdr = tok;
	j->hdrlen = d1 - tok;
	j->pay = d1 + 1;
	j->paylen = d2 - j->pay;
	j->sig = d2 + 1;
	j->siglen = tok + len - j->sig;
	j->signedlen = d2 - tok;
	/*
	 * An empty signature is left to the header check, so that "alg:
	 * none" is logged as such; it can never match a key anyway.
	 */
	if (j->hdrlen == 0 || j->paylen == 0) {
		*why = "empty part";
		return (-1);
	}
	return (0);
}

/* Parse the header and find the key whose signature matches, if any. */
static const struct token_key *
token_check(const struct token_keys *keys, const struct jws *j,
    const char **why)
{
	unsigned char		 sig[TOKEN_MAXLEN];
	const struct token_key	*k = NULL;
	const char		*kid;
	json_t			*hdr;
	size_t			 siglen;
	int			 alg;

	if ((hdr = token_json(j->hdr, j->hdrlen, why)) == NULL)
		return (NULL);
	if (token_header(hdr, &alg, &kid, why) == 0) {
		if (b64u_decode(j->sig, j->siglen, sig, sizeof(sig),
		    &siglen) == -1)
			*why = "bad base64url";
		else
			k = key_find(keys, kid, alg, j, sig, siglen, why);
	}
	json_decref(hdr);
	return (k);
}

/*
 * Strings from a token end up in log lines and in upstream URLs: control
 * characters are refused rather than trusting every consumer to escape.
 */
static int
claim_string(json_t *j, char *dst, size_t dstsize)
{
	const char	*s;
	size_t		 i, len;

	if (!json_is_string(j))
		return (-1);
	s = json_string_value(j);
	len = json_string_length(j);
	if (len == 0 || len >= dstsize)
		return (-1);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (-1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return (0);
}

/* 0 absent, 1 present, -1 not a number (booleans are not numbers). */
static int
claim_time(json_t *pay, const char *name, double *v)
{
	json_t	*j;

	if ((j = json_object_get(pay, name)) == NULL)
		return (0);
	if (!json_is_number(j))
		return (-1);
	*v = json_number_value(j);
	return (1);
}

static int
claim_times(json_t *pay, struct token_claims *c, const char **why)
{
	int	 has_exp;

	if ((has_exp = claim_time(pay, "exp", &c->exp)) == -1 ||
	    (c->has_nbf = claim_time(pay, "nbf", &c->nbf)) == -1 ||
	    (c->has_iat = claim_time(pay, "iat", &c->iat)) == -1) {
		*why = "time claim is not a number";
		return (-1);
	}
	if (!has_exp) {
		*why = "missing exp";
		return (-1);
	}
	return (0);
}

/* sub is a string; seed 001 has a numeric or string "id" instead. */
static int
claim_user(json_t *pay, struct token_claims *c, const char **why)
{
	json_t	*j;

	if ((j = json_object_get(pay, "sub")) == NULL &&
	    (j = json_object_get(pay, "id")) != NULL && json_is_integer(j)) {
		snprintf(c->sub, sizeof(c->sub), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(j));
		return (0);
	}
	if (j != NULL && claim_string(j, c->sub, sizeof(c->sub)) == -1) {
		*why = "bad sub or id";
		return (-1);
	}
	return (0);
}

static int
claim_jti(json_t *pay, struct token_claims *c, const char **why)
{
	json_t	*j;

	if ((j = json_object_get(pay, "jti")) == NULL)
		return (0);
	/* One SHA-256 of it, for the replay cache and the logs alike. */
	if (claim_string(j, c->jti, sizeof(c->jti)) == -1 ||
	    replay_digest(c->jti, c->jti_digest) == -1) {
		*why = "bad jti";
		return (-1);
	}
	c->has_jti = 1;
	return (0);
}

static int
target_add(struct token_claims *c, json_t *j)
{
	if (c->ntargets == TOKEN_MAXTARGETS)
		return (-1);
	if (claim_string(j, c->targets[c->ntargets], TOKEN_TARGET_LEN) == -1)
		return (-1);
	c->ntargets++;
	return (0);
}

/* A list longer than we can hold is refused, not silently cut. */
static int
target_list(json_t *j, struct token_claims *c)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(j, i, v)
		if (target_add(c, v) == -1)
			return (-1);
	return (0);
}

static int
claim_target(json_t *pay, struct token_claims *c, const char **why)
{
	json_t	*j;
	int	 rv = 0;

	if ((j = json_object_get(pay, "target")) == NULL)
		return (0);
	if (json_is_string(j))
		rv = target_add(c, j);
	else if (json_is_array(j))
		rv = target_list(j, c);
	else
		rv = -1;
	if (rv == -1)
		*why = "bad target";
	return (rv);
}

/* Seed 001: lab_instance.{allowed_vmi_names, namespace_name}. */
static int
claim_lab(json_t *pay, struct token_claims *c, const char **why)
{
	json_t	*lab, *names, *ns;

	if ((lab = json_object_get(pay, "lab_instance")) == NULL)
		return (0);
	if (!json_is_object(lab))
		goto bad;
	if ((names = json_object_get(lab, "allowed_vmi_names")) != NULL &&
	    (!json_is_array(names) || target_list(names, c) == -1))
		goto bad;
	if ((ns = json_object_get(lab, "namespace_name")) != NULL &&
	    (claim_string(ns, c->ns, sizeof(c->ns)) == -1 ||
	    !dns_label_ok(c->ns)))
		goto bad;
	return (0);
 bad:
	*why = "bad lab_instance";
	return (-1);
}

static enum err_code
token_claims(json_t *pay, struct token_claims *c, const char **why)
{
	if (claim_times(pay, c, why) == -1 ||
	    claim_user(pay, c, why) == -1 ||
	    claim_jti(pay, c, why) == -1 ||
	    claim_target(pay, c, why) == -1 ||
	    claim_lab(pay, c, why) == -1)
		return (ERR_INVALID_TOKEN);
	return (ERR_NONE);
}

/*
 * The skew absorbs clocks that disagree.  A token without iat is measured
 * from now, and then the issuer's clock may be ahead of ours by the skew.
 */
static enum err_code
token_times(const struct token_claims *c, double now, int skew, int maxlife,
    const char **why)
{
	double	 life;

	if (now >= c->exp + skew) {
		*why = "expired";
		return (ERR_TOKEN_EXPIRED);
	}
	if (c->has_nbf && c->nbf > now + skew) {
		*why = "not valid yet (nbf)";
		return (ERR_INVALID_TOKEN);
	}
	if (c->has_iat && c->iat > now + skew) {
		*why = "issued in the future (iat)";
		return (ERR_INVALID_TOKEN);
	}
	life = c->has_iat ? c->exp - c->iat : c->exp - now - skew;
	if (maxlife > 0 && life > maxlife) {
		*why = "over the maximum lifetime";
		return (ERR_INVALID_TOKEN);
	}
	return (ERR_NONE);
}

/*
 * Verify tok and fill c.  The result is ERR_NONE, ERR_INVALID_TOKEN or
 * ERR_TOKEN_EXPIRED; why is a static reason for the debug log.  c is only
 * meaningful on ERR_NONE, but kid and sub are kept on a refusal that came
 * after a good signature, so that the log can say whose token it was.
 */
enum err_code
token_verify(const struct token_keys *keys, const char *tok, size_t len,
    double now, int skew, int maxlife, struct token_claims *c,
    const char **why)
{
	const struct token_key	*k;
	const char		*unused;
	struct jws		 j;
	json_t			*pay;
	enum err_code		 e;

	if (why == NULL)
		why = &unused;
	*why = "ok";
	memset(c, 0, sizeof(*c));
	if (skew < 0)
		skew = 0;
	if (token_split(tok, len, &j, why) == -1 ||
	    (k = token_check(keys, &j, why)) == NULL)
		return (ERR_INVALID_TOKEN);
	memcpy(c->kid, k->kid, sizeof(c->kid));
	if ((pay = token_json(j.pay, j.paylen, why)) == NULL)
		return (ERR_INVALID_TOKEN);
	e = token_claims(pay, c, why);
	json_decref(pay);
	if (e == ERR_NONE)
		e = token_times(c, now, skew, maxlife, why);
	/* The log's short name for a jti starts its replay digest. */
	if (c->has_jti)
		hexstr(c->jti_digest, (TOKEN_HASH_LEN - 1) / 2, c->hash);
	else
		token_hash(tok, len, c->hash);
	return (e);
}

int
token_allows(const struct token_claims *c, const char *target)
{
	int	 i;

	if (target == NULL)
		return (0);
	for (i = 0; i < c->ntargets; i++)
		if (strcmp(c->targets[i], target) == 0)
			return (1);
	return (0);
}

/* A short name for a token or jti in logs: 8 bytes of SHA-256, in hex. */
void
token_hash(const void *buf, size_t len, char out[TOKEN_HASH_LEN])
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];

	SHA256(buf, len, md);
	hexstr(md, (TOKEN_HASH_LEN - 1) / 2, out);
}

static int
sig_make(const struct token_key *k, const char *in, size_t inlen,
    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 maclen = 0;
	int		 ok = 0;

	if (k->alg == TOKEN_ALG_HS256) {
		if (HMAC(EVP_sha256(), k->secret, (int)k->secretlen,
		    (const unsigned char *)in, inlen, sig, &maclen) == NULL)
			return (-1);
		*siglen = maclen;
		return (0);
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	*siglen = SIG_MAX;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->priv) == 1 &&
	    EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)in,
	    inlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return (ok ? 0 : -1);
}

/* Append base64url(json) at out + *pos. */
static int
put_json(json_t *j, char *out, size_t outlen, size_t *pos)
{
	char	*s;
	size_t	 n;
	int	 rv;

	if ((s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return (-1);
	rv = b64u_encode((unsigned char *)s, strlen(s), out + *pos,
	    outlen - *pos, &n);
	free(s);
	if (rv == 0)
		*pos += n;
	return (rv);
}

static int
put_char(char c, char *out, size_t outlen, size_t *pos)
{
	if (*pos >= outlen)
		return (-1);
	out[(*pos)++] = c;
	return (0);
}

static int
token_encode(const struct token_key *k, json_t *hdr, json_t *pay, char *out,
    size_t outlen)
{
	unsigned char	 sig[EVP_MAX_MD_SIZE];
	size_t		 pos = 0, siglen, n;

	if (put_json(hdr, out, outlen, &pos) == -1 ||
	    put_char('.', out, outlen, &pos) == -1 ||
	    put_json(pay, out, outlen, &pos) == -1 ||
	    sig_make(k, out, pos, sig, &siglen) == -1 ||
	    put_char('.', out, outlen, &pos) == -1 ||
	    b64u_encode(sig, siglen, out + pos, outlen - pos, &n) == -1)
		return (-1);
	pos += n;
	if (put_char('\0', out, outlen, &pos) == -1 || pos > TOKEN_MAXLEN)
		return (-1);
	return (0);
}

/* Mint only what token_verify would accept back. */
static int
sign_claim(json_t *pay, const char *name, const char *v, size_t max)
{
	json_t	*s;
	char	 buf[TOKEN_TARGET_LEN > TOKEN_SUB_LEN ? TOKEN_TARGET_LEN :
		    TOKEN_SUB_LEN];

	if (v == NULL)
		return (0);
	if ((s = json_string(v)) == NULL)
		return (-1);
	if (claim_string(s, buf, max) == -1) {
		json_decref(s);
		return (-1);
	}
	return (json_object_set_new(pay, name, s));
}

/*
 * Mint a one-time token (iat, exp = iat + ttl, a random 128-bit jti) for
 * vncrelayctl and the console API.  sub and target may be NULL.
 */
int
token_sign(const struct token_key *k, const char *sub, const char *target,
    int ttl, double now, char *out, size_t outlen,
    char jti_out[TOKEN_RANDOM_LEN])
{
	unsigned char	 rnd[(TOKEN_RANDOM_LEN - 1) / 2];
	char		 jti[TOKEN_RANDOM_LEN];
	json_t		*hdr, *pay;
	json_int_t	 iat;
	int		 rv = -1;

	if (ttl <= 0 || (k->alg == TOKEN_ALG_EDDSA && k->priv == NULL) ||
	    (k->alg == TOKEN_ALG_HS256 && k->secretlen < TOKEN_SECRET_MIN) ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1)
		return (-1);
	hexstr(rnd, sizeof(rnd), jti);
	iat = (json_int_t)now;	/* whole seconds; now is positive */
	hdr = json_pack("{s:s, s:s, s:s}", "alg", token_alg_name(k->alg),
	    "typ", "JWT", "kid", k->kid);
	pay = json_pack("{s:I, s:I, s:s}", "iat", iat, "exp", iat + ttl,
	    "jti", jti);
	if (hdr != NULL && pay != NULL &&
	    sign_claim(pay, "sub", sub, TOKEN_SUB_LEN) == 0 &&
	    sign_claim(pay, "target", target, TOKEN_TARGET_LEN) == 0 &&
	    token_encode(k, hdr, pay, out, outlen) == 0)
		rv = 0;
	json_decref(hdr);
	json_decref(pay);
	if (rv == 0 && jti_out != NULL)
		memcpy(jti_out, jti, sizeof(jti));
	return (rv);
}
