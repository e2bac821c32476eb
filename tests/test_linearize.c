/* test_linearize.c — the linearizability checker (sim/check/linearize.c).
 *
 * Hand-written histories from the literature (Herlihy & Wing 1990; the
 * Knossos and Porcupine test suites) with known verdicts; agreement with a
 * reference search (plain Wing & Gong over every order of every subset of
 * the unknown ops, none of the checker's pruning rules) on small random
 * histories, which is what vouches for those rules; property tests on histories generated from a real
 * register (linearizable by construction, then broken by one mutated
 * read); windows, budgets, determinism and speed.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "pcg32.h"
#include "sim/check/linearize.h"
#include "tests.h"

/* Generous: every search in these tests is far below it, so hitting it
 * would be a bug, reported as gave_up. */
#define BUDGET UINT64_C(5000000)

/* ---- helpers ------------------------------------------------------------ */

static struct au_lin_entry mk(uint32_t client, enum au_lin_op op, int64_t value,
			      int64_t expected, bool cas_ok, int64_t call, int64_t ret,
			      enum au_lin_outcome outcome)
{
	static uint64_t next_id = 1;
	struct au_lin_entry e = {
		.client = client,
		.op = op,
		.key = 0,
		.value = value,
		.expected = expected,
		.cas_ok = cas_ok,
		.call_ns = call,
		.return_ns = ret,
		.outcome = outcome,
		.id = next_id++,
	};
	return e;
}

#define PUT(c, v, a, b) mk(c, AU_LIN_PUT, v, 0, false, a, b, AU_LIN_OK)
#define GET(c, v, a, b) mk(c, AU_LIN_GET, v, 0, false, a, b, AU_LIN_OK)
#define CAS(c, e, v, ok, a, b) mk(c, AU_LIN_CAS, v, e, ok, a, b, AU_LIN_OK)
#define PUT_UNKNOWN(c, v, a) mk(c, AU_LIN_PUT, v, 0, false, a, 0, AU_LIN_UNKNOWN)
#define CAS_UNKNOWN(c, e, v, a) mk(c, AU_LIN_CAS, v, e, false, a, 0, AU_LIN_UNKNOWN)
#define GET_UNKNOWN(c, v, a) mk(c, AU_LIN_GET, v, 0, false, a, 0, AU_LIN_UNKNOWN)
#define DEL(c, a, b) mk(c, AU_LIN_DEL, 0, 0, false, a, b, AU_LIN_OK)
#define DEL_UNKNOWN(c, a) mk(c, AU_LIN_DEL, 0, 0, false, a, 0, AU_LIN_UNKNOWN)
#define PUT_FAIL(c, v, a, b) mk(c, AU_LIN_PUT, v, 0, false, a, b, AU_LIN_FAIL)
#define CAS_FAIL(c, e, v, a, b) mk(c, AU_LIN_CAS, v, e, false, a, b, AU_LIN_FAIL)

static void check_entries(const struct au_lin_entry *es, size_t n, uint64_t budget,
			  struct au_lin_result *r)
{
	struct au_lin_history *h = au_lin_new();
	for (size_t i = 0; i < n; i++)
		au_lin_add(h, &es[i]);
	au_lin_check(h, budget, r);
	au_lin_free(h);
}

static bool entry_eq(const struct au_lin_entry *a, const struct au_lin_entry *b)
{
	return a->client == b->client && a->op == b->op && a->key == b->key &&
	       a->value == b->value && a->expected == b->expected && a->cas_ok == b->cas_ok &&
	       a->call_ns == b->call_ns && a->return_ns == b->return_ns &&
	       a->outcome == b->outcome && a->id == b->id;
}

static bool window_has_id(const struct au_lin_result *r, uint64_t id)
{
	for (size_t i = 0; i < r->n_window; i++)
		if (r->window[i].id == id)
			return true;
	return false;
}

/* A reported window must be a non-empty set of the history's own ops on
 * the bad key that is, checked alone, not linearizable. */
static void assert_window_sound(const struct au_lin_result *r, const struct au_lin_entry *es,
				size_t n)
{
	ck_assert(!r->linearizable && !r->gave_up);
	ck_assert_uint_gt(r->n_window, 0);
	for (size_t i = 0; i < r->n_window; i++) {
		ck_assert_int_eq(r->window[i].key, r->key);
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = entry_eq(&es[j], &r->window[i]);
		ck_assert_msg(found, "window op id %llu is not from the history",
			      (unsigned long long)r->window[i].id);
		if (i > 0)
			ck_assert(r->window[i - 1].call_ns <= r->window[i].call_ns);
	}
	struct au_lin_result again;
	check_entries(r->window, r->n_window, BUDGET, &again);
	ck_assert_msg(!again.linearizable && !again.gave_up,
		      "the window (%zu ops) is linearizable by itself", r->n_window);
	au_lin_result_free(&again);
}

/* The window without op `id` (the read that broke the history) is
 * linearizable: the window is about that read, not about ops whose
 * writes were dropped while shrinking it. */
static void assert_window_about(const struct au_lin_result *r, uint64_t id)
{
	ck_assert(window_has_id(r, id));
	struct au_lin_entry *rest = g_new(struct au_lin_entry, r->n_window);
	size_t m = 0;
	for (size_t i = 0; i < r->n_window; i++)
		if (r->window[i].id != id)
			rest[m++] = r->window[i];
	struct au_lin_result again;
	check_entries(rest, m, BUDGET, &again);
	ck_assert_msg(again.linearizable, "the window is bad even without op %llu",
		      (unsigned long long)id);
	au_lin_result_free(&again);
	g_free(rest);
}

/* Check a hand-written single-key history and compare with the verdict. */
static void expect(const struct au_lin_entry *es, size_t n, bool linearizable)
{
	struct au_lin_result r;
	check_entries(es, n, BUDGET, &r);
	ck_assert(!r.gave_up);
	if (r.linearizable != linearizable) {
		char buf[4096];
		au_lin_format_window(&r, buf, sizeof(buf));
		ck_abort_msg("expected %s, got:\n%s", linearizable ? "linearizable" : "not", buf);
	}
	if (!linearizable)
		assert_window_sound(&r, es, n);
	else
		ck_assert(r.n_window == 0 && r.window == NULL);
	au_lin_result_free(&r);
}

