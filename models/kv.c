/* kv.c — the replicated KV store and its clients (see kv.h). */
#include "kv.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "hashes.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"

enum { MSG_REQ = 1, MSG_RESP = 2 };
enum { ST_OK = AU_KV_STATUS_OK, ST_NOT_LEADER = AU_KV_STATUS_NOT_LEADER, ST_RETRY = AU_KV_STATUS_RETRY };
enum { TIMER_NEXT_OP = 1, TIMER_ATTEMPT = 2 };
#define KV_MACHINE 1

/* What a client remembers of the values it saw at each key, to draw CAS
 * `expected` values that can succeed.  Bounded whatever kv_keys is: a
 * direct-mapped cache of KV_SEEN_SLOTS keys (key % KV_SEEN_SLOTS; a key
 * that maps to a taken slot evicts it), each with its last KV_SEEN_VALUES
 * distinct values, newest first. */
#define KV_SEEN_SLOTS 128u
#define KV_SEEN_VALUES 4u

#define KV_VCACHE 128u

struct kv_seen {
	int64_t key; /* -1: empty (keys are 0..kv_keys-1) */
	uint32_t n;  /* values known, <= KV_SEEN_VALUES */
	int64_t v[KV_SEEN_VALUES];
};

/* ---- server side ----------------------------------------------------------- */

struct pending {
	struct kv *kv;
	au_node_id client_node;
	uint64_t client, seq;
	uint32_t attempt;
	uint8_t op;
	int64_t key;
	bool live; /* false once answered (or the server is going away) */
};

struct kv {
	const struct au_env *env;
	const struct au_kv_config *cfg;
	bool client;
	/* server */
	struct au_raft *raft;
	GHashTable *data;  /* int64 key -> int64 value (boxed) */
	/* A direct-mapped cache of `data` (key % KV_VCACHE): where a key's
	 * boxed value is, tried before the table (v NULL: empty).  A value
	 * box lives as long as its key is in the table, so only a removal
	 * clears a slot. */
	struct { int64_t key; int64_t *v; } vcache[KV_VCACHE];
	uint64_t digest;   /* sum of pair_hash() over `data` */
	GPtrArray *pending;
	uint64_t served, redirected, bad;
	/* client */
	uint64_t seq;
	bool busy;
	struct au_kv_history_row cur;
	int64_t cas_current; /* a CAS that did not swap: the value it found */
	struct kv_seen *seen; /* KV_SEEN_SLOTS of them */
	int64_t last_key;     /* of the previous operation; -1 before the first */
	au_time deadline_ns;
	bool maybe_applied;
	au_node_id target;
	uint32_t attempt; /* of the current operation's latest request */
	uint64_t attempt_timer;
	uint64_t done_ok, done_fail, done_unknown;
	uint64_t cas_done, cas_swapped; /* CAS operations finished (any outcome), swapped */
};

static void send_resp(struct kv *s, au_node_id to, uint64_t client, uint64_t seq,
		      uint32_t attempt, uint8_t status, au_node_id hint, int64_t value, uint8_t flag)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_RESP);
	au_put_u64(&w, client);
	au_put_u64(&w, seq);
	au_put_u32(&w, attempt);
	au_put_u8(&w, status);
	au_put_u32(&w, hint);
	au_put_u64(&w, (uint64_t)value);
	au_put_u8(&w, flag);
	au_wbuf_seal(&w);
	au_send(s->env, to, buf, w.len);
}

/* Where key's value is (NULL: not in the map). */
static int64_t *find_value(struct kv *s, int64_t key)
{
	uint32_t i = (uint32_t)((uint64_t)key % KV_VCACHE);
	if (s->vcache[i].v && s->vcache[i].key == key)
		return s->vcache[i].v;
	int64_t *v = g_hash_table_lookup(s->data, &key);
	if (v) {
		s->vcache[i].key = key;
		s->vcache[i].v = v;
	}
	return v;
}

static int64_t get_value(struct kv *s, int64_t key)
{
	int64_t *v = find_value(s, key);
	return v ? *v : 0;
}

/* One pair's share of the machine's digest. */
static uint64_t pair_hash(int64_t key, int64_t value)
{
	return au_digest_add(au_digest_add(UINT64_C(0x4b56), (uint64_t)key), (uint64_t)value);
}

