/* lock.c — the replicated lock machine (see lock.h).
 *
 * State: one record per key ever locked, in a GTree by key (iteration in
 * key order).  Commands use the task queue's batch format (taskq.h) with
 * their own operation codes; a command is validated whole before any of
 * it is applied.
 */
#include "lock.h"

#include <assert.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "hashes.h"
#include "models_internal.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"

enum { OP_LOCK = 1, OP_UNLOCK, OP_EXPIRE, OP_WRITE };

#define SNAP_MAGIC 0x4b434f4cu /* "LOCK" */
#define MAX_OBS 4u

struct lk {
	uint64_t key;
	uint64_t holder;  /* owner, 0: free */
	uint64_t token;
	au_time deadline_ns;
	int64_t value;
};

struct au_locks {
	const struct au_env *env;
	GTree *keys; /* &lk->key -> struct lk (owned) */
	uint64_t sum; /* sum of lk_hash() over `keys`: the state digest's records */
	uint64_t chain, applied, index;
	uint32_t grants;
	struct {
		au_lock_observer fn;
		void *ctx;
	} obs[MAX_OBS];
	uint32_t n_obs;
};

struct op {
	uint8_t code;
	uint64_t key, owner, token;
	au_time deadline;
	int64_t value;
};

static void effect(struct au_locks *l, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	l->chain = au_hash_effect(l->chain, kind, a, b, c);
	if (l->env)
		au_trace(l->env, kind, a, b, c);
}

static void notify(struct au_locks *l, const struct au_lock_event *ev)
{
	for (uint32_t i = 0; i < l->n_obs; i++)
		l->obs[i].fn(l->obs[i].ctx, ev);
}

/* One key's share of the state digest: every field a snapshot keeps. */
static uint64_t lk_hash(const struct lk *k)
{
	uint64_t h = au_digest_add(UINT64_C(0x4c4b), k->key);
	h = au_digest_add(h, k->holder);
	h = au_digest_add(h, k->token);
	h = au_digest_add(h, (uint64_t)k->deadline_ns);
	return au_digest_add(h, (uint64_t)k->value);
}

static struct lk *key_get(struct au_locks *l, uint64_t key)
{
	struct lk *k = g_tree_lookup(l->keys, &key);
	if (!k) {
		k = g_new0(struct lk, 1);
		k->key = key;
		g_tree_insert(l->keys, &k->key, k);
		l->sum += lk_hash(k);
	}
	return k;
}

static bool decode_op(uint8_t code, const uint8_t *body, size_t len, struct op *o)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, body, len);
	memset(o, 0, sizeof(*o));
	o->code = code;
	o->key = au_get_u64(&rb);
	switch (code) {
	case OP_LOCK:
		o->owner = au_get_u64(&rb);
		o->deadline = (au_time)au_get_u64(&rb);
		if (o->owner == 0)
			return false;
		break;
	case OP_UNLOCK:
	case OP_EXPIRE:
		o->token = au_get_u64(&rb);
		break;
	case OP_WRITE:
		o->owner = au_get_u64(&rb);
		o->token = au_get_u64(&rb);
		o->value = (int64_t)au_get_u64(&rb);
		break;
	default:
		return false;
	}
	return !rb.short_read && rb.pos == len;
}

static void do_op_on(struct au_locks *l, struct lk *k, const struct op *o);

/* Apply one operation, keeping the digest: the key's old share out, its
 * new one in. */
static void do_op(struct au_locks *l, const struct op *o)
{
	struct lk *k = key_get(l, o->key);
	l->sum -= lk_hash(k);
	do_op_on(l, k, o);
	l->sum += lk_hash(k);
}

static void do_op_on(struct au_locks *l, struct lk *k, const struct op *o)
{
	struct au_lock_event ev = {.index = l->index, .key = o->key, .owner = o->owner,
				   .token = o->token};
	switch (o->code) {
	case OP_LOCK:
		if (k->holder && k->holder != o->owner) {
			ev.type = AU_LOCK_EV_BUSY;
			notify(l, &ev);
			return;
		}
		if (!k->holder) {
			k->holder = o->owner;
			k->token = l->index << 16 | ++l->grants;
			k->deadline_ns = o->deadline;
			effect(l, AU_TR_LOCK_GRANT, (int64_t)o->key, (int64_t)k->token,
			       (int64_t)(o->owner >> 32));
		} else {
			/* The holder asked again: a renewal (the leader times the
			 * lock from here on its own clock). */
			if (o->deadline > k->deadline_ns)
				k->deadline_ns = o->deadline;
			effect(l, AU_TR_LOCK_RENEW, (int64_t)o->key, (int64_t)k->token,
			       (int64_t)(o->owner >> 32));
		}
		ev.type = AU_LOCK_EV_GRANTED;
		ev.token = k->token;
		notify(l, &ev);
		return;
	case OP_UNLOCK:
	case OP_EXPIRE:
		if (!k->holder || k->token != o->token)
			return;
		ev.type = AU_LOCK_EV_RELEASED;
		ev.owner = k->holder;
		ev.reason = o->code == OP_EXPIRE;
		k->holder = 0;
		effect(l, AU_TR_LOCK_RELEASE, (int64_t)o->key, (int64_t)o->token, ev.reason);
		notify(l, &ev);
		return;
	case OP_WRITE: {
#ifdef AU_BUG_LOCK_NO_FENCE
		/* Planted bug: any write to a held key is accepted. */
		bool ok = k->holder != 0;
#else
		bool ok = k->holder != 0 && k->token == o->token;
#endif
		if (ok)
			k->value = o->value;
		effect(l, AU_TR_LOCK_WRITE, (int64_t)o->key, (int64_t)o->token, ok);
		ev.type = AU_LOCK_EV_WRITE;
		ev.value = o->value;
		ev.accepted = ok;
		notify(l, &ev);
		return;
	}
	}
}

