/* taskq_store.c — where the task queue keeps its tasks (see
 * taskq_internal.h): the arena they live in, the array of every task
 * sorted by id on demand, and the map from id to task.  taskq.c applies
 * commands to them; taskq_snapshot.c writes, restores and walks them.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "taskq_internal.h"

#define ARENA_CHUNK (64 * 1024) /* holds the largest task (payload max) several times */

struct task_priv *taskq_task_alloc(struct au_taskq *q, uint32_t payload_len)
{
	struct taskq_arena *a = &q->arena;
	size_t n = (sizeof(struct task_priv) + payload_len + 15) & ~(size_t)15;
	if (!a->chunk || a->used + n > a->size) {
		uint8_t *c = g_malloc(ARENA_CHUNK);
		memcpy(c, &a->chunk, sizeof(a->chunk)); /* link to the previous chunk */
		a->chunk = c;
		a->used = 16;
		a->size = ARENA_CHUNK;
	}
	struct task_priv *p = (struct task_priv *)(void *)(a->chunk + a->used);
	a->used += n;
	memset(p, 0, sizeof(*p));
	if (payload_len)
		p->t.payload = (uint8_t *)(p + 1);
	return p;
}

void taskq_free_task(struct au_task *t)
{
	/* The task and its payload live in the arena. */
	g_free(t->result);
	g_free(t->ckpt);
}

static void arena_free(struct taskq_arena *a)
{
	while (a->chunk) {
		uint8_t *prev;
		memcpy(&prev, a->chunk, sizeof(prev));
		g_free(a->chunk);
		a->chunk = prev;
	}
	a->used = a->size = 0;
}

static int cmp_task_ptr_id(const void *a, const void *b)
{
	uint64_t x = (*(const struct au_task *const *)a)->id;
	uint64_t y = (*(const struct au_task *const *)b)->id;
	return x < y ? -1 : x > y;
}

struct au_task *const *taskq_tasks_sort(struct au_taskq *q)
{
	struct taskq_tasks *ts = &q->tasks;
	if (ts->sorted == ts->n)
		return ts->v;
	uint32_t s = ts->sorted;
	qsort(ts->v + s, ts->n - s, sizeof(*ts->v), cmp_task_ptr_id);
	if (s > 0 && ts->v[s - 1]->id > ts->v[s]->id) {
		/* Merge the sorted prefix and the newly sorted rest (ids are
		 * unique). */
		struct au_task **m = g_new(struct au_task *, ts->cap);
		uint32_t i = 0, j = s, w = 0;
		while (i < s && j < ts->n)
			m[w++] = ts->v[i]->id < ts->v[j]->id ? ts->v[i++] : ts->v[j++];
		while (i < s)
			m[w++] = ts->v[i++];
		while (j < ts->n)
			m[w++] = ts->v[j++];
		g_free(ts->v);
		ts->v = m;
	}
	ts->sorted = ts->n;
	return ts->v;
}

struct au_task *const *taskq_tasks_ordered(const struct au_taskq *q, struct au_task ***copy)
{
	const struct taskq_tasks *ts = &q->tasks;
	*copy = NULL;
	if (ts->sorted == ts->n)
		return ts->v;
	*copy = g_memdup2(ts->v, (gsize)ts->n * sizeof(*ts->v));
	qsort(*copy, ts->n, sizeof(**copy), cmp_task_ptr_id);
	return *copy;
}

void taskq_tasks_clear(struct au_taskq *q)
{
	for (uint32_t i = 0; i < q->tasks.n; i++)
		taskq_free_task(q->tasks.v[i]);
	arena_free(&q->arena);
	q->tasks.n = q->tasks.sorted = 0;
	au_u64map_clear(&q->by_id);
}

/* A new task joins every task (not yet in id order) and the id map. */
void taskq_add_task(struct au_taskq *q, struct au_task *t)
{
	struct taskq_tasks *ts = &q->tasks;
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 256;
		ts->v = g_renew(struct au_task *, ts->v, ts->cap);
	}
	ts->v[ts->n++] = t;
	*(struct au_task **)au_u64map_put(&q->by_id, t->id, NULL) = t;
	taskq_snap_dirty(q, (struct task_priv *)t);
}