#define EXPECT(lin, ...)                                                                   \
	do {                                                                               \
		const struct au_lin_entry es_[] = {__VA_ARGS__};                           \
		expect(es_, G_N_ELEMENTS(es_), lin);                                       \
	} while (0)

/* ---- hand-written histories --------------------------------------------- */

START_TEST(empty_history)
{
	struct au_lin_history *h = au_lin_new();
	struct au_lin_result r;
	au_lin_check(h, BUDGET, &r);
	ck_assert(r.linearizable && !r.gave_up);
	ck_assert_uint_eq(r.n_window, 0);
	ck_assert_uint_eq(r.configurations_explored, 0);
	au_lin_result_free(&r);
	au_lin_result_free(&r); /* idempotent */
	au_lin_free(h);
	au_lin_free(NULL);
}
END_TEST

START_TEST(single_ops)
{
	EXPECT(true, GET(1, 0, 0, 10));  /* absent reads as 0 */
	EXPECT(false, GET(1, 5, 0, 10)); /* a value nobody wrote */
	EXPECT(true, PUT(1, 5, 0, 10));
	EXPECT(true, CAS(1, 0, 5, true, 0, 10));
	EXPECT(false, CAS(1, 0, 5, false, 0, 10));
	EXPECT(false, CAS(1, 3, 5, true, 0, 10));
}
END_TEST

/* A delete is a write of "absent", which reads as 0 (aureon-ctl del). */
START_TEST(deletes_write_absent)
{
	EXPECT(true, PUT(1, 5, 0, 10), DEL(1, 20, 30), GET(2, 0, 40, 50));
	EXPECT(false, PUT(1, 5, 0, 10), DEL(1, 20, 30), GET(2, 5, 40, 50));
	EXPECT(true, PUT(1, 5, 0, 10), DEL(1, 20, 30), CAS(2, 0, 7, true, 40, 50));
	EXPECT(false, PUT(1, 5, 0, 10), DEL(1, 20, 30), CAS(2, 5, 7, true, 40, 50));
	/* Concurrent with a read, either value; unknown, it may or may not have happened. */
	EXPECT(true, PUT(1, 5, 0, 10), DEL(1, 20, 40), GET(2, 5, 25, 35));
	EXPECT(true, PUT(1, 5, 0, 10), DEL_UNKNOWN(1, 20), GET(2, 0, 40, 50), GET(2, 0, 60, 70));
	EXPECT(false, PUT(1, 5, 0, 10), DEL_UNKNOWN(1, 20), GET(2, 0, 40, 50), GET(2, 5, 60, 70));
}
END_TEST

START_TEST(stale_read_after_completed_write)
{
	/* The write finished before the read began: the read must see it. */
	EXPECT(false, PUT(1, 1, 0, 10), GET(2, 0, 20, 30));
	EXPECT(true, PUT(1, 1, 0, 10), GET(2, 1, 20, 30));
	/* Two writes in real-time order, then a read of the older one. */
	EXPECT(false, PUT(1, 1, 0, 10), PUT(1, 2, 20, 30), GET(2, 1, 40, 50));
	EXPECT(true, PUT(1, 1, 0, 10), PUT(1, 2, 20, 30), GET(2, 2, 40, 50));
}
END_TEST

START_TEST(cleared_history_checks_like_a_new_one)
{
	/* au_lin_clear empties a history for reuse: what is added next is
	 * judged alone, as in a new history (window and count alike). */
	struct au_lin_entry bad[] = {PUT(1, 1, 0, 10), PUT(1, 2, 20, 30), GET(2, 1, 40, 50)};
	struct au_lin_entry good[] = {PUT(1, 5, 0, 20), GET(2, 5, 5, 15), GET(2, 5, 30, 40)};
	struct au_lin_history *h = au_lin_new();
	struct au_lin_result r, fresh;
	for (int round = 0; round < 3; round++) {
		const struct au_lin_entry *es = round % 2 ? good : bad;
		au_lin_clear(h);
		for (size_t i = 0; i < 3; i++)
			au_lin_add(h, &es[i]);
		au_lin_check(h, BUDGET, &r);
		check_entries(es, 3, BUDGET, &fresh);
		ck_assert_int_eq(r.linearizable, round % 2 == 1);
		ck_assert_int_eq(r.linearizable, fresh.linearizable);
		ck_assert_uint_eq(r.configurations_explored, fresh.configurations_explored);
		ck_assert_uint_eq(r.n_window, fresh.n_window);
		for (size_t i = 0; i < r.n_window; i++)
			ck_assert(entry_eq(&r.window[i], &fresh.window[i]));
		au_lin_result_free(&r);
		au_lin_result_free(&fresh);
	}
	au_lin_free(h);
}
END_TEST

START_TEST(concurrent_write_and_read)
{
	/* A read overlapping a write may see either value. */
	EXPECT(true, PUT(1, 1, 0, 20), GET(2, 0, 5, 15));
	EXPECT(true, PUT(1, 1, 0, 20), GET(2, 1, 5, 15));
	EXPECT(true, PUT(1, 1, 10, 20), GET(2, 1, 0, 15));
	/* ... but not a value from nowhere. */
	EXPECT(false, PUT(1, 1, 0, 20), GET(2, 2, 5, 15));
}
END_TEST

START_TEST(new_old_inversion)
{
	/* Herlihy & Wing: once one read returned the new value, a read that
	 * starts after it ends cannot return the old one, even while the write
	 * is still in progress (a regular but not atomic register). */
	EXPECT(false, PUT(1, 1, 0, 100), GET(2, 1, 10, 20), GET(3, 0, 30, 40));
	EXPECT(true, PUT(1, 1, 0, 100), GET(2, 0, 10, 20), GET(3, 1, 30, 40));
	/* Overlapping reads may disagree. */
	EXPECT(true, PUT(1, 1, 0, 100), GET(2, 1, 10, 40), GET(3, 0, 30, 50));
}
END_TEST

