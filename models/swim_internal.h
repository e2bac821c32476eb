/* swim_internal.h — what the files of SWIM share: message, timer and
 * state codes, the node's state (struct au_swim, laid out for the hot
 * path), the view's accessors, the varint codec of its messages, and the
 * functions one file calls in another (prefix swim_).  swim.c has the
 * design and the membership rules; swim_protocol.c sends, receives and
 * times; swim_model.c is the model and the public API.  Not part of
 * SWIM's API (that is swim.h).
 */
#ifndef AU_SWIM_INTERNAL_H
#define AU_SWIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swim.h"
#include "wire.h"

/* ---- constants ----------------------------------------------------------- */

enum { MSG_PING = 1, MSG_ACK, MSG_PING_REQ, MSG_GOSSIP, MSG_PUSH_PULL, MSG_TYPES_ };
enum { TIMER_PROBE = 1, TIMER_PROBE_TIMEOUT, TIMER_GOSSIP, TIMER_PUSH_PULL, TIMER_SUSPECT,
       TIMER_JOIN, TIMER_STATS, TIMER_LEAVE, TIMER_RECONNECT };

/* A view entry is one uint32: incarnation << 4 | state code.  The codes
 * of alive..left equal enum au_swim_state (and are what push-pull sends);
 * ST_NONE is a member never heard of; ST_REAPED marks a dead or left
 * member forgotten by the protocol (treated as unknown) whose last state
 * the API still reports.  Alive at incarnation 0 is the entry 0, so a
 * zeroed view is a cluster where everyone is alive. */
enum { ST_ALIVE = 0, ST_SUSPECT = 1, ST_DEAD = 2, ST_LEFT = 3, ST_NONE = 4 };
#define ST_MASK 0x7u
#define ST_REAPED 0x8u
#define INC_MAX 0x0fffffffu /* 28 bits: refutations saturate here */

/* Update kinds on the wire ("left" = dead sent by the member itself). */
enum { U_ALIVE = 1, U_SUSPECT = 2, U_DEAD = 3 };

/* How a view change came about (/membership `via`). */
enum { VIA_SELF = 0, VIA_GOSSIP = 1, VIA_PUSH_PULL = 2 };

/* Push-pull flags. */
#define PP_REPLY 1u
#define PP_JOIN 2u

#define PACKET_BUDGET 1400u     /* bytes per message with piggybacked updates */
#define UPDATES_MAX 255u        /* updates per message (count is one byte) */
#define UPDATE_BYTES_MAX 16u    /* kind + three varint32 */
#define PP_CHUNK_BYTES 60000u   /* push-pull state per message */
#define QUEUE_MAX 1024u         /* queued updates per node; beyond, the most sent goes */
#define FWD_SLOTS 64u           /* ping-reqs being relayed at once */
#define FWD_BIT 0x80000000u     /* seq of a relayed ping */
#define RECONNECT_BIT 0x40000000u /* seq of a ping to a dead member */
#define SEQ_MASK 0x3fffffffu
#define CONFIRM_MAX 32u         /* suspicion_mult <= 32, so k + 1 <= 31 confirmers */
#define LEAVE_WAIT_PROBES 5     /* a leaving node keeps gossiping this many probe intervals at most */
#define STATE_MAGIC 0x5357494du /* "SWIM" */

/* ---- state --------------------------------------------------------------- */

struct bcast {
	au_node_id member;
	uint32_t inc;
	au_node_id from;
	uint8_t kind;
	uint8_t transmits;
};

struct suspicion {
	au_node_id member;
	uint32_t inc;
	uint32_t k, confirmations;
	uint32_t gen;           /* matches the timer's arg */
	au_time start_ns, min_ns, max_ns;
	uint64_t timer;
	au_node_id from[CONFIRM_MAX]; /* the accuser and each confirmer, once */
	uint32_t n_from;
};

struct reap_entry {
	au_node_id member;
	uint32_t inc;
	au_time since_ns;
};

struct fwd_slot {
	au_node_id requester; /* 0: free */
	uint32_t orig_seq, my_seq;
	au_time expires_ns;
};

struct observer {
	au_swim_observer fn;
	void *ctx;
};

#define QUEUE_INLINE 12u /* queued updates kept next to the hot fields */

struct au_swim {
	/* Hot: what nearly every event touches, in the first two cache lines
	 * (the engine prefetches the first ahead of the event; the hardware
	 * usually brings its pair).  Then the first queued updates, which
	 * every received update is compared with. */
	_Alignas(64) const struct au_env *env;
	const struct au_swim_config *cfg;
	uint32_t *view;        /* [n+1]: incarnation << 4 | state code */
	struct bcast *queue;   /* inline_queue until it outgrows it */
	uint32_t n;            /* member ids 1..n */
	uint32_t queue_len;
	bool leaving, quiet, gossip_armed, joined;
	uint32_t msgs_out, msgs_in;
	uint64_t bytes_out, bytes_in;
	struct {
		au_node_id target;
		uint32_t seq;
		bool active, acked, indirect;
		uint64_t timer;
	} probe;
	uint32_t count[5];     /* members per internal state, reaped ones excluded */
	au_time reap_due_ns;   /* when the oldest dead/left member is reaped; INT64_MAX: none */
	struct bcast inline_queue[QUEUE_INLINE];

	uint32_t queue_cap;
	uint32_t seq;          /* last probe sequence number */

