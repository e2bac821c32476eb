/* log.c — the Raft model's durable state other than snapshots: term and vote
 * (meta), the outbox that holds replies until what they depend on is
 * durable, the log's segment files with their group commit, and the log in
 * memory (append, truncate, the configuration in effect).
 */
#include "raft_internal.h"

#include <assert.h>
#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

/* ---- durability: meta --------------------------------------------------- */

/* Write term and vote (a new version, in the other slot) and sync them;
 * false if the write failed (the node is then out of service). */
bool au_raft__persist_meta(struct au_raft *r)
{
	uint8_t buf[META_SLOT];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	r->meta_version++;
	au_put_u32(&w, META_MAGIC);
	au_put_u64(&w, r->meta_version);
	au_put_u64(&w, r->term);
	au_put_u32(&w, r->vote);
	while (w.len < META_SLOT - 4)
		au_put_u8(&w, 0);
	au_wbuf_seal(&w);
	assert(!w.overflow && w.len == META_SLOT);
	uint64_t off = (r->meta_version & 1u) * META_SLOT;
	if (!au_raft__disk_write(r, "meta", off, buf, w.len))
		return false;
	au_raft__disk_sync(r, "meta", TOKEN(TOKEN_META, r->meta_version));
	return true;
}

void au_raft__load_meta(struct au_raft *r)
{
	const struct au_env *e = r->env;
	for (uint64_t slot = 0; slot < 2; slot++) {
		uint8_t buf[META_SLOT];
		struct au_rbuf rb;
		int64_t got = e->ops->storage_read(e->ctx, "meta", slot * META_SLOT, buf, META_SLOT);
		if (got < 0 && got != -AU_ENOENT) {
			r->read_failed = true; /* unknown is not absent: never guess a vote */
			return;
		}
		if (got != META_SLOT)
			continue;
		if (!au_rbuf_unseal(&rb, buf, META_SLOT) || au_get_u32(&rb) != META_MAGIC) {
			raft_trace(r, AU_TR_RAFT_BAD_DISK, 1, (int64_t)(slot * META_SLOT), 0);
			continue;
		}
		uint64_t version = au_get_u64(&rb);
		if (version < r->meta_version)
			continue;
		r->meta_version = version;
		r->term = au_get_u64(&rb);
		r->vote = au_get_u32(&rb);
	}
	r->meta_synced = r->meta_version;
}

/* ---- the outbox: replies that wait for durability ----------------------- */

/* The outbox: its messages (struct outmsg, in order) keep their bytes back
 * to back in outbox_bytes — one buffer, not an allocation per message: a
 * follower queues every append reply until its log sync completes.  The
 * outbox also keeps the least log index its messages wait for, so a flush
 * that can send and drop nothing (the usual one: the sync is still in
 * flight) returns without a scan. */

/* Room for `len` more bytes at the end of outbox_bytes. */
static uint8_t *outbox_room(struct au_raft *r, size_t len)
{
	if (r->outbox_len + len > r->outbox_cap) {
		size_t cap = r->outbox_cap ? r->outbox_cap : 4096;
		while (cap < r->outbox_len + len)
			cap *= 2;
		r->outbox_bytes = g_realloc(r->outbox_bytes, cap);
		r->outbox_cap = cap;
	}
	return r->outbox_bytes + r->outbox_len;
}

/* The outbox is empty: its bytes go too (all of them after a burst of
 * large messages, so a long run's memory follows what waits). */
static void outbox_emptied(struct au_raft *r)
{
	r->n_outbox = 0;
	r->outbox_len = 0;
	if (r->outbox_cap > 65536) {
		g_free(r->outbox_bytes);
		r->outbox_bytes = NULL;
		r->outbox_cap = 0;
	}
}

void au_raft__drop_outbox(struct au_raft *r)
{
	outbox_emptied(r);
}

/* au_raft__flush_outbox (raft_internal.h) for an outbox that is not empty. */
void au_raft__flush_outbox_slow(struct au_raft *r)
{
	uint32_t n = r->n_outbox;
	if (r->disk_failed) {
		au_raft__drop_outbox(r); /* out of service: nothing that waited is sent */
		return;
	}
	/* Nothing stale and nothing ready: all stay.  Terms and meta versions
	 * only grow, so the first message has the least of each: if its term
	 * is current, every message's is. */
	const struct outmsg *first = &r->outbox[0];
	if (first->term == r->term &&
	    (first->need_meta > r->meta_synced || r->outbox_min_index > r->durable_index))
		return;
	uint32_t keep = 0;
	size_t at = 0; /* kept messages' bytes move down to the front, in order */
	uint64_t min_index = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++) {
		struct outmsg m = r->outbox[i];
		if (m.term != r->term)
			continue; /* stale: the term moved on */
		if (m.need_meta <= r->meta_synced && m.need_index <= r->durable_index) {
			au_send(r->env, m.to, r->outbox_bytes + m.at, m.len);
			continue;
		}
		if (m.at != at)
			memmove(r->outbox_bytes + at, r->outbox_bytes + m.at, m.len);
		m.at = at;
		at += m.len;
		r->outbox[keep++] = m;
		if (m.need_index < min_index)
			min_index = m.need_index;
	}
	if (keep == 0) {
		outbox_emptied(r);
		return;
	}
	r->n_outbox = keep;
	r->outbox_len = at;
	r->outbox_min_index = min_index;
}

