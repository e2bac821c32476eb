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
 *                    accepted only from the key's current holder;
 *   lease_expiry     leases and locks end by timeout neither before nor
 *                    (beyond one expiry scan) after a lease on the clock of
 *                    the leader that proposes it (its own section below).
 */
#include "check_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "u64map.h"
#include "hash.h"
#include "orchestrator/orchestrator.h"
#include "trace_kinds.h"

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

/* The queue and the locks as the first replica to apply each command left
 * them: one view for the four checkers (they tracked the same entries
 * each, four times over).  Each record is judged by every checker against
 * the view as it was before the record — the first checker called looks
 * up what the record concerns, each judges, the last one called applies
 * the record — which is what each checker's own copy used to give: the
 * copies were equal, and a violation stops the run before anything else
 * is read. */
struct exec_view {
	struct follow fq, fl;
	struct au_u64map tasks; /* id -> struct task_view */
	struct au_u64map locks; /* key -> uint64 token of the holder, present while held */
	uint8_t *dead, *draining; /* [nodes+1] */
	uint32_t nodes;
	uint64_t workload;    /* [workload] tasks */
	struct exec_check *member[4]; /* the checkers on in this run, in table order */
	uint32_t members;
	/* The record being judged, as the first checker found it. */
	bool agree;           /* an ENTRY: chains agree with the first replica's */
	bool followed;        /* the record's node is followed for its machine */
	struct task_view *task;
	uint64_t *holder;
};

struct exec_check {
	const char *name;
	enum role role;
	struct exec_view *v;  /* shared; set by au_check_exec_link */
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

/* An ENTRY record from `node`; false if its chain differs from the first
 * replica's at that index. */
static bool follow_entry(struct follow *f, au_node_id node, uint64_t index, uint64_t chain)
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
	return *seen == 0 || *seen == (chain | 1);
}

static bool following(const struct follow *f, au_node_id node)
{
	return node < f->accept->len && g_array_index(f->accept, gboolean, node);
}

static void *create(struct au_sim *sim, const char *name, enum role role)
{
	(void)sim;
	struct exec_check *x = g_new0(struct exec_check, 1);
	x->name = name;
	x->role = role;
	return x;
}

void au_check_exec_link(struct au_sim *sim, void *const *states, size_t n)
{
	g_assert(n >= 1 && n <= 4);
	struct exec_view *v = g_new0(struct exec_view, 1);
	v->nodes = sim->nodes;
	follow_init(&v->fq, sim->nodes);
	follow_init(&v->fl, sim->nodes);
	au_u64map_init(&v->tasks, sizeof(struct task_view));
	au_u64map_init(&v->locks, sizeof(uint64_t));
	v->dead = g_new0(uint8_t, (gsize)sim->nodes + 1);
	v->draining = g_new0(uint8_t, (gsize)sim->nodes + 1);
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (sim->sc->cluster.services[i] == &au_orch_model)
			v->workload = ((const struct au_orch_config *)sim->sc->cluster.service_config[i])->tasks;
	for (size_t i = 0; i < n; i++) {
		struct exec_check *x = states[i];
		g_assert(!x->v);
		x->v = v;
		v->member[v->members++] = x;
	}
}

/* FNV-1a of the synthetic executor's 8-byte little-endian result. */
static uint64_t synthetic_digest(uint64_t id, uint32_t rounds)
{
	return au_hash_fnv1a_u64(au_orch_synthetic_result(id, rounds));
}

/* Judge a queue record against the view before it (t: the task, or NULL);
 * false if violated. */
