/* evq.c — the event queue: a run of the next keys, a 4-ary heap of (time,
 * seq|slot) keys behind it and, for big queues, a calendar of later keys
 * behind that; all over a pool of event slots (see evq.h). */
#include "evq.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS 24u
#define SLOT_MASK ((UINT64_C(1) << SLOT_BITS) - 1)
#define SEQ_MAX (UINT64_C(1) << (64 - SLOT_BITS))
#define NO_SLOT UINT32_MAX

/* Calendar tuning.  A heap of tens of thousands of keys misses the cache
 * on its lower levels at every pop; a heap of BUCKET keys does not.  The
 * calendar starts when the heap passes FAR_ON keys and stops when fewer
 * than FAR_OFF keys are left in it, so small queues are a plain heap.  The
 * overrides exist for the stress tests. */
#ifndef AU_EVQ_FAR_ON
#define AU_EVQ_FAR_ON 8192u
#endif
#ifndef AU_EVQ_FAR_OFF
#define AU_EVQ_FAR_OFF 2048u
#endif
#ifndef AU_EVQ_BUCKET
#define AU_EVQ_BUCKET 2048u
#endif
#define BUCKET AU_EVQ_BUCKET   /* keys per bucket the width aims at */
#define SPLIT (8u * BUCKET)    /* a bucket this big: rebuild with narrower buckets */
#ifndef AU_EVQ_MIN_NB
#define AU_EVQ_MIN_NB 64u
#endif
#define MIN_NB AU_EVQ_MIN_NB   /* ring size bounds (powers of two) */
#define MAX_NB 65536u

/* A block of calendar keys: 1 KiB, a 16-byte header shared by 63 keys.
 * Chunks are chained by `next`; in a chain every chunk's n is valid, but
 * the head chunk of a bag counts its keys in the bag (see bag_add). */
#define CHUNK_KEYS 63u
struct au_evq_chunk {
	struct au_evq_chunk *next;
	uint32_t n;
	uint32_t unused;
	struct au_evq_key k[CHUNK_KEYS];
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "aureon: out of memory growing the event queue (%zu bytes)\n", n);
		abort();
	}
	return q;
}

static void chain_free(struct au_evq_chunk *c)
{
	while (c) {
		struct au_evq_chunk *next = c->next;
		free(c);
		c = next;
	}
}

/* Empty a bag into a chain. */
static struct au_evq_chunk *bag_take(struct au_evq_bag *b)
{
	struct au_evq_chunk *c = b->head;
	if (c)
		c->n = (uint32_t)((b->keys - 1) % CHUNK_KEYS) + 1;
	b->head = NULL;
	b->keys = 0;
	return c;
}

/* Every key of the calendar, in one chain (the ring and beyond emptied). */
static struct au_evq_chunk *far_take_all(struct au_evq *q)
{
	struct au_evq_chunk *all = bag_take(&q->beyond);
	for (uint32_t b = 0; b < q->nb; b++) {
		struct au_evq_chunk *c = bag_take(&q->ring[b]);
		while (c) {
			struct au_evq_chunk *next = c->next;
			c->next = all;
			all = c;
			c = next;
		}
	}
	q->ring_keys = 0;
	q->beyond_min = INT64_MAX;
	return all;
}

void au_evq_init(struct au_evq *q)
{
	memset(q, 0, sizeof(*q));
	q->free_head = NO_SLOT;
	q->next_seq = 1;
	q->beyond_min = INT64_MAX;
	q->far_on_at = AU_EVQ_FAR_ON;
}