/* Send sealed `msg` to `to` once the current term/vote and the log up to
 * `need_index` are durable (at once if they already are). */
static inline void send_sealed(struct au_raft *r, au_node_id to, const uint8_t *msg, size_t len,
			       uint64_t need_index)
{
	if (r->disk_failed) {
		r->dropped_msgs++; /* out of service: it promises nothing */
		return;
	}
	if (r->meta_synced >= r->meta_version && r->durable_index >= need_index &&
	    r->n_outbox == 0) {
		au_send(r->env, to, msg, len);
		return;
	}
	if (r->n_outbox >= OUTBOX_MAX) {
		r->dropped_msgs++;
		return;
	}
	struct outmsg m = {to, r->meta_version, need_index, r->term, (uint32_t)len, r->outbox_len};
	memcpy(outbox_room(r, len), msg, len);
	r->outbox_len += len;
	if (r->n_outbox == r->outbox_slots) {
		r->outbox_slots = r->outbox_slots ? 2 * r->outbox_slots : 16;
		r->outbox = g_renew(struct outmsg, r->outbox, r->outbox_slots);
	}
	if (r->n_outbox == 0 || need_index < r->outbox_min_index)
		r->outbox_min_index = need_index;
	r->outbox[r->n_outbox++] = m;
}

/* Seal `w` and send it as send_sealed does. */
void au_raft__send_durable(struct au_raft *r, au_node_id to, struct au_wbuf *w, uint64_t need_index)
{
	au_wbuf_seal(w);
	assert(!w->overflow);
	send_sealed(r, to, w->p, w->len, need_index);
}

/* The same for a message already sealed. */
void au_raft__send_durable_sealed(struct au_raft *r, au_node_id to, const uint8_t *msg, size_t len,
				  uint64_t need_index)
{
	send_sealed(r, to, msg, len, need_index);
}

/* ---- durability: log segments ------------------------------------------ */

/* "seg.N" (written by hand: this runs on every log write). */
void au_raft__seg_name(char *buf, size_t len, uint64_t seg)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + seg % 10);
		seg /= 10;
	} while (seg);
	assert(len >= 4 + n + 1);
	memcpy(buf, "seg.", 4);
	for (size_t i = 0; i < n; i++)
		buf[4 + i] = digits[n - 1 - i];
	buf[4 + n] = '\0';
}

/* The same, remembering the last segment named (buf: 32 bytes). */
void au_raft__seg_name_cached(struct au_raft *r, char buf[32], uint64_t seg)
{
	if (seg != r->seg_name_of) {
		au_raft__seg_name(r->seg_name, sizeof(r->seg_name), seg);
		r->seg_name_of = seg;
	}
	memcpy(buf, r->seg_name, sizeof(r->seg_name));
}

/* Write a record's head (length, index, the predecessor's chain, term,
 * type, data length) at rec; the data follows it, and the caller adds
 * the CRC after that. */
static void encode_record_head(uint8_t *rec, uint64_t index, uint64_t prev_chain, uint64_t term,
			       uint8_t type, uint32_t len)
{
	struct au_wbuf w;
	au_wbuf_init(&w, rec, RECORD_HEAD);
	au_put_u32(&w, RECORD_OVERHEAD + len);
	au_put_u64(&w, index);
	au_put_u64(&w, prev_chain);
	au_put_u64(&w, term);
	au_put_u8(&w, type);
	au_put_u32(&w, len);
	assert(!w.overflow && w.len == RECORD_HEAD);
}