static bool queue_judge(const struct exec_check *x, struct au_sim *sim, au_node_id node,
			uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	const struct exec_view *v = x->v;
	const struct task_view *t = v->task;
	switch (kind) {
	case AU_TR_TASKQ_GRANT:
		if (!t && x->role == EO) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased but never "
					"enqueued", a);
			return false;
		}
		if (t && t->state != 0 && x->role == EO) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased (token %"
					G_GINT64_FORMAT ") while %s", a, b,
				       t->state == 1 ? "another lease is valid" : "finished");
			return false;
		}
		if (x->role == LP && c > 0 && (uint64_t)c <= v->nodes && (v->dead[c] || v->draining[c])) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " leased to n%"
					G_GINT64_FORMAT ", which the queue marked %s", a, c,
				       v->dead[c] ? "dead" : "draining");
			return false;
		}
		break;
	case AU_TR_TASKQ_ACK:
		if (x->role != EO)
			break;
		if (!t || t->state != 1 || t->token != (uint64_t)b) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": result accepted "
					"with token %" G_GINT64_FORMAT ", but %s", a, b,
				       !t ? "it was never enqueued"
				       : t->state == 2 ? "it was already done"
				       : t->state == 1 ? "that is not its current lease"
						       : "it holds no lease");
			return false;
		}
		if (t->kind == 0 && (uint64_t)c != synthetic_digest(t->id, t->rounds)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": accepted result "
					"digest %" G_GINT64_FORMAT " is not the reference", a, c);
			return false;
		}
		break;
	case AU_TR_TASKQ_NACK:
	case AU_TR_TASKQ_RELEASE:
	case AU_TR_TASKQ_EXPIRE:
	case AU_TR_TASKQ_REVOKE:
		if (x->role == EO && (!t || t->state != 1 || t->token != (uint64_t)b)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": lease %"
					G_GINT64_FORMAT " ended but it was not the current one", a, b);
			return false;
		}
		break;
	case AU_TR_TASKQ_REQUEUE:
		if (c != 1 && c != 2)
			break; /* refused: nothing changed */
		if (x->role == EO && (!t || t->state != 3)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT " requeued but it was "
					"not a dead letter", a);
			return false;
		}
		break;
	case AU_TR_TASKQ_CHECKPOINT:
		if (x->role == EO && (!t || t->state != 1 || t->token != (uint64_t)b || (uint64_t)c >= t->rounds)) {
			au_sim_violate(sim, x->name, node, "task %" G_GINT64_FORMAT ": checkpoint of "
					"round %" G_GINT64_FORMAT " accepted with token %" G_GINT64_FORMAT
					" outside its current lease", a, c, b);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* Apply a judged queue record to the view. */
static void queue_apply(struct exec_view *v, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct task_view *t = v->task;
	switch (kind) {
	case AU_TR_TASKQ_ENQUEUE:
		if (t)
			break;
		t = au_u64map_put(&v->tasks, (uint64_t)a, NULL);
		t->id = (uint64_t)a;
		t->kind = (uint32_t)((uint64_t)b >> 32);
		t->rounds = (uint32_t)c;
		break;
	case AU_TR_TASKQ_GRANT:
		if (!t)
			break;
		t->state = 1;
		t->token = (uint64_t)b;
		t->node = (au_node_id)c;
		break;
	case AU_TR_TASKQ_ACK:
		if (!t)
			break;
		t->state = 2;
		t->acked_token = (uint64_t)b;
		t->token = 0;
		break;
	case AU_TR_TASKQ_NACK:
	case AU_TR_TASKQ_RELEASE:
	case AU_TR_TASKQ_EXPIRE:
	case AU_TR_TASKQ_REVOKE:
		if (t) {
			t->state = 0;
			t->token = 0;
		}
		break;
	case AU_TR_TASKQ_DEAD_LETTER:
		if (t)
			t->state = 3;
		break;
	case AU_TR_TASKQ_REQUEUE:
		if ((c == 1 || c == 2) && t)
			t->state = 0;
		break;
	case AU_TR_TASKQ_NODE:
		if (a > 0 && (uint64_t)a <= v->nodes) {
			if (b == 0 || b == 1)
				v->dead[a] = b == 1;
			else
				v->draining[a] = b == 2;
		}
		break;
	default:
		break;
	}
}

/* Judge a lock record against the holder before it; false if violated. */
static bool lock_judge(const struct exec_check *x, struct au_sim *sim, au_node_id node,
		       uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	const uint64_t *holder = x->v->holder;
	switch (kind) {
	case AU_TR_LOCK_GRANT:
		if (holder) {
			au_sim_violate(sim, x->name, node, "lock %" G_GINT64_FORMAT " granted (token %"
					G_GINT64_FORMAT ") while token %" G_GUINT64_FORMAT " holds it",
				       a, b, *holder);
			return false;
		}
		break;
	case AU_TR_LOCK_RELEASE:
		if (!holder || *holder != (uint64_t)b) {
			au_sim_violate(sim, x->name, node, "lock %" G_GINT64_FORMAT " released by token %"
					G_GINT64_FORMAT ", which does not hold it", a, b);
			return false;
		}
		break;
	case AU_TR_LOCK_WRITE:
		if (c && (!holder || *holder != (uint64_t)b)) {
			au_sim_violate(sim, x->name, node, "write to lock %" G_GINT64_FORMAT " accepted "
					"with token %" G_GINT64_FORMAT ", which is not the holder's", a, b);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

static void lock_apply(struct exec_view *v, uint16_t kind, int64_t a, int64_t b)
{
	if (kind == AU_TR_LOCK_GRANT)
		*(uint64_t *)au_u64map_put(&v->locks, (uint64_t)a, NULL) = (uint64_t)b;
	else if (kind == AU_TR_LOCK_RELEASE)
		au_u64map_remove(&v->locks, (uint64_t)a);
}

static void exec_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c)
{
	struct exec_check *x = st;
	struct exec_view *v = x->v;
	if (kind < AU_TR_TASKQ_ENTRY || kind > AU_TR_LOCK_WRITE)
		return;
	bool entry = kind == AU_TR_TASKQ_ENTRY || kind == AU_TR_LOCK_ENTRY;
	bool lock = kind >= AU_TR_LOCK_GRANT;
	if (x == v->member[0]) { /* the first called: what the record concerns */
		if (entry) {
			v->agree = follow_entry(kind == AU_TR_TASKQ_ENTRY ? &v->fq : &v->fl, node,
						(uint64_t)a, (uint64_t)b);
		} else if (lock) {
			v->followed = following(&v->fl, node);
			v->holder = v->followed ? au_u64map_get(&v->locks, (uint64_t)a) : NULL;
		} else {
			v->followed = following(&v->fq, node);
			v->task = v->followed && kind != AU_TR_TASKQ_NODE
					  ? au_u64map_get(&v->tasks, (uint64_t)a) : NULL;
		}
	}
	if (entry) {
		if (x->role == EO && !v->agree)
			au_sim_violate(sim, x->name, node, "replicas disagree: n%u reached %s entry %"
					G_GINT64_FORMAT " with another state than the first replica "
					"that applied it", node,
				       kind == AU_TR_TASKQ_ENTRY ? "queue" : "lock", a);
		return;
	}
	if (!v->followed)
		return;
	if (lock ? x->role == LS && !lock_judge(x, sim, node, kind, a, b, c)
		 : x->role != LS && !queue_judge(x, sim, node, kind, a, b, c))
		return;
	if (x == v->member[v->members - 1]) { /* the last called: apply it */
		if (lock)
			lock_apply(v, kind, a, b);
		else
			queue_apply(v, kind, a, b, c);
	}
}

static void ntl_end(void *st, struct au_sim *sim)
{
	struct exec_check *x = st;
	const struct exec_view *v = x->v;
	/* Counts and the smallest id: the same whatever the table's order. */
	uint64_t lost = 0, first = 0;
	uint8_t first_state = 0;
	for (uint32_t s = 0; s < v->tasks.cap; s++) {
		if (!v->tasks.used[s])
			continue;
		const struct task_view *t = au_u64map_value(&v->tasks, s);
		if (t->state >= 2)
			continue;
		if (!lost || t->id < first) {
			first = t->id;
			first_state = t->state;
		}
		lost++;
	}
	uint64_t missing = 0, first_missing = 0;
	for (uint64_t id = v->workload; id >= 1; id--)
		if (!au_u64map_get(&v->tasks, id)) {
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
	struct exec_view *v = x->v;
	g_free(x);
	if (!v)
		return;
	uint32_t j = 0;
	for (uint32_t i = 0; i < v->members; i++)
		if (v->member[i] != x)
			v->member[j++] = v->member[i];
	v->members = j;
	if (j > 0)
		return; /* another checker still reads it */
	follow_free(&v->fq);
	follow_free(&v->fl);
	au_u64map_free(&v->tasks);
	au_u64map_free(&v->locks);
	g_free(v->dead);
	g_free(v->draining);
	g_free(v);
}

void *au_check_ntl_create(struct au_sim *sim) { return create(sim, "no_task_lost", NTL); }
void *au_check_eo_create(struct au_sim *sim) { return create(sim, "exactly_once", EO); }
void *au_check_lp_create(struct au_sim *sim) { return create(sim, "lease_placement", LP); }
void *au_check_ls_create(struct au_sim *sim) { return create(sim, "lock_safety", LS); }

const struct au_check_kinds au_check_exec_kinds[] = {
	{AU_TR_TASKQ_ENTRY, AU_TR_LOCK_WRITE}, /* exec_event's range */
	AU_CHECK_KINDS_END,
};

void au_check_exec_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c)
{
	exec_event(st, sim, node, kind, a, b, c);
}

void au_check_ntl_end(void *st, struct au_sim *sim) { ntl_end(st, sim); }
void au_check_exec_destroy(void *st) { exec_destroy(st); }

/* ---- lease_expiry ---------------------------------------------------------
 *
 * The contract (models/taskq.h): a lease ends by timeout only when the
 * leader, on its own clock, has seen it go a lease (lock_ttl for a lock)
 * without a grant or renewal applied under it — counted from its takeover
 * for a lease it inherited.  Both ways of breaking it are judged here, per
 * leader, on that leader's clock as the simulator keeps it (never on the
 * clock the model read, never on a worker's):
 *
 *   early  a leader proposes an expiry (ORCH_EXPIRE, ORCH_LOCK_EXPIRE)
 *          before a lease has passed on its clock since the newest of: its
 *          takeover (ORCH_LEAD), the grant or the renewal of that lease as
 *          its own replica applied it.
 *   late   a leader that still leads, is not paused and holds the lease in
 *          its replica has not proposed its expiry although its clock is
 *          past that point by more than one expiry scan (the scan that must
 *          see it; expiry_scan), plus 1 ms for rounding.  A stop-the-world
 *          pause of the leader ends the obligation until it resumes, and
 *          after a clock jump, a drift change, a resume or a restart the
 *          scan timer that was pending runs by the bound its drift gives
 *          (below), after which scans come every expiry_scan on its clock.
 *
 * Both follow every node's own apply records (TASKQ_GRANT, TASKQ_RENEW,
 * the lease's end; LOCK_GRANT, LOCK_RENEW, LOCK_RELEASE), not the first
 * replica's, because each leader times leases by its own replica.  Leases a
 * node holds only through an installed or recovered snapshot are unknown
 * until their next renewal (no late judgement; an early one counts from the
 * takeover, as the model does for leases it cannot time). */

enum { LE_TASK, LE_LOCK };

struct le_lease {
	uint64_t token;      /* its key in the node's map */
	uint64_t id;         /* task id or lock key */
	au_node_id holder;
	au_time ref_local;   /* the node's clock at the grant, renewal or takeover */
	uint8_t ref_what;    /* which of them: enum le_ref */
	bool proposed;       /* the node proposed its expiry since */
};

enum le_ref { LE_GRANT, LE_RENEWAL, LE_TAKEOVER };
static const char *const le_ref_name[3] = {"grant", "renewal", "takeover"};

struct le_node {
	struct au_u64map leases[2]; /* token -> struct le_lease, as this replica applied them */
	bool leading;        /* its front end took over and its Raft has not stepped down */
	bool paused;
	au_time lead_local;  /* its clock at the takeover */
	int64_t ppm;         /* drift in effect */
	int64_t slow_ppm;    /* slowest drift the pending scan timer may have been set at */
	au_time slow_until;  /* global time by which that timer fires */
	au_time regular_local; /* its clock from which scans run every expiry_scan */
};

struct lease_expiry {
	uint32_t nodes;
	au_time ttl_ns[2];
	au_time scan_ns;
	struct le_node *n;   /* [nodes+1] */
	/* For the note: what was judged. */
	uint64_t proposals[2];  /* expiries proposed by a leader, judged early or not */
	au_time after_min_ns, after_max_ns; /* proposal - (reference + lease), leader's clock */
	uint64_t judged;        /* late judgements made (leases a leader held) */
};

/* Rounding of clock conversions (ns) is far below this. */
#define LE_SLACK_NS AU_NS_PER_MS

static const char *const le_what[2] = {"task", "lock"};

static int le_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct le_lease *const *)a)->token, y = (*(struct le_lease *const *)b)->token;
	return x < y ? -1 : x > y;
}

