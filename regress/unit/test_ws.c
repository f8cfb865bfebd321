/*
 * Unit test of the WebSocket codec (worker/ws.c): framing, streaming
 * decode, every protocol violation with its close code, backpressure.
 * Prints one "ok N - what" or "not ok N - what" line per check.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ws.h"
#include "tap.h"

#define FIN		0x80
#define NOLIMIT		((size_t)-1)
#define MAXCTL		64

static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };	/* RFC 6455 */


struct sink {
	struct evbuffer	*out;
	int		 nctl;
	int		 op[MAXCTL];
	uint8_t		 payload[MAXCTL][WS_CONTROL_MAX];
	size_t		 plen[MAXCTL];
	uint16_t	 code[MAXCTL];
	int		 nfull;
};


/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t
rnd(void)
{
	static uint64_t	s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static void
sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	if ((s->out = evbuffer_new()) == NULL)
		abort();
}

static void
sink_free(struct sink *s)
{
	evbuffer_free(s->out);
}

static int
sink_is(struct sink *s, const void *p, size_t n)
{
	size_t	len = evbuffer_get_length(s->out);

	return len == n && (n == 0 ||
	    memcmp(evbuffer_pullup(s->out, -1), p, n) == 0);
}

static int
sink_buf(struct evbuffer *b, const void *p, size_t n)
{
	return evbuffer_get_length(b) == n && (n == 0 ||
	    memcmp(evbuffer_pullup(b, -1), p, n) == 0);
}

/* Appends one frame whose first byte is b0 as given, RSV bits and all. */
static void
raw(struct evbuffer *b, int b0, const void *p, size_t n, int masked)
{
	uint8_t	h[WS_HEADER_MAX], *copy;
	size_t	hl;

	hl = ws_header(h, b0 & 0x0f, 0, n, masked ? key : NULL);
	h[0] = b0;
	evbuffer_add(b, h, hl);
	if (n == 0)
		return;
	if ((copy = malloc(n)) == NULL)
		abort();
	memcpy(copy, p, n);
	if (masked)
		ws_mask(copy, n, key, 0);
	evbuffer_add(b, copy, n);
	free(copy);
}

/*
 * Decodes all that `in` holds.  Returns 0 once the decoder needs more,
 * the close code on an error.  WS_FULL is counted and the output left.
 */
static int
run(struct ws_decoder *d, struct evbuffer *in, struct sink *s, size_t limit)
{
	for (;;) {
		switch (ws_decode(d, in, s->out, limit)) {
		case WS_NEED_MORE:
			return 0;
		case WS_FULL:
			s->nfull++;
			return 0;
		case WS_ERROR:
			return d->close_code;
		case WS_AGAIN:
			return -1;	/* ws_decode takes the spans itself */
		case WS_CONTROL:
			if (s->nctl < MAXCTL) {
				s->op[s->nctl] = d->ctl_opcode;
				memcpy(s->payload[s->nctl], d->ctl, d->ctl_len);
				s->plen[s->nctl] = d->ctl_len;
				s->code[s->nctl] = d->close_code;
			}
			s->nctl++;
			break;
		}
	}
}

/* Decodes a whole wire image at once with a fresh decoder. */
static int
decode(enum ws_role role, enum ws_textmode mode, uint64_t max,
    struct evbuffer *wire, struct sink *s)
{
	struct ws_decoder	d;

	ws_decoder_init(&d, role, mode, max);
	return run(&d, wire, s, NOLIMIT);
}

/* The close code a single crafted wire image earns, 0 for none. */
static int
verdict(enum ws_role role, enum ws_textmode mode, struct evbuffer *wire)
{
	struct sink	s;
	int		code;

	sink_init(&s);
	code = decode(role, mode, 0, wire, &s);
	sink_free(&s);
	evbuffer_drain(wire, evbuffer_get_length(wire));
	return code;
}

static void
test_handshake(void)
{
	char	out[WS_ACCEPT_LEN + 1];

	/*
	 * RFC 6455 1.3 gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo= for its sample
	 * nonce; `openssl sha1 -binary | base64` agrees.
	 */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	ok(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "RFC 6455 example key gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
	ok(strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0,
	    "second key agrees with openssl(1)");
	ok(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="), "example key is valid");
	ok(ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="), "all-zero key is valid");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="), "23 characters refused");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="
	    "AAAA"), "28 characters refused");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQAA"), "missing padding refused");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25j!Q=="), "bad character refused");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ==="), "early padding refused");
	ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ Q="), "space refused");
	ok(!ws_key_valid("") && !ws_key_valid(NULL), "empty and NULL refused");
}

static void
test_header(void)
{
	uint8_t		h[WS_HEADER_MAX];
	static const struct {
		uint64_t	len;
		size_t		hl;
	} t[] = {
		{ 0, 2 }, { 125, 2 }, { 126, 4 }, { 65535, 4 }, { 65536, 10 },
		{ 1ULL << 40, 10 },
	};
	size_t		i, hl;
	int		good = 1;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		good &= ws_header(h, WS_OP_BINARY, 1, t[i].len, NULL) ==
		    t[i].hl;
		good &= ws_header(h, WS_OP_BINARY, 1, t[i].len, key) ==
		    t[i].hl + 4;
		good &= memcmp(h + t[i].hl, key, 4) == 0;
	}
	ok(good, "header sizes for 0/125/126/65535/65536/2^40, with mask");
	hl = ws_header(h, WS_OP_BINARY, 1, 256, NULL);
	ok(hl == 4 && memcmp(h, "\x82\x7e\x01\x00", 4) == 0,
	    "RFC 6455 256-byte binary header");
	hl = ws_header(h, WS_OP_BINARY, 1, 65536, NULL);
	ok(hl == 10 && memcmp(h, "\x82\x7f\0\0\0\0\0\x01\0\0", 10) == 0,
	    "RFC 6455 64 KiB binary header");
	hl = ws_header(h, WS_OP_TEXT, 0, 3, key);
	ok(hl == 6 && h[0] == 0x01 && h[1] == 0x83, "non-final masked text");
}

static void
test_mask(void)
{
	uint8_t		buf[300], ref[300];
	size_t		n, off, align, i;
	int		good = 1;

	/* Past the 64-byte loop and its 16-byte tail, at every alignment. */
	for (align = 0; align < 16; align++)
		for (n = 0; n < 200; n++)
			for (off = 0; off < 5; off++) {
				for (i = 0; i < n; i++)
					buf[align + i] = ref[i] = rnd();
				ws_mask(buf + align, n, key, off);
				for (i = 0; i < n; i++)
					ref[i] ^= key[(off + i) & 3];
				good &= memcmp(buf + align, ref, n) == 0;
			}
	ok(good, "ws_mask matches byte-wise XOR at every alignment and phase");
}