static void del_value(struct kv *s, int64_t key)
{
	int64_t *old = find_value(s, key);
	if (!old)
		return;
	s->digest -= pair_hash(key, *old);
	s->vcache[(uint64_t)key % KV_VCACHE].v = NULL; /* find_value put it there */
	g_hash_table_remove(s->data, &key);
}

static void set_value(struct kv *s, int64_t key, int64_t value)
{
	int64_t *old = find_value(s, key);
	if (old) {
		s->digest -= pair_hash(key, *old);
		*old = value;
	} else {
		int64_t *k = g_new(int64_t, 1), *v = g_new(int64_t, 1);
		*k = key;
		*v = value;
		g_hash_table_insert(s->data, k, v);
	}
	s->digest += pair_hash(key, value);
}

void au_kv_encode_cmd(uint8_t out[AU_KV_CMD_LEN], uint8_t op, int64_t key, int64_t value,
		      int64_t expected)
{
	struct au_wbuf w;
	au_wbuf_init(&w, out, AU_KV_CMD_LEN);
	au_put_u8(&w, op);
	au_put_u64(&w, (uint64_t)key);
	au_put_u64(&w, (uint64_t)value);
	au_put_u64(&w, (uint64_t)expected);
}

/* Machine: apply a committed put, cas or delete.  Result: [ok u8][value
 * i64] (the value before). */
static void kv_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len, uint8_t *result,
		     size_t *rlen)
{
	struct kv *s = sm;
	(void)index;
	struct au_rbuf rb;
	au_rbuf_init(&rb, cmd, len);
	uint8_t op = au_get_u8(&rb);
	int64_t key = (int64_t)au_get_u64(&rb), value = (int64_t)au_get_u64(&rb);
	int64_t expected = (int64_t)au_get_u64(&rb);
	*rlen = 0;
	if (rb.short_read)
		return;
	uint8_t ok = 1;
	int64_t *slot = find_value(s, key);
	int64_t cur = slot ? *slot : 0;
	bool key_moved = false; /* slot is not key's */
#ifdef AU_BUG_REPLICA_DIVERGE
	/* Planted bug: node 2, as a follower (a code path only followers
	 * take), now and then applies a put to another key, one no client
	 * uses — about one put in 64, chosen by the log index, so a replay on
	 * n2 repeats it.  Its log, commit index and results are those of every
	 * other node; only a read served by n2 once it leads, of a key whose
	 * newest write it misapplied, could show the difference. */
	if (op == AU_KV_PUT && s->env->self == 2 && !au_raft_is_leader(s->raft) &&
	    au_hash_mix64(index) % 64 == 0) {
		key += INT64_C(1) << 32;
		key_moved = true;
	}
#endif
	bool write = op == AU_KV_PUT || (op == AU_KV_CAS && cur == expected);
	if (write && slot && !key_moved) { /* the usual write: the pair exists, one lookup */
		s->digest += pair_hash(key, value) - pair_hash(key, cur);
		*slot = value;
	} else if (write)
		set_value(s, key, value);
	else if (op == AU_KV_CAS)
		ok = 0;
	else if (op == AU_KV_DEL)
		del_value(s, key);
	struct au_wbuf w;
	au_wbuf_init(&w, result, AU_RAFT_RESULT_MAX);
	au_put_u8(&w, ok);
	au_put_u64(&w, (uint64_t)cur);
	*rlen = w.len;
}

static gint cmp_i64(gconstpointer a, gconstpointer b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Machine: the whole map, in key order (never hash-table order). */
static size_t kv_snapshot(void *sm, uint8_t **out)
{
	struct kv *s = sm;
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(int64_t));
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, s->data);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_array_append_val(keys, *(int64_t *)k);
	g_array_sort(keys, cmp_i64);
	size_t n = 4 + (size_t)keys->len * 16;
	uint8_t *buf = malloc(n);
	if (!buf)
		abort();
	struct au_wbuf w;
	au_wbuf_init(&w, buf, n);
	au_put_u32(&w, keys->len);
	for (guint i = 0; i < keys->len; i++) {
		int64_t key = g_array_index(keys, int64_t, i);
		au_put_u64(&w, (uint64_t)key);
		au_put_u64(&w, (uint64_t)get_value(s, key));
	}
	g_array_free(keys, TRUE);
	*out = buf;
	return w.len;
}