static void put_record_crc(struct entry *e, uint32_t crc)
{
	uint8_t *p = e->rec + e->rec_len - 4;
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

/* The record of entry `index` as write_entries writes it: built at append
 * with the predecessor's chain then; were that ever to differ now (it
 * cannot: a chain is a function of the log before it, and what precedes a
 * kept entry never changes), it is encoded and sealed again. */
static const uint8_t *record_of(struct au_raft *r, uint64_t index, struct entry *e)
{
	uint64_t prev = raft_chain_at(r, index - 1);
	struct au_rbuf rb;
	au_rbuf_init(&rb, e->rec + RECORD_PREV_AT, 8);
	if (au_get_u64(&rb) != prev) {
		encode_record_head(e->rec, index, prev, e->term, e->type, e->len);
		put_record_crc(e, au_crc32c(0, e->rec, e->rec_len - 4));
	}
	return e->rec;
}

/* Cut the durable log so it ends before `from`: truncate its segment at
 * the entry's offset and empty the later segments up to the old end. */
static void truncate_files(struct au_raft *r, uint64_t from, uint64_t old_last)
{
	char name[32];
	struct entry *e = raft_entry_at(r, from);
	uint64_t first_seg = raft_seg_of(from);
	au_raft__seg_name(name, sizeof(name), first_seg);
	if (!au_raft__disk_truncate(r, name, e ? e->file_off : 0))
		return;
	au_raft__mark_dirty(r, first_seg);
	for (uint64_t s = first_seg + 1; old_last >= 1 && s <= raft_seg_of(old_last); s++) {
		au_raft__seg_name(name, sizeof(name), s);
		if (!au_raft__disk_truncate(r, name, 0))
			return;
		au_raft__mark_dirty(r, s);
	}
	/* The sync goes with the entries that replace them (recovery would
	 * refuse the stale suffix anyway, see load_log in boot.c). */
}

/* A pending durability batch can no longer vouch for entries >= from. */
static void cap_batches(struct au_raft *r, uint64_t from)
{
	for (uint32_t i = 0; i < r->n_batches; i++) {
		struct log_batch *b = &r->batches[i];
		if (b->last_index >= from)
			b->last_index = from - 1;
	}
	if (r->durable_index >= from)
		r->durable_index = from - 1;
	if (r->dirty_last >= from)
		r->dirty_last = from - 1;
}

void au_raft__mark_dirty(struct au_raft *r, uint64_t seg)
{
	for (uint32_t i = 0; i < r->n_dirty; i++)
		if (r->dirty_segs[i] == seg)
			return;
	if (r->n_dirty == r->dirty_cap) {
		r->dirty_cap = r->dirty_cap ? 2 * r->dirty_cap : 4;
		r->dirty_segs = g_renew(uint64_t, r->dirty_segs, r->dirty_cap);
	}
	r->dirty_segs[r->n_dirty++] = seg;
}

/* Group commit: at most one log sync batch is in flight.  Writes made
 * while it is in flight wait and are made durable together by the next
 * batch, issued when it completes — one sync per segment per batch, however
 * many appends arrived meanwhile. */
void au_raft__issue_log_sync(struct au_raft *r)
{
	if (r->n_batches >= LOG_SYNCS_IN_FLIGHT || r->n_dirty == 0 || raft_io_blocked(r))
		return;
	struct log_batch b = {++r->batch_seq, r->dirty_last, 0};
	char name[32];
	for (uint32_t i = 0; i < r->n_dirty; i++) {
		au_raft__seg_name_cached(r, name, r->dirty_segs[i]);
		au_raft__disk_sync(r, name, TOKEN(TOKEN_LOG, b.seq));
		b.remaining++;
	}
	r->n_dirty = 0;
	r->batches[r->n_batches++] = b;
}

/* Write entries [first, last] (already in memory); a sync batch makes
 * them durable (durable_index) as soon as the group commit allows.  False
 * if a write failed (the node is then out of service). */
bool au_raft__write_entries(struct au_raft *r, uint64_t first, uint64_t last)
{
	uint64_t seg = UINT64_MAX;
	char name[32];
	for (uint64_t i = first; i <= last; i++) {
		struct entry *e = raft_entry_at(r, i);
		uint64_t s = raft_seg_of(i);
		struct entry *prev = (i - 1 > r->snap_index && raft_seg_of(i - 1) == s) ? raft_entry_at(r, i - 1) : NULL;
		e->file_off = prev ? prev->file_off + prev->rec_len : 0;
		if (s != seg) {
			seg = s;
			au_raft__seg_name_cached(r, name, s);
			au_raft__mark_dirty(r, s);
			/* a fresh segment: drop whatever stale bytes it held */
			if (!prev && !au_raft__disk_truncate(r, name, 0))
				return false;
		}
		if (!au_raft__disk_write(r, name, e->file_off, record_of(r, i, e), e->rec_len))
			return false;
	}
	if (last > r->dirty_last)
		r->dirty_last = last;
	au_raft__issue_log_sync(r);
	return true;
}

void au_raft__log_persisted(struct au_raft *r, uint64_t seq)
{
	for (uint32_t i = 0; i < r->n_batches; i++) {
		struct log_batch *b = &r->batches[i];
		if (b->seq == seq) {
			b->remaining--;
			break;
		}
	}
	/* Durability advances only through a prefix of completed batches. */
	uint32_t done = 0;
	while (done < r->n_batches) {
		struct log_batch *b = &r->batches[done];
		if (b->remaining > 0)
			break;
		if (b->last_index > r->durable_index)
			r->durable_index = b->last_index;
		done++;
	}
	if (done) {
		memmove(r->batches, r->batches + done, (r->n_batches - done) * sizeof(r->batches[0]));
		r->n_batches -= done;
	}
	if (r->durable_index > raft_last_index(r))
		r->durable_index = raft_last_index(r);
	au_raft__issue_log_sync(r);
}

/* ---- log manipulation --------------------------------------------------- */

void au_raft__free_entry(struct au_raft *r, struct entry *e)
{
	au_raft__rec_free(&r->recs, e->rec, e->chunk);
	e->rec = NULL;
	e->data = NULL;
}

static void apply_config_entry(struct au_raft *r, uint64_t index, const struct entry *e)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, e->data, e->len);
	uint64_t mask = au_get_u64(&rb);
	if (rb.short_read)
		return;
	r->voters = mask;
	r->config_index = index;
	raft_trace(r, AU_TR_RAFT_CONFIG, (int64_t)index, (int64_t)mask, 0);
}

