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
 *
 * Images are chunked (struct image): a file is an array of fixed-size,
 * reference-counted chunks, NULL for a run of zeros, so an append copies
 * only its own bytes (no growing array, no realloc of the whole file) and
 * a truncate frees what it cuts.  `current` and `durable` share chunks
 * copy-on-write: a sync that covers every pending operation of a file
 * whose `current` is exactly `durable` plus those operations (the usual
 * case: nothing diverged them) makes `durable` share `current`'s chunks
 * instead of replaying the operations, and a crash makes `current` share
 * `durable`'s instead of copying it.  An image changes a shared chunk in
 * place where the other image shows none of the bytes it changes (the
 * append after a sync), so a log's shared tail is not copied.  Memory
 * follows the live bytes, and the outcome is byte for byte the replay's.
 *
 * A pending write keeps no copy of its bytes while `current` still holds
 * them (a lazy write: the usual append, never overwritten before it
 * settles); whatever changes `current` where a lazy write lies (an
 * overwrite, a truncate, a corrupted sector) first copies its bytes out.
 * A sync that replays a lazy write into `durable` reads `current`'s
 * chunks, so it finds a chunk the two share already right and lets
 * `durable` share a chunk whose every byte it shows the write covers.
 * Each node's disk owns its chunks: nothing is shared across nodes.
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
	uint64_t at;       /* write: its bytes, at pdata + at, unless lazy */
	/* A write whose bytes are still current's at [off, off + len): they
	 * are read there when the write settles, not kept twice (see
	 * keep_lazy_bytes). */
	bool lazy;
};

/* A chunk of a file image: CHUNK bytes, shared by reference count
 * between a file's two images (written copy-on-write).  A chunk no image
 * holds waits on its disk's free list (`next`) for the next one made. */
#define CHUNK 4096u
#define POOL_MAX 64u /* free chunks a disk keeps: 256 KiB */
struct chunk {
	union {
		uint32_t refs;
		struct chunk *next;
	} u;
	uint8_t data[CHUNK];
};

/* A file image: `len` bytes in ceil(len / CHUNK) chunks (NULL: zeros).
 * The bytes of a chunk beyond `len` mean nothing (the other image may
 * hold them, or they are left from before a cut): growing a file zeroes
 * the bytes it shows (img_grow), never the ones it cuts. */
struct image {
	uint64_t len;
	struct chunk **c;
	uint32_t n, cap;
	/* Chunks below `dirty` are unchanged since this image last shared
	 * chunks with its file's other image (img_share): 0 = unknown. */
	uint32_t dirty;
	struct image *other; /* the file's other image */
	struct au_disk *disk; /* whose free list its chunks come from */
};

struct au_file {
	uint32_t name_off, name_len; /* where "name" starts in key, its length */
	uint32_t name_hash;          /* name_check's hash of "name" */
	uint32_t svc;                /* the service's index */
	uint32_t index;
	bool exists, durable_exists;
	/* `current` may differ from `durable` plus the pending operations
	 * (a failed sync settled some of them, a sector was corrupted): a
	 * sync must replay them.  A crash clears it. */
	bool diverged;
	struct image current, durable;
	struct pending_op *pend; /* in issue order */
	uint32_t n_pend, cap_pend;
	uint8_t *pdata; /* the pending writes' bytes, back to back */
	uint64_t pdata_len, pdata_cap;
	/* Every lazy pending write lies in [lazy_lo, lazy_hi) (empty: lo >=
	 * hi): a change to current's bytes there first copies theirs out. */
	uint64_t lazy_lo, lazy_hi;
	uint64_t next_seq;
	au_time last_sync_done;
	char key[]; /* "service/name" */
};

struct au_disk {
	/* Files by (service, name): open addressing, linear probing, at
	 * most half full; lookup only (iteration uses `files`). */
	struct au_file **slot;
	uint32_t mask;
	GPtrArray *files;   /* creation order */
	uint64_t used;      /* bytes of every file's `current` image */
	struct au_file *last; /* the file lookup found last (files are never freed) */
	struct chunk *free_chunks; /* up to POOL_MAX chunks no image holds */
	uint32_t n_free;
};

/* ---- chunked images -------------------------------------------------- */

