/* test_taskq_snap.c — the task queue's snapshot cache (taskq_internal.h,
 * struct taskq_snapcache): a snapshot built from the cached task records
 * must equal, byte for byte, one that encodes every task again
 * (taskq_snapshot_full), after every kind of change to a task — enqueue
 * (also of ids below the cached ones), lease, renew, ack, nack, release,
 * expire, checkpoint, node marks and reboots, jobs' cancel and failure,
 * requeue — and after the queue is restored from an older snapshot; and
 * the snapshot written in place (au_taskq_snapshot_size/_write, as Raft
 * does) equals it too. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "pcg32.h"
#include "taskq.h"
#include "taskq_internal.h"
#include "tests.h"

struct lease_rec {
	uint64_t id, token;
	au_node_id node;
};

static bool collect_lease(void *ctx, const struct au_task *t)
{
	struct lease_rec l = {t->id, t->token, t->node};
	g_array_append_val((GArray *)ctx, l);
	return true;
}

static bool collect_dead(void *ctx, const struct au_task *t)
{
	g_array_append_val((GArray *)ctx, t->id);
	return true;
}

/* Which event types the run produced (so the test sees every kind of change). */
static void count_event(void *ctx, const struct au_taskq_event *ev)
{
	((uint32_t *)ctx)[ev->type]++;
}

/* One random command of 1-4 operations of every kind, on task ids drawn
 * from 1..300 in no order (so tasks are added below cached ones). */
static void random_command(struct au_pcg32 *rng, struct au_taskq *q, struct au_taskq_batch *b,
			   uint64_t index)
{
	GArray *leases = g_array_new(FALSE, FALSE, sizeof(struct lease_rec));
	GArray *dead = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	au_taskq_each_lease(q, collect_lease, leases);
	au_taskq_each_dead(q, 0, collect_dead, dead);
	uint32_t ops = 1 + au_pcg32_below(rng, 4);
	for (uint32_t k = 0; k < ops; k++) {
		uint32_t what = au_pcg32_below(rng, 14);
		const struct lease_rec *l =
			leases->len ? &g_array_index(leases, struct lease_rec,
						     au_pcg32_below(rng, leases->len))
				    : NULL;
		au_node_id node = 1 + au_pcg32_below(rng, 4);
		uint8_t blob[64];
		for (size_t i = 0; i < sizeof(blob); i++)
			blob[i] = (uint8_t)au_pcg32_below(rng, 256);
		if (what < 3 || (!l && what >= 5 && what < 11)) {
			struct au_task_spec s = {.id = 1 + au_pcg32_below(rng, 300),
						 .job = au_pcg32_below(rng, 4),
						 .topic = au_pcg32_below(rng, 3),
						 .priority = (int32_t)au_pcg32_below(rng, 2),
						 .max_retries = au_pcg32_below(rng, 2), .rounds = 3,
						 .payload = blob,
						 .payload_len = au_pcg32_below(rng, 40)};
			au_taskq_add_enqueue(b, &s);
		} else if (what < 5) {
			/* now and then a newer incarnation: the old one's leases end */
			uint32_t inc = au_taskq_node_inc(q, node) + (au_pcg32_below(rng, 8) == 0);
			au_taskq_add_lease(b, node, inc ? inc : 1, 0, 1 + au_pcg32_below(rng, 3),
					   (au_time)index * 1000);
		} else if (what == 5) {
			au_taskq_add_ack(b, l->node, l->id, l->token, blob, au_pcg32_below(rng, 30));
		} else if (what == 6) {
			au_taskq_add_nack(b, l->node, l->id, l->token, au_pcg32_below(rng, 3) != 0);
		} else if (what == 7) {
			au_taskq_add_checkpoint(b, l->node, l->id, l->token, 1 + au_pcg32_below(rng, 2),
						blob, au_pcg32_below(rng, 20));
		} else if (what == 8) {
			au_taskq_add_renew(b, l->node, l->id, l->token, (au_time)index * 2000);
		} else if (what == 9) {
			au_taskq_add_release(b, l->node, l->id, l->token);
		} else if (what == 10) {
			au_taskq_add_expire(b, l->id, l->token);
		} else if (what == 11) {
			au_taskq_add_node(b, node, (enum au_taskq_node_op)au_pcg32_below(rng, 4));
		} else if (what == 12) {
			if (au_pcg32_below(rng, 3) == 0)
				au_taskq_add_cancel(b, 1 + au_pcg32_below(rng, 3));
			else
				au_taskq_add_node(b, node, AU_TASKQ_NODE_ALIVE);
		} else {
			uint64_t id = dead->len ? g_array_index(dead, uint64_t,
								au_pcg32_below(rng, dead->len))
						: 1 + au_pcg32_below(rng, 300);
			au_taskq_add_requeue(b, id);
		}
	}
	g_array_free(leases, TRUE);
	g_array_free(dead, TRUE);
}

/* The cached snapshot equals the full one (and so does a replica's
 * restored from it). */
