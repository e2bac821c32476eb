/* check_exec.c — the execution layer's invariants, driven by the task
 * queue's and lock machine's traces (see models/taskq.h, models/lock.h).
 *
 * Every replica traces what applying a command does, each command opened
 * by a TASKQ_ENTRY (LOCK_ENTRY) record carrying its log index and the
 * replica's effect chain before it.  A checker follows the first replica to
 * apply each index (its records up to its next ENTRY are that command's
 * effects) and ignores the others, so it sees the replicated log's effects
 * once, in log order; exactly_once also compares every replica's chain at
 * every index it applies, so replicas that diverge are caught.
 *
 *   no_task_lost     at the end, every task enqueued — and every id of the
 *                    [workload] (1..tasks) — is done or dead-lettered;
 *   exactly_once     a task's result is accepted at most once, only with the
 *                    fencing token of the task's current lease, and (for the
 *                    synthetic executor) equals the reference result however
 *                    often the task was interrupted; checkpoints too are
 *                    accepted only under the current lease; replicas agree;
 *   lease_placement  no lease is granted to a node the queue has marked dead
 *                    (known dead from SWIM) or draining;
 *   lock_safety      no key has two valid holders at once, and a write is
 *                    accepted only from the key's current holder.
 */
#include "check_exec.h"

#include <stdio.h>
#include <string.h>

#include "../models/orchestrator.h"
#include "../models/trace_kinds.h"

/* Which replica's records are being followed, per machine. */
struct follow {
	uint64_t max_index;
	GArray *chain;    /* uint64 chain before each index (0: not seen) */
	GArray *accept;   /* gboolean per node: its current command is the first */
};

struct task_view {
	uint64_t id;
	uint64_t token;       /* current lease, 0: none */
	au_node_id node;
	uint32_t kind, rounds;
	uint8_t state;        /* 0 queued, 1 leased, 2 done, 3 dead */
	uint64_t acked_token;
};

enum role { NTL, EO, LP, LS };

struct exec_check {
	const char *name;
	enum role role;
	struct follow fq, fl;
	GHashTable *tasks;    /* id -> struct task_view */
	GHashTable *locks;    /* key -> token of the holder (boxed), present while held */
	uint8_t *dead, *draining; /* [nodes+1] */
	uint32_t nodes;
	uint64_t workload;    /* [workload] tasks */
	bool compare_chains;
};

static void follow_init(struct follow *f, uint32_t nodes)
{
	f->max_index = 0;
	f->chain = g_array_new(FALSE, TRUE, sizeof(uint64_t));
	f->accept = g_array_new(FALSE, TRUE, sizeof(gboolean));
	g_array_set_size(f->accept, nodes + 1);
}

static void follow_free(struct follow *f)
{
	g_array_free(f->chain, TRUE);
	g_array_free(f->accept, TRUE);
}

/* An ENTRY record from `node`; false if replicas disagree. */
static bool follow_entry(struct follow *f, au_node_id node, uint64_t index, uint64_t chain,
			 bool compare)
{
	if (node >= f->accept->len)
		return true;
	bool first = index > f->max_index;
	g_array_index(f->accept, gboolean, node) = first;
	if (index > 10000000u)
		return true; /* not tracked (would need too much memory) */
	if (index >= f->chain->len)
		g_array_set_size(f->chain, (guint)index + 1024);
	uint64_t *seen = &g_array_index(f->chain, uint64_t, index);
	if (first) {
		f->max_index = index;
		*seen = chain | 1; /* never 0 */
		return true;
	}
	return !compare || *seen == 0 || *seen == (chain | 1);
}

static bool following(const struct follow *f, au_node_id node)
{
	return node < f->accept->len && g_array_index(f->accept, gboolean, node);
}

static struct task_view *task(struct exec_check *x, int64_t id)
{
	return g_hash_table_lookup(x->tasks, &id);
}

static void *create(struct au_sim *sim, const char *name, enum role role)
{
	struct exec_check *x = g_new0(struct exec_check, 1);
	x->name = name;
	x->role = role;
	x->nodes = sim->nodes;
	follow_init(&x->fq, sim->nodes);
	follow_init(&x->fl, sim->nodes);
	x->tasks = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	x->locks = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	x->dead = g_new0(uint8_t, (gsize)sim->nodes + 1);
	x->draining = g_new0(uint8_t, (gsize)sim->nodes + 1);
	x->compare_chains = role == EO;
	for (uint32_t i = 0; i < sim->sc->n_services; i++)
		if (sim->sc->services[i] == &au_orch_model)
			x->workload = ((const struct au_orch_config *)sim->sc->service_config[i])->tasks;
	return x;
}