/* The examples of RFC 6455 5.7. */
static void
test_rfc_examples(void)
{
	struct evbuffer	*w = evbuffer_new();
	struct sink	 s;

	sink_init(&s);
	evbuffer_add(w, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
	ok(decode(WS_CLIENT, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "Hello", 5), "unmasked \"Hello\" decoded (client role)");
	sink_free(&s);

	sink_init(&s);
	evbuffer_add(w, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "Hello", 5), "masked \"Hello\" decoded (server role)");
	sink_free(&s);

	sink_init(&s);
	evbuffer_add(w, "\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", 9);
	ok(decode(WS_CLIENT, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "Hello", 5), "fragmented \"Hel\" \"lo\" decoded");
	sink_free(&s);

	sink_init(&s);
	evbuffer_add(w, "\x89\x05\x48\x65\x6c\x6c\x6f", 7);
	ok(decode(WS_CLIENT, WS_TEXT_RELAY, 0, w, &s) == 0 && s.nctl == 1 &&
	    s.op[0] == WS_OP_PING && s.plen[0] == 5 &&
	    memcmp(s.payload[0], "Hello", 5) == 0, "unmasked ping reported");
	sink_free(&s);

	sink_init(&s);
	evbuffer_add(w, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 && s.nctl == 1 &&
	    s.op[0] == WS_OP_PONG && memcmp(s.payload[0], "Hello", 5) == 0,
	    "masked pong reported and unmasked");
	sink_free(&s);
	evbuffer_free(w);
}

static void
digest_drain(EVP_MD_CTX *md, struct evbuffer *b)
{
	struct evbuffer_iovec	v[64];
	int			i, n;

	while (evbuffer_get_length(b) > 0) {
		n = evbuffer_peek(b, -1, NULL, v, 64);
		if (n > 64)
			n = 64;
		for (i = 0; i < n; i++) {
			EVP_DigestUpdate(md, v[i].iov_base, v[i].iov_len);
			evbuffer_drain(b, v[i].iov_len);
		}
	}
}

/*
 * A few MiB of random data cut into messages, each fragmented into frames
 * of 1, 125, 126, 65535 and 65536 bytes with pings between fragments, fed
 * to the decoder in random pieces with a bounded output.
 */
static void
roundtrip(enum ws_role role, size_t total, int base64)
{
	static const size_t	 sizes[] = { 1, 125, 126, 65535, 65536 };
	struct evbuffer		*src, *wire, *in;
	struct ws_decoder	 d;
	struct sink		 s;
	EVP_MD_CTX		*m1, *m2;
	uint8_t			 h1[32], h2[32], *data;
	size_t			 left, sz, piece, k = 0;
	int			 j, nfr, npings = 0, err = 0, opcode;

	if ((data = malloc(total)) == NULL || RAND_bytes(data, total) != 1)
		abort();
	m1 = EVP_MD_CTX_new();
	m2 = EVP_MD_CTX_new();
	EVP_DigestInit_ex(m1, EVP_sha256(), NULL);
	EVP_DigestInit_ex(m2, EVP_sha256(), NULL);
	EVP_DigestUpdate(m1, data, total);
	EVP_DigestFinal_ex(m1, h1, NULL);

	src = evbuffer_new();
	wire = evbuffer_new();
	in = evbuffer_new();
	evbuffer_add(src, data, total);
	for (left = total; left > 0;) {
		nfr = 1 + rnd() % 5;
		for (j = 0; j < nfr && left > 0; j++) {
			sz = sizes[k++ % 5];
			if (sz > left)
				sz = left;
			left -= sz;
			if (base64) {
				ws_frame_base64(wire, src, sz, role == WS_SERVER);
				break;
			}
			opcode = j == 0 ? WS_OP_BINARY : WS_OP_CONT;
			if (j < nfr - 1 && left > 0)
				opcode |= WS_MORE;
			if (ws_frame_append(wire, opcode, src, sz,
			    role == WS_SERVER) == -1)
				abort();
			if (k % 7 == 0) {
				ws_control_append(wire, WS_OP_PING, "p", 1,
				    role == WS_SERVER);
				npings++;
			}
		}
	}

	sink_init(&s);
	ws_decoder_init(&d, role, WS_TEXT_BASE64, 65536 * 2);
	while (err == 0 && (evbuffer_get_length(wire) > 0 ||
	    evbuffer_get_length(in) > 0)) {
		piece = 1 + rnd() % 100000;
		evbuffer_remove_buffer(wire, in, piece);
		s.nfull = 0;
		err = run(&d, in, &s, 256 * 1024);
		if (evbuffer_get_length(s.out) > 256 * 1024 + 3)
			err = -1;
		/* Input left over with none to come and no backpressure. */
		if (err == 0 && s.nfull == 0 && evbuffer_get_length(in) > 0 &&
		    evbuffer_get_length(wire) == 0)
			err = -2;
		digest_drain(m2, s.out);
	}
	EVP_DigestFinal_ex(m2, h2, NULL);
	ok(err == 0 && memcmp(h1, h2, 32) == 0 && s.nctl == npings &&
	    !ws_message_open(&d),
	    "%zu bytes %s%s round trip, SHA-256 equal, %d pings", total,
	    base64 ? "base64 " : "", role == WS_SERVER ? "masked" : "unmasked",
	    npings);

	sink_free(&s);
	evbuffer_free(src);
	evbuffer_free(wire);
	evbuffer_free(in);
	EVP_MD_CTX_free(m1);
	EVP_MD_CTX_free(m2);
	free(data);
}

