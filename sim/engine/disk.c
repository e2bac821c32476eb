/* disk.c — the simulated disk, after SQLite's crash tests (test6.c).
 *
 * Every node has named files.  Each file keeps two images: `current`, what
 * reads see, and `durable`, what survives a crash.  Writes and truncates go
 * to `current` at once and are queued as pending operations; a sync takes
 * a latency drawn from [disk] sync_latency (FIFO per file) and then moves
 * every operation issued before it into `durable`.  On a crash each
 * pending operation independently survives whole, survives torn (a prefix
 * cut at a sector boundary) or is lost, chosen from the node's disk
 * stream; `current` is then reset to `durable`.
 *
 * The disk fails as real ones do (env.h, "Storage errors"): [disk]
 * capacity bounds the bytes a node's files hold, and disk_fault kinds
 * make it full (no room beyond what it holds when the fault starts),
 * fail writes and truncates with an I/O error, or fail syncs.  A write
 * that does not fit writes the prefix that does and returns -AU_ENOSPC.
 * A failed sync is Linux's, not an idealised one: every operation it
 * covered is settled as at a crash (whole, torn or lost) in `durable`
 * and leaves the pending list, so a later sync that succeeds does not
 * make it durable, while reads still see it in `current`.
 */
#include "sim_internal.h"

#include <string.h>

#define SECTOR 512u
#define FILE_MAX (UINT64_C(1) << 30)

enum op_kind { OP_WRITE, OP_TRUNCATE };

struct pending_op {
	uint64_t seq;
	enum op_kind kind;
	uint64_t off, len; /* truncate: len = new length */
	uint8_t *data;
};

struct au_file {
	char *key; /* "service/name" */
	uint32_t index;
	bool exists, durable_exists;
	GByteArray *current, *durable;
	GArray *pending; /* struct pending_op, in issue order */
	uint64_t next_seq;
	au_time last_sync_done;
};

struct au_disk {
	GHashTable *by_key; /* lookup only; iteration uses `files` */
	GPtrArray *files;   /* creation order */
	uint64_t used;      /* bytes of every file's `current` image */
};

struct au_disk *au_disk_new(void)
{
	struct au_disk *d = g_new0(struct au_disk, 1);
	d->by_key = g_hash_table_new(g_str_hash, g_str_equal);
	d->files = g_ptr_array_new();
	return d;
}

static void clear_pending(struct au_file *f)
{
	for (guint i = 0; i < f->pending->len; i++)
		g_free(g_array_index(f->pending, struct pending_op, i).data);
	g_array_set_size(f->pending, 0);
}

void au_disk_free(struct au_disk *d)
{
	if (!d)
		return;
	for (guint i = 0; i < d->files->len; i++) {
		struct au_file *f = g_ptr_array_index(d->files, i);
		clear_pending(f);
		g_array_free(f->pending, TRUE);
		g_byte_array_free(f->current, TRUE);
		g_byte_array_free(f->durable, TRUE);
		g_free(f->key);
		g_free(f);
	}
	g_ptr_array_free(d->files, TRUE);
	g_hash_table_destroy(d->by_key);
	g_free(d);
}