	/* probing */
	uint32_t perm_half;    /* Feistel half width in bits */
	uint32_t perm_key[4];
	uint32_t rr_pos;       /* next index of the current round */
	struct fwd_slot fwd[FWD_SLOTS];
	uint32_t fwd_counter;

	/* dissemination */
	au_time gossip_phase_ns;

	/* suspicion side table, sorted by member */
	struct suspicion *sus;
	uint32_t n_sus, cap_sus;
	uint32_t sus_gen;

	/* dead and left members waiting to be reaped, oldest first */
	struct reap_entry *reap;
	uint32_t reap_head, reap_len, reap_cap;

	/* joining and leaving */
	uint32_t join_attempts;
	uint64_t leave_timer;
	au_time leave_start_ns;

	struct observer obs[AU_SWIM_MAX_OBSERVERS];
	uint32_t n_obs;

	/* counters */
	uint64_t probes, probe_fails, refutes, bad, queue_drops, fwd_drops, push_pulls;
	uint64_t reconnects, declared_dead;
	uint64_t disk_errors; /* failed writes or syncs of the incarnation record */
	uint32_t n_dead_any; /* members held dead, forgotten ones included */
	au_node_id *dead_ids; /* those members, in no particular order */
	uint32_t dead_cap;
	struct {
		au_node_id target;
		uint32_t seq;
	} reconnect;
};

_Static_assert(offsetof(struct au_swim, inline_queue) <= 128, "hot fields fit two cache lines");

/* Rows of /swim_load (/membership rows are struct au_swim_membership_row). */
struct load_row {
	int64_t msgs_out, msgs_in, bytes_out, bytes_in;
	uint32_t alive, suspect, dead, left, queue;
};

static inline uint8_t st_of(const struct au_swim *sw, au_node_id m) { return sw->view[m] & 0xfu; }
static inline uint32_t inc_of(const struct au_swim *sw, au_node_id m) { return sw->view[m] >> 4; }
static inline void set_entry(struct au_swim *sw, au_node_id m, uint8_t st, uint32_t inc)
{
	sw->view[m] = inc << 4 | st;
}

static inline uint32_t self_inc(const struct au_swim *sw) { return inc_of(sw, sw->env->self); }

/* ---- varints ------------------------------------------------------------- */

static inline void put_varint(struct au_wbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		au_put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	au_put_u8(w, (uint8_t)v);
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* LEB128 of at most `max_bytes` (5: 32 bits, the last byte <= 0x0f); an
 * overlong or truncated one sets short_read.  Reads the buffer directly:
 * decoding is on the path of every message. */
static inline uint64_t get_varint(struct au_rbuf *r, unsigned max_bytes)
{
	uint64_t v = 0;
	if (r->short_read)
		return 0;
	for (unsigned i = 0; i < max_bytes && r->pos < r->len; i++) {
		uint8_t b = r->p[r->pos++];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i == 4 && max_bytes == 5 && b > 0x0f)
				break; /* more than 32 bits */
			return v;
		}
	}
	r->short_read = true;
	return 0;
}

static inline uint32_t get_varint32(struct au_rbuf *r) { return (uint32_t)get_varint(r, 5); }

/* ---- the view ------------------------------------------------------------- */

static inline enum au_swim_state public_state(uint8_t st)
{
	switch (st & ST_MASK) {
	case ST_ALIVE:
		return AU_SWIM_ALIVE;
	case ST_SUSPECT:
		return AU_SWIM_SUSPECT;
	case ST_DEAD:
		return AU_SWIM_DEAD;
	case ST_LEFT:
		return AU_SWIM_LEFT;
	default:
		return AU_SWIM_UNKNOWN;
	}
}

/* The protocol's view: reaped members are unknown. */
static inline uint8_t proto_state(const struct au_swim *sw, au_node_id m)
{
	uint8_t s = st_of(sw, m);
	return (s & ST_REAPED) ? ST_NONE : (s & ST_MASK);
}

static inline uint32_t known_members(const struct au_swim *sw)
{
	return sw->count[ST_ALIVE] + sw->count[ST_SUSPECT] + sw->count[ST_DEAD] +
	       sw->count[ST_LEFT];
}

/* swim.c: the membership state and its rules */
void swim_reap(struct au_swim *sw);
void swim_enqueue(struct au_swim *sw, uint8_t kind, au_node_id member, uint32_t inc, au_node_id from);
void swim_put_piggyback(struct au_swim *sw, struct au_wbuf *w, size_t budget);
struct suspicion *swim_sus_find(struct au_swim *sw, au_node_id m, uint32_t *pos);
void swim_persist_inc(struct au_swim *sw);
void swim_on_alive(struct au_swim *sw, au_node_id m, uint32_t inc, uint8_t via);
void swim_on_suspect(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from, uint8_t via);
void swim_on_dead(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from, uint8_t via);
void swim_apply_update(struct au_swim *sw, const struct bcast *u, uint8_t via);

/* swim_protocol.c: probing, gossip, push-pull, joining, receiving, leaving, timers */
void swim_arm_gossip(struct au_swim *sw);
void swim_new_round(struct au_swim *sw);
au_time swim_push_pull_period(const struct au_swim *sw);
void swim_join_try(struct au_swim *sw);
void swim_recv(void *state, au_node_id from, const void *msg, size_t len);
void swim_timer(void *state, uint32_t kind, uint64_t arg);

#endif