/* A chunk with one reference and unspecified bytes. */
static struct chunk *chunk_new(struct au_disk *d)
{
	struct chunk *c = d->free_chunks;
	if (c) {
		d->free_chunks = c->u.next;
		d->n_free--;
	} else {
		c = g_malloc(sizeof(*c));
	}
	c->u.refs = 1;
	return c;
}

static void chunk_unref(struct au_disk *d, struct chunk *c)
{
	if (!c || --c->u.refs)
		return;
	if (d->n_free < POOL_MAX) {
		c->u.next = d->free_chunks;
		d->free_chunks = c;
		d->n_free++;
	} else {
		g_free(c);
	}
}

/* Bytes of chunk i that img shows. */
static uint32_t img_live(const struct image *img, uint32_t i)
{
	uint64_t start = (uint64_t)i * CHUNK;
	if (img->len <= start)
		return 0;
	return img->len - start < CHUNK ? (uint32_t)(img->len - start) : CHUNK;
}

/* Chunk i of img, ready for the caller to change bytes from `o` on and
 * to overwrite [o, o + k) whole.  A chunk the other image also holds is
 * changed in place when that image shows none of the bytes from `o` on
 * (an append after a sync: the shared tail needs no copy); otherwise img
 * gets its own copy of the bytes it shows outside [o, o + k), or for a
 * hole, zeros there. */
static uint8_t *img_writable(struct image *img, uint32_t i, uint32_t o, uint32_t k)
{
	struct chunk *c = img->c[i];
	if (i < img->dirty)
		img->dirty = i;
	if (c && (c->u.refs == 1 || o >= img_live(img->other, i))) {
		g_assert(c->u.refs == 1 || (img->other->n > i && img->other->c[i] == c));
		return c->data;
	}
	uint32_t live = img_live(img, i), end = o + k;
	uint32_t head = o < live ? o : live;
	struct chunk *d = chunk_new(img->disk);
	if (c) {
		memcpy(d->data, c->data, head);
		if (end < live)
			memcpy(d->data + end, c->data + end, live - end);
		c->u.refs--; /* the other image still holds it */
	} else {
		memset(d->data, 0, head);
		if (end < live)
			memset(d->data + end, 0, live - end);
	}
	img->c[i] = d;
	return d->data;
}

/* Make img `len` (> img->len) bytes long.  With `zero`, the new bytes
 * read as zeros; without, the caller overwrites them all at once. */
static void img_grow(struct image *img, uint64_t len, bool zero)
{
	uint32_t tail = (uint32_t)(img->len % CHUNK);
	if (zero && tail && img->c[img->n - 1]) {
		uint32_t k = len - img->len < CHUNK - tail ? (uint32_t)(len - img->len) : CHUNK - tail;
		memset(img_writable(img, img->n - 1, tail, k) + tail, 0, k);
	}
	uint32_t n = (uint32_t)((len + CHUNK - 1) / CHUNK);
	if (img->n < img->dirty)
		img->dirty = img->n;
	if (n > img->cap) {
		uint32_t cap = img->cap ? img->cap : 4;
		while (cap < n)
			cap *= 2;
		img->c = g_renew(struct chunk *, img->c, cap);
		img->cap = cap;
	}
	for (uint32_t i = img->n; i < n; i++)
		img->c[i] = NULL;
	img->n = n;
	img->len = len;
}

/* Make img `len` bytes long: new bytes read as zeros, cut chunks go (the
 * cut bytes of the last chunk stay: growing zeroes what it shows). */
static void img_set_len(struct image *img, uint64_t len)
{
	if (len > img->len) {
		img_grow(img, len, true);
		return;
	}
	if (len == img->len)
		return;
	uint32_t n = (uint32_t)((len + CHUNK - 1) / CHUNK);
	if (n < img->dirty)
		img->dirty = n;
	for (uint32_t i = n; i < img->n; i++)
		chunk_unref(img->disk, img->c[i]);
	if (n == 0) {
		g_free(img->c);
		img->c = NULL;
		img->cap = 0;
	}
	img->n = n;
	img->len = len;
}

/* Make img reach off + len before [off, off + len) is written: a gap
 * before off reads as zeros, the written range is left to the caller. */
static void img_cover(struct image *img, uint64_t off, uint64_t len)
{
	if (off > img->len)
		img_grow(img, off, true);
	if (off + len > img->len)
		img_grow(img, off + len, false);
}

