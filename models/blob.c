/* blob.c — result bytes addressed by SHA-256 digest, kept by k holders
 * (see blob.h; design in docs/one.md, "Results"). */
#include "blob.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "models_internal.h"
#include "one.h"
#include "pcg32.h"
#include "sha256.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"

#define INDEX_FILE "blob-index"
#define INDEX_ENTRY 44u              /* digest 32, length 8, CRC-32C 4 */
#define SYNTH_JOB_BASE 1001u         /* simulated synthetic jobs: 1001, 1002, ... */
#define SYNTH_CLIENT_BASE UINT64_C(0x424c4f4200000000) /* Raft session per synthetic job */
#define FETCH_ROUNDS 4u              /* a fetch gives up after this many passes over the nodes */

enum { TIMER_SYNTH = 1, TIMER_FETCH_START = 2, TIMER_CHUNK = 3 };
enum { ST_SYNCING_DATA = 0, ST_SYNCING_INDEX = 1, ST_DURABLE = 2 };
enum { FETCH_OK = 0, FETCH_MISMATCH = 1, FETCH_GAVE_UP = 2 };

struct entry {
	uint8_t digest[32];
	uint64_t len;
	uint8_t state;
	uint64_t token; /* the sync in flight (data: 2 * id, index: 2 * id + 1) */
};

/* The one fetch the simulated fetcher runs at a time. */
struct fetch {
	bool active;
	uint64_t job, req, total, offset;
	uint8_t digest[32];
	bool total_known;
	struct au_sha256 ck; /* over the bytes fetched so far */
	au_node_id order[AU_RAFT_MAX_NODES + 1]; /* every node, holders first */
	uint32_t n_order, at, tries;
	uint64_t served_mask;    /* nodes that served chunks */
	uint64_t timer;
};

struct au_blob {
	const struct au_env *env;
	const struct au_blob_config *cfg;
	GPtrArray *entries;      /* struct entry *, ascending digest */
	uint64_t next_id;
	uint64_t index_len;      /* bytes of blob-index written */
	uint64_t served, stored;
	/* the simulated fetcher */
	GArray *to_fetch;        /* uint64 jobs left, ascending */
	struct fetch f;
	uint64_t fetched_ok, fetched_bad;
};

/* ---- placement and synthetic bytes --------------------------------------------- */

static uint64_t rendezvous(const uint8_t digest[32], au_node_id n)
{
	uint64_t h = au_digest_bytes(UINT64_C(0x424c4f42), digest, 32);
	return au_digest_add(h, n);
}

uint32_t au_blob_holders(const uint8_t digest[32], uint32_t nodes, uint32_t k, au_node_id *out)
{
	if (k > nodes)
		k = nodes;
	uint32_t got = 0;
	/* Selection by score, ties by node id: k passes over n nodes. */
	for (uint32_t i = 0; i < k; i++) {
		au_node_id best = 0;
		uint64_t best_score = 0;
		for (au_node_id n = 1; n <= nodes; n++) {
			bool taken = false;
			for (uint32_t j = 0; j < got; j++)
				taken = taken || out[j] == n;
			uint64_t s = rendezvous(digest, n);
			if (!taken && (!best || s > best_score)) {
				best = n;
				best_score = s;
			}
		}
		out[got++] = best;
	}
	return got;
}

void au_blob_synth_bytes(uint64_t job, uint64_t seed, uint8_t *out, size_t size)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, seed, job);
	size_t i = 0;
	for (; i + 4 <= size; i += 4) {
		uint32_t w = au_pcg32_next(&rng);
		out[i] = (uint8_t)w;
		out[i + 1] = (uint8_t)(w >> 8);
		out[i + 2] = (uint8_t)(w >> 16);
		out[i + 3] = (uint8_t)(w >> 24);
	}
	uint32_t w = au_pcg32_next(&rng);
	for (int b = 0; i < size; i++, b++)
		out[i] = (uint8_t)(w >> (8 * b));
}

/* ---- the store ------------------------------------------------------------------ */

static void file_name(const uint8_t digest[32], char out[80])
{
	memcpy(out, "blob-", 5);
	for (int i = 0; i < 32; i++)
		snprintf(out + 5 + 2 * i, 3, "%02x", digest[i]);
}

