/*
 * RFC 6455 WebSocket framing on libevent evbuffers.
 *
 * Payload is unmasked where it lies in the input buffer's chains.  What
 * passes unchanged (binary, and text that is relayed) stays there: the
 * decoder reports it as spans, skipping frame headers, and the caller
 * writes it out from there or moves it on, chain by chain, so the data is
 * touched once.  Text that is decoded or dropped goes through `out` from
 * the front of the input; it is only begun with no spans pending, so that
 * what `out` holds always comes before the spans.  This relies on the
 * input holding ordinary chains filled by reads, never reference or file
 * segments.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ws.h"

#define WS_ST_HEADER	0
#define WS_ST_DATA	1
#define WS_ST_CONTROL	2
#define WS_ST_CLOSED	3
#define WS_ST_FAILED	4

#define WS_CONTINUE	(-1)		/* internal: more work can be done */
#define WS_IOV		16		/* extents handled per pass */
#define WS_MOVE_MAX	(1U << 30)	/* evbuffer_remove_buffer returns int */

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define B64_PAD		0x40
#define B64_BAD		0x80

#define MINIMUM(a, b)	(((a) < (b)) ? (a) : (b))

/* Sixteen bytes the compiler keeps in one vector register where it can. */
typedef uint64_t ws_vec __attribute__((vector_size(16)));

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int	 ws_fail(struct ws_decoder *, uint16_t);
static int	 ws_header_check(const struct ws_decoder *, uint8_t, uint8_t);
static int	 ws_read_header(struct ws_decoder *, struct evbuffer *,
		    struct ws_spans *);
static int	 ws_aside(const struct ws_decoder *, int);
static void	 ws_message_start(struct ws_decoder *, int);
static int	 ws_read_control(struct ws_decoder *, struct evbuffer *);
static int	 ws_check_close(struct ws_decoder *);
static int	 ws_read_data(struct ws_decoder *, struct evbuffer *,
		    struct evbuffer *, size_t, struct ws_spans *);
static int	 ws_frame_end(struct ws_decoder *);
static int	 ws_consume(struct ws_decoder *, struct evbuffer *,
		    struct evbuffer *, size_t);
static int	 ws_pass(struct ws_decoder *, struct evbuffer *, size_t,
		    struct ws_spans *);
static size_t	 ws_unmask(struct ws_decoder *, struct evbuffer *, size_t,
		    size_t, uint8_t **);
static void	 ws_span_add(struct ws_spans *, size_t);
static int	 ws_text_feed(struct ws_decoder *, const uint8_t *, size_t,
		    uint8_t **);
static int	 ws_utf8_lead(struct ws_utf8 *, uint8_t);
static const uint8_t *b64_table(void);
static int	 b64_feed(struct ws_decoder *, const uint8_t *, size_t,
		    uint8_t **);
static int	 b64_char(struct ws_decoder *, uint8_t, uint8_t **);
static void	 b64_encode(const uint8_t *, size_t, char *);
static char	*b64_encode_src(struct evbuffer *, size_t, char *);
static int	 ws_move(struct evbuffer *, struct evbuffer *, size_t);
static int	 ws_move_masked(struct evbuffer *, struct evbuffer *, size_t,
		    const uint8_t [4]);
static int	 ws_random_mask(uint8_t [4]);

void
ws_decoder_init(struct ws_decoder *d, enum ws_role role,
    enum ws_textmode mode, uint64_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->role = role;
	d->textmode = mode;
	d->max_frame = max_frame;
	d->state = WS_ST_HEADER;
	ws_utf8_init(&d->utf8);
	(void)b64_table();
}

/*
 * Runs the frame state machine until it needs input, output room, or the
 * caller's attention.  When it stops for input while `out` is full it says
 * WS_FULL, so that the caller stops reading; control frames are still
 * reported while `out` is full, since they never add to it.
 */
enum ws_result
ws_decode(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *out,
    size_t out_limit)
{
	struct ws_spans	sp;
	enum ws_result	r;

	do {
		r = ws_decode_spans(d, in, out, out_limit, &sp);
		if (ws_spans_take(&sp, in, 0, out) == -1)
			return ws_fail(d, WS_CLOSE_INTERNAL);
	} while (r == WS_AGAIN);
	return r;
}