void *au_check_le_create(struct au_sim *sim)
{
	struct lease_expiry *x = g_new0(struct lease_expiry, 1);
	x->nodes = sim->nodes;
	x->n = g_new0(struct le_node, (gsize)sim->nodes + 1);
	for (uint32_t i = 0; i <= sim->nodes; i++)
		for (int k = 0; k < 2; k++)
			au_u64map_init(&x->n[i].leases[k], sizeof(struct le_lease));
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (sim->sc->cluster.services[i] == &au_orch_model) {
			const struct au_orch_config *c = sim->sc->cluster.service_config[i];
			x->ttl_ns[LE_TASK] = c->lease_ns;
			x->ttl_ns[LE_LOCK] = c->lock_ttl_ns;
			x->scan_ns = c->expiry_scan_ns;
		}
	return x;
}

/* A local delay as the global delay a timer set at drift `ppm` takes (as
 * sim.c converts it, rounded up). */
static au_time le_global_delay(au_time local_ns, int64_t ppm)
{
	au_i128 num = (au_i128)local_ns * 1000000;
	int64_t den = 1000000 + ppm;
	return (au_time)((num + den - 1) / den);
}

/* Node n's scans lost their rhythm now (clock jump or drift change, resume,
 * boot): the scan timer pending now was set at the slowest drift in effect
 * while it may have been set, and fires within one expiry_scan at that
 * drift; from then on timers are set at the current drift. */