/* A conversation of every kind of frame, fed to the decoder byte by byte. */
static void
bytewise(enum ws_role role, enum ws_textmode mode)
{
	static const char	 text[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac";
	struct evbuffer		*wire = evbuffer_new(), *in = evbuffer_new();
	struct evbuffer		*tmp = evbuffer_new(), *expect = evbuffer_new();
	struct ws_decoder	 d;
	struct sink		 s;
	uint8_t			 bin[300], c;
	int			 masked = role == WS_SERVER, err = 0, i;

	for (i = 0; i < 300; i++)
		bin[i] = rnd();
	if (mode == WS_TEXT_BASE64) {
		evbuffer_add(tmp, text, sizeof(text) - 1);
		ws_frame_base64(wire, tmp, sizeof(text) - 1, masked);
		evbuffer_add(expect, text, sizeof(text) - 1);
		ws_control_append(wire, WS_OP_PING, "ping!", 5, masked);
	} else {
		/* Split inside the two-byte é and the three-byte €. */
		evbuffer_add(tmp, text, sizeof(text) - 1);
		ws_frame_append(wire, WS_OP_TEXT | WS_MORE, tmp, 2, masked);
		ws_control_append(wire, WS_OP_PING, "ping!", 5, masked);
		ws_frame_append(wire, WS_OP_CONT | WS_MORE, tmp, 14, masked);
		ws_frame_append(wire, WS_OP_CONT, tmp,
		    evbuffer_get_length(tmp), masked);
		if (mode == WS_TEXT_RELAY)
			evbuffer_add(expect, text, sizeof(text) - 1);
	}
	evbuffer_add(tmp, bin, sizeof(bin));
	ws_frame_append(wire, WS_OP_BINARY, tmp, sizeof(bin), masked);
	evbuffer_add(expect, bin, sizeof(bin));
	ws_control_append(wire, WS_OP_PONG, NULL, 0, masked);
	ws_frame_append(wire, WS_OP_BINARY, tmp, 0, masked);
	ws_close_append(wire, 1000, "bye", masked);

	sink_init(&s);
	ws_decoder_init(&d, role, mode, 0);
	while (err == 0 && evbuffer_remove(wire, &c, 1) == 1) {
		evbuffer_add(in, &c, 1);
		err = run(&d, in, &s, NOLIMIT);
	}
	ok(err == 0 && sink_is(&s, evbuffer_pullup(expect, -1),
	    evbuffer_get_length(expect)) && s.nctl == 3 &&
	    s.op[0] == WS_OP_PING && s.plen[0] == 5 &&
	    memcmp(s.payload[0], "ping!", 5) == 0 && s.op[1] == WS_OP_PONG &&
	    s.plen[1] == 0 && s.op[2] == WS_OP_CLOSE && s.code[2] == 1000 &&
	    s.plen[2] == 5 && memcmp(s.payload[2] + 2, "bye", 3) == 0 &&
	    ws_decoder_closed(&d),
	    "byte-by-byte feed, %s, text mode %s", masked ? "masked" :
	    "unmasked", mode == WS_TEXT_BASE64 ? "base64" :
	    mode == WS_TEXT_RELAY ? "relay" : "drop");
	sink_free(&s);
	evbuffer_free(wire);
	evbuffer_free(in);
	evbuffer_free(tmp);
	evbuffer_free(expect);
}

/* Decodes text given as two fragments, split at k. */
static int
two_fragments(enum ws_textmode mode, const char *t, size_t n, size_t k,
    struct sink *s)
{
	struct evbuffer	*w = evbuffer_new();
	int		 code;

	raw(w, WS_OP_TEXT, t, k, 1);
	raw(w, FIN | WS_OP_CONT, t + k, n - k, 1);
	code = decode(WS_SERVER, mode, 0, w, s);
	evbuffer_free(w);
	return code;
}

static void
test_base64(void)
{
	static const size_t	 lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 100 };
	static const struct {
		const char	*text;
		const char	*why;
	} bad[] = {
		{ "QUJD!", "character outside the alphabet" },
		{ "QUJD\n", "newline" },
		{ "QU JD", "space" },
		{ "QU=D", "padding inside a quad" },
		{ "Q===", "three padding characters" },
		{ "=AAA", "padding first" },
		{ "QQ==QUJD", "data after padding" },
		{ "QUI=QQ==", "a second padded quad" },
		{ "QUJ", "incomplete quad at the end" },
		{ "QQ=", "half padding at the end" },
	};
	struct evbuffer		*w = evbuffer_new(), *src = evbuffer_new();
	struct evbuffer		*in = evbuffer_new();
	struct ws_decoder	 d;
	struct sink		 s;
	uint8_t			 data[100], *wb;
	char			 txt[200];
	size_t			 i, k, wl, tl;
	int			 good, err;

	for (i = 0; i < sizeof(data); i++)
		data[i] = rnd();
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		evbuffer_add(src, data, lens[i]);
		ws_frame_base64(w, src, lens[i], 1);
		wl = evbuffer_get_length(w);
		wb = evbuffer_pullup(w, -1);
		for (good = 1, k = 0; k <= wl; k++) {
			sink_init(&s);
			ws_decoder_init(&d, WS_SERVER, WS_TEXT_BASE64, 0);
			evbuffer_add(in, wb, k);
			err = run(&d, in, &s, NOLIMIT);
			evbuffer_add(in, wb + k, wl - k);
			err |= run(&d, in, &s, NOLIMIT);
			good &= err == 0 && sink_is(&s, data, lens[i]);
			sink_free(&s);
		}
		ok(good, "base64 frame of %zu bytes split at each of %zu "
		    "points", lens[i], wl + 1);
		evbuffer_drain(w, wl);

		/* The base64 text itself split across two fragments. */
		evbuffer_add(src, data, lens[i]);
		ws_frame_base64(w, src, lens[i], 0);
		tl = ws_base64_len(lens[i]);
		evbuffer_drain(w, evbuffer_get_length(w) - tl);
		evbuffer_remove(w, txt, tl);
		for (good = 1, k = 0; k <= tl; k++) {
			sink_init(&s);
			good &= two_fragments(WS_TEXT_BASE64, txt, tl, k,
			    &s) == 0 && sink_is(&s, data, lens[i]);
			sink_free(&s);
		}
		ok(good, "base64 of %zu bytes split across fragments at each "
		    "of %zu characters", lens[i], tl + 1);
	}

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw(w, FIN | WS_OP_TEXT, bad[i].text, strlen(bad[i].text), 1);
		ok(verdict(WS_SERVER, WS_TEXT_BASE64, w) == 1007,
		    "base64 %s -> 1007", bad[i].why);
	}
	raw(w, WS_OP_TEXT, "QQ==", 4, 1);
	raw(w, FIN | WS_OP_CONT, "QUJD", 4, 1);
	ok(verdict(WS_SERVER, WS_TEXT_BASE64, w) == 1007,
	    "base64 data in a fragment after padding -> 1007");

	sink_init(&s);
	raw(w, FIN | WS_OP_TEXT, "QQ==", 4, 1);
	raw(w, FIN | WS_OP_TEXT, "QUI=", 4, 1);
	raw(w, FIN | WS_OP_TEXT, "QUJD", 4, 1);
	raw(w, FIN | WS_OP_BINARY, "raw", 3, 1);
	ok(decode(WS_SERVER, WS_TEXT_BASE64, 0, w, &s) == 0 &&
	    sink_is(&s, "AABABCraw", 9),
	    "padding ends each message; binary passes in base64 mode");
	sink_free(&s);
	evbuffer_free(w);
	evbuffer_free(src);
	evbuffer_free(in);
}

