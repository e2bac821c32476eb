/* snapshot.c — snapshots of the Raft model: serialising and parsing the
 * whole replicated state, writing it to the snap.0/snap.1 slots, compacting
 * the log once one is durable, and adopting one received from the leader.
 */
#include "raft_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Serialise the state as of `applied`: header, sessions in client order,
 * machines in id order.  The machines' states are taken first, so the
 * snapshot is laid out in one buffer of its exact size (each state copied
 * once, no regrowing). */
static size_t build_snapshot(struct au_raft *r, uint8_t **out)
{
	uint8_t *mdata[AU_RAFT_MAX_MACHINES] = {0};
	size_t mlen[AU_RAFT_MAX_MACHINES] = {0};
	bool direct[AU_RAFT_MAX_MACHINES] = {0}; /* written in place (snapshot_write) */
	size_t total = 4 + 8 + 8 + 8 + 8 + 4 + 1 + 4; /* header, session count, end, CRC */
	for (uint8_t id = 1; id < AU_RAFT_MAX_MACHINES; id++) {
		const struct au_raft_machine *m = &r->machines[id];
		if (m->snapshot_size && m->snapshot_write) {
			mlen[id] = m->snapshot_size(m->sm);
			direct[id] = true;
		} else if (m->snapshot)
			mlen[id] = m->snapshot(m->sm, &mdata[id]);
		else if (r->pending_restore[id]) { /* not registered yet: carry it on */
			mlen[id] = r->pending_restore_len[id];
			mdata[id] = g_memdup2(r->pending_restore[id], mlen[id]);
		}
		if (mdata[id] || mlen[id] || direct[id])
			total += 1 + 4 + mlen[id];
	}
	GArray *keys = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), g_hash_table_size(r->sessions));
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_array_append_val(keys, *(uint64_t *)k);
		total += 8 + 8 + 1 + ((struct session *)v)->result_len;
	}
	g_array_sort(keys, cmp_u64); /* never hash-table order */
	uint8_t *buf = g_malloc(total);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, total);
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, r->applied);
	au_put_u64(&w, raft_term_at(r, r->applied));
	au_put_u64(&w, raft_chain_at(r, r->applied));
	/* the configuration as of `applied` */
	uint64_t voters = r->snap_voters;
	for (uint64_t i = r->applied; i > r->snap_index; i--) {
		struct entry *e = raft_entry_at(r, i);
		if (e->type == ENTRY_CONFIG) {
			struct au_rbuf rb;
			au_rbuf_init(&rb, e->data, e->len);
			voters = au_get_u64(&rb);
			break;
		}
	}
	au_put_u64(&w, voters);
	au_put_u32(&w, g_hash_table_size(r->sessions));
	for (guint i = 0; i < keys->len; i++) {
		struct session *s = g_hash_table_lookup(r->sessions, &g_array_index(keys, uint64_t, i));
		au_put_u64(&w, s->client);
		au_put_u64(&w, s->seq);
		au_put_u8(&w, s->result_len);
		au_put_bytes(&w, s->result, s->result_len);
	}
	g_array_free(keys, TRUE);
	for (uint8_t id = 1; id < AU_RAFT_MAX_MACHINES; id++) {
		if (!mdata[id] && !mlen[id] && !direct[id])
			continue;
		au_put_u8(&w, id);
		au_put_u32(&w, (uint32_t)mlen[id]);
		if (direct[id]) {
			const struct au_raft_machine *m = &r->machines[id];
			assert(w.len + mlen[id] <= w.cap); /* total counted it */
			m->snapshot_write(m->sm, w.p + w.len);
			w.len += mlen[id];
		} else {
			au_put_bytes(&w, mdata[id], mlen[id]);
		}
		free(mdata[id]);
	}
	au_put_u8(&w, 0); /* machine id 0 ends the list */
	au_wbuf_seal(&w);
	assert(!w.overflow && w.len == total);
	*out = buf;
	return total;
}

/* Parse a snapshot; on success fill the header fields, restore sessions
 * and stash machine states for restore.  False if it is corrupt. */
