/*
 * libFuzzer harness: console tokens (authd/token.c): the JWS split, the
 * base64url and JSON decoding of the header, the key choice and, behind a
 * good signature, the claims and their checks.
 *
 * Input: a mode byte, then
 *   0: a token as a client sends it, verified against an HS256 and an
 *	EdDSA key;
 *   1: a header and a payload (JSON, split at the first NUL; without one,
 *	all of it is the payload under an HS256 header) that the harness
 *	encodes and signs with the HS256 key, so that the claim checks see
 *	any payload, not only the few whose signature the fuzzer could guess;
 *   2: a subject and a target (split at the first NUL) and a lifetime byte
 *	for token_sign(), whose token must verify and say the same.
 * Whatever token_verify() accepts must satisfy what decide() relies on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "token.h"
#include "fuzz.h"

#define NOW		1700000000.0
#define SKEW		30
#define MAXLIFE		86400
#define SECRET		"fuzz-secret-fuzz-secret-fuzz-secret-0123"

static struct token_keys	 keys = TAILQ_HEAD_INITIALIZER(keys);
static struct token_key		 hs, ed;

static void
load_eddsa(void)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pk = NULL;
	BIO		*bio;
	char		*pem;
	long		 len;
	char		 err[128];

	CHECK((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) != NULL);
	CHECK(EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pk) == 1);
	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	CHECK(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1);
	len = BIO_get_mem_data(bio, &pem);
	CHECK(token_key_load(&ed, "k2", "EdDSA", pem, len, err,
	    sizeof(err)) == 0);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[128];

	(void)argc;
	(void)argv;
	CHECK(token_key_load(&hs, "k1", "HS256", SECRET, strlen(SECRET), err,
	    sizeof(err)) == 0);
	load_eddsa();
	TAILQ_INSERT_TAIL(&keys, &hs, entry);
	TAILQ_INSERT_TAIL(&keys, &ed, entry);
	return 0;
}

static void
check_string(const char *s, size_t size)
{
	CHECK(strnlen(s, size) < size);
	for (; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
}

/* What decide() and the log lines take for granted of a good token. */
static void
check_claims(const struct token_claims *c)
{
	int	 i;

	CHECK(strcmp(c->kid, "k1") == 0 || strcmp(c->kid, "k2") == 0);
	CHECK(NOW < c->exp + SKEW);
	CHECK(!c->has_nbf || c->nbf <= NOW + SKEW);
	CHECK(!c->has_iat || (c->iat <= NOW + SKEW &&
	    c->exp - c->iat <= MAXLIFE));
	CHECK(c->ntargets >= 0 && c->ntargets <= TOKEN_MAXTARGETS);
	for (i = 0; i < c->ntargets; i++) {
		check_string(c->targets[i], sizeof(c->targets[i]));
		CHECK(c->targets[i][0] != '\0');
		CHECK(token_allows(c, c->targets[i]));
	}
	check_string(c->sub, sizeof(c->sub));
	check_string(c->ns, sizeof(c->ns));
	if (c->has_jti) {
		uint8_t	d[REPLAY_DIGEST_LEN];
		char	h[TOKEN_HASH_LEN];

		check_string(c->jti, sizeof(c->jti));
		/* The replay digest is the jti's, and names it in logs. */
		CHECK(replay_digest(c->jti, d) == 0 &&
		    memcmp(d, c->jti_digest, sizeof(d)) == 0);
		token_hash(c->jti, strlen(c->jti), h);
		CHECK(strcmp(h, c->hash) == 0);
	}
	CHECK(strlen(c->hash) == TOKEN_HASH_LEN - 1 &&
	    strspn(c->hash, "0123456789abcdef") == TOKEN_HASH_LEN - 1);
}

static enum err_code
verify(const char *tok, size_t len, struct token_claims *c)
{
	const char	*why = NULL;
	enum err_code	 e;

	e = token_verify(&keys, tok, len, NOW, SKEW, MAXLIFE, c, &why);
	CHECK(why != NULL);
	CHECK(e == ERR_NONE || e == ERR_INVALID_TOKEN ||
	    e == ERR_TOKEN_EXPIRED);
	if (e == ERR_NONE)
		check_claims(c);
	return e;
}

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t			 i, o = 0;
	uint32_t		 v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	return o;
}

static void
signed_claims(const uint8_t *p, size_t n)
{
	static const char	 dflt[] = "{\"alg\":\"HS256\",\"kid\":\"k1\"}";
	const uint8_t		*hdr = (const uint8_t *)dflt, *nul;
	size_t			 hl = strlen(dflt), len;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen;
	struct token_claims	 c;
	char			*tok;

	if ((nul = memchr(p, '\0', n)) != NULL) {
		hdr = p;
		hl = nul - p;
		n -= hl + 1;
		p = nul + 1;
	}
	CHECK((tok = malloc((hl + n) / 3 * 4 + 64)) != NULL);
	len = b64url(hdr, hl, tok);
	tok[len++] = '.';
	len += b64url(p, n, tok + len);
	CHECK(HMAC(EVP_sha256(), SECRET, strlen(SECRET), (uint8_t *)tok, len,
	    mac, &maclen) != NULL);
	tok[len++] = '.';
	len += b64url(mac, maclen, tok + len);
	verify(tok, len, &c);
	free(tok);
}

static void
sign_and_verify(const uint8_t *p, size_t n)
{
	char			 sub[TOKEN_SUB_LEN * 2], target[TOKEN_TARGET_LEN * 2];
	char			 tok[TOKEN_MAXLEN + 1], jti[TOKEN_RANDOM_LEN];
	const uint8_t		*nul;
	struct token_claims	 c;
	size_t			 sl;
	int			 ttl;

	if (n < 1)
		return;
	ttl = 1 + p[0] * 300;
	p++;
	n--;
	nul = memchr(p, '\0', n);
	sl = nul ? (size_t)(nul - p) : n;
	if (sl >= sizeof(sub) || (nul && n - sl - 1 >= sizeof(target)))
		return;
	memcpy(sub, p, sl);
	sub[sl] = '\0';
	target[0] = '\0';
	if (nul) {
		memcpy(target, nul + 1, n - sl - 1);
		target[n - sl - 1] = '\0';
	}
	if (token_sign(sl & 1 ? &ed : &hs, sub[0] ? sub : NULL,
	    target[0] ? target : NULL, ttl, NOW, tok, sizeof(tok), jti) == -1)
		return;
	CHECK(verify(tok, strlen(tok), &c) == ERR_NONE);
	CHECK(c.has_jti && strcmp(c.jti, jti) == 0);
	CHECK(strcmp(c.sub, sub) == 0);
	CHECK(target[0] == '\0' ? c.ntargets == 0 :
	    (c.ntargets == 1 && token_allows(&c, target)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_claims	 c;
	char			*tok;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		/* Exactly the token's bytes: a read past them is caught. */
		CHECK((tok = malloc(size)) != NULL);
		memcpy(tok, data + 1, size - 1);
		verify(tok, size - 1, &c);
		free(tok);
		break;
	case 1:
		signed_claims(data + 1, size - 1);
		break;
	default:
		sign_and_verify(data + 1, size - 1);
		break;
	}
	return 0;
}
