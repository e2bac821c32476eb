/* taskq_internal.h — what the files of the task queue share: the
 * operation codes of its commands, the containers of its state, and the
 * helpers more than one file uses.  taskq.c holds the state and applies
 * operations, taskq_store.c keeps the tasks (arena, id order, id map),
 * taskq_snapshot.c turns the whole state into bytes and back (and into
 * its digest and description), taskq_batch.c builds and walks
 * commands.  Not part of the queue's API (that is taskq.h).
 */
#ifndef AU_TASKQ_INTERNAL_H
#define AU_TASKQ_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "taskq.h"
#include "u64map.h"
#include "wire.h"

/* Operation codes (taskq_batch.c encodes them, taskq.c decodes them). */
enum { OP_ENQ = 1, OP_LEASE, OP_RENEW, OP_ACK, OP_NACK, OP_RELEASE, OP_EXPIRE, OP_CKPT, OP_NODE,
       OP_CANCEL, OP_REQUEUE, OP_MAX_ };

struct op; /* one decoded operation (taskq.c) */

/* Queued tasks of one (priority, topic, caps), FIFO by enqueue seq. */
struct cls {
	int32_t prio;
	uint32_t topic, caps;
	GTree *q; /* &task->seq -> task */
};

struct nodeinfo {
	uint32_t inc;
	bool dead, draining;
	GTree *leases; /* &task->id -> task */
};

/* A job: its lifecycle and its tasks (taskq_jobs.c). */
struct jobinfo {
	struct au_taskq_job j; /* per-state counts kept current */
	bool started;          /* a task of it was leased */
	GTree *members;        /* &task->id -> task */
};

struct affinity {
	uint64_t key; /* node << 32 | topic */
	int32_t score;
};

/* The affinity scores, in key order (a few per node and topic: binary
 * search, and an insert moves the ones after it). */
struct taskq_affs {
	struct affinity *v;
	uint32_t n, cap;
};

/* A snapshot being written: bytes in a malloc'd buffer grown by
 * doubling (taskq_sbuf_room), fields stored in place (taskq_le) instead
 * of appended one at a time.  A `fixed` buffer is someone else's memory
 * of exactly the size counted beforehand (au_taskq_snapshot_write): it
 * is never grown, and writing past it aborts. */
struct taskq_sbuf {
	uint8_t *p;
	size_t len, cap;
	bool fixed;
};

/* A task with what only this file sees: its digest bookkeeping.  The
 * public struct comes first, so the two pointers are the same. */
struct task_priv {
	struct au_task t;
	uint64_t share;     /* this task's part of the digest sum */
	uint64_t payload_h, result_h, ckpt_h; /* hashes of the blobs */
	bool touched;       /* on the touched list: changed since the digest was last read */
	struct jobinfo *ji; /* its job's record once it joined it (taskq_job_add_task);
			     * jobs are never freed while the queue lives, and t->job
			     * never changes after, so this saves a tree lookup */
	bool snap_dirty;    /* on the snapshot cache's dirty list */
};

/* One task's record in the snapshot cache, with its jobs-section fields. */
struct taskq_snaprec {
	uint64_t id, job;
	size_t off;    /* where its record starts in the cache's rec */
	uint32_t len;  /* and its length */
	uint32_t requeues;
	uint8_t dead_reason, last_error;
	bool ext;      /* it has a jobs-section record (taskq_has_ext) */
};

/* The snapshot's task records kept from one snapshot to the next
 * (taskq_snapshot.c): `rec` holds every task's record in id order, `idx`
 * where each is.  A task changed or added since (taskq_touch,
 * taskq_add_task) goes on the `dirty` list; the next snapshot merges the
 * old records, copied in runs between the dirty tasks, with the dirty
 * ones encoded again into `spare`, which then becomes `rec`.  Not valid
 * (after a restore, or before the first snapshot): built from all tasks.
 * The bytes equal those written without the cache (taskq_snapshot_full). */
struct taskq_snapcache {
	struct taskq_sbuf rec, spare, ext;
	struct taskq_snaprec *idx, *spare_idx;
	uint32_t n, cap, spare_cap;
	GPtrArray *dirty; /* struct task_priv *, snap_dirty set */
	bool valid;
	/* The snapshot being written (au_taskq_snapshot_size, then _write). */
	size_t out_len;
	uint32_t out_n_ext;
};

