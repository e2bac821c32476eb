/* quorum.h — the k-th largest of a few numbers: the commit rule's
 * majority-replicated index and the heartbeat sequence a majority has
 * acknowledged (replication.c).  A header so tests can compare it with a
 * plain sort (tests/test_raft_chain.c). */
#ifndef AU_RAFT_QUORUM_H
#define AU_RAFT_QUORUM_H

#include <stdint.h>

static inline uint64_t au_raft__min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t au_raft__max_u64(uint64_t a, uint64_t b)
{
	return a < b ? b : a;
}

static inline uint64_t au_raft__median3(uint64_t a, uint64_t b, uint64_t c)
{
	return au_raft__max_u64(au_raft__min_u64(a, b), au_raft__min_u64(au_raft__max_u64(a, b), c));
}

/* The k-th largest (1 <= k <= n) of v[0..n); v may be reordered.  This
 * runs on every append reply and every read check, and n is the number of
 * voters: the majority of 3 and of 5 (the median) take a few branch-free
 * minimums and maximums — of the four values v0..v3, max(min(v0,v1),
 * min(v2,v3)) and min(max(v0,v1), max(v2,v3)) are the middle two, and the
 * median of five is the median of those two and v4; any other n and k
 * sort (insertion sort, descending). */
static inline uint64_t au_raft__kth_largest(uint64_t *v, uint32_t n, uint32_t k)
{
	if (n == 5 && k == 3) {
		uint64_t lo = au_raft__max_u64(au_raft__min_u64(v[0], v[1]), au_raft__min_u64(v[2], v[3]));
		uint64_t hi = au_raft__min_u64(au_raft__max_u64(v[0], v[1]), au_raft__max_u64(v[2], v[3]));
		return au_raft__median3(lo, hi, v[4]);
	}
	if (n == 3 && k == 2)
		return au_raft__median3(v[0], v[1], v[2]);
	for (uint32_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		uint32_t j = i;
		for (; j > 0 && v[j - 1] < x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return v[k - 1];
}

#endif