/*
 * As ws_decode, but payload that passes unchanged is left in `in` and
 * described by *sp, which counts against out_limit as `out` does.  Whatever
 * the result, the caller takes the spans first (ws_spans_take, or writes
 * them out and then calls it): `out` comes before them, the result after.
 */
enum ws_result
ws_decode_spans(struct ws_decoder *d, struct evbuffer *in,
    struct evbuffer *out, size_t out_limit, struct ws_spans *sp)
{
	int	r;

	sp->n = 0;
	sp->payload = 0;
	sp->end = 0;
	do {
		switch (d->state) {
		case WS_ST_HEADER:
			r = ws_read_header(d, in, sp);
			break;
		case WS_ST_DATA:
			r = ws_read_data(d, in, out, out_limit, sp);
			break;
		case WS_ST_CONTROL:
			r = ws_read_control(d, in);
			break;
		case WS_ST_CLOSED:
			/* Nothing may follow a close: ignore what does. */
			evbuffer_drain(in, evbuffer_get_length(in));
			return WS_NEED_MORE;
		default:
			return WS_ERROR;
		}
	} while (r == WS_CONTINUE);

	/* Headers of empty frames, with no payload to take. */
	if (sp->n == 0 && sp->end > 0) {
		evbuffer_drain(in, sp->end);
		sp->end = 0;
	}
	if (r == WS_NEED_MORE &&
	    evbuffer_get_length(out) + sp->payload >= out_limit)
		r = WS_FULL;
	return r;
}

/*
 * Drains the first `done` bytes of the payload *sp describes (what the
 * caller wrote out itself) and moves the rest to dst, dropping the frame
 * headers: `in` is left as the decoder's next call expects it.
 */
int
ws_spans_take(const struct ws_spans *sp, struct evbuffer *in, size_t done,
    struct evbuffer *dst)
{
	const struct ws_span	*s;
	size_t			 at = 0, n;
	int			 i;

	for (i = 0; i < sp->n; i++) {
		s = &sp->span[i];
		n = MINIMUM(done, s->len);
		if (evbuffer_drain(in, s->off - at + n) == -1)
			return -1;
		done -= n;
		if (n < s->len && ws_move(in, dst, s->len - n) == -1)
			return -1;
		at = s->off + s->len;
	}
	return evbuffer_drain(in, sp->end - at);
}

int
ws_decoder_closed(const struct ws_decoder *d)
{
	return d->state == WS_ST_CLOSED;
}

int
ws_message_open(const struct ws_decoder *d)
{
	return d->msg_opcode != 0;
}

static int
ws_fail(struct ws_decoder *d, uint16_t code)
{
	d->state = WS_ST_FAILED;
	d->close_code = code;
	return WS_ERROR;
}

/* What can be judged from the first two bytes: 0, or a close code. */
static int
ws_header_check(const struct ws_decoder *d, uint8_t b0, uint8_t b1)
{
	int	fin = b0 & 0x80, masked = b1 & 0x80, len7 = b1 & 0x7f;

	if (b0 & 0x70)
		return WS_CLOSE_PROTOCOL;	/* no extension negotiated */
	if ((d->role == WS_SERVER) != (masked != 0))
		return WS_CLOSE_PROTOCOL;

	switch (b0 & 0x0f) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!fin || len7 > WS_CONTROL_MAX)
			return WS_CLOSE_PROTOCOL;
		return 0;
	case WS_OP_CONT:
		return d->msg_opcode == 0 ? WS_CLOSE_PROTOCOL : 0;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		return d->msg_opcode != 0 ? WS_CLOSE_PROTOCOL : 0;
	default:
		return WS_CLOSE_PROTOCOL;
	}
}

/*
 * Reads the header that follows the spans.  A control frame, or payload
 * for `out`, waits while spans are pending; once begun, its header is
 * drained and it is read from the front of `in`.
 */