static void kv_restore(void *sm, const uint8_t *data, size_t len)
{
	struct kv *s = sm;
	g_hash_table_remove_all(s->data);
	memset(s->vcache, 0, sizeof(s->vcache));
	s->digest = 0;
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	uint32_t n = au_get_u32(&rb);
	for (uint32_t i = 0; i < n && !rb.short_read; i++) {
		int64_t key = (int64_t)au_get_u64(&rb), value = (int64_t)au_get_u64(&rb);
		if (!rb.short_read)
			set_value(s, key, value);
	}
}

static uint64_t kv_digest(void *sm)
{
	const struct kv *s = sm;
	return au_digest_add(s->digest, g_hash_table_size(s->data));
}

/* Machine: one line per key, in key order. */
static char *kv_describe(void *sm)
{
	struct kv *s = sm;
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(int64_t));
	GHashTableIter it;
	gpointer k;
	g_hash_table_iter_init(&it, s->data);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_array_append_val(keys, *(int64_t *)k);
	g_array_sort(keys, cmp_i64);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < keys->len; i++) {
		int64_t key = g_array_index(keys, int64_t, i);
		g_string_append_printf(out, "key %" G_GINT64_FORMAT ": value=%" G_GINT64_FORMAT "\n",
				       key, get_value(s, key));
	}
	g_array_free(keys, TRUE);
	return g_string_free(out, FALSE);
}

static struct pending *new_pending(struct kv *s, au_node_id from, uint64_t client, uint64_t seq,
				   uint32_t attempt, uint8_t op, int64_t key)
{
	struct pending *p = g_new0(struct pending, 1);
	*p = (struct pending){s, from, client, seq, attempt, op, key, true};
	g_ptr_array_add(s->pending, p);
	return p;
}

static void drop_pending(struct pending *p)
{
	g_ptr_array_remove_fast(p->kv->pending, p);
	g_free(p);
}

static void write_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct pending *p = ctx;
	(void)index;
	struct kv *s = p->kv;
	if (ok) {
		struct au_rbuf rb;
		au_rbuf_init(&rb, result, len);
		uint8_t flag = au_get_u8(&rb);
		int64_t cur = (int64_t)au_get_u64(&rb);
		send_resp(s, p->client_node, p->client, p->seq, p->attempt, ST_OK, s->env->self, cur, flag);
		s->served++;
	} else {
		/* Lost leadership: it may still commit; the client retries with
		 * the same sequence number, and the session makes that safe. */
		send_resp(s, p->client_node, p->client, p->seq, p->attempt, ST_RETRY,
			  au_raft_leader_hint(s->raft), 0, 0);
	}
	drop_pending(p);
}

static void read_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct pending *p = ctx;
	(void)index;
	(void)result;
	(void)len;
	struct kv *s = p->kv;
	if (ok) {
		send_resp(s, p->client_node, p->client, p->seq, p->attempt, ST_OK, s->env->self,
			  get_value(s, p->key), 1);
		s->served++;
	} else {
		send_resp(s, p->client_node, p->client, p->seq, p->attempt, ST_RETRY, au_raft_leader_hint(s->raft),
			  0, 0);
	}
	drop_pending(p);
}

static void server_recv(struct kv *s, au_node_id from, struct au_rbuf *rb)
{
	uint64_t client = au_get_u64(rb), seq = au_get_u64(rb);
	uint32_t attempt = au_get_u32(rb);
	uint8_t op = au_get_u8(rb);
	int64_t key = (int64_t)au_get_u64(rb), value = (int64_t)au_get_u64(rb);
	int64_t expected = (int64_t)au_get_u64(rb);
	if (rb->short_read || op > AU_KV_DEL) {
		s->bad++;
		return;
	}
	if (!s->raft || !au_raft_is_leader(s->raft)) {
		s->redirected++;
		send_resp(s, from, client, seq, attempt, ST_NOT_LEADER,
			  s->raft ? au_raft_leader_hint(s->raft) : 0, 0, 0);
		return;
	}
	struct pending *p = new_pending(s, from, client, seq, attempt, op, key);
	int rc;
	if (op == AU_KV_GET) {
#ifdef AU_BUG_KV_LOCAL_READ
		/* Planted bug: a leader answers reads from its own state without
		 * confirming it still leads (no ReadIndex). */
		rc = 0;
		read_done(p, true, 0, NULL, 0);
#else
		rc = au_raft_read_index(s->raft, read_done, p);
#endif
	} else {
		uint8_t cmd[AU_KV_CMD_LEN];
		au_kv_encode_cmd(cmd, op, key, value, expected);
		rc = au_raft_submit(s->raft, KV_MACHINE, client, seq, cmd, sizeof(cmd), write_done, p);
	}
	if (rc != 0) {
		drop_pending(p);
		send_resp(s, from, client, seq, attempt, ST_NOT_LEADER, au_raft_leader_hint(s->raft), 0, 0);
	}
}

