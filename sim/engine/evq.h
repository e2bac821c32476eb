/* evq.h — the simulator's event queue.
 *
 * Events pop in total order of (time, sequence of insertion): two events
 * due at the same instant pop in the order they were pushed, whatever the
 * queue's internal shape.  Pending events live in a pool of fixed-size
 * slots; the queue orders 16-byte keys (time, insertion sequence, slot):
 *
 *   - the run: the next few keys in order, taken off the heap ahead of time
 *     so the engine can prefetch what their events will touch;
 *   - a 4-ary min-heap of the keys due before `base`;
 *   - while the queue is big, a calendar of the keys due at or after
 *     `base`: a ring of buckets of 2^shift ns (unsorted chunks of keys)
 *     and an unsorted list of keys beyond the ring.  When the heap runs
 *     dry the next bucket is heapified, so the heap stays small enough for
 *     the cache however many events are pending.
 *
 * Push and pop cost O(log n) in the heap, where with the calendar n is
 * about one bucket (a couple of thousand keys), plus O(1) amortised
 * filing.  Cancel is O(1): the slot is marked dead and skipped when its
 * key reaches the front; everything is compacted when dead keys outnumber
 * live ones, so memory stays proportional to live events.  A pending event
 * costs 64 bytes: a 16-byte key (in the run, the heap or a calendar chunk)
 * and a 48-byte slot.  The calendar adds a 16-byte header per chunk of 63
 * keys and at most one partly filled chunk per bucket: 2 to 3 bytes per
 * event in the PHOLD benchmarks.
 */
#ifndef AU_EVQ_H
#define AU_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

/* Inline payloads up to this size travel inside the slot (no malloc). */
#define AU_EVQ_INLINE 16u

/* An event as the engine sees it; the queue does not interpret it except
 * for `type` (0 is reserved for dead slots). */
struct au_event {
	uint8_t type;
	uint8_t service;
	uint16_t flags;
	uint32_t node;
	uint32_t aux; /* node epoch (timers, syncs) or source (messages) */
	uint32_t len;
	int64_t a;
	union {
		uint8_t inl[AU_EVQ_INLINE];
		struct {
			uint64_t b;
			void *p;
		} ref;
		struct {
			uint64_t arg;
			int64_t due; /* global time it is due (re-timed on a drift change) */
		} timer;
	} u;
};

struct au_evq_key {
	au_time t;
	uint64_t seq_slot; /* sequence << 24 | slot */
};

struct au_evq_slot {
	struct au_event ev; /* type 0: free or cancelled */
	uint32_t gen;       /* bumped whenever the slot is released */
	uint32_t next_free;
};

/* Keys taken off the heap ahead of time, so that the events they name can
 * be prefetched several events before they run (a power of two).  Eight,
 * not more: an event due before the run's last key (a message sent now,
 * due in a millisecond) kicks that key back into the heap, and with Raft's
 * ~100 pending events a longer run meant more kicks than prefetching
 * saved (16 cost raft-hour ~4 %; PHOLD runs the same either way). */
#define AU_EVQ_AHEAD 8u

struct au_evq_chunk; /* evq.c: a block of calendar keys */

/* Calendar keys in no order, in chunks. */
struct au_evq_bag {
	struct au_evq_chunk *head;
	size_t keys;
};

/* The queue.  Fields are private to evq.c. */
struct au_evq {
	struct au_evq_key *heap; /* keys due before base (all of them, without a calendar) */
	size_t len, cap;
	struct au_evq_slot *slots;
	size_t slots_cap;
	uint32_t free_head;
	uint64_t next_seq;
	size_t dead;         /* cancelled keys still queued (run, heap or calendar) */
	uint64_t compactions;
	/* The run: the next keys in order, a ring of ahead_len keys from
	 * ahead_head.  Every key in the run precedes every key in the heap. */
	struct au_evq_key ahead[AU_EVQ_AHEAD];
	uint32_t ahead_head, ahead_len;
	/* The calendar (while far_on): ring bucket first + i holds the keys
	 * due in [base + i * 2^shift, base + (i + 1) * 2^shift) for i < nb;
	 * later keys wait in `beyond`. */
	bool far_on;
	au_time base;
	unsigned shift;
	uint32_t nb, first;
	struct au_evq_bag *ring;     /* [nb] */
	size_t ring_keys;
	struct au_evq_bag beyond;
	au_time beyond_min;
	struct au_evq_chunk *spare;  /* free chunks */
	size_t far_on_at;            /* heap size that starts the calendar */
	uint64_t refiled, served;    /* keys re-filed and served since it started */
	uint64_t rebuilds;
};

#define AU_EVQ_MAX_SLOTS (1u << 24)

void au_evq_init(struct au_evq *q);
/* Free the queue.  Payloads pointed to by events are the caller's. */
void au_evq_free(struct au_evq *q);
/* Push an event due at `t`; returns a nonzero handle for au_evq_cancel. */
uint64_t au_evq_push(struct au_evq *q, au_time t, const struct au_event *ev);
/* Pop the earliest live event into *ev and *t.  False when empty. */
bool au_evq_pop(struct au_evq *q, au_time *t, struct au_event *ev);
/* Pop the earliest live event if it is due at or before `until`: peek and
 * pop in one pass.  False when empty or the earliest is later. */
bool au_evq_pop_until(struct au_evq *q, au_time until, au_time *t, struct au_event *ev);
/* Time of the earliest live event, or INT64_MAX when empty. */
au_time au_evq_peek_time(struct au_evq *q);
/* Cancel a pending event and return it in *ev (so the caller can free its
 * payload).  False if the handle already fired, was cancelled, or is
 * invalid. */
bool au_evq_cancel(struct au_evq *q, uint64_t handle, struct au_event *ev);
/* The pending event behind a handle, or NULL. */
const struct au_event *au_evq_lookup(const struct au_evq *q, uint64_t handle);
/* The i-th next event (0: the one the next pop returns unless a push
 * comes first; possibly cancelled), or NULL if the queue has not looked
 * that far ahead.  For prefetching only. */
static inline const struct au_event *au_evq_ahead_hint(const struct au_evq *q, unsigned i)
{
	if (i >= q->ahead_len)
		return NULL;
	uint64_t seq_slot = q->ahead[(q->ahead_head + i) & (AU_EVQ_AHEAD - 1)].seq_slot;
	return &q->slots[seq_slot & ((UINT64_C(1) << 24) - 1)].ev;
}
/* The handles of the live events `want` accepts (every live event if want
 * is NULL), in the order they would pop ((time, insertion sequence)),
 * whatever the queue's shape or slot numbering; *count gets how many.  The
 * caller frees the array.  O(n) to scan plus O(m log m) for the m wanted:
 * for rare passes over the whole queue (re-timing a node's timers). */
uint64_t *au_evq_live_in_order(const struct au_evq *q, bool (*want)(const struct au_event *ev, void *ctx),
			       void *ctx, size_t *count);
/* Live events pending. */
size_t au_evq_len(const struct au_evq *q);

#endif