static int
ws_read_header(struct ws_decoder *d, struct evbuffer *in, struct ws_spans *sp)
{
	struct evbuffer_ptr	pos;
	uint8_t			h[WS_HEADER_MAX];
	ev_ssize_t		have;
	size_t			need, i;
	uint64_t		len;
	int			code, len7, opcode, aside;

	if (evbuffer_get_length(in) - sp->end < 2 ||
	    evbuffer_ptr_set(in, &pos, sp->end, EVBUFFER_PTR_SET) == -1)
		return WS_NEED_MORE;
	have = evbuffer_copyout_from(in, &pos, h, sizeof(h));
	if (have < 2)
		return WS_NEED_MORE;
	if ((code = ws_header_check(d, h[0], h[1])) != 0)
		return ws_fail(d, code);

	len7 = h[1] & 0x7f;
	need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
	    (h[1] & 0x80 ? 4 : 0);
	if ((size_t)have < need)
		return WS_NEED_MORE;

	if (len7 == 126)
		len = (uint64_t)h[2] << 8 | h[3];
	else if (len7 == 127) {
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | h[i];
		if (len >> 63)
			return ws_fail(d, WS_CLOSE_PROTOCOL);
	} else
		len = len7;
	/* RFC 6455 5.2: the length in the fewest bytes, or a violation. */
	if ((len7 == 126 && len < 126) || (len7 == 127 && len <= 0xffff))
		return ws_fail(d, WS_CLOSE_PROTOCOL);

	opcode = h[0] & 0x0f;
	aside = (opcode & 0x08) || ws_aside(d, opcode);
	if (aside && sp->n > 0)
		return WS_AGAIN;
	/* Refuse a data frame before a byte of its payload is read. */
	if (!(opcode & 0x08) && d->max_frame != 0 && len > d->max_frame)
		return ws_fail(d, WS_CLOSE_TOO_BIG);

	d->fin = (h[0] & 0x80) != 0;
	d->opcode = opcode;
	d->remain = len;
	d->phase = 0;
	if (h[1] & 0x80)
		memcpy(d->mask, h + need - 4, sizeof(d->mask));
	if (opcode & 0x08)
		d->state = WS_ST_CONTROL;
	else {
		if (opcode != WS_OP_CONT)
			ws_message_start(d, opcode);
		d->state = WS_ST_DATA;
	}
	if (aside) {
		evbuffer_drain(in, sp->end + need);
		sp->end = 0;
	} else
		sp->end += need;
	return WS_CONTINUE;
}

/* Whether a data frame's payload is decoded or dropped, not passed on. */
static int
ws_aside(const struct ws_decoder *d, int opcode)
{
	if (opcode == WS_OP_CONT)
		opcode = d->msg_opcode;
	return opcode == WS_OP_TEXT && d->textmode != WS_TEXT_RELAY;
}

static void
ws_message_start(struct ws_decoder *d, int opcode)
{
	d->msg_opcode = opcode;
	ws_utf8_init(&d->utf8);
	d->b64_acc = 0;
	d->b64_n = 0;
	d->b64_pad = 0;
	d->b64_end = 0;
}

/* Control payloads are at most 125 bytes: wait for all of it. */
static int
ws_read_control(struct ws_decoder *d, struct evbuffer *in)
{
	size_t	n = d->remain;

	if (evbuffer_get_length(in) < n)
		return WS_NEED_MORE;
	if (evbuffer_remove(in, d->ctl, n) != (ev_ssize_t)n)
		return ws_fail(d, WS_CLOSE_INTERNAL);
	if (d->role == WS_SERVER)
		ws_mask(d->ctl, n, d->mask, 0);
	d->ctl_len = n;
	d->ctl_opcode = d->opcode;
	d->remain = 0;
	d->state = WS_ST_HEADER;
	if (d->opcode == WS_OP_CLOSE)
		return ws_check_close(d);
	return WS_CONTROL;
}

static int
ws_check_close(struct ws_decoder *d)
{
	struct ws_utf8	u;
	unsigned int	code;

	if (d->ctl_len == 0) {
		d->close_code = WS_CLOSE_NO_STATUS;
		d->state = WS_ST_CLOSED;
		return WS_CONTROL;
	}
	if (d->ctl_len == 1)
		return ws_fail(d, WS_CLOSE_PROTOCOL);
	code = (unsigned int)d->ctl[0] << 8 | d->ctl[1];
	if (!ws_close_code_valid(code))
		return ws_fail(d, WS_CLOSE_PROTOCOL);
	ws_utf8_init(&u);
	if (ws_utf8_feed(&u, d->ctl + 2, d->ctl_len - 2) == -1 ||
	    !ws_utf8_done(&u))
		return ws_fail(d, WS_CLOSE_PROTOCOL);
	d->close_code = code;
	d->state = WS_ST_CLOSED;
	return WS_CONTROL;
}