static void
test_utf8(void)
{
	static const char	 good_text[] =
	    "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\xed\x9f\xbf\xf4\x8f\xbf\xbf";
	static const struct {
		const char	*s;
		const char	*why;
	} bad[] = {
		{ "\xc0\x80", "overlong NUL C0 80" },
		{ "\xc1\xbf", "overlong C1 BF" },
		{ "\xe0\x80\x80", "overlong E0 80 80" },
		{ "\xe0\x9f\xbf", "overlong E0 9F BF" },
		{ "\xf0\x8f\xbf\xbf", "overlong F0 8F BF BF" },
		{ "\xed\xa0\x80", "surrogate ED A0 80" },
		{ "\xed\xbf\xbf", "surrogate ED BF BF" },
		{ "\xf4\x90\x80\x80", "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", "F5 lead byte" },
		{ "\xff", "FF byte" },
		{ "abc\x80", "stray continuation byte" },
		{ "\xc3\x28", "missing continuation" },
		{ "\xe2\x82", "sequence truncated at FIN" },
		{ "abcdefgh\xe2", "lead byte truncated at FIN after ASCII run" },
	};
	struct evbuffer	*w = evbuffer_new();
	struct sink	 s;
	size_t		 n = sizeof(good_text) - 1, k, i;
	int		 good;

	for (good = 1, k = 0; k <= n; k++) {
		sink_init(&s);
		good &= two_fragments(WS_TEXT_RELAY, good_text, n, k, &s) == 0 &&
		    sink_is(&s, good_text, n);
		sink_free(&s);
		sink_init(&s);
		good &= two_fragments(WS_TEXT_DROP, good_text, n, k, &s) == 0 &&
		    sink_is(&s, "", 0);
		sink_free(&s);
	}
	ok(good, "UTF-8 split across fragments at each of %zu points "
	    "(relay and drop)", n + 1);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw(w, FIN | WS_OP_TEXT, bad[i].s, strlen(bad[i].s), 1);
		ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1007,
		    "UTF-8 %s -> 1007", bad[i].why);
		raw(w, FIN | WS_OP_TEXT, bad[i].s, strlen(bad[i].s), 1);
		ok(verdict(WS_SERVER, WS_TEXT_DROP, w) == 1007,
		    "UTF-8 %s -> 1007 in drop mode", bad[i].why);
	}
	raw(w, WS_OP_TEXT, "ok \xe2\x82", 5, 1);
	raw(w, FIN | WS_OP_CONT, "", 0, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1007,
	    "UTF-8 truncated at a FIN after fragments -> 1007");
	raw(w, WS_OP_TEXT, "\xc0", 1, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1007,
	    "invalid UTF-8 caught before the message ends");
	raw(w, WS_OP_TEXT, "\xe2", 1, 1);
	raw(w, FIN | WS_OP_PING, "", 0, 1);
	raw(w, FIN | WS_OP_CONT, "\x82\xac", 2, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "\xe2\x82\xac", 3) && s.nctl == 1,
	    "a character split around an interleaved ping");
	sink_free(&s);
	raw(w, FIN | WS_OP_BINARY, "\xff\xc0", 2, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 0,
	    "binary payload is not UTF-8 checked");
	evbuffer_free(w);
}

static void
test_violations(void)
{
	static const uint8_t	 top[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0,
	    0, 0, 0x37, 0xfa, 0x21, 0x3d };
	static const uint8_t	 ping126[] = { 0x89, 0xfe, 0x00, 0x7e, 0x37,
	    0xfa, 0x21, 0x3d };
	struct evbuffer		*w = evbuffer_new();
	uint8_t			 big[126];
	int			 op;

	memset(big, 'x', sizeof(big));
	raw(w, FIN | WS_OP_BINARY, "abc", 3, 0);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "unmasked frame to a server -> 1002");
	raw(w, FIN | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_CLIENT, WS_TEXT_RELAY, w) == 1002,
	    "masked frame to a client -> 1002");
	raw(w, FIN | WS_OP_PING, "", 0, 0);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "unmasked ping to a server -> 1002");
	raw(w, FIN | 0x40 | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002, "RSV1 -> 1002");
	raw(w, FIN | 0x20 | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002, "RSV2 -> 1002");
	raw(w, FIN | 0x10 | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002, "RSV3 -> 1002");
	raw(w, FIN | 0x40 | WS_OP_PING, "", 0, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002, "RSV1 on ping -> 1002");
	for (op = 3; op < 16; op++) {
		if (op >= WS_OP_CLOSE && op <= WS_OP_PONG)
			continue;
		raw(w, FIN | op, "", 0, 1);
		ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
		    "opcode 0x%x -> 1002", op);
	}
	evbuffer_add(w, ping126, sizeof(ping126));
	evbuffer_add(w, big, sizeof(big));
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "ping with 126-byte payload -> 1002");
	raw(w, WS_OP_PING, "a", 1, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "fragmented ping -> 1002");
	raw(w, WS_OP_CLOSE, "\x03\xe8", 2, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "fragmented close -> 1002");
	raw(w, FIN | WS_OP_CONT, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "continuation without a message -> 1002");
	raw(w, FIN | WS_OP_BINARY, "abc", 3, 1);
	raw(w, FIN | WS_OP_CONT, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "continuation after a finished message -> 1002");
	raw(w, WS_OP_TEXT, "abc", 3, 1);
	raw(w, FIN | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "binary inside a fragmented text message -> 1002");
	raw(w, WS_OP_BINARY, "abc", 3, 1);
	raw(w, FIN | WS_OP_BINARY, "abc", 3, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "new binary inside a fragmented binary message -> 1002");
	evbuffer_add(w, top, sizeof(top));
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "64-bit length with the top bit set -> 1002");
	raw(w, FIN | WS_OP_CLOSE, "\x03", 1, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "close with a 1-byte payload -> 1002");
	raw(w, FIN | WS_OP_CLOSE, "\x03\xe8\xc0\x80", 4, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "close reason not UTF-8 -> 1002");
	raw(w, FIN | WS_OP_CLOSE, "\x03\xe8\xe2\x82", 4, 1);
	ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
	    "close reason truncated UTF-8 -> 1002");
	evbuffer_free(w);
}

static void
test_close_codes(void)
{
	static const unsigned int	 bad[] = { 0, 999, 1004, 1005, 1006,
	    1015, 1016, 2000, 2999, 5000, 65535 };
	static const unsigned int	 good[] = { 1000, 1001, 1002, 1003,
	    1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000,
	    4999 };
	struct evbuffer			*w = evbuffer_new();
	struct sink			 s;
	uint8_t				 p[2];
	size_t				 i;
	int				 all = 1;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p[0] = bad[i] >> 8;
		p[1] = bad[i];
		raw(w, FIN | WS_OP_CLOSE, p, 2, 1);
		ok(verdict(WS_SERVER, WS_TEXT_RELAY, w) == 1002,
		    "close code %u -> 1002", bad[i]);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p[0] = good[i] >> 8;
		p[1] = good[i];
		raw(w, FIN | WS_OP_CLOSE, p, 2, 1);
		sink_init(&s);
		all &= decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
		    s.nctl == 1 && s.op[0] == WS_OP_CLOSE &&
		    s.code[0] == good[i];
		sink_free(&s);
	}
	ok(all, "valid close codes 1000-1003, 1007-1014, 3000-4999 reported");

	raw(w, FIN | WS_OP_CLOSE, "", 0, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 && s.nctl == 1 &&
	    s.code[0] == 1005 && s.plen[0] == 0,
	    "empty close reported as 1005");
	sink_free(&s);
	evbuffer_free(w);
}

