/* evq.c — 4-ary heap of (time, seq|slot) keys over a slot pool. */
#include "evq.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS 24u
#define SLOT_MASK ((UINT64_C(1) << SLOT_BITS) - 1)
#define SEQ_MAX (UINT64_C(1) << (64 - SLOT_BITS))
#define NO_SLOT UINT32_MAX

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "aureon: out of memory growing the event queue (%zu bytes)\n", n);
		abort();
	}
	return q;
}

void au_evq_init(struct au_evq *q)
{
	memset(q, 0, sizeof(*q));
	q->free_head = NO_SLOT;
	q->next_seq = 1;
}

void au_evq_free(struct au_evq *q)
{
	if (q->heap)
		free((char *)q->heap - 48);
	free(q->slots);
	memset(q, 0, sizeof(*q));
	q->free_head = NO_SLOT;
}

static inline bool key_less(const struct au_evq_key *x, const struct au_evq_key *y)
{
	return x->t < y->t || (x->t == y->t && x->seq_slot < y->seq_slot);
}

static uint32_t slot_alloc(struct au_evq *q)
{
	if (q->free_head != NO_SLOT) {
		uint32_t s = q->free_head;
		q->free_head = q->slots[s].next_free;
		return s;
	}
	size_t n = q->slots_cap;
	if (n >= AU_EVQ_MAX_SLOTS) {
		fprintf(stderr, "aureon: more than %u events pending; the event queue is full\n",
			AU_EVQ_MAX_SLOTS);
		abort();
	}
	size_t grow = n ? n * 2 : 1024;
	if (grow > AU_EVQ_MAX_SLOTS)
		grow = AU_EVQ_MAX_SLOTS;
	q->slots = xrealloc(q->slots, grow * sizeof(*q->slots));
	/* Thread the new slots onto the free list, lowest index first, so slot
	 * reuse is a pure function of the operation sequence. */
	for (size_t i = grow; i-- > n + 1;) {
		q->slots[i].ev.type = 0;
		q->slots[i].gen = 1;
		q->slots[i].next_free = q->free_head;
		q->free_head = (uint32_t)i;
	}
	q->slots[n].ev.type = 0;
	q->slots[n].gen = 1;
	q->slots_cap = grow;
	return (uint32_t)n;
}

static void slot_release(struct au_evq *q, uint32_t s)
{
	q->slots[s].ev.type = 0;
	q->slots[s].gen++;
	if (q->slots[s].gen == 0)
		q->slots[s].gen = 1;
	q->slots[s].next_free = q->free_head;
	q->free_head = s;
}