static void apply_write(struct image *img, uint64_t off, const uint8_t *data, uint64_t len)
{
	img_cover(img, off, len);
	while (len) {
		uint32_t i = (uint32_t)(off / CHUNK), o = (uint32_t)(off % CHUNK);
		uint32_t k = CHUNK - o < len ? CHUNK - o : (uint32_t)len;
		const struct chunk *c = img->c[i];
		/* A sync that replays durable up to part of what current
		 * appended in place finds the bytes already there. */
		if (!c || c->u.refs == 1 || o >= img_live(img->other, i) ||
		    memcmp(c->data + o, data, k) != 0)
			memcpy(img_writable(img, i, o, k) + o, data, k);
		data += k;
		off += k;
		len -= k;
	}
}

/* apply_write of bytes `src` (the file's other image) holds at
 * [off, off + len): a chunk the two share needs nothing, and a chunk of
 * which img will show only bytes the write covers is shared, not copied. */
static void apply_from(struct image *img, const struct image *src, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[CHUNK];
	img_cover(img, off, len);
	while (len) {
		uint32_t i = (uint32_t)(off / CHUNK), o = (uint32_t)(off % CHUNK);
		uint32_t k = CHUNK - o < len ? CHUNK - o : (uint32_t)len;
		struct chunk *c = img->c[i], *sc = src->c[i];
		if (c != sc) {
			if (sc && o == 0 && k >= img_live(img, i)) {
				sc->u.refs++;
				chunk_unref(img->disk, c);
				img->c[i] = sc;
				if (i < img->dirty)
					img->dirty = i;
			} else {
				if (sc)
					memcpy(img_writable(img, i, o, k) + o, sc->data + o, k);
				else
					(void)zeros;
			}
		}
		off += k;
		len -= k;
	}
}

static void apply_truncate(struct image *img, uint64_t len)
{
	img_set_len(img, len);
}

/* Copy up to len bytes from off (off < img->len); returns the count. */
static size_t img_read(const struct image *img, uint64_t off, uint8_t *buf, size_t len)
{
	size_t n = img->len - off < len ? (size_t)(img->len - off) : len, done = 0;
	while (done < n) {
		uint32_t i = (uint32_t)(off / CHUNK), o = (uint32_t)(off % CHUNK);
		size_t k = CHUNK - o < n - done ? CHUNK - o : n - done;
		if (img->c[i])
			memcpy(buf + done, img->c[i]->data + o, k);
		else
			memset(buf + done, 0, k);
		done += k;
		off += k;
	}
	return n;
}

/* dst becomes the same bytes as src, sharing its chunks: the two are a
 * file's images, so only chunks from the lower `dirty` mark on can
 * differ (an append-only log shares its tail, not the whole file). */
static void img_share(struct image *dst, struct image *src)
{
	uint32_t from = src->dirty < dst->dirty ? src->dirty : dst->dirty;
	if (from > src->n)
		from = src->n;
	if (from > dst->n)
		from = dst->n;
	for (uint32_t i = from; i < src->n; i++)
		if (src->c[i])
			src->c[i]->u.refs++;
	for (uint32_t i = from; i < dst->n; i++)
		chunk_unref(dst->disk, dst->c[i]);
	if (src->n > dst->cap) {
		dst->c = g_renew(struct chunk *, dst->c, src->n);
		dst->cap = src->n;
	}
	if (src->n > from)
		memcpy(dst->c + from, src->c + from, (src->n - from) * sizeof(*src->c));
	if (src->n == 0) {
		g_free(dst->c);
		dst->c = NULL;
		dst->cap = 0;
	}
	dst->n = src->n;
	dst->len = src->len;
	dst->dirty = src->dirty = UINT32_MAX;
}

/* Flip one bit of byte `at` (< img->len). */
static void img_flip(struct image *img, uint64_t at, uint8_t mask)
{
	uint32_t o = (uint32_t)(at % CHUNK);
	img_writable(img, (uint32_t)(at / CHUNK), o, 0)[o] ^= mask;
}

/* Teardown: drop img's chunks straight back to malloc. */
static void img_free(struct image *img)
{
	for (uint32_t i = 0; i < img->n; i++)
		if (img->c[i] && --img->c[i]->u.refs == 0)
			g_free(img->c[i]);
	g_free(img->c);
}

