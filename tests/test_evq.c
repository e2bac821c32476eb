/* test_evq.c — the event queue against a sorted reference (GSequence),
 * over 10^5 random push/pop/cancel operations per seed. */
#include <glib.h>

#include "pcg32.h"
#include "sim/engine/evq.h"
#include "tests.h"

struct ref_item {
	au_time t;
	uint64_t seq;
	int64_t id;
	uint64_t handle;
	GSequenceIter *it;
};

static gint ref_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
	(void)unused;
	const struct ref_item *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

START_TEST(matches_sorted_reference)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 1);
	struct au_evq q;
	au_evq_init(&q);
	GSequence *ref = g_sequence_new(g_free);
	GPtrArray *live = g_ptr_array_new(); /* ref_item*, for cancel picks */
	GArray *dead_handles = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	uint64_t seq = 0;
	int64_t next_id = 1;
	/* Small time ranges so ties are common: order must follow insertion. */
	au_time base = 0, span = 1 + au_pcg32_below(&rng, 1000);
	for (int op = 0; op < 100000; op++) {
		uint32_t r = au_pcg32_below(&rng, 100);
		if (r < 50) {
			struct ref_item *it = g_new0(struct ref_item, 1);
			it->t = base + au_pcg32_below(&rng, (uint32_t)span);
			it->seq = seq++;
			it->id = next_id++;
			struct au_event ev = {0};
			ev.type = 1;
			ev.a = it->id;
			it->handle = au_evq_push(&q, it->t, &ev);
			ck_assert(it->handle != 0);
			it->it = g_sequence_insert_sorted(ref, it, ref_cmp, NULL);
			g_ptr_array_add(live, it);
		} else if (r < 80) {
			au_time t;
			struct au_event ev;
			bool got = au_evq_pop(&q, &t, &ev);
			if (g_sequence_get_length(ref) == 0) {
				ck_assert_msg(!got, "seed %d op %d: popped from an empty queue", _i, op);
				continue;
			}
			GSequenceIter *first = g_sequence_get_begin_iter(ref);
			struct ref_item *want = g_sequence_get(first);
			ck_assert_msg(got, "seed %d op %d: queue empty, reference not", _i, op);
			ck_assert_msg(t == want->t && ev.a == want->id,
				      "seed %d op %d: popped (%lld, id %lld), want (%lld, id %lld)", _i,
				      op, (long long)t, (long long)ev.a, (long long)want->t,
				      (long long)want->id);
			g_array_append_val(dead_handles, want->handle);
			g_ptr_array_remove_fast(live, want);
			g_sequence_remove(first);
			base = t; /* time moves forward like a simulation */
		} else if (r < 95 && live->len) {
			guint k = au_pcg32_below(&rng, live->len);
			struct ref_item *it = g_ptr_array_index(live, k);
			struct au_event ev;
			ck_assert_msg(au_evq_cancel(&q, it->handle, &ev), "seed %d op %d: cancel failed",
				      _i, op);
			ck_assert(ev.a == it->id);
			g_array_append_val(dead_handles, it->handle);
			g_ptr_array_remove_index_fast(live, k);
			g_sequence_remove(it->it);
		} else if (dead_handles->len) {
			/* A stale handle (fired or cancelled) must not cancel anything,
			 * even when its slot has been reused. */
			uint64_t h = g_array_index(dead_handles, uint64_t,
						   au_pcg32_below(&rng, dead_handles->len));
			ck_assert_msg(!au_evq_cancel(&q, h, NULL), "seed %d op %d: stale handle cancelled",
				      _i, op);
		}
		ck_assert_uint_eq(au_evq_len(&q), (size_t)g_sequence_get_length(ref));
	}
	/* Drain: the rest comes out in reference order. */
	au_time t;
	struct au_event ev;
	GSequenceIter *it = g_sequence_get_begin_iter(ref);
	while (au_evq_pop(&q, &t, &ev)) {
		struct ref_item *want = g_sequence_get(it);
		ck_assert(t == want->t && ev.a == want->id);
		it = g_sequence_iter_next(it);
	}
	ck_assert(g_sequence_iter_is_end(it));
	au_evq_free(&q);
	g_sequence_free(ref);
	g_ptr_array_free(live, TRUE);
	g_array_free(dead_handles, TRUE);
}
END_TEST