/* ---- client side ------------------------------------------------------------- */

static au_node_id random_server(struct kv *s)
{
	return 1 + au_random_below(s->env, s->env->nodes);
}

/* The client saw `value` at `key` (read it, wrote it, found it there, or
 * may have written it): it becomes the newest value known there. */
static void seen_note(struct kv *s, int64_t key, int64_t value)
{
	assert(key >= 0);
	struct kv_seen *e = &s->seen[(uint64_t)key % KV_SEEN_SLOTS];
	if (e->key != key) {
		e->key = key;
		e->n = 0;
	}
	/* Drop an older copy of value (or the oldest, if full), then put it
	 * first. */
	uint32_t i = 0;
	while (i < e->n && e->v[i] != value)
		i++;
	if (i == e->n && e->n < KV_SEEN_VALUES)
		e->n++;
	if (i == KV_SEEN_VALUES)
		i--;
	memmove(&e->v[1], &e->v[0], i * sizeof(e->v[0]));
	e->v[0] = value;
	assert(e->n >= 1 && e->n <= KV_SEEN_VALUES);
}

/* A CAS `expected` for key: 6 times in 8 the newest value this client saw
 * there (0, the initial value, if it saw none), so that a good share swap;
 * 1 in 8 an older one it saw (stale: fails unless the key came back to it);
 * 1 in 8 one nobody ever writes (written values are client << 32 | seq, at
 * least 2^32), which must fail.
 *
 * It takes exactly the draws the workload always took for a CAS — one
 * below 2, then one below 4 if the first was 0 — and picks among older
 * values by sequence number rather than by another draw: the client's
 * stream, and with it every arrival time and server choice, stays as it
 * was, so runs keep their schedules (the regression reproducers in
 * scenarios/regressions/ were shrunk to the exact interleavings they
 * guard). */
static int64_t draw_expected(struct kv *s, int64_t key)
{
	const struct kv_seen *e = &s->seen[(uint64_t)key % KV_SEEN_SLOTS];
	uint32_t n = e->key == key ? e->n : 0;
	uint32_t r = au_random_below(s->env, 2) ? 2 : au_random_below(s->env, 4);
	if (r == 1)
		return 1 + (int64_t)(s->seq % 3);
	if (n == 0)
		return 0;
	if (r == 0 && n > 1)
		return e->v[1 + s->seq % (n - 1)];
	return e->v[0];
}

/* What a finished operation told the client about its key. */
static void seen_outcome(struct kv *s, enum au_kv_outcome outcome)
{
	const struct au_kv_history_row *r = &s->cur;
	if (outcome == AU_KV_FAIL || (r->op == AU_KV_GET && outcome == AU_KV_UNKNOWN))
		return; /* nothing written, nothing seen */
	if (r->op == AU_KV_CAS && outcome == AU_KV_OK && !r->cas_ok)
		seen_note(s, r->key, s->cas_current);
	else /* read, written, or (unknown) perhaps written */
		seen_note(s, r->key, r->value);
}

static void send_attempt(struct kv *s)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_REQ);
	au_put_u64(&w, s->env->self);
	au_put_u64(&w, s->seq);
	au_put_u32(&w, ++s->attempt);
	au_put_u8(&w, s->cur.op);
	au_put_u64(&w, (uint64_t)s->cur.key);
	au_put_u64(&w, (uint64_t)s->cur.value);
	au_put_u64(&w, (uint64_t)s->cur.expected);
	au_wbuf_seal(&w);
	au_send(s->env, s->target, buf, w.len);
	au_timer_cancel(s->env, s->attempt_timer);
	s->attempt_timer = au_timer_set(s->env, s->cfg->attempt_ns, TIMER_ATTEMPT, s->seq);
}

