/* storage.c — every storage call of the Raft model, and what a failure does
 * to the node: the calls that report a failure, taking the node out of
 * service, and the repair that puts it back once what it promised is
 * durable again.
 *
 * Storage that fails (a write or truncate that returns an error, a sync
 * whose persisted() status is negative: env.h) puts the node out of
 * service: it steps down, drops every reply waiting for durability, and
 * neither votes, acknowledges, campaigns nor leads — it cannot promise
 * what it cannot persist.  Every election timeout it writes again what no
 * successful sync vouched for (term and vote, the log past durable_index)
 * and syncs; once all of that is durable it serves again.  A failed sync
 * is taken as Linux reports it: what it covered may be lost even if a
 * later sync succeeds, so the repair rewrites, it never merely re-syncs.
 */
#include "raft_internal.h"

#include <glib.h>

#include "trace_kinds.h"

/* Every storage call goes through these three: a failure takes the node
 * out of service (au_raft__storage_failed) and the caller learns it from `false`. */
bool au_raft__disk_write(struct au_raft *r, const char *name, uint64_t off, const void *buf,
			 size_t len)
{
	if (raft_io_blocked(r))
		return false;
	int rc = r->env->ops->storage_write(r->env->ctx, name, off, buf, len);
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	/* Planted bug: a failed write is taken for a good one. */
	rc = 0;
#endif
	if (rc < 0)
		au_raft__storage_failed(r, AU_STORAGE_WRITE, rc);
	return rc == 0;
}

bool au_raft__disk_truncate(struct au_raft *r, const char *name, uint64_t len)
{
	if (raft_io_blocked(r))
		return false;
	int rc = r->env->ops->storage_truncate(r->env->ctx, name, len);
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	rc = 0;
#endif
	if (rc < 0)
		au_raft__storage_failed(r, AU_STORAGE_TRUNCATE, rc);
	return rc == 0;
}

void au_raft__disk_sync(struct au_raft *r, const char *name, uint64_t token)
{
	if (!raft_io_blocked(r))
		r->env->ops->storage_sync(r->env->ctx, name, token);
}

/* Storage failed: stop serving at once (see the top of this file) and
 * try to repair a maximum election timeout later. */
void au_raft__storage_failed(struct au_raft *r, enum au_storage_op op, int err)
{
	r->disk_failures++;
	raft_trace(r, AU_TR_RAFT_DISK_FAILED, op, -err, (int64_t)r->disk_failures);
	if (r->disk_failed && !r->disk_repairing)
		return; /* already out of service, a repair is scheduled */
	r->disk_failed = true;
	r->disk_repairing = false;
	if (r->role == AU_RAFT_LEADER) {
		au_timer_cancel(r->env, r->heartbeat_timer);
		au_timer_cancel(r->env, r->quorum_timer);
	}
	au_raft__set_role(r, AU_RAFT_FOLLOWER, 0);
	r->transferee = 0;
	au_timer_cancel(r->env, r->election_timer);
	au_raft__clear_stash(r);
	/* What was in flight vouches for nothing now: a sync that completes
	 * later for a write issued before the failure is not trusted (a log
	 * batch or snapshot of an older sequence is ignored; a meta sync names
	 * its own version, which it did make durable). */
	r->n_batches = 0;
	r->n_dirty = 0;
	r->dirty_last = r->durable_index;
	au_raft__drop_outbox(r);
	if (r->compacting || r->installing) {
		r->snap_slot ^= 1u; /* the slot tried holds no good snapshot */
		r->compacting = false;
		r->installing = false;
		g_free(r->install_data);
		r->install_data = NULL;
	}
	(void)au_timer_set(r->env, 0, TIMER_FAIL_PENDING, 0);
	(void)au_timer_set(r->env, r->cfg->election_hi_ns, TIMER_DISK_REPAIR, 0);
}

/* Write again everything no successful sync vouched for — term and vote,
 * the log past durable_index — and sync it; au_raft__storage_repaired() puts the
 * node back in service once all of it is durable. */
void au_raft__repair_storage(struct au_raft *r)
{
	r->disk_repairing = true;
	r->disk_repairs++;
	if (!au_raft__persist_meta(r))
		return;
	uint64_t from = (r->durable_index > r->snap_index ? r->durable_index : r->snap_index) + 1;
	if (from <= raft_last_index(r) && !au_raft__write_entries(r, from, raft_last_index(r)))
		return;
	r->repair_meta = r->meta_version;
	r->repair_index = raft_last_index(r);
}

void au_raft__storage_repaired(struct au_raft *r)
{
	if (!r->disk_repairing || r->repair_meta == 0 || r->meta_synced < r->repair_meta ||
	    r->durable_index < r->repair_index)
		return;
	r->disk_failed = false;
	r->disk_repairing = false;
	r->repair_meta = r->repair_index = 0;
	raft_trace(r, AU_TR_RAFT_DISK_OK, (int64_t)r->durable_index, (int64_t)r->meta_synced,
		   (int64_t)r->disk_repairs);
	au_raft__reset_election_timer(r);
}