START_TEST(cancel_heavy_compacts)
{
	/* Timers re-armed over and over (as election timers are) must not grow
	 * the heap without bound. */
	struct au_evq q;
	au_evq_init(&q);
	struct au_event ev = {0};
	ev.type = 1;
	uint64_t h = au_evq_push(&q, 1000, &ev);
	for (int i = 0; i < 200000; i++) {
		ck_assert(au_evq_cancel(&q, h, NULL));
		h = au_evq_push(&q, 1000 + i, &ev);
	}
	ck_assert_uint_eq(au_evq_len(&q), 1);
	ck_assert_msg(q.len < 4096, "heap holds %zu keys for 1 live event", q.len);
	ck_assert(q.compactions > 0);
	au_evq_free(&q);
}
END_TEST

START_TEST(small_queue_stays_mostly_live)
{
	/* A Raft-sized queue (~100 pending, timers reset all the time, events
	 * popping) keeps its dead keys to at most the live ones plus a few:
	 * every pop walks the heap, and dead keys would deepen it.  The pops
	 * still come in (time, sequence) order. */
	struct au_evq q;
	au_evq_init(&q);
	struct au_event ev = {0};
	ev.type = 1;
	enum { LIVE = 100 };
	uint64_t timer[LIVE];
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 3, 4);
	au_time now = 0;
	for (int i = 0; i < LIVE; i++) {
		ev.a = i; /* which timer */
		timer[i] = au_evq_push(&q, now + 1 + au_pcg32_below(&rng, 300000), &ev);
	}
	size_t worst = 0;
	for (int step = 0; step < 200000; step++) {
		int i = (int)au_pcg32_below(&rng, LIVE);
		if (au_pcg32_below(&rng, 3) == 0) { /* one runs: pop, and re-arm it */
			au_time t;
			struct au_event got;
			ck_assert(au_evq_pop(&q, &t, &got));
			ck_assert_int_ge(t, now);
			now = t;
			i = (int)got.a;
		} else {
			ck_assert(au_evq_cancel(&q, timer[i], NULL));
		}
		ev.a = i;
		timer[i] = au_evq_push(&q, now + 1 + au_pcg32_below(&rng, 300000), &ev);
		size_t keys = q.len + q.ahead_len + q.ring_keys + q.beyond.keys;
		if (keys - au_evq_len(&q) > worst)
			worst = keys - au_evq_len(&q);
	}
	ck_assert_msg(worst <= au_evq_len(&q) + 40, "up to %zu dead keys beside ~%zu live", worst,
		      au_evq_len(&q));
	au_evq_free(&q);
}
END_TEST

START_TEST(ties_pop_in_push_order)
{
	struct au_evq q;
	au_evq_init(&q);
	for (int i = 0; i < 5000; i++) {
		struct au_event ev = {0};
		ev.type = 1;
		ev.a = i;
		au_evq_push(&q, 77, &ev);
	}
	au_time t;
	struct au_event ev;
	for (int i = 0; i < 5000; i++) {
		ck_assert(au_evq_pop(&q, &t, &ev));
		ck_assert_int_eq(ev.a, i);
	}
	au_evq_free(&q);
}
END_TEST

START_TEST(memory_per_pending_event)
{
	/* DESIGN target: at most 64 bytes per pending event. */
	ck_assert_uint_le(sizeof(struct au_evq_key) + sizeof(struct au_evq_slot), 64);
}
END_TEST

/* Times of either sign and at both ends of the range, with ties: the heap
 * compares keys as signed 128-bit numbers (time, then sequence), so every
 * such key must still pop in (time, push) order. */
START_TEST(signed_times_pop_in_order)
{
	static const au_time times[] = {INT64_MIN, INT64_MIN + 1, -1000000007, -2, -1, 0, 1, 2,
					1000000007, INT64_MAX - 1, INT64_MAX};
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 5, 1);
	struct au_evq q;
	au_evq_init(&q);
	enum { N = 5000 };
	static au_time want_t[N];
	for (int i = 0; i < N; i++) {
		struct au_event ev = {0};
		ev.type = 1;
		ev.a = i;
		want_t[i] = times[au_pcg32_below(&rng, G_N_ELEMENTS(times))];
		au_evq_push(&q, want_t[i], &ev);
	}
	au_time last_t = INT64_MIN;
	int64_t last_a = -1, n = 0;
	au_time t;
	struct au_event ev;
	while (au_evq_pop(&q, &t, &ev)) {
		ck_assert(t == want_t[ev.a]);
		ck_assert_msg(t > last_t || (t == last_t && ev.a > last_a),
			      "popped (%lld, %lld) after (%lld, %lld)", (long long)t, (long long)ev.a,
			      (long long)last_t, (long long)last_a);
		last_t = t;
		last_a = ev.a;
		n++;
	}
	ck_assert_int_eq(n, N);
	au_evq_free(&q);
}
END_TEST

