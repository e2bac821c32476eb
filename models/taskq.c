/* taskq.c — the replicated task queue state machine (see taskq.h).
 *
 * State: every task (taskq_store.c: in an arena, an array sorted by id
 * when walked, and a map by id); the queued ones also sit in a per-class FIFO, a class being (priority, topic,
 * required capabilities), ordered by enqueue sequence; the leased ones sit
 * in their holder's lease tree.  Nothing iterates a hash table: every
 * container is a tree or an array with a defined order, so applying the
 * same commands gives the same state, traces and effect chain everywhere.
 *
 * Command format (little-endian): u32 op count, then per operation
 * [u8 code][u32 body length][body].  A command is validated whole before
 * any operation is applied, so a malformed one changes nothing.
 *
 * State digest (raft.h, struct au_raft_machine.digest): every task keeps
 * its share (a hash of every field a snapshot keeps); an operation that
 * may change a task "touches" it, which takes its old share out of the
 * sum, and reading the digest adds the new shares of the touched tasks —
 * O(tasks changed) per digest, each task hashed once however many
 * commands changed it in between (the digest is read far less often than
 * commands are applied).  Affinity scores are kept the same
 * way; node marks and counters are folded in when the digest is read.
 *
 * Files: this one holds the state and applies commands to it;
 * taskq_store.c keeps the tasks; taskq_snapshot.c turns the whole state
 * into bytes and back, and into its digest and description; taskq_batch.c builds and walks commands;
 * taskq_internal.h is what they share.
 */
#include "taskq.h"

#include <assert.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "hashes.h"
#include "models_internal.h"
#include "raft/raft.h"
#include "taskq_internal.h"
#include "trace_kinds.h"
#include "wire.h"

#define effect taskq_effect
#define notify taskq_notify
#define touch taskq_touch
#define set_state taskq_set_state
#define lease_detach taskq_lease_detach

#define AFFINITY_MAX 16
#define AFFINITY_MIN (-16)

/* ---- small helpers ---------------------------------------------------------- */

/* Record an effect: trace it and fold it into the chain. */
void taskq_effect(struct au_taskq *q, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	q->chain = au_hash_effect(q->chain, kind, a, b, c);
	if (q->env)
		au_trace(q->env, kind, a, b, c);
}

void taskq_notify(struct au_taskq *q, const struct au_taskq_event *ev)
{
	for (uint32_t i = 0; i < q->n_obs; i++)
		q->obs[i].fn(q->obs[i].ctx, ev);
}

static struct task_priv *priv(struct au_task *t) { return (struct task_priv *)t; }

/* A task's share of the digest: every field a snapshot keeps. */
uint64_t taskq_task_hash(const struct task_priv *p)
{
	const struct au_task *t = &p->t;
	uint64_t h = au_digest_add(UINT64_C(0x7a5c), t->id);
	h = au_digest_add(h, (uint64_t)t->kind << 32 | t->topic);
	h = au_digest_add(h, (uint64_t)t->caps << 32 | t->max_retries);
	h = au_digest_add(h, (uint64_t)t->rounds << 32 | (uint32_t)t->priority);
	h = au_digest_add(h, (uint64_t)t->state << 32 | t->retries);
	h = au_digest_add(h, t->attempts);
	h = au_digest_add(h, t->seq);
	h = au_digest_add(h, t->enqueue_index);
	h = au_digest_add(h, t->lease_id);
	h = au_digest_add(h, t->token);
	h = au_digest_add(h, (uint64_t)t->node << 32 | t->node_inc);
	h = au_digest_add(h, (uint64_t)t->deadline_ns);
	h = au_digest_add(h, t->done_token);
	h = au_digest_add(h, (uint64_t)t->done_node << 32 | t->ckpt_round);
	h = au_digest_add(h, p->payload_h);
	h = au_digest_add(h, p->result_h);
	h = au_digest_add(h, p->ckpt_h);
	if (t->job || t->dead_reason || t->last_error || t->requeues) {
		h = au_digest_add(h, t->job);
		h = au_digest_add(h, (uint64_t)t->dead_reason << 40 | (uint64_t)t->last_error << 32 |
					     t->requeues);
	}
	return h;
}

/* Task t may change in the command being applied: its share leaves the
 * sum until the digest is next read (taskq_settle_touched). */
void taskq_touch(struct au_taskq *q, struct au_task *t)
{
	struct task_priv *p = priv(t);
	/* Before the early return: the task may have been written to a
	 * snapshot since it was first touched. */
	taskq_snap_dirty(q, p);
	if (p->touched)
		return;
	p->touched = true;
	q->task_sum -= p->share;
	g_ptr_array_add(q->touched, p);
}

