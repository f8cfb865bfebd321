/*
 * libFuzzer harness: the WebSocket frame decoder (worker/ws.c) in both
 * roles: SERVER reads a browser's masked frames, CLIENT an upstream
 * server's unmasked ones.
 *
 * Input: a byte of settings (role, text mode, max-frame-size), a byte that
 * seeds how the stream is cut, a byte for a small output bound, then the
 * stream.  The stream is decoded twice: at once with room to spare, and
 * cut into small reads with a small output bound that the harness drains
 * as a session would.  A streaming decoder must not care how its input
 * arrives: both runs must report the same control frames and the same
 * error, and the same payload (on an error, one payload must be a prefix
 * of the other, as each stops where it saw the error).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws.h"
#include "fuzz.h"

static const uint64_t max_frames[] = {
	0, 7, 125, 126, 1000, 65535, 65536, 1 << 20
};

struct run {
	struct ws_decoder	 dec;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct evbuffer		*payload;	/* everything out ever held */
	struct evbuffer		*events;	/* controls and the error */
	int			 failed;
};

static void
run_init(struct run *r, uint8_t settings)
{
	int	 mode = (settings >> 1) & 3;

	ws_decoder_init(&r->dec, settings & 1 ? WS_CLIENT : WS_SERVER,
	    mode == 0 ? WS_TEXT_BASE64 : mode == 2 ? WS_TEXT_DROP :
	    WS_TEXT_RELAY, max_frames[(settings >> 3) & 7]);
	r->in = evbuffer_new();
	r->out = evbuffer_new();
	r->payload = evbuffer_new();
	r->events = evbuffer_new();
	r->failed = 0;
	CHECK(r->in && r->out && r->payload && r->events);
}

static void
run_free(struct run *r)
{
	evbuffer_free(r->in);
	evbuffer_free(r->out);
	evbuffer_free(r->payload);
	evbuffer_free(r->events);
}

static void
record_control(struct run *r)
{
	struct ws_decoder	*d = &r->dec;
	uint8_t			 h[4];

	CHECK(d->ctl_len <= WS_CONTROL_MAX);
	CHECK(d->ctl_opcode == WS_OP_PING || d->ctl_opcode == WS_OP_PONG ||
	    d->ctl_opcode == WS_OP_CLOSE);
	if (d->ctl_opcode == WS_OP_CLOSE) {
		/* RFC 6455 5.5.1: no payload, or a code and UTF-8. */
		CHECK(d->ctl_len != 1);
		CHECK(ws_decoder_closed(d));
		CHECK(d->close_code == WS_CLOSE_NO_STATUS ||
		    ws_close_code_valid(d->close_code));
	}
	h[0] = 'C';
	h[1] = d->ctl_opcode;
	h[2] = d->ctl_len;
	h[3] = d->ctl_opcode == WS_OP_CLOSE ? d->close_code & 0xff : 0;
	evbuffer_add(r->events, h, sizeof(h));
	evbuffer_add(r->events, d->ctl, d->ctl_len);
}

/* Decodes what is in r->in; 0 when it needs more, -1 after an error. */
static int
run_decode(struct run *r, size_t limit)
{
	uint8_t	 e[3];

	for (;;) {
		switch (ws_decode(&r->dec, r->in, r->out, limit)) {
		case WS_NEED_MORE:
			evbuffer_add_buffer(r->payload, r->out);
			return 0;
		case WS_FULL:
			CHECK(evbuffer_get_length(r->out) >= limit);
			evbuffer_add_buffer(r->payload, r->out);
			break;
		case WS_CONTROL:
			record_control(r);
			break;
		case WS_ERROR:
			CHECK(r->dec.close_code == WS_CLOSE_PROTOCOL ||
			    r->dec.close_code == WS_CLOSE_INVALID_DATA ||
			    r->dec.close_code == WS_CLOSE_TOO_BIG);
			e[0] = 'E';
			e[1] = r->dec.close_code >> 8;
			e[2] = r->dec.close_code;
			evbuffer_add(r->events, e, sizeof(e));
			evbuffer_add_buffer(r->payload, r->out);
			r->failed = 1;
			return -1;
		}
	}
}

static int
same(struct evbuffer *a, struct evbuffer *b, int prefix)
{
	size_t	 la = evbuffer_get_length(a), lb = evbuffer_get_length(b);
	size_t	 n = la < lb ? la : lb;

	if (!prefix && la != lb)
		return 0;
	return n == 0 || memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1),
	    n) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 whole, cut;
	uint32_t	 seed;
	size_t		 limit, off, n;

	if (size < 3)
		return 0;
	run_init(&whole, data[0]);
	run_init(&cut, data[0]);
	seed = data[1] | 1;
	limit = 1 + data[2];
	data += 3;
	size -= 3;

	evbuffer_add(whole.in, data, size);
	run_decode(&whole, (size_t)1 << 30);

	/* Each read its own chain, as a socket's reads would be. */
	for (off = 0; off < size && !cut.failed; off += n) {
		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % (seed & 0x100 ? 300 : 9);
		if (n > size - off)
			n = size - off;
		evbuffer_add(cut.in, data + off, n);
		run_decode(&cut, limit);
	}

	CHECK(whole.failed == cut.failed);
	CHECK(same(whole.events, cut.events, 0));
	CHECK(same(whole.payload, cut.payload, whole.failed));
	CHECK(evbuffer_get_length(whole.payload) <= size);
	run_free(&whole);
	run_free(&cut);
	return 0;
}