void au_evq_free(struct au_evq *q)
{
	if (q->heap)
		free((char *)q->heap - 48);
	free(q->slots);
	chain_free(far_take_all(q));
	chain_free(q->spare);
	free(q->ring);
	au_evq_init(q);
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

static inline bool slot_dead(const struct au_evq *q, struct au_evq_key k)
{
	return q->slots[k.seq_slot & SLOT_MASK].ev.type == 0;
}

/* ---- the heap ----------------------------------------------------------- */

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

/* The key as one signed 128-bit number, time * 2^64 + seq|slot: signed
 * order is the keys' order (time signed, then seq|slot unsigned).  One
 * compare (cmp, sbb), no data-dependent branches, which matters in the
 * inner loop below.  (GCC converts unsigned to signed modulo 2^128.) */
__extension__ typedef __int128 key128;

static inline key128 key_value(const struct au_evq_key *k)
{
	__extension__ typedef unsigned __int128 u128;
	return (key128)(((u128)(uint64_t)k->t << 64) | k->seq_slot);
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
	bool big = n > 8192; /* 128 KiB of keys: past the L1 and L2 caches' comfort */
	size_t i = 0;
	for (;;) {
		size_t c = 4 * i + 1;
		if (c >= n)
			break;
		/* The next level's four candidate child groups are four
		 * consecutive cache lines: request them now, so that in a heap
		 * bigger than the cache the miss on the one we pick overlaps the
		 * miss on this level. */
		size_t g = 4 * c + 1;
		if (big && g < n) {
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
			size_t best = min_child(h, c, c + 4 < n ? c + 4 : n);
			if (!key_less(&h[best], &k))
				break;
			h[i] = h[best];
			i = best;
		}
		h[i] = k;
	}
}

/* Resize the heap array to hold `cap` keys.  It is placed 48 bytes past a
 * 64-byte boundary so that the four children of every node (indices
 * 4i+1..4i+4) share one cache line. */
static void heap_resize(struct au_evq *q, size_t cap)
{
	assert(cap >= q->len);
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

static void heap_reserve(struct au_evq *q, size_t need)
{
	if (need <= q->cap)
		return;
	size_t cap = q->cap ? q->cap : 1024;
	while (cap < need)
		cap *= 2;
	heap_resize(q, cap);
}

/* ---- the calendar --------------------------------------------------------- */

static struct au_evq_chunk *chunk_new(struct au_evq *q, struct au_evq_chunk *next)
{
	struct au_evq_chunk *c = q->spare;
	if (c)
		q->spare = c->next;
	else if (!(c = malloc(sizeof(*c)))) {
		fprintf(stderr, "aureon: out of memory growing the event queue\n");
		abort();
	}
	c->next = next;
	c->n = 0;
	return c;
}

/* Add a key to a bag (keys in a bag have no order).  The bag counts the
 * keys of its head chunk, not the chunk: filing a key is then a store into
 * the chunk and no load from it, so a chunk out of the cache costs no
 * stall. */
static inline void bag_add(struct au_evq *q, struct au_evq_bag *b, struct au_evq_key k)
{
	uint32_t i = (uint32_t)(b->keys % CHUNK_KEYS);
	if (i == 0) {
		if (b->head)
			b->head->n = CHUNK_KEYS;
		b->head = chunk_new(q, b->head);
	}
	b->head->k[i] = k;
	b->keys++;
}

static inline au_time width(const struct au_evq *q)
{
	return (au_time)1 << q->shift;
}

/* File a key due at or after base: in its ring bucket if the ring reaches
 * that far, else beyond. */
static void far_add(struct au_evq *q, struct au_evq_key k)
{
	assert(k.t >= q->base);
	uint64_t i = ((uint64_t)k.t - (uint64_t)q->base) >> q->shift;
	if (i < q->nb) {
		bag_add(q, &q->ring[(q->first + i) & (q->nb - 1)], k);
		q->ring_keys++;
	} else {
		bag_add(q, &q->beyond, k);
		if (k.t < q->beyond_min)
			q->beyond_min = k.t;
	}
}

/* File every key of a chain, recycling each chunk once read. */
static void far_add_chain(struct au_evq *q, struct au_evq_chunk *chain)
{
	while (chain) {
		struct au_evq_chunk *c = chain;
		chain = c->next;
		for (uint32_t j = 0; j < c->n; j++)
			far_add(q, c->k[j]);
		c->next = q->spare;
		q->spare = c;
	}
}

/* Lay the calendar out afresh for the keys of `chain` (the ring and beyond
 * being empty, and the heap holding only keys due before all of them): the
 * ring starts at the earliest key and buckets are as wide as a power of two
 * lets them be while the first holds at most BUCKET keys. */
static void far_rebuild(struct au_evq *q, struct au_evq_chunk *chain)
{
	size_t n = 0;
	au_time lo = INT64_MAX, hi = INT64_MIN;
	for (struct au_evq_chunk *c = chain; c; c = c->next)
		for (uint32_t j = 0; j < c->n; j++) {
			if (c->k[j].t < lo)
				lo = c->k[j].t;
			if (c->k[j].t > hi)
				hi = c->k[j].t;
		}
	/* below[b]: keys due less than 2^b ns after the earliest. */
	size_t below[64] = {0};
	for (struct au_evq_chunk *c = chain; c; c = c->next) {
		n += c->n;
		for (uint32_t j = 0; j < c->n; j++) {
			uint64_t d = (uint64_t)c->k[j].t - (uint64_t)lo;
			unsigned b = d ? 64 - (unsigned)__builtin_clzll(d) : 0;
			if (b < 64)
				below[b]++;
		}
	}
	unsigned shift = 0;
	size_t cum = below[0];
	for (unsigned b = 1; b < 62; b++) {
		cum += below[b];
		if (cum > BUCKET)
			break;
		shift = b;
	}
	/* Room for twice the keys at BUCKET a bucket; more buckets, if that
	 * is what it takes to reach the latest key (so that few keys wait
	 * beyond the ring to be re-filed), but no more than one per 128 keys:
	 * each non-empty bucket has a partly filled chunk. */
	uint64_t reach = n ? ((uint64_t)hi - (uint64_t)lo) >> shift : 0;
	uint32_t nb = MIN_NB;
	while (nb < MAX_NB && ((size_t)nb * BUCKET < 2 * n || (nb < reach && nb < n / 128)))
		nb *= 2;
	if (nb != q->nb) {
		free(q->ring);
		q->ring = calloc(nb, sizeof(*q->ring));
		if (!q->ring) {
			fprintf(stderr, "aureon: out of memory growing the event queue\n");
			abort();
		}
		q->nb = nb;
	}
	q->shift = shift;
	q->first = 0;
	if (n)
		q->base = lo;
	q->rebuilds++;
	q->refiled += n;
	far_add_chain(q, chain);
}

/* Move the heap's keys into a fresh calendar: the queue has grown past the
 * size where a heap fits in the cache. */
static void far_start(struct au_evq *q)
{
	struct au_evq_bag all = {NULL, 0};
	for (size_t i = 0; i < q->len; i++)
		bag_add(q, &all, q->heap[i]);
	q->len = 0;
	heap_resize(q, 4 * BUCKET);
	q->far_on = true;
	far_rebuild(q, bag_take(&all));
	q->refiled = q->served = 0;
}

/* Back to a plain heap (few keys are left): all of them go into it. */
static void far_stop(struct au_evq *q)
{
	struct au_evq_chunk *all = far_take_all(q);
	size_t n = 0;
	for (struct au_evq_chunk *c = all; c; c = c->next)
		n += c->n;
	heap_reserve(q, q->len + n);
	for (struct au_evq_chunk *c = all; c; c = c->next) {
		memcpy(q->heap + q->len, c->k, c->n * sizeof(struct au_evq_key));
		q->len += c->n;
	}
	heapify(q);
	chain_free(all);
	chain_free(q->spare);
	q->spare = NULL;
	free(q->ring);
	q->ring = NULL;
	q->nb = 0;
	q->far_on = false;
}

/* The ring has reached the earliest key beyond it: bring in every key the
 * ring now covers. */
static void far_pull_beyond(struct au_evq *q)
{
	q->refiled += q->beyond.keys;
	q->beyond_min = INT64_MAX;
	far_add_chain(q, bag_take(&q->beyond));
}

/* The calendar pays while keys are re-filed (rebuilds, pulls from beyond
 * the ring) much less often than they are served.  A time distribution it
 * cannot follow (say, log-uniform delays) would have it re-file everything
 * every few buckets. */
static bool far_paying(const struct au_evq *q)
{
	return q->refiled <= 2 * q->served + 2 * (q->ring_keys + q->beyond.keys);
}

/* Back to the plain heap until the queue has doubled. */
static void far_give_up(struct au_evq *q)
{
	size_t keys = q->ring_keys + q->beyond.keys;
	far_stop(q);
	q->far_on_at = 2 * (keys > q->far_on_at ? keys : q->far_on_at);
}

/* The heap is empty: refill it with the calendar's next non-empty bucket.
 * Afterwards the heap holds every key due before the new base. */
static void far_advance(struct au_evq *q)
{
	uint32_t skipped = 0;
	while (q->ring_keys + q->beyond.keys) {
		if (q->ring_keys + q->beyond.keys < AU_EVQ_FAR_OFF) {
			far_stop(q);
			return;
		}
		bool pull = q->beyond.keys &&
			    (uint64_t)q->beyond_min - (uint64_t)q->base < (uint64_t)width(q);
		size_t n = q->ring[q->first].keys;
		bool rebuild = q->ring_keys == 0 || (n > SPLIT && q->shift > 0);
		/* (The end of time is the calendar's end too: keys due
		 * within a bucket of INT64_MAX go back to the heap.) */
		if (((pull || rebuild) && !far_paying(q)) || q->base > INT64_MAX - width(q)) {
			far_give_up(q);
			return;
		}
		if (rebuild) {
			/* Nothing in the ring (jump to the keys beyond it), or
			 * buckets too dense for a small heap. */
			far_rebuild(q, far_take_all(q));
			continue;
		}
		if (pull) {
			/* Beyond keys must join the ring before their bucket
			 * comes up; pulling them only then scans the beyond
			 * list about once per turn of the ring. */
			far_pull_beyond(q);
			continue;
		}
		struct au_evq_chunk *c = bag_take(&q->ring[q->first]);
		q->first = (q->first + 1) & (q->nb - 1);
		q->base += width(q);
		if (!c) {
			skipped++;
			continue;
		}
		q->ring_keys -= n;
		q->served += n;
		heap_reserve(q, q->len + n);
		while (c) {
			struct au_evq_chunk *next = c->next;
			memcpy(q->heap + q->len, c->k, c->n * sizeof(struct au_evq_key));
			q->len += c->n;
			c->next = q->spare;
			q->spare = c;
			c = next;
		}
		heapify(q);
		/* Mostly empty buckets: rebuild with wider ones. */
		if (skipped > 64 && n < BUCKET / 8 && far_paying(q))
			far_rebuild(q, far_take_all(q));
		return;
	}
}

/* ---- the run ---------------------------------------------------------------- */

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

/* Top the run up from the heap (and the heap from the calendar).  Each key
 * joining the run is AU_EVQ_AHEAD events from running: its slot starts
 * loading now, and the caller can prefetch what the event will touch
 * (au_evq_ahead_hint) well before it runs.  Cancelled keys join too
 * (checking would mean a cache miss now); pop drops them. */
static void ahead_fill(struct au_evq *q)
{
	while (q->ahead_len < AU_EVQ_AHEAD) {
		if (q->len == 0) {
			if (!q->far_on)
				return;
			far_advance(q);
			if (q->len == 0)
				return;
		}
		struct au_evq_key k = q->heap[0];
		remove_root(q);
		*ahead_at(q, q->ahead_len++) = k;
		prefetch_slot(q, k.seq_slot);
	}
}

/* ---- compaction --------------------------------------------------------------- */

/* Drop every cancelled key: O(n), run only when dead keys outnumber live
 * ones, so amortised O(1) per cancel. */
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
		if (slot_dead(q, k))
			slot_release(q, (uint32_t)(k.seq_slot & SLOT_MASK));
		else
			*ahead_at(q, kept++) = k;
	}
	q->ahead_len = kept;
	if (q->far_on) {
		/* Re-file the calendar's live keys (the base stays: the heap
		 * still holds the keys before it). */
		struct au_evq_chunk *all = far_take_all(q);
		struct au_evq_bag live = {NULL, 0};
		for (struct au_evq_chunk *c = all; c; c = c->next)
			for (uint32_t j = 0; j < c->n; j++) {
				if (slot_dead(q, c->k[j]))
					slot_release(q, (uint32_t)(c->k[j].seq_slot & SLOT_MASK));
				else
					bag_add(q, &live, c->k[j]);
			}
		chain_free(all);
		far_add_chain(q, bag_take(&live));
	}
	q->dead = 0;
	q->compactions++;
}