/* FNV-1a of the synthetic executor's 8-byte little-endian result. */
static uint64_t synthetic_digest(uint64_t id, uint32_t rounds)
{
	uint64_t r = au_orch_synthetic_result(id, rounds);
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(r >> (8 * i));
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static void queue_event(struct exec_check *x, struct au_sim *sim, au_node_id node, uint16_t kind,
			int64_t a, int64_t b, int64_t c)
{
	struct task_view *t = kind == AU_TR_TASKQ_NODE ? NULL : task(x, a);
	switch (kind) {
	case AU_TR_TASKQ_ENQUEUE:
		if (t)
			break;
		t = g_new0(struct task_view, 1);
		t->id = (uint64_t)a;
		t->kind = (uint32_t)((uint64_t)b >> 32);
		t->rounds = (uint32_t)c;
		g_hash_table_insert(x->tasks, &t->id, t);
		break;
	case AU_TR_TASKQ_GRANT:
		if (!t && x->role == EO) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased but never "
					"enqueued", a);
			return;
		}
		if (t && t->state != 0 && x->role == EO) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased (token %"
					G_GINT64_FORMAT ") while %s", a, b,
				       t->state == 1 ? "another lease is valid" : "finished");
			return;
		}
		if (x->role == LP && c > 0 && (uint64_t)c <= x->nodes && (x->dead[c] || x->draining[c])) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased to n%"
					G_GINT64_FORMAT ", which the queue marked %s", a, c,
				       x->dead[c] ? "dead" : "draining");
			return;
		}
		if (!t)
			break;
		t->state = 1;
		t->token = (uint64_t)b;
		t->node = (au_node_id)c;
		break;
	case AU_TR_TASKQ_ACK:
		if (x->role == EO && (!t || t->state != 1 || t->token != (uint64_t)b)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": result accepted "
					"with token %" G_GINT64_FORMAT ", but %s", a, b,
				       !t ? "it was never enqueued"
				       : t->state == 2 ? "it was already done"
				       : t->state == 1 ? "that is not its current lease"
						       : "it holds no lease");
			return;
		}
		if (!t)
			break;
		if (x->role == EO && t->kind == 0 && (uint64_t)c != synthetic_digest(t->id, t->rounds)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": accepted result "
					"digest %" G_GINT64_FORMAT " is not the reference", a, c);
			return;
		}
		t->state = 2;
		t->acked_token = (uint64_t)b;
		t->token = 0;
		break;
	case AU_TR_TASKQ_NACK:
	case AU_TR_TASKQ_RELEASE:
	case AU_TR_TASKQ_EXPIRE:
		if (x->role == EO && (!t || t->state != 1 || t->token != (uint64_t)b)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": lease %"
					G_GINT64_FORMAT " ended but it was not the current one", a, b);
			return;
		}
		if (t) {
			t->state = 0;
			t->token = 0;
		}
		break;
	case AU_TR_TASKQ_DEAD_LETTER:
		if (t)
			t->state = 3;
		break;
	case AU_TR_TASKQ_CHECKPOINT:
		if (x->role == EO && (!t || t->state != 1 || t->token != (uint64_t)b || (uint64_t)c >= t->rounds)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": checkpoint of "
					"round %" G_GINT64_FORMAT " accepted with token %" G_GINT64_FORMAT
					" outside its current lease", a, c, b);
			return;
		}
		break;
	case AU_TR_TASKQ_NODE:
		if (a > 0 && (uint64_t)a <= x->nodes) {
			if (b == 0 || b == 1)
				x->dead[a] = b == 1;
			else
				x->draining[a] = b == 2;
		}
		break;
	default:
		break;
	}
}