static bool valid_name(const char *file)
{
	if (!file || !*file || strlen(file) > 200)
		return false;
	for (const char *p = file; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			return false;
	return true;
}

/* Find (or with `create`, make) a service's file on the node. */
static struct au_file *lookup(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
			      bool create)
{
	struct au_sim_node *nd = &sim->node[svc->node];
	if (!nd->disk) {
		if (!create)
			return NULL;
		nd->disk = au_disk_new();
	}
	/* "service/file": built by hand, this runs on every disk operation. */
	char key[256];
	const char *svc_name = sim->sc->cluster.services[svc->index]->name;
	size_t sl = strlen(svc_name), fl = strlen(file); /* file: <= 200, checked */
	if (sl + 1 + fl >= sizeof(key))
		sl = sizeof(key) - 2 - fl;
	memcpy(key, svc_name, sl);
	key[sl] = '/';
	memcpy(key + sl + 1, file, fl + 1);
	struct au_file *f = g_hash_table_lookup(nd->disk->by_key, key);
	if (f || !create)
		return f;
	f = g_new0(struct au_file, 1);
	f->key = g_strdup(key);
	f->index = nd->disk->files->len;
	f->current = g_byte_array_new();
	f->durable = g_byte_array_new();
	f->pending = g_array_new(FALSE, FALSE, sizeof(struct pending_op));
	g_ptr_array_add(nd->disk->files, f);
	g_hash_table_insert(nd->disk->by_key, f->key, f);
	return f;
}

static void apply_write(GByteArray *img, uint64_t off, const uint8_t *data, uint64_t len)
{
	if (off + len > img->len) {
		guint old = img->len;
		g_byte_array_set_size(img, (guint)(off + len));
		memset(img->data + old, 0, img->len - old);
	}
	memcpy(img->data + off, data, len);
}

static void apply_truncate(GByteArray *img, uint64_t len)
{
	if (len == 0 && img->len) {
		/* Give the memory back: Raft empties whole log segments after
		 * compaction, and set_size keeps the old capacity. */
		g_free(g_byte_array_steal(img, NULL));
		return;
	}
	guint old = img->len;
	g_byte_array_set_size(img, (guint)len);
	if (len > old)
		memset(img->data + old, 0, (size_t)(len - old));
}

/* Trace an operation the disk failed and count it. */
static void storage_error(struct au_sim *sim, struct au_sim_svc *svc, enum au_storage_op op,
			  int err, uint32_t file_index)
{
	sim->stats.storage_errors[op]++;
	au_sim_record_event(sim, svc->node, AU_TR_STORAGE_ERROR, op, -err, file_index);
}

/* Whether an active write_error / sync_error fault fails this operation
 * (its rate drawn from the node's disk stream; 1 fails them all). */
static bool fault_hits(struct au_sim_node *nd, double rate)
{
	if (rate >= 1.0)
		return true;
	return (double)au_pcg32_next(&nd->disk_rng) < rate * 4294967296.0;
}

/* Bytes the node's files may hold now: the [disk] capacity, or less while
 * a disk_full fault holds it at what it held when the fault began. */
static uint64_t room_limit(const struct au_sim *sim, const struct au_sim_node *nd)
{
	uint64_t limit = sim->sc->disk_capacity ? sim->sc->disk_capacity : UINT64_MAX;
	if (nd->disk_full && nd->disk_full_limit < limit)
		limit = nd->disk_full_limit;
	return limit;
}

uint64_t au_disk_used(const struct au_sim *sim, au_node_id n)
{
	const struct au_sim_node *nd = &sim->node[n];
	return nd->disk ? nd->disk->used : 0;
}

int au_disk_write(struct au_sim *sim, struct au_sim_svc *svc, const char *file, uint64_t off,
		  const void *buf, size_t len)
{
	if (!valid_name(file) || (!buf && len))
		return -AU_EINVAL;
	if (off > FILE_MAX || len > FILE_MAX - off)
		return -AU_ENOSPC;
	struct au_sim_node *nd = &sim->node[svc->node];
	struct au_file *f = lookup(sim, svc, file, true);
	if (nd->write_error && fault_hits(nd, nd->write_error_rate)) {
		storage_error(sim, svc, AU_STORAGE_WRITE, -AU_EIO, f->index);
		return -AU_EIO;
	}
	/* Room: overwriting bytes the file has costs nothing; growing it
	 * takes what is left under the limit, and a write that does not fit
	 * writes the prefix that does (a short write), then fails. */
	int rc = 0;
	uint64_t end = off + len, cur = f->current->len;
	if (end > cur) {
		uint64_t limit = room_limit(sim, nd);
		uint64_t free_bytes = nd->disk->used < limit ? limit - nd->disk->used : 0;
		if (end - cur > free_bytes) {
			rc = -AU_ENOSPC;
			uint64_t fit_end = cur + free_bytes;
			len = fit_end > off ? (size_t)(fit_end - off) : 0;
			storage_error(sim, svc, AU_STORAGE_WRITE, rc, f->index);
			if (len == 0)
				return rc;
		}
	}
	f->exists = true;
	nd->disk->used -= f->current->len;
	apply_write(f->current, off, buf, len);
	nd->disk->used += f->current->len;
	struct pending_op op = {f->next_seq++, OP_WRITE, off, len, g_memdup2(buf, len)};
	g_array_append_val(f->pending, op);
	return rc;
}

int au_disk_truncate(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t len)
{
	if (!valid_name(file))
		return -AU_EINVAL;
	if (len > FILE_MAX)
		return -AU_ENOSPC;
	struct au_sim_node *nd = &sim->node[svc->node];
	struct au_file *f = lookup(sim, svc, file, true);
	if (nd->write_error && fault_hits(nd, nd->write_error_rate)) {
		storage_error(sim, svc, AU_STORAGE_TRUNCATE, -AU_EIO, f->index);
		return -AU_EIO;
	}
	if (len > f->current->len) {
		/* Growing by truncate takes room like a write (no short form). */
		uint64_t limit = room_limit(sim, nd);
		uint64_t free_bytes = nd->disk->used < limit ? limit - nd->disk->used : 0;
		if (len - f->current->len > free_bytes) {
			storage_error(sim, svc, AU_STORAGE_TRUNCATE, -AU_ENOSPC, f->index);
			return -AU_ENOSPC;
		}
	}
	f->exists = true;
	nd->disk->used -= f->current->len;
	apply_truncate(f->current, len);
	nd->disk->used += f->current->len;
	struct pending_op op = {f->next_seq++, OP_TRUNCATE, 0, len, NULL};
	g_array_append_val(f->pending, op);
	return 0;
}

int64_t au_disk_read(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t off, void *buf, size_t len)
{
	if (!valid_name(file) || (!buf && len))
		return -AU_EINVAL;
	if (sim->node[svc->node].read_error)
		return -AU_EIO;
	struct au_file *f = lookup(sim, svc, file, false);
	if (!f || !f->exists)
		return -AU_ENOENT;
	if (off >= f->current->len)
		return 0;
	size_t n = f->current->len - off < len ? (size_t)(f->current->len - off) : len;
	memcpy(buf, f->current->data + off, n);
	return (int64_t)n;
}

int64_t au_disk_size(struct au_sim *sim, struct au_sim_svc *svc, const char *file)
{
	if (!valid_name(file))
		return -AU_EINVAL;
	struct au_file *f = lookup(sim, svc, file, false);
	if (!f || !f->exists)
		return -AU_ENOENT;
	return f->current->len;
}

void au_disk_sync(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		  uint64_t token)
{
	struct au_sim_node *nd = &sim->node[svc->node];
	struct au_file *f = valid_name(file) ? lookup(sim, svc, file, true) : NULL;
	au_time lat = au_dist_sample(&sim->sc->sync_latency, &nd->disk_rng) + nd->slow_sync_ns;
	au_time done = sim->now + lat;
	struct au_event ev = {0};
	ev.type = AU_EV_SYNC_DONE;
	ev.service = (uint8_t)svc->index;
	ev.node = svc->node;
	ev.aux = nd->epoch;
	ev.a = (int64_t)token;
	if (f) {
		/* Syncs of one file complete in the order they were issued. */
		if (done < f->last_sync_done)
			done = f->last_sync_done;
		f->last_sync_done = done;
		ev.len = f->index;
		ev.u.ref.b = f->next_seq;
	} else {
		ev.len = UINT32_MAX; /* invalid name: completes, covers nothing */
	}
	au_sim_push(sim, done, &ev);
}

/* Settle pending operations with seq < `upto` as a crash would: each
 * independently reaches `durable` whole, torn at a sector boundary, or
 * not at all, drawn from the node's disk stream.  They leave the pending
 * list either way. */
static void settle_pending(struct au_sim_node *nd, struct au_file *f, uint64_t upto,
			   uint64_t *kept, uint64_t *torn, uint64_t *lost)
{
	guint j = 0;
	for (; j < f->pending->len; j++) {
		struct pending_op *op = &g_array_index(f->pending, struct pending_op, j);
		if (op->seq >= upto)
			break;
		uint32_t fate = au_pcg32_below(&nd->disk_rng, 3);
		if (op->kind == OP_TRUNCATE) {
			if (fate == 2) {
				(*lost)++;
			} else {
				apply_truncate(f->durable, op->len);
				f->durable_exists = true;
				(*kept)++;
			}
			continue;
		}
		if (fate == 0) {
			apply_write(f->durable, op->off, op->data, op->len);
			f->durable_exists = true;
			(*kept)++;
			continue;
		}
		/* Sector boundaries strictly inside the write. */
		uint64_t first = (op->off / SECTOR + 1) * SECTOR;
		uint64_t end = op->off + op->len;
		uint64_t inner = first < end ? (end - 1 - first) / SECTOR + 1 : 0;
		if (fate == 1 && inner > 0) {
			uint64_t pick = inner > UINT32_MAX ? au_pcg32_below(&nd->disk_rng, UINT32_MAX)
							   : au_pcg32_below(&nd->disk_rng, (uint32_t)inner);
			uint64_t cut = first + pick * SECTOR;
			apply_write(f->durable, op->off, op->data, cut - op->off);
			f->durable_exists = true;
			(*torn)++;
		} else {
			(*lost)++;
		}
	}
	for (guint i = 0; i < j; i++)
		g_free(g_array_index(f->pending, struct pending_op, i).data);
	g_array_remove_range(f->pending, 0, j);
}

void au_disk_sync_done(struct au_sim *sim, struct au_event *ev)
{
	struct au_sim_node *nd = &sim->node[ev->node];
	if (!nd->up || ev->aux != nd->epoch)
		return; /* the node crashed after issuing the sync */
	struct au_sim_svc *s = &nd->svc[ev->service];
	int status = 0;
	if (ev->len != UINT32_MAX) {
		struct au_file *f = g_ptr_array_index(nd->disk->files, ev->len);
		uint64_t covered = ev->u.ref.b;
		if (nd->sync_error && fault_hits(nd, nd->sync_error_rate)) {
			/* fsync failed: what it covered is settled as at a crash
			 * and no later sync will write it. */
			uint64_t kept = 0, torn = 0, lost = 0;
			settle_pending(nd, f, covered, &kept, &torn, &lost);
			status = -AU_EIO;
			storage_error(sim, s, AU_STORAGE_SYNC, status, f->index);
		} else {
			guint done = 0;
			for (; done < f->pending->len; done++) {
				struct pending_op *op = &g_array_index(f->pending, struct pending_op, done);
				if (op->seq >= covered)
					break;
				if (op->kind == OP_WRITE)
					apply_write(f->durable, op->off, op->data, op->len);
				else
					apply_truncate(f->durable, op->len);
				f->durable_exists = true;
				g_free(op->data);
			}
			g_array_remove_range(f->pending, 0, done);
		}
	}
	sim->stats.syncs_completed++;
	sim->sc->cluster.services[ev->service]->persisted(s->state, (uint64_t)ev->a, status);
}

void au_disk_crash(struct au_sim *sim, au_node_id n, uint64_t *kept, uint64_t *torn,
		   uint64_t *lost)
{
	struct au_sim_node *nd = &sim->node[n];
	if (!nd->disk)
		return;
	nd->disk->used = 0;
	for (guint i = 0; i < nd->disk->files->len; i++) {
		struct au_file *f = g_ptr_array_index(nd->disk->files, i);
		settle_pending(nd, f, UINT64_MAX, kept, torn, lost);
		g_byte_array_set_size(f->current, 0);
		g_byte_array_append(f->current, f->durable->data, f->durable->len);
		f->exists = f->durable_exists;
		f->last_sync_done = 0;
		nd->disk->used += f->current->len;
	}
}

void au_disk_corrupt_sector(struct au_sim *sim, au_node_id n)
{
	struct au_sim_node *nd = &sim->node[n];
	if (!nd->disk)
		return;
	guint candidates = 0;
	for (guint i = 0; i < nd->disk->files->len; i++) {
		struct au_file *f = g_ptr_array_index(nd->disk->files, i);
		candidates += f->durable->len > 0;
	}
	if (candidates == 0)
		return;
	uint32_t pick = au_pcg32_below(&nd->disk_rng, candidates);
	for (guint i = 0; i < nd->disk->files->len; i++) {
		struct au_file *f = g_ptr_array_index(nd->disk->files, i);
		if (f->durable->len == 0 || pick-- != 0)
			continue;
		uint32_t sectors = (f->durable->len + SECTOR - 1) / SECTOR;
		uint32_t s = au_pcg32_below(&nd->disk_rng, sectors);
		uint32_t span = f->durable->len - s * SECTOR < SECTOR ? f->durable->len - s * SECTOR
								       : SECTOR;
		uint32_t bit = au_pcg32_below(&nd->disk_rng, span * 8);
		uint32_t at = s * SECTOR + bit / 8;
		f->durable->data[at] ^= (uint8_t)(1u << (bit % 8));
		if (at < f->current->len)
			f->current->data[at] ^= (uint8_t)(1u << (bit % 8));
		return;
	}
}

int64_t au_disk_durable_read(struct au_disk *d, const char *key, uint64_t off, void *buf,
			     size_t len)
{
	struct au_file *f = g_hash_table_lookup(d->by_key, key);
	if (!f || !f->durable_exists)
		return -AU_ENOENT;
	if (off >= f->durable->len)
		return 0;
	size_t n = f->durable->len - off < len ? (size_t)(f->durable->len - off) : len;
	memcpy(buf, f->durable->data + off, n);
	return (int64_t)n;
}