bool au_raft__load_snapshot_bytes(struct au_raft *r, const uint8_t *buf, size_t len, bool apply)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, buf, len) || au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	uint64_t index = au_get_u64(&rb), term = au_get_u64(&rb), chain = au_get_u64(&rb);
	uint64_t voters = au_get_u64(&rb);
	uint32_t nsess = au_get_u32(&rb);
	if (rb.short_read || nsess > 10000000u)
		return false;
	if (!apply) {
		r->rx_index = index;
		r->rx_term = term;
		return true;
	}
	g_ptr_array_set_size(r->stale_sessions, 0); /* they are freed here */
	memset(r->session_cache, 0, sizeof(r->session_cache));
	g_hash_table_remove_all(r->sessions);
	for (uint32_t i = 0; i < nsess && !rb.short_read; i++) {
		struct session *s = g_new0(struct session, 1);
		s->client = au_get_u64(&rb);
		s->seq = au_get_u64(&rb);
		s->result_len = au_get_u8(&rb);
		if (s->result_len > SESSION_RESULT_MAX)
			s->result_len = SESSION_RESULT_MAX;
		au_get_bytes(&rb, s->result, s->result_len);
		g_hash_table_replace(r->sessions, &s->client, s);
	}
	au_raft__recompute_sessions_digest(r);
	for (;;) {
		uint8_t id = au_get_u8(&rb);
		if (id == 0 || rb.short_read || id >= AU_RAFT_MAX_MACHINES)
			break;
		uint32_t mlen = au_get_u32(&rb);
		if (rb.short_read || mlen > rb.len - rb.pos)
			return false;
		const uint8_t *data = rb.p + rb.pos;
		rb.pos += mlen;
		const struct au_raft_machine *m = &r->machines[id];
		g_free(r->pending_restore[id]);
		r->pending_restore[id] = NULL;
		if (m->restore)
			m->restore(m->sm, data, mlen);
		else {
			r->pending_restore[id] = g_memdup2(data, mlen);
			r->pending_restore_len[id] = mlen;
		}
	}
	r->snap_index = index;
	r->snap_term = term;
	r->snap_chain = chain;
	r->snap_voters = voters;
	return !rb.short_read;
}

/* Write a snapshot into the slot that does not hold the newest durable
 * one, and sync it; its token names this write (snap_seq), so a sync
 * completing for an abandoned one is not taken for it. */
void au_raft__write_snapshot_file(struct au_raft *r, const uint8_t *data, size_t len)
{
	r->snap_slot ^= 1u;
	r->snap_seq++;
	const char *name = r->snap_slot ? "snap.1" : "snap.0";
	if (!au_raft__disk_truncate(r, name, 0) || !au_raft__disk_write(r, name, 0, data, len))
		return;
	au_raft__disk_sync(r, name, TOKEN(TOKEN_SNAP, r->snap_seq));
}

/* Drop the in-memory log up to `index` (it is in a durable snapshot) and
 * empty the segments that hold nothing newer. */
static void discard_prefix(struct au_raft *r, uint64_t index, uint64_t term, uint64_t chain)
{
	uint64_t old_first = r->snap_index + 1;
	uint64_t keep_from = index + 1;
	uint64_t drop = 0;
	if (keep_from > old_first)
		drop = (keep_from <= raft_last_index(r) + 1 ? keep_from : raft_last_index(r) + 1) - old_first;
	for (uint64_t i = 0; i < drop; i++)
		au_raft__free_entry(r, &g_array_index(r->log, struct entry, i));
	g_array_remove_range(r->log, 0, (guint)drop);
	r->log_gen++; /* entries leave: an append built before is stale */
	for (uint64_t s = raft_seg_of(old_first); old_first >= 1 && s < raft_seg_of(keep_from); s++) {
		char name[32];
		au_raft__seg_name(name, sizeof(name), s);
		/* Failing to free a segment below the snapshot loses nothing:
		 * recovery reads the log from the snapshot on. */
		if (au_raft__disk_truncate(r, name, 0))
			au_raft__mark_dirty(r, s); /* synced so the disk really gives the space back */
	}
	au_raft__issue_log_sync(r);
	r->snap_index = index;
	r->snap_term = term;
	r->snap_chain = chain;
}

