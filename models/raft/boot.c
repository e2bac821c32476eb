/* boot.c — a Raft node's start and end: recovery from durable storage only
 * (meta, the newest valid snapshot, the log segments after it), waiting
 * and retrying while the disk cannot be read, and teardown.
 */
#include "raft_internal.h"

#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

/* The whole file, or NULL if it is missing or empty; a failed read also
 * sets r->read_failed (recovery must then not treat the file as absent). */
static uint8_t *read_whole(struct au_raft *r, const char *name, size_t *len)
{
	const struct au_env *e = r->env;
	int64_t size = e->ops->storage_size(e->ctx, name);
	if (size <= 0)
		return NULL;
	uint8_t *buf = g_malloc((gsize)size);
	int64_t got = e->ops->storage_read(e->ctx, name, 0, buf, (size_t)size);
	if (got != size) {
		if (got < 0 && got != -AU_ENOENT)
			r->read_failed = true;
		g_free(buf);
		return NULL;
	}
	*len = (size_t)size;
	return buf;
}

static void load_snapshots(struct au_raft *r)
{
	uint8_t *best = NULL;
	size_t best_len = 0;
	uint64_t best_index = 0;
	for (uint8_t slot = 0; slot < 2; slot++) {
		size_t len = 0;
		uint8_t *buf = read_whole(r, slot ? "snap.1" : "snap.0", &len);
		uint64_t index, term, chain, voters;
		if (buf && au_raft__snap_header(buf, len, &index, &term, &chain, &voters) && index > best_index) {
			g_free(best);
			best = buf;
			best_len = len;
			best_index = index;
			r->snap_slot = slot;
		} else {
			if (buf)
				raft_trace(r, AU_TR_RAFT_BAD_DISK, 2, slot, 0);
			g_free(buf);
		}
	}
	if (r->read_failed) {
		g_free(best);
		return;
	}
	if (best && au_raft__load_snapshot_bytes(r, best, best_len, true)) {
		au_raft__set_snap_bytes(r, best, best_len);
	} else {
		g_free(best);
	}
}

/* Read the log from the segments after the snapshot: whole, valid,
 * consecutive records only; anything after the first bad one is cut. */
static void load_log(struct au_raft *r)
{
	uint64_t next = r->snap_index + 1;
	for (uint64_t seg = raft_seg_of(next);; seg++) {
		char name[32];
		au_raft__seg_name(name, sizeof(name), seg);
		size_t len = 0;
		uint8_t *buf = read_whole(r, name, &len);
		if (r->read_failed)
			return;
		size_t off = 0;
		bool clean = true;
		while (buf && off + 4 <= len) {
			uint32_t n = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 |
				     (uint32_t)buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
			struct au_rbuf rb;
			if (n < RECORD_OVERHEAD || n > len - off || !au_rbuf_unseal(&rb, buf + off, n)) {
				clean = false;
				break;
			}
			(void)au_get_u32(&rb);
			uint64_t index = au_get_u64(&rb), prev_chain = au_get_u64(&rb);
			uint64_t term = au_get_u64(&rb);
			uint8_t type = au_get_u8(&rb);
			uint32_t dlen = au_get_u32(&rb);
			if (rb.short_read || dlen != rb.len - rb.pos || raft_seg_of(index) != seg) {
				clean = false;
				break;
			}
			if (index >= next) {
				if (index != next) {
					clean = false;
					break;
				}
				if (prev_chain != raft_chain_at(r, index - 1)) {
					/* A stale suffix: it follows a different history
					 * than ours (an unsynced truncation was lost). */
					raft_trace(r, AU_TR_RAFT_BAD_DISK, 4, (int64_t)off, (int64_t)seg);
					clean = true;
					break;
				}
				au_raft__append_entry(r, term, type, rb.p + rb.pos, dlen);
				struct entry *en = raft_entry_at(r, index);
				en->file_off = (uint32_t)off;
				en->rec_len = n;
				next++;
			}
			off += n;
		}
		if (buf && off < len) {
			if (!clean)
				raft_trace(r, AU_TR_RAFT_BAD_DISK, 3, (int64_t)off, (int64_t)seg);
			(void)au_raft__disk_truncate(r, name, off); /* a failure: out of service, repaired later */
		}
		g_free(buf);
		/* Go on only if this segment ended exactly at its last index. */
		if (!buf || next != (seg + 1) * SEG_ENTRIES + 1)
			break;
	}
}

