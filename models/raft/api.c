/* api.c — the Raft model's public face (raft.h): the replicated-state-
 * machine API other models use (submit, reads, transfer, membership,
 * observers, replica comparison) and the model table with its
 * configuration keys.
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
	/* Built in cmdbuf: append_entry copies the bytes into the entry's
	 * record and keeps no pointer to the buffer. */
	struct au_wbuf w;
	au_wbuf_init(&w, r->cmdbuf, len + 17);
	au_put_u8(&w, machine);
	au_put_u64(&w, client);
	au_put_u64(&w, seq);
	au_put_bytes(&w, cmd, len);
	assert(!w.overflow);
	uint64_t index = au_raft__append_entry(r, r->term, ENTRY_CMD, r->cmdbuf, (uint32_t)w.len);
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
	if (q.seq < r->reads_wait_seq)
		r->reads_wait_seq = q.seq;
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
	slots[0] = au_raft__sessions_digest(r);
	uint64_t d = au_digest_add(UINT64_C(0x5157), slots[0]);
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

void *au_raft_machine_state(const struct au_raft *r, uint8_t id)
{
	if (id == 0 || id >= AU_RAFT_MAX_MACHINES || !r->machines[id].apply)
		return NULL;
	return r->machines[id].sm;
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

/* ---- the model: summary, admin actions, configuration keys ------------- */

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
	.init = au_raft__init,
	.recv = au_raft__recv,
	.timer = au_raft__timer,
	.persisted = au_raft__persisted,
	.destroy = au_raft__destroy,
	.summary = raft_summary,
	.message_names = raft_message_names,
	.n_message_names = 8,
	.admin = raft_admin,
	.about = "Raft consensus: one replicated log, snapshots, membership changes",
};