void taskq_settle_touched(struct au_taskq *q)
{
	for (guint i = 0; i < q->touched->len; i++) {
		struct task_priv *p = g_ptr_array_index(q->touched, i);
		p->share = taskq_task_hash(p);
		q->task_sum += p->share;
		p->touched = false;
	}
	g_ptr_array_set_size(q->touched, 0);
}

static uint64_t aff_hash(const struct affinity *a)
{
	return au_digest_add(au_digest_add(UINT64_C(0xaff), a->key), (uint64_t)(uint32_t)a->score);
}

static void free_node(gpointer p)
{
	struct nodeinfo *n = p;
	if (!n)
		return;
	g_tree_destroy(n->leases);
	g_free(n);
}

static void free_cls(gpointer p)
{
	struct cls *c = p;
	g_tree_destroy(c->q);
	g_free(c);
}

struct nodeinfo *taskq_node_get(struct au_taskq *q, au_node_id id)
{
	if (id >= q->nodes->len)
		g_ptr_array_set_size(q->nodes, id + 1);
	struct nodeinfo *n = g_ptr_array_index(q->nodes, id);
	if (!n) {
		n = g_new0(struct nodeinfo, 1);
		n->leases = au_u64_tree(NULL);
		g_ptr_array_index(q->nodes, id) = n;
	}
	return n;
}

static const struct nodeinfo *node_peek(const struct au_taskq *q, au_node_id id)
{
	return id < q->nodes->len ? g_ptr_array_index(q->nodes, id) : NULL;
}

static int cls_order(int32_t pa, uint32_t ta, uint32_t ca, const struct cls *b)
{
	if (pa != b->prio)
		return pa > b->prio ? -1 : 1; /* higher priority first */
	if (ta != b->topic)
		return ta < b->topic ? -1 : 1;
	if (ca != b->caps)
		return ca < b->caps ? -1 : 1;
	return 0;
}

/* The class of (prio, topic, caps), created in its sorted place. */
static struct cls *cls_get(struct au_taskq *q, int32_t prio, uint32_t topic, uint32_t caps)
{
	guint lo = 0, hi = q->classes->len;
	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		int c = cls_order(prio, topic, caps, g_ptr_array_index(q->classes, mid));
		if (c == 0)
			return g_ptr_array_index(q->classes, mid);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	struct cls *c = g_new0(struct cls, 1);
	c->prio = prio;
	c->topic = topic;
	c->caps = caps;
	c->q = au_u64_tree(NULL);
	g_ptr_array_insert(q->classes, (gint)lo, c);
	return c;
}