/* The in-memory containers of an empty node: no log, the initial voters. */
static void init_contents(struct au_raft *r)
{
	r->log = g_array_new(FALSE, TRUE, sizeof(struct entry));
	r->seg_name_of = UINT64_MAX;
	r->proposals = g_array_new(FALSE, FALSE, sizeof(struct proposal));
	r->reads = g_array_new(FALSE, FALSE, sizeof(struct read_req));
	r->sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	r->stale_sessions = g_ptr_array_new();
	uint32_t k = r->cfg->voters && r->cfg->voters < r->env->nodes ? r->cfg->voters : r->env->nodes;
	if (k > AU_RAFT_MAX_NODES)
		k = AU_RAFT_MAX_NODES;
	for (au_node_id n = 1; n <= k; n++)
		r->snap_voters |= UINT64_C(1) << n;
	r->voters = r->snap_voters;
}

/* Everything init_contents and recovery allocated (not r itself). */
static void free_contents(struct au_raft *r)
{
	for (guint i = 0; i < r->log->len; i++)
		au_raft__free_entry(r, &g_array_index(r->log, struct entry, i));
	g_array_free(r->log, TRUE);
	au_raft__rec_pool_clear(&r->recs);
	g_free(r->dirty_segs);
	g_free(r->outbox);
	g_free(r->outbox_bytes);
	/* Crash: callbacks are not called (their owners die with this node). */
	g_array_free(r->proposals, TRUE);
	g_array_free(r->reads, TRUE);
	g_ptr_array_free(r->stale_sessions, TRUE);
	g_hash_table_destroy(r->sessions);
	for (unsigned i = 0; i < AU_RAFT_MAX_MACHINES; i++)
		g_free(r->pending_restore[i]);
	au_raft__clear_stash(r);
	g_free(r->rx_snap);
	g_free(r->install_data);
	g_free(r->snap_bytes);
	g_free(r->chunk_msg);
}

/* Rebuild the node from durable storage only.  False if a read failed:
 * then the term, vote or log it promised before are unknown, and acting on
 * what it did read could vote twice in a term or drop acknowledged entries
 * (a read error is not an empty disk). */
static bool recover(struct au_raft *r)
{
	r->read_failed = false;
	au_raft__load_meta(r);
	if (!r->read_failed)
		load_snapshots(r);
	if (!r->read_failed)
		load_log(r);
	if (r->read_failed)
		return false;
	au_raft__recompute_config(r);
	r->durable_index = raft_last_index(r);
	r->commit = r->applied = r->snap_index;
	raft_trace(r, AU_TR_RAFT_RECOVER, (int64_t)raft_last_index(r), (int64_t)r->snap_index,
		   (int64_t)raft_chain_at(r, raft_last_index(r)));
	r->role = AU_RAFT_FOLLOWER;
	raft_trace(r, AU_TR_RAFT_ROLE, (int64_t)r->term, AU_RAFT_FOLLOWER, 0);
	au_raft__reset_election_timer(r);
	return true;
}

/* Recover, or stay out of the cluster (no votes, no replies, no
 * elections) and try again a maximum election timeout later, from a clean
 * slate: a disk that cannot be read now may be readable then. */
void au_raft__recover_or_wait(struct au_raft *r)
{
	r->recover_attempts++;
	if (recover(r)) {
		r->unrecovered = false;
		return;
	}
	raft_trace(r, AU_TR_RAFT_BAD_DISK, 5, (int64_t)r->recover_attempts, 0);
	const struct au_env *env = r->env;
	const struct au_raft_config *cfg = r->cfg;
	uint64_t attempts = r->recover_attempts;
	struct au_raft_machine machines[AU_RAFT_MAX_MACHINES];
	memcpy(machines, r->machines, sizeof(machines));
	free_contents(r);
	memset(r, 0, sizeof(*r));
	r->env = env;
	r->cfg = cfg;
	r->recover_attempts = attempts;
	memcpy(r->machines, machines, sizeof(machines));
	init_contents(r);
	r->unrecovered = true;
	au_timer_set(env, cfg->election_hi_ns, TIMER_RECOVER, 0);
}

void *au_raft__init(const struct au_env *env, const void *config)
{
	struct au_raft *r = g_new0(struct au_raft, 1);
	r->env = env;
	r->cfg = config;
	init_contents(r);
	au_raft__recover_or_wait(r);
	return r;
}

void au_raft__destroy(void *state)
{
	struct au_raft *r = state;
	free_contents(r);
	g_free(r);
}