static guint find(const struct au_blob *b, const uint8_t digest[32], bool *found)
{
	guint lo = 0, hi = b->entries->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const struct entry *e = g_ptr_array_index(b->entries, mid);
		if (memcmp(e->digest, digest, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < b->entries->len &&
		 memcmp(((const struct entry *)g_ptr_array_index(b->entries, lo))->digest, digest, 32) == 0;
	return lo;
}

static struct entry *lookup(const struct au_blob *b, const uint8_t digest[32])
{
	bool found;
	guint at = find(b, digest, &found);
	return found ? g_ptr_array_index(b->entries, at) : NULL;
}

static bool is_holder(const struct au_blob *b, const uint8_t digest[32])
{
	au_node_id h[AU_RAFT_MAX_NODES + 1];
	uint32_t n = au_blob_holders(digest, b->env->nodes, b->cfg->replicas, h);
	for (uint32_t i = 0; i < n; i++)
		if (h[i] == b->env->self)
			return true;
	return false;
}

static int64_t prefix(const uint8_t d[32])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return (int64_t)v;
}

void au_blob_store(struct au_blob *b, const uint8_t digest[32], const void *bytes, size_t len)
{
	if (!b || len > AU_BLOB_MAX || lookup(b, digest) || !is_holder(b, digest))
		return;
	char name[80];
	file_name(digest, name);
	int rc = b->env->ops->storage_write(b->env->ctx, name, 0, bytes, len);
	if (rc < 0) {
		/* This holder keeps no copy; the other holders do (and the
		 * check counts live holders, not this one). */
		au_trace_storage(b->env, AU_STORAGE_WRITE, rc, AU_STORAGE_IGNORED);
		return;
	}
	struct entry *e = g_new0(struct entry, 1);
	memcpy(e->digest, digest, 32);
	e->len = len;
	e->state = ST_SYNCING_DATA;
	e->token = 2 * ++b->next_id;
	bool found;
	guint at = find(b, digest, &found);
	g_ptr_array_insert(b->entries, (gint)at, e);
	b->stored++;
	au_trace(b->env, AU_TR_BLOB_STORE, prefix(digest), (int64_t)len, 0);
	b->env->ops->storage_sync(b->env->ctx, name, e->token);
}

void au_blob_store_f64(struct au_blob *b, const uint8_t digest[32], const double *v, size_t n)
{
	if (!b || n > AU_BLOB_MAX / 8)
		return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The doubles' memory already is their little-endian bytes. */
	au_blob_store(b, digest, (const uint8_t *)v, n * 8);
#else
	uint8_t *buf = au_xmalloc(n * 8 + 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], 8);
		for (int k = 0; k < 8; k++)
			buf[8 * i + k] = (uint8_t)(bits >> (8 * k));
	}
	au_blob_store(b, digest, buf, n * 8);
	free(buf);
#endif
}

bool au_blob_has(const struct au_blob *b, const uint8_t digest[32]) { return lookup(b, digest) != NULL; }

uint32_t au_blob_count(const struct au_blob *b) { return b->entries->len; }

bool au_blob_verify(struct au_blob *b, const uint8_t digest[32])
{
	const struct entry *e = lookup(b, digest);
	if (!e)
		return false;
	char name[80];
	file_name(digest, name);
	struct au_sha256 ck;
	au_sha256_init(&ck);
	uint8_t *buf = au_xmalloc(1 << 20);
	uint64_t off = 0;
	bool ok = true;
	while (ok && off < e->len) {
		size_t want = e->len - off < (1u << 20) ? (size_t)(e->len - off) : (1u << 20);
		int64_t got = b->env->ops->storage_read(b->env->ctx, name, off, buf, want);
		ok = got == (int64_t)want;
		if (ok)
			au_sha256_update(&ck, buf, want);
		off += want;
	}
	uint8_t d[32];
	au_sha256_digest(&ck, d);
	free(buf);
	return ok && memcmp(d, digest, 32) == 0;
}

