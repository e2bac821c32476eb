/* test_taskq_map.c — the task queue's containers that replaced GLib
 * ones (taskq_internal.h): the id map (core/u64map.h, holding a pointer
 * per key as the queue does) must answer as a GHashTable does through
 * random puts, replacements and removals; the
 * task array sorted on demand must walk the tasks in the order the GTree
 * it replaced did (id order), however additions and sorts interleave,
 * and au_taskq_each must follow it; the affinity scores kept in a sorted
 * array must equal a GTree's (same scores, same key order). */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "pcg32.h"
#include "taskq.h"
#include "taskq_internal.h"
#include "tests.h"

/* A random key: from a small range (collisions, long probe runs and
 * removals of present keys), a wide one, or 0. */
static uint64_t random_key(struct au_pcg32 *rng, uint32_t range)
{
	switch (au_pcg32_below(rng, 8)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)au_pcg32_next(rng) << 32 | au_pcg32_next(rng);
	default:
		return au_pcg32_below(rng, range);
	}
}

/* The pointer `key` maps to, or NULL: as taskq_find reads the map. */
static void *map_get(const struct au_u64map *m, uint64_t key)
{
	void *const *v = au_u64map_get(m, key);
	return v ? *v : NULL;
}

/* Map `key` to val: as taskq_add_task writes the map. */
static void map_put(struct au_u64map *m, uint64_t key, void *val)
{
	*(void **)au_u64map_put(m, key, NULL) = val;
}

static void check_map_against(const struct au_u64map *m, GHashTable *ref, uint32_t range)
{
	ck_assert_uint_eq(m->len, g_hash_table_size(ref));
	for (uint64_t k = 0; k < range; k++)
		ck_assert_ptr_eq(map_get(m, k), g_hash_table_lookup(ref, &k));
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, ref);
	while (g_hash_table_iter_next(&it, &k, &v))
		ck_assert_ptr_eq(map_get(m, *(uint64_t *)k), v);
}

START_TEST(map_matches_hash_table)
{
	for (uint64_t seed = 1; seed <= 8; seed++) {
		struct au_pcg32 rng;
		au_pcg32_seed(&rng, seed, 77);
		uint32_t range = seed % 2 ? 64 : 3000; /* dense and sparse */
		struct au_u64map m;
		au_u64map_init(&m, sizeof(void *));
		GHashTable *ref = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		uint32_t puts = 0, removed = 0;
		for (uint32_t step = 0; step < 20000; step++) {
			uint64_t key = random_key(&rng, range);
			uint32_t what = au_pcg32_below(&rng, 10);
			if (what < 5) {
				void *val = (void *)(uintptr_t)(1 + au_pcg32_below(&rng, 1000000));
				map_put(&m, key, val);
				g_hash_table_insert(ref, g_memdup2(&key, sizeof(key)), val);
				puts++;
			} else if (what < 9) {
				bool had = g_hash_table_remove(ref, &key);
				ck_assert_int_eq(au_u64map_remove(&m, key), had);
				removed += had;
			} else if (au_pcg32_below(&rng, 200) == 0) {
				au_u64map_clear(&m);
				g_hash_table_remove_all(ref);
			}
			ck_assert_ptr_eq(map_get(&m, key), g_hash_table_lookup(ref, &key));
			if (step % 997 == 0)
				check_map_against(&m, ref, range);
		}
		check_map_against(&m, ref, range);
		ck_assert_uint_gt(puts, 5000);
		ck_assert_uint_gt(removed, 1000);
		au_u64map_free(&m);
		g_hash_table_destroy(ref);
	}
}
END_TEST

static bool collect_id(void *ctx, const struct au_task *t)
{
	g_array_append_val((GArray *)ctx, t->id);
	return true;
}

/* The ids of the reference tree, in its order. */
static GArray *tree_ids(GTree *ref)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	for (GTreeNode *it = g_tree_node_first(ref); it; it = g_tree_node_next(it))
		g_array_append_val(ids, *(uint64_t *)g_tree_node_key(it));
	return ids;
}