static void
test_max_frame(void)
{
	struct evbuffer		*w = evbuffer_new(), *src = evbuffer_new();
	struct ws_decoder	 d;
	struct sink		 s;
	uint8_t			 h[WS_HEADER_MAX], chunk[4096];
	size_t			 hl, i;
	int			 err = 0;

	/* Only the header arrives: the verdict must not wait for payload. */
	hl = ws_header(h, WS_OP_BINARY, 1, 1001, key);
	evbuffer_add(w, h, hl);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 1000, w, &s) == 1009,
	    "data frame over max_frame -> 1009 from the header alone");
	sink_free(&s);
	evbuffer_drain(w, evbuffer_get_length(w));

	hl = ws_header(h, WS_OP_TEXT, 0, 1ULL << 40, key);
	evbuffer_add(w, h, hl);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 1 << 20, w, &s) == 1009,
	    "2^40-byte text frame -> 1009");
	sink_free(&s);
	evbuffer_drain(w, evbuffer_get_length(w));

	memset(chunk, 'x', sizeof(chunk));
	evbuffer_add(src, chunk, 1000);
	ws_frame_append(w, WS_OP_BINARY, src, 1000, 1);
	ws_control_append(w, WS_OP_PING, chunk, WS_CONTROL_MAX, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 1000, w, &s) == 0 &&
	    evbuffer_get_length(s.out) == 1000 && s.nctl == 1,
	    "frame of exactly max_frame and a 125-byte ping accepted");
	sink_free(&s);

	/* A 1 GiB frame streams through without being held whole. */
	hl = ws_header(h, WS_OP_BINARY, 1, 1ULL << 30, key);
	evbuffer_add(w, h, hl);
	sink_init(&s);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	for (i = 0; i < 256 && err == 0; i++) {
		evbuffer_add(w, chunk, sizeof(chunk));
		err = run(&d, w, &s, NOLIMIT);
		if (evbuffer_get_length(s.out) != sizeof(chunk) ||
		    evbuffer_get_length(w) != 0)
			err = -1;
		evbuffer_drain(s.out, sizeof(chunk));
	}
	ok(err == 0 && ws_message_open(&d),
	    "1 GiB frame streams in 4 KiB pieces (1 MiB fed)");
	sink_free(&s);
	evbuffer_free(w);
	evbuffer_free(src);
}

static void
test_backpressure(void)
{
	struct evbuffer		*w = evbuffer_new(), *src = evbuffer_new();
	struct evbuffer		*got = evbuffer_new();
	struct ws_decoder	 d;
	uint8_t			 data[10000];
	size_t			 i, maxlen = 0;
	enum ws_result		 r;
	int			 nfull = 0, rounds = 0;

	for (i = 0; i < sizeof(data); i++)
		data[i] = rnd();
	evbuffer_add(src, data, sizeof(data));
	ws_frame_append(w, WS_OP_BINARY, src, sizeof(data), 1);

	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	while ((r = ws_decode(&d, w, src, 1000)) == WS_FULL && rounds++ < 100) {
		nfull++;
		if (evbuffer_get_length(src) > maxlen)
			maxlen = evbuffer_get_length(src);
		evbuffer_remove_buffer(src, got, 1000);
	}
	evbuffer_add_buffer(got, src);
	ok(r == WS_NEED_MORE && nfull == 10 && maxlen == 1000 &&
	    evbuffer_get_length(got) == sizeof(data) &&
	    memcmp(evbuffer_pullup(got, -1), data, sizeof(data)) == 0,
	    "10000-byte frame through a 1000-byte limit: 10 x WS_FULL");

	/* Full output: a control frame behind the data is still reported. */
	evbuffer_drain(got, evbuffer_get_length(got));
	evbuffer_add(src, data, 1000);
	ws_frame_append(w, WS_OP_BINARY, src, 1000, 1);
	ws_control_append(w, WS_OP_PING, "x", 1, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	r = ws_decode(&d, w, got, 1000);
	ok(r == WS_CONTROL && d.ctl_opcode == WS_OP_PING &&
	    evbuffer_get_length(got) == 1000, "ping reported while full");
	r = ws_decode(&d, w, got, 1000);
	ok(r == WS_FULL, "out of input while full says WS_FULL");
	evbuffer_drain(got, 1000);
	ok(ws_decode(&d, w, got, 1000) == WS_NEED_MORE,
	    "after draining, WS_NEED_MORE");

	/* An empty out with a limit of 0 is full at once. */
	evbuffer_add(src, data, 10);
	ws_frame_append(w, WS_OP_BINARY, src, 10, 1);
	ok(ws_decode(&d, w, got, 0) == WS_FULL &&
	    evbuffer_get_length(got) == 0, "limit 0 consumes no payload");
	ok(ws_decode(&d, w, got, NOLIMIT) == WS_NEED_MORE &&
	    evbuffer_get_length(got) == 10, "and resumes");

	evbuffer_free(w);
	evbuffer_free(src);
	evbuffer_free(got);
}

static void
test_interleaved(void)
{
	struct evbuffer		*w = evbuffer_new(), *in = evbuffer_new();
	struct ws_decoder	 d;
	struct sink		 s;

	raw(w, WS_OP_TEXT, "Hel", 3, 1);
	raw(w, FIN | WS_OP_PING, "p", 1, 1);
	raw(w, FIN | WS_OP_CONT, "lo", 2, 1);
	sink_init(&s);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	ok(ws_decode(&d, w, s.out, NOLIMIT) == WS_CONTROL &&
	    d.ctl_opcode == WS_OP_PING && d.ctl_len == 1 && d.ctl[0] == 'p' &&
	    sink_is(&s, "Hel", 3) && ws_message_open(&d),
	    "ping inside a fragmented message: first fragment, then ping");
	ok(ws_decode(&d, w, s.out, NOLIMIT) == WS_NEED_MORE &&
	    sink_is(&s, "Hello", 5) && !ws_message_open(&d),
	    "then the rest of the message");
	sink_free(&s);

	raw(w, WS_OP_BINARY, "ab", 2, 1);
	raw(w, FIN | WS_OP_PONG, "", 0, 1);
	raw(w, FIN | WS_OP_PING, "q", 1, 1);
	raw(w, WS_OP_CONT, "cd", 2, 1);
	raw(w, FIN | WS_OP_CLOSE, "\x03\xe9", 2, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "abcd", 4) && s.nctl == 3 && s.op[0] == WS_OP_PONG &&
	    s.op[1] == WS_OP_PING && s.op[2] == WS_OP_CLOSE &&
	    s.code[2] == 1001, "pong, ping and close inside a message");
	sink_free(&s);

	/* Once closed, whatever follows is ignored. */
	raw(w, FIN | WS_OP_CLOSE, "\x03\xe8", 2, 1);
	raw(w, FIN | WS_OP_BINARY, "late", 4, 1);
	raw(w, FIN | 0x70, "", 0, 0);
	sink_init(&s);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	ok(run(&d, w, &s, NOLIMIT) == 0 && s.nctl == 1 &&
	    ws_decoder_closed(&d) && evbuffer_get_length(w) == 0 &&
	    sink_is(&s, "", 0), "frames after a close are discarded");
	sink_free(&s);

	/* A failed decoder stays failed. */
	raw(w, FIN | WS_OP_CONT, "", 0, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	sink_init(&s);
	ok(ws_decode(&d, w, s.out, NOLIMIT) == WS_ERROR &&
	    ws_decode(&d, w, s.out, NOLIMIT) == WS_ERROR &&
	    d.close_code == 1002, "errors are sticky");
	sink_free(&s);
	evbuffer_drain(w, evbuffer_get_length(w));

	/* Zero-length frames and messages. */
	raw(w, WS_OP_TEXT, "", 0, 1);
	raw(w, FIN | WS_OP_CONT, "", 0, 1);
	raw(w, FIN | WS_OP_BINARY, "", 0, 1);
	raw(w, FIN | WS_OP_TEXT, "x", 1, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "x", 1), "empty frames and messages");
	sink_free(&s);
	evbuffer_free(w);
	evbuffer_free(in);
}