static void le_rebase(struct lease_expiry *x, struct au_sim *sim, au_node_id n)
{
	struct le_node *nd = &x->n[n];
	int64_t slow = nd->ppm;
	if (sim->now < nd->slow_until && nd->slow_ppm < slow)
		slow = nd->slow_ppm;
	nd->slow_ppm = slow;
	nd->slow_until = sim->now + le_global_delay(x->scan_ns, slow);
	nd->ppm = sim->node[n].drift_ppm;
	nd->regular_local = au_sim_local_time(sim, n, nd->slow_until);
}

/* The late judgement of lease l at node n, whose clock reads `now_local`;
 * true if it was violated (reported). */
static bool le_judge(struct lease_expiry *x, struct au_sim *sim, au_node_id n, int k,
		     const struct le_lease *l, au_time now_local)
{
	const struct le_node *nd = &x->n[n];
	if (!nd->leading || nd->paused || l->proposed)
		return false;
	x->judged++;
	au_time due = l->ref_local + x->ttl_ns[k];
	au_time from = due > nd->regular_local ? due : nd->regular_local;
	if (now_local <= from + x->scan_ns + LE_SLACK_NS)
		return false;
	char quiet[32], ttl[32], late[32], scan[32];
	au_check_format_time(x->scan_ns, scan, sizeof(scan));
	au_check_format_time(now_local - l->ref_local, quiet, sizeof(quiet));
	au_check_format_time(x->ttl_ns[k], ttl, sizeof(ttl));
	au_check_format_time(now_local - due, late, sizeof(late));
	au_sim_violate(sim, "lease_expiry", n, "%s %" G_GUINT64_FORMAT " (token %" G_GUINT64_FORMAT
		       ", n%u's) outlived its %s lease: leader n%u had proposed no expiry %s after "
		       "its %s on its clock (%s past due, scan %s)", le_what[k], l->id, l->token,
		       l->holder, ttl, n, quiet, le_ref_name[l->ref_what], late, scan);
	return true;
}

