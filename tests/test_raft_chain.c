/* test_raft_chain.c — the Raft log's chain memo (models/raft/chain.c):
 * the memoised chain equals FNV-1a computed byte by byte, whatever is in
 * the table, on hits, on key collisions (same previous chain, term, type
 * and length, other bytes) and after eviction; the table keeps its own
 * copy of the bytes (a caller's buffer changing later cannot fool it).
 * Also the quorum
 * helper (models/raft/quorum.h): its k-th largest equals a plain sort's.
 * And the outbox (models/raft/log.c): replies wait for the syncs they
 * need, leave in order, and a term change drops the stale ones.  And the
 * record pool (models/raft/recpool.c): records cut from shared chunks keep
 * their bytes whatever is freed around them, and the chunks are given back
 * as the log they hold shrinks. */
#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "raft/chain.h"
#include "raft/raft.h"
#include "wire.h"
#include "raft/quorum.h"
#include "raft/recpool.h"
#include "scenario_runs.h"
#include "tests.h"

/* The definition, written out again: FNV-1a over prev, term (little
 * endian), type, then the data. */
static uint64_t fnv_ref(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *d, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(prev >> (8 * i))) * UINT64_C(0x100000001b3);
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(term >> (8 * i))) * UINT64_C(0x100000001b3);
	h = (h ^ type) * UINT64_C(0x100000001b3);
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * UINT64_C(0x100000001b3);
	return h;
}

START_TEST(chain_known_value)
{
	/* FNV-1a 64 of 17 zero bytes, then of them followed by "a". */
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (int i = 0; i < 17; i++)
		h *= UINT64_C(0x100000001b3);
	ck_assert_uint_eq(au_raft__chain_hash(0, 0, 0, NULL, 0), h);
	ck_assert_uint_eq(au_raft__chain_hash(0, 0, 0, (const uint8_t *)"a", 1),
			  (h ^ 'a') * UINT64_C(0x100000001b3));
}
END_TEST

/* Random entries, each appended by 7 "nodes" in turn, some with the same
 * key as an earlier one and other bytes: every chain equals the
 * reference, and the memo answered the nodes after the first. */
START_TEST(chain_memo_equals_reference)
{
	au_raft__chain_memo_clear();
	GRand *rng = g_rand_new_with_seed(17);
	enum { N = 600, NODES = 7 };
	static uint8_t buf[70000];
	uint64_t prev = 0, hits_before = au_raft__chain_memo_hits(), memoisable = 0;
	for (int k = 0; k < N; k++) {
		uint32_t len = g_rand_int_range(rng, 0, 4) == 0 ? (uint32_t)g_rand_int_range(rng, 0, 20)
								 : (uint32_t)g_rand_int_range(rng, 0, 65537);
		for (uint32_t i = 0; i < len; i++)
			buf[i] = (uint8_t)g_rand_int(rng);
		uint64_t term = (uint64_t)g_rand_int_range(rng, 1, 4);
		uint8_t type = (uint8_t)g_rand_int_range(rng, 0, 3);
		uint64_t want = fnv_ref(prev, term, type, buf, len);
		for (int n = 0; n < NODES; n++) {
			ck_assert_uint_eq(au_raft__chain_memo(prev, term, type, buf, len), want);
			if (len > 0 && n == 3) {
				/* a collision: same key, one byte differs */
				buf[len - 1] ^= 0x5a;
				uint64_t c2 = au_raft__chain_memo(prev, term, type, buf, len);
				ck_assert_uint_eq(c2, fnv_ref(prev, term, type, buf, len));
				ck_assert_uint_ne(c2, want);
				buf[len - 1] ^= 0x5a;
			}
		}
		if (len >= 16)
			memoisable++;
		prev = want;
	}
	/* At least the nodes before the collision hit (2 each); the table
	 * (8 MB) cannot hold every entry, so the exact count is not fixed. */
	ck_assert_uint_ge(au_raft__chain_memo_hits() - hits_before, 2 * memoisable);
	g_rand_free(rng);
	au_raft__chain_memo_clear();
}
END_TEST

/* A hit answers from the table's own copy: the caller's buffer may change
 * or go away afterwards.  A cleared table recomputes. */