/* One operation of a command (au_taskq_batch_walk): decode it, and apply
 * it unless `ctx` (the machine) is NULL, which only validates. */
static bool walk_op(void *ctx, uint8_t code, const uint8_t *body, size_t len)
{
	struct op o;
	if (!decode_op(code, body, len, &o))
		return false;
	if (ctx)
		do_op(ctx, &o);
	return true;
}

int au_locks_apply(struct au_locks *l, uint64_t index, const uint8_t *cmd, size_t len)
{
	int n = au_taskq_batch_check(l->env, AU_TR_LOCK_ENTRY, index, l->chain, cmd, len, walk_op,
				     NULL);
	if (n < 0)
		return n;
	assert(index > l->applied);
	l->index = index;
	l->grants = 0;
	au_taskq_batch_walk(cmd, len, walk_op, l);
	l->applied = index;
	return n;
}

static void machine_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len, uint8_t *result,
			  size_t *rlen)
{
	(void)result;
	*rlen = 0;
	au_locks_apply(sm, index, cmd, len);
}

static gboolean snap_key(gpointer k, gpointer v, gpointer data)
{
	(void)k;
	const struct lk *x = v;
	uint8_t b[40];
	struct au_wbuf w;
	au_wbuf_init(&w, b, sizeof(b));
	au_put_u64(&w, x->key);
	au_put_u64(&w, x->holder);
	au_put_u64(&w, x->token);
	au_put_u64(&w, (uint64_t)x->deadline_ns);
	au_put_u64(&w, (uint64_t)x->value);
	g_byte_array_append(data, b, (guint)w.len);
	return FALSE;
}

size_t au_locks_snapshot(struct au_locks *l, uint8_t **out)
{
	GByteArray *b = g_byte_array_new();
	uint8_t h[28];
	struct au_wbuf w;
	au_wbuf_init(&w, h, sizeof(h));
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, l->chain);
	au_put_u64(&w, l->applied);
	au_put_u32(&w, (uint32_t)g_tree_nnodes(l->keys));
	g_byte_array_append(b, h, (guint)w.len);
	g_tree_foreach(l->keys, snap_key, b);
	return au_bytes_take(b, out);
}

static size_t machine_snapshot(void *sm, uint8_t **out)
{
	return au_locks_snapshot(sm, out);
}

bool au_locks_restore(struct au_locks *l, const uint8_t *data, size_t len)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	if (au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	uint64_t chain = au_get_u64(&rb), applied = au_get_u64(&rb);
	uint32_t n = au_get_u32(&rb);
	if (rb.short_read || (uint64_t)n * 40 != len - rb.pos)
		return false;
	GTree *keys = au_u64_tree(g_free);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct lk *k = g_new0(struct lk, 1);
		k->key = au_get_u64(&rb);
		k->holder = au_get_u64(&rb);
		k->token = au_get_u64(&rb);
		k->deadline_ns = (au_time)au_get_u64(&rb);
		k->value = (int64_t)au_get_u64(&rb);
		if (g_tree_lookup(keys, &k->key)) {
			g_free(k);
			g_tree_destroy(keys);
			return false;
		}
		g_tree_insert(keys, &k->key, k);
		sum += lk_hash(k);
	}
	g_tree_destroy(l->keys);
	l->keys = keys;
	l->sum = sum;
	l->chain = chain;
	l->applied = applied;
	return true;
}

static void machine_restore(void *sm, const uint8_t *data, size_t len)
{
	struct au_locks *l = sm;
	if (!au_locks_restore(l, data, len) && l->env)
		au_trace(l->env, AU_TR_MODEL_BAD_MESSAGE, 0, (int64_t)len, -1);
}

