/*
 * libFuzzer harness: upstream HTTP responses (common/httpc.c), as authd
 * reads Prism's login and REST answers and a worker reads the answer to
 * its upgrade.
 *
 * Input: one byte of flags (bit 0: the connection has ended), then the
 * bytes received.  Beyond "no crash" it checks what the callers rely on:
 * a head length lies within the input and ends in an empty line; a parsed
 * head has a three-digit status and header lines without CR or LF; a
 * complete body lies within what was received and is NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"
#include "fuzz.h"

static void
check_head(const struct httpc_resp *r)
{
	size_t	 i;

	CHECK(r->status >= 100 && r->status <= 599);
	CHECK(r->nhdr <= HTTPC_MAX_HEADERS);
	for (i = 0; i < r->nhdr; i++) {
		CHECK(r->hdr[i].name[0] != '\0');
		CHECK(strpbrk(r->hdr[i].name, "\r\n: ") == NULL);
		CHECK(strpbrk(r->hdr[i].value, "\r\n") == NULL);
		(void)httpc_token_has(r->hdr[i].value, "upgrade");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpc_resp	 r;
	char			*buf;
	ssize_t			 hl;
	size_t			 len, blen;
	int			 eof, rv;

	if (size < 1)
		return 0;
	eof = data[0] & 1;
	len = size - 1;
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data + 1, len);
	hl = httpc_head_len(buf, len);
	CHECK(hl >= -1 && hl <= (ssize_t)len);
	CHECK(hl != -1 || len >= HTTPC_MAX_HEAD);
	if (hl > 0) {
		CHECK(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
		if (httpc_parse_head(&r, buf, hl) == 0) {
			check_head(&r);
			blen = len - hl;
			rv = httpc_parse_body(&r, buf + hl, blen, eof);
			CHECK(rv >= -1 && rv <= 1);
			if (rv == 1) {
				CHECK(r.bodylen <= blen);
				CHECK(r.body == buf + hl);
				CHECK(r.body[r.bodylen] == '\0');
			}
			if (!eof)
				CHECK(rv != 1 || httpc_get(&r,
				    "Content-Length") || httpc_get(&r,
				    "Transfer-Encoding") || r.status < 200 ||
				    r.status == 204 || r.status == 304);
		}
	}
	free(buf);
	return 0;
}