static int
ws_read_data(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *out,
    size_t limit, struct ws_spans *sp)
{
	size_t	used, n;

	if (d->remain == 0)
		return ws_frame_end(d);
	used = evbuffer_get_length(out) + sp->payload;
	if (used >= limit)
		return WS_FULL;
	/* Take no more than fits, so that `out` stays near its bound. */
	n = limit - used;
	if (n > d->remain)
		n = d->remain;
	n = MINIMUM(n, evbuffer_get_length(in) - sp->end);
	if (n == 0)
		return WS_NEED_MORE;
	if (ws_aside(d, d->opcode))
		return ws_consume(d, in, out, n);
	return ws_pass(d, in, n, sp);
}

static int
ws_frame_end(struct ws_decoder *d)
{
	int	unfinished;

	d->state = WS_ST_HEADER;
	if (!d->fin)
		return WS_CONTINUE;
	if (d->msg_opcode == WS_OP_TEXT) {
		if (d->textmode == WS_TEXT_BASE64)
			unfinished = d->b64_n != 0;
		else
			unfinished = !ws_utf8_done(&d->utf8);
		if (unfinished)
			return ws_fail(d, WS_CLOSE_INVALID_DATA);
	}
	d->msg_opcode = 0;
	return WS_CONTINUE;
}

/*
 * Unmasks up to n payload bytes at offset off in `in`, where they lie,
 * and feeds text to its decoder or validator.  Only the extents one peek
 * returns are done in a pass; the caller's loop comes back for the rest.
 * Returns how many bytes, or 0 once the decoder has failed.
 */
static size_t
ws_unmask(struct ws_decoder *d, struct evbuffer *in, size_t off, size_t n,
    uint8_t **op)
{
	struct evbuffer_iovec	 v[WS_IOV];
	struct evbuffer_ptr	 pos;
	uint8_t			*p;
	size_t			 done = 0, len;
	int			 i, nv, text = d->msg_opcode == WS_OP_TEXT;

	if (evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) == -1) {
		ws_fail(d, WS_CLOSE_INTERNAL);
		return 0;
	}
	nv = evbuffer_peek(in, n, &pos, v, WS_IOV);
	for (i = 0; i < MINIMUM(nv, WS_IOV) && done < n; i++) {
		p = v[i].iov_base;
		len = MINIMUM(v[i].iov_len, n - done);
		if (d->role == WS_SERVER) {
			ws_mask(p, len, d->mask, d->phase);
			d->phase = (d->phase + (len & 3)) & 3;
		}
		if (text && ws_text_feed(d, p, len, op) == -1) {
			ws_fail(d, WS_CLOSE_INVALID_DATA);
			return 0;
		}
		done += len;
	}
	return done;
}

/* Text to be decoded into `out` or dropped, from the front of `in`. */
static int
ws_consume(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *out,
    size_t n)
{
	struct evbuffer_iovec	 ov;
	uint8_t			*op = NULL;
	size_t			 done;

	if (d->textmode == WS_TEXT_BASE64) {
		/* n characters and up to 3 carried make (n + 3) / 4 quads. */
		if (evbuffer_reserve_space(out, n / 4 * 3 + 3, &ov, 1) != 1)
			return ws_fail(d, WS_CLOSE_INTERNAL);
		op = ov.iov_base;
	}
	if ((done = ws_unmask(d, in, 0, n, &op)) == 0)
		return WS_ERROR;
	if (op != NULL) {
		ov.iov_len = op - (uint8_t *)ov.iov_base;
		if (evbuffer_commit_space(out, &ov, 1) == -1)
			return ws_fail(d, WS_CLOSE_INTERNAL);
	}
	evbuffer_drain(in, done);
	d->remain -= done;
	return WS_CONTINUE;
}

