/* one.c — ONE, the replicated results repository (see one.h). */
#include "one.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "blob.h"
#include "digest.h"
#include "hashes.h"
#include "kernels.h"
#include "models_internal.h"
#include "raft/raft.h"
#include "sha256.h"
#include "trace_kinds.h"
#include "wire.h"

enum { OP_PUT = 1, OP_SYNTH = 2 };
#define SNAP_MAGIC 0x454e4f31u /* "ONE1" */

struct au_one {
	const struct au_env *env; /* NULL for a standalone replica (tests) */
	struct au_raft *raft;
	GPtrArray *records;       /* struct au_one_record *, ascending job */
	uint64_t duplicates, malformed, applied_index;
	uint64_t sum;             /* sum of record_hash() over `records` */
};

static void record_free(gpointer p)
{
	struct au_one_record *r = p;
	free(r->residuals);
	free(r->workers);
	free(r);
}

struct au_one *au_one_new(void)
{
	struct au_one *o = g_new0(struct au_one, 1);
	o->records = g_ptr_array_new_with_free_func(record_free);
	return o;
}

void au_one_free(struct au_one *o)
{
	if (!o)
		return;
	g_ptr_array_free(o->records, TRUE);
	g_free(o);
}

/* ---- encoding ---------------------------------------------------------------- */

bool au_one_has_reason(uint8_t verdict)
{
	return verdict == AU_KERNEL_FAILED || verdict == AU_KERNEL_CANCELLED;
}

/* Length of r's reason as encoded (0 for a verdict without one). */
static size_t reason_len(const struct au_one_record *r)
{
	return au_one_has_reason(r->verdict) ? strnlen(r->reason, AU_ONE_REASON_MAX) : 0;
}

static bool record_ok(const struct au_one_record *r)
{
	if (r->job == 0 || r->n_residuals > AU_ONE_MAX_RESIDUALS ||
	    r->n_workers > AU_ONE_MAX_WORKERS || r->n_residuals > r->rounds)
		return false;
	if (au_one_has_reason(r->verdict) &&
	    (reason_len(r) == 0 || reason_len(r) >= AU_ONE_REASON_MAX))
		return false; /* a failed job says why */
	for (uint32_t i = 0; i < r->n_workers; i++)
		if (r->workers[i] == 0 || (i > 0 && r->workers[i] <= r->workers[i - 1]))
			return false;
	return true;
}

size_t au_one_put_size(const struct au_one_record *r)
{
	return 1 + 8 + 8 + 1 + 1 + 32 + 4 + 4 + 8 * (size_t)r->n_residuals + 4 +
	       4 * (size_t)r->n_workers + (au_one_has_reason(r->verdict) ? 1 + reason_len(r) : 0);
}

/* The record body (after the op byte); shared by puts and snapshots. */
static void encode_body(struct au_wbuf *w, const struct au_one_record *r)
{
	au_put_u64(w, r->job);
	au_put_u64(w, r->parent);
	au_put_u8(w, r->kind);
	au_put_u8(w, r->verdict);
	au_put_bytes(w, r->digest, 32);
	au_put_u32(w, r->rounds);
	au_put_u32(w, r->n_residuals);
	for (uint32_t i = 0; i < r->n_residuals; i++)
		au_put_f64(w, r->residuals[i]);
	au_put_u32(w, r->n_workers);
	for (uint32_t i = 0; i < r->n_workers; i++)
		au_put_u32(w, r->workers[i]);
	if (au_one_has_reason(r->verdict)) {
		size_t n = reason_len(r);
		au_put_u8(w, (uint8_t)n);
		au_put_bytes(w, r->reason, n);
	}
}

