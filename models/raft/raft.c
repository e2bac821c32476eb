/* raft.c — the part of the Raft model not yet split into the other files
 * of models/raft/ (see raft_internal.h).
 */
#include "raft_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "trace_kinds.h"
#include "wire.h"

/* ---- the API other models use ------------------------------------------------ */

void au_raft_register_machine(struct au_raft *r, uint8_t id, const struct au_raft_machine *m)
{
	assert(id > 0 && id < AU_RAFT_MAX_MACHINES);
	/* Two machines on one id would silently share (and lose) a state. */
	assert(r->machines[id].apply == NULL);
	r->machines[id] = *m;
	if (r->pending_restore[id]) {
		m->restore(m->sm, r->pending_restore[id], r->pending_restore_len[id]);
		g_free(r->pending_restore[id]);
		r->pending_restore[id] = NULL;
	}
}

int au_raft_submit(struct au_raft *r, uint8_t machine, uint64_t client, uint64_t seq,
		   const void *cmd, size_t len, au_raft_done_fn done, void *ctx)
{
	if (r->role != AU_RAFT_LEADER || r->transferee || r->disk_failed)
		return -AU_EINVAL;
	if (machine == 0 || machine >= AU_RAFT_MAX_MACHINES || len > APPEND_BYTES_MAX / 2)
		return -AU_EINVAL;
	uint8_t *buf = g_malloc(len + 17);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, len + 17);
	au_put_u8(&w, machine);
	au_put_u64(&w, client);
	au_put_u64(&w, seq);
	au_put_bytes(&w, cmd, len);
	uint64_t index = au_raft__append_entry(r, r->term, ENTRY_CMD, buf, (uint32_t)w.len);
	g_free(buf);
	/* Registered before the write: if the write fails, the step-down it
	 * causes fails the proposal (later, never inside this call) — as
	 * unknown, since the entry stays in the log and may yet commit. */
	struct proposal p = {index, r->term, done, ctx};
	g_array_append_val(r->proposals, p);
	if (!au_raft__write_entries(r, index, index))
		return 0;
	/* Pipelining: ship it now rather than at the next heartbeat. */
	au_raft__broadcast_append(r, false);
	au_raft__flush_outbox(r);
	return 0;
}

int au_raft_read_index(struct au_raft *r, au_raft_done_fn done, void *ctx)
{
	if (r->role != AU_RAFT_LEADER || r->disk_failed)
		return -AU_EINVAL;
	/* A heartbeat round sent from now on confirms we still lead. */
	struct read_req q = {r->commit, r->hb_seq + 1, done, ctx, false};
	g_array_append_val(r->reads, q);
	if (au_raft__quorum_acked_seq(r) >= r->read_round)
		au_raft__start_read_round(r);
	else
		r->read_round_wanted = true;
	au_raft__check_reads(r);
	return 0;
}

int au_raft_transfer(struct au_raft *r, au_node_id to)
{
	if (r->role != AU_RAFT_LEADER || !raft_is_voter(r, to) || to == r->env->self)
		return -AU_EINVAL;
	r->transferee = to;
	r->transfer_deadline_ns = au_now(r->env) + r->cfg->election_hi_ns;
	raft_trace(r, AU_TR_RAFT_TRANSFER, (int64_t)r->term, to, 1);
	au_raft__send_append(r, to, false);
	au_raft__maybe_send_timeout_now(r);
	au_raft__flush_outbox(r);
	return 0;
}

int au_raft_change_member(struct au_raft *r, au_node_id node, bool add)
{
	if (r->role != AU_RAFT_LEADER || node < 1 || node > AU_RAFT_MAX_NODES ||
	    node > r->env->nodes)
		return -AU_EINVAL;
	/* One change at a time: the previous one must be committed. */
	if (r->config_index > r->commit)
		return -AU_EINVAL;
#ifndef AU_BUG_MEMBERSHIP_EARLY
	/* Ongaro's 2015 fix: not before an entry of this term is committed. */
	if (r->commit < r->term_start)
		return -AU_EINVAL;
#endif
	uint64_t mask = add ? r->voters | (UINT64_C(1) << node) : r->voters & ~(UINT64_C(1) << node);
	if (mask == r->voters || mask == 0)
		return -AU_EINVAL;
	uint8_t buf[8];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, mask);
	uint64_t index = au_raft__append_entry(r, r->term, ENTRY_CONFIG, buf, 8);
	if (!au_raft__write_entries(r, index, index))
		return 0; /* in the log; may commit under a later leader */
	if (add) {
		struct peer *p = &r->peers[node];
		memset(p, 0, sizeof(*p));
		p->next = raft_last_index(r);
		p->last_ack_ns = au_now(r->env);
		p->snap_offset = UINT64_MAX;
	}
	au_raft__broadcast_append(r, false);
	au_raft__flush_outbox(r);
	return 0;
}