/* The configuration in effect: the newest CONFIG entry in the log, else
 * the snapshot's. */
void au_raft__recompute_config(struct au_raft *r)
{
	for (uint64_t i = raft_last_index(r); i > r->snap_index; i--) {
		struct entry *e = raft_entry_at(r, i);
		if (e->type == ENTRY_CONFIG) {
			apply_config_entry(r, i, e);
			return;
		}
	}
	r->voters = r->snap_voters;
	r->config_index = r->snap_index;
	raft_trace(r, AU_TR_RAFT_CONFIG, (int64_t)r->snap_index, (int64_t)r->voters, 0);
}

void au_raft__fail_proposals_from(struct au_raft *r, uint64_t from)
{
	guint keep = 0;
	GArray *failed = g_array_new(FALSE, FALSE, sizeof(struct proposal));
	for (guint i = 0; i < r->proposals->len; i++) {
		struct proposal *p = &g_array_index(r->proposals, struct proposal, i);
		if (p->index >= from)
			g_array_append_val(failed, *p);
		else
			g_array_index(r->proposals, struct proposal, keep++) = *p;
	}
	g_array_set_size(r->proposals, keep);
	for (guint i = 0; i < failed->len; i++) {
		struct proposal *p = &g_array_index(failed, struct proposal, i);
		p->done(p->ctx, false, p->index, NULL, 0);
	}
	g_array_free(failed, TRUE);
}

/* Remove entries >= from (a follower resolving a conflict). */
void au_raft__truncate_log(struct au_raft *r, uint64_t from)
{
	uint64_t old_last = raft_last_index(r);
	assert(from > r->commit); /* committed entries are never removed */
	assert(r->role != AU_RAFT_LEADER);
	truncate_files(r, from, old_last);
	r->log_gen++; /* entries leave: an append built before is stale */
	for (uint64_t i = from; i <= old_last; i++)
		au_raft__free_entry(r, raft_entry_at(r, i));
	g_array_set_size(r->log, from - r->snap_index - 1);
	cap_batches(r, from);
	raft_trace(r, AU_TR_RAFT_TRUNCATE, (int64_t)from, (int64_t)r->term, 0);
	au_raft__fail_proposals_from(r, from);
	if (r->config_index >= from)
		au_raft__recompute_config(r);
}

/* Append one entry in memory (the caller writes and syncs the batch). */
uint64_t au_raft__append_entry(struct au_raft *r, uint64_t term, uint8_t type, const void *data,
			       uint32_t len)
{
	uint64_t index = raft_last_index(r) + 1, prev = raft_chain_at(r, index - 1);
	struct entry e = {0};
	e.term = term;
	e.type = type;
	e.len = len;
	e.rec_len = RECORD_OVERHEAD + len;
	e.rec = au_raft__rec_alloc(&r->recs, e.rec_len, &e.chunk);
	e.data = e.rec + RECORD_HEAD;
	encode_record_head(e.rec, index, prev, term, type, len);
	if (len)
		memcpy(e.data, data, len);
	uint32_t crc;
	e.chain = au_raft__chain_memo_rec(prev, term, type, e.data, len, index, e.rec,
					  e.rec_len - 4, &crc);
	put_record_crc(&e, crc);
	g_array_append_val(r->log, e);
	raft_trace(r, AU_TR_RAFT_APPEND, (int64_t)index, (int64_t)term, (int64_t)e.chain);
	if (type == ENTRY_CONFIG)
		apply_config_entry(r, index, raft_entry_at(r, index));
	return index;
}