START_TEST(reads_see_writes_in_opposite_orders)
{
	/* Two concurrent writes; one client sees 1 then 2, another 2 then 1:
	 * no single order of the writes explains both. */
	EXPECT(false, PUT(1, 1, 0, 100), PUT(2, 2, 0, 100), GET(3, 1, 10, 20), GET(3, 2, 30, 40),
	       GET(4, 2, 10, 20), GET(4, 1, 30, 40));
	/* Both seeing the same order is fine. */
	EXPECT(true, PUT(1, 1, 0, 100), PUT(2, 2, 0, 100), GET(3, 1, 10, 20), GET(3, 2, 30, 40),
	       GET(4, 1, 10, 20), GET(4, 2, 30, 40));
}
END_TEST

START_TEST(identical_timestamps)
{
	/* return == call is concurrent (ordering needs strict <). */
	EXPECT(true, PUT(1, 1, 5, 5), GET(2, 0, 5, 5));
	EXPECT(true, PUT(1, 1, 5, 5), GET(2, 1, 5, 5));
	EXPECT(true, GET(2, 0, 0, 5), PUT(1, 1, 5, 9), GET(3, 1, 5, 5));
	EXPECT(false, PUT(1, 1, 5, 5), GET(2, 0, 6, 6));
	/* Everything at one instant: any order. */
	EXPECT(true, PUT(1, 1, 7, 7), PUT(2, 2, 7, 7), GET(3, 1, 7, 7), GET(4, 2, 7, 7),
	       GET(5, 0, 7, 7));
	/* ... but one order: reads after both writes agree on the last. */
	EXPECT(false, PUT(1, 1, 7, 7), PUT(2, 2, 7, 7), GET(3, 1, 8, 9), GET(4, 2, 8, 9));
}
END_TEST

START_TEST(cas_cases)
{
	/* Sequential CAS from 0: only the first can succeed. */
	EXPECT(false, CAS(1, 0, 1, true, 0, 10), CAS(2, 0, 2, true, 20, 30));
	EXPECT(true, CAS(1, 0, 1, true, 0, 10), CAS(2, 0, 2, false, 20, 30));
	/* Concurrent CAS from 0: still only one. */
	EXPECT(false, CAS(1, 0, 1, true, 0, 30), CAS(2, 0, 2, true, 10, 40));
	EXPECT(true, CAS(1, 0, 1, true, 0, 30), CAS(2, 0, 2, false, 10, 40), GET(3, 1, 50, 60));
	EXPECT(false, CAS(1, 0, 1, true, 0, 30), CAS(2, 0, 2, false, 10, 40), GET(3, 2, 50, 60));
	/* ... unless a concurrent PUT 0 lets both succeed. */
	EXPECT(true, CAS(1, 0, 1, true, 0, 30), CAS(2, 0, 2, true, 10, 40), PUT(3, 0, 5, 35));
	/* A failed CAS means the value was not `expected` at some instant. */
	EXPECT(false, PUT(1, 5, 0, 10), CAS(2, 5, 6, false, 20, 30));
	EXPECT(true, PUT(1, 5, 0, 10), CAS(2, 4, 6, false, 20, 30));
	EXPECT(true, PUT(1, 5, 0, 25), CAS(2, 5, 6, false, 20, 30)); /* before the PUT */
	/* Success chains: 0 -> 1 -> 2, read. */
	EXPECT(true, CAS(1, 0, 1, true, 0, 10), CAS(2, 1, 2, true, 20, 30), GET(3, 2, 40, 50));
	EXPECT(false, CAS(1, 0, 1, true, 0, 10), CAS(2, 1, 2, true, 20, 30), GET(3, 1, 40, 50));
}
END_TEST

START_TEST(failed_ops_are_omitted)
{
	/* FAIL: definitely did not happen. */
	EXPECT(true, PUT_FAIL(1, 1, 0, 10), GET(2, 0, 20, 30));
	EXPECT(false, PUT_FAIL(1, 1, 0, 10), GET(2, 1, 20, 30));
	EXPECT(true, CAS_FAIL(1, 0, 7, 0, 10), GET(2, 0, 20, 30));
	EXPECT(false, CAS_FAIL(1, 0, 7, 0, 10), GET(2, 7, 20, 30));
	/* A FAIL GET's "result" is not looked at. */
	EXPECT(true, mk(1, AU_LIN_GET, 99, 0, false, 0, 10, AU_LIN_FAIL), GET(2, 0, 20, 30));
}
END_TEST