static void lock_event(struct exec_check *x, struct au_sim *sim, au_node_id node, uint16_t kind,
		       int64_t a, int64_t b, int64_t c)
{
	uint64_t *holder = g_hash_table_lookup(x->locks, &a);
	switch (kind) {
	case AU_TR_LOCK_GRANT:
		if (holder) {
			au_sim_violate(sim, x->name, node, "lock %" G_GINT64_FORMAT " granted (token %"
					G_GINT64_FORMAT ") while token %" G_GUINT64_FORMAT " holds it",
				       a, b, *holder);
			return;
		}
		g_hash_table_insert(x->locks, g_memdup2(&a, sizeof(a)), g_memdup2(&b, sizeof(b)));
		break;
	case AU_TR_LOCK_RELEASE:
		if (!holder || *holder != (uint64_t)b) {
			au_sim_violate(sim, x->name, node, "lock %" G_GINT64_FORMAT " released by token %"
					G_GINT64_FORMAT ", which does not hold it", a, b);
			return;
		}
		g_hash_table_remove(x->locks, &a);
		break;
	case AU_TR_LOCK_WRITE:
		if (c && (!holder || *holder != (uint64_t)b)) {
			au_sim_violate(sim, x->name, node, "write to lock %" G_GINT64_FORMAT " accepted "
					"with token %" G_GINT64_FORMAT ", which is not the holder's", a, b);
			return;
		}
		break;
	default:
		break;
	}
}

static void exec_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c)
{
	struct exec_check *x = st;
	if (kind < AU_TR_TASKQ_ENTRY || kind > AU_TR_LOCK_WRITE)
		return;
	if (kind == AU_TR_TASKQ_ENTRY || kind == AU_TR_LOCK_ENTRY) {
		struct follow *f = kind == AU_TR_TASKQ_ENTRY ? &x->fq : &x->fl;
		if (!follow_entry(f, node, (uint64_t)a, (uint64_t)b, x->compare_chains))
			au_sim_violate(sim, x->name, node, "replicas disagree: n%u reached %s entry %"
					G_GINT64_FORMAT " with another state than the first replica "
					"that applied it", node,
				       kind == AU_TR_TASKQ_ENTRY ? "queue" : "lock", a);
		return;
	}
	if (kind >= AU_TR_LOCK_GRANT) {
		if (x->role == LS && following(&x->fl, node))
			lock_event(x, sim, node, kind, a, b, c);
		return;
	}
	if (x->role != LS && following(&x->fq, node))
		queue_event(x, sim, node, kind, a, b, c);
}

static void ntl_end(void *st, struct au_sim *sim)
{
	struct exec_check *x = st;
	/* Counts and the smallest id: the same whatever the table's order. */
	uint64_t lost = 0, first = 0;
	uint8_t first_state = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, x->tasks);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct task_view *t = v;
		if (t->state >= 2)
			continue;
		if (!lost || t->id < first) {
			first = t->id;
			first_state = t->state;
		}
		lost++;
	}
	uint64_t missing = 0, first_missing = 0;
	for (uint64_t id = x->workload; id >= 1; id--)
		if (!g_hash_table_contains(x->tasks, &id)) {
			missing++;
			first_missing = id;
		}
	if (lost)
		au_sim_violate(sim, x->name, 0, "%" G_GUINT64_FORMAT " tasks neither done nor "
				"dead-lettered at the end, e.g. task %" G_GUINT64_FORMAT " (%s)", lost,
			       first, first_state == 1 ? "still leased" : "still queued");
	else if (missing)
		au_sim_violate(sim, x->name, 0, "%" G_GUINT64_FORMAT " workload tasks never enqueued, "
				"e.g. task %" G_GUINT64_FORMAT, missing, first_missing);
}

static void exec_destroy(void *st)
{
	struct exec_check *x = st;
	follow_free(&x->fq);
	follow_free(&x->fl);
	g_hash_table_destroy(x->tasks);
	g_hash_table_destroy(x->locks);
	g_free(x->dead);
	g_free(x->draining);
	g_free(x);
}

void *au_check_ntl_create(struct au_sim *sim) { return create(sim, "no_task_lost", NTL); }
void *au_check_eo_create(struct au_sim *sim) { return create(sim, "exactly_once", EO); }
void *au_check_lp_create(struct au_sim *sim) { return create(sim, "lease_placement", LP); }
void *au_check_ls_create(struct au_sim *sim) { return create(sim, "lock_safety", LS); }

void au_check_exec_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c)
{
	exec_event(st, sim, node, kind, a, b, c);
}

void au_check_ntl_end(void *st, struct au_sim *sim) { ntl_end(st, sim); }
void au_check_exec_destroy(void *st) { exec_destroy(st); }