/* The first score whose key is >= key (n if none). */
static uint32_t aff_lower_bound(const struct taskq_affs *as, uint64_t key)
{
	uint32_t lo = 0, hi = as->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (as->v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int32_t affinity_of(const struct au_taskq *q, au_node_id node, uint32_t topic)
{
	uint64_t key = (uint64_t)node << 32 | topic;
	uint32_t i = aff_lower_bound(&q->affinity, key);
	return i < q->affinity.n && q->affinity.v[i].key == key ? q->affinity.v[i].score : 0;
}

void taskq_affinity_add(struct au_taskq *q, au_node_id node, uint32_t topic, int32_t delta)
{
	uint64_t key = (uint64_t)node << 32 | topic;
	struct taskq_affs *as = &q->affinity;
	uint32_t i = aff_lower_bound(as, key);
	struct affinity *a;
	if (i == as->n || as->v[i].key != key) {
		if (as->n == as->cap) {
			as->cap = as->cap ? as->cap * 2 : 16;
			as->v = g_renew(struct affinity, as->v, as->cap);
		}
		a = &as->v[i];
		memmove(a + 1, a, (size_t)(as->n - i) * sizeof(*a));
		as->n++;
		a->key = key;
		a->score = 0;
	} else {
		a = &as->v[i];
		q->aff_sum -= aff_hash(a);
	}
	int32_t s = a->score + delta;
	a->score = s > AFFINITY_MAX ? AFFINITY_MAX : s < AFFINITY_MIN ? AFFINITY_MIN : s;
	q->aff_sum += aff_hash(a);
}

void taskq_set_state(struct au_taskq *q, struct au_task *t, enum au_task_state s)
{
	touch(q, t);
	struct jobinfo *ji = taskq_job_of(q, t);
	if (ji)
		taskq_job_count(ji, t->state, (uint8_t)s);
	assert(q->counts[t->state] > 0);
	q->counts[t->state]--;
	q->counts[s]++;
	if (t->state == AU_TASK_DEAD && s != AU_TASK_DEAD)
		g_tree_remove(q->dead, &t->id);
	else if (s == AU_TASK_DEAD && t->state != AU_TASK_DEAD)
		g_tree_insert(q->dead, &t->id, t);
	t->state = (uint8_t)s;
}

void taskq_queue_insert(struct au_taskq *q, struct au_task *t)
{
	struct cls *c = cls_get(q, t->priority, t->topic, t->caps);
	g_tree_insert(c->q, &t->seq, t);
}

/* Take a leased task out of its holder's lease tree. */
void taskq_lease_detach(struct au_taskq *q, struct au_task *t)
{
	assert(t->state == AU_TASK_LEASED);
	touch(q, t);
	struct nodeinfo *n = taskq_node_get(q, t->node);
	gboolean removed = g_tree_remove(n->leases, &t->id);
	assert(removed);
	(void)removed;
}

/* A leased task leaves its holder; it goes back to the queue (a retry when
 * `failed`, whose cause `err` is kept as its last error), or to the dead
 * letters: out of retries, or its job was cancelled or failed. */
static void lease_end(struct au_taskq *q, struct au_task *t, bool failed, enum au_taskq_error err)
{
	lease_detach(q, t);
	if (failed) {
		t->retries++;
		/* Kept for tasks of jobs and for dead letters only: a job-less
		 * task's snapshot then stays as it was (no jobs section). */
		if (t->job || t->retries > t->max_retries)
			t->last_error = (uint8_t)err;
	}
	if (taskq_job_stopped(q, t)) {
		taskq_dead_letter(q, t, taskq_job_stop_reason(q, t));
		return;
	}
	if (failed && t->retries > t->max_retries) {
		taskq_dead_letter(q, t, AU_DEAD_ATTEMPTS);
		return;
	}
	set_state(q, t, AU_TASK_QUEUED);
	taskq_queue_insert(q, t);
}

void taskq_dead_letter(struct au_taskq *q, struct au_task *t, enum au_taskq_dead_reason reason)
{
	/* Queued, or leased and already detached from its holder. */
	assert(t->state != AU_TASK_DEAD && t->state != AU_TASK_DONE);
	if (t->state == AU_TASK_QUEUED)
		taskq_queue_remove(q, t);
	set_state(q, t, AU_TASK_DEAD);
	t->dead_reason = (uint8_t)reason;
	effect(q, AU_TR_TASKQ_DEAD_LETTER, (int64_t)t->id, t->retries, reason);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_DEAD_LETTER, .index = q->index, .task = t};
	notify(q, &ev);
	taskq_job_update(q, t);
}

void taskq_queue_remove(struct au_taskq *q, struct au_task *t)
{
	assert(t->state == AU_TASK_QUEUED);
	struct cls *c = cls_get(q, t->priority, t->topic, t->caps);
	gboolean removed = g_tree_remove(c->q, &t->seq);
	assert(removed);
	(void)removed;
}

/* The task `id` if `token` is its current lease. */
static struct au_task *current_lease(struct au_taskq *q, uint64_t id, uint64_t token)
{
	struct au_task *t = taskq_find(q, id);
	if (!t || t->state != AU_TASK_LEASED || t->token != token)
		return NULL;
	return t;
}

/* ---- operations ------------------------------------------------------------------- */

struct op {
	uint8_t code;
	au_node_id node;
	uint64_t id, token;
	uint32_t inc, caps, want, round, u32a;
	au_time deadline;
	uint8_t flag;
	struct au_task_spec spec;
	const uint8_t *data;
	uint32_t len;
};

/* Decode one operation body; false if malformed. */
static bool decode_op(uint8_t code, const uint8_t *body, size_t len, struct op *o)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, body, len);
	memset(o, 0, sizeof(*o));
	o->code = code;
	switch (code) {
	case OP_ENQ:
		o->spec.id = au_get_u64(&rb);
		o->spec.kind = au_get_u32(&rb);
		o->spec.topic = au_get_u32(&rb);
		o->spec.priority = (int32_t)au_get_u32(&rb);
		o->spec.caps = au_get_u32(&rb);
		o->spec.max_retries = au_get_u32(&rb);
		o->spec.rounds = au_get_u32(&rb);
		o->len = au_get_u32(&rb);
		if (rb.short_read || o->len > AU_TASKQ_PAYLOAD_MAX || o->len > len - rb.pos ||
		    o->spec.id == 0 || o->spec.rounds == 0)
			return false;
		o->data = body + rb.pos;
		rb.pos += o->len;
		/* A task of a job carries its job after the payload (older
		 * encoders write none: job 0). */
		if (len - rb.pos == 8) {
			o->spec.job = au_get_u64(&rb);
			if (o->spec.job == 0)
				return false;
		}
		break;
	case OP_LEASE:
		o->node = au_get_u32(&rb);
		o->inc = au_get_u32(&rb);
		o->caps = au_get_u32(&rb);
		o->want = au_get_u32(&rb);
		o->deadline = (au_time)au_get_u64(&rb);
		break;
	case OP_RENEW:
		o->node = au_get_u32(&rb);
		o->id = au_get_u64(&rb);
		o->token = au_get_u64(&rb);
		o->deadline = (au_time)au_get_u64(&rb);
		break;
	case OP_ACK:
	case OP_CKPT:
		o->node = au_get_u32(&rb);
		o->id = au_get_u64(&rb);
		o->token = au_get_u64(&rb);
		if (code == OP_CKPT)
			o->round = au_get_u32(&rb);
		o->len = au_get_u32(&rb);
		if (rb.short_read || o->len > len - rb.pos ||
		    o->len > (code == OP_ACK ? AU_TASKQ_RESULT_MAX : AU_TASKQ_CKPT_MAX))
			return false;
		o->data = body + rb.pos;
		rb.pos += o->len;
		break;
	case OP_NACK:
	case OP_RELEASE:
		o->node = au_get_u32(&rb);
		o->id = au_get_u64(&rb);
		o->token = au_get_u64(&rb);
		if (code == OP_NACK)
			o->flag = au_get_u8(&rb);
		break;
	case OP_EXPIRE:
		o->id = au_get_u64(&rb);
		o->token = au_get_u64(&rb);
		break;
	case OP_CANCEL:
	case OP_REQUEUE:
		o->id = au_get_u64(&rb);
		if (o->id == 0)
			return false;
		break;
	case OP_NODE:
		o->node = au_get_u32(&rb);
		o->flag = au_get_u8(&rb);
		if (o->flag > AU_TASKQ_NODE_RESUME)
			return false;
		break;
	default:
		return false;
	}
	return !rb.short_read && rb.pos == len;
}