START_TEST(chain_memo_copies_and_outlives)
{
	au_raft__chain_memo_clear();
	uint8_t a[100], b[100];
	for (int i = 0; i < 100; i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(i * 3);
	}
	uint8_t *caller = g_memdup2(a, sizeof(a));
	uint64_t c1 = au_raft__chain_memo(42, 1, 1, caller, 100);
	ck_assert_uint_eq(c1, fnv_ref(42, 1, 1, a, 100));
	memset(caller, 0xee, 100); /* the first node's buffer changes ... */
	g_free(caller);            /* ... and goes away */
	uint64_t hits = au_raft__chain_memo_hits();
	uint64_t c2 = au_raft__chain_memo(42, 1, 1, a, 100);
	ck_assert_uint_eq(au_raft__chain_memo_hits(), hits + 1); /* the memo answered */
	ck_assert_uint_eq(c1, c2);
	uint64_t c3 = au_raft__chain_memo(42, 1, 1, b, 100); /* same key */
	ck_assert_uint_eq(au_raft__chain_memo_hits(), hits + 1);
	ck_assert_uint_eq(c3, fnv_ref(42, 1, 1, b, 100));
	au_raft__chain_memo_clear();
	uint64_t c4 = au_raft__chain_memo(42, 1, 1, a, 100); /* recomputed after the clear */
	ck_assert_uint_eq(au_raft__chain_memo_hits(), hits + 1);
	ck_assert_uint_eq(c4, c1);
	au_raft__chain_memo_clear();
}
END_TEST

/* The record CRC au_raft__chain_memo_rec gives equals au_crc32c of the
 * record, whether the memo answers it (the same entry at the same index,
 * appended by another "node") or not (another index, other bytes with the
 * same key, a small entry, after a clear). */
START_TEST(chain_memo_rec_crc_equals_reference)
{
	au_raft__chain_memo_clear();
	GRand *rng = g_rand_new_with_seed(29);
	static uint8_t rec[5000];
	uint64_t prev = 7, crc_hits = au_raft__chain_memo_crc_hits();
	for (int k = 0; k < 300; k++) {
		uint32_t len = (uint32_t)g_rand_int_range(rng, 0, 4000);
		uint64_t index = (uint64_t)k + 1;
		for (uint32_t i = 0; i < len + 40; i++)
			rec[i] = (uint8_t)g_rand_int(rng);
		/* the record: a header that carries the index, then the data */
		memcpy(rec, &index, sizeof(index));
		uint8_t *data = rec + 33;
		uint64_t want = fnv_ref(prev, 2, 1, data, len);
		uint32_t want_crc = au_crc32c(0, rec, 33 + len);
		for (int n = 0; n < 4; n++) {
			uint32_t crc = 0;
			ck_assert_uint_eq(au_raft__chain_memo_rec(prev, 2, 1, data, len, index, rec,
								  33 + len, &crc), want);
			ck_assert_uint_eq(crc, want_crc);
		}
		/* the same entry at another index: another record */
		uint64_t other = index + 1000;
		memcpy(rec, &other, sizeof(other));
		uint32_t crc = 0;
		au_raft__chain_memo_rec(prev, 2, 1, data, len, other, rec, 33 + len, &crc);
		ck_assert_uint_eq(crc, au_crc32c(0, rec, 33 + len));
		memcpy(rec, &index, sizeof(index));
		if (len > 0) { /* same key, other bytes */
			data[0] ^= 1;
			ck_assert_uint_eq(au_raft__chain_memo_rec(prev, 2, 1, data, len, index, rec,
								  33 + len, &crc),
					  fnv_ref(prev, 2, 1, data, len));
			ck_assert_uint_eq(crc, au_crc32c(0, rec, 33 + len));
			data[0] ^= 1;
		}
		prev = want;
	}
	/* the nodes after the first took the CRC from the memo */
	ck_assert_uint_ge(au_raft__chain_memo_crc_hits() - crc_hits, 200);
	au_raft__chain_memo_clear();
	g_rand_free(rng);
}
END_TEST

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The k-th largest of a sorted copy. */
static uint64_t kth_ref(const uint64_t *v, uint32_t n, uint32_t k)
{
	uint64_t s[16];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_desc);
	return s[k - 1];
}

