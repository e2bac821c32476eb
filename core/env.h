/* env.h — the one interface through which node logic touches the world.
 *
 * A model (raft, swim, ping, ...) is a state machine driven by calls into it
 * (init, recv, timer, persisted) and acting on the world only through the
 * operations below.  The simulator (sim/) and the real-network runtime
 * (shim/) each provide an implementation, so the same object files run in
 * both.  Nothing in models/ may include a header from sim/ or shim/.
 */
#ifndef AU_ENV_H
#define AU_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "trace_kinds.h"

typedef int64_t au_time;     /* nanoseconds */
typedef uint32_t au_node_id; /* 1..N; 0 = none */

#define AU_NS_PER_US INT64_C(1000)
#define AU_NS_PER_MS INT64_C(1000000)
#define AU_NS_PER_S INT64_C(1000000000)

/* Largest payload send() accepts; the shim sends one datagram per message. */
#define AU_MSG_MAX 65000u

/* Error codes: functions return 0 (or a byte count) on success and one of
 * these, negated, on failure. */
enum {
	AU_EINVAL = 1,   /* bad argument */
	AU_EIO = 2,      /* storage read/write failed (disk fault) */
	AU_ENOENT = 3,   /* no such file */
	AU_EMSGSIZE = 4, /* message larger than AU_MSG_MAX */
	AU_ENOSPC = 5,   /* storage full */
	AU_ENOMEM = 6,   /* a bounded queue or table is full */
	AU_ECORRUPT = 7, /* a decoded message or record failed its checks */
};

/* Storage operations that can fail (STORAGE_ERROR and MODEL_STORAGE trace
 * records name them by these numbers). */
enum au_storage_op { AU_STORAGE_WRITE, AU_STORAGE_TRUNCATE, AU_STORAGE_SYNC, AU_STORAGE_OPS_ };

/* What a model does about a failed storage operation (MODEL_STORAGE). */
enum au_storage_response {
	AU_STORAGE_IGNORED = 0,   /* advisory data: losing it is safe (the model says why) */
	AU_STORAGE_RETRY = 1,     /* it writes the data again later */
	AU_STORAGE_STOPPED = 2,   /* it stops serving until it can persist again */
	AU_STORAGE_GAVE_BACK = 3, /* it hands the work back (a task is nacked) */
};

/* What a model may ask of its environment.  `ctx` is opaque and belongs to
 * the environment: one ctx per (node, service). */
struct au_env_ops {
	/* This node's clock: monotonic unless a skew fault jumps it. */
	au_time (*now)(void *ctx);
	/* Send bytes to node `to` (same service).  Unreliable datagram
	 * semantics: the message may be lost, duplicated, reordered, delayed
	 * or corrupted.  The bytes are copied before send returns.  By
	 * convention the first byte of every message is the model's message
	 * type (traces record it).  Returns 0 or -AU_EMSGSIZE / -AU_EINVAL. */
	int (*send)(void *ctx, au_node_id to, const void *msg, size_t len);
	/* Arm a one-shot timer `delay` ns from now on this node's clock; the
	 * model's timer() entry point later gets (kind, arg).  Returns a
	 * nonzero handle. */
	uint64_t (*timer_set)(void *ctx, au_time delay, uint32_t kind, uint64_t arg);
	/* Cancel a timer; a handle that already fired or is unknown is ignored. */
	void (*timer_cancel)(void *ctx, uint64_t timer);
	/* Next output of this node's own PCG32 stream for this service. */
	uint32_t (*random)(void *ctx);
	/* Storage: files are named byte arrays private to the node.  Writes
	 * (and truncates) are volatile until a sync issued after them
	 * completes; a crash before that may keep all, part (torn at a sector
	 * boundary) or none of them.  Reads see every write, synced or not.
	 * write/truncate return 0 or a negative AU_E* code; read returns the
	 * number of bytes read (short at end of file) or a negative code;
	 * size returns the file length, or -AU_ENOENT.
	 *
	 * Storage fails as real disks do, and every caller must say what it
	 * does then (docs: "Storage errors"):
	 *  - write returns -AU_ENOSPC when the disk is full and -AU_EIO on an
	 *    I/O error.  A prefix of the bytes may have been written (a short
	 *    write); nothing of a failed write may be relied on.
	 *  - truncate returns -AU_EIO on an I/O error.
	 *  - a sync may fail: persisted() then gets a negative status.  Every
	 *    write and truncate of that file issued before the failed sync is in
	 *    an unknown state: durable whole, torn, or not at all — and a later
	 *    sync that succeeds does not make them durable (the kernel dropped
	 *    the failed pages: "fsyncgate").  Reads still return them.  A model
	 *    that needs them durable writes them again and syncs again. */
	int (*storage_write)(void *ctx, const char *file, uint64_t off, const void *buf,
			     size_t len);
	int64_t (*storage_read)(void *ctx, const char *file, uint64_t off, void *buf,
				size_t len);
	int64_t (*storage_size)(void *ctx, const char *file);
	int (*storage_truncate)(void *ctx, const char *file, uint64_t len);
	/* Make every earlier write and truncate of `file` durable.
	 * Asynchronous: the model's persisted() entry point is called later
	 * with `token` and the outcome (0, or -AU_EIO / -AU_ENOSPC: see above),
	 * unless the node crashes first. */
	void (*storage_sync)(void *ctx, const char *file, uint64_t token);
	/* Record an event (kinds are listed in trace_kinds.h).  Traces feed
	 * the trace hash, the trace file and the invariant checkers. */
	void (*trace)(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c);
	/* Append a row to one of this model's trace tables (its index in the
	 * model's `tables`); the row struct is read, not kept. */
	void (*record)(void *ctx, uint32_t table, const void *row);
	/* The state of another service running on this same node (e.g. the
	 * task queue asks for the local raft), or NULL if it is not running. */
	void *(*local_service)(void *ctx, const char *name);
	/* Optional (may be NULL): messages this node has sent and received so
	 * far, every service together (the /metrics table reports them). */
	void (*msg_counts)(void *ctx, uint64_t *msgs_in, uint64_t *msgs_out);
	/* Optional (may be NULL): a read-only input shared by every node this
	 * host runs, built once per specification (the simulator runs all the
	 * nodes of a run in one process; aureon-node leaves it NULL and the
	 * model builds its own).  `spec` holds every byte `build` reads and
	 * `key` is its SHA-256: the host checks the key against the bytes,
	 * builds the object with build(spec, spec_len) on the first call and
	 * hands the same pointer to every later call with the same key and
	 * bytes, and frees it with destroy() when it ends.  NULL if the key
	 * does not match or build fails: the model then builds its own.  The
	 * caller never writes or frees what it gets. */
	const void *(*shared_input)(void *ctx, const uint8_t key[32], const void *spec,
				    size_t spec_len, void *(*build)(const void *spec, size_t len),
				    void (*destroy)(void *obj));
};