static void finish(struct kv *s, enum au_kv_outcome outcome)
{
	s->cur.outcome = (uint8_t)outcome;
	s->cur.return_ns = outcome == AU_KV_UNKNOWN ? -1 : au_now(s->env);
	s->env->ops->record(s->env->ctx, 0, &s->cur);
	if (outcome == AU_KV_OK)
		s->done_ok++;
	else if (outcome == AU_KV_FAIL)
		s->done_fail++;
	else
		s->done_unknown++;
	if (s->cur.op == AU_KV_CAS) {
		s->cas_done++;
		s->cas_swapped += outcome == AU_KV_OK && s->cur.cas_ok;
	}
	seen_outcome(s, outcome);
	s->last_key = s->cur.key;
	s->busy = false;
	au_timer_cancel(s->env, s->attempt_timer);
	/* Arrivals: the next operation starts an exponential gap (mean
	 * 1/rate) after this one started, or at once if this one took longer
	 * than that — so a client really offers `rate` operations per second
	 * while its latency stays below 1/rate. */
	double u = 1.0 - (double)au_random(s->env) / 4294967296.0;
	au_time gap = (au_time)(-log(u) * 1e9 / (double)s->cfg->rate_per_s);
	au_time wait = s->cur.call_ns + gap - au_now(s->env);
	au_timer_set(s->env, wait > 0 ? wait : 0, TIMER_NEXT_OP, 0);
}

static void start_op(struct kv *s)
{
	const struct au_kv_config *c = s->cfg;
	uint32_t total = c->mix_get + c->mix_put + c->mix_cas;
	uint32_t pick = au_random_below(s->env, total);
	memset(&s->cur, 0, sizeof(s->cur));
	s->cur.client = s->env->self;
	s->cur.op = pick < c->mix_get ? AU_KV_GET : pick < c->mix_get + c->mix_put ? AU_KV_PUT : AU_KV_CAS;
	s->cur.key = au_random_below(s->env, c->keys);
	s->seq++;
	/* Read-modify-write: half the CAS operations (those with an odd
	 * sequence number: no extra draw, see draw_expected) are on the key of
	 * the client's previous operation, whose value it has just seen — with
	 * many keys and clients, a value seen long ago is rarely current. */
	if (s->cur.op == AU_KV_CAS && s->last_key >= 0 && (s->seq & 1))
		s->cur.key = s->last_key;
	/* Unique written values make every read attributable to one write. */
	int64_t unique = (int64_t)((uint64_t)s->env->self << 32 | (s->seq & 0xffffffffu));
	if (s->cur.op == AU_KV_PUT)
		s->cur.value = unique;
	else if (s->cur.op == AU_KV_CAS) {
		s->cur.value = unique;
		s->cur.expected = draw_expected(s, s->cur.key);
	}
	s->cur.call_ns = au_now(s->env);
	s->deadline_ns = s->cur.call_ns + c->deadline_ns;
	s->maybe_applied = false;
	s->busy = true;
	if (!s->target)
		s->target = random_server(s);
	send_attempt(s);
}

static void client_recv(struct kv *s, au_node_id from, struct au_rbuf *rb)
{
	uint64_t client = au_get_u64(rb), seq = au_get_u64(rb);
	uint32_t attempt = au_get_u32(rb);
	uint8_t status = au_get_u8(rb);
	au_node_id hint = au_get_u32(rb);
	int64_t value = (int64_t)au_get_u64(rb);
	uint8_t flag = au_get_u8(rb);
	/* An OK from any attempt completes the operation, but only a refusal
	 * of the latest attempt may start a retry: a duplicated or late one
	 * must not start a second retry chain. */
	if (rb->short_read || client != s->env->self || seq != s->seq || !s->busy ||
	    (status != ST_OK && attempt != s->attempt))
		return;
	if (status == ST_OK) {
		if (s->cur.op == AU_KV_GET)
			s->cur.value = value;
		else if (s->cur.op == AU_KV_CAS) {
			s->cur.cas_ok = flag;
			s->cas_current = value; /* the value found there (the machine's result) */
		}
		s->target = from;
		finish(s, AU_KV_OK);
		return;
	}
	if (status == ST_RETRY)
		s->maybe_applied = true;
	if (au_now(s->env) >= s->deadline_ns) {
		finish(s, s->maybe_applied ? AU_KV_UNKNOWN : AU_KV_FAIL);
		return;
	}
	s->target = hint && hint <= s->env->nodes && hint != from ? hint : random_server(s);
	send_attempt(s);
}