/* Every array of five values in 0..4 (all orders, all ties) for the
 * median network, then random arrays of 1..9 values, every k, values
 * from a few (ties) or from the whole range (UINT64_MAX included, as the
 * leader's own acknowledgement is). */
START_TEST(quorum_kth_largest_equals_sort)
{
	uint64_t v[16], w[16];
	for (uint32_t code = 0; code < 5 * 5 * 5 * 5 * 5; code++) {
		uint32_t c = code;
		for (int i = 0; i < 5; i++, c /= 5)
			v[i] = c % 5;
		memcpy(w, v, sizeof(v));
		ck_assert_uint_eq(au_raft__kth_largest(w, 5, 3), kth_ref(v, 5, 3));
	}
	for (uint32_t code = 0; code < 4 * 4 * 4; code++) {
		uint32_t c = code;
		for (int i = 0; i < 3; i++, c /= 4)
			v[i] = c % 4;
		memcpy(w, v, sizeof(v));
		ck_assert_uint_eq(au_raft__kth_largest(w, 3, 2), kth_ref(v, 3, 2));
	}
	GRand *rng = g_rand_new_with_seed(29);
	for (int round = 0; round < 20000; round++) {
		uint32_t n = (uint32_t)g_rand_int_range(rng, 1, 10);
		bool few = g_rand_boolean(rng);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t x = (uint64_t)g_rand_int(rng) << 32 | g_rand_int(rng);
			v[i] = few ? x % 4 : g_rand_int_range(rng, 0, 8) == 0 ? UINT64_MAX : x;
		}
		for (uint32_t k = 1; k <= n; k++) {
			memcpy(w, v, sizeof(v));
			ck_assert_uint_eq(au_raft__kth_largest(w, n, k), kth_ref(v, n, k));
		}
	}
	g_rand_free(rng);
}
END_TEST

/* An AppendEntries from the leader (raft's wire format: MSG_APPEND = 3)
 * with `count` NOOP entries of term `term`. */
static size_t append_msg(uint8_t *buf, size_t cap, uint64_t term, uint64_t prev, uint64_t prev_term,
			 uint64_t seq, uint32_t count)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, 3);
	au_put_u64(&w, term);
	au_put_u64(&w, prev);
	au_put_u64(&w, prev_term);
	au_put_u64(&w, 0); /* leader commit */
	au_put_u64(&w, seq);
	au_put_u32(&w, count);
	for (uint32_t i = 0; i < count; i++) {
		au_put_u64(&w, term);
		au_put_u8(&w, 0);
		au_put_u32(&w, 0);
	}
	au_wbuf_seal(&w);
	ck_assert(!w.overflow);
	return w.len;
}

/* Reply k sent so far: an append reply (MSG_APPEND_RESP = 4) to `to`;
 * its term, match and seq. */
static void reply_at(const struct au_fixture *fx, guint k, au_node_id to, uint64_t *term,
		     uint64_t *match, uint64_t *seq)
{
	ck_assert_uint_gt(fx->sent->len, k);
	const struct au_fx_send *m = &g_array_index(fx->sent, struct au_fx_send, k);
	ck_assert_uint_eq(m->to, to);
	struct au_rbuf rb;
	ck_assert(au_rbuf_unseal(&rb, m->msg, m->len));
	ck_assert_uint_eq(au_get_u8(&rb), 4);
	*term = au_get_u64(&rb);
	(void)au_get_u8(&rb); /* flags */
	*match = au_get_u64(&rb);
	(void)au_get_u64(&rb);
	(void)au_get_u64(&rb);
	*seq = au_get_u64(&rb);
	ck_assert(!rb.short_read);
}

static void persist_until_idle(struct au_fixture *fx)
{
	while (au_fx_persist_all(fx, 0) > 0)
		;
}

