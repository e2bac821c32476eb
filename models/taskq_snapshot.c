/* taskq_snapshot.c — the task queue's whole state at once: the snapshot
 * Raft keeps (au_taskq_snapshot, au_taskq_restore), the order-independent
 * state digest replicas are compared by, and the state as text (see
 * taskq.c for the state itself).
 */
#include "taskq.h"

#include <assert.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "models_internal.h"
#include "taskq_internal.h"
#include "wire.h"

#define SNAP_MAGIC 0x51534b54u /* "TKSQ" */
#define SNAP_VERSION 1u

/* Fixed fields of a task in a snapshot: 7 u64, 13 u32, 3 blob lengths. */
#define SNAP_TASK_FIXED (7 * 8 + 13 * 4 + 3 * 4)
/* A jobs-section task record (taskq_jobs_put_ext). */
#define SNAP_EXT_LEN 22
/* A job in the jobs section (taskq_jobs_snapshot). */
#define SNAP_JOB_LEN 28

static uint8_t *put_blob(uint8_t *w, const uint8_t *p, uint32_t n)
{
	w = taskq_le(w, n, 4);
	if (n)
		memcpy(w, p, n);
	return w + n;
}

static uint32_t task_len(const struct au_task *t)
{
	return SNAP_TASK_FIXED + t->payload_len + t->result_len + t->ckpt_len;
}

/* Append t's record to rec. */
static void put_task(struct taskq_sbuf *rec, const struct au_task *t)
{
	uint8_t *w = taskq_sbuf_room(rec, task_len(t));
	w = taskq_le(w, t->id, 8);
	w = taskq_le(w, t->kind, 4);
	w = taskq_le(w, t->topic, 4);
	w = taskq_le(w, t->caps, 4);
	w = taskq_le(w, t->max_retries, 4);
	w = taskq_le(w, t->rounds, 4);
	w = taskq_le(w, (uint32_t)t->priority, 4);
	w = taskq_le(w, t->state, 4);
	w = taskq_le(w, t->retries, 4);
	w = taskq_le(w, t->attempts, 4);
	w = taskq_le(w, t->seq, 8);
	w = taskq_le(w, t->enqueue_index, 8);
	w = taskq_le(w, t->lease_id, 8);
	w = taskq_le(w, t->token, 8);
	w = taskq_le(w, t->node, 4);
	w = taskq_le(w, t->node_inc, 4);
	w = taskq_le(w, (uint64_t)t->deadline_ns, 8);
	w = taskq_le(w, t->done_token, 8);
	w = taskq_le(w, t->done_node, 4);
	w = taskq_le(w, t->ckpt_round, 4);
	w = put_blob(w, t->payload, t->payload_len);
	w = put_blob(w, t->result, t->result_len);
	put_blob(w, t->ckpt, t->ckpt_len);
}


static uint32_t known_nodes(const struct au_taskq *q)
{
	uint32_t nn = 0;
	for (guint i = 0; i < q->nodes->len; i++)
		nn += g_ptr_array_index(q->nodes, i) != NULL;
	return nn;
}

/* Everything before the task records: header, nodes, affinity scores,
 * the task count. */
static void put_head(struct au_taskq *q, struct taskq_sbuf *b)
{
	uint8_t *w = taskq_sbuf_room(b, 40);
	w = taskq_le(w, SNAP_MAGIC, 4);
	w = taskq_le(w, SNAP_VERSION, 4);
	w = taskq_le(w, q->next_seq, 8);
	w = taskq_le(w, q->next_lease_id, 8);
	w = taskq_le(w, q->chain, 8);
	taskq_le(w, q->applied, 8);
	taskq_le(taskq_sbuf_room(b, 4), known_nodes(q), 4);
	for (guint i = 0; i < q->nodes->len; i++) {
		const struct nodeinfo *n = g_ptr_array_index(q->nodes, i);
		if (!n)
			continue;
		w = taskq_sbuf_room(b, 12);
		w = taskq_le(w, i, 4);
		w = taskq_le(w, n->inc, 4);
		taskq_le(w, (uint32_t)n->dead | (uint32_t)n->draining << 1, 4);
	}
	const struct taskq_affs *as = &q->affinity;
	w = taskq_sbuf_room(b, 4 + 12 * (size_t)as->n);
	w = taskq_le(w, as->n, 4);
	for (uint32_t i = 0; i < as->n; i++) {
		w = taskq_le(w, as->v[i].key, 8);
		w = taskq_le(w, (uint32_t)as->v[i].score, 4);
	}
	taskq_le(taskq_sbuf_room(b, 4), q->tasks.n, 4);
}