bool au_raft_is_leader(const struct au_raft *r) { return r->role == AU_RAFT_LEADER; }
/* A server outside its latest configuration gets no appends: whatever
 * leader it last heard of is stale, so it knows none. */
au_node_id au_raft_leader_hint(const struct au_raft *r)
{
	return raft_is_voter(r, r->env->self) ? r->leader : 0;
}
uint64_t au_raft_term(const struct au_raft *r) { return r->term; }
uint64_t au_raft_commit_index(const struct au_raft *r) { return r->commit; }
uint64_t au_raft_applied_index(const struct au_raft *r) { return r->applied; }

uint64_t au_raft_state_digest(const struct au_raft *r, uint64_t slots[AU_RAFT_MAX_MACHINES])
{
	slots[0] = r->sessions_digest;
	uint64_t d = au_digest_add(UINT64_C(0x5157), r->sessions_digest);
	for (uint8_t id = 1; id < AU_RAFT_MAX_MACHINES; id++) {
		const struct au_raft_machine *m = &r->machines[id];
		slots[id] = m->digest ? m->digest(m->sm) : 0;
		d = au_digest_add(d, slots[id]);
	}
	return d;
}

uint64_t au_raft_fingerprints(const uint64_t slots[AU_RAFT_MAX_MACHINES])
{
	uint64_t fp = 0;
	for (unsigned i = 0; i < AU_RAFT_MAX_MACHINES; i++)
		fp |= (slots[i] & 0xffu) << (8 * i);
	return fp;
}

const char *au_raft_slot_name(const struct au_raft *r, uint8_t id)
{
	if (id == 0)
		return "sessions";
	if (id >= AU_RAFT_MAX_MACHINES || !r->machines[id].apply)
		return NULL;
	return r->machines[id].name ? r->machines[id].name : "unnamed";
}

static gint cmp_session_ptr(gconstpointer a, gconstpointer b)
{
	const struct session *x = *(const struct session *const *)a;
	const struct session *y = *(const struct session *const *)b;
	return x->client < y->client ? -1 : x->client > y->client;
}

char *au_raft_describe(const struct au_raft *r, uint8_t id)
{
	if (id >= AU_RAFT_MAX_MACHINES)
		return NULL;
	if (id > 0) {
		const struct au_raft_machine *m = &r->machines[id];
		return m->describe ? m->describe(m->sm) : NULL;
	}
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	g_ptr_array_sort(all, cmp_session_ptr); /* client order, never the table's */
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < all->len; i++) {
		const struct session *s = g_ptr_array_index(all, i);
		g_string_append_printf(out, "session %llu: seq=%llu result=", (unsigned long long)s->client,
				       (unsigned long long)s->seq);
		for (unsigned k = 0; k < s->result_len; k++)
			g_string_append_printf(out, "%02x", s->result[k]);
		g_string_append_c(out, '\n');
	}
	g_ptr_array_free(all, TRUE);
	return g_string_free(out, FALSE);
}

/* ---- boot, recovery, teardown ----------------------------------------------- */

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
		r->snap_bytes = best;
		r->snap_len = best_len;
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
	r->batches = g_array_new(FALSE, FALSE, sizeof(struct log_batch));
	r->dirty_segs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	r->outbox = g_array_new(FALSE, FALSE, sizeof(struct outmsg));
	r->proposals = g_array_new(FALSE, FALSE, sizeof(struct proposal));
	r->reads = g_array_new(FALSE, FALSE, sizeof(struct read_req));
	r->sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
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
		au_raft__free_entry(&g_array_index(r->log, struct entry, i));
	g_array_free(r->log, TRUE);
	g_array_free(r->batches, TRUE);
	g_array_free(r->dirty_segs, TRUE);
	for (guint i = 0; i < r->outbox->len; i++)
		g_free(g_array_index(r->outbox, struct outmsg, i).bytes);
	g_array_free(r->outbox, TRUE);
	/* Crash: callbacks are not called (their owners die with this node). */
	g_array_free(r->proposals, TRUE);
	g_array_free(r->reads, TRUE);
	g_hash_table_destroy(r->sessions);
	for (unsigned i = 0; i < AU_RAFT_MAX_MACHINES; i++)
		g_free(r->pending_restore[i]);
	au_raft__clear_stash(r);
	g_free(r->rx_snap);
	g_free(r->install_data);
	g_free(r->snap_bytes);
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