static void client_timer(struct kv *s, uint32_t kind, uint64_t arg)
{
	if (kind == TIMER_NEXT_OP) {
		start_op(s);
		return;
	}
	if (!s->busy || arg != s->seq)
		return;
	s->maybe_applied = true; /* the request may have reached a leader */
	if (au_now(s->env) >= s->deadline_ns) {
		finish(s, AU_KV_UNKNOWN);
		return;
	}
	au_node_id next = random_server(s);
	if (next == s->target && s->env->nodes > 1)
		next = next % s->env->nodes + 1;
	s->target = next;
	send_attempt(s);
}

/* ---- the model ------------------------------------------------------------------ */

static void *kv_init(const struct au_env *env, const void *config)
{
	struct kv *s = g_new0(struct kv, 1);
	s->env = env;
	s->cfg = config;
	s->client = env->self > env->nodes;
	if (s->client) {
		s->seen = g_new(struct kv_seen, KV_SEEN_SLOTS);
		for (uint32_t i = 0; i < KV_SEEN_SLOTS; i++)
			s->seen[i] = (struct kv_seen){.key = -1};
		s->last_key = -1;
		/* Spread client starts over the first think time. */
		au_timer_set(env, au_random_between(env, 0, AU_NS_PER_S / s->cfg->rate_per_s),
			     TIMER_NEXT_OP, 0);
		return s;
	}
	s->data = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	s->pending = g_ptr_array_new();
	s->raft = env->ops->local_service(env->ctx, "raft");
	if (s->raft) {
		struct au_raft_machine m = {.sm = s, .apply = kv_apply, .snapshot = kv_snapshot,
					    .restore = kv_restore, .name = "kv", .digest = kv_digest,
					    .describe = kv_describe};
		au_raft_register_machine(s->raft, KV_MACHINE, &m);
	}
	return s;
}

static void kv_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct kv *s = state;
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, msg, len)) {
		s->bad++;
		au_trace(s->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&rb);
	if (type == MSG_REQ && !s->client)
		server_recv(s, from, &rb);
	else if (type == MSG_RESP && s->client)
		client_recv(s, from, &rb);
	else
		s->bad++;
}

bool au_kv_wire_decode(const void *msg, size_t len, struct au_kv_wire *out)
{
	struct au_rbuf rb;
	memset(out, 0, sizeof(*out));
	if (!au_rbuf_unseal(&rb, msg, len))
		return false;
	uint8_t type = au_get_u8(&rb);
	out->is_req = type == MSG_REQ;
	out->client = au_get_u64(&rb);
	out->seq = au_get_u64(&rb);
	out->attempt = au_get_u32(&rb);
	if (type == MSG_REQ) {
		out->op = au_get_u8(&rb);
		out->key = (int64_t)au_get_u64(&rb);
		out->value = (int64_t)au_get_u64(&rb);
		out->expected = (int64_t)au_get_u64(&rb);
		return !rb.short_read && out->op <= AU_KV_DEL;
	}
	if (type != MSG_RESP)
		return false;
	out->status = au_get_u8(&rb);
	out->hint = au_get_u32(&rb);
	out->value = (int64_t)au_get_u64(&rb);
	out->flag = au_get_u8(&rb);
	return !rb.short_read;
}

static void kv_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct kv *s = state;
	if (s->client)
		client_timer(s, kind, arg);
}

static void kv_persisted(void *state, uint64_t token, int status)
{
	/* This model writes nothing to storage: no sync is ever its own. */
	(void)state;
	(void)token;
	(void)status;
}

static void kv_destroy(void *state)
{
	struct kv *s = state;
	if (s->pending) {
		for (guint i = 0; i < s->pending->len; i++)
			g_free(g_ptr_array_index(s->pending, i));
		g_ptr_array_free(s->pending, TRUE);
	}
	if (s->data)
		g_hash_table_destroy(s->data);
	g_free(s->seen);
	g_free(s);
}

static void kv_summary(void *state, char *buf, size_t len)
{
	struct kv *s = state;
	if (s->client)
		snprintf(buf, len, "client: ops ok=%llu fail=%llu unknown=%llu cas=%llu cas_swapped=%llu",
			 (unsigned long long)s->done_ok, (unsigned long long)s->done_fail,
			 (unsigned long long)s->done_unknown, (unsigned long long)s->cas_done,
			 (unsigned long long)s->cas_swapped);
	else
		snprintf(buf, len, "keys=%u served=%llu redirected=%llu", g_hash_table_size(s->data),
			 (unsigned long long)s->served, (unsigned long long)s->redirected);
}