/* The handle a model keeps: its operations, its ctx, and who it is. */
struct au_env {
	const struct au_env_ops *ops;
	void *ctx;
	au_node_id self;    /* this node */
	uint32_t nodes;     /* nodes n1..nN in the initial cluster */
	/* What the scenario says about this node and the run ([cluster],
	 * [trace]); zero when the host has no such notion. */
	uint32_t caps;              /* capability bits ([cluster] capabilities) */
	double cpu_gflops;          /* speed for the kernel cost model */
	au_time metrics_period_ns;  /* period of /metrics rows */
};

/* Thin wrappers so model code reads naturally: au_now(env), ... */
static inline au_time au_now(const struct au_env *e) { return e->ops->now(e->ctx); }
static inline int au_send(const struct au_env *e, au_node_id to, const void *m, size_t n)
{
	return e->ops->send(e->ctx, to, m, n);
}
static inline uint64_t au_timer_set(const struct au_env *e, au_time d, uint32_t k, uint64_t a)
{
	return e->ops->timer_set(e->ctx, d, k, a);
}
static inline void au_timer_cancel(const struct au_env *e, uint64_t t)
{
	e->ops->timer_cancel(e->ctx, t);
}
static inline uint32_t au_random(const struct au_env *e) { return e->ops->random(e->ctx); }
static inline void au_trace(const struct au_env *e, uint16_t k, int64_t a, int64_t b, int64_t c)
{
	e->ops->trace(e->ctx, k, a, b, c);
}

/* Trace a failed storage operation (err: the negative code it returned)
 * and what the model does about it: the MODEL_STORAGE record. */
static inline void au_trace_storage(const struct au_env *e, enum au_storage_op op, int err,
				    enum au_storage_response response)
{
	e->ops->trace(e->ctx, AU_TR_MODEL_STORAGE, op, -err, response);
}

/* Unbiased draw in [0, bound) from the node's stream (bound > 0), by
 * rejection as in the PCG paper. */
static inline uint32_t au_random_below(const struct au_env *e, uint32_t bound)
{
	uint32_t threshold = (uint32_t)(-bound) % bound;
	for (;;) {
		uint32_t r = au_random(e);
		if (r >= threshold)
			return r % bound;
	}
}

/* Uniform duration in [lo, hi] ns drawn from the node's stream. */
static inline au_time au_random_between(const struct au_env *e, au_time lo, au_time hi)
{
	uint64_t span = (uint64_t)(hi - lo);
	if (span == 0)
		return lo;
	uint64_t r = ((uint64_t)au_random(e) << 32) | au_random(e);
	return lo + (au_time)(r % (span + 1)); /* bias < span/2^64: negligible */
}

#endif