START_TEST(unknown_outcomes)
{
	/* The write timed out, but a later read saw it: it happened. */
	EXPECT(true, PUT_UNKNOWN(1, 1, 0), GET(2, 1, 100, 110));
	/* ... or it did not. */
	EXPECT(true, PUT_UNKNOWN(1, 1, 0), GET(2, 0, 100, 110));
	/* It may happen long after the client gave up, even after other ops. */
	EXPECT(true, PUT_UNKNOWN(1, 1, 0), PUT(2, 2, 50, 60), GET(2, 2, 70, 80),
	       GET(3, 1, 100, 110));
	/* But only after its call. */
	EXPECT(false, GET(2, 1, 0, 5), PUT_UNKNOWN(1, 1, 10));
	/* It would have to happen twice: before the first read of 2 and again
	 * after PUT 3. */
	EXPECT(false, PUT(1, 1, 0, 1), PUT_UNKNOWN(2, 2, 2), GET(3, 2, 10, 11),
	       PUT(1, 3, 12, 13), GET(3, 2, 14, 15));
	/* Two identical unknown writes can explain it. */
	EXPECT(true, PUT(1, 1, 0, 1), PUT_UNKNOWN(2, 2, 2), PUT_UNKNOWN(4, 2, 3),
	       GET(3, 2, 10, 11), PUT(1, 3, 12, 13), GET(3, 2, 14, 15));
	/* An unknown GET constrains nothing. */
	EXPECT(true, GET_UNKNOWN(1, 99, 0), GET(2, 0, 20, 30));
	/* Unknown CAS: happened (and succeeded) or not. */
	EXPECT(true, PUT(1, 1, 0, 1), CAS_UNKNOWN(2, 1, 2, 5), GET(3, 2, 10, 11));
	EXPECT(true, PUT(1, 1, 0, 1), CAS_UNKNOWN(2, 1, 2, 5), GET(3, 1, 10, 11));
	EXPECT(false, PUT(1, 1, 0, 1), CAS_UNKNOWN(2, 5, 2, 5), GET(3, 2, 10, 11));
	/* Chains of unknowns: PUT 5 then CAS 5->7, both timed out. */
	EXPECT(true, PUT_UNKNOWN(1, 5, 0), CAS_UNKNOWN(2, 5, 7, 1), GET(3, 7, 10, 11));
	EXPECT(false, PUT_UNKNOWN(1, 6, 0), CAS_UNKNOWN(2, 5, 7, 1), GET(3, 7, 10, 11));
	/* An unknown write that explains a failed CAS (value was 1, CAS
	 * expecting 1 failed: something else was written). */
	EXPECT(true, PUT(1, 1, 0, 1), PUT_UNKNOWN(2, 2, 2), CAS(3, 1, 3, false, 5, 6));
	EXPECT(false, PUT(1, 1, 0, 1), CAS(3, 1, 3, false, 5, 6));
	/* ... and one that explains a successful CAS. */
	EXPECT(true, PUT_UNKNOWN(2, 4, 0), CAS(3, 4, 3, true, 5, 6), GET(1, 3, 7, 8));
	/* A read of the unknown write, then a read of the value before it
	 * (the write may not happen between them backwards). */
	EXPECT(false, PUT(1, 1, 0, 1), PUT_UNKNOWN(2, 2, 2), GET(3, 2, 10, 11), GET(3, 1, 12, 13));
}
END_TEST

START_TEST(keys_are_independent)
{
	struct au_lin_entry es[] = {
		PUT(1, 1, 0, 10), GET(2, 0, 20, 30), /* key 9: stale */
		PUT(1, 1, 0, 10), GET(2, 1, 20, 30), /* key -3: fine */
		PUT(1, 1, 0, 10), GET(2, 0, 20, 30), /* key 4: stale */
		GET(3, 0, 40, 50),                   /* key 1000: never written */
	};
	int64_t keys[] = {9, 9, -3, -3, 4, 4, 1000};
	for (size_t i = 0; i < G_N_ELEMENTS(es); i++)
		es[i].key = keys[i];
	struct au_lin_result r;
	check_entries(es, G_N_ELEMENTS(es), BUDGET, &r);
	ck_assert(!r.linearizable && !r.gave_up);
	ck_assert_int_eq(r.key, 4); /* the smallest bad key */
	ck_assert(window_has_id(&r, es[5].id));
	assert_window_sound(&r, es, G_N_ELEMENTS(es));
	au_lin_result_free(&r);

	/* A write to one key is no explanation for another. */
	struct au_lin_entry es2[] = {PUT(1, 1, 0, 10), GET(2, 1, 20, 30)};
	es2[1].key = 1;
	check_entries(es2, 2, BUDGET, &r);
	ck_assert(!r.linearizable);
	ck_assert_int_eq(r.key, 1);
	au_lin_result_free(&r);
	es2[1].key = 0;
	check_entries(es2, 2, BUDGET, &r);
	ck_assert(r.linearizable);
	au_lin_result_free(&r);
}
END_TEST

/* ---- windows, budgets, formatting, determinism -------------------------- */

START_TEST(window_is_small_and_explains)
{
	/* A long linearizable history on one key with a stale read in the
	 * middle: the window keeps the read and what makes it stale, not the
	 * hundreds of ops around them. */
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct au_lin_entry));
	int64_t t = 0;
	uint64_t bad_id = 0;
	for (int i = 1; i <= 400; i++) {
		struct au_lin_entry p = PUT(1, i, t, t + 10);
		struct au_lin_entry g = GET(2, i, t + 12, t + 20);
		if (i == 200) {
			g.value = 198; /* stale: 199 and 200 were written since */
			bad_id = g.id;
		}
		g_array_append_val(a, p);
		g_array_append_val(a, g);
		t += 25;
	}
	const struct au_lin_entry *es = (const struct au_lin_entry *)(void *)a->data;
	struct au_lin_result r;
	check_entries(es, a->len, BUDGET, &r);
	ck_assert(!r.linearizable && !r.gave_up);
	ck_assert(window_has_id(&r, bad_id));
	assert_window_sound(&r, es, a->len);
	assert_window_about(&r, bad_id);
	ck_assert_uint_le(r.n_window, 4);
	/* It names the write of 198 (the value read) and a later completed
	 * write. */
	bool has_198 = false, has_later = false;
	for (size_t i = 0; i < r.n_window; i++) {
		has_198 |= r.window[i].op == AU_LIN_PUT && r.window[i].value == 198;
		has_later |= r.window[i].op == AU_LIN_PUT && r.window[i].value > 198;
	}
	ck_assert(has_198 && has_later);
	au_lin_result_free(&r);
	g_array_free(a, TRUE);
}
END_TEST