/* Payload that passes unchanged, after the spans: it becomes one. */
static int
ws_pass(struct ws_decoder *d, struct evbuffer *in, size_t n,
    struct ws_spans *sp)
{
	size_t	done;

	if ((done = ws_unmask(d, in, sp->end, n, NULL)) == 0)
		return WS_ERROR;
	ws_span_add(sp, done);
	d->remain -= done;
	return sp->n == WS_SPANS ? WS_AGAIN : WS_CONTINUE;
}

/* The len bytes at sp->end are payload: extend the last span or add one. */
static void
ws_span_add(struct ws_spans *sp, size_t len)
{
	struct ws_span	*s = sp->n > 0 ? &sp->span[sp->n - 1] : NULL;

	if (s == NULL || s->off + s->len != sp->end) {
		s = &sp->span[sp->n++];
		s->off = sp->end;
		s->len = 0;
	}
	s->len += len;
	sp->payload += len;
	sp->end += len;
}

static int
ws_text_feed(struct ws_decoder *d, const uint8_t *p, size_t len, uint8_t **op)
{
	if (d->textmode == WS_TEXT_BASE64)
		return b64_feed(d, p, len, op);
	return ws_utf8_feed(&d->utf8, p, len);
}

/*
 * Byte at a time up to a 16-byte boundary, then 64 bytes at a time: four
 * 16-byte vectors (SSE2 on x86-64, NEON on arm64, plain words elsewhere)
 * XORed with the key repeated four times and rotated to the current phase.
 */
void
ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t offset)
{
	uint8_t		k[sizeof(ws_vec)];
	ws_vec		m, a, b, c, d;
	size_t		i, vl = sizeof(m);

	while (n > 0 && ((uintptr_t)p & (vl - 1)) != 0) {
		*p++ ^= key[offset++ & 3];
		n--;
	}
	for (i = 0; i < vl; i++)
		k[i] = key[(offset + i) & 3];
	memcpy(&m, k, vl);
	for (; n >= 4 * vl; p += 4 * vl, n -= 4 * vl) {
		memcpy(&a, p, vl);
		memcpy(&b, p + vl, vl);
		memcpy(&c, p + 2 * vl, vl);
		memcpy(&d, p + 3 * vl, vl);
		a ^= m;
		b ^= m;
		c ^= m;
		d ^= m;
		memcpy(p, &a, vl);
		memcpy(p + vl, &b, vl);
		memcpy(p + 2 * vl, &c, vl);
		memcpy(p + 3 * vl, &d, vl);
	}
	for (; n >= vl; p += vl, n -= vl) {
		memcpy(&a, p, vl);
		a ^= m;
		memcpy(p, &a, vl);
	}
	for (i = 0; i < n; i++)
		p[i] ^= k[i];
}

void
ws_utf8_init(struct ws_utf8 *u)
{
	u->need = 0;
	u->lo = 0x80;
	u->hi = 0xbf;
}

/* 0 while the bytes so far can begin valid UTF-8, -1 once they cannot. */
int
ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n)
{
	uint64_t	w;
	size_t		i = 0;
	uint8_t		c;

	while (i < n) {
		if (u->need == 0) {
			/* ASCII is the common case: eight bytes at once. */
			for (; n - i >= 8; i += 8) {
				memcpy(&w, p + i, sizeof(w));
				if (w & 0x8080808080808080ULL)
					break;
			}
			if (i == n)
				break;
			if ((c = p[i++]) < 0x80)
				continue;
			if (ws_utf8_lead(u, c) == -1)
				return -1;
			continue;
		}
		c = p[i++];
		if (c < u->lo || c > u->hi)
			return -1;
		u->lo = 0x80;
		u->hi = 0xbf;
		u->need--;
	}
	return 0;
}

/* A character must not end in the middle. */
int
ws_utf8_done(const struct ws_utf8 *u)
{
	return u->need == 0;
}

/*
 * The narrowed second-byte ranges exclude overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4).
 */
static int
ws_utf8_lead(struct ws_utf8 *u, uint8_t c)
{
	u->lo = 0x80;
	u->hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		u->need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		u->need = 2;
		if (c == 0xe0)
			u->lo = 0xa0;
		else if (c == 0xed)
			u->hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		u->need = 3;
		if (c == 0xf0)
			u->lo = 0x90;
		else if (c == 0xf4)
			u->hi = 0x8f;
	} else
		return -1;
	return 0;
}