static void index_append(struct au_blob *b, struct entry *e)
{
	uint8_t rec[INDEX_ENTRY];
	struct au_wbuf w;
	au_wbuf_init(&w, rec, sizeof(rec));
	au_put_bytes(&w, e->digest, 32);
	au_put_u64(&w, e->len);
	au_put_u32(&w, au_crc32c(0, rec, 40));
	int rc = b->env->ops->storage_write(b->env->ctx, INDEX_FILE, b->index_len, rec, sizeof(rec));
	if (rc < 0) {
		/* Served until a restart, forgotten then: other holders keep it. */
		au_trace_storage(b->env, AU_STORAGE_WRITE, rc, AU_STORAGE_IGNORED);
		e->state = ST_DURABLE;
		return;
	}
	b->index_len += sizeof(rec);
	e->state = ST_SYNCING_INDEX;
	e->token++;
	b->env->ops->storage_sync(b->env->ctx, INDEX_FILE, e->token);
}

static void load_index(struct au_blob *b)
{
	int64_t size = b->env->ops->storage_size(b->env->ctx, INDEX_FILE);
	if (size <= 0)
		return;
	uint64_t n = (uint64_t)size / INDEX_ENTRY;
	uint8_t rec[INDEX_ENTRY];
	for (uint64_t i = 0; i < n; i++) {
		if (b->env->ops->storage_read(b->env->ctx, INDEX_FILE, i * INDEX_ENTRY, rec, sizeof(rec)) !=
		    (int64_t)sizeof(rec))
			break;
		struct au_rbuf rb;
		au_rbuf_init(&rb, rec, sizeof(rec));
		struct entry e = {0};
		au_get_bytes(&rb, e.digest, 32);
		e.len = au_get_u64(&rb);
		uint32_t crc = au_get_u32(&rb);
		if (crc != au_crc32c(0, rec, 40))
			break; /* a torn tail: what follows was never acknowledged */
		b->index_len = (i + 1) * INDEX_ENTRY;
		bool found;
		guint at = find(b, e.digest, &found);
		if (found)
			continue;
		struct entry *ne = g_memdup2(&e, sizeof(e));
		ne->state = ST_DURABLE;
		g_ptr_array_insert(b->entries, (gint)at, ne);
	}
}

/* ---- messages ------------------------------------------------------------------- */

size_t au_blob_encode_get(uint64_t req, uint64_t job, uint64_t offset, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_BLOB_GET);
	au_put_u64(&w, req);
	au_put_u64(&w, job);
	au_put_u64(&w, offset);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

size_t au_blob_encode_synth(uint64_t req, uint64_t job, uint32_t size, uint64_t seed, uint8_t *buf,
			    size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_BLOB_SYNTH);
	au_put_u64(&w, req);
	au_put_u64(&w, job);
	au_put_u32(&w, size);
	au_put_u64(&w, seed);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

static size_t encode_chunk(const struct au_blob_chunk *c, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_BLOB_CHUNK_MSG);
	au_put_u64(&w, c->req);
	au_put_u8(&w, c->status);
	au_put_u64(&w, c->job);
	au_put_bytes(&w, c->digest, 32);
	au_put_u64(&w, c->total);
	au_put_u64(&w, c->offset);
	au_put_u32(&w, c->n);
	au_put_bytes(&w, c->data, c->n);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_blob_decode_chunk(const uint8_t *msg, size_t len, struct au_blob_chunk *c)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, msg, len) || au_get_u8(&rb) != AU_BLOB_CHUNK_MSG)
		return false;
	c->req = au_get_u64(&rb);
	c->status = au_get_u8(&rb);
	c->job = au_get_u64(&rb);
	au_get_bytes(&rb, c->digest, 32);
	c->total = au_get_u64(&rb);
	c->offset = au_get_u64(&rb);
	c->n = au_get_u32(&rb);
	if (rb.short_read || c->n > AU_BLOB_CHUNK || rb.len - rb.pos != c->n)
		return false;
	c->data = rb.p + rb.pos;
	return c->status != AU_BLOB_OK || (c->offset <= c->total && c->n <= c->total - c->offset);
}