/* A socket's read: its own chain, never appended to the last one. */
static void
add_chain(struct evbuffer *in, const void *p, size_t n)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL || evbuffer_add(b, p, n) == -1 ||
	    evbuffer_add_buffer(in, b) == -1)
		abort();
	evbuffer_free(b);
}

/* Copies the payload sp describes, where it lies in `in`, to dst. */
static int
spans_copy(struct evbuffer *in, const struct ws_spans *sp,
    struct evbuffer *dst)
{
	struct evbuffer_ptr	 pos;
	uint8_t			 buf[70000];
	size_t			 sum = 0, at = 0;
	int			 i;

	for (i = 0; i < sp->n; i++) {
		if (sp->span[i].off < at || sp->span[i].len > sizeof(buf) ||
		    evbuffer_ptr_set(in, &pos, sp->span[i].off,
		    EVBUFFER_PTR_SET) == -1 ||
		    evbuffer_copyout_from(in, &pos, buf, sp->span[i].len) !=
		    (ev_ssize_t)sp->span[i].len)
			return -1;
		evbuffer_add(dst, buf, sp->span[i].len);
		at = sp->span[i].off + sp->span[i].len;
		sum += sp->span[i].len;
	}
	return sum == sp->payload && at <= sp->end ? 0 : -1;
}

/*
 * Feeds `wire` in chains of the given lengths (the last one repeated),
 * decoding spans after each and taking them with `part` of each written
 * from where it lies and the rest queued; returns the payload or NULL.
 */
static struct evbuffer *
spans_feed(enum ws_textmode mode, struct evbuffer *wire, const size_t *cuts,
    size_t ncuts, size_t part)
{
	struct evbuffer		*in = evbuffer_new(), *got = evbuffer_new();
	struct evbuffer		*queue = evbuffer_new(), *all = evbuffer_new();
	struct ws_decoder	 d;
	struct ws_spans		 sp;
	enum ws_result		 r;
	uint8_t			 buf[70000];
	size_t			 i = 0, n, w;
	int			 bad = 0;

	ws_decoder_init(&d, WS_SERVER, mode, 0);
	while (!bad && evbuffer_get_length(wire) > 0) {
		n = cuts[i < ncuts - 1 ? i++ : i];
		n = evbuffer_remove(wire, buf, n < sizeof(buf) ? n : sizeof(buf));
		add_chain(in, buf, n);
		do {
			r = ws_decode_spans(&d, in, got, NOLIMIT, &sp);
			evbuffer_add_buffer(all, got);
			w = part < sp.payload ? part : sp.payload;
			evbuffer_drain(queue, evbuffer_get_length(queue));
			bad |= spans_copy(in, &sp, queue) == -1;
			evbuffer_remove_buffer(queue, all, w);
			evbuffer_drain(queue, evbuffer_get_length(queue));
			bad |= ws_spans_take(&sp, in, w, queue) == -1;
			evbuffer_add_buffer(all, queue);
		} while (r == WS_AGAIN || r == WS_CONTROL);
		bad |= r != WS_NEED_MORE;
	}
	bad |= evbuffer_get_length(in) != 0;
	evbuffer_free(in);
	evbuffer_free(got);
	evbuffer_free(queue);
	if (bad) {
		evbuffer_free(all);
		return NULL;
	}
	return all;
}

/* Masked frames of every length class, a text one and an empty one. */
static void
spans_wire(struct evbuffer *wire, struct evbuffer *expect,
    const uint8_t *data, size_t n)
{
	static const char	 text[] = "h\xc3\xa9llo \xe2\x82\xac";
	struct evbuffer		*tmp = evbuffer_new();
	static const size_t	 sizes[] = { 1, 5, 125, 126, 300, 65536 };
	size_t			 i, off = 0, sz;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && off < n; i++) {
		sz = sizes[i] < n - off ? sizes[i] : n - off;
		evbuffer_add(tmp, data + off, sz);
		evbuffer_add(expect, data + off, sz);
		ws_frame_append(wire, i == 2 ? WS_OP_BINARY | WS_MORE :
		    i == 3 ? WS_OP_CONT : WS_OP_BINARY, tmp, sz, 1);
		if (i == 2)
			ws_control_append(wire, WS_OP_PING, "p", 1, 1);
		off += sz;
	}
	ws_frame_append(wire, WS_OP_BINARY, tmp, 0, 1);
	evbuffer_add(tmp, text, sizeof(text) - 1);
	ws_frame_append(wire, WS_OP_TEXT, tmp, sizeof(text) - 1, 1);
	evbuffer_add(expect, text, sizeof(text) - 1);
	evbuffer_free(tmp);
}