static void do_enqueue(struct au_taskq *q, const struct op *o)
{
	if (taskq_find(q, o->spec.id))
		return; /* idempotent: a resubmitted id is already here */
	struct task_priv *p = taskq_task_alloc(q, o->len);
	struct au_task *t = &p->t;
	t->id = o->spec.id;
	t->kind = o->spec.kind;
	t->topic = o->spec.topic;
	t->priority = o->spec.priority;
	t->caps = o->spec.caps;
	t->max_retries = o->spec.max_retries;
	t->rounds = o->spec.rounds;
	t->job = o->spec.job;
	t->seq = ++q->next_seq;
	t->enqueue_index = q->index;
	t->payload_len = o->len;
	if (o->len)
		memcpy(t->payload, o->data, o->len);
	p->payload_h = taskq_blob_hash(t->payload, t->payload_len);
	p->result_h = taskq_blob_hash(NULL, 0);
	p->ckpt_h = taskq_blob_hash(NULL, 0);
	t->state = AU_TASK_QUEUED;
	q->counts[AU_TASK_QUEUED]++;
	taskq_add_task(q, t);
	touch(q, t); /* its share joins the sum when the digest is read */
	taskq_queue_insert(q, t);
	effect(q, AU_TR_TASKQ_ENQUEUE, (int64_t)t->id, (int64_t)((uint64_t)t->kind << 32 | t->topic),
	       t->rounds);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_ENQUEUED, .index = q->index, .task = t};
	notify(q, &ev);
	if (t->job) {
		taskq_job_add_task(q, t, true);
		/* A task enqueued into a cancelled or failed job never runs. */
		if (taskq_job_stopped(q, t))
			taskq_dead_letter(q, t, taskq_job_stop_reason(q, t));
		else
			taskq_job_update(q, t);
	}
}

/* The lease of t (current, of a task whose job was cancelled or failed)
 * ends because it showed up (`why`: 1 renewal, 2 ack, 3 checkpoint): the
 * task becomes a dead letter. */
static void revoke_lease(struct au_taskq *q, struct au_task *t, uint64_t token, int why)
{
	effect(q, AU_TR_TASKQ_REVOKE, (int64_t)t->id, (int64_t)token, why);
	lease_detach(q, t);
	taskq_dead_letter(q, t, taskq_job_stop_reason(q, t));
}

/* End every lease `node` holds (in id order), as `reason`. */
static void revoke_node(struct au_taskq *q, au_node_id node, uint32_t reason, uint32_t below_inc)
{
	struct nodeinfo *n = taskq_node_get(q, node);
	GPtrArray *victims = g_ptr_array_new();
	GTreeNode *it = g_tree_node_first(n->leases);
	for (; it; it = g_tree_node_next(it)) {
		struct au_task *t = g_tree_node_value(it);
		if (reason != AU_TASKQ_END_REBOOT || t->node_inc < below_inc)
			g_ptr_array_add(victims, t);
	}
	for (guint i = 0; i < victims->len; i++) {
		struct au_task *t = g_ptr_array_index(victims, i);
		uint64_t token = t->token;
		effect(q, AU_TR_TASKQ_EXPIRE, (int64_t)t->id, (int64_t)token, reason);
		taskq_affinity_add(q, node, t->topic, -2);
		lease_end(q, t, true, (enum au_taskq_error)(reason + 1));
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_EXPIRED, .index = q->index, .task = t,
					    .node = node, .token = token, .reason = reason};
		notify(q, &ev);
	}
	g_ptr_array_free(victims, TRUE);
}