/* Every task (owned), for iterating in id order: v[0, sorted) are in id
 * order, the ones added since (v[sorted, n)) in the order they were
 * added, until taskq_tasks_sort merges them in.  Tasks are only ever
 * added (or all replaced at once by a restore), so appending is all an
 * enqueue costs; the few walks in id order (a snapshot without its
 * cache, au_taskq_each, the description) sort first. */
struct taskq_tasks {
	struct au_task **v;
	uint32_t n, cap, sorted;
};

/* Where the tasks live: chunks allocated by bumping a pointer (tasks are
 * never freed one by one, only all at once), each chunk starting with a
 * pointer to the previous one. */
struct taskq_arena {
	uint8_t *chunk; /* the newest chunk (NULL: none) */
	size_t used, size;
};

struct au_taskq {
	const struct au_env *env;
	struct taskq_arena arena; /* the tasks' memory */
	struct taskq_tasks tasks; /* every task (owned) */
	struct au_u64map by_id;   /* task id -> struct au_task *: lookups only, never iterated */
	GTree *dead;         /* &task->id -> task (not owned): the dead letters, id order */
	GPtrArray *classes;  /* struct cls*, sorted by (prio desc, topic, caps) */
	GPtrArray *nodes;    /* struct nodeinfo* by node id (NULL: never seen) */
	struct taskq_affs affinity; /* in key order */
	GTree *jobs;         /* &job->j.id -> struct jobinfo (owned) */
	uint64_t next_seq, next_lease_id;
	uint64_t chain;      /* hash of every effect so far */
	uint64_t applied;    /* index of the last command applied */
	uint64_t task_sum;   /* sum of the tasks' shares (but touched ones') */
	uint64_t aff_sum;    /* sum of aff_hash() over `affinity` */
	GPtrArray *touched;  /* struct task_priv *: changed since the digest was last read */
	struct op *ops;      /* the command being applied, decoded (taskq.c) */
	uint32_t n_ops, cap_ops;
	uint64_t counts[4];
	uint32_t grants;     /* grants in the command being applied */
	uint64_t index;      /* the command being applied */
	struct {
		au_taskq_observer fn;
		void *ctx;
	} obs[AU_TASKQ_MAX_OBSERVERS];
	uint32_t n_obs;
	struct taskq_snapcache snap;
};


/* Room for n more bytes at the end of b (b->len grows by n); aborts when
 * out of memory. */