static int
same_buf(struct evbuffer *a, struct evbuffer *b)
{
	size_t	n;

	if (a == NULL || b == NULL)
		return 0;
	n = evbuffer_get_length(a);
	return n == evbuffer_get_length(b) && (n == 0 ||
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0);
}

/*
 * Payload unmasked in place must come out right wherever the input's
 * chains end: in a header, in a mask key, at every phase of the key.
 */
static void
test_spans_chains(void)
{
	struct evbuffer	*wire = evbuffer_new(), *expect = evbuffer_new();
	struct evbuffer	*w, *got;
	uint8_t		 data[66500];
	size_t		 i, len, cut[2], parts[] = { 0, 1, 3, 64, NOLIMIT };
	int		 good = 1, k;

	for (i = 0; i < sizeof(data); i++)
		data[i] = rnd();
	spans_wire(wire, expect, data, 700);
	len = evbuffer_get_length(wire);
	/* Two chains cut at every offset; then one byte per chain. */
	for (cut[0] = 1; cut[0] <= len; cut[0]++) {
		w = evbuffer_new();
		evbuffer_add(w, evbuffer_pullup(wire, -1), len);
		cut[1] = len;
		got = spans_feed(WS_TEXT_RELAY, w, cut, 2, cut[0] % 5 == 0 ?
		    3 : NOLIMIT);
		good &= same_buf(got, expect);
		if (got)
			evbuffer_free(got);
		evbuffer_free(w);
	}
	ok(good, "spans: two chains cut at each of %zu offsets", len);

	for (k = 0, good = 1; k < 5; k++) {
		w = evbuffer_new();
		evbuffer_add(w, evbuffer_pullup(wire, -1), len);
		cut[0] = 1;
		got = spans_feed(WS_TEXT_RELAY, w, cut, 1, parts[k]);
		good &= same_buf(got, expect);
		if (got)
			evbuffer_free(got);
		evbuffer_free(w);
	}
	ok(good, "spans: a chain per byte, taken in every way");

	evbuffer_drain(wire, len);
	evbuffer_drain(expect, evbuffer_get_length(expect));
	spans_wire(wire, expect, data, sizeof(data));
	cut[0] = 4093;
	cut[1] = 65536;
	got = spans_feed(WS_TEXT_RELAY, wire, cut, 2, 10000);
	ok(same_buf(got, expect), "spans: a 64 KiB frame across chains");
	if (got)
		evbuffer_free(got);
	evbuffer_free(wire);
	evbuffer_free(expect);
}

/* What is left in `in` is unmasked payload at the spans' offsets. */
static void
test_spans_inplace(void)
{
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	struct evbuffer		*got = evbuffer_new();
	struct ws_decoder	 d;
	struct ws_spans		 sp;
	enum ws_result		 r;
	int			 i;

	raw(in, FIN | WS_OP_BINARY, "abc", 3, 1);
	raw(in, FIN | WS_OP_BINARY, "", 0, 1);
	raw(in, FIN | WS_OP_BINARY, "defg", 4, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ok(r == WS_NEED_MORE && sp.n == 2 && sp.span[0].off == 6 &&
	    sp.span[0].len == 3 && sp.span[1].off == 21 &&
	    sp.span[1].len == 4 && sp.payload == 7 && sp.end == 25 &&
	    memcmp(evbuffer_pullup(in, -1) + 6, "abc", 3) == 0 &&
	    memcmp(evbuffer_pullup(in, -1) + 21, "defg", 4) == 0 &&
	    evbuffer_get_length(out) == 0,
	    "spans: payload unmasked in place, headers stepped over");
	ok(ws_spans_take(&sp, in, 4, got) == 0 && sink_buf(got, "efg", 3) &&
	    evbuffer_get_length(in) == 0,
	    "spans: take drains what was written, queues the rest");

	/* Twenty frames: at most WS_SPANS spans a call. */
	for (i = 0; i < 20; i++)
		raw(in, FIN | WS_OP_BINARY, "x", 1, 1);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ok(r == WS_AGAIN && sp.n == WS_SPANS && sp.payload == WS_SPANS,
	    "spans: WS_AGAIN once the spans are full");
	ws_spans_take(&sp, in, 0, got);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ok(r == WS_NEED_MORE && sp.n == 20 - WS_SPANS, "and the rest after");
	ws_spans_take(&sp, in, sp.payload, got);

	/* The limit counts spans with `out`. */
	evbuffer_drain(got, evbuffer_get_length(got));
	raw(in, FIN | WS_OP_BINARY, "0123456789", 10, 1);
	raw(in, FIN | WS_OP_BINARY, "abcdefghij", 10, 1);
	evbuffer_add(out, "zz", 2);
	r = ws_decode_spans(&d, in, out, 12, &sp);
	ok(r == WS_FULL && sp.payload == 10 && sp.n == 1,
	    "spans: out and spans together stop at the limit");
	ws_spans_take(&sp, in, 0, got);
	evbuffer_drain(out, 2);
	r = ws_decode_spans(&d, in, out, 5, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_FULL && sp.payload == 5 && sink_buf(got, "0123456789abcde",
	    15), "spans: a frame cut by the limit resumes in phase");
	r = ws_decode_spans(&d, in, out, 5, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_FULL && sink_buf(got, "0123456789abcdefghij", 20) &&
	    evbuffer_get_length(in) == 0, "and ends");
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(got);
}

/*
 * Controls and payload for `out` wait while spans are pending, so that
 * the caller can keep everything in order; an error comes with the spans
 * before it.
 */
static void
test_spans_order(void)
{
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	struct evbuffer		*got = evbuffer_new();
	struct ws_decoder	 d;
	struct ws_spans		 sp;
	enum ws_result		 r;

	raw(in, WS_OP_BINARY, "ab", 2, 1);
	raw(in, FIN | WS_OP_PING, "p", 1, 1);
	raw(in, FIN | WS_OP_CONT, "cd", 2, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_AGAIN && sink_buf(got, "ab", 2), "spans: ping waits");
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ok(r == WS_CONTROL && sp.n == 0 && d.ctl_opcode == WS_OP_PING &&
	    ws_message_open(&d), "then comes alone");
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_NEED_MORE && sink_buf(got, "abcd", 4) &&
	    !ws_message_open(&d), "then the rest of the message");

	/* base64: text is decoded into out, binary passes as spans. */
	evbuffer_drain(got, 4);
	raw(in, FIN | WS_OP_BINARY, "AB", 2, 1);
	raw(in, FIN | WS_OP_TEXT, "Q0Q=", 4, 1);
	raw(in, FIN | WS_OP_BINARY, "EF", 2, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_BASE64, 0);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_AGAIN && sink_buf(got, "AB", 2) &&
	    evbuffer_get_length(out) == 0, "spans: base64 text waits");
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	evbuffer_add_buffer(got, out);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_NEED_MORE && sink_buf(got, "ABCDEF", 6),
	    "then out and the spans after it");

	evbuffer_drain(got, 6);
	raw(in, FIN | WS_OP_BINARY, "ok", 2, 1);
	raw(in, FIN | 0x40 | WS_OP_BINARY, "no", 2, 1);
	ws_decoder_init(&d, WS_SERVER, WS_TEXT_RELAY, 0);
	r = ws_decode_spans(&d, in, out, NOLIMIT, &sp);
	ws_spans_take(&sp, in, 0, got);
	ok(r == WS_ERROR && d.close_code == WS_CLOSE_PROTOCOL &&
	    sink_buf(got, "ok", 2), "spans: an error comes after the spans");
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(got);
}