static const uint8_t *
b64_table(void)
{
	static uint8_t	tab[256];
	static int	ready;
	int		i;

	if (!ready) {
		memset(tab, B64_BAD, sizeof(tab));
		for (i = 0; i < 64; i++)
			tab[(uint8_t)b64_chars[i]] = i;
		tab['='] = B64_PAD;
		ready = 1;
	}
	return tab;
}

/*
 * Decodes base64 text arriving in arbitrary pieces.  Whole quads go
 * straight through; a quad split across pieces is carried in the decoder.
 */
static int
b64_feed(struct ws_decoder *d, const uint8_t *p, size_t n, uint8_t **op)
{
	const uint8_t	*tab = b64_table();
	uint8_t		*o = *op;
	uint32_t	 acc;
	size_t		 i;
	int		 r = 0;

	for (i = 0; i < n && r == 0; i++) {
		if (d->b64_n == 0 && !d->b64_end && n - i >= 4 &&
		    ((tab[p[i]] | tab[p[i + 1]] | tab[p[i + 2]] |
		    tab[p[i + 3]]) & (B64_PAD | B64_BAD)) == 0) {
			acc = (uint32_t)tab[p[i]] << 18 |
			    (uint32_t)tab[p[i + 1]] << 12 |
			    (uint32_t)tab[p[i + 2]] << 6 | tab[p[i + 3]];
			*o++ = acc >> 16;
			*o++ = acc >> 8;
			*o++ = acc;
			i += 3;
			continue;
		}
		r = b64_char(d, p[i], &o);
	}
	*op = o;
	return r;
}

/* Padding may only complete the last quad of a message. */
static int
b64_char(struct ws_decoder *d, uint8_t c, uint8_t **op)
{
	uint8_t	v = b64_table()[c], *o = *op;

	if (d->b64_end || v == B64_BAD)
		return -1;
	if (v == B64_PAD) {
		if (d->b64_n < 2)
			return -1;
		d->b64_pad++;
		v = 0;
	} else if (d->b64_pad)
		return -1;
	d->b64_acc = d->b64_acc << 6 | v;
	if (++d->b64_n < 4)
		return 0;

	*o++ = d->b64_acc >> 16;
	if (d->b64_pad < 2)
		*o++ = d->b64_acc >> 8;
	if (d->b64_pad < 1)
		*o++ = d->b64_acc;
	*op = o;
	d->b64_end = d->b64_pad != 0;
	d->b64_acc = 0;
	d->b64_n = 0;
	d->b64_pad = 0;
	return 0;
}

size_t
ws_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Writes ws_base64_len(n) characters, padded, without a NUL. */
static void
b64_encode(const uint8_t *p, size_t n, char *o)
{
	uint32_t	v;

	for (; n >= 3; p += 3, n -= 3) {
		v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = b64_chars[(v >> 6) & 63];
		*o++ = b64_chars[v & 63];
	}
	if (n == 0)
		return;
	v = (uint32_t)p[0] << 16 | (n == 2 ? (uint32_t)p[1] << 8 : 0);
	*o++ = b64_chars[v >> 18];
	*o++ = b64_chars[(v >> 12) & 63];
	*o++ = n == 2 ? b64_chars[(v >> 6) & 63] : '=';
	*o = '=';
}

/*
 * Encodes the first len bytes of src and drains them.  A triple split
 * between extents is carried across.
 */