/* Judge every lease node n holds (tasks', then locks', each in token
 * order), its clock reading `now_local`; true if one was violated. */
static bool le_judge_all(struct lease_expiry *x, struct au_sim *sim, au_node_id n, au_time now_local)
{
	for (int k = 0; k < 2; k++) {
		const struct au_u64map *m = &x->n[n].leases[k];
		if (m->len == 0)
			continue;
		struct le_lease **all = g_new(struct le_lease *, m->len);
		uint32_t len = 0;
		for (uint32_t s = 0; s < m->cap; s++)
			if (m->used[s])
				all[len++] = au_u64map_value(m, s);
		qsort(all, len, sizeof(*all), le_cmp);
		bool violated = false;
		for (uint32_t i = 0; i < len && !violated; i++)
			violated = le_judge(x, sim, n, k, all[i], now_local);
		g_free(all);
		if (violated)
			return true;
	}
	return false;
}

/* A grant (or a renewal of a lease this replica knows only from a
 * snapshot) or a renewal applied at node n: the lease counts from now. */
static void le_touch(struct lease_expiry *x, struct au_sim *sim, au_node_id n, int k, uint64_t id,
		     uint64_t token, au_node_id holder, enum le_ref what)
{
	struct au_u64map *t = &x->n[n].leases[k];
	au_time now_local = au_sim_local_time(sim, n, sim->now);
	struct le_lease *l = au_u64map_get(t, token);
	if (l && le_judge(x, sim, n, k, l, now_local))
		return;
	if (!l) {
		l = au_u64map_put(t, token, NULL);
		l->token = token;
	}
	l->id = id;
	l->holder = holder;
	l->ref_local = now_local;
	l->ref_what = (uint8_t)what;
	l->proposed = false;
}