size_t taskq_snapshot_full(struct au_taskq *q, uint8_t **out)
{
	/* Sized for the usual task (fixed fields and a short payload), so a
	 * large queue's snapshot is not built by repeated reallocation. */
	struct taskq_sbuf b = {0}, ext = {0};
	taskq_sbuf_room(&b, 64 + 16 * (size_t)q->nodes->len +
				    12 * (size_t)q->affinity.n +
				    200 * (size_t)q->tasks.n);
	b.len = 0;
	put_head(q, &b);
	uint32_t n_ext = 0;
	struct au_task *const *v = taskq_tasks_sort(q);
	for (uint32_t i = 0; i < q->tasks.n; i++) {
		const struct au_task *t = v[i];
		put_task(&b, t);
		if (taskq_has_ext(t)) {
			taskq_jobs_put_ext(&ext, t);
			n_ext++;
		}
	}
	taskq_jobs_snapshot(q, &b, &ext, n_ext);
	free(ext.p);
	*out = b.p;
	return b.len;
}

void taskq_snapcache_reset(struct taskq_snapcache *c)
{
	c->valid = false;
	c->n = 0;
	c->rec.len = 0;
	g_ptr_array_set_size(c->dirty, 0); /* tasks that may be gone: not looked at */
}

void taskq_snapcache_free(struct taskq_snapcache *c)
{
	free(c->rec.p);
	free(c->spare.p);
	free(c->ext.p);
	g_free(c->idx);
	g_free(c->spare_idx);
	g_ptr_array_free(c->dirty, TRUE);
}

/* Spare records of capacity >= n, emptied: its old bytes are not needed,
 * so a larger buffer is allocated afresh rather than realloc'd (which
 * would copy them). */
static void spare_reset(struct taskq_sbuf *b, size_t n)
{
	if (n > b->cap) {
		free(b->p);
		b->cap = n + n / 4;
		b->p = malloc(b->cap);
		if (!b->p)
			abort();
	}
	b->len = 0;
}

/* Room for n index entries in the spare index. */
static void spare_idx_room(struct taskq_snapcache *c, uint32_t n)
{
	if (n > c->spare_cap) {
		c->spare_cap = n + n / 2 + 16;
		g_free(c->spare_idx); /* nothing in it is kept */
		c->spare_idx = g_new(struct taskq_snaprec, c->spare_cap);
	}
}

/* Encode t at the end of the spare records; its index entry is e. */
static void encode_into_spare(struct taskq_snapcache *c, const struct au_task *t,
			      struct taskq_snaprec *e)
{
	e->id = t->id;
	e->job = t->job;
	e->off = c->spare.len;
	e->len = task_len(t);
	e->requeues = t->requeues;
	e->dead_reason = t->dead_reason;
	e->last_error = t->last_error;
	e->ext = taskq_has_ext(t);
	put_task(&c->spare, t);
}

/* Old entries [from, to) and their records, to the end of the spare ones. */
static void copy_run(struct taskq_snapcache *c, uint32_t from, uint32_t to, uint32_t *w)
{
	if (from == to)
		return;
	size_t start = c->idx[from].off;
	size_t end = to < c->n ? c->idx[to].off : c->rec.len;
	uint8_t *dst = taskq_sbuf_room(&c->spare, end - start);
	memcpy(dst, c->rec.p + start, end - start);
	size_t shift = (size_t)(dst - c->spare.p) - start; /* modulo arithmetic: may "wrap" */
	for (uint32_t i = from; i < to; i++) {
		c->spare_idx[*w] = c->idx[i];
		c->spare_idx[*w].off += shift;
		(*w)++;
	}
}

static int cmp_task_id(const void *a, const void *b)
{
	uint64_t x = (*(const struct task_priv *const *)a)->t.id;
	uint64_t y = (*(const struct task_priv *const *)b)->t.id;
	return x < y ? -1 : x > y;
}