struct au_disk *au_disk_new(void)
{
	struct au_disk *d = g_new0(struct au_disk, 1);
	d->mask = 15;
	d->slot = g_new0(struct au_file *, d->mask + 1);
	d->files = g_ptr_array_new();
	return d;
}

/* No pending operation left.  A file cut to nothing (a compacted log
 * segment: they are never written again) also gives back the buffers'
 * room, so memory follows live files only over a long run. */
static void clear_pending(struct au_file *f)
{
	f->n_pend = 0;
	f->pdata_len = 0;
	f->lazy_lo = UINT64_MAX;
	f->lazy_hi = 0;
	if (f->current.len == 0 && (f->cap_pend || f->pdata_cap)) {
		g_free(f->pend);
		g_free(f->pdata);
		f->pend = NULL;
		f->pdata = NULL;
		f->cap_pend = 0;
		f->pdata_cap = 0;
	}
}

/* Room for `len` more bytes at the end of pdata. */
static uint8_t *pdata_room(struct au_file *f, uint64_t len)
{
	if (f->pdata_len + len > f->pdata_cap) {
		uint64_t cap = f->pdata_cap ? f->pdata_cap : 256;
		while (cap < f->pdata_len + len)
			cap *= 2;
		f->pdata = g_realloc(f->pdata, cap);
		f->pdata_cap = cap;
	}
	return f->pdata + f->pdata_len;
}

/* Current's bytes in [off, off + len) are about to change: every lazy
 * write (all of them, when one lies there) copies its bytes to pdata. */
static void keep_lazy_bytes(struct au_file *f, uint64_t off, uint64_t len)
{
	if (f->lazy_lo >= f->lazy_hi || off >= f->lazy_hi || off + len <= f->lazy_lo)
		return;
	for (uint32_t j = 0; j < f->n_pend; j++) {
		struct pending_op *op = &f->pend[j];
		if (!op->lazy)
			continue;
		uint8_t *p = pdata_room(f, op->len);
		size_t got = img_read(&f->current, op->off, p, op->len);
		g_assert(got == op->len);
		op->at = f->pdata_len;
		op->lazy = false;
		f->pdata_len += op->len;
	}
	f->lazy_lo = UINT64_MAX;
	f->lazy_hi = 0;
}

/* Apply pending write op, or its first `len` bytes, to durable. */
static void settle_write(struct au_file *f, const struct pending_op *op, uint64_t len)
{
	if (op->lazy)
		apply_from(&f->durable, &f->current, op->off, len);
	else
		apply_write(&f->durable, op->off, f->pdata + op->at, len);
}

static bool eager_pending; /* tests: no lazy writes */

void au_disk_test_eager_pending(bool eager)
{
	eager_pending = eager;
}

/* Queue an operation: a truncate, or a write whose `len` bytes current
 * now holds at `off`. */
static void add_pending(struct au_file *f, enum op_kind kind, uint64_t off, uint64_t len)
{
	if (f->n_pend == f->cap_pend) {
		f->cap_pend = f->cap_pend ? f->cap_pend * 2 : 16;
		f->pend = g_renew(struct pending_op, f->pend, f->cap_pend);
	}
	struct pending_op *op = &f->pend[f->n_pend++];
	op->seq = f->next_seq++;
	op->kind = kind;
	op->off = off;
	op->len = len;
	op->at = 0;
	op->lazy = kind == OP_WRITE && len > 0;
	if (!op->lazy)
		return;
	if (eager_pending) {
		op->lazy = false;
		op->at = f->pdata_len;
		size_t got = img_read(&f->current, off, pdata_room(f, len), len);
		g_assert(got == len);
		f->pdata_len += len;
		return;
	}
	if (off < f->lazy_lo)
		f->lazy_lo = off;
	if (off + len > f->lazy_hi)
		f->lazy_hi = off + len;
}

/* The first n pending operations are settled: drop them, and their bytes
 * once they are most of the buffer (no copying per operation). */