/* The lease `token` ended at node n's replica. */
static void le_end(struct lease_expiry *x, struct au_sim *sim, au_node_id n, int k, uint64_t token)
{
	struct au_u64map *t = &x->n[n].leases[k];
	struct le_lease *l = au_u64map_get(t, token);
	if (!l || le_judge(x, sim, n, k, l, au_sim_local_time(sim, n, sim->now)))
		return;
	au_u64map_remove(t, token);
}

/* Node n, leading, proposes the expiry of lease `token` (its model judged
 * it against `deadline`, on its clock). */
static void le_proposed(struct lease_expiry *x, struct au_sim *sim, au_node_id n, int k, uint64_t id,
			uint64_t token, au_time deadline)
{
	struct le_node *nd = &x->n[n];
	au_time now_local = au_sim_local_time(sim, n, sim->now);
	struct le_lease *l = au_u64map_get(&nd->leases[k], token);
	if (l && le_judge(x, sim, n, k, l, now_local))
		return;
	if (!nd->leading)
		return; /* not a takeover this checker saw: nothing to count from */
	au_time ref = l ? l->ref_local : nd->lead_local;
	if (now_local - ref < x->ttl_ns[k]) {
		char since[32], ttl[32], ahead[32];
		au_check_format_time(now_local - ref, since, sizeof(since));
		au_check_format_time(x->ttl_ns[k], ttl, sizeof(ttl));
		au_check_format_time(deadline > now_local ? deadline - now_local : now_local - deadline,
				     ahead, sizeof(ahead));
		au_sim_violate(sim, "lease_expiry", n, "%s %" G_GUINT64_FORMAT " (token %" G_GUINT64_FORMAT
			       ") expired early: leader n%u proposed its expiry %s after its last "
			       "%s on its clock, before the %s lease ran out (it judged a deadline "
			       "%s %s its clock)", le_what[k], id, token, n, since,
			       le_ref_name[l ? l->ref_what : LE_TAKEOVER], ttl, ahead,
			       deadline > now_local ? "ahead of" : "behind");
		return;
	}
	au_time after = now_local - ref - x->ttl_ns[k];
	if (x->proposals[0] + x->proposals[1] == 0 || after < x->after_min_ns)
		x->after_min_ns = after;
	if (x->proposals[0] + x->proposals[1] == 0 || after > x->after_max_ns)
		x->after_max_ns = after;
	x->proposals[k]++;
	if (l)
		l->proposed = true;
}