/* The queued class to lease from for `node`: the highest priority with a
 * task it can run; within it the topic it has the best affinity for, then
 * the oldest head. */
static struct cls *pick_class(struct au_taskq *q, au_node_id node, uint32_t caps)
{
	struct cls *best = NULL;
	int32_t best_aff = 0;
	uint64_t best_seq = 0;
	for (guint i = 0; i < q->classes->len; i++) {
		struct cls *c = g_ptr_array_index(q->classes, i);
		if (best && c->prio < best->prio)
			break;
		if ((c->caps & ~caps) != 0 || g_tree_nnodes(c->q) == 0)
			continue;
		int32_t aff = affinity_of(q, node, c->topic);
		const struct au_task *head = g_tree_node_value(g_tree_node_first(c->q));
		if (!best || aff > best_aff || (aff == best_aff && head->seq < best_seq)) {
			best = c;
			best_aff = aff;
			best_seq = head->seq;
		}
	}
	return best;
}

static void do_lease(struct au_taskq *q, const struct op *o)
{
	struct nodeinfo *n = taskq_node_get(q, o->node);
	uint32_t granted = 0;
	if (o->inc > n->inc) {
		/* A newer incarnation: what the old one held died with it, and
		 * the node is evidently alive again. */
		revoke_node(q, o->node, AU_TASKQ_END_REBOOT, o->inc);
		n->inc = o->inc;
		if (n->dead) {
			n->dead = false;
			effect(q, AU_TR_TASKQ_NODE, o->node, AU_TASKQ_NODE_ALIVE, 0);
			struct au_taskq_event ev = {.type = AU_TASKQ_EV_NODE, .index = q->index,
						    .node = o->node, .reason = AU_TASKQ_NODE_ALIVE};
			notify(q, &ev);
		}
	}
	bool refuse = o->inc < n->inc || n->dead || n->draining || o->node == 0;
	while (!refuse && granted < o->want && q->grants < AU_TASKQ_GRANTS_MAX) {
		struct cls *c = pick_class(q, o->node, o->caps);
		if (!c)
			break;
		struct au_task *t = g_tree_node_value(g_tree_node_first(c->q));
		g_tree_remove(c->q, &t->seq);
		set_state(q, t, AU_TASK_LEASED);
		t->attempts++;
		t->lease_id = ++q->next_lease_id;
		t->token = q->index << 16 | ++q->grants;
		t->node = o->node;
		t->node_inc = o->inc;
		t->deadline_ns = o->deadline;
		g_tree_insert(n->leases, &t->id, t);
		granted++;
		effect(q, AU_TR_TASKQ_GRANT, (int64_t)t->id, (int64_t)t->token, o->node);
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_GRANTED, .index = q->index, .task = t,
					    .node = o->node, .token = t->token};
		notify(q, &ev);
		taskq_job_update(q, t);
	}
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_LEASE_DONE, .index = q->index,
				    .node = o->node, .want = o->want, .granted = granted};
	notify(q, &ev);
}

static void do_renew(struct au_taskq *q, const struct op *o)
{
	struct au_task *t = current_lease(q, o->id, o->token);
	if (t && t->node == o->node && taskq_job_stopped(q, t)) {
		revoke_lease(q, t, o->token, 1); /* its job was cancelled or failed */
		t = NULL;
	}
	if (!t || t->node != o->node) {
		effect(q, AU_TR_TASKQ_RENEW_LOST, (int64_t)o->id, (int64_t)o->token, o->node);
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_RENEW_LOST, .index = q->index,
					    .task = taskq_find(q, o->id),
					    .node = o->node, .token = o->token};
		notify(q, &ev);
		return;
	}
	if (o->deadline > t->deadline_ns) {
		touch(q, t);
		t->deadline_ns = o->deadline;
	}
	/* Traced so lease_expiry can time the lease from here on the
	 * leader's clock (sim/check_exec.c). */
	effect(q, AU_TR_TASKQ_RENEW, (int64_t)t->id, (int64_t)o->token, o->node);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_RENEWED, .index = q->index, .task = t,
				    .node = o->node, .token = o->token};
	notify(q, &ev);
}