static void
test_encoders(void)
{
	struct evbuffer	*w = evbuffer_new(), *src = evbuffer_new();
	struct sink	 s;
	char		 reason[300];
	uint8_t		 h1[WS_HEADER_MAX], h2[WS_HEADER_MAX], *p;
	size_t		 i;

	memset(reason, 'r', sizeof(reason));
	ok(ws_control_append(w, WS_OP_PING, reason, 126, 0) == -1,
	    "control payload of 126 bytes refused");
	ok(ws_control_append(w, WS_OP_TEXT, "x", 1, 0) == -1,
	    "ws_control_append refuses a data opcode");
	ok(ws_close_append(w, 1005, NULL, 0) == -1 &&
	    ws_close_append(w, 1006, NULL, 0) == -1 &&
	    ws_close_append(w, 999, NULL, 0) == -1,
	    "close codes 1005, 1006, 999 are never sent");
	ok(evbuffer_get_length(w) == 0, "nothing written by refused calls");

	ok(ws_frame_append(w, WS_OP_BINARY, src, 1, 0) == -1,
	    "framing more than src holds is refused");

	ws_close_append(w, 0, NULL, 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 && s.nctl == 1 &&
	    s.plen[0] == 0 && s.code[0] == 1005, "close without status");
	sink_free(&s);

	/* 150 two-byte characters: cut at 122 bytes, never mid-character. */
	for (i = 0; i < 149; i++)
		memcpy(reason + 2 * i, "\xc3\xa9", 2);
	reason[298] = '\0';
	ws_close_append(w, 4000, reason, 0);
	sink_init(&s);
	ok(decode(WS_CLIENT, WS_TEXT_RELAY, 0, w, &s) == 0 && s.nctl == 1 &&
	    s.code[0] == 4000 && s.plen[0] == 2 + 122,
	    "long close reason cut at a character boundary");
	sink_free(&s);

	ws_close_append(w, 1011, "server error", 1);
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    s.code[0] == 1011 && s.plen[0] == 14 &&
	    memcmp(s.payload[0] + 2, "server error", 12) == 0,
	    "masked close with reason round trip");
	sink_free(&s);

	/* Two masked frames of the same data carry different keys. */
	evbuffer_add(src, "abcdabcd", 8);
	ws_frame_append(w, WS_OP_BINARY, src, 4, 1);
	ws_frame_append(w, WS_OP_BINARY, src, 4, 1);
	p = evbuffer_pullup(w, -1);
	memcpy(h1, p, 10);
	memcpy(h2, p + 10, 10);
	ok(h1[1] == 0x84 && h2[1] == 0x84 && memcmp(h1 + 2, h2 + 2, 4) != 0,
	    "masking keys differ between frames");
	sink_init(&s);
	ok(decode(WS_SERVER, WS_TEXT_RELAY, 0, w, &s) == 0 &&
	    sink_is(&s, "abcdabcd", 8), "and unmask correctly");
	sink_free(&s);

	ws_frame_base64(w, src, 0, 0);
	p = evbuffer_pullup(w, -1);
	ok(evbuffer_get_length(w) == 2 && p[0] == 0x81 && p[1] == 0,
	    "empty base64 frame");
	evbuffer_drain(w, 2);
	evbuffer_add(src, "hello", 5);
	ws_frame_base64(w, src, 5, 0);
	ok(evbuffer_get_length(w) == 10 &&
	    memcmp(evbuffer_pullup(w, -1), "\x81\x08" "aGVsbG8=", 10) == 0,
	    "base64 frame of \"hello\" is aGVsbG8=");
	evbuffer_free(w);
	evbuffer_free(src);
}

/* Random input must end in a clean verdict, never a crash. */
static void
test_garbage(void)
{
	struct evbuffer		*w = evbuffer_new();
	struct ws_decoder	 d;
	struct sink		 s;
	uint8_t			 junk[64];
	size_t			 i, n, j;
	int			 good = 1, r;

	for (i = 0; i < 20000; i++) {
		n = rnd() % sizeof(junk);
		for (j = 0; j < n; j++)
			junk[j] = rnd();
		/* Mostly plausible headers, to get past the first checks. */
		if (n > 0 && (i & 1))
			junk[0] &= 0x8f;
		if (n > 1 && (i & 2))
			junk[1] = (junk[1] & 0x7f) % 40 | 0x80;
		evbuffer_add(w, junk, n);
		sink_init(&s);
		ws_decoder_init(&d, i & 4 ? WS_CLIENT : WS_SERVER,
		    (enum ws_textmode)(i % 3), 30);
		r = run(&d, w, &s, 16);
		good &= r == 0 || r == 1002 || r == 1007 || r == 1009;
		good &= evbuffer_get_length(s.out) <= 16 + 3;
		sink_free(&s);
		evbuffer_drain(w, evbuffer_get_length(w));
	}
	ok(good, "20000 random inputs end in a clean verdict");
	evbuffer_free(w);
}

int
main(void)
{
	test_handshake();
	test_header();
	test_mask();
	test_rfc_examples();
	roundtrip(WS_SERVER, 4 << 20, 0);
	roundtrip(WS_CLIENT, 4 << 20, 0);
	roundtrip(WS_SERVER, 1 << 20, 1);
	bytewise(WS_SERVER, WS_TEXT_RELAY);
	bytewise(WS_CLIENT, WS_TEXT_RELAY);
	bytewise(WS_SERVER, WS_TEXT_DROP);
	bytewise(WS_SERVER, WS_TEXT_BASE64);
	bytewise(WS_CLIENT, WS_TEXT_BASE64);
	test_base64();
	test_utf8();
	test_violations();
	test_close_codes();
	test_max_frame();
	test_backpressure();
	test_interleaved();
	test_spans_chains();
	test_spans_inplace();
	test_spans_order();
	test_encoders();
	test_garbage();
	return tap_done();
}