static gint cmp_u64p(gconstpointer a, gconstpointer b, gpointer unused)
{
	(void)unused;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(tasks_walk_in_tree_order)
{
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct au_pcg32 rng;
		au_pcg32_seed(&rng, seed, 91);
		struct au_taskq *q = au_taskq_new(NULL);
		GTree *ref = g_tree_new_full(cmp_u64p, NULL, g_free, NULL);
		uint32_t sorts = 0, merges = 0;
		for (uint32_t step = 0; step < 3000; step++) {
			uint32_t what = au_pcg32_below(&rng, 40);
			if (what < 36) {
				/* Mostly rising ids with jumps back (as job-major
				 * ids come), some far above. */
				uint64_t id = what < 30 ? 1 + au_pcg32_below(&rng, 4000)
							: 1000000 + au_pcg32_below(&rng, 1000);
				if (taskq_find(q, id)) {
					ck_assert_ptr_nonnull(g_tree_lookup(ref, &id));
					continue;
				}
				ck_assert_ptr_null(g_tree_lookup(ref, &id));
				uint32_t plen = au_pcg32_below(&rng, 3) ? 0 : 1 + au_pcg32_below(&rng, 40);
				struct task_priv *p = taskq_task_alloc(q, plen);
				p->t.id = id;
				p->t.payload_len = plen;
				if (plen)
					memset(p->t.payload, (int)(id & 0xff), plen);
				taskq_add_task(q, &p->t);
				uint64_t *k = g_new(uint64_t, 1);
				*k = id;
				g_tree_insert(ref, k, p);
				ck_assert_ptr_eq(taskq_find(q, id), &p->t);
				continue;
			}
			GArray *want = tree_ids(ref);
			GArray *got = g_array_new(FALSE, FALSE, sizeof(uint64_t));
			if (what < 38) {
				/* Const walk: must leave the array as it was. */
				uint32_t sorted = q->tasks.sorted;
				au_taskq_each(q, collect_id, got);
				ck_assert_uint_eq(q->tasks.sorted, sorted);
			} else {
				merges += q->tasks.sorted > 0 && q->tasks.sorted < q->tasks.n;
				struct au_task *const *v = taskq_tasks_sort(q);
				ck_assert_uint_eq(q->tasks.sorted, q->tasks.n);
				for (uint32_t i = 0; i < q->tasks.n; i++)
					g_array_append_val(got, v[i]->id);
				sorts++;
			}
			ck_assert_uint_eq(got->len, want->len);
			ck_assert_mem_eq(got->data, want->data, want->len * sizeof(uint64_t));
			g_array_free(got, TRUE);
			g_array_free(want, TRUE);
		}
		ck_assert_uint_eq(q->tasks.n, (uint32_t)g_tree_nnodes(ref));
		ck_assert_uint_gt(sorts, 10);
		ck_assert_uint_gt(merges, 5);
		/* Every task is found, with its payload. */
		for (GTreeNode *it = g_tree_node_first(ref); it; it = g_tree_node_next(it)) {
			const struct task_priv *p = g_tree_node_value(it);
			ck_assert_ptr_eq(taskq_find(q, p->t.id), &p->t);
			for (uint32_t i = 0; i < p->t.payload_len; i++)
				ck_assert_uint_eq(p->t.payload[i], p->t.id & 0xff);
		}
		g_tree_destroy(ref);
		au_taskq_free(q); /* frees the tasks */
	}
}
END_TEST

/* The reference's score of (node, topic): 0 if none. */
static int32_t ref_score(GTree *ref, au_node_id node, uint32_t topic)
{
	uint64_t key = (uint64_t)node << 32 | topic;
	const int32_t *sc = g_tree_lookup(ref, &key);
	return sc ? *sc : 0;
}

START_TEST(affinity_matches_tree)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct au_pcg32 rng;
		au_pcg32_seed(&rng, seed, 13);
		struct au_taskq *q = au_taskq_new(NULL);
		GTree *ref = g_tree_new_full(cmp_u64p, NULL, g_free, g_free); /* key -> int32 */
		for (uint32_t step = 0; step < 4000; step++) {
			au_node_id node = au_pcg32_below(&rng, 12);
			uint32_t topic = au_pcg32_below(&rng, 5) ? au_pcg32_below(&rng, 8)
								  : au_pcg32_next(&rng);
			int32_t delta = (int32_t)au_pcg32_below(&rng, 9) - 5;
			taskq_affinity_add(q, node, topic, delta);
			uint64_t key = (uint64_t)node << 32 | topic;
			int32_t *sc = g_tree_lookup(ref, &key);
			if (!sc) {
				sc = g_new0(int32_t, 1);
				uint64_t *k = g_new(uint64_t, 1);
				*k = key;
				g_tree_insert(ref, k, sc);
			}
			int32_t v = *sc + delta;
			*sc = v > 16 ? 16 : v < -16 ? -16 : v;
			ck_assert_int_eq(au_taskq_affinity(q, node, topic), *sc);
			ck_assert_int_eq(au_taskq_affinity(q, node, topic + 1),
					 ref_score(ref, node, topic + 1));
		}
		/* Same entries, in the tree's order. */
		ck_assert_uint_eq(q->affinity.n, (uint32_t)g_tree_nnodes(ref));
		uint32_t i = 0;
		for (GTreeNode *it = g_tree_node_first(ref); it; it = g_tree_node_next(it), i++) {
			ck_assert_uint_eq(q->affinity.v[i].key, *(uint64_t *)g_tree_node_key(it));
			ck_assert_int_eq(q->affinity.v[i].score, *(int32_t *)g_tree_node_value(it));
		}
		g_tree_destroy(ref);
		au_taskq_free(q);
	}
}
END_TEST

Suite *taskq_map_suite(void)
{
	Suite *s = suite_create("taskq_map");
	TCase *tc = tcase_create("containers");
	tcase_add_test(tc, map_matches_hash_table);
	tcase_add_test(tc, tasks_walk_in_tree_order);
	tcase_add_test(tc, affinity_matches_tree);
	suite_add_tcase(s, tc);
	return s;
}