static void drop_pending(struct au_file *f, uint32_t n)
{
	if (n == f->n_pend) {
		clear_pending(f);
		return;
	}
	if (n) {
		memmove(f->pend, f->pend + n, (f->n_pend - n) * sizeof(*f->pend));
		f->n_pend -= n;
	}
	uint64_t base = UINT64_MAX;
	f->lazy_lo = UINT64_MAX;
	f->lazy_hi = 0;
	for (uint32_t i = 0; i < f->n_pend; i++) {
		const struct pending_op *op = &f->pend[i];
		if (op->lazy) {
			f->lazy_lo = op->off < f->lazy_lo ? op->off : f->lazy_lo;
			f->lazy_hi = op->off + op->len > f->lazy_hi ? op->off + op->len : f->lazy_hi;
		} else if (op->kind == OP_WRITE && op->len && base == UINT64_MAX) {
			base = op->at;
		}
	}
	if (base == UINT64_MAX) {
		f->pdata_len = 0;
		return;
	}
	if (base < 65536 || base < f->pdata_len / 2)
		return;
	memmove(f->pdata, f->pdata + base, f->pdata_len - base);
	f->pdata_len -= base;
	for (uint32_t i = 0; i < f->n_pend; i++)
		if (f->pend[i].kind == OP_WRITE && !f->pend[i].lazy && f->pend[i].len)
			f->pend[i].at -= base;
}

void au_disk_free(struct au_disk *d)
{
	if (!d)
		return;
	for (guint i = 0; i < d->files->len; i++) {
		struct au_file *f = g_ptr_array_index(d->files, i);
		g_free(f->pend);
		g_free(f->pdata);
		img_free(&f->current);
		img_free(&f->durable);
		g_free(f);
	}
	while (d->free_chunks) {
		struct chunk *c = d->free_chunks;
		d->free_chunks = c->u.next;
		g_free(c);
	}
	g_ptr_array_free(d->files, TRUE);
	g_free(d->slot);
	g_free(d);
}

/* Bytes that end a file name: NUL, control characters, '/'. */
static const uint8_t name_stop[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00-0x0f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10-0x1f */
	['/'] = 1,
};

/* The length of a valid file name (1 to 200 bytes, no '/' or control
 * character), -1 for an invalid one; *hash gets a hash of it. */
static int name_check(const char *file, uint32_t *hash)
{
	if (!file)
		return -1;
	uint32_t h = 2166136261u; /* FNV-1a */
	const unsigned char *p = (const unsigned char *)file;
	for (; !name_stop[*p]; p++)
		h = (h ^ *p) * 16777619u;
	ptrdiff_t n = p - (const unsigned char *)file;
	if (*p || n == 0 || n > 200)
		return -1;
	*hash = h;
	return (int)n;
}

/* Where the search for a service's file starts in the table. */
static uint32_t slot_hash(uint32_t name_hash, uint32_t svc)
{
	uint32_t h = name_hash ^ (svc * 0x9e3779b9u);
	return h ^ (h >> 15);
}

/* Put f in the table (not there yet), doubling it past half full. */
static void slot_insert(struct au_disk *d, struct au_file *f)
{
	if (2 * (d->files->len + 1) > d->mask + 1) {
		uint32_t mask = 2 * d->mask + 1;
		struct au_file **slot = g_new0(struct au_file *, mask + 1);
		for (guint k = 0; k < d->files->len; k++) {
			struct au_file *g = g_ptr_array_index(d->files, k);
			uint32_t i = slot_hash(g->name_hash, g->svc) & mask;
			while (slot[i])
				i = (i + 1) & mask;
			slot[i] = g;
		}
		g_free(d->slot);
		d->slot = slot;
		d->mask = mask;
	}
	uint32_t i = slot_hash(f->name_hash, f->svc) & d->mask;
	while (d->slot[i])
		i = (i + 1) & d->mask;
	d->slot[i] = f;
}

/* Find (or with `create`, make) a service's file on the node: `file`,
 * `fl` bytes long, hashed by name_check. */