static size_t encode_synth_ack(uint64_t req, uint8_t status, au_node_id leader, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_BLOB_SYNTH_ACK);
	au_put_u64(&w, req);
	au_put_u8(&w, status);
	au_put_u32(&w, leader);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_blob_decode_synth_ack(const uint8_t *msg, size_t len, uint64_t *req, uint8_t *status,
			      au_node_id *leader)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, msg, len) || au_get_u8(&rb) != AU_BLOB_SYNTH_ACK)
		return false;
	*req = au_get_u64(&rb);
	*status = au_get_u8(&rb);
	*leader = au_get_u32(&rb);
	return !rb.short_read && rb.pos == rb.len && *status <= AU_BLOB_SYNTH_REFUSED;
}

/* Answer a GET from this node's ONE replica and disk; *buf holds the data. */
static void serve(struct au_blob *b, uint64_t req, uint64_t job, uint64_t offset, struct au_blob_chunk *c,
		  uint8_t *buf)
{
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->job = job;
	c->data = buf;
	struct au_one *one = b->env->ops->local_service(b->env->ctx, "one");
	const struct au_one_record *r = one ? au_one_get(one, job) : NULL;
	if (!r) {
		c->status = AU_BLOB_NO_RECORD;
		return;
	}
	memcpy(c->digest, r->digest, 32);
	const struct entry *e = lookup(b, r->digest);
	if (!e) {
		c->status = AU_BLOB_NOT_HERE;
		return;
	}
	c->total = e->len;
	if (offset > e->len) {
		c->status = AU_BLOB_BAD_OFFSET;
		return;
	}
	uint64_t from = offset;
#ifdef AU_BUG_BLOB_STALE_CHUNK
	/* Planted bug: past the first chunk, a holder serves the chunk before
	 * the one asked for (a stale buffer), under the right offset. */
	if (from >= b->cfg->chunk)
		from -= b->cfg->chunk;
#endif
	c->offset = offset;
	c->n = e->len - offset < b->cfg->chunk ? (uint32_t)(e->len - offset) : b->cfg->chunk;
	char name[80];
	file_name(r->digest, name);
	int64_t got = b->env->ops->storage_read(b->env->ctx, name, from, buf, c->n);
	if (got != (int64_t)c->n) {
		c->status = AU_BLOB_NOT_HERE; /* unreadable here: the client asks another holder */
		c->n = 0;
		return;
	}
	b->served++;
}

/* ---- synthetic jobs ------------------------------------------------------------- */

static void synth_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	/* Clients ask again until ONE has the record: nothing to do here. */
	(void)ctx, (void)ok, (void)index, (void)result, (void)len;
}

/* Propose synthetic job (job, size, seed) if this node leads and ONE has
 * no record of it yet. */
static enum au_blob_synth_status synth_propose(struct au_blob *b, uint64_t job, uint32_t size, uint64_t seed,
					       au_node_id *leader)
{
	struct au_raft *raft = b->env->ops->local_service(b->env->ctx, "raft");
	struct au_one *one = b->env->ops->local_service(b->env->ctx, "one");
	*leader = 0;
	if (!raft || !one || job == 0 || size == 0 || size > AU_BLOB_SYNTH_MAX)
		return AU_BLOB_SYNTH_REFUSED;
	if (au_one_get(one, job))
		return AU_BLOB_SYNTH_DONE;
	if (!au_raft_is_leader(raft)) {
		*leader = au_raft_leader_hint(raft);
		return AU_BLOB_SYNTH_NOT_LEADER;
	}
	uint8_t cmd[64];
	size_t n = au_one_encode_synth(job, size, seed, cmd, sizeof(cmd));
	/* The session (job, 1) makes a repeated proposal apply at most once;
	 * ONE refuses a second record anyway. */
	if (n)
		au_raft_submit(raft, AU_ONE_MACHINE, SYNTH_CLIENT_BASE + job, 1, cmd, n, synth_done, NULL);
	return AU_BLOB_SYNTH_PENDING;
}

