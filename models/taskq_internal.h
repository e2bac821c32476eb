/* taskq_internal.h — what the files of the task queue share: the
 * operation codes of its commands, the containers of its state, and the
 * helpers more than one file uses.  taskq.c holds the state and applies
 * operations, taskq_snapshot.c turns the whole state into bytes and back
 * (and into its digest and description), taskq_batch.c builds and walks
 * commands.  Not part of the queue's API (that is taskq.h).
 */
#ifndef AU_TASKQ_INTERNAL_H
#define AU_TASKQ_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "digest.h"
#include "taskq.h"

/* Operation codes (taskq_batch.c encodes them, taskq.c decodes them). */
enum { OP_ENQ = 1, OP_LEASE, OP_RENEW, OP_ACK, OP_NACK, OP_RELEASE, OP_EXPIRE, OP_CKPT, OP_NODE,
       OP_MAX_ };

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

struct affinity {
	uint64_t key; /* node << 32 | topic */
	int32_t score;
};

/* A task with what only this file sees: its digest bookkeeping.  The
 * public struct comes first, so the two pointers are the same. */
struct task_priv {
	struct au_task t;
	uint64_t share;     /* this task's part of the digest sum */
	uint64_t payload_h, result_h, ckpt_h; /* hashes of the blobs */
	bool touched;       /* on the touched list of the command being applied */
};

struct au_taskq {
	const struct au_env *env;
	GTree *tasks;        /* &task->id -> task (owned): iteration in id order */
	GHashTable *by_id;   /* &task->id -> task: lookups only, never iterated */
	GPtrArray *classes;  /* struct cls*, sorted by (prio desc, topic, caps) */
	GPtrArray *nodes;    /* struct nodeinfo* by node id (NULL: never seen) */
	GTree *affinity;     /* &aff->key -> struct affinity (owned) */
	uint64_t next_seq, next_lease_id;
	uint64_t chain;      /* hash of every effect so far */
	uint64_t applied;    /* index of the last command applied */
	uint64_t task_sum;   /* sum of the tasks' shares (but touched ones') */
	uint64_t aff_sum;    /* sum of aff_hash() over `affinity` */
	GPtrArray *touched;  /* struct task_priv *: changed by the command being applied */
	uint64_t counts[4];
	uint32_t grants;     /* grants in the command being applied */
	uint64_t index;      /* the command being applied */
	struct {
		au_taskq_observer fn;
		void *ctx;
	} obs[AU_TASKQ_MAX_OBSERVERS];
	uint32_t n_obs;
};

/* The digest of a blob (payload, result, checkpoint) in a task's share. */
static inline uint64_t taskq_blob_hash(const uint8_t *p, uint32_t n)
{
	return au_digest_bytes(0x7a5c, p, n);
}

static inline struct au_task *taskq_find(const struct au_taskq *q, uint64_t id)
{
	return g_hash_table_lookup(q->by_id, &id);
}

/* taskq.c: what restoring a snapshot builds the state with. */
uint64_t taskq_task_hash(const struct task_priv *p);
void taskq_free_task(gpointer p);
struct nodeinfo *taskq_node_get(struct au_taskq *q, au_node_id id);
void taskq_affinity_add(struct au_taskq *q, au_node_id node, uint32_t topic, int32_t delta);
void taskq_queue_insert(struct au_taskq *q, struct au_task *t);
void taskq_add_task(struct au_taskq *q, struct au_task *t);

#endif