static void check_same(struct au_taskq *q, int seed, uint64_t index)
{
	uint8_t *a = NULL, *b = NULL;
	size_t na = au_taskq_snapshot(q, &a);
	size_t nb = taskq_snapshot_full(q, &b);
	ck_assert_msg(na == nb && memcmp(a, b, na) == 0,
		      "seed %d index %llu: cached snapshot (%zu bytes) differs from the full one "
		      "(%zu bytes)", seed, (unsigned long long)index, na, nb);
	/* Raft's way (snapshot_size, then snapshot_write in place): the same
	 * bytes, and not one written past them. */
	size_t nc = au_taskq_snapshot_size(q);
	ck_assert_uint_eq(nc, na);
	uint8_t *c = malloc(nc + 16);
	memset(c, 0xa5, nc + 16);
	au_taskq_snapshot_write(q, c);
	ck_assert_msg(memcmp(c, a, na) == 0, "seed %d index %llu: in-place snapshot differs", seed,
		      (unsigned long long)index);
	for (size_t i = 0; i < 16; i++)
		ck_assert_uint_eq(c[nc + i], 0xa5);
	free(c);
	free(a);
	free(b);
}

/* Random commands; a snapshot after some of them (so several changes, to
 * the same task or many, pile up between two), each compared with the
 * full encoding; now and then the queue goes back to an older snapshot. */
START_TEST(cached_snapshot_equals_full)
{
	struct au_pcg32 rng;
	au_pcg32_stream(&rng, (uint64_t)_i + 1, 91, 1);
	struct au_taskq *q = au_taskq_new(NULL);
	uint32_t seen[AU_TASKQ_EV_REQUEUED + 1] = {0};
	au_taskq_observe(q, count_event, seen);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	uint8_t *old = NULL;
	size_t old_len = 0;
	uint64_t old_index = 0, applied = 0;
	for (uint64_t index = 1; index <= 600; index++) {
		random_command(&rng, q, &b, index);
		if (index > applied) {
			ck_assert_int_gt(au_taskq_apply(q, index, b.buf, b.len), 0);
			applied = index;
		}
		au_taskq_batch_reset(&b);
		uint32_t r = au_pcg32_below(&rng, 10);
		if (r < 4)
			check_same(q, _i, index);
		if (r == 4 && index % 7 == 0) {
			free(old);
			old_len = au_taskq_snapshot(q, &old);
			old_index = index;
		}
		if (r == 5 && old && index % 11 == 0) {
			/* back to the older state; apply continues past it */
			ck_assert(au_taskq_restore(q, old, old_len));
			ck_assert_uint_eq(au_taskq_applied_index(q), old_index);
			check_same(q, _i, index);
		}
	}
	check_same(q, _i, 601);
	/* every kind of change happened */
	for (int t = 0; t <= AU_TASKQ_EV_REQUEUED; t++)
		if (t != AU_TASKQ_EV_JOB)
			ck_assert_msg(seen[t] > 0, "seed %d: no event of type %d", _i, t);
	ck_assert_uint_gt(seen[AU_TASKQ_EV_JOB], 0);
	free(old);
	au_taskq_batch_free(&b);
	au_taskq_free(q);
}
END_TEST

/* Snapshots taken one after another with no change between them, and
 * after a change to the lowest, a middle and the highest task alone. */
START_TEST(cache_drops_from_the_changed_task_on)
{
	struct au_taskq *q = au_taskq_new(NULL);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	for (uint64_t id = 10; id <= 50; id += 10) {
		struct au_task_spec s = {.id = id, .rounds = 2, .payload = payload,
					 .payload_len = (uint32_t)id / 10};
		au_taskq_add_enqueue(&b, &s);
	}
	ck_assert_int_eq(au_taskq_apply(q, 1, b.buf, b.len), 5);
	au_taskq_batch_reset(&b);
	check_same(q, 0, 1);
	check_same(q, 0, 1); /* nothing changed: all from the cache */
	/* lease the oldest (id 10): the change is at the first record */
	au_taskq_add_lease(&b, 1, 1, 0, 1, 500);
	ck_assert_int_eq(au_taskq_apply(q, 2, b.buf, b.len), 1);
	au_taskq_batch_reset(&b);
	const struct au_task *t = au_taskq_get(q, 10);
	ck_assert_int_eq(t->state, AU_TASK_LEASED);
	check_same(q, 0, 2);
	/* a task below all cached ones, one in the middle, one above */
	uint64_t ids[3] = {5, 25, 60};
	for (int i = 0; i < 3; i++) {
		struct au_task_spec s = {.id = ids[i], .rounds = 1};
		au_taskq_add_enqueue(&b, &s);
		ck_assert_int_eq(au_taskq_apply(q, 3 + (uint64_t)i, b.buf, b.len), 1);
		au_taskq_batch_reset(&b);
		check_same(q, 0, 3 + (uint64_t)i);
	}
	/* the leased task changes twice between snapshots (digest not read) */
	au_taskq_add_renew(&b, 1, 10, t->token, 900);
	ck_assert_int_eq(au_taskq_apply(q, 6, b.buf, b.len), 1);
	au_taskq_batch_reset(&b);
	check_same(q, 0, 6);
	au_taskq_add_ack(&b, 1, 10, t->token, payload, 3);
	ck_assert_int_eq(au_taskq_apply(q, 7, b.buf, b.len), 1);
	au_taskq_batch_reset(&b);
	check_same(q, 0, 7);
	ck_assert_int_eq(au_taskq_get(q, 10)->state, AU_TASK_DONE);
	au_taskq_batch_free(&b);
	au_taskq_free(q);
}
END_TEST

Suite *taskq_snap_suite(void)
{
	Suite *s = suite_create("taskq_snap");
	TCase *tc = tcase_create("cache");
	tcase_add_loop_test(tc, cached_snapshot_equals_full, 0, 12);
	tcase_add_test(tc, cache_drops_from_the_changed_task_on);
	suite_add_tcase(s, tc);
	return s;
}