static void synth_tick(struct au_blob *b)
{
	bool all = true;
	struct au_one *one = b->env->ops->local_service(b->env->ctx, "one");
	for (uint32_t i = 0; i < b->cfg->synthetic; i++) {
		au_node_id hint;
		uint64_t job = SYNTH_JOB_BASE + i;
		if (one && au_one_get(one, job))
			continue;
		all = false;
		synth_propose(b, job, b->cfg->synthetic_size, UINT64_C(0x5eed) + i, &hint);
	}
	if (!all)
		au_timer_set(b->env, AU_NS_PER_S, TIMER_SYNTH, 0);
}

/* ---- the simulated fetcher ------------------------------------------------------ */

static void fetch_next(struct au_blob *b);

static void fetch_end(struct au_blob *b, int outcome)
{
	struct fetch *f = &b->f;
	au_trace(b->env, AU_TR_BLOB_FETCH, (int64_t)f->job, outcome, (int64_t)f->served_mask);
	if (outcome == FETCH_OK)
		b->fetched_ok++;
	else
		b->fetched_bad++;
	if (f->timer)
		au_timer_cancel(b->env, f->timer);
	memset(f, 0, sizeof(*f));
	fetch_next(b);
}

static void fetch_chunk(struct au_blob *b, const struct au_blob_chunk *c, au_node_id from);

/* Ask the current node for the chunk at f->offset (or read it here). */
static void fetch_ask(struct au_blob *b)
{
	struct fetch *f = &b->f;
	if (f->tries >= FETCH_ROUNDS * f->n_order) {
		fetch_end(b, FETCH_GAVE_UP);
		return;
	}
	au_node_id to = f->order[f->at];
	f->req++;
	f->tries++;
	if (to == b->env->self) {
		uint8_t *buf = au_xmalloc(AU_BLOB_CHUNK);
		struct au_blob_chunk c;
		serve(b, f->req, f->job, f->offset, &c, buf);
		fetch_chunk(b, &c, to);
		free(buf);
		return;
	}
	uint8_t msg[64];
	size_t n = au_blob_encode_get(f->req, f->job, f->offset, msg, sizeof(msg));
	au_send(b->env, to, msg, n);
	f->timer = au_timer_set(b->env, b->cfg->chunk_timeout_ns, TIMER_CHUNK, f->req);
}

static void fetch_move_on(struct au_blob *b)
{
	b->f.at = (b->f.at + 1) % b->f.n_order;
	fetch_ask(b);
}

static void fetch_chunk(struct au_blob *b, const struct au_blob_chunk *c, au_node_id from)
{
	struct fetch *f = &b->f;
	if (!f->active || c->req != f->req || c->job != f->job)
		return; /* late or duplicate: the one asked for since counts */
	if (f->timer) {
		au_timer_cancel(b->env, f->timer);
		f->timer = 0;
	}
	if (c->status != AU_BLOB_OK || memcmp(c->digest, f->digest, 32) != 0 || c->offset != f->offset ||
	    (f->total_known && c->total != f->total) || (c->n == 0 && c->offset < c->total)) {
		fetch_move_on(b);
		return;
	}
	f->total = c->total;
	f->total_known = true;
	au_sha256_update(&f->ck, c->data, c->n);
	f->offset += c->n;
	if (from <= 63)
		f->served_mask |= UINT64_C(1) << from;
	if (f->offset < f->total) {
		f->tries = 0;
		fetch_ask(b);
		return;
	}
	uint8_t d[32];
	au_sha256_digest(&f->ck, d);
	fetch_end(b, memcmp(d, f->digest, 32) == 0 ? FETCH_OK : FETCH_MISMATCH);
}

static void fetch_next(struct au_blob *b)
{
	struct au_one *one = b->env->ops->local_service(b->env->ctx, "one");
	while (b->to_fetch->len > 0) {
		uint64_t job = g_array_index(b->to_fetch, uint64_t, 0);
		g_array_remove_index(b->to_fetch, 0);
		const struct au_one_record *r = one ? au_one_get(one, job) : NULL;
		if (!r || au_one_has_reason(r->verdict))
			continue; /* not recorded, or failed/cancelled: no result to fetch */
		struct fetch *f = &b->f;
		memset(f, 0, sizeof(*f));
		f->active = true;
		f->job = job;
		memcpy(f->digest, r->digest, 32);
		au_sha256_init(&f->ck);
		f->n_order = au_blob_holders(r->digest, b->env->nodes, b->env->nodes, f->order);
		au_trace(b->env, AU_TR_BLOB_FETCH_START, (int64_t)job, prefix(r->digest), 0);
		fetch_ask(b);
		return;
	}
}