START_TEST(budget_gives_up)
{
	/* 8 concurrent writes, each read back, then a read of a value none
	 * wrote: refuting it means trying every subset of the writes with
	 * every subset of their reads (~3^8 configurations). */
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct au_lin_entry));
	for (int i = 1; i <= 8; i++) {
		struct au_lin_entry p = PUT((uint32_t)i, i, 0, 100);
		g_array_append_val(a, p);
		struct au_lin_entry g = GET((uint32_t)i + 20, i, 10, 90);
		g_array_append_val(a, g);
	}
	struct au_lin_entry bad = GET(99, 1000, 95, 96);
	g_array_append_val(a, bad);
	const struct au_lin_entry *es = (const struct au_lin_entry *)(void *)a->data;

	struct au_lin_result r;
	check_entries(es, a->len, 50, &r);
	ck_assert(r.gave_up);
	ck_assert(!r.linearizable); /* never claims a verdict */
	ck_assert_int_eq(r.key, 0);
	ck_assert_uint_eq(r.n_window, 0);
	ck_assert_uint_le(r.configurations_explored, 50);
	char buf[256];
	au_lin_format_window(&r, buf, sizeof(buf));
	ck_assert(strstr(buf, "budget") != NULL);
	au_lin_result_free(&r);

	/* With enough budget: the verdict. */
	check_entries(es, a->len, 0, &r);
	ck_assert(!r.gave_up && !r.linearizable);
	ck_assert_uint_gt(r.configurations_explored, 50);
	ck_assert(window_has_id(&r, bad.id));
	assert_window_sound(&r, es, a->len);
	au_lin_result_free(&r);

	/* A linearizable history also gives up rather than pass when starved. */
	check_entries(es, a->len - 1, 3, &r);
	ck_assert(r.gave_up && !r.linearizable);
	au_lin_result_free(&r);

	/* A key that gave up does not hide a later key proven bad... */
	struct au_lin_entry *mixed = g_new(struct au_lin_entry, a->len + 2);
	memcpy(mixed, es, a->len * sizeof(*mixed));
	mixed[a->len] = PUT(1, 1, 0, 10);
	mixed[a->len + 1] = GET(2, 0, 20, 30);
	mixed[a->len].key = mixed[a->len + 1].key = 5;
	check_entries(mixed, a->len + 2, 50, &r);
	ck_assert(!r.gave_up && !r.linearizable);
	ck_assert_int_eq(r.key, 5);
	au_lin_result_free(&r);
	/* ... but without one, the give-up is reported. */
	mixed[a->len + 1].value = 1;
	check_entries(mixed, a->len + 2, 50, &r);
	ck_assert(r.gave_up && !r.linearizable);
	ck_assert_int_eq(r.key, 0);
	au_lin_result_free(&r);
	g_free(mixed);
	g_array_free(a, TRUE);
}
END_TEST

START_TEST(format_window)
{
	struct au_lin_entry es[] = {PUT(3, 1, 0, 10), GET(7, 0, 20, 30), PUT_UNKNOWN(4, 9, 1),
				    CAS(5, 1, 2, false, 2, 3)};
	struct au_lin_result r;
	check_entries(es, 2, BUDGET, &r);
	char buf[4096];
	au_lin_format_window(&r, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "not linearizable") && strstr(buf, "key 0") &&
			      strstr(buf, "client 3") && strstr(buf, "PUT 1") &&
			      strstr(buf, "client 7") && strstr(buf, "GET -> 0") &&
			      strstr(buf, "[20, 30]"),
		      "%s", buf);
	/* Truncation: always terminated, never overrun. */
	for (size_t len = 1; len < 64; len++) {
		char small[64];
		memset(small, 'x', sizeof(small));
		au_lin_format_window(&r, small, len);
		ck_assert_uint_lt(strlen(small), len);
		ck_assert(small[len - 1] == '\0' || strlen(small) < len - 1);
		ck_assert(len == sizeof(small) || small[len] == 'x');
	}
	au_lin_format_window(&r, buf, 0); /* no-op */
	au_lin_result_free(&r);

	/* Unknown and CAS lines. */
	struct au_lin_result fake = {.linearizable = false, .key = 0, .n_window = 2, .window = &es[2]};
	au_lin_format_window(&fake, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "PUT 9 -> ?") && strstr(buf, ", ?]") &&
			      strstr(buf, "CAS 1 -> 2 -> failed"),
		      "%s", buf);

	check_entries(es, 1, BUDGET, &r);
	au_lin_format_window(&r, buf, sizeof(buf));
	ck_assert(strncmp(buf, "linearizable", 12) == 0);
	au_lin_result_free(&r);
}
END_TEST

/* ---- random histories ---------------------------------------------------- */

/* Reference: plain Wing & Gong over every order of every subset of the
 * optional ops, remembering only failed (done set, value) pairs — none of
 * the checker's pruning rules.  Unknown ops may be linearized with
 * whatever result the model gives at that point (a CAS may fail), or
 * never. */
#define BF_MAX 12

static bool bf_search(const struct au_lin_entry *e, size_t n, uint32_t done, int64_t v,
		      GHashTable *failed)
{
	bool all = true;
	for (size_t i = 0; i < n && all; i++)
		all = (done >> i & 1u) || e[i].outcome != AU_LIN_OK;
	if (all)
		return true;
	uint64_t key = (uint64_t)done << 32 | (uint32_t)v; /* values are small */
	if (g_hash_table_contains(failed, &key))
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((done >> i & 1u) || e[i].outcome == AU_LIN_FAIL)
			continue;
		bool enabled = true;
		for (size_t j = 0; j < n && enabled; j++)
			if (j != i && !(done >> j & 1u) && e[j].outcome == AU_LIN_OK &&
			    e[j].return_ns < e[i].call_ns)
				enabled = false;
		if (!enabled)
			continue;
		bool unknown = e[i].outcome == AU_LIN_UNKNOWN;
		int64_t nv = v;
		switch (e[i].op) {
		case AU_LIN_GET:
			if (!unknown && e[i].value != v)
				continue;
			break;
		case AU_LIN_PUT:
			nv = e[i].value;
			break;
		case AU_LIN_DEL:
			nv = 0;
			break;
		case AU_LIN_CAS:
			if (unknown)
				nv = v == e[i].expected ? e[i].value : v;
			else if (e[i].cas_ok != (v == e[i].expected))
				continue;
			else if (e[i].cas_ok)
				nv = e[i].value;
			break;
		}
		if (bf_search(e, n, done | 1u << i, nv, failed))
			return true;
	}
	g_hash_table_add(failed, g_memdup2(&key, sizeof(key)));
	return false;
}

static bool brute_force(const struct au_lin_entry *e, size_t n)
{
	g_assert(n <= BF_MAX);
	GHashTable *failed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	bool ok = bf_search(e, n, 0, 0, failed);
	g_hash_table_destroy(failed);
	return ok;
}

/* A small single-key history with arbitrary results, many of them wrong.
 * Few distinct values, so that writes collide and reads often match. */