START_TEST(outbox_holds_replies_until_durable)
{
	struct au_fixture *fx = au_fx_new(&au_raft_model, NULL, 1, 3, 11);
	au_fx_boot(fx);
	uint8_t buf[256];
	/* Term 1 from n2: three appends of one entry each and a heartbeat,
	 * before any sync completes: no reply may leave (term, vote and the
	 * entries are not durable). */
	guint base = fx->sent->len;
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 0, 0, 10, 1));
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 1, 1, 11, 1));
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 2, 1, 12, 0));
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 2, 1, 13, 1));
	ck_assert_uint_eq(fx->sent->len, base);
	persist_until_idle(fx);
	/* All four, in order, once durable. */
	ck_assert_uint_eq(fx->sent->len, base + 4);
	uint64_t want_match[4] = {1, 2, 2, 3}, term, match, seq;
	for (guint k = 0; k < 4; k++) {
		reply_at(fx, base + k, 2, &term, &match, &seq);
		ck_assert_uint_eq(term, 1);
		ck_assert_uint_eq(match, want_match[k]);
		ck_assert_uint_eq(seq, 10 + k);
	}
	/* Nothing waits now: a heartbeat is answered at once. */
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 3, 1, 14, 0));
	ck_assert_uint_eq(fx->sent->len, base + 5);
	/* One more entry waits for its sync; then n3 leads term 2: the term-1
	 * reply is dropped, never sent, and term 2's leaves once durable. */
	au_fx_recv(fx, 2, buf, append_msg(buf, sizeof(buf), 1, 3, 1, 15, 1));
	ck_assert_uint_eq(fx->sent->len, base + 5);
	au_fx_recv(fx, 3, buf, append_msg(buf, sizeof(buf), 2, 3, 1, 20, 0));
	persist_until_idle(fx);
	ck_assert_uint_eq(fx->sent->len, base + 6);
	reply_at(fx, base + 5, 3, &term, &match, &seq);
	ck_assert_uint_eq(term, 2);
	ck_assert_uint_eq(seq, 20);
	au_fx_free(fx);
}
END_TEST

/* The record pool used as the log uses it: appends at the end, frees of
 * the oldest (compaction) and of the newest (truncation); every live
 * record keeps its bytes, and the chunks held follow the live records. */
static void fill_rec(uint8_t *p, size_t len, uint32_t id)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(id * 131u + i * 7u);
}

static bool rec_intact(const uint8_t *p, size_t len, uint32_t id)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(id * 131u + i * 7u))
			return false;
	return true;
}

START_TEST(recpool_keeps_records_and_returns_chunks)
{
	enum { MAXLIVE = 6000 };
	struct live {
		uint8_t *rec;
		struct rec_chunk *chunk;
		size_t len;
		uint32_t id;
	} *q = g_new0(struct live, MAXLIVE);
	struct rec_pool pool = {0};
	GRand *rng = g_rand_new_with_seed(17);
	size_t head = 0, n = 0; /* q[head .. head+n) live, in append order (no wrap: compacted) */
	uint32_t next_id = 0;
	for (int step = 0; step < 4000; step++) {
		int what = g_rand_int_range(rng, 0, 10);
		if (what < 7 && head + n < MAXLIVE) {
			/* append a burst; one in 50 records is large */
			int k = g_rand_int_range(rng, 1, 12);
			for (int j = 0; j < k && head + n < MAXLIVE; j++) {
				size_t len = g_rand_int_range(rng, 0, 50) == 0
						     ? (size_t)g_rand_int_range(rng, REC_SMALL_MAX + 1, 5000)
						     : (size_t)g_rand_int_range(rng, 1, 200);
				struct live *l = &q[head + n++];
				l->len = len;
				l->id = next_id++;
				l->rec = au_raft__rec_alloc(&pool, len, &l->chunk);
				ck_assert(l->rec != NULL);
				ck_assert((l->chunk == NULL) == (len > REC_SMALL_MAX));
				fill_rec(l->rec, len, l->id);
			}
		} else if (what < 9 && n) {
			/* compaction: free the oldest */
			size_t k = (size_t)g_rand_int_range(rng, 1, (gint32)n + 1);
			for (size_t j = 0; j < k; j++)
				au_raft__rec_free(&pool, q[head + j].rec, q[head + j].chunk);
			head += k;
			n -= k;
		} else if (n) {
			/* truncation: free the newest */
			size_t k = (size_t)g_rand_int_range(rng, 1, (gint32)(n < 40 ? n : 40) + 1);
			for (size_t j = 0; j < k; j++)
				au_raft__rec_free(&pool, q[head + n - 1 - j].rec, q[head + n - 1 - j].chunk);
			n -= k;
		}
		if (head + n >= MAXLIVE - 20 || n == 0) {
			memmove(q, q + head, n * sizeof(*q));
			head = 0;
		}
		/* chunks held: those live records are in (in append order, so
		 * each chunk's records are adjacent), and the current one */
		uint64_t spanned = 0;
		const struct rec_chunk *last = NULL;
		for (size_t j = 0; j < n; j++) {
			ck_assert(rec_intact(q[head + j].rec, q[head + j].len, q[head + j].id));
			if (q[head + j].chunk && q[head + j].chunk != last) {
				spanned++;
				last = q[head + j].chunk;
			}
		}
		ck_assert_uint_le(pool.chunks, spanned + 1);
		ck_assert_uint_ge(pool.chunks, spanned);
		if (n == 0)
			ck_assert_uint_le(pool.chunks, 1);
	}
	for (size_t j = 0; j < n; j++)
		au_raft__rec_free(&pool, q[head + j].rec, q[head + j].chunk);
	ck_assert_uint_le(pool.chunks, 1);
	au_raft__rec_pool_clear(&pool);
	ck_assert_uint_eq(pool.chunks, 0);
	ck_assert(pool.cur == NULL);
	g_rand_free(rng);
	g_free(q);
}
END_TEST