/* The first old entry in [lo, n) whose id is >= id. */
static uint32_t idx_lower_bound(const struct taskq_snapcache *c, uint32_t lo, uint64_t id)
{
	uint32_t hi = c->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->idx[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bring the cache up to date with the tasks. */
static void snapcache_update(struct au_taskq *q)
{
	struct taskq_snapcache *c = &q->snap;
	uint32_t ntasks = q->tasks.n;
	spare_idx_room(c, ntasks);
	uint32_t w = 0;
	if (!c->valid) {
		/* Every task, in id order. */
		spare_reset(&c->spare, c->rec.cap > 64 ? c->rec.cap : 64);
		struct au_task *const *v = taskq_tasks_sort(q);
		for (uint32_t i = 0; i < ntasks; i++) {
			struct task_priv *p = (struct task_priv *)v[i];
			p->snap_dirty = false;
			encode_into_spare(c, &p->t, &c->spare_idx[w++]);
		}
		g_ptr_array_set_size(c->dirty, 0);
		c->valid = true;
	} else {
		/* The old records in runs between the dirty tasks (id order),
		 * each dirty one encoded again in its place. */
		GPtrArray *d = c->dirty;
		if (d->len == 0)
			return;
		qsort(d->pdata, d->len, sizeof(gpointer), cmp_task_id);
		size_t grow = 0;
		for (guint k = 0; k < d->len; k++)
			grow += task_len(&((struct task_priv *)g_ptr_array_index(d, k))->t);
		spare_reset(&c->spare, c->rec.len + grow);
		uint32_t i = 0;
		for (guint k = 0; k < d->len; k++) {
			struct task_priv *p = g_ptr_array_index(d, k);
			uint32_t at = idx_lower_bound(c, i, p->t.id);
			copy_run(c, i, at, &w);
			encode_into_spare(c, &p->t, &c->spare_idx[w++]);
			i = at < c->n && c->idx[at].id == p->t.id ? at + 1 : at;
			p->snap_dirty = false;
		}
		copy_run(c, i, c->n, &w);
		g_ptr_array_set_size(d, 0);
	}
	assert(w == ntasks);
	struct taskq_sbuf tb = c->rec;
	c->rec = c->spare;
	c->spare = tb;
	struct taskq_snaprec *ti = c->idx;
	c->idx = c->spare_idx;
	c->spare_idx = ti;
	uint32_t tc = c->cap;
	c->cap = c->spare_cap;
	c->spare_cap = tc;
	c->n = w;
}

size_t au_taskq_snapshot_size(struct au_taskq *q)
{
	snapcache_update(q);
	struct taskq_snapcache *c = &q->snap;
	/* The jobs-section records of the tasks that have one. */
	c->ext.len = 0;
	uint32_t n_ext = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct taskq_snaprec *e = &c->idx[i];
		if (!e->ext)
			continue;
		uint8_t *w = taskq_sbuf_room(&c->ext, SNAP_EXT_LEN);
		w = taskq_le(w, e->id, 8);
		w = taskq_le(w, e->job, 8);
		w = taskq_le(w, e->dead_reason, 1);
		w = taskq_le(w, e->last_error, 1);
		taskq_le(w, e->requeues, 4);
		n_ext++;
	}
	uint32_t njobs = (uint32_t)g_tree_nnodes(q->jobs);
	size_t jobs = n_ext || njobs ? 8 + c->ext.len + 4 + (size_t)SNAP_JOB_LEN * njobs : 0;
	c->out_n_ext = n_ext;
	c->out_len = 40 + 4 + 12 * (size_t)known_nodes(q) + 4 +
		     12 * (size_t)q->affinity.n + 4 + c->rec.len + jobs;
	return c->out_len;
}

void au_taskq_snapshot_write(struct au_taskq *q, uint8_t *dst)
{
	const struct taskq_snapcache *c = &q->snap;
	/* A full buffer of exactly the size counted: never grown. */
	struct taskq_sbuf b = {dst, 0, c->out_len, true};
	put_head(q, &b);
	if (c->rec.len)
		memcpy(taskq_sbuf_room(&b, c->rec.len), c->rec.p, c->rec.len);
	taskq_jobs_snapshot(q, &b, &c->ext, c->out_n_ext);
	assert(b.p == dst && b.len == c->out_len);
}

size_t au_taskq_snapshot(struct au_taskq *q, uint8_t **out)
{
	size_t len = au_taskq_snapshot_size(q);
	*out = malloc(len);
	if (!*out)
		abort();
	au_taskq_snapshot_write(q, *out);
	return len;
}

/* Restoring: the index entry of the task record at off (from the start
 * of the records), len bytes. */
static void seed_entry(struct taskq_snapcache *c, uint64_t id, size_t off, uint32_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->idx = g_renew(struct taskq_snaprec, c->idx, c->cap);
	}
	struct taskq_snaprec *e = &c->idx[c->n++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->off = off;
	e->len = len;
}

/* A restored queue's cache c (indexed by seed_entry) takes the
 * snapshot's task records (len bytes at recs, one per task of `tasks` in
 * id order): a record read back is written again byte for byte, so the
 * next snapshot need not encode the tasks again. */
static void seed_cache(struct taskq_snapcache *c, struct au_taskq *q, const uint8_t *recs,
		       size_t len)
{
	assert(c->n == q->tasks.n);
	c->rec.len = 0;
	if (len)
		memcpy(taskq_sbuf_room(&c->rec, len), recs, len);
	struct au_task *const *v = taskq_tasks_sort(q);
	for (uint32_t i = 0; i < c->n; i++) {
		const struct au_task *t = v[i];
		struct taskq_snaprec *e = &c->idx[i];
		assert(e->id == t->id);
		e->job = t->job;
		e->requeues = t->requeues;
		e->dead_reason = t->dead_reason;
		e->last_error = t->last_error;
		e->ext = taskq_has_ext(t);
	}
	c->valid = true;
}

static bool get_blob(struct au_rbuf *rb, uint8_t **p, uint32_t *n, uint32_t max)
{
	*n = au_get_u32(rb);
	*p = NULL;
	if (rb->short_read || *n > max || *n > rb->len - rb->pos)
		return false;
	if (*n) {
		*p = g_memdup2(rb->p + rb->pos, *n);
		rb->pos += *n;
	}
	return true;
}

/* Empty every container (keeps observers and env). */
static void clear_state(struct au_taskq *q)
{
	g_ptr_array_set_size(q->classes, 0);
	g_ptr_array_set_size(q->nodes, 0);
	g_tree_destroy(q->dead);
	q->dead = au_u64_tree(NULL);
	taskq_tasks_clear(q);
	q->affinity.n = 0;
	g_tree_destroy(q->jobs);
	q->jobs = au_u64_tree(taskq_free_job);
	memset(q->counts, 0, sizeof(q->counts));
	q->next_seq = q->next_lease_id = q->chain = q->applied = 0;
	q->task_sum = q->aff_sum = 0;
	g_ptr_array_set_size(q->touched, 0); /* those tasks are gone with their shares */
}

bool au_taskq_restore(struct au_taskq *q, const uint8_t *data, size_t len)
{
	/* Parse into a scratch queue first: a corrupt snapshot changes nothing. */
	struct au_taskq *s = au_taskq_new(NULL);
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	bool ok = au_get_u32(&rb) == SNAP_MAGIC && au_get_u32(&rb) == SNAP_VERSION;
	s->next_seq = au_get_u64(&rb);
	s->next_lease_id = au_get_u64(&rb);
	s->chain = au_get_u64(&rb);
	s->applied = au_get_u64(&rb);
	uint32_t nn = au_get_u32(&rb);
	for (uint32_t i = 0; ok && i < nn && !rb.short_read; i++) {
		uint32_t id = au_get_u32(&rb), inc = au_get_u32(&rb), flags = au_get_u32(&rb);
		if (id == 0 || id > 1000000u) {
			ok = false;
			break;
		}
		struct nodeinfo *n = taskq_node_get(s, id);
		n->inc = inc;
		n->dead = flags & 1;
		n->draining = (flags >> 1) & 1;
	}
	uint32_t na = au_get_u32(&rb);
	for (uint32_t i = 0; ok && i < na && !rb.short_read; i++) {
		uint64_t key = au_get_u64(&rb);
		int32_t score = (int32_t)au_get_u32(&rb);
		taskq_affinity_add(s, (au_node_id)(key >> 32), (uint32_t)key, score);
	}
	uint32_t nt = au_get_u32(&rb);
	/* The task records are kept as the snapshot cache's (seed_cache) if
	 * they come in id order, as every snapshot writes them. */
	size_t sec = rb.pos;
	bool in_order = true;
	uint64_t prev_id = 0;
	for (uint32_t i = 0; ok && i < nt && !rb.short_read; i++) {
		/* The fixed fields, then the task (with its payload inline). */
		struct task_priv f = {0};
		struct au_task *t = &f.t;
		size_t start = rb.pos;
		t->id = au_get_u64(&rb);
		t->kind = au_get_u32(&rb);
		t->topic = au_get_u32(&rb);
		t->caps = au_get_u32(&rb);
		t->max_retries = au_get_u32(&rb);
		t->rounds = au_get_u32(&rb);
		t->priority = (int32_t)au_get_u32(&rb);
		uint32_t state = au_get_u32(&rb);
		t->retries = au_get_u32(&rb);
		t->attempts = au_get_u32(&rb);
		t->seq = au_get_u64(&rb);
		t->enqueue_index = au_get_u64(&rb);
		t->lease_id = au_get_u64(&rb);
		t->token = au_get_u64(&rb);
		t->node = au_get_u32(&rb);
		t->node_inc = au_get_u32(&rb);
		t->deadline_ns = (au_time)au_get_u64(&rb);
		t->done_token = au_get_u64(&rb);
		t->done_node = au_get_u32(&rb);
		t->ckpt_round = au_get_u32(&rb);
		uint32_t plen = au_get_u32(&rb);
		if (rb.short_read || plen > AU_TASKQ_PAYLOAD_MAX || plen > rb.len - rb.pos) {
			ok = false;
			break;
		}
		struct task_priv *p = taskq_task_alloc(s, plen);
		uint8_t *payload = p->t.payload;
		*p = f;
		t = &p->t;
		t->payload = payload;
		t->payload_len = plen;
		if (plen)
			memcpy(payload, rb.p + rb.pos, plen);
		rb.pos += plen;
		bool blobs = get_blob(&rb, &t->result, &t->result_len, AU_TASKQ_RESULT_MAX) &&
			     get_blob(&rb, &t->ckpt, &t->ckpt_len, AU_TASKQ_CKPT_MAX);
		if (!blobs || rb.short_read || state > AU_TASK_DEAD || t->id == 0 ||
		    taskq_find(s, t->id) || (state == AU_TASK_LEASED && t->node == 0)) {
			taskq_free_task(t);
			ok = false;
			break;
		}
		t->state = (uint8_t)state;
		in_order = in_order && t->id > prev_id;
		prev_id = t->id;
		if (in_order)
			seed_entry(&s->snap, t->id, start - sec, (uint32_t)(rb.pos - start));
		s->counts[state]++;
		taskq_add_task(s, t);
		p->payload_h = taskq_blob_hash(t->payload, t->payload_len);
		p->result_h = taskq_blob_hash(t->result, t->result_len);
		p->ckpt_h = taskq_blob_hash(t->ckpt, t->ckpt_len);
		p->share = taskq_task_hash(p);
		s->task_sum += p->share;
		if (state == AU_TASK_QUEUED)
			taskq_queue_insert(s, t);
		else if (state == AU_TASK_LEASED)
			g_tree_insert(taskq_node_get(s, t->node)->leases, &t->id, t);
		else if (state == AU_TASK_DEAD)
			g_tree_insert(s->dead, &t->id, t);
	}
	size_t sec_end = rb.pos;
	ok = ok && !rb.short_read && taskq_jobs_restore(s, &rb);
	ok = ok && !rb.short_read && rb.pos == len;
	if (!ok) {
		au_taskq_free(s);
		return false;
	}
	/* Swap the containers in. */
	clear_state(q);
	GTree *tj = q->jobs;
	struct taskq_affs ta = q->affinity;
	struct taskq_tasks tt = q->tasks;
	struct au_u64map tb = q->by_id;
	GTree *td = q->dead;
	q->dead = s->dead;
	s->dead = td;
	GPtrArray *tc = q->classes, *tn = q->nodes;
	q->by_id = s->by_id;
	s->by_id = tb;
	q->tasks = s->tasks;
	q->arena = s->arena; /* q's own was freed with its tasks */
	memset(&s->arena, 0, sizeof(s->arena));
	q->affinity = s->affinity;
	q->jobs = s->jobs;
	s->jobs = tj;
	q->classes = s->classes;
	q->nodes = s->nodes;
	s->tasks = tt;
	s->affinity = ta;
	s->classes = tc;
	s->nodes = tn;
	memcpy(q->counts, s->counts, sizeof(q->counts));
	q->next_seq = s->next_seq;
	q->next_lease_id = s->next_lease_id;
	q->chain = s->chain;
	q->applied = s->applied;
	q->task_sum = s->task_sum;
	q->aff_sum = s->aff_sum;
	taskq_snapcache_reset(&q->snap); /* its tasks are gone */
	if (in_order) {
		seed_cache(&s->snap, q, data + sec, sec_end - sec);
		struct taskq_snapcache tc = q->snap;
		q->snap = s->snap;
		s->snap = tc;
	}
	au_taskq_free(s);
	return true;
}

uint64_t au_taskq_digest(struct au_taskq *q)
{
	taskq_settle_touched(q);
	uint64_t h = au_digest_add(q->task_sum, (uint64_t)q->tasks.n);
	h = au_digest_add(h, q->aff_sum);
	h = au_digest_add(h, (uint64_t)q->affinity.n);
	for (guint i = 0; i < q->nodes->len; i++) {
		const struct nodeinfo *n = g_ptr_array_index(q->nodes, i);
		if (n)
			h = au_digest_add(h, (uint64_t)i << 40 | (uint64_t)n->inc << 2 |
						     (uint64_t)n->dead | (uint64_t)n->draining << 1);
	}
	h = au_digest_add(h, q->next_seq);
	h = au_digest_add(h, q->next_lease_id);
	h = au_digest_add(h, q->chain);
	if (g_tree_nnodes(q->jobs))
		h = au_digest_add(h, taskq_jobs_digest(q));
	return au_digest_add(h, q->applied);
}

static const char *const state_names[] = {"queued", "leased", "done", "dead"};

static void describe_task(const struct task_priv *p, GString *data)
{
	const struct au_task *t = &p->t;
	g_string_append_printf(data, "task %llu: state=%s retries=%u attempts=%u seq=%llu "
			       "enqueued=%llu lease=%llu token=%llu node=n%u inc=%u deadline=%lld "
			       "done_token=%llu done_node=n%u ckpt_round=%u kind=%u topic=%u "
			       "prio=%d caps=%u max_retries=%u rounds=%u payload=%016llx "
			       "result=%016llx ckpt=%016llx job=%llu dead_reason=%s last_error=%s "
			       "requeues=%u\n",
			       (unsigned long long)t->id, state_names[t->state & 3], t->retries,
			       t->attempts, (unsigned long long)t->seq,
			       (unsigned long long)t->enqueue_index, (unsigned long long)t->lease_id,
			       (unsigned long long)t->token, t->node, t->node_inc,
			       (long long)t->deadline_ns, (unsigned long long)t->done_token,
			       t->done_node, t->ckpt_round, t->kind, t->topic, t->priority, t->caps,
			       t->max_retries, t->rounds, (unsigned long long)p->payload_h,
			       (unsigned long long)p->result_h, (unsigned long long)p->ckpt_h,
			       (unsigned long long)t->job, au_taskq_dead_reason_name(t->dead_reason),
			       au_taskq_error_name(t->last_error), t->requeues);
}


char *au_taskq_describe(const struct au_taskq *q)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "queue: next_seq=%llu next_lease=%llu chain=%016llx "
			       "applied=%llu tasks=%d\n", (unsigned long long)q->next_seq,
			       (unsigned long long)q->next_lease_id, (unsigned long long)q->chain,
			       (unsigned long long)q->applied, (int)q->tasks.n);
	for (guint i = 0; i < q->nodes->len; i++) {
		const struct nodeinfo *n = g_ptr_array_index(q->nodes, i);
		if (n)
			g_string_append_printf(out, "node n%u: inc=%u dead=%d draining=%d\n", i, n->inc,
					       n->dead, n->draining);
	}
	for (uint32_t i = 0; i < q->affinity.n; i++) {
		const struct affinity *a = &q->affinity.v[i];
		g_string_append_printf(out, "affinity n%u topic %u: score=%d\n",
				       (unsigned)(a->key >> 32), (unsigned)(uint32_t)a->key, a->score);
	}
	struct au_task **copy;
	struct au_task *const *v = taskq_tasks_ordered(q, &copy);
	for (uint32_t i = 0; i < q->tasks.n; i++)
		describe_task((const struct task_priv *)v[i], out);
	g_free(copy);
	taskq_jobs_describe(q, out);
	return g_string_free(out, FALSE);
}