static size_t random_small_history(struct au_pcg32 *rng, struct au_lin_entry *e,
				   uint32_t pct_unknown)
{
	size_t n = 1 + au_pcg32_below(rng, BF_MAX);
	uint32_t clients = 1 + au_pcg32_below(rng, 4);
	int64_t t[4] = {0, 0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		uint32_t c = au_pcg32_below(rng, clients);
		memset(&e[i], 0, sizeof(e[i]));
		e[i].client = c;
		e[i].id = i;
		e[i].call_ns = t[c] + au_pcg32_below(rng, 4);
		e[i].return_ns = e[i].call_ns + au_pcg32_below(rng, 8);
		t[c] = e[i].return_ns;
		uint32_t k = au_pcg32_below(rng, 10);
		e[i].op = k < 4 ? AU_LIN_GET : k < 7 ? AU_LIN_PUT : AU_LIN_CAS;
		e[i].value = au_pcg32_below(rng, 4);
		e[i].expected = au_pcg32_below(rng, 4);
		e[i].cas_ok = au_pcg32_below(rng, 2);
		k = au_pcg32_below(rng, 100);
		e[i].outcome = k < pct_unknown        ? AU_LIN_UNKNOWN
			       : k < pct_unknown + 10 ? AU_LIN_FAIL
						      : AU_LIN_OK;
	}
	return n;
}

START_TEST(agrees_with_brute_force)
{
	/* Even seeds: a few unknown outcomes; odd seeds: many. */
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 11);
	uint32_t pct_unknown = _i % 2 ? 45 : 15;
	int lin = 0, bad = 0;
	for (int round = 0; round < 1500; round++) {
		struct au_lin_entry e[BF_MAX];
		size_t n = random_small_history(&rng, e, pct_unknown);
		bool want = brute_force(e, n);
		struct au_lin_result r;
		check_entries(e, n, BUDGET, &r);
		ck_assert(!r.gave_up);
		if (r.linearizable != want) {
			GString *s = g_string_new(NULL);
			for (size_t i = 0; i < n; i++)
				g_string_append_printf(
					s, "  c%u op%d v=%lld e=%lld ok=%d [%lld,%lld] out=%d\n",
					e[i].client, e[i].op, (long long)e[i].value,
					(long long)e[i].expected, e[i].cas_ok, (long long)e[i].call_ns,
					(long long)e[i].return_ns, e[i].outcome);
			ck_abort_msg("seed %d round %d: checker says %d, brute force %d:\n%s", _i,
				     round, r.linearizable, want, s->str);
		}
		if (want) {
			lin++;
		} else {
			bad++;
			assert_window_sound(&r, e, n);
		}
		au_lin_result_free(&r);
	}
	/* Both verdicts well represented, or the test proves little. */
	ck_assert_int_gt(lin, 200);
	ck_assert_int_gt(bad, 200);
}
END_TEST

/* Histories from a real register: each op takes effect at one instant
 * within [call, return] (an unknown one at any instant after its call, or
 * never), in that order, so the effect order is a linearization. */
struct gen_cfg {
	uint32_t clients, keys, ops;
	uint32_t pct_unknown, pct_fail;
	int64_t max_gap, max_dur;
};

struct gen_op {
	int64_t effect;
	uint32_t index;
	bool applied;
};

