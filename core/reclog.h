/* reclog.h — the record log: the binary format in which `aureon-node
 * --record DIR` writes every input that crosses env.h into one node's
 * models, and from which `aureon-sim replay` feeds them back (docs/replay.md).
 *
 * A log is a sequence of segment files DIR/nK-eEPOCH-SSSS.aurec (one boot
 * epoch per node start, segments numbered from 0 as they rotate by size).
 * Each segment is
 *
 *   magic "AUREC\r\n\032" (8 bytes) | version u16 LE | frames...
 *   frame   = payload length u32 LE | CRC-32C of the payload u32 LE | payload
 *   payload = record type u8 | fields (LEB128 varints; signed ones zigzag)
 *
 * (version 2 headers end with the clock anchor: t0_mono, t0_real, host id)
 *
 * and its first frame is a HEADER.  An input record (BOOT, RECV, TIMER,
 * PERSISTED, CONTROL) carries the input and then, in call order, the
 * answers the environment gave the models while they handled it: each
 * now() value, every read's bytes, sizes, message counts, and the results
 * of writes, truncates and sends that did not return 0.  Everything else a
 * model gets back (timer handles, random numbers from the recorded seed,
 * local services) is a function of the inputs and is not stored.
 *
 * Pure codec: no I/O here (the node's writer is shim/record.c, the reader
 * sim/replay/reclog_read.c).
 */
#ifndef AU_RECLOG_H
#define AU_RECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AU_RECLOG_MAGIC "AUREC\r\n\032"
#define AU_RECLOG_MAGIC_LEN 8u
/* Version 2 added the clock anchor to the header (t0 on CLOCK_MONOTONIC
 * and CLOCK_REALTIME, and the host's boot id), which a merged replay
 * needs to place several nodes' records on one timeline.  Version 3 gives
 * each optional answer (the nonzero result of a write, truncate or send)
 * the number of the env operation it answers within its input: without
 * it, the failure of a second write could be taken as the first one's
 * when the first succeeded.  Versions 1 and 2 are still read. */
#define AU_RECLOG_VERSION 3u
#define AU_RECLOG_VERSION_MIN 1u
#define AU_RECLOG_PREFIX_LEN (AU_RECLOG_MAGIC_LEN + 2u)
#define AU_RECLOG_FRAME_HDR 8u
/* Largest payload a frame may hold (a reader refuses longer lengths as
 * corrupt rather than allocating them). */
#define AU_RECLOG_FRAME_MAX (64u << 20)

/* Record types (payload byte 0). */
enum au_reclog_type {
	AU_REC_HEADER = 1,     /* node, epoch, segment, seed, config digest, services, cluster text,
	                        * (v2) t0 monotonic ns, t0 realtime ns, host boot id */
	AU_REC_BOOT = 2,       /* t: every service's init, in [cluster] order */
	AU_REC_RECV = 3,       /* t, service, from, bytes: a datagram delivered to a model */
	AU_REC_TIMER = 4,      /* t, service, kind, arg: a timer fired */
	AU_REC_PERSISTED = 5,  /* t, service, token, status: a sync completed */
	AU_REC_CONTROL = 6,    /* t, from, bytes: an aureon-ctl control command the node acted on */
	AU_REC_CHECKPOINT = 7, /* inputs so far, output digest, raft digest/term/commit */
	AU_REC_STOP = 8,       /* t: clean stop (services destroyed next) */
	AU_REC_STRAY = 9,      /* op: a model changed state outside any recorded input */
	AU_REC_TYPES_
};

/* Answer tags inside an input record. */
enum au_reclog_answer {
	AU_ANS_NOW = 1,    /* zigzag delta from the previous now() answer of this boot */
	AU_ANS_READ = 2,   /* zigzag result; if > 0, that many bytes */
	AU_ANS_SIZE = 3,   /* zigzag result */
	AU_ANS_WRITE = 4,  /* zigzag nonzero result of a write; (v3) the op's number in its input */
	AU_ANS_TRUNC = 5,  /* zigzag nonzero result of a truncate; (v3) the op's number */
	AU_ANS_SEND = 6,   /* zigzag nonzero result of a send; (v3) the op's number */
	AU_ANS_COUNTS = 7, /* msgs_in, msgs_out */
	AU_ANS_END = 0,    /* not written: the record's end */
};

/* Operations of env.h folded into the output digest, and named by STRAY. */
enum au_reclog_op {
	AU_OP_SEND = 1,
	AU_OP_TIMER_SET,
	AU_OP_TIMER_CANCEL,
	AU_OP_RANDOM,
	AU_OP_WRITE,
	AU_OP_TRUNC,
	AU_OP_SYNC,
	AU_OP_TRACE,
};

/* A growable byte buffer (malloc/realloc; abort on out of memory). */
struct au_reclog_buf {
	uint8_t *p;
	size_t len, cap;
};

void au_reclog_buf_free(struct au_reclog_buf *b);
void au_reclog_put_u8(struct au_reclog_buf *b, uint8_t v);
void au_reclog_put_uv(struct au_reclog_buf *b, uint64_t v); /* LEB128 */
void au_reclog_put_sv(struct au_reclog_buf *b, int64_t v);  /* zigzag LEB128 */
void au_reclog_put_bytes(struct au_reclog_buf *b, const void *p, size_t n);
/* A length (uv) then the bytes. */
void au_reclog_put_blob(struct au_reclog_buf *b, const void *p, size_t n);

/* A read cursor; any read past the end (or a varint over 10 bytes) sets
 * `bad` and yields 0. */
struct au_reclog_cur {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

uint8_t au_reclog_get_u8(struct au_reclog_cur *c);
uint64_t au_reclog_get_uv(struct au_reclog_cur *c);
int64_t au_reclog_get_sv(struct au_reclog_cur *c);
/* A length-prefixed blob: points into the buffer (no copy). */
const uint8_t *au_reclog_get_blob(struct au_reclog_cur *c, size_t *n);

/* The running digest of what the models did (env calls with effects):
 * CRC-32C over each operation's fields, plus a count. */
struct au_reclog_digest {
	uint32_t crc;
	uint64_t ops;
};

void au_reclog_digest_op(struct au_reclog_digest *d, uint8_t op, uint32_t svc, uint64_t a, uint64_t b,
			 uint64_t c, const void *bytes, size_t n);
/* The 64-bit value checkpoints carry. */
uint64_t au_reclog_digest_value(const struct au_reclog_digest *d);

/* Frame a payload: append length, CRC and payload to `out`. */
void au_reclog_frame(struct au_reclog_buf *out, const void *payload, size_t len);

/* Check one frame at `off` of a segment image of `len` bytes.  Returns 1
 * with the payload on success, 0 at a clean end (off == len), -1 with a
 * reason in `why` (truncated header, truncated payload, CRC mismatch,
 * length too large). */
int au_reclog_next_frame(const uint8_t *img, size_t len, size_t off, const uint8_t **payload,
			 size_t *plen, char *why, size_t whylen);

/* The name of a record type ("recv"), or "unknown". */
const char *au_reclog_type_name(unsigned type);
const char *au_reclog_answer_name(unsigned tag);

#endif