/* ---- the interface ------------------------------------------------------------ */

/* Add a key that does not belong in the run. */
static void queue_key(struct au_evq *q, struct au_evq_key k)
{
	if (q->far_on && k.t >= q->base) {
		far_add(q, k);
		return;
	}
	heap_reserve(q, q->len + 1);
	sift_up(q->heap, q->len++, k);
	if (!q->far_on && q->len > q->far_on_at)
		far_start(q);
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
		queue_key(q, k);
	} else {
		/* Due before the run's last key: it belongs in the run, which
		 * stays sorted.  A full run hands its last key back to the heap
		 * (still ahead of everything there). */
		if (n == AU_EVQ_AHEAD) {
			queue_key(q, *ahead_at(q, n - 1));
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
		struct au_evq_key k = *ahead_at(q, 0);
		if (!slot_dead(q, k))
			return;
		q->ahead_head++;
		q->ahead_len--;
		slot_release(q, (uint32_t)(k.seq_slot & SLOT_MASK));
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

/* What au_evq_live_in_order lists: live events `want` accepts (all if NULL). */
struct live_filter {
	bool (*want)(const struct au_event *ev, void *ctx);
	void *ctx;
};

/* Append k to out if its event is live and wanted. */
static void live_key(const struct au_evq *q, const struct live_filter *f, struct au_evq_key k,
		     struct au_evq_key *out, size_t *n)
{
	if (slot_dead(q, k))
		return;
	if (f->want && !f->want(&q->slots[k.seq_slot & SLOT_MASK].ev, f->ctx))
		return;
	out[(*n)++] = k;
}

/* The live keys of a bag (its head chunk holds the remainder). */
static void live_bag(const struct au_evq *q, const struct live_filter *f, const struct au_evq_bag *b,
		     struct au_evq_key *out, size_t *n)
{
	if (!b->head)
		return;
	uint32_t in_head = (uint32_t)((b->keys - 1) % CHUNK_KEYS) + 1;
	for (const struct au_evq_chunk *c = b->head; c; c = c->next) {
		uint32_t m = c == b->head ? in_head : c->n;
		for (uint32_t j = 0; j < m; j++)
			live_key(q, f, c->k[j], out, n);
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct au_evq_key *x = a, *y = b;
	return key_less(x, y) ? -1 : key_less(y, x) ? 1 : 0;
}

uint64_t *au_evq_live_in_order(const struct au_evq *q, bool (*want)(const struct au_event *ev, void *ctx),
			       void *ctx, size_t *count)
{
	const struct live_filter f = {want, ctx};
	size_t cap = q->ahead_len + q->len + (q->far_on ? q->ring_keys + q->beyond.keys : 0);
	struct au_evq_key *keys = xrealloc(NULL, (cap ? cap : 1) * sizeof(*keys));
	size_t n = 0;
	for (uint32_t i = 0; i < q->ahead_len; i++)
		live_key(q, &f, q->ahead[(q->ahead_head + i) & (AU_EVQ_AHEAD - 1)], keys, &n);
	for (size_t i = 0; i < q->len; i++)
		live_key(q, &f, q->heap[i], keys, &n);
	if (q->far_on) {
		for (uint32_t b = 0; b < q->nb; b++)
			live_bag(q, &f, &q->ring[b], keys, &n);
		live_bag(q, &f, &q->beyond, keys, &n);
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	uint64_t *handles = xrealloc(NULL, (n ? n : 1) * sizeof(*handles));
	for (size_t i = 0; i < n; i++) {
		uint32_t s = (uint32_t)(keys[i].seq_slot & SLOT_MASK);
		handles[i] = ((uint64_t)q->slots[s].gen << 32) | s;
	}
	free(keys);
	*count = n;
	return handles;
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
	 * leaves the queue. */
	slot->gen++;
	if (slot->gen == 0)
		slot->gen = 1;
	q->dead++;
	/* Compact once dead keys outnumber live ones (and are more than a
	 * few): a Raft cluster resets its timers all the time and keeps only
	 * ~100 events pending, so a higher floor (it was 1,024) let dead keys
	 * make up 90 % of the heap and every pop walk a level deeper.  Pop
	 * order is (time, sequence), so when compaction runs changes nothing
	 * observable. */
	size_t keys = q->len + q->ahead_len + q->ring_keys + q->beyond.keys;
	if (q->dead > 32 && q->dead > keys - q->dead)
		compact(q);
	return true;
}

size_t au_evq_len(const struct au_evq *q)
{
	return q->len + q->ahead_len + q->ring_keys + q->beyond.keys - q->dead;
}