static void do_ack(struct au_taskq *q, const struct op *o)
{
	struct au_task *t = taskq_find(q, o->id);
#ifdef AU_BUG_ACK_NO_TOKEN
	/* Planted bug: any ack of a leased task is accepted, whoever sends it
	 * and whatever lease it held. */
	bool valid = t && t->state == AU_TASK_LEASED;
#else
	bool valid = t && t->state == AU_TASK_LEASED && t->token == o->token;
#endif
	bool refused = false;
#ifndef AU_BUG_CANCEL_IGNORED
	/* The planted bug accepts a result for a cancelled job's task. */
	if (valid && taskq_job_stopped(q, t)) {
		revoke_lease(q, t, o->token, 2); /* refused: its job was cancelled or failed */
		valid = false;
		refused = true;
	}
#endif
	if (!valid) {
		effect(q, AU_TR_TASKQ_ACK_STALE, (int64_t)o->id, (int64_t)o->token, o->node);
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_ACK_STALE, .index = q->index, .task = t,
					    .node = o->node, .token = o->token,
					    .reason = refused ? 2u
						      : t && t->state == AU_TASK_DONE &&
								t->done_token == o->token};
		notify(q, &ev);
		return;
	}
	au_node_id holder = t->node;
	lease_detach(q, t);
	set_state(q, t, AU_TASK_DONE);
	t->done_token = o->token;
	t->done_node = o->node;
	t->result_len = o->len;
	g_free(t->result);
	t->result = o->len ? g_memdup2(o->data, o->len) : NULL;
	priv(t)->result_h = taskq_blob_hash(t->result, t->result_len);
	taskq_affinity_add(q, holder, t->topic, 1);
	effect(q, AU_TR_TASKQ_ACK, (int64_t)t->id, (int64_t)o->token, (int64_t)au_hash_fnv1a(o->data, o->len));
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_ACKED, .index = q->index, .task = t,
				    .node = o->node, .token = o->token};
	notify(q, &ev);
	taskq_job_update(q, t);
}

static void do_nack_release(struct au_taskq *q, const struct op *o)
{
	struct au_task *t = current_lease(q, o->id, o->token);
	if (!t || t->node != o->node)
		return; /* not (any more) this lease: nothing to hand back */
	if (o->code == OP_RELEASE) {
		effect(q, AU_TR_TASKQ_RELEASE, (int64_t)t->id, (int64_t)o->token, 0);
		lease_end(q, t, false, AU_TASKQ_ERR_NONE);
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_RELEASED, .index = q->index, .task = t,
					    .node = o->node, .token = o->token};
		notify(q, &ev);
		return;
	}
	effect(q, AU_TR_TASKQ_NACK, (int64_t)t->id, (int64_t)o->token, o->flag);
	taskq_affinity_add(q, t->node, t->topic, -2);
	if (o->flag) {
		lease_end(q, t, true, AU_TASKQ_ERR_FAILED);
	} else {
		/* Permanent failure: straight to the dead letters. */
		t->retries = t->max_retries + 1;
		t->last_error = AU_TASKQ_ERR_PERMANENT;
		lease_detach(q, t);
		taskq_dead_letter(q, t, taskq_job_stopped(q, t) ? taskq_job_stop_reason(q, t)
								: AU_DEAD_MALFORMED);
	}
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_NACKED, .index = q->index, .task = t,
				    .node = o->node, .token = o->token};
	notify(q, &ev);
}

static void do_expire(struct au_taskq *q, const struct op *o)
{
	struct au_task *t = current_lease(q, o->id, o->token);
	if (!t)
		return; /* acked, released or expired meanwhile */
	au_node_id holder = t->node;
	effect(q, AU_TR_TASKQ_EXPIRE, (int64_t)t->id, (int64_t)o->token, AU_TASKQ_END_TIMEOUT);
	taskq_affinity_add(q, holder, t->topic, -2);
	lease_end(q, t, true, AU_TASKQ_ERR_TIMEOUT);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_EXPIRED, .index = q->index, .task = t,
				    .node = holder, .token = o->token, .reason = AU_TASKQ_END_TIMEOUT};
	notify(q, &ev);
}

static void do_checkpoint(struct au_taskq *q, const struct op *o)
{
	struct au_task *t = current_lease(q, o->id, o->token);
	if (t && t->node == o->node && taskq_job_stopped(q, t)) {
		revoke_lease(q, t, o->token, 3); /* its job was cancelled or failed */
		t = NULL;
	}
	if (!t || t->node != o->node || o->round <= t->ckpt_round || o->round >= t->rounds) {
		struct au_taskq_event ev = {.type = AU_TASKQ_EV_CKPT_STALE, .index = q->index,
					    .task = t, .node = o->node, .token = o->token,
					    .round = o->round};
		notify(q, &ev);
		return;
	}
	touch(q, t);
	t->ckpt_round = o->round;
	t->ckpt_len = o->len;
	g_free(t->ckpt);
	t->ckpt = o->len ? g_memdup2(o->data, o->len) : NULL;
	priv(t)->ckpt_h = taskq_blob_hash(t->ckpt, t->ckpt_len);
	effect(q, AU_TR_TASKQ_CHECKPOINT, (int64_t)t->id, (int64_t)o->token, o->round);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_CHECKPOINT, .index = q->index, .task = t,
				    .node = o->node, .token = o->token, .round = o->round};
	notify(q, &ev);
}