static int gen_cmp_effect(const void *pa, const void *pb)
{
	const struct gen_op *a = pa, *b = pb;
	if (a->effect != b->effect)
		return a->effect < b->effect ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int64_t gen_key(uint32_t k)
{
	return (int64_t)k * 7919 - 20000; /* keys need not be small or positive */
}

static GArray *gen_history(struct au_pcg32 *rng, const struct gen_cfg *cfg)
{
	GArray *a = g_array_sized_new(FALSE, TRUE, sizeof(struct au_lin_entry), cfg->ops);
	struct gen_op *g = g_new0(struct gen_op, cfg->ops);
	int64_t *client_t = g_new0(int64_t, cfg->clients);
	int64_t counter = 0;
	for (uint32_t i = 0; i < cfg->ops; i++) {
		/* The client that has been idle longest goes next: every
		 * client always has one op in flight. */
		uint32_t c = 0;
		for (uint32_t j = 1; j < cfg->clients; j++)
			if (client_t[j] < client_t[c])
				c = j;
		struct au_lin_entry e = {0};
		e.client = c;
		e.id = i;
		e.key = gen_key(au_pcg32_below(rng, cfg->keys));
		e.call_ns = client_t[c] + au_pcg32_below(rng, (uint32_t)cfg->max_gap + 1);
		int64_t dur = au_pcg32_below(rng, (uint32_t)cfg->max_dur + 1);
		e.return_ns = e.call_ns + dur;
		uint32_t k = au_pcg32_below(rng, 100);
		e.op = k < 40 ? AU_LIN_GET : k < 75 ? AU_LIN_PUT : AU_LIN_CAS;
		e.value = ++counter; /* written values are unique and positive */
		g[i].index = i;
		g[i].effect = e.call_ns + au_pcg32_below(rng, (uint32_t)dur + 1);
		g[i].applied = true;
		k = au_pcg32_below(rng, 100);
		if (k < cfg->pct_unknown) {
			e.outcome = AU_LIN_UNKNOWN;
			g[i].applied = au_pcg32_below(rng, 2);
			/* A timed-out op may land long after the client moved on. */
			g[i].effect = e.call_ns +
				      au_pcg32_below(rng, 4 * (uint32_t)cfg->max_dur + 1);
			e.return_ns = e.call_ns + dur; /* ignored */
		} else if (k < cfg->pct_unknown + cfg->pct_fail) {
			e.outcome = AU_LIN_FAIL;
			g[i].applied = false;
		}
		/* Results of ops that did not take effect are junk, and must
		 * be ignored. */
		e.expected = -7;
		e.cas_ok = au_pcg32_below(rng, 2);
		if (e.op == AU_LIN_GET)
			e.value = -1234567;
		client_t[c] = e.return_ns;
		g_array_append_val(a, e);
	}
	qsort(g, cfg->ops, sizeof(*g), gen_cmp_effect);
	GHashTable *state = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	for (uint32_t i = 0; i < cfg->ops; i++) {
		if (!g[i].applied)
			continue;
		struct au_lin_entry *e = &g_array_index(a, struct au_lin_entry, g[i].index);
		int64_t *cur = g_hash_table_lookup(state, &e->key);
		if (!cur) {
			cur = g_new0(int64_t, 1);
			g_hash_table_insert(state, g_memdup2(&e->key, sizeof(e->key)), cur);
		}
		switch (e->op) {
		case AU_LIN_GET:
			e->value = *cur;
			break;
		case AU_LIN_PUT:
			*cur = e->value;
			break;
		case AU_LIN_DEL:
			*cur = 0;
			break;
		case AU_LIN_CAS: {
			uint32_t k = au_pcg32_below(rng, 4);
			e->expected = k < 2 ? *cur : k == 2 ? 0 : 1 + au_pcg32_below(rng, (uint32_t)counter);
			e->cas_ok = *cur == e->expected;
			if (e->cas_ok)
				*cur = e->value;
			break;
		}
		}
	}
	g_hash_table_destroy(state);
	g_free(client_t);
	g_free(g);
	return a;
}

static void check_array(GArray *a, uint64_t budget, struct au_lin_result *r)
{
	check_entries((const struct au_lin_entry *)(void *)a->data, a->len, budget, r);
}

/* Index of a random completed GET, or -1. */
static int pick_get(struct au_pcg32 *rng, GArray *a)
{
	uint32_t n = 0;
	for (guint i = 0; i < a->len; i++) {
		const struct au_lin_entry *e = &g_array_index(a, struct au_lin_entry, i);
		n += e->op == AU_LIN_GET && e->outcome == AU_LIN_OK;
	}
	if (n == 0)
		return -1;
	uint32_t k = au_pcg32_below(rng, n);
	for (guint i = 0; i < a->len; i++) {
		const struct au_lin_entry *e = &g_array_index(a, struct au_lin_entry, i);
		if (e->op == AU_LIN_GET && e->outcome == AU_LIN_OK && k-- == 0)
			return (int)i;
	}
	g_assert_not_reached();
}

static struct gen_cfg seed_cfg(struct au_pcg32 *rng)
{
	struct gen_cfg cfg = {
		.clients = 1 + au_pcg32_below(rng, 8),
		.keys = 1 + au_pcg32_below(rng, 4),
		.ops = 50 + au_pcg32_below(rng, 1500),
		.pct_unknown = au_pcg32_below(rng, 12),
		.pct_fail = au_pcg32_below(rng, 10),
		.max_gap = au_pcg32_below(rng, 50),
		.max_dur = 1 + au_pcg32_below(rng, 200),
	};
	return cfg;
}

START_TEST(generated_histories_are_linearizable)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 22);
	struct gen_cfg cfg = seed_cfg(&rng);
	GArray *a = gen_history(&rng, &cfg);
	struct au_lin_result r;
	check_array(a, BUDGET, &r);
	if (!r.linearizable) {
		char buf[8192];
		au_lin_format_window(&r, buf, sizeof(buf));
		ck_abort_msg("seed %d: generated history rejected:\n%s", _i, buf);
	}
	ck_assert(!r.gave_up);
	au_lin_result_free(&r);

	/* A read of a value never written: caught, and the window has it. */
	int gi = pick_get(&rng, a);
	if (gi >= 0) {
		struct au_lin_entry *e = &g_array_index(a, struct au_lin_entry, gi);
		e->value = -1000000 - _i;
		check_array(a, BUDGET, &r);
		ck_assert_msg(!r.linearizable && !r.gave_up, "seed %d: mutated read accepted", _i);
		ck_assert_int_eq(r.key, e->key);
		ck_assert_msg(window_has_id(&r, e->id), "seed %d: window lacks the read", _i);
		ck_assert_uint_le(r.n_window, 20);
		assert_window_sound(&r, (const struct au_lin_entry *)(void *)a->data, a->len);
		assert_window_about(&r, e->id);
		au_lin_result_free(&r);
	}
	g_array_free(a, TRUE);
}
END_TEST

START_TEST(stale_reads_are_caught_with_small_windows)
{
	/* Mutate one read to an old value of its key: sometimes still legal
	 * (an overlapping write), often not.  When not, the window must hold
	 * the read and be non-linearizable alone. */
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 33);
	int caught = 0;
	for (int round = 0; round < 6; round++) {
		struct gen_cfg cfg = seed_cfg(&rng);
		cfg.ops = 50 + au_pcg32_below(&rng, 400);
		GArray *a = gen_history(&rng, &cfg);
		int gi = pick_get(&rng, a);
		if (gi < 0) {
			g_array_free(a, TRUE);
			continue;
		}
		struct au_lin_entry *e = &g_array_index(a, struct au_lin_entry, gi);
		GArray *old = g_array_new(FALSE, FALSE, sizeof(int64_t));
		for (guint i = 0; i < a->len; i++) {
			const struct au_lin_entry *w = &g_array_index(a, struct au_lin_entry, i);
			if (w->key == e->key && w->op != AU_LIN_GET && w->call_ns < e->call_ns &&
			    w->value != e->value)
				g_array_append_val(old, w->value);
		}
		if (old->len) {
			e->value = g_array_index(old, int64_t, au_pcg32_below(&rng, old->len));
			struct au_lin_result r;
			check_array(a, BUDGET, &r);
			ck_assert(!r.gave_up);
			if (!r.linearizable) {
				caught++;
				ck_assert_int_eq(r.key, e->key);
				ck_assert_msg(window_has_id(&r, e->id), "seed %d: window lacks the read",
					      _i);
				ck_assert_uint_le(r.n_window, 20);
				assert_window_sound(&r, (const struct au_lin_entry *)(void *)a->data,
						    a->len);
				assert_window_about(&r, e->id);
			}
			au_lin_result_free(&r);
		}
		g_array_free(old, TRUE);
		g_array_free(a, TRUE);
	}
	/* Deterministic seeds: most mutations are caught. */
	ck_assert_int_ge(caught, 3);
}
END_TEST

