/*
 * libFuzzer harness: the "base64" subprotocol (worker/ws.c), in which text
 * messages carry base64 that the decoder turns back into bytes.
 *
 * Input: a byte of settings, a byte that seeds the cuts, then data.
 *   bit 0 clear: the data is the text of one message, sent as masked
 *	fragments cut at the seed's places; the decoder must agree with a
 *	plain reference decoder written here, byte for byte, and refuse
 *	(1007) exactly what the reference refuses.
 *   bit 0 set: the data is bytes, framed by ws_frame_base64() and then
 *	ws_frame_append() (masked when bit 1 is set), from a buffer of
 *	several chains; decoding both frames must give the bytes twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws.h"
#include "fuzz.h"

static int
ref_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Whole quads; "=" only as the last one or two characters of the last
 * quad.  Trailing bits need not be zero.  Returns the length or -1.
 */
static long
ref_decode(const uint8_t *s, size_t n, uint8_t *out)
{
	size_t		 i, o = 0;
	int		 k, pad, v;
	uint32_t	 acc;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		acc = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && k >= 2 && i + 4 == n &&
			    (k == 3 || s[i + 3] == '=')) {
				pad++;
				v = 0;
			} else if ((v = ref_value(s[i + k])) == -1)
				return -1;
			acc = acc << 6 | v;
		}
		out[o++] = acc >> 16;
		if (pad < 2)
			out[o++] = acc >> 8;
		if (pad < 1)
			out[o++] = acc;
	}
	return o;
}

static void
add_frame(struct evbuffer *b, int opcode, int fin, const uint8_t *p,
    size_t n)
{
	static const uint8_t	 key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t			 h[WS_HEADER_MAX], *m;
	size_t			 hl, i;

	hl = ws_header(h, opcode, fin, n, key);
	CHECK((m = malloc(n + 1)) != NULL);
	for (i = 0; i < n; i++)
		m[i] = p[i] ^ key[i & 3];
	evbuffer_add(b, h, hl);
	evbuffer_add(b, m, n);
	free(m);
}

/* Decodes all of in; returns the close code of an error, or 0. */
static int
decode_all(enum ws_role role, struct evbuffer *in, struct evbuffer *out)
{
	struct ws_decoder	 d;

	ws_decoder_init(&d, role, WS_TEXT_BASE64, 0);
	for (;;) {
		switch (ws_decode(&d, in, out, (size_t)1 << 30)) {
		case WS_NEED_MORE:
			CHECK(evbuffer_get_length(in) == 0);
			return 0;
		case WS_ERROR:
			return d.close_code;
		default:
			abort();	/* no control frame was sent */
		}
	}
}

static void
check_text(uint32_t seed, const uint8_t *s, size_t n)
{
	struct evbuffer	*in = evbuffer_new(), *out = evbuffer_new();
	uint8_t		*want;
	size_t		 off, len;
	long		 wl;
	int		 code;

	CHECK(in && out && (want = malloc(n / 4 * 3 + 3)) != NULL);
	off = 0;
	do {
		seed = seed * 1103515245 + 12345;
		len = (seed >> 16) % 11;
		if (len > n - off)
			len = n - off;
		add_frame(in, evbuffer_get_length(in) == 0 ? WS_OP_TEXT :
		    WS_OP_CONT, off + len == n, s + off, len);
		off += len;
	} while (off < n);
	code = decode_all(WS_SERVER, in, out);
	wl = ref_decode(s, n, want);
	if (wl == -1)
		CHECK(code == WS_CLOSE_INVALID_DATA);
	else {
		CHECK(code == 0);
		CHECK(evbuffer_get_length(out) == (size_t)wl);
		CHECK(wl == 0 || memcmp(evbuffer_pullup(out, -1), want,
		    wl) == 0);
	}
	free(want);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
check_roundtrip(uint32_t seed, int masked, const uint8_t *p, size_t n)
{
	struct evbuffer	*src = evbuffer_new(), *wire = evbuffer_new();
	struct evbuffer	*out = evbuffer_new();
	size_t		 off, len;
	uint8_t		*got;

	CHECK(src && wire && out);
	for (off = 0; off < n; off += len) {
		seed = seed * 1103515245 + 12345;
		len = 1 + (seed >> 16) % 7;
		if (len > n - off)
			len = n - off;
		evbuffer_add(src, p + off, len);
	}
	CHECK(ws_frame_base64(wire, src, n, masked) == 0);
	CHECK(evbuffer_get_length(src) == 0);
	evbuffer_add(src, p, n);
	CHECK(ws_frame_append(wire, WS_OP_BINARY, src, n, masked) == 0);
	CHECK(decode_all(masked ? WS_SERVER : WS_CLIENT, wire, out) == 0);
	CHECK(evbuffer_get_length(out) == 2 * n);
	got = evbuffer_pullup(out, -1);
	CHECK(n == 0 || (memcmp(got, p, n) == 0 &&
	    memcmp(got + n, p, n) == 0));
	evbuffer_free(src);
	evbuffer_free(wire);
	evbuffer_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] & 1)
		check_roundtrip(data[1], data[0] & 2, data + 2, size - 2);
	else
		check_text(data[1], data + 2, size - 2);
	return 0;
}