/* The run ends: an operation still in flight may or may not have taken
 * effect, and the linearizability check must know it was issued. */
static void kv_run_end(void *state)
{
	struct kv *s = state;
	if (s->client && s->busy)
		finish(s, AU_KV_UNKNOWN);
}

static uint32_t kv_client_nodes(const void *config)
{
	return ((const struct au_kv_config *)config)->clients;
}

static const char *const mix_names[] = {"get", "put", "cas", NULL};

static const struct au_config_key kv_keys[] = {
	{"kv_clients", AU_CFG_UINT, offsetof(struct au_kv_config, clients), "3", 0, 1000,
	 "client nodes driving the KV store", NULL},
	{"kv_rate", AU_CFG_RATE, offsetof(struct au_kv_config, rate_per_s), "50/s", 1, 1000000,
	 "operations per second per client", NULL},
	{"kv_keys", AU_CFG_UINT, offsetof(struct au_kv_config, keys), "5", 1, 1000000,
	 "number of keys", NULL},
	{"kv_mix", AU_CFG_WEIGHTS, offsetof(struct au_kv_config, mix_get), "get:50,put:40,cas:10", 0,
	 0, "get, put, cas", mix_names},
	{"kv_attempt_timeout", AU_CFG_DURATION, offsetof(struct au_kv_config, attempt_ns), "500ms",
	 AU_NS_PER_MS, UINT64_C(600) * AU_NS_PER_S, "one attempt's timeout", NULL},
	{"kv_deadline", AU_CFG_DURATION, offsetof(struct au_kv_config, deadline_ns), "5s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "give up on an operation after this", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* No "del": only aureon-ctl deletes, the simulated clients that record
 * /history never do, and the trace schema (and the readers that check its
 * enum names) stays as it was. */
static const char *const op_names[] = {"get", "put", "cas"};
static const char *const outcome_names[] = {"ok", "fail", "unknown"};
static const char *const no_yes[] = {"no", "yes"};

static const struct au_table_col history_cols[] = {
	{"client", AU_COL_U32, offsetof(struct au_kv_history_row, client), NULL, 0},
	{"op", AU_COL_ENUM8, offsetof(struct au_kv_history_row, op), op_names, 3},
	{"key", AU_COL_I64, offsetof(struct au_kv_history_row, key), NULL, 0},
	{"value", AU_COL_I64, offsetof(struct au_kv_history_row, value), NULL, 0},
	{"expected", AU_COL_I64, offsetof(struct au_kv_history_row, expected), NULL, 0},
	{"cas_ok", AU_COL_ENUM8, offsetof(struct au_kv_history_row, cas_ok), no_yes, 2},
	{"call_ns", AU_COL_I64, offsetof(struct au_kv_history_row, call_ns), NULL, 0},
	{"return_ns", AU_COL_I64, offsetof(struct au_kv_history_row, return_ns), NULL, 0},
	{"outcome", AU_COL_ENUM8, offsetof(struct au_kv_history_row, outcome), outcome_names, 3},
};

static const struct au_table_desc kv_tables[] = {
	{"history", "one row per client operation: call and return times (return -1 when the "
		    "outcome is unknown), what was read or written, and the outcome",
	 history_cols, 9, sizeof(struct au_kv_history_row)},
};

static const char *const kv_message_names[] = {NULL, "REQ", "RESP"};

/* KV replicates through the node's Raft (found at init): without raft
 * started before it every operation would end unknown. */
static const char *const kv_needs[] = {"raft", NULL};

const struct au_model au_kv_model = {
	.name = "kv",
	.config_group = "workload",
	.config_keys = kv_keys,
	.config_size = sizeof(struct au_kv_config),
	.init = kv_init,
	.recv = kv_recv,
	.timer = kv_timer,
	.persisted = kv_persisted,
	.destroy = kv_destroy,
	.summary = kv_summary,
	.tables = kv_tables,
	.n_tables = 1,
	.message_names = kv_message_names,
	.n_message_names = 3,
	.client_side = true,
	.client_nodes = kv_client_nodes,
	.run_end = kv_run_end,
	.needs = kv_needs,
	.about = "a key-value store replicated through Raft, and its clients (get, put, cas, del)",
};
