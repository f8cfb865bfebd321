/*
 * libFuzzer harness: the WebSocket frame decoder (worker/ws.c) in both
 * roles: SERVER reads a browser's masked frames, CLIENT an upstream
 * server's unmasked ones.
 *
 * Input: a byte of settings (role, text mode, max-frame-size), a byte that
 * seeds how the stream is cut, a byte for a small output bound, then the
 * stream.  The stream is decoded three times: at once with room to spare;
 * cut into small reads, each its own buffer chain, with a small output
 * bound that the harness drains as a session would; and cut the same way
 * through ws_decode_spans, taking the spans as the relay does: a part
 * written out from where it lies (the harness copies it by the spans'
 * offsets), the rest queued by ws_spans_take.  A streaming decoder must
 * not care how its input arrives: all runs must report the same control
 * frames and the same error, and the same payload (on an error, one
 * payload must be a prefix of the other, as each stops where it saw the
 * error).
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

static void
record_error(struct run *r)
{
	uint8_t	 e[3];

	CHECK(r->dec.close_code == WS_CLOSE_PROTOCOL ||
	    r->dec.close_code == WS_CLOSE_INVALID_DATA ||
	    r->dec.close_code == WS_CLOSE_TOO_BIG);
	e[0] = 'E';
	e[1] = r->dec.close_code >> 8;
	e[2] = r->dec.close_code;
	evbuffer_add(r->events, e, sizeof(e));
	r->failed = 1;
}

/* Acts on a result: 1 to call again, 0 for more input, -1 after an error. */
static int
run_result(struct run *r, enum ws_result res)
{
	switch (res) {
	case WS_NEED_MORE:
		return 0;
	case WS_FULL:
	case WS_AGAIN:
		return 1;
	case WS_CONTROL:
		record_control(r);
		return 1;
	case WS_ERROR:
		record_error(r);
		return -1;
	}
	CHECK(!"a result out of range");
	return -1;
}

/* Decodes what is in r->in; 0 when it needs more, -1 after an error. */
static int
run_decode(struct run *r, size_t limit)
{
	enum ws_result	 res;
	int		 k;

	do {
		res = ws_decode(&r->dec, r->in, r->out, limit);
		CHECK(res != WS_AGAIN);		/* it takes the spans itself */
		CHECK(res != WS_FULL || evbuffer_get_length(r->out) >= limit);
		evbuffer_add_buffer(r->payload, r->out);
	} while ((k = run_result(r, res)) == 1);
	return k;
}

/*
 * Takes spans as the relay does: `out` first, then `written` bytes of the
 * spans copied from where they lie, then what ws_spans_take queues.
 */
static void
take_spans(struct run *r, const struct ws_spans *sp, size_t limit,
    size_t written)
{
	struct evbuffer_ptr	 pos;
	uint8_t			 buf[512];
	size_t			 at = 0, left = written, n, sum = 0;
	int			 i;

	CHECK(sp->n >= 0 && sp->n <= WS_SPANS);
	CHECK(sp->end <= evbuffer_get_length(r->in));
	CHECK(sp->n > 0 || sp->end == 0);
	CHECK(sp->payload == 0 || evbuffer_get_length(r->out) +
	    sp->payload <= limit);
	evbuffer_add_buffer(r->payload, r->out);
	for (i = 0; i < sp->n; i++) {
		CHECK(sp->span[i].off >= at && sp->span[i].len > 0);
		at = sp->span[i].off + sp->span[i].len;
		CHECK(at <= sp->end);
		sum += sp->span[i].len;
		for (n = 0; n < sp->span[i].len && left > 0; n += sizeof(buf)) {
			size_t	k = sp->span[i].len - n;

			k = k < sizeof(buf) ? k : sizeof(buf);
			k = k < left ? k : left;
			CHECK(evbuffer_ptr_set(r->in, &pos,
			    sp->span[i].off + n, EVBUFFER_PTR_SET) == 0);
			CHECK(evbuffer_copyout_from(r->in, &pos, buf, k) ==
			    (ev_ssize_t)k);
			evbuffer_add(r->payload, buf, k);
			left -= k;
		}
	}
	CHECK(sum == sp->payload);
	CHECK(ws_spans_take(sp, r->in, written, r->out) == 0);
	evbuffer_add_buffer(r->payload, r->out);
}

/* As run_decode, through ws_decode_spans; seed picks how much is written. */
static int
run_spans(struct run *r, size_t limit, uint32_t *seed)
{
	struct ws_spans	 sp;
	enum ws_result	 res;
	size_t		 written;
	int		 k;

	do {
		res = ws_decode_spans(&r->dec, r->in, r->out, limit, &sp);
		*seed = *seed * 1103515245 + 12345;
		written = (*seed >> 8) % (sp.payload + 1);
		if (*seed & 0x10000)
			written = sp.payload;	/* the socket took it all */
		take_spans(r, &sp, limit, written);
	} while ((k = run_result(r, res)) == 1);
	return k;
}

/* A socket's read: its own chain, not appended to the last one. */
static void
add_chain(struct evbuffer *in, const uint8_t *p, size_t n)
{
	struct evbuffer	*b = evbuffer_new();

	CHECK(b != NULL && evbuffer_add(b, p, n) == 0);
	CHECK(evbuffer_add_buffer(in, b) == 0);
	evbuffer_free(b);
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
	struct run	 whole, cut, spans;
	uint32_t	 seed, wseed;
	size_t		 limit, off, n;

	if (size < 3)
		return 0;
	run_init(&whole, data[0]);
	run_init(&cut, data[0]);
	run_init(&spans, data[0]);
	seed = data[1] | 1;
	wseed = data[1] << 8 | data[2];
	limit = 1 + data[2];
	data += 3;
	size -= 3;

	evbuffer_add(whole.in, data, size);
	run_decode(&whole, (size_t)1 << 30);

	/* Each read its own chain, as a socket's reads would be. */
	for (off = 0; off < size && !(cut.failed && spans.failed);
	    off += n) {
		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % (seed & 0x100 ? 300 : 9);
		if (n > size - off)
			n = size - off;
		if (!cut.failed) {
			add_chain(cut.in, data + off, n);
			run_decode(&cut, limit);
		}
		if (!spans.failed) {
			add_chain(spans.in, data + off, n);
			run_spans(&spans, limit, &wseed);
		}
	}

	CHECK(whole.failed == cut.failed && whole.failed == spans.failed);
	CHECK(same(whole.events, cut.events, 0));
	CHECK(same(whole.events, spans.events, 0));
	CHECK(same(whole.payload, cut.payload, whole.failed));
	CHECK(same(whole.payload, spans.payload, whole.failed));
	CHECK(evbuffer_get_length(whole.payload) <= size);
	run_free(&whole);
	run_free(&cut);
	run_free(&spans);
	return 0;
}