static bool event_a_even(const struct au_event *ev, void *ctx)
{
	(void)ctx;
	return ev->a % 2 == 0;
}

/* au_evq_live_in_order lists the live events in the order they pop, from
 * the run, the heap and the calendar alike, after cancels and compactions
 * have shuffled slot numbers (re-timing a node's timers walks this list:
 * same-instant timers must keep their order whatever the slots are). */
START_TEST(live_in_order_is_pop_order)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i + 100, 3);
	struct au_evq q;
	au_evq_init(&q);
	enum { N = 30000 };
	GArray *handles = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	/* Three phases: pushes with some cancels and pops (the run refills),
	 * then cancelling every other handle (dead keys outnumber live ones:
	 * a compaction renumbers slots), then more pushes (the calendar again).
	 * Few distinct times: many ties; a wide range: the calendar. */
	for (int phase = 0; phase < 3; phase++) {
		if (phase == 1) {
			for (guint k = 0; k < handles->len; k += 2)
				au_evq_cancel(&q, g_array_index(handles, uint64_t, k), NULL);
			continue;
		}
		for (int i = 0; i < N; i++) {
			struct au_event ev = {0};
			ev.type = 1;
			ev.a = (int64_t)handles->len;
			au_time t = (au_time)au_pcg32_below(&rng, 64) * 1000000;
			uint64_t h = au_evq_push(&q, t, &ev);
			g_array_append_val(handles, h);
			if (au_pcg32_below(&rng, 3) == 0) {
				uint32_t k = au_pcg32_below(&rng, handles->len);
				au_evq_cancel(&q, g_array_index(handles, uint64_t, k), NULL);
			}
			if (au_pcg32_below(&rng, 10) == 0) {
				au_time pt;
				struct au_event pe;
				au_evq_pop(&q, &pt, &pe);
			}
		}
	}
	ck_assert(q.compactions > 0);
	ck_assert(q.far_on); /* keys in the calendar too */
	size_t n;
	uint64_t *live = au_evq_live_in_order(&q, NULL, NULL, &n);
	ck_assert_uint_eq(n, au_evq_len(&q));
	int64_t *want = g_new(int64_t, n);
	for (size_t i = 0; i < n; i++)
		want[i] = au_evq_lookup(&q, live[i])->a;
	/* With a filter: the wanted ones only, in the same order. */
	size_t n_even, seen_even = 0;
	uint64_t *even = au_evq_live_in_order(&q, event_a_even, NULL, &n_even);
	for (size_t i = 0; i < n; i++)
		if (want[i] % 2 == 0) {
			ck_assert_uint_lt(seen_even, n_even);
			ck_assert_int_eq(au_evq_lookup(&q, even[seen_even++])->a, want[i]);
		}
	ck_assert_uint_eq(seen_even, n_even);
	free(even);
	au_time t;
	struct au_event ev;
	size_t popped = 0;
	while (au_evq_pop(&q, &t, &ev)) {
		ck_assert_uint_lt(popped, n);
		ck_assert_msg(ev.a == want[popped], "seed %d: pop %zu is event %lld, listed %lld", _i,
			      popped, (long long)ev.a, (long long)want[popped]);
		popped++;
	}
	ck_assert_uint_eq(popped, n);
	free(live);
	g_free(want);
	g_array_free(handles, TRUE);
	au_evq_free(&q);
}
END_TEST

Suite *evq_suite(void)
{
	Suite *s = suite_create("evq");
	TCase *tc = tcase_create("property");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, matches_sorted_reference, 1, 21);
	tcase_add_loop_test(tc, live_in_order_is_pop_order, 0, 4);
	suite_add_tcase(s, tc);
	TCase *unit = tcase_create("unit");
	tcase_add_test(unit, cancel_heavy_compacts);
	tcase_add_test(unit, small_queue_stays_mostly_live);
	tcase_add_test(unit, ties_pop_in_push_order);
	tcase_add_test(unit, signed_times_pop_in_order);
	tcase_add_test(unit, memory_per_pending_event);
	suite_add_tcase(s, unit);
	return s;
}