static struct au_file *lookup(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
			      size_t fl, uint32_t hash, bool create)
{
	struct au_sim_node *nd = &sim->node[svc->node];
	if (!nd->disk) {
		if (!create)
			return NULL;
		nd->disk = au_disk_new();
	}
	struct au_disk *d = nd->disk;
	/* The file found last: Raft writes a batch of entries to one segment
	 * a record at a time. */
	struct au_file *f = d->last;
	if (f && f->name_hash == hash && f->svc == svc->index && f->name_len == fl &&
	    memcmp(f->key + f->name_off, file, fl) == 0)
		return f;
	for (uint32_t i = slot_hash(hash, svc->index) & d->mask;; i = (i + 1) & d->mask) {
		f = d->slot[i];
		if (!f)
			break;
		if (f->name_hash == hash && f->svc == svc->index && f->name_len == fl &&
		    memcmp(f->key + f->name_off, file, fl) == 0) {
			d->last = f;
			return f;
		}
	}
	if (!create)
		return NULL;
	/* "service/file" */
	const char *svc_name = sim->sc->cluster.services[svc->index]->name;
	size_t sl = strlen(svc_name);
	f = g_malloc0(sizeof(*f) + sl + 1 + fl + 1);
	memcpy(f->key, svc_name, sl);
	f->key[sl] = '/';
	memcpy(f->key + sl + 1, file, fl + 1);
	f->name_off = (uint32_t)(sl + 1);
	f->name_len = (uint32_t)fl;
	f->name_hash = hash;
	f->svc = svc->index;
	f->index = d->files->len;
	f->lazy_lo = UINT64_MAX;
	f->current.other = &f->durable;
	f->durable.other = &f->current;
	f->current.disk = f->durable.disk = d;
	slot_insert(d, f);
	g_ptr_array_add(d->files, f);
	d->last = f;
	return f;
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
	uint32_t hash;
	int fl = name_check(file, &hash);
	if (fl < 0 || (!buf && len))
		return -AU_EINVAL;
	if (off > FILE_MAX || len > FILE_MAX - off)
		return -AU_ENOSPC;
	struct au_sim_node *nd = &sim->node[svc->node];
	struct au_file *f = lookup(sim, svc, file, (size_t)fl, hash, true);
	if (nd->write_error && fault_hits(nd, nd->write_error_rate)) {
		storage_error(sim, svc, AU_STORAGE_WRITE, -AU_EIO, f->index);
		return -AU_EIO;
	}
	/* Room: overwriting bytes the file has costs nothing; growing it
	 * takes what is left under the limit, and a write that does not fit
	 * writes the prefix that does (a short write), then fails. */
	int rc = 0;
	uint64_t end = off + len, cur = f->current.len;
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
	keep_lazy_bytes(f, off, len);
	nd->disk->used -= f->current.len;
	apply_write(&f->current, off, buf, len);
	nd->disk->used += f->current.len;
	add_pending(f, OP_WRITE, off, len);
	return rc;
}

int au_disk_truncate(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t len)
{
	uint32_t hash;
	int fl = name_check(file, &hash);
	if (fl < 0)
		return -AU_EINVAL;
	if (len > FILE_MAX)
		return -AU_ENOSPC;
	struct au_sim_node *nd = &sim->node[svc->node];
	struct au_file *f = lookup(sim, svc, file, (size_t)fl, hash, true);
	if (nd->write_error && fault_hits(nd, nd->write_error_rate)) {
		storage_error(sim, svc, AU_STORAGE_TRUNCATE, -AU_EIO, f->index);
		return -AU_EIO;
	}
	if (len > f->current.len) {
		/* Growing by truncate takes room like a write (no short form). */
		uint64_t limit = room_limit(sim, nd);
		uint64_t free_bytes = nd->disk->used < limit ? limit - nd->disk->used : 0;
		if (len - f->current.len > free_bytes) {
			storage_error(sim, svc, AU_STORAGE_TRUNCATE, -AU_ENOSPC, f->index);
			return -AU_ENOSPC;
		}
	}
	f->exists = true;
	keep_lazy_bytes(f, len, UINT64_MAX - len); /* the bytes it cuts */
	nd->disk->used -= f->current.len;
	apply_truncate(&f->current, len);
	nd->disk->used += f->current.len;
	add_pending(f, OP_TRUNCATE, 0, len);
	return 0;
}

int64_t au_disk_read(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t off, void *buf, size_t len)
{
	uint32_t hash;
	int fl = name_check(file, &hash);
	if (fl < 0 || (!buf && len))
		return -AU_EINVAL;
	if (sim->node[svc->node].read_error)
		return -AU_EIO;
	struct au_file *f = lookup(sim, svc, file, (size_t)fl, hash, false);
	if (!f || !f->exists)
		return -AU_ENOENT;
	if (off >= f->current.len)
		return 0;
	return (int64_t)img_read(&f->current, off, buf, len);
}

