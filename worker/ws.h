/*
 * RFC 6455 WebSocket framing on libevent evbuffers.
 *
 * The decoder streams: payload is handled as it arrives, so a frame of any
 * size needs no more memory than the caller's buffer bounds.  It holds no
 * pointer and allocates nothing; a struct ws_decoder lives inside the
 * session.  ws_decode moves payload to an output buffer; ws_decode_spans
 * leaves what passes unchanged where it lies in the input, unmasked, and
 * says where it is, so that a relay can write it out from there.
 */
#ifndef WS_H
#define WS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define WS_OP_CONT		0x0
#define WS_OP_TEXT		0x1
#define WS_OP_BINARY		0x2
#define WS_OP_CLOSE		0x8
#define WS_OP_PING		0x9
#define WS_OP_PONG		0xa

/* Or'ed into ws_frame_append's opcode: not the final fragment. */
#define WS_MORE			0x100

#define WS_CONTROL_MAX		125
#define WS_HEADER_MAX		14
#define WS_ACCEPT_LEN		28	/* base64 of a SHA-1 digest */
#define WS_KEY_LEN		24	/* base64 of 16 bytes */

/* Close codes this module produces (RFC 6455 7.4.1). */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never sent: "the close had no code" */
#define WS_CLOSE_ABNORMAL	1006	/* never sent: "no close frame at all" */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011

/*
 * SERVER: the peer is a client, its frames must be masked.
 * CLIENT: the peer is a server, its frames must not be masked.
 */
enum ws_role {
	WS_SERVER,
	WS_CLIENT,
};

/*
 * What becomes of text-message payload.  BASE64 decodes it (the old
 * websockify "base64" subprotocol; binary frames are accepted as well),
 * RELAY passes valid UTF-8 through, DROP validates and discards it
 * (KubeVirt ignores text).  Binary payload always passes through.
 */
enum ws_textmode {
	WS_TEXT_BASE64,
	WS_TEXT_RELAY,
	WS_TEXT_DROP,
};

enum ws_result {
	WS_NEED_MORE,	/* nothing more can be done with what is in `in` */
	WS_FULL,	/* `out` (and spans) reached out_limit: drain, call again */
	WS_CONTROL,	/* ctl_opcode/ctl/ctl_len hold a ping, pong or close */
	WS_ERROR,	/* close_code says why; the decoder stays failed */
	WS_AGAIN,	/* ws_decode_spans: take the spans, then call again */
};

#define WS_SPANS		16

/* Payload bytes at an offset into the input buffer. */
struct ws_span {
	size_t		 off;
	size_t		 len;
};

/*
 * What ws_decode_spans left in the input: spans of unmasked payload in
 * order, frame headers before, between and after them, end bytes in all.
 */
struct ws_spans {
	struct ws_span	 span[WS_SPANS];
	int		 n;
	size_t		 payload;	/* the spans' lengths summed */
	size_t		 end;
};

/* Incremental UTF-8 validation state: what the next byte must be. */
struct ws_utf8 {
	uint8_t		 need;		/* continuation bytes still expected */
	uint8_t		 lo;		/* range of the next one */
	uint8_t		 hi;
};

struct ws_decoder {
	enum ws_role	 role;
	enum ws_textmode textmode;
	uint64_t	 max_frame;	/* data frame payload bound, 0: none */

	int		 state;
	int		 opcode;	/* of the frame being read */
	int		 fin;
	uint8_t		 mask[4];
	uint8_t		 phase;		/* payload bytes consumed, mod 4 */
	uint64_t	 remain;	/* payload bytes not yet consumed */

	int		 msg_opcode;	/* TEXT or BINARY while a message is open */
	struct ws_utf8	 utf8;
	uint32_t	 b64_acc;	/* sextets of an incomplete quad */
	uint8_t		 b64_n;		/* characters in it */
	uint8_t		 b64_pad;	/* '=' characters in it */
	uint8_t		 b64_end;	/* padding seen: the message must end */

	/*
	 * On WS_ERROR, the code to close with (1002, 1007, 1009).  When a
	 * close frame is reported, the peer's code, or 1005 if it sent none.
	 */
	uint16_t	 close_code;

	/* On WS_CONTROL: one complete, unmasked control frame. */
	int		 ctl_opcode;
	uint8_t		 ctl[WS_CONTROL_MAX];
	size_t		 ctl_len;
};

void		 ws_decoder_init(struct ws_decoder *, enum ws_role,
		    enum ws_textmode, uint64_t);
enum ws_result	 ws_decode(struct ws_decoder *, struct evbuffer *,
		    struct evbuffer *, size_t);
enum ws_result	 ws_decode_spans(struct ws_decoder *, struct evbuffer *,
		    struct evbuffer *, size_t, struct ws_spans *);
int		 ws_spans_take(const struct ws_spans *, struct evbuffer *,
		    size_t, struct evbuffer *);
int		 ws_decoder_closed(const struct ws_decoder *);
int		 ws_message_open(const struct ws_decoder *);

size_t		 ws_header(uint8_t [WS_HEADER_MAX], int, int, uint64_t,
		    const uint8_t *);
void		 ws_mask(uint8_t *, size_t, const uint8_t [4], size_t);
int		 ws_frame_append(struct evbuffer *, int, struct evbuffer *,
		    size_t, int);
int		 ws_frame_base64(struct evbuffer *, struct evbuffer *, size_t,
		    int);
int		 ws_control_append(struct evbuffer *, int, const void *,
		    size_t, int);
int		 ws_close_append(struct evbuffer *, uint16_t, const char *,
		    int);
int		 ws_close_code_valid(unsigned int);
size_t		 ws_base64_len(size_t);

void		 ws_utf8_init(struct ws_utf8 *);
int		 ws_utf8_feed(struct ws_utf8 *, const uint8_t *, size_t);
int		 ws_utf8_done(const struct ws_utf8 *);

void		 ws_accept_key(const char *, char [WS_ACCEPT_LEN + 1]);
int		 ws_key_valid(const char *);
int		 ws_client_key(char [WS_KEY_LEN + 1], char [WS_ACCEPT_LEN + 1]);

#endif /* WS_H */
