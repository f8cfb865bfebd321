/*
 * Console tokens for wsload: HS256 JWTs (RFC 7519) signed here with
 * OpenSSL's HMAC, as a portal would mint them.  Each has a jti of its own,
 * since vncrelayd's authd refuses a token's second use, and expires a few
 * minutes after it is made.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "wsload.h"

#define TOKEN_TTL	300

static atomic_ulong	jti_counter;

/* The file's bytes less one trailing newline, as authd reads them. */
int
signer_load(struct signer *s, const char *path, const char *kid,
    const char *target)
{
	uint8_t		rnd[8];
	ssize_t		n;
	int		fd, i;

	memset(s, 0, sizeof(*s));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, s->key, sizeof(s->key));
	close(fd);
	if (n <= 0)
		return -1;
	if (s->key[n - 1] == '\n')
		n--;
	s->keylen = n;
	if (snprintf(s->kid, sizeof(s->kid), "%s", kid) >= (int)sizeof(s->kid) ||
	    snprintf(s->target, sizeof(s->target), "%s", target) >=
	    (int)sizeof(s->target))
		return -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (i = 0; i < 8; i++)
		snprintf(s->jti_prefix + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* base64url without padding; returns the length written. */
static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	size_t	len, i;

	len = EVP_EncodeBlock((unsigned char *)out, in, n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	out[len] = '\0';
	return len;
}

int
signer_token(const struct signer *s, char *out, size_t outlen)
{
	char		 hdr[160], pay[400];
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	size_t		 hl, pl, o;
	time_t		 now = time(NULL);
	int		 n;

	n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"JWT\","
	    "\"kid\":\"%s\"}", s->kid);
	if (n < 0 || n >= (int)sizeof(hdr))
		return -1;
	hl = n;
	n = snprintf(pay, sizeof(pay), "{\"sub\":\"bench\",\"target\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s-%lu\"}", s->target,
	    (long long)now, (long long)now + TOKEN_TTL, s->jti_prefix,
	    atomic_fetch_add(&jti_counter, 1));
	if (n < 0 || n >= (int)sizeof(pay))
		return -1;
	pl = n;
	if ((hl + pl + 2) / 3 * 4 + 2 + 44 >= outlen)
		return -1;
	o = b64url((uint8_t *)hdr, hl, out);
	out[o++] = '.';
	o += b64url((uint8_t *)pay, pl, out + o);
	if (HMAC(EVP_sha256(), s->key, s->keylen, (uint8_t *)out, o, mac,
	    &maclen) == NULL)
		return -1;
	out[o++] = '.';
	b64url(mac, maclen, out + o);
	return 0;
}