/* Decode a body into a fresh record, or NULL if it is malformed. */
static struct au_one_record *decode_body(struct au_rbuf *rb)
{
	struct au_one_record *r = au_xcalloc(1, sizeof(*r));
	r->job = au_get_u64(rb);
	r->parent = au_get_u64(rb);
	r->kind = au_get_u8(rb);
	r->verdict = au_get_u8(rb);
	au_get_bytes(rb, r->digest, 32);
	r->rounds = au_get_u32(rb);
	r->n_residuals = au_get_u32(rb);
	if (rb->short_read || r->n_residuals > AU_ONE_MAX_RESIDUALS) {
		r->n_residuals = 0;
		record_free(r);
		return NULL;
	}
	r->residuals = au_xcalloc(r->n_residuals, sizeof(double));
	for (uint32_t i = 0; i < r->n_residuals; i++)
		r->residuals[i] = au_get_f64(rb);
	r->n_workers = au_get_u32(rb);
	if (rb->short_read || r->n_workers > AU_ONE_MAX_WORKERS) {
		r->n_workers = 0;
		record_free(r);
		return NULL;
	}
	r->workers = au_xcalloc(r->n_workers, sizeof(uint32_t));
	for (uint32_t i = 0; i < r->n_workers; i++)
		r->workers[i] = au_get_u32(rb);
	if (au_one_has_reason(r->verdict)) {
		uint8_t n = au_get_u8(rb);
		if (n >= AU_ONE_REASON_MAX || rb->short_read) {
			record_free(r);
			return NULL;
		}
		au_get_bytes(rb, r->reason, n);
		r->reason[n] = '\0';
		if (strlen(r->reason) != n) { /* a NUL inside */
			record_free(r);
			return NULL;
		}
	}
	if (rb->short_read || !record_ok(r)) {
		record_free(r);
		return NULL;
	}
	return r;
}

size_t au_one_encode_put(const struct au_one_record *r, uint8_t *buf, size_t cap)
{
	if (!record_ok(r) || au_one_put_size(r) > cap)
		return 0;
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, OP_PUT);
	encode_body(&w, r);
	assert(!w.overflow && w.len == au_one_put_size(r));
	return w.len;
}

size_t au_one_encode_synth(uint64_t job, uint32_t size, uint64_t seed, uint8_t *buf, size_t cap)
{
	if (job == 0 || size == 0 || size > AU_BLOB_SYNTH_MAX)
		return 0;
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, OP_SYNTH);
	au_put_u64(&w, job);
	au_put_u32(&w, size);
	au_put_u64(&w, seed);
	return w.overflow ? 0 : w.len;
}

static guint find(const struct au_one *o, uint64_t job, bool *found);

/* A synthetic job's record: generate its bytes, hash them and hand them to
 * the local blob store (which keeps them if this node is a holder). */
static struct au_one_record *apply_synth(struct au_one *o, struct au_rbuf *rb)
{
	uint64_t job = au_get_u64(rb);
	uint32_t size = au_get_u32(rb);
	uint64_t seed = au_get_u64(rb);
	if (rb->short_read || rb->pos != rb->len || job == 0 || size == 0 || size > AU_BLOB_SYNTH_MAX)
		return NULL;
	struct au_one_record *r = au_xcalloc(1, sizeof(*r));
	r->job = job;
	r->kind = AU_ONE_KIND_SYNTHETIC;
	r->verdict = AU_KERNEL_CONVERGED;
	r->residuals = au_xcalloc(1, sizeof(double));
	r->workers = au_xcalloc(1, sizeof(uint32_t));
	bool dup;
	find(o, job, &dup);
	if (dup)
		return r; /* rejected by the caller: no need for the bytes */
	uint8_t *bytes = au_xmalloc(size);
	au_blob_synth_bytes(job, seed, bytes, size);
	au_sha256(bytes, size, r->digest);
	if (o->env)
		au_blob_store(o->env->ops->local_service(o->env->ctx, "blob"), r->digest, bytes, size);
	free(bytes);
	return r;
}

/* ---- the machine --------------------------------------------------------------- */

/* A record's share of the state digest: everything a snapshot keeps of it
 * (records never change once stored, so it is computed once). */
static uint64_t record_hash(const struct au_one_record *r)
{
	uint64_t h = au_digest_add(UINT64_C(0x4f4e45), r->job);
	h = au_digest_add(h, r->parent);
	h = au_digest_add(h, (uint64_t)r->kind << 8 | r->verdict);
	h = au_digest_bytes(h, r->digest, 32);
	h = au_digest_add(h, r->rounds);
	h = au_digest_f64s(h, r->residuals, r->n_residuals);
	for (uint32_t i = 0; i < r->n_workers; i++)
		h = au_digest_add(h, r->workers[i]);
	h = au_digest_add(h, r->n_workers);
	if (au_one_has_reason(r->verdict))
		h = au_digest_bytes(h, r->reason, reason_len(r));
	return au_digest_add(h, r->index);
}