/* The read check's skip (reads_wait_seq, reads_wait_index) changes
 * nothing: runs with leader crashes, partitions and elections give the
 * trace hash they give when every check makes its full pass. */
START_TEST(read_check_skip_equals_full_pass)
{
	static const char *const paths[] = {"scenarios/raft-leader-crash.ini",
					    "scenarios/raft-partition-heal.ini",
					    "scenarios/raft-storm.ini", "scenarios/raft-basic.ini"};
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
		char full[65], skip[65];
		au_raft_test_full_read_checks(true);
		au_test_run_hash(paths[i], 1, full);
		au_raft_test_full_read_checks(false);
		au_test_run_hash(paths[i], 1, skip);
		ck_assert_msg(strcmp(full, skip) == 0, "%s: %s with the full pass, %s with the skip",
			      paths[i], full, skip);
	}
}
END_TEST

/* Resending the last AppendEntries built (replication.c) changes nothing:
 * runs with leader crashes, partitions, figure-8 elections, membership
 * changes and a lossy network give the trace hash they give when every
 * append is built and sealed anew. */
START_TEST(append_resend_equals_full_build)
{
	static const char *const paths[] = {
		"scenarios/raft-leader-crash.ini", "scenarios/raft-partition-heal.ini",
		"scenarios/raft-figure8.ini",      "scenarios/raft-membership.ini",
		"scenarios/raft-flaky-network.ini", "scenarios/raft-storm.ini"};
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
		char full[65], resend[65];
		au_raft_test_full_append_builds(true);
		au_test_run_hash(paths[i], 1, full);
		au_raft_test_full_append_builds(false);
		au_test_run_hash(paths[i], 1, resend);
		ck_assert_msg(strcmp(full, resend) == 0, "%s: %s building each, %s resending",
			      paths[i], full, resend);
	}
}
END_TEST

Suite *raft_chain_suite(void)
{
	Suite *s = suite_create("raft_chain");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, chain_known_value);
	tcase_add_test(tc, chain_memo_equals_reference);
	tcase_add_test(tc, chain_memo_copies_and_outlives);
	tcase_add_test(tc, chain_memo_rec_crc_equals_reference);
	tcase_add_test(tc, quorum_kth_largest_equals_sort);
	tcase_add_test(tc, outbox_holds_replies_until_durable);
	tcase_add_test(tc, recpool_keeps_records_and_returns_chunks);
	tcase_add_test(tc, read_check_skip_equals_full_pass);
	tcase_add_test(tc, append_resend_equals_full_build);
	suite_add_tcase(s, tc);
	return s;
}