START_TEST(deterministic_whatever_the_insertion_order)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 4242, 44);
	struct gen_cfg cfg = {.clients = 5, .keys = 2, .ops = 600, .pct_unknown = 5,
			      .pct_fail = 5, .max_gap = 0, .max_dur = 30};
	GArray *a = gen_history(&rng, &cfg);
	int gi = pick_get(&rng, a);
	ck_assert_int_ge(gi, 0);
	g_array_index(a, struct au_lin_entry, gi).value = 555555555;
	struct au_lin_result r1, r2;
	check_array(a, BUDGET, &r1);
	/* Shuffle the insertion order. */
	for (guint i = a->len; i > 1; i--) {
		guint j = au_pcg32_below(&rng, i);
		struct au_lin_entry t = g_array_index(a, struct au_lin_entry, i - 1);
		g_array_index(a, struct au_lin_entry, i - 1) = g_array_index(a, struct au_lin_entry, j);
		g_array_index(a, struct au_lin_entry, j) = t;
	}
	check_array(a, BUDGET, &r2);
	ck_assert(!r1.linearizable && !r2.linearizable);
	ck_assert_int_eq(r1.key, r2.key);
	ck_assert_uint_eq(r1.configurations_explored, r2.configurations_explored);
	ck_assert_uint_eq(r1.n_window, r2.n_window);
	for (size_t i = 0; i < r1.n_window; i++)
		ck_assert(entry_eq(&r1.window[i], &r2.window[i]));
	au_lin_result_free(&r1);
	au_lin_result_free(&r2);
	g_array_free(a, TRUE);
}
END_TEST

/* ---- speed --------------------------------------------------------------- */

static bool under_valgrind(void)
{
	const char *v = getenv("AU_VALGRIND");
	return v && *v;
}

START_TEST(thousands_of_ops_per_key_are_fast)
{
	/* 5 clients, 3 keys, 2,000 ops per key, some unknown and failed
	 * outcomes: well under a second for the whole check (instrumented
	 * builds get slack). */
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 777, 55);
	struct gen_cfg cfg = {.clients = 5, .keys = 3, .ops = 6000, .pct_unknown = 5,
			      .pct_fail = 3, .max_gap = 10, .max_dur = 100};
	GArray *a = gen_history(&rng, &cfg);
	struct au_lin_result r;
	gint64 t0 = g_get_monotonic_time();
	check_array(a, BUDGET, &r);
	gint64 t1 = g_get_monotonic_time();
	ck_assert(r.linearizable && !r.gave_up);
	au_lin_result_free(&r);

	int gi = pick_get(&rng, a);
	g_array_index(a, struct au_lin_entry, gi).value = -42;
	gint64 t2 = g_get_monotonic_time();
	check_array(a, BUDGET, &r);
	gint64 t3 = g_get_monotonic_time();
	ck_assert(!r.linearizable && !r.gave_up);
	au_lin_result_free(&r);
	if (!under_valgrind()) {
		ck_assert_msg(t1 - t0 < 1000000, "check took %lld us", (long long)(t1 - t0));
		ck_assert_msg(t3 - t2 < 2000000, "check+window took %lld us",
			      (long long)(t3 - t2));
	}
	g_array_free(a, TRUE);
}
END_TEST

START_TEST(many_unknown_writes_stay_cheap)
{
	/* A quarter of the ops time out, half of those still landing: without
	 * the pruning rules this explodes. */
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 66);
	struct gen_cfg cfg = {.clients = 5, .keys = 1, .ops = 2000, .pct_unknown = 25,
			      .pct_fail = 5, .max_gap = 10, .max_dur = 100};
	GArray *a = gen_history(&rng, &cfg);
	struct au_lin_result r;
	check_array(a, 2000000, &r);
	ck_assert_msg(r.linearizable && !r.gave_up, "seed %d: explored %llu", _i,
		      (unsigned long long)r.configurations_explored);
	au_lin_result_free(&r);
	int gi = pick_get(&rng, a);
	g_array_index(a, struct au_lin_entry, gi).value = -42;
	check_array(a, 2000000, &r);
	ck_assert_msg(!r.linearizable && !r.gave_up, "seed %d: explored %llu", _i,
		      (unsigned long long)r.configurations_explored);
	ck_assert(window_has_id(&r, g_array_index(a, struct au_lin_entry, gi).id));
	au_lin_result_free(&r);
	g_array_free(a, TRUE);
}
END_TEST

Suite *linearize_suite(void)
{
	Suite *s = suite_create("linearize");
	TCase *tc = tcase_create("literature");
	tcase_add_test(tc, empty_history);
	tcase_add_test(tc, single_ops);
	tcase_add_test(tc, deletes_write_absent);
	tcase_add_test(tc, stale_read_after_completed_write);
	tcase_add_test(tc, cleared_history_checks_like_a_new_one);
	tcase_add_test(tc, concurrent_write_and_read);
	tcase_add_test(tc, new_old_inversion);
	tcase_add_test(tc, reads_see_writes_in_opposite_orders);
	tcase_add_test(tc, identical_timestamps);
	tcase_add_test(tc, cas_cases);
	tcase_add_test(tc, failed_ops_are_omitted);
	tcase_add_test(tc, unknown_outcomes);
	tcase_add_test(tc, keys_are_independent);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_add_test(tc, window_is_small_and_explains);
	tcase_add_test(tc, budget_gives_up);
	tcase_add_test(tc, format_window);
	tcase_add_test(tc, deterministic_whatever_the_insertion_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, agrees_with_brute_force, 0, 16);
	tcase_add_loop_test(tc, generated_histories_are_linearizable, 0, 40);
	tcase_add_loop_test(tc, stale_reads_are_caught_with_small_windows, 0, 20);
	suite_add_tcase(s, tc);

	tc = tcase_create("speed");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, thousands_of_ops_per_key_are_fast);
	tcase_add_loop_test(tc, many_unknown_writes_stay_cheap, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}