int64_t au_disk_size(struct au_sim *sim, struct au_sim_svc *svc, const char *file)
{
	uint32_t hash;
	int fl = name_check(file, &hash);
	if (fl < 0)
		return -AU_EINVAL;
	struct au_file *f = lookup(sim, svc, file, (size_t)fl, hash, false);
	if (!f || !f->exists)
		return -AU_ENOENT;
	return f->current.len;
}

void au_disk_sync(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		  uint64_t token)
{
	struct au_sim_node *nd = &sim->node[svc->node];
	uint32_t hash;
	int fl = name_check(file, &hash);
	struct au_file *f = fl >= 0 ? lookup(sim, svc, file, (size_t)fl, hash, true) : NULL;
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
	uint32_t j = 0;
	for (; j < f->n_pend; j++) {
		const struct pending_op *op = &f->pend[j];
		if (op->seq >= upto)
			break;
		uint32_t fate = au_pcg32_below(&nd->disk_rng, 3);
		if (op->kind == OP_TRUNCATE) {
			if (fate == 2) {
				(*lost)++;
			} else {
				apply_truncate(&f->durable, op->len);
				f->durable_exists = true;
				(*kept)++;
			}
			continue;
		}
		if (fate == 0) {
			settle_write(f, op, op->len);
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
			settle_write(f, op, cut - op->off);
			f->durable_exists = true;
			(*torn)++;
		} else {
			(*lost)++;
		}
	}
	drop_pending(f, j);
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
			f->diverged = true;
			status = -AU_EIO;
			storage_error(sim, s, AU_STORAGE_SYNC, status, f->index);
		} else if (!f->diverged && f->n_pend && f->pend[f->n_pend - 1].seq < covered) {
			/* Every pending operation is covered and `current` is
			 * `durable` plus them: share its chunks. */
			img_share(&f->durable, &f->current);
			f->durable_exists = true;
			clear_pending(f);
		} else {
			uint32_t done = 0;
			for (; done < f->n_pend; done++) {
				const struct pending_op *op = &f->pend[done];
				if (op->seq >= covered)
					break;
				if (op->kind == OP_WRITE)
					settle_write(f, op, op->len);
				else
					apply_truncate(&f->durable, op->len);
				f->durable_exists = true;
			}
			drop_pending(f, done);
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
		img_share(&f->current, &f->durable);
		f->diverged = false;
		f->exists = f->durable_exists;
		f->last_sync_done = 0;
		nd->disk->used += f->current.len;
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
		candidates += f->durable.len > 0;
	}
	if (candidates == 0)
		return;
	uint32_t pick = au_pcg32_below(&nd->disk_rng, candidates);
	for (guint i = 0; i < nd->disk->files->len; i++) {
		struct au_file *f = g_ptr_array_index(nd->disk->files, i);
		if (f->durable.len == 0 || pick-- != 0)
			continue;
		uint32_t sectors = (f->durable.len + SECTOR - 1) / SECTOR;
		uint32_t s = au_pcg32_below(&nd->disk_rng, sectors);
		uint32_t span = f->durable.len - s * SECTOR < SECTOR ? f->durable.len - s * SECTOR
								       : SECTOR;
		uint32_t bit = au_pcg32_below(&nd->disk_rng, span * 8);
		uint32_t at = s * SECTOR + bit / 8;
		img_flip(&f->durable, at, (uint8_t)(1u << (bit % 8)));
		if (at < f->current.len) {
			keep_lazy_bytes(f, at, 1);
			img_flip(&f->current, at, (uint8_t)(1u << (bit % 8)));
		}
		f->diverged = true;
		return;
	}
}

int64_t au_disk_durable_read(struct au_disk *d, const char *key, uint64_t off, void *buf,
			     size_t len)
{
	struct au_file *f = NULL;
	for (guint i = 0; i < d->files->len && !f; i++) /* tests only: a scan will do */
		if (strcmp(((struct au_file *)g_ptr_array_index(d->files, i))->key, key) == 0)
			f = g_ptr_array_index(d->files, i);
	if (!f || !f->durable_exists)
		return -AU_ENOENT;
	if (off >= f->durable.len)
		return 0;
	return (int64_t)img_read(&f->durable, off, buf, len);
}