uint64_t au_locks_digest(const struct au_locks *l)
{
	uint64_t h = au_digest_add(l->sum, (uint64_t)g_tree_nnodes(l->keys));
	h = au_digest_add(h, l->chain);
	return au_digest_add(h, l->applied);
}

static uint64_t machine_digest(void *sm) { return au_locks_digest(sm); }

static gboolean describe_key(gpointer k, gpointer v, gpointer data)
{
	(void)k;
	const struct lk *x = v;
	g_string_append_printf(data, "lock %llu: holder=%llu token=%llu deadline=%lld value=%lld\n",
			       (unsigned long long)x->key, (unsigned long long)x->holder,
			       (unsigned long long)x->token, (long long)x->deadline_ns,
			       (long long)x->value);
	return FALSE;
}

char *au_locks_describe(const struct au_locks *l)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "locks: chain=%016llx applied=%llu keys=%d\n",
			       (unsigned long long)l->chain, (unsigned long long)l->applied,
			       g_tree_nnodes(l->keys));
	g_tree_foreach(l->keys, describe_key, out);
	return g_string_free(out, FALSE);
}

static char *machine_describe(void *sm) { return au_locks_describe(sm); }

struct au_locks *au_locks_new(const struct au_env *env)
{
	struct au_locks *l = g_new0(struct au_locks, 1);
	l->env = env;
	l->keys = au_u64_tree(g_free);
	return l;
}

void au_locks_attach(struct au_locks *l, struct au_raft *raft)
{
	struct au_raft_machine m = {.sm = l, .apply = machine_apply, .snapshot = machine_snapshot,
				    .restore = machine_restore, .name = "locks",
				    .digest = machine_digest, .describe = machine_describe};
	au_raft_register_machine(raft, AU_LOCK_MACHINE, &m);
}

void au_locks_free(struct au_locks *l)
{
	if (!l)
		return;
	g_tree_destroy(l->keys);
	g_free(l);
}

int au_locks_observe(struct au_locks *l, au_lock_observer fn, void *ctx)
{
	if (l->n_obs == MAX_OBS)
		return -AU_ENOMEM;
	l->obs[l->n_obs].fn = fn;
	l->obs[l->n_obs].ctx = ctx;
	l->n_obs++;
	return 0;
}

uint64_t au_locks_holder(const struct au_locks *l, uint64_t key, uint64_t *token,
			 au_time *deadline_ns)
{
	const struct lk *k = g_tree_lookup(l->keys, &key);
	if (token)
		*token = k ? k->token : 0;
	if (deadline_ns)
		*deadline_ns = k ? k->deadline_ns : 0;
	return k ? k->holder : 0;
}

int64_t au_locks_value(const struct au_locks *l, uint64_t key)
{
	const struct lk *k = g_tree_lookup(l->keys, &key);
	return k ? k->value : 0;
}

struct each_ctx {
	void (*fn)(void *ctx, uint64_t key, uint64_t owner, uint64_t token, au_time deadline_ns);
	void *ctx;
};

static gboolean each_cb(gpointer k, gpointer v, gpointer data)
{
	(void)k;
	const struct lk *x = v;
	struct each_ctx *e = data;
	if (x->holder)
		e->fn(e->ctx, x->key, x->holder, x->token, x->deadline_ns);
	return FALSE;
}

void au_locks_each(const struct au_locks *l,
		   void (*fn)(void *ctx, uint64_t key, uint64_t owner, uint64_t token,
			      au_time deadline_ns),
		   void *ctx)
{
	struct each_ctx e = {fn, ctx};
	g_tree_foreach(l->keys, each_cb, &e);
}

static int add(struct au_taskq_batch *b, uint8_t code, uint64_t key, uint64_t x, uint64_t y,
	       const uint64_t *z)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, key);
	au_put_u64(&w, x);
	if (code != OP_UNLOCK && code != OP_EXPIRE)
		au_put_u64(&w, y);
	if (z)
		au_put_u64(&w, *z);
	return au_taskq_batch_append(b, code, buf, w.len);
}

int au_lock_add_lock(struct au_taskq_batch *b, uint64_t key, uint64_t owner, au_time deadline_ns)
{
	if (owner == 0)
		return -AU_EINVAL;
	return add(b, OP_LOCK, key, owner, (uint64_t)deadline_ns, NULL);
}

int au_lock_add_unlock(struct au_taskq_batch *b, uint64_t key, uint64_t token)
{
	return add(b, OP_UNLOCK, key, token, 0, NULL);
}

int au_lock_add_expire(struct au_taskq_batch *b, uint64_t key, uint64_t token)
{
	return add(b, OP_EXPIRE, key, token, 0, NULL);
}

int au_lock_add_write(struct au_taskq_batch *b, uint64_t key, uint64_t owner, uint64_t token,
		      int64_t value)
{
	uint64_t v = (uint64_t)value;
	return add(b, OP_WRITE, key, owner, token, &v);
}