static inline uint8_t *taskq_sbuf_room(struct taskq_sbuf *b, size_t n)
{
	if (b->len + n > b->cap) {
		if (b->fixed) {
			fprintf(stderr, "aureon: taskq snapshot larger than the %zu bytes counted for it\n",
				b->cap);
			abort();
		}
		size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	uint8_t *w = b->p + b->len;
	b->len += n;
	return w;
}

/* Store v's n low bytes little-endian at w; returns w + n.  On a
 * little-endian host those are the first n bytes of v: one store once
 * inlined with a constant n (GCC left the 8-byte loop a loop). */
static inline uint8_t *taskq_le(uint8_t *w, uint64_t v, int n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(w, &v, (size_t)n);
#else
	for (int i = 0; i < n; i++)
		w[i] = (uint8_t)(v >> (8 * i));
#endif
	return w + n;
}

/* The digest of a blob (payload, result, checkpoint) in a task's share. */
static inline uint64_t taskq_blob_hash(const uint8_t *p, uint32_t n)
{
	return au_digest_bytes(0x7a5c, p, n);
}

static inline struct au_task *taskq_find(const struct au_taskq *q, uint64_t id)
{
	struct au_task *const *t = au_u64map_get(&q->by_id, id);
	return t ? *t : NULL;
}

/* taskq.c: the tasks in id order (q->tasks.v, sorted in place). */
struct au_task *const *taskq_tasks_sort(struct au_taskq *q);
/* The same without changing q: q->tasks.v if already in id order, else
 * a sorted copy in *copy (the caller g_free()s *copy, NULL if none). */
struct au_task *const *taskq_tasks_ordered(const struct au_taskq *q, struct au_task ***copy);
/* Free every task (and q's arena) and forget them. */
void taskq_tasks_clear(struct au_taskq *q);
/* A new task (zeroed) in q's arena with room for an n-byte payload after
 * it (t->payload points there when n > 0): freed with the arena. */
struct task_priv *taskq_task_alloc(struct au_taskq *q, uint32_t payload_len);

/* taskq.c: effects, events and state changes the job code shares. */
void taskq_effect(struct au_taskq *q, uint16_t kind, int64_t a, int64_t b, int64_t c);
void taskq_notify(struct au_taskq *q, const struct au_taskq_event *ev);
void taskq_touch(struct au_taskq *q, struct au_task *t);
void taskq_set_state(struct au_taskq *q, struct au_task *t, enum au_task_state s);
void taskq_lease_detach(struct au_taskq *q, struct au_task *t);
void taskq_queue_remove(struct au_taskq *q, struct au_task *t);
/* Make t a dead letter for `reason` (it is not queued or leased any more). */
void taskq_dead_letter(struct au_taskq *q, struct au_task *t, enum au_taskq_dead_reason reason);

/* taskq_jobs.c: the jobs' lifecycle. */
void taskq_free_job(gpointer p);
struct jobinfo *taskq_job_of(const struct au_taskq *q, const struct au_task *t);
/* t joined its job (enqueue, restore); its state is counted. */
void taskq_job_add_task(struct au_taskq *q, struct au_task *t, bool trace);
/* t of job ji moves from state `from` to `to`. */
void taskq_job_count(struct jobinfo *ji, uint8_t from, uint8_t to);
/* Whether t's job stops it: cancelled or failed. */
bool taskq_job_stopped(const struct au_taskq *q, const struct au_task *t);
/* The reason a stopped job gives its tasks' dead letters. */
enum au_taskq_dead_reason taskq_job_stop_reason(const struct au_taskq *q, const struct au_task *t);
/* After t's state changed: the job may be running, done or failed now. */
void taskq_job_update(struct au_taskq *q, struct au_task *t);
void taskq_do_cancel(struct au_taskq *q, uint64_t job);
void taskq_do_requeue(struct au_taskq *q, uint64_t id);
/* Whether a snapshot's jobs section keeps a record of t: it has a job,
 * a dead reason, an error or a requeue. */
static inline bool taskq_has_ext(const struct au_task *t)
{
	return t->job || t->dead_reason || t->last_error || t->requeues;
}
/* Append t's record of the jobs section to ext (taskq_has_ext(t)). */
void taskq_jobs_put_ext(struct taskq_sbuf *ext, const struct au_task *t);
/* The jobs section (none if n_ext is 0 and there are no jobs): the n_ext
 * task records in ext (id order), then the jobs. */
void taskq_jobs_snapshot(struct au_taskq *q, struct taskq_sbuf *out, const struct taskq_sbuf *ext,
			 uint32_t n_ext);
bool taskq_jobs_restore(struct au_taskq *s, struct au_rbuf *rb);
uint64_t taskq_jobs_digest(const struct au_taskq *q);
void taskq_jobs_describe(const struct au_taskq *q, GString *out);

/* taskq_snapshot.c: the snapshot written without the cache (every task
 * encoded again), which the cached one must equal byte for byte. */
size_t taskq_snapshot_full(struct au_taskq *q, uint8_t **out);
/* Forget the cached records (the tasks were replaced). */
void taskq_snapcache_reset(struct taskq_snapcache *c);
void taskq_snapcache_free(struct taskq_snapcache *c);

/* Task t changed or was added: the next snapshot encodes it again. */
static inline void taskq_snap_dirty(struct au_taskq *q, struct task_priv *p)
{
	if (!p->snap_dirty && q->snap.valid) {
		p->snap_dirty = true;
		g_ptr_array_add(q->snap.dirty, p);
	}
}

/* taskq.c: fold the touched tasks' new shares into task_sum (the digest
 * reads it). */
void taskq_settle_touched(struct au_taskq *q);

/* taskq.c: what restoring a snapshot builds the state with. */
uint64_t taskq_task_hash(const struct task_priv *p);
/* Free what a task holds outside the arena (its result and checkpoint). */
void taskq_free_task(struct au_task *t);
struct nodeinfo *taskq_node_get(struct au_taskq *q, au_node_id id);
void taskq_affinity_add(struct au_taskq *q, au_node_id node, uint32_t topic, int32_t delta);
void taskq_queue_insert(struct au_taskq *q, struct au_task *t);
void taskq_add_task(struct au_taskq *q, struct au_task *t);

#endif