/* Position of `job` in the sorted records, or where it would go. */
static guint find(const struct au_one *o, uint64_t job, bool *found)
{
	guint lo = 0, hi = o->records->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const struct au_one_record *r = g_ptr_array_index(o->records, mid);
		if (r->job < job)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < o->records->len &&
		 ((const struct au_one_record *)g_ptr_array_index(o->records, lo))->job == job;
	return lo;
}

enum au_one_status au_one_apply(struct au_one *o, uint64_t index, const uint8_t *cmd, size_t len)
{
	if (index > o->applied_index)
		o->applied_index = index;
	struct au_rbuf rb;
	au_rbuf_init(&rb, cmd, len);
	uint8_t op = au_get_u8(&rb);
	struct au_one_record *r = op == OP_PUT ? decode_body(&rb) : op == OP_SYNTH ? apply_synth(o, &rb) : NULL;
	if (!r || rb.pos != rb.len) {
		if (r)
			record_free(r);
		o->malformed++;
		return AU_ONE_MALFORMED;
	}
	bool found;
	guint at = find(o, r->job, &found);
	if (found) {
		/* Exactly once: the first record stands, whatever this one says. */
		o->duplicates++;
		if (o->env)
			au_trace(o->env, AU_TR_ONE_REJECT, (int64_t)r->job, (int64_t)index,
				 au_kernel_digest_prefix(r->digest));
		record_free(r);
		return AU_ONE_DUPLICATE;
	}
	r->index = index;
	g_ptr_array_insert(o->records, (gint)at, r);
	o->sum += record_hash(r);
	if (o->env)
		au_trace(o->env, AU_TR_ONE_STORE, (int64_t)r->job, (int64_t)index,
			 au_kernel_digest_prefix(r->digest));
	return AU_ONE_STORED;
}

size_t au_one_snapshot(struct au_one *o, uint8_t **out)
{
	size_t n = 4 + 8 * 3 + 4;
	for (guint i = 0; i < o->records->len; i++)
		n += au_one_put_size(g_ptr_array_index(o->records, i)) + 8;
	uint8_t *buf = au_xmalloc(n);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, n);
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, o->duplicates);
	au_put_u64(&w, o->malformed);
	au_put_u64(&w, o->applied_index);
	au_put_u32(&w, o->records->len);
	for (guint i = 0; i < o->records->len; i++) {
		const struct au_one_record *r = g_ptr_array_index(o->records, i);
		encode_body(&w, r);
		au_put_u64(&w, r->index);
	}
	assert(!w.overflow);
	*out = buf;
	return w.len;
}