static void *raft_init(const struct au_env *env, const void *config)
{
	struct au_raft *r = g_new0(struct au_raft, 1);
	r->env = env;
	r->cfg = config;
	init_contents(r);
	au_raft__recover_or_wait(r);
	return r;
}

static void raft_destroy(void *state)
{
	struct au_raft *r = state;
	free_contents(r);
	g_free(r);
}

static void raft_summary(void *state, char *buf, size_t len)
{
	struct au_raft *r = state;
	static const char *const roles[] = {"follower", "precandidate", "candidate", "leader"};
	char disk[64] = "";
	if (r->disk_failures)
		snprintf(disk, sizeof(disk), " disk_failures=%llu repairs=%llu",
			 (unsigned long long)r->disk_failures, (unsigned long long)r->disk_repairs);
	snprintf(buf, len,
		 "%s term=%llu commit=%llu applied=%llu last=%llu snapshot=%llu elections=%llu bad=%llu"
		 " held=%llu gaps=%llu%s",
		 r->unrecovered ? "unrecovered(unreadable disk)"
		 : r->disk_failed ? "out-of-service(storage failed)" : roles[r->role], (unsigned long long)r->term, (unsigned long long)r->commit,
		 (unsigned long long)r->applied, (unsigned long long)raft_last_index(r),
		 (unsigned long long)r->snap_index, (unsigned long long)r->elections,
		 (unsigned long long)r->bad_msgs, (unsigned long long)r->held_appends,
		 (unsigned long long)r->gap_rejects, disk);
}

static int raft_admin(void *state, const char *action, au_node_id target)
{
	struct au_raft *r = state;
	if (strcmp(action, "transfer_leader") == 0)
		return au_raft_transfer(r, target);
	if (strcmp(action, "add_voter") == 0)
		return au_raft_change_member(r, target, true);
	if (strcmp(action, "remove_voter") == 0)
		return au_raft_change_member(r, target, false);
	return -AU_EINVAL;
}

static const struct au_config_key raft_keys[] = {
	{"election_timeout", AU_CFG_DURATION_RANGE, offsetof(struct au_raft_config, election_lo_ns),
	 "150ms..300ms", AU_NS_PER_MS, UINT64_C(600) * AU_NS_PER_S, "randomized election timeout", NULL},
	{"heartbeat", AU_CFG_DURATION, offsetof(struct au_raft_config, heartbeat_ns), "50ms",
	 AU_NS_PER_US, UINT64_C(60) * AU_NS_PER_S, "leader heartbeat interval", NULL},
	{"prevote", AU_CFG_BOOL, offsetof(struct au_raft_config, prevote), "true", 0, 1,
	 "pre-vote before real elections", NULL},
	{"check_quorum", AU_CFG_BOOL, offsetof(struct au_raft_config, check_quorum), "true", 0, 1,
	 "a leader that cannot reach a majority steps down", NULL},
	{"max_batch", AU_CFG_UINT, offsetof(struct au_raft_config, max_batch), "64", 1, 4096,
	 "entries per AppendEntries", NULL},
	{"max_inflight", AU_CFG_UINT, offsetof(struct au_raft_config, max_inflight), "8", 1, 256,
	 "pipelined AppendEntries per follower", NULL},
	{"snapshot_every", AU_CFG_UINT, offsetof(struct au_raft_config, snapshot_every), "1000", 0,
	 100000000, "compact the log after this many applied entries (0: never)", NULL},
	{"voters", AU_CFG_UINT, offsetof(struct au_raft_config, voters), "0", 0, AU_RAFT_MAX_NODES,
	 "initial voters n1..nK (0: every node)", NULL},
	{"digest_every", AU_CFG_UINT, offsetof(struct au_raft_config, digest_every), "64", 1,
	 1048576, "trace a digest of every replica's state machines each time its applied index "
	 "is a multiple of this (the replicas_agree check compares them)", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const raft_message_names[] = {NULL, "VOTE", "VOTE_RESP", "APPEND",
						  "APPEND_RESP", "SNAP", "SNAP_RESP", "TIMEOUT_NOW"};

const struct au_model au_raft_model = {
	.name = "raft",
	.config_group = "raft",
	.config_keys = raft_keys,
	.config_size = sizeof(struct au_raft_config),
	.init = raft_init,
	.recv = au_raft__recv,
	.timer = au_raft__timer,
	.persisted = au_raft__persisted,
	.destroy = raft_destroy,
	.summary = raft_summary,
	.message_names = raft_message_names,
	.n_message_names = 8,
	.admin = raft_admin,
};