static void fetch_start(struct au_blob *b)
{
	struct au_one *one = b->env->ops->local_service(b->env->ctx, "one");
	uint32_t n = one ? au_one_count(one) : 0;
	if (n == 0) {
		au_timer_set(b->env, AU_NS_PER_S, TIMER_FETCH_START, 0); /* nothing recorded yet */
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t job = au_one_at(one, i)->job;
		g_array_append_val(b->to_fetch, job);
	}
	fetch_next(b);
}

/* ---- the model ------------------------------------------------------------------ */

static void *blob_init(const struct au_env *env, const void *config)
{
	struct au_blob *b = g_new0(struct au_blob, 1);
	b->env = env;
	b->cfg = config;
	b->entries = g_ptr_array_new_with_free_func(g_free);
	b->to_fetch = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	load_index(b);
	/* Servers only (a client node of another model runs no raft). */
	if (b->cfg->synthetic && env->ops->local_service(env->ctx, "raft"))
		au_timer_set(env, b->cfg->synthetic_at, TIMER_SYNTH, 0);
	if (b->cfg->fetch_node == env->self)
		au_timer_set(env, b->cfg->fetch_at, TIMER_FETCH_START, 0);
	return b;
}

static void blob_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_blob *b = state;
	struct au_rbuf rb;
	const uint8_t *m = msg;
	uint8_t type = len ? m[0] : 0;
	if (type == AU_BLOB_CHUNK_MSG) {
		struct au_blob_chunk c;
		if (au_blob_decode_chunk(m, len, &c))
			fetch_chunk(b, &c, from);
		else
			au_trace(b->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	if (!au_rbuf_unseal(&rb, msg, len) || (type != AU_BLOB_GET && type != AU_BLOB_SYNTH)) {
		au_trace(b->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	au_get_u8(&rb);
	uint64_t req = au_get_u64(&rb), job = au_get_u64(&rb);
	if (type == AU_BLOB_GET) {
		uint64_t offset = au_get_u64(&rb);
		if (rb.short_read || rb.pos != rb.len)
			return;
		uint8_t *buf = au_xmalloc(AU_BLOB_CHUNK + AU_BLOB_HDR + 8);
		uint8_t *out = au_xmalloc(AU_BLOB_CHUNK + AU_BLOB_HDR + 8);
		struct au_blob_chunk c;
		serve(b, req, job, offset, &c, buf);
		size_t n = encode_chunk(&c, out, AU_BLOB_CHUNK + AU_BLOB_HDR + 8);
		if (n)
			au_send(b->env, from, out, n);
		free(buf);
		free(out);
		return;
	}
	uint32_t size = au_get_u32(&rb);
	uint64_t seed = au_get_u64(&rb);
	if (rb.short_read || rb.pos != rb.len)
		return;
	au_node_id hint;
	uint8_t st = (uint8_t)synth_propose(b, job, size, seed, &hint);
	uint8_t out[32];
	size_t n = encode_synth_ack(req, st, hint, out, sizeof(out));
	au_send(b->env, from, out, n);
}

static void blob_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_blob *b = state;
	if (kind == TIMER_SYNTH)
		synth_tick(b);
	else if (kind == TIMER_FETCH_START)
		fetch_start(b);
	else if (kind == TIMER_CHUNK && b->f.active && arg == b->f.req) {
		b->f.timer = 0;
		fetch_move_on(b);
	}
}

static void blob_persisted(void *state, uint64_t token, int status)
{
	struct au_blob *b = state;
	for (guint i = 0; i < b->entries->len; i++) {
		struct entry *e = g_ptr_array_index(b->entries, i);
		if (e->token != token || e->state == ST_DURABLE)
			continue;
		if (status < 0) {
			/* Not durable: keep serving what reads return (the digest
			 * check at the client catches a bad copy) but never index
			 * it, so a restart forgets it; other holders keep theirs. */
			au_trace_storage(b->env, AU_STORAGE_SYNC, status, AU_STORAGE_IGNORED);
			e->state = ST_DURABLE;
		} else if (e->state == ST_SYNCING_DATA) {
			index_append(b, e);
		} else {
			e->state = ST_DURABLE;
		}
		return;
	}
}

static void blob_destroy(void *state)
{
	struct au_blob *b = state;
	g_ptr_array_free(b->entries, TRUE);
	g_array_free(b->to_fetch, TRUE);
	g_free(b);
}

static void blob_summary(void *state, char *buf, size_t len)
{
	struct au_blob *b = state;
	snprintf(buf, len, "blobs=%u stored=%llu chunks_served=%llu fetched_ok=%llu fetched_bad=%llu",
		 b->entries->len, (unsigned long long)b->stored, (unsigned long long)b->served,
		 (unsigned long long)b->fetched_ok, (unsigned long long)b->fetched_bad);
}

static const struct au_config_key blob_keys[] = {
	{"replicas", AU_CFG_UINT, offsetof(struct au_blob_config, replicas), "3", 1, AU_RAFT_MAX_NODES,
	 "holders per result (rendezvous hashing of the digest over n1..nN)", NULL},
	{"chunk_timeout", AU_CFG_DURATION, offsetof(struct au_blob_config, chunk_timeout_ns), "200ms",
	 AU_NS_PER_MS, 60 * AU_NS_PER_S, "a fetch asks the next holder after this", NULL},
	{"chunk", AU_CFG_UINT, offsetof(struct au_blob_config, chunk), "32768", 64, AU_BLOB_CHUNK,
	 "bytes a holder serves per message (smaller: small results span several chunks)", NULL},
	{"synthetic", AU_CFG_UINT, offsetof(struct au_blob_config, synthetic), "0", 0, 100,
	 "synthetic jobs (1001, 1002, ...) the leader submits to ONE", NULL},
	{"synthetic_size", AU_CFG_UINT, offsetof(struct au_blob_config, synthetic_size), "1048576", 1,
	 AU_BLOB_SYNTH_MAX, "bytes of each synthetic job's result", NULL},
	{"synthetic_at", AU_CFG_DURATION, offsetof(struct au_blob_config, synthetic_at), "1s", 0,
	 INT64_C(86400) * AU_NS_PER_S, "when the synthetic jobs are submitted", NULL},
	{"fetch_node", AU_CFG_UINT, offsetof(struct au_blob_config, fetch_node), "0", 0, AU_RAFT_MAX_NODES,
	 "node number that fetches every recorded result (0: none)", NULL},
	{"fetch_at", AU_CFG_DURATION, offsetof(struct au_blob_config, fetch_at), "10s", 0,
	 INT64_C(86400) * AU_NS_PER_S, "when it starts", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static bool blob_validate(const void *config, uint32_t nodes, char *err, size_t errlen)
{
	const struct au_blob_config *c = config;
	if (c->replicas > nodes) {
		snprintf(err, errlen, "replicas: %u holders but the cluster has %u nodes", c->replicas, nodes);
		return false;
	}
	if (c->fetch_node > nodes) {
		snprintf(err, errlen, "fetch_node: %u but the cluster has nodes 1..%u", c->fetch_node, nodes);
		return false;
	}
	return true;
}

static const char *const blob_messages[] = {NULL, "get", "chunk", "synth", "synth_ack"};
static const char *const blob_needs[] = {"raft", NULL};

const struct au_model au_blob_model = {
	.name = "blob",
	.about = "results as files addressed by SHA-256 on k holders, fetched in chunks (docs/one.md)",
	.config_group = "blob",
	.config_keys = blob_keys,
	.config_size = sizeof(struct au_blob_config),
	.init = blob_init,
	.recv = blob_recv,
	.timer = blob_timer,
	.persisted = blob_persisted,
	.destroy = blob_destroy,
	.summary = blob_summary,
	.message_names = blob_messages,
	.n_message_names = 5,
	.needs = blob_needs,
	.validate = blob_validate,
	/* aureon-ctl fetches chunks and asks for synthetic jobs over the
	 * blob protocol itself; no client nodes of its own in simulation. */
	.client_side = true,
};