static void do_node(struct au_taskq *q, const struct op *o)
{
	struct nodeinfo *n = taskq_node_get(q, o->node);
	bool change = false;
	switch ((enum au_taskq_node_op)o->flag) {
	case AU_TASKQ_NODE_ALIVE:
		change = n->dead;
		n->dead = false;
		break;
	case AU_TASKQ_NODE_DEAD:
		change = !n->dead;
		n->dead = true;
		break;
	case AU_TASKQ_NODE_DRAIN:
		change = !n->draining;
		n->draining = true;
		break;
	case AU_TASKQ_NODE_RESUME:
		change = n->draining;
		n->draining = false;
		break;
	}
	if (!change)
		return;
	effect(q, AU_TR_TASKQ_NODE, o->node, o->flag, 0);
#ifndef AU_BUG_DEAD_NOT_RECLAIMED
	/* A dead node's leases go back to the queue at once rather than at
	 * their deadlines.  (The planted bug leaves them to expire.) */
	if (o->flag == AU_TASKQ_NODE_DEAD)
		revoke_node(q, o->node, AU_TASKQ_END_NODE_DEAD, 0);
#endif
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_NODE, .index = q->index, .node = o->node,
				    .reason = o->flag};
	notify(q, &ev);
}

/* ---- applying commands ------------------------------------------------------------ */

/* One operation of a command (the validating walk of au_taskq_batch_check):
 * decode it onto the end of the queue's scratch list `ops`, from which
 * au_taskq_apply applies the command once all of it decoded. */
static bool collect_op(void *ctx, uint8_t code, const uint8_t *body, size_t len)
{
	struct au_taskq *q = ctx;
	if (q->n_ops == q->cap_ops) {
		q->cap_ops = q->cap_ops ? q->cap_ops * 2 : 16;
		q->ops = g_renew(struct op, q->ops, q->cap_ops);
	}
	return decode_op(code, body, len, &q->ops[q->n_ops++]);
}

static void apply_op(struct au_taskq *q, const struct op *o)
{
	switch (o->code) {
	case OP_ENQ: do_enqueue(q, o); break;
	case OP_LEASE: do_lease(q, o); break;
	case OP_RENEW: do_renew(q, o); break;
	case OP_ACK: do_ack(q, o); break;
	case OP_NACK:
	case OP_RELEASE: do_nack_release(q, o); break;
	case OP_EXPIRE: do_expire(q, o); break;
	case OP_CKPT: do_checkpoint(q, o); break;
	case OP_NODE: do_node(q, o); break;
	case OP_CANCEL: taskq_do_cancel(q, o->id); break;
	case OP_REQUEUE: taskq_do_requeue(q, o->id); break;
	}
}

int au_taskq_apply(struct au_taskq *q, uint64_t index, const uint8_t *cmd, size_t len)
{
	/* Decoded once: the validating walk keeps the operations (their
	 * blobs point into cmd), and they are applied from that list. */
	q->n_ops = 0;
	int n = au_taskq_batch_check(q->env, AU_TR_TASKQ_ENTRY, index, q->chain, cmd, len,
				     collect_op, q);
	if (n < 0)
		return n;
	assert(index > q->applied);
	assert(q->n_ops == (uint32_t)n);
	q->index = index;
	q->grants = 0;
	for (uint32_t i = 0; i < q->n_ops; i++)
		apply_op(q, &q->ops[i]);
	q->applied = index;
	return n;
}

/* ---- the Raft machine (raft.h) ---------------------------------------------------- */

static void machine_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len, uint8_t *result,
			  size_t *rlen)
{
	(void)result;
	*rlen = 0;
	au_taskq_apply(sm, index, cmd, len);
}

static size_t machine_snapshot(void *sm, uint8_t **out)
{
	return au_taskq_snapshot(sm, out);
}

static size_t machine_snapshot_size(void *sm) { return au_taskq_snapshot_size(sm); }
static void machine_snapshot_write(void *sm, uint8_t *dst) { au_taskq_snapshot_write(sm, dst); }

static void machine_restore(void *sm, const uint8_t *data, size_t len)
{
	struct au_taskq *q = sm;
	if (!au_taskq_restore(q, data, len) && q->env)
		au_trace(q->env, AU_TR_MODEL_BAD_MESSAGE, 0, (int64_t)len, -1);
}

static uint64_t machine_digest(void *sm) { return au_taskq_digest(sm); }
static char *machine_describe(void *sm) { return au_taskq_describe(sm); }

void au_taskq_attach(struct au_taskq *q, struct au_raft *raft)
{
	struct au_raft_machine m = {.sm = q, .apply = machine_apply, .snapshot = machine_snapshot,
				    .snapshot_size = machine_snapshot_size,
				    .snapshot_write = machine_snapshot_write,
				    .restore = machine_restore, .name = "taskq",
				    .digest = machine_digest, .describe = machine_describe};
	au_raft_register_machine(raft, AU_TASKQ_MACHINE, &m);
}