const struct au_check_kinds au_check_le_kinds[] = {
	{AU_TR_NODE_BOOT, AU_TR_CLOCK_SKEW}, /* boot, crash, restart, pause, resume, skew */
	AU_CHECK_KIND(AU_TR_RAFT_ROLE),
	AU_CHECK_KIND(AU_TR_RAFT_INSTALL),
	{AU_TR_TASKQ_GRANT, AU_TR_TASKQ_ACK},
	{AU_TR_TASKQ_NACK, AU_TR_TASKQ_EXPIRE},
	{AU_TR_TASKQ_RENEW, AU_TR_TASKQ_REVOKE},
	{AU_TR_LOCK_GRANT, AU_TR_LOCK_RELEASE},
	AU_CHECK_KIND(AU_TR_LOCK_RENEW),
	AU_CHECK_KIND(AU_TR_ORCH_LEAD),
	{AU_TR_ORCH_EXPIRE, AU_TR_ORCH_LOCK_EXPIRE},
	AU_CHECK_KINDS_END,
};

void au_check_le_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c)
{
	struct lease_expiry *x = st;
	if (node == 0 || node > x->nodes)
		return;
	struct le_node *nd = &x->n[node];
	switch (kind) {
	case AU_TR_TASKQ_GRANT:
	case AU_TR_TASKQ_RENEW:
		le_touch(x, sim, node, LE_TASK, (uint64_t)a, (uint64_t)b, (au_node_id)c,
			 kind == AU_TR_TASKQ_GRANT ? LE_GRANT : LE_RENEWAL);
		break;
	case AU_TR_TASKQ_ACK:
	case AU_TR_TASKQ_NACK:
	case AU_TR_TASKQ_RELEASE:
	case AU_TR_TASKQ_EXPIRE:
	case AU_TR_TASKQ_REVOKE:
		le_end(x, sim, node, LE_TASK, (uint64_t)b);
		break;
	case AU_TR_LOCK_GRANT:
	case AU_TR_LOCK_RENEW:
		le_touch(x, sim, node, LE_LOCK, (uint64_t)a, (uint64_t)b, (au_node_id)c,
			 kind == AU_TR_LOCK_GRANT ? LE_GRANT : LE_RENEWAL);
		break;
	case AU_TR_LOCK_RELEASE:
		le_end(x, sim, node, LE_LOCK, (uint64_t)b);
		break;
	case AU_TR_ORCH_EXPIRE:
	case AU_TR_ORCH_LOCK_EXPIRE:
		le_proposed(x, sim, node, kind == AU_TR_ORCH_EXPIRE ? LE_TASK : LE_LOCK, (uint64_t)a,
			    (uint64_t)b, c);
		break;
	case AU_TR_ORCH_LEAD: {
		au_time now_local = au_sim_local_time(sim, node, sim->now);
		if (le_judge_all(x, sim, node, now_local))
			return;
		nd->leading = true;
		nd->lead_local = now_local;
		for (int k = 0; k < 2; k++)
			for (uint32_t s = 0; s < nd->leases[k].cap; s++) {
				if (!nd->leases[k].used[s])
					continue;
				struct le_lease *l = au_u64map_value(&nd->leases[k], s);
				l->ref_local = now_local;
				l->ref_what = LE_TAKEOVER;
				l->proposed = false;
			}
		break;
	}
	case AU_TR_RAFT_ROLE:
		if (b != 3 && nd->leading) {
			if (le_judge_all(x, sim, node, au_sim_local_time(sim, node, sim->now)))
				return;
			nd->leading = false;
		}
		break;
	case AU_TR_RAFT_INSTALL:
		/* The replica's state was replaced: what it held is unknown. */
		if (le_judge_all(x, sim, node, au_sim_local_time(sim, node, sim->now)))
			return;
		for (int k = 0; k < 2; k++)
			au_u64map_clear(&nd->leases[k]);
		break;
	case AU_TR_NODE_CRASH:
		if (le_judge_all(x, sim, node, au_sim_local_time(sim, node, sim->now)))
			return;
		for (int k = 0; k < 2; k++)
			au_u64map_clear(&nd->leases[k]);
		nd->leading = false;
		nd->paused = false;
		break;
	case AU_TR_NODE_BOOT:
	case AU_TR_NODE_RESTART:
		le_rebase(x, sim, node);
		break;
	case AU_TR_NODE_PAUSE:
		if (le_judge_all(x, sim, node, au_sim_local_time(sim, node, sim->now)))
			return;
		nd->paused = true;
		break;
	case AU_TR_NODE_RESUME:
		nd->paused = false;
		le_rebase(x, sim, node);
		break;
	case AU_TR_CLOCK_SKEW:
		/* Recorded after the change: judge on the clock as it read just
		 * before (a jump of `a`; a drift change moves nothing at once). */
		if (le_judge_all(x, sim, node, au_sim_local_time(sim, node, sim->now) - a))
			return;
		le_rebase(x, sim, node);
		break;
	default:
		break;
	}
}