static void sift_up(struct au_evq_key *h, size_t i, struct au_evq_key k)
{
	while (i > 0) {
		size_t parent = (i - 1) / 4;
		if (!key_less(&k, &h[parent]))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = k;
}

/* The key as one unsigned 128-bit number: time (sign bit flipped so the
 * order is preserved) above seq|slot.  One compare, no data-dependent
 * branches, which matters in the inner loop below. */
__extension__ typedef unsigned __int128 key128;

static inline key128 key_value(const struct au_evq_key *k)
{
	return ((key128)((uint64_t)k->t ^ (UINT64_C(1) << 63)) << 64) | k->seq_slot;
}

/* Index of the smallest of the children c..end-1 (1 to 4 of them). */
static inline size_t min_child(const struct au_evq_key *h, size_t c, size_t end)
{
	if (end - c == 4) {
		key128 k0 = key_value(&h[c]), k1 = key_value(&h[c + 1]);
		key128 k2 = key_value(&h[c + 2]), k3 = key_value(&h[c + 3]);
		size_t a = k1 < k0 ? c + 1 : c;
		key128 ka = k1 < k0 ? k1 : k0;
		size_t b = k3 < k2 ? c + 3 : c + 2;
		key128 kb = k3 < k2 ? k3 : k2;
		return kb < ka ? b : a;
	}
	size_t best = c;
	for (size_t j = c + 1; j < end; j++)
		if (key_less(&h[j], &h[best]))
			best = j;
	return best;
}

/* Remove the root: walk the hole down along the smallest children to a
 * leaf, then sift the last key up from there (Floyd's bottom-up variant;
 * the last key is usually large, so it rarely climbs far). */
static void remove_root(struct au_evq *q)
{
	struct au_evq_key *h = q->heap;
	size_t n = --q->len;
	if (n == 0)
		return;
	struct au_evq_key last = h[n];
	size_t i = 0;
	for (;;) {
		size_t c = 4 * i + 1;
		if (c >= n)
			break;
		/* The next level's four candidate child groups are four
		 * consecutive cache lines: request them now, so the miss on the
		 * one we pick overlaps the miss on this level. */
		size_t g = 4 * c + 1;
		if (g < n) {
			const char *gp = (const char *)&h[g];
			__builtin_prefetch(gp);
			__builtin_prefetch(gp + 64);
			__builtin_prefetch(gp + 128);
			__builtin_prefetch(gp + 192);
		}
		size_t best = min_child(h, c, c + 4 < n ? c + 4 : n);
		h[i] = h[best];
		i = best;
	}
	sift_up(h, i, last);
}

/* The i-th key of the run. */
static inline struct au_evq_key *ahead_at(struct au_evq *q, uint32_t i)
{
	return &q->ahead[(q->ahead_head + i) & (AU_EVQ_AHEAD - 1)];
}

/* Start loading a slot: 48-byte slots straddle two cache lines half the
 * time, and pop copies all of it.  (always_inline: GCC finds a function
 * that only prefetches pure and drops calls to it that it did not inline.) */
__attribute__((always_inline)) static inline void prefetch_slot(const struct au_evq *q,
								 uint64_t seq_slot)
{
	const char *p = (const char *)&q->slots[seq_slot & SLOT_MASK];
	__builtin_prefetch(p);
	__builtin_prefetch(p + sizeof(struct au_evq_slot) - 1);
}

/* Top the run up from the heap.  Each key joining the run is AU_EVQ_AHEAD
 * events from running: its slot starts loading now, and the caller can
 * prefetch what the event will touch (au_evq_ahead_hint) well before it
 * runs.  Cancelled keys join too (checking would mean a cache miss now);
 * pop drops them. */
static void ahead_fill(struct au_evq *q)
{
	while (q->ahead_len < AU_EVQ_AHEAD && q->len) {
		struct au_evq_key k = q->heap[0];
		remove_root(q);
		*ahead_at(q, q->ahead_len++) = k;
		prefetch_slot(q, k.seq_slot);
	}
}

static void heapify(struct au_evq *q)
{
	struct au_evq_key *h = q->heap;
	size_t n = q->len;
	if (n < 2)
		return;
	for (size_t start = (n - 2) / 4 + 1; start-- > 0;) {
		struct au_evq_key k = h[start];
		size_t i = start;
		for (;;) {
			size_t c = 4 * i + 1;
			if (c >= n)
				break;
			size_t best = c;
			size_t end = c + 4 < n ? c + 4 : n;
			for (size_t j = c + 1; j < end; j++)
				if (key_less(&h[j], &h[best]))
					best = j;
			if (!key_less(&h[best], &k))
				break;
			h[i] = h[best];
			i = best;
		}
		h[i] = k;
	}
}

/* Drop every cancelled key and rebuild the heap: O(n), run only when dead
 * keys outnumber live ones, so amortised O(1) per cancel. */
static void compact(struct au_evq *q)
{
	size_t w = 0;
	for (size_t r = 0; r < q->len; r++) {
		uint32_t s = (uint32_t)(q->heap[r].seq_slot & SLOT_MASK);
		if (q->slots[s].ev.type == 0)
			slot_release(q, s);
		else
			q->heap[w++] = q->heap[r];
	}
	q->len = w;
	heapify(q);
	/* The run keeps its order: drop its dead keys in place. */
	uint32_t kept = 0;
	for (uint32_t r = 0; r < q->ahead_len; r++) {
		struct au_evq_key k = *ahead_at(q, r);
		uint32_t s = (uint32_t)(k.seq_slot & SLOT_MASK);
		if (q->slots[s].ev.type == 0)
			slot_release(q, s);
		else
			*ahead_at(q, kept++) = k;
	}
	q->ahead_len = kept;
	q->dead = 0;
	q->compactions++;
}

/* Grow the heap array.  It is placed 48 bytes past a 64-byte boundary so
 * that the four children of every node (indices 4i+1..4i+4) share one cache
 * line. */
static void grow_heap(struct au_evq *q)
{
	size_t cap = q->cap ? q->cap * 2 : 1024;
	char *block = aligned_alloc(64, (cap + 4) * sizeof(struct au_evq_key));
	if (!block) {
		fprintf(stderr, "aureon: out of memory growing the event queue\n");
		abort();
	}
	struct au_evq_key *heap = (struct au_evq_key *)(block + 48);
	if (q->len)
		memcpy(heap, q->heap, q->len * sizeof(*heap));
	if (q->heap)
		free((char *)q->heap - 48);
	q->heap = heap;
	q->cap = cap;
}

/* Add a key to the heap. */
static void heap_insert(struct au_evq *q, struct au_evq_key k)
{
	if (q->len == q->cap)
		grow_heap(q);
	sift_up(q->heap, q->len++, k);
}

uint64_t au_evq_push(struct au_evq *q, au_time t, const struct au_event *ev)
{
	assert(ev->type != 0);
	uint32_t s = slot_alloc(q);
	q->slots[s].ev = *ev;
	if (q->next_seq >= SEQ_MAX) {
		fprintf(stderr, "aureon: event sequence numbers exhausted\n");
		abort();
	}
	struct au_evq_key k = {t, (q->next_seq++ << SLOT_BITS) | s};
	uint32_t n = q->ahead_len;
	if (n == 0 || !key_less(&k, ahead_at(q, n - 1))) {
		heap_insert(q, k);
	} else {
		/* Due before the run's last key: it belongs in the run, which
		 * stays sorted.  A full run hands its last key back to the heap
		 * (still ahead of everything there). */
		if (n == AU_EVQ_AHEAD) {
			heap_insert(q, *ahead_at(q, n - 1));
			q->ahead_len = --n;
		}
		while (n > 0 && key_less(&k, ahead_at(q, n - 1))) {
			*ahead_at(q, n) = *ahead_at(q, n - 1);
			n--;
		}
		*ahead_at(q, n) = k;
		q->ahead_len++;
	}
	return ((uint64_t)q->slots[s].gen << 32) | s;
}

/* Fill the run and discard cancelled keys at its front: afterwards the
 * front is the earliest live event, or the queue is empty. */
static void skip_dead(struct au_evq *q)
{
	for (;;) {
		if (q->ahead_len == 0) {
			ahead_fill(q);
			if (q->ahead_len == 0)
				return;
		}
		uint32_t s = (uint32_t)(ahead_at(q, 0)->seq_slot & SLOT_MASK);
		if (q->slots[s].ev.type != 0)
			return;
		q->ahead_head++;
		q->ahead_len--;
		slot_release(q, s);
		q->dead--;
	}
}

bool au_evq_pop_until(struct au_evq *q, au_time until, au_time *t, struct au_event *ev)
{
	skip_dead(q);
	if (q->ahead_len == 0 || ahead_at(q, 0)->t > until)
		return false;
	struct au_evq_key k = *ahead_at(q, 0);
	uint32_t s = (uint32_t)(k.seq_slot & SLOT_MASK);
	*t = k.t;
	*ev = q->slots[s].ev;
	q->ahead_head++;
	q->ahead_len--;
	slot_release(q, s);
	ahead_fill(q);
	return true;
}

bool au_evq_pop(struct au_evq *q, au_time *t, struct au_event *ev)
{
	return au_evq_pop_until(q, INT64_MAX, t, ev);
}

au_time au_evq_peek_time(struct au_evq *q)
{
	skip_dead(q);
	return q->ahead_len ? ahead_at(q, 0)->t : INT64_MAX;
}

static struct au_evq_slot *handle_slot(const struct au_evq *q, uint64_t handle)
{
	uint32_t s = (uint32_t)(handle & 0xffffffffu);
	uint32_t gen = (uint32_t)(handle >> 32);
	if (s >= q->slots_cap || gen == 0)
		return NULL;
	struct au_evq_slot *slot = &q->slots[s];
	if (slot->gen != gen || slot->ev.type == 0)
		return NULL;
	return slot;
}

const struct au_event *au_evq_lookup(const struct au_evq *q, uint64_t handle)
{
	struct au_evq_slot *slot = handle_slot(q, handle);
	return slot ? &slot->ev : NULL;
}

bool au_evq_cancel(struct au_evq *q, uint64_t handle, struct au_event *ev)
{
	struct au_evq_slot *slot = handle_slot(q, handle);
	if (!slot)
		return false;
	if (ev)
		*ev = slot->ev;
	slot->ev.type = 0;
	/* Invalidate the handle now; the slot itself is released when its key
	 * leaves the heap. */
	slot->gen++;
	if (slot->gen == 0)
		slot->gen = 1;
	q->dead++;
	size_t keys = q->len + q->ahead_len;
	if (q->dead > 1024 && q->dead > keys - q->dead)
		compact(q);
	return true;
}

size_t au_evq_len(const struct au_evq *q)
{
	return q->len + q->ahead_len - q->dead;
}