static char *
b64_encode_src(struct evbuffer *src, size_t len, char *o)
{
	struct evbuffer_iovec	 v[WS_IOV];
	uint8_t			 carry[3], *p;
	size_t			 nc = 0, got, l, whole;
	int			 i, nv;

	while (len > 0) {
		nv = evbuffer_peek(src, len, NULL, v, WS_IOV);
		for (got = 0, i = 0; i < MINIMUM(nv, WS_IOV) && got < len;
		    i++) {
			p = v[i].iov_base;
			l = MINIMUM(v[i].iov_len, len - got);
			got += l;
			while (nc > 0 && nc < 3 && l > 0) {
				carry[nc++] = *p++;
				l--;
			}
			if (nc == 3) {
				b64_encode(carry, 3, o);
				o += 4;
				nc = 0;
			}
			if (nc > 0)
				continue;
			whole = l / 3 * 3;
			b64_encode(p, whole, o);
			o += whole / 3 * 4;
			for (p += whole, l -= whole; l > 0; l--)
				carry[nc++] = *p++;
		}
		evbuffer_drain(src, got);
		len -= got;
	}
	if (nc > 0) {
		b64_encode(carry, nc, o);
		o += 4;
	}
	return o;
}

size_t
ws_header(uint8_t buf[WS_HEADER_MAX], int opcode, int fin, uint64_t len,
    const uint8_t *mask)
{
	size_t	n = 2, i;

	buf[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
	buf[1] = mask != NULL ? 0x80 : 0;
	if (len < 126)
		buf[1] |= len;
	else if (len <= 0xffff) {
		buf[1] |= 126;
		buf[2] = len >> 8;
		buf[3] = len;
		n = 4;
	} else {
		buf[1] |= 127;
		for (i = 0; i < 8; i++)
			buf[2 + i] = len >> (56 - 8 * i);
		n = 10;
	}
	if (mask != NULL) {
		memcpy(buf + n, mask, 4);
		n += 4;
	}
	return n;
}

/*
 * Frames len bytes of src as one frame: final unless WS_MORE is or'ed
 * into the opcode.  Unmasked payload moves without a copy; masked payload
 * is masked in src's chains, then moved.  On failure dst may hold a
 * partial frame and the connection must be dropped.
 */
int
ws_frame_append(struct evbuffer *dst, int opcode, struct evbuffer *src,
    size_t len, int masked)
{
	uint8_t	h[WS_HEADER_MAX], key[4];
	size_t	hl;

	if (len > evbuffer_get_length(src))
		return -1;
	if (masked && ws_random_mask(key) == -1)
		return -1;
	hl = ws_header(h, opcode & 0x0f, !(opcode & WS_MORE), len,
	    masked ? key : NULL);
	if (evbuffer_add(dst, h, hl) == -1)
		return -1;
	if (!masked)
		return ws_move(src, dst, len);
	return ws_move_masked(dst, src, len, key);
}

/* Encodes len bytes of src as one base64 text frame. */
int
ws_frame_base64(struct evbuffer *dst, struct evbuffer *src, size_t len,
    int masked)
{
	struct evbuffer_iovec	ov;
	uint8_t			h[WS_HEADER_MAX], key[4];
	size_t			hl, olen;

	if (len > evbuffer_get_length(src) || len > SIZE_MAX / 2)
		return -1;
	if (masked && ws_random_mask(key) == -1)
		return -1;
	olen = ws_base64_len(len);
	hl = ws_header(h, WS_OP_TEXT, 1, olen, masked ? key : NULL);
	if (evbuffer_add(dst, h, hl) == -1)
		return -1;
	if (olen == 0)
		return 0;
	if (evbuffer_reserve_space(dst, olen, &ov, 1) != 1 ||
	    ov.iov_len < olen)
		return -1;
	b64_encode_src(src, len, ov.iov_base);
	if (masked)
		ws_mask(ov.iov_base, olen, key, 0);
	ov.iov_len = olen;
	return evbuffer_commit_space(dst, &ov, 1);
}

int
ws_control_append(struct evbuffer *dst, int opcode, const void *payload,
    size_t len, int masked)
{
	uint8_t	f[WS_HEADER_MAX + WS_CONTROL_MAX], key[4];
	size_t	hl;

	if (len > WS_CONTROL_MAX || (opcode != WS_OP_CLOSE &&
	    opcode != WS_OP_PING && opcode != WS_OP_PONG))
		return -1;
	if (masked && ws_random_mask(key) == -1)
		return -1;
	hl = ws_header(f, opcode, 1, len, masked ? key : NULL);
	if (len > 0)
		memcpy(f + hl, payload, len);
	if (masked)
		ws_mask(f + hl, len, key, 0);
	return evbuffer_add(dst, f, hl + len);
}

/*
 * Code 0 sends a close without a status.  A reason too long for a control
 * frame is cut at a character boundary.
 */
int
ws_close_append(struct evbuffer *dst, uint16_t code, const char *reason,
    int masked)
{
	uint8_t	p[WS_CONTROL_MAX];
	size_t	n;

	if (code == 0)
		return ws_control_append(dst, WS_OP_CLOSE, NULL, 0, masked);
	if (!ws_close_code_valid(code))
		return -1;
	p[0] = code >> 8;
	p[1] = code;
	n = reason != NULL ? strlen(reason) : 0;
	if (n > WS_CONTROL_MAX - 2) {
		n = WS_CONTROL_MAX - 2;
		while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (n > 0)
		memcpy(p + 2, reason, n);
	return ws_control_append(dst, WS_OP_CLOSE, p, n + 2, masked);
}

/*
 * Codes a peer may send (RFC 6455 7.4 and the IANA registry): 1004-1006
 * and 1015 are reserved or local-only, 1016-2999 unassigned.
 */
int
ws_close_code_valid(unsigned int code)
{
	if (code >= 1000 && code <= 1003)
		return 1;
	if (code >= 1007 && code <= 1014)
		return 1;
	return code >= 3000 && code <= 4999;
}

static int
ws_move(struct evbuffer *src, struct evbuffer *dst, size_t len)
{
	size_t	n;

	for (; len > 0; len -= n) {
		n = MINIMUM(len, WS_MOVE_MAX);
		if (evbuffer_remove_buffer(src, dst, n) != (int)n)
			return -1;
	}
	return 0;
}

static int
ws_move_masked(struct evbuffer *dst, struct evbuffer *src, size_t len,
    const uint8_t key[4])
{
	struct evbuffer_iovec	v[WS_IOV];
	size_t			off, got, l;
	int			i, nv;

	for (off = 0; off < len; off += got) {
		nv = evbuffer_peek(src, len - off, NULL, v, WS_IOV);
		for (got = 0, i = 0; i < MINIMUM(nv, WS_IOV) &&
		    got < len - off; i++) {
			l = MINIMUM(v[i].iov_len, len - off - got);
			ws_mask(v[i].iov_base, l, key, off + got);
			got += l;
		}
		if (got == 0 || ws_move(src, dst, got) == -1)
			return -1;
	}
	return 0;
}

/*
 * Masking keys come from a pool refilled in batches, so framing costs no
 * system call.  Workers are exec'd, not just forked, so no two processes
 * share a pool.
 */
static int
ws_random_mask(uint8_t key[4])
{
	static uint8_t	pool[512];
	static size_t	left;

	if (left < 4) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			return -1;
		left = sizeof(pool);
	}
	left -= 4;
	memcpy(key, pool + left, 4);
	memset(pool + left, 0, 4);
	return 0;
}

/* base64(SHA-1(key GUID)); an empty string if the digest fails. */
void
ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	EVP_MD_CTX	*ctx;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 ok;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
	    EVP_DigestUpdate(ctx, WS_GUID, strlen(WS_GUID)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return;
	b64_encode(md, 20, out);
	out[WS_ACCEPT_LEN] = '\0';
}

/*
 * A client's Sec-WebSocket-Key (16 random bytes in base64) and the
 * Sec-WebSocket-Accept the server must answer it with.  -1 when there is
 * no randomness to be had.
 */
int
ws_client_key(char key[WS_KEY_LEN + 1], char accept[WS_ACCEPT_LEN + 1])
{
	uint8_t	 raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	b64_encode(raw, sizeof(raw), key);
	key[WS_KEY_LEN] = '\0';
	ws_accept_key(key, accept);
	return accept[0] ? 0 : -1;
}

/* Sec-WebSocket-Key: base64 of 16 bytes is 22 characters and "==". */
int
ws_key_valid(const char *key)
{
	const uint8_t	*tab = b64_table();
	size_t		 i;

	if (key == NULL || strlen(key) != 24)
		return 0;
	for (i = 0; i < 22; i++)
		if (tab[(uint8_t)key[i]] & (B64_PAD | B64_BAD))
			return 0;
	return key[22] == '=' && key[23] == '=';
}