void au_check_le_end(void *st, struct au_sim *sim)
{
	struct lease_expiry *x = st;
	for (au_node_id n = 1; n <= x->nodes; n++)
		if (le_judge_all(x, sim, n, au_sim_local_time(sim, n, sim->now)))
			return;
}

void au_check_le_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	struct lease_expiry *x = st;
	(void)sim;
	uint64_t n = x->proposals[0] + x->proposals[1];
	if (n == 0) {
		g_snprintf(buf, len, "no expiry proposed; %" G_GUINT64_FORMAT " leases judged on their "
			   "leader's clock", x->judged);
		return;
	}
	g_snprintf(buf, len, "%" G_GUINT64_FORMAT " expiries proposed (%" G_GUINT64_FORMAT " of locks), "
		   "%.3f s to %.3f s after the lease ran out on the leader's clock (scan %.3f s); %"
		   G_GUINT64_FORMAT " leases judged", n, x->proposals[LE_LOCK],
		   (double)x->after_min_ns / 1e9, (double)x->after_max_ns / 1e9,
		   (double)x->scan_ns / 1e9, x->judged);
}

void au_check_le_destroy(void *st)
{
	struct lease_expiry *x = st;
	for (uint32_t i = 0; i <= x->nodes; i++)
		for (int k = 0; k < 2; k++)
			au_u64map_free(&x->n[i].leases[k]);
	g_free(x->n);
	g_free(x);
}