bool au_one_restore(struct au_one *o, const uint8_t *data, size_t len)
{
	g_ptr_array_set_size(o->records, 0);
	o->duplicates = o->malformed = o->applied_index = o->sum = 0;
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	if (au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	o->duplicates = au_get_u64(&rb);
	o->malformed = au_get_u64(&rb);
	o->applied_index = au_get_u64(&rb);
	uint32_t n = au_get_u32(&rb);
	for (uint32_t i = 0; i < n && !rb.short_read; i++) {
		struct au_one_record *r = decode_body(&rb);
		if (!r)
			break;
		r->index = au_get_u64(&rb);
		const struct au_one_record *last =
			o->records->len ? g_ptr_array_index(o->records, o->records->len - 1) : NULL;
		if (last && last->job >= r->job) {
			record_free(r);
			break;
		}
		g_ptr_array_add(o->records, r);
		o->sum += record_hash(r);
	}
	if (o->records->len != n || rb.short_read || rb.pos != rb.len) {
		g_ptr_array_set_size(o->records, 0);
		o->duplicates = o->malformed = o->applied_index = o->sum = 0;
		return false;
	}
	return true;
}

/* ---- queries ------------------------------------------------------------------------ */

uint32_t au_one_count(const struct au_one *o) { return o->records->len; }

const struct au_one_record *au_one_at(const struct au_one *o, uint32_t i)
{
	return i < o->records->len ? g_ptr_array_index(o->records, i) : NULL;
}

const struct au_one_record *au_one_get(const struct au_one *o, uint64_t job)
{
	bool found;
	guint at = find(o, job, &found);
	return found ? g_ptr_array_index(o->records, at) : NULL;
}

uint32_t au_one_children(const struct au_one *o, uint64_t job, uint64_t *out, uint32_t max)
{
	uint32_t n = 0;
	for (guint i = 0; i < o->records->len; i++) {
		const struct au_one_record *r = g_ptr_array_index(o->records, i);
		if (r->parent == job && job != 0) {
			if (n < max)
				out[n] = r->job;
			n++;
		}
	}
	return n;
}

uint64_t au_one_duplicates(const struct au_one *o) { return o->duplicates; }
uint64_t au_one_malformed(const struct au_one *o) { return o->malformed; }
uint64_t au_one_applied_index(const struct au_one *o) { return o->applied_index; }

/* FNV-1a over the records' encodings: a compact fingerprint for summaries
 * and replica comparison, not a security hash. */
uint64_t au_one_state_hash(const struct au_one *o)
{
	uint64_t h = AU_HASH_FNV1A_INIT;
	for (guint i = 0; i < o->records->len; i++) {
		const struct au_one_record *r = g_ptr_array_index(o->records, i);
		size_t n = au_one_put_size(r);
		uint8_t *buf = au_xmalloc(n);
		size_t len = au_one_encode_put(r, buf, n);
		h = au_hash_fnv1a_add(h, buf, len);
		free(buf);
	}
	return h;
}

uint64_t au_one_digest(const struct au_one *o)
{
	uint64_t h = au_digest_add(o->sum, o->records->len);
	h = au_digest_add(h, o->duplicates);
	h = au_digest_add(h, o->malformed);
	return au_digest_add(h, o->applied_index);
}

char *au_one_describe(const struct au_one *o)
{
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "one: records=%u duplicates=%llu malformed=%llu applied=%llu\n",
			       o->records->len, (unsigned long long)o->duplicates,
			       (unsigned long long)o->malformed, (unsigned long long)o->applied_index);
	for (guint i = 0; i < o->records->len; i++) {
		const struct au_one_record *r = g_ptr_array_index(o->records, i);
		g_string_append_printf(s, "record %llu: index=%llu parent=%llu kind=%u verdict=%s "
				       "rounds=%u digest=", (unsigned long long)r->job,
				       (unsigned long long)r->index, (unsigned long long)r->parent,
				       r->kind, au_kernel_verdict_name(r->verdict), r->rounds);
		for (int k = 0; k < 8; k++)
			g_string_append_printf(s, "%02x", r->digest[k]);
		g_string_append(s, " workers=");
		for (uint32_t k = 0; k < r->n_workers; k++)
			g_string_append_printf(s, "%sn%u", k ? "," : "", r->workers[k]);
		g_string_append_printf(s, " residuals=%016llx",
				       (unsigned long long)au_digest_f64s(0, r->residuals, r->n_residuals));
		if (au_one_has_reason(r->verdict))
			g_string_append_printf(s, " reason=\"%s\"", r->reason);
		g_string_append_c(s, '\n');
	}
	return g_string_free(s, FALSE);
}

/* ---- the model ----------------------------------------------------------------------- */

static void one_machine_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len,
			      uint8_t *result, size_t *rlen)
{
	result[0] = (uint8_t)au_one_apply(sm, index, cmd, len);
	*rlen = 1;
}

static size_t one_machine_snapshot(void *sm, uint8_t **out) { return au_one_snapshot(sm, out); }
static uint64_t one_machine_digest(void *sm) { return au_one_digest(sm); }
static char *one_machine_describe(void *sm) { return au_one_describe(sm); }

static void one_machine_restore(void *sm, const uint8_t *data, size_t len)
{
	struct au_one *o = sm;
	if (!au_one_restore(o, data, len) && o->env)
		au_trace(o->env, AU_TR_ONE_BAD_SNAPSHOT, (int64_t)len, 0, 0);
}

static void *one_init(const struct au_env *env, const void *config)
{
	(void)config;
	struct au_one *o = au_one_new();
	o->env = env;
	o->raft = env->ops->local_service(env->ctx, "raft");
	assert(o->raft); /* the loader puts raft first (au_one_model.needs) */
	struct au_raft_machine m = {.sm = o, .apply = one_machine_apply,
				    .snapshot = one_machine_snapshot, .restore = one_machine_restore,
				    .name = "one", .digest = one_machine_digest,
				    .describe = one_machine_describe};
	au_raft_register_machine(o->raft, AU_ONE_MACHINE, &m);
	return o;
}