void au_raft__maybe_compact(struct au_raft *r)
{
	if (!r->cfg->snapshot_every || r->compacting || r->installing ||
	    r->applied - r->snap_index < r->cfg->snapshot_every)
		return;
	uint8_t *data;
	size_t len = build_snapshot(r, &data);
	r->compacting = true;
	r->compact_index = r->applied;
	au_raft__set_snap_bytes(r, data, len); /* what InstallSnapshot sends from now on */
	au_raft__write_snapshot_file(r, data, len);
}

/* Replace the snapshot InstallSnapshot sends (takes `data`); the chunk
 * message built from the old one is dropped with it. */
void au_raft__set_snap_bytes(struct au_raft *r, uint8_t *data, size_t len)
{
	g_free(r->snap_bytes);
	r->snap_bytes = data;
	r->snap_len = len;
	g_free(r->chunk_msg);
	r->chunk_msg = NULL;
}

/* Read a snapshot's header fields. */
bool au_raft__snap_header(const uint8_t *buf, size_t len, uint64_t *index, uint64_t *term,
			  uint64_t *chain, uint64_t *voters)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, buf, len) || au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	*index = au_get_u64(&rb);
	*term = au_get_u64(&rb);
	*chain = au_get_u64(&rb);
	*voters = au_get_u64(&rb);
	return !rb.short_read;
}

void au_raft__snapshot_persisted(struct au_raft *r)
{
	if (r->installing) {
		/* A snapshot from the leader is durable: adopt it. */
		r->installing = false;
		uint64_t index = r->rx_index, term = r->rx_term;
		uint64_t si, st, chain = 0, sv;
		(void)au_raft__snap_header(r->install_data, r->install_len, &si, &st, &chain, &sv);
		bool keep_suffix = raft_term_at(r, index) == term && raft_chain_at(r, index) == chain;
		if (!keep_suffix) {
			for (guint i = 0; i < r->log->len; i++)
				au_raft__free_entry(r, &g_array_index(r->log, struct entry, i));
			uint64_t old_last = raft_last_index(r);
			g_array_set_size(r->log, 0);
			r->log_gen++;
			au_raft__fail_proposals_from(r, 0);
			for (uint64_t s = raft_seg_of(r->snap_index + 1); old_last > r->snap_index && s <= raft_seg_of(old_last); s++) {
				char name[32];
				au_raft__seg_name(name, sizeof(name), s);
				if (au_raft__disk_truncate(r, name, 0))
					au_raft__mark_dirty(r, s);
			}
			au_raft__issue_log_sync(r);
			r->snap_index = index; /* so raft_last_index() is right below */
		} else {
			discard_prefix(r, index, term, chain);
		}
		au_raft__load_snapshot_bytes(r, r->install_data, r->install_len, true);
		au_raft__set_snap_bytes(r, r->install_data, r->install_len);
		r->install_data = NULL;
		if (r->durable_index < index)
			r->durable_index = index;
		if (r->commit < index)
			r->commit = index;
		r->applied = index;
		au_raft__recompute_config(r);
		raft_trace(r, AU_TR_RAFT_INSTALL, (int64_t)index, (int64_t)term, (int64_t)chain);
		au_raft__trace_digest(r);
		au_raft__ack_install(r);
		return;
	}
	if (r->compacting) {
		r->compacting = false;
		uint64_t index = r->compact_index;
		if (index > r->snap_index && index <= raft_last_index(r)) {
			uint64_t si, st, sc, voters = r->snap_voters;
			if (!au_raft__snap_header(r->snap_bytes, r->snap_len, &si, &st, &sc, &voters))
				voters = r->snap_voters;
			uint64_t term = raft_term_at(r, index), chain = raft_chain_at(r, index);
			discard_prefix(r, index, term, chain);
			r->snap_voters = voters;
			raft_trace(r, AU_TR_RAFT_SNAPSHOT, (int64_t)index, (int64_t)term, (int64_t)chain);
		}
	}
}