/* ---- lifecycle and queries ------------------------------------------------------------ */

struct au_taskq *au_taskq_new(const struct au_env *env)
{
	struct au_taskq *q = g_new0(struct au_taskq, 1);
	q->env = env;
	q->dead = au_u64_tree(NULL);
	q->jobs = au_u64_tree(taskq_free_job);
	q->classes = g_ptr_array_new_with_free_func(free_cls);
	q->nodes = g_ptr_array_new_with_free_func(free_node);
	q->touched = g_ptr_array_new();
	q->snap.dirty = g_ptr_array_new();
	au_u64map_init(&q->by_id, sizeof(struct au_task *));
	return q;
}

void au_taskq_free(struct au_taskq *q)
{
	if (!q)
		return;
	g_ptr_array_free(q->classes, TRUE);
	g_ptr_array_free(q->nodes, TRUE);
	g_tree_destroy(q->dead);
	taskq_tasks_clear(q);
	g_free(q->tasks.v);
	au_u64map_free(&q->by_id);
	g_free(q->affinity.v);
	g_tree_destroy(q->jobs);
	g_ptr_array_free(q->touched, TRUE);
	taskq_snapcache_free(&q->snap);
	g_free(q->ops);
	g_free(q);
}

int au_taskq_observe(struct au_taskq *q, au_taskq_observer fn, void *ctx)
{
	if (q->n_obs == AU_TASKQ_MAX_OBSERVERS)
		return -AU_ENOMEM;
	q->obs[q->n_obs].fn = fn;
	q->obs[q->n_obs].ctx = ctx;
	q->n_obs++;
	return 0;
}

const struct au_task *au_taskq_get(const struct au_taskq *q, uint64_t id)
{
	return taskq_find(q, id);
}

void au_taskq_counts(const struct au_taskq *q, uint64_t counts[4])
{
	memcpy(counts, q->counts, sizeof(q->counts));
}

uint32_t au_taskq_node_leases(const struct au_taskq *q, au_node_id node)
{
	const struct nodeinfo *n = node_peek(q, node);
	return n ? (uint32_t)g_tree_nnodes(n->leases) : 0;
}

bool au_taskq_node_dead(const struct au_taskq *q, au_node_id node)
{
	const struct nodeinfo *n = node_peek(q, node);
	return n && n->dead;
}

bool au_taskq_node_draining(const struct au_taskq *q, au_node_id node)
{
	const struct nodeinfo *n = node_peek(q, node);
	return n && n->draining;
}

uint32_t au_taskq_node_inc(const struct au_taskq *q, au_node_id node)
{
	const struct nodeinfo *n = node_peek(q, node);
	return n ? n->inc : 0;
}

int32_t au_taskq_affinity(const struct au_taskq *q, au_node_id node, uint32_t topic)
{
	return affinity_of(q, node, topic);
}

struct each_ctx {
	bool (*fn)(void *ctx, const struct au_task *t);
	void *ctx;
};

static gboolean each_cb(gpointer k, gpointer v, gpointer data)
{
	(void)k;
	struct each_ctx *e = data;
	return !e->fn(e->ctx, v);
}

void au_taskq_each_lease(const struct au_taskq *q, bool (*fn)(void *ctx, const struct au_task *t),
			 void *ctx)
{
	struct each_ctx e = {fn, ctx};
	for (guint i = 0; i < q->nodes->len; i++) {
		const struct nodeinfo *n = g_ptr_array_index(q->nodes, i);
		if (!n)
			continue;
		bool stopped = false;
		for (GTreeNode *it = g_tree_node_first(n->leases); it && !stopped;
		     it = g_tree_node_next(it))
			stopped = each_cb(NULL, g_tree_node_value(it), &e);
		if (stopped)
			return;
	}
}

void au_taskq_each_node_lease(const struct au_taskq *q, au_node_id node,
			      bool (*fn)(void *ctx, const struct au_task *t), void *ctx)
{
	const struct nodeinfo *n = node_peek(q, node);
	for (GTreeNode *it = n ? g_tree_node_first(n->leases) : NULL; it; it = g_tree_node_next(it))
		if (!fn(ctx, g_tree_node_value(it)))
			return;
}

void au_taskq_each(const struct au_taskq *q, bool (*fn)(void *ctx, const struct au_task *t),
		   void *ctx)
{
	struct au_task **copy;
	struct au_task *const *v = taskq_tasks_ordered(q, &copy);
	for (uint32_t i = 0; i < q->tasks.n; i++)
		if (!fn(ctx, v[i]))
			break;
	g_free(copy);
}

uint64_t au_taskq_chain(const struct au_taskq *q) { return q->chain; }
uint64_t au_taskq_applied_index(const struct au_taskq *q) { return q->applied; }