static void one_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	/* ONE has no messages of its own: everything travels in the Raft log. */
	struct au_one *o = state;
	au_trace(o->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
	(void)msg;
}

static void one_timer(void *state, uint32_t kind, uint64_t arg)
{
	(void)state;
	(void)kind;
	(void)arg;
}

static void one_persisted(void *state, uint64_t token, int status)
{
	/* This model writes nothing to storage: no sync is ever its own. */
	(void)state;
	(void)token;
	(void)status;
}

static void one_destroy(void *state) { au_one_free(state); }

static void one_summary(void *state, char *buf, size_t len)
{
	struct au_one *o = state;
	snprintf(buf, len, "records=%u duplicates_rejected=%llu applied=%llu state=%016llx",
		 au_one_count(o), (unsigned long long)o->duplicates,
		 (unsigned long long)o->applied_index, (unsigned long long)au_one_state_hash(o));
}

static uint64_t one_applied(const void *state) { return au_one_applied_index(state); }

/* The end-of-run query: every record of the most advanced replica (the
 * one that applied the most), and whether the other replicas agree with
 * its records as far as they got. */
static char *one_report(void *const *states, uint32_t nodes)
{
	au_node_id best_node = au_most_applied(states, nodes, one_applied);
	if (!best_node)
		return NULL;
	const struct au_one *best = states[best_node];
	GString *s = g_string_new(NULL);
	uint32_t behind = 0, disagree = 0;
	for (au_node_id n = 1; n <= nodes; n++) {
		const struct au_one *o = states[n];
		if (!o || o == best)
			continue;
		for (guint i = 0; i < o->records->len; i++) {
			const struct au_one_record *r = g_ptr_array_index(o->records, i);
			const struct au_one_record *b = au_one_get(best, r->job);
			if (!b || b->index != r->index || memcmp(b->digest, r->digest, 32) != 0)
				disagree++;
		}
		if (o->records->len < best->records->len)
			behind++;
	}
	g_string_append_printf(s, "  ONE (replica of n%u, applied to index %llu): %u records, "
				  "%llu duplicate writes rejected; %u replicas behind, %u records "
				  "disagreeing\n",
			       best_node, (unsigned long long)best->applied_index, best->records->len,
			       (unsigned long long)best->duplicates, behind, disagree);
	for (guint i = 0; i < best->records->len; i++) {
		const struct au_one_record *r = g_ptr_array_index(best->records, i);
		g_string_append_printf(s, "    job %llu %s: %s after %u rounds", (unsigned long long)r->job,
				       r->kind == AU_ONE_KIND_SYNTHETIC ? "synthetic"
				       : au_kernel_kind_name((enum au_kernel_kind)r->kind),
				       au_kernel_verdict_name(r->verdict), r->rounds);
		if (au_one_has_reason(r->verdict))
			g_string_append_printf(s, ", reason \"%s\"", r->reason);
		if (r->n_residuals)
			g_string_append_printf(s, ", residual %.3g", r->residuals[r->n_residuals - 1]);
		g_string_append(s, ", digest ");
		for (int k = 0; k < 6; k++)
			g_string_append_printf(s, "%02x", r->digest[k]);
		g_string_append(s, ", workers");
		for (uint32_t k = 0; k < r->n_workers; k++)
			g_string_append_printf(s, "%sn%u", k ? "," : " ", r->workers[k]);
		if (r->parent)
			g_string_append_printf(s, ", child of job %llu", (unsigned long long)r->parent);
		g_string_append_printf(s, " (log index %llu)\n", (unsigned long long)r->index);
	}
	return g_string_free(s, FALSE);
}

static const char *const one_needs[] = {"raft", NULL};

const struct au_model au_one_model = {
	.name = "one",
	.init = one_init,
	.recv = one_recv,
	.timer = one_timer,
	.persisted = one_persisted,
	.destroy = one_destroy,
	.summary = one_summary,
	.needs = one_needs,
	.report = one_report,
	.about = "ONE: the replicated repository of RQML results, one record per job",
};
