/* node_storage.c — aureon-node's storage: env.h files under
 * DATA/store/SERVICE with syncs on a worker thread, and the node's own small
 * files (identity, boot epoch, peer floors) (see node.h). */
#include "node_internal.h"

/* ---- storage: files under DATA/store/SERVICE, syncs on a worker -------- */

static bool valid_name(const char *file)
{
	if (!file || !*file || strlen(file) > 200 || strcmp(file, ".") == 0 || strcmp(file, "..") == 0)
		return false;
	for (const char *p = file; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			return false;
	return true;
}

static void storage_failure(struct au_node *n, const char *op, const char *dir, const char *file, int e);

static int errno_to_au(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return -AU_ENOSPC;
	case ENOENT:
		return -AU_ENOENT;
	case ENOMEM:
		return -AU_ENOMEM;
	default:
		return -AU_EIO;
	}
}

static void close_lru(struct au_node *n)
{
	struct svc_file *victim = NULL;
	for (uint32_t i = 0; i < n->n_svcs; i++) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, n->svcs[i].files);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			struct svc_file *f = v;
			if (f->fd >= 0 && (!victim || f->last_use < victim->last_use))
				victim = f;
		}
	}
	if (victim) {
		close(victim->fd);
		victim->fd = -1;
		n->open_fds--;
	}
}

/* A storage operation failed: count it, log it, and mark the node as
 * unable to persist until a sync issued later succeeds. */
static void storage_failure(struct au_node *n, const char *op, const char *dir, const char *file, int e)
{
	n->m.storage_errors++;
	n->persist_failures++;
	if (strcmp(op, "sync") == 0)
		n->m.storage_sync_errors++;
	else if (strcmp(op, "write") == 0 || strcmp(op, "truncate") == 0)
		n->m.storage_write_errors++;
	if (!n->storage_failing)
		n->storage_failing_since_ns = au_node__now(n);
	n->storage_failing = true;
	g_snprintf(n->storage_last_error, sizeof(n->storage_last_error), "%s %s/%s: %s", op, dir, file,
		   g_strerror(e));
	au_node__log(n, true, "storage: %s", n->storage_last_error);
}

/* The file `name` of service s, opened; with `create`, made if missing.
 * Returns NULL and sets *rc when it cannot be had. */
static struct svc_file *get_file(struct svc *s, const char *name, bool create, int *rc)
{
	struct au_node *n = s->node;
	struct svc_file *f = g_hash_table_lookup(s->files, name);
	if (f && f->fd >= 0) {
		f->last_use = ++n->use_clock;
		return f;
	}
	if (n->open_fds >= FDS_OPEN_MAX)
		close_lru(n);
	int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	bool created = false;
	if (fd < 0 && errno == ENOENT && create) {
		fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		*rc = errno_to_au(e);
		if (e != ENOENT)
			storage_failure(n, "open", s->dir, name, e);
		return NULL;
	}
	if (!f) {
		f = g_new0(struct svc_file, 1);
		f->name = g_strdup(name);
		g_hash_table_insert(s->files, f->name, f);
	}
	f->fd = fd;
	f->dir_dirty = f->dir_dirty || created;
	f->last_use = ++n->use_clock;
	n->open_fds++;
	return f;
}

static int storage_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len);

int au_node__storage_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len)
{
	struct svc *s = ctx;
	int rc = storage_write(ctx, file, off, buf, len);
	struct au_rec *r = s->node->rec;
	if (r) {
		au_rec_op(r, AU_OP_WRITE, s->index, off, len, file ? au_crc32c(0, file, strlen(file)) : 0,
			  buf, buf ? len : 0);
		if (rc)
			au_rec_answer(r, AU_ANS_WRITE, rc);
	}
	return rc;
}

static int storage_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len)
{
	struct svc *s = ctx;
	int rc = 0;
	if (!valid_name(file) || (!buf && len) || off > INT64_MAX || len > INT64_MAX - off)
		return -AU_EINVAL;
	struct svc_file *f = get_file(s, file, true, &rc);
	if (!f)
		return rc;
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = pwrite(f->fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* A short write followed by this failure leaves a prefix
			 * in the file: the model must not rely on any of it. */
			int e = w < 0 ? errno : EIO;
			storage_failure(s->node, "write", s->dir, file, e);
			return errno_to_au(e);
		}
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

static int64_t storage_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len);

int64_t au_node__storage_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len)
{
	struct svc *s = ctx;
	int64_t rc = storage_read(ctx, file, off, buf, len);
	if (s->node->rec)
		au_rec_read(s->node->rec, rc, buf);
	return rc;
}

static int64_t storage_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len)
{
	struct svc *s = ctx;
	int rc = 0;
	if (!valid_name(file) || (!buf && len) || off > INT64_MAX)
		return -AU_EINVAL;
	struct svc_file *f = get_file(s, file, false, &rc);
	if (!f)
		return rc;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(f->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* A failed read does not stop persisting: counted, logged. */
			s->node->m.storage_errors++;
			au_node__log(s->node, true, "storage: read %s/%s: %s", s->dir, file, g_strerror(errno));
			return -AU_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (int64_t)got;
}

static int64_t storage_size(void *ctx, const char *file);

int64_t au_node__storage_size(void *ctx, const char *file)
{
	struct svc *s = ctx;
	int64_t rc = storage_size(ctx, file);
	if (s->node->rec)
		au_rec_answer(s->node->rec, AU_ANS_SIZE, rc);
	return rc;
}

static int64_t storage_size(void *ctx, const char *file)
{
	struct svc *s = ctx;
	int rc = 0;
	if (!valid_name(file))
		return -AU_EINVAL;
	struct svc_file *f = get_file(s, file, false, &rc);
	if (!f)
		return rc;
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return -AU_EIO;
	return (int64_t)st.st_size;
}

static int storage_truncate(void *ctx, const char *file, uint64_t len);

int au_node__storage_truncate(void *ctx, const char *file, uint64_t len)
{
	struct svc *s = ctx;
	int rc = storage_truncate(ctx, file, len);
	struct au_rec *r = s->node->rec;
	if (r) {
		au_rec_op(r, AU_OP_TRUNC, s->index, len, file ? au_crc32c(0, file, strlen(file)) : 0, 0, NULL, 0);
		if (rc)
			au_rec_answer(r, AU_ANS_TRUNC, rc);
	}
	return rc;
}

static int storage_truncate(void *ctx, const char *file, uint64_t len)
{
	struct svc *s = ctx;
	int rc = 0;
	if (!valid_name(file) || len > INT64_MAX)
		return -AU_EINVAL;
	struct svc_file *f = get_file(s, file, true, &rc);
	if (!f)
		return rc;
	if (ftruncate(f->fd, (off_t)len) != 0) {
		int e = errno;
		storage_failure(s->node, "truncate", s->dir, file, e);
		return errno_to_au(e);
	}
	return 0;
}

/* Worker thread: make the file (and, after a create, its directory entry)
 * durable, then hand the job back to the main loop. */
void au_node__sync_worker(gpointer data, gpointer user)
{
	struct sync_job *j = data;
	struct au_node *n = user;
	if (j->fd >= 0 && !n->o.no_fsync && fdatasync(j->fd) != 0)
		j->err = errno;
	if (!j->err && j->dirfd >= 0 && !n->o.no_fsync && fsync(j->dirfd) != 0)
		j->err = errno;
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->dirfd = -1;
	g_async_queue_push(n->done, j);
	uint64_t one = 1;
	ssize_t w = write(n->efd, &one, sizeof(one));
	(void)w; /* the eventfd counter cannot overflow at our rates */
}

static void push_sync(struct au_node *n, struct sync_job *j)
{
	j->issued_ns = au_node__now(n);
	j->errors_at_issue = n->persist_failures;
	g_thread_pool_push(n->pool, j, NULL);
}

void au_node__storage_sync(void *ctx, const char *file, uint64_t token)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
	if (n->rec)
		au_rec_op(n->rec, AU_OP_SYNC, s->index, token, file ? au_crc32c(0, file, strlen(file)) : 0, 0, NULL, 0);
	struct sync_job *j = g_new0(struct sync_job, 1);
	j->svc = s->index;
	j->token = token;
	j->fd = j->dirfd = -1;
	j->what = g_strdup_printf("%s/%s", s->dir, valid_name(file) ? file : "(invalid name)");
	int rc = 0;
	/* A file that does not exist has nothing to sync; the model is told
	 * all the same, as the simulator does. */
	struct svc_file *f = valid_name(file) ? get_file(s, file, false, &rc) : NULL;
	if (f) {
		j->fd = dup(f->fd);
		if (f->dir_dirty) {
			j->dirfd = dup(s->dirfd);
			f->dir_dirty = false;
		}
		if (j->fd < 0)
			j->err = errno;
	}
	push_sync(n, j);
}

/* Completed syncs go back to their models with the outcome.  A failed
 * one is not fatal: the kernel may have dropped the dirty pages it
 * covered, which env.h tells every model to assume ("fsyncgate"), and each
 * model says what it does then (Raft stops serving and writes everything
 * again until a sync succeeds).  The node's own peers file (svc
 * UINT32_MAX) is retried by its own writer. */
unsigned au_node_run_syncs(struct au_node *n)
{
	unsigned count = 0;
	struct sync_job *j;
	while ((j = g_async_queue_try_pop(n->done))) {
		count++;
		int status = 0;
		if (j->err) {
			const char *slash = strchr(j->what, '/');
			g_autofree char *dir = slash ? g_strndup(j->what, (gsize)(slash - j->what)) : g_strdup(j->what);
			storage_failure(n, "sync", dir, slash ? slash + 1 : "", j->err);
			status = errno_to_au(j->err);
		} else {
			n->m.syncs++;
			if (n->storage_failing && j->errors_at_issue == n->persist_failures) {
				n->storage_failing = false;
				au_node__log(n, true, "storage: persisting again (a sync issued after the last error succeeded)");
			}
		}
		int64_t took = au_node__now(n) - j->issued_ns;
		n->m.sync_ns_total += took > 0 ? (uint64_t)took : 0;
		if (j->svc != UINT32_MAX && n->running) {
			struct svc *s = &n->svcs[j->svc];
			if (n->rec) {
				au_rec_begin(n->rec, AU_REC_PERSISTED, au_node__now(n));
				au_rec_uv(n->rec, j->svc);
				au_rec_uv(n->rec, j->token);
				au_rec_sv(n->rec, status);
			}
			s->model->persisted(s->state, j->token, status);
			if (n->rec)
				au_node__rec_end(n);
		}
		g_free(j->what);
		g_free(j);
	}
	return count;
}

gboolean au_node__on_eventfd(gint fd, GIOCondition cond, gpointer data)
{
	(void)cond;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		au_node__log(data, true, "eventfd read: %s", g_strerror(errno));
	au_node_run_syncs(data);
	au_node__rec_flush(data);
	return G_SOURCE_CONTINUE;
}

/* ---- small files of the node itself: epoch, identity, peer floors ------- */

/* Write a small file atomically and durably: temp file, fsync, rename,
 * directory fsync.  On a full disk the temp file gets no room; a file
 * that exists with the same length is then overwritten in place (no new
 * block needed) and fsynced: the records are small and sealed, so a torn
 * one is refused as corrupt at the next start rather than believed.  That
 * lets a node start, and stay out of service until room returns, instead
 * of failing to start at all. */
static bool write_file_durably(struct au_node *n, const char *name, const void *buf, size_t len,
			       char **err)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp", name);
	int fd = openat(n->datafd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;
	if (ok) {
		ok = write(fd, buf, len) == (ssize_t)len;
		ok = ok && (n->o.no_fsync || fsync(fd) == 0);
		int e = errno;
		close(fd);
		errno = e;
	}
	ok = ok && renameat(n->datafd, tmp, n->datafd, name) == 0;
	ok = ok && (n->o.no_fsync || fsync(n->datafd) == 0);
	if (!ok && (errno == ENOSPC || errno == EDQUOT)) {
		int e = errno;
		(void)unlinkat(n->datafd, tmp, 0);
		struct stat st;
		int in = openat(n->datafd, name, O_WRONLY | O_CLOEXEC);
		if (in >= 0 && fstat(in, &st) == 0 && st.st_size == (off_t)len &&
		    pwrite(in, buf, len, 0) == (ssize_t)len && (n->o.no_fsync || fsync(in) == 0)) {
			au_node__log(n, true, "storage: %s/%s rewritten in place: the disk is full", n->data_dir, name);
			ok = true;
		} else {
			e = errno ? errno : e;
		}
		if (in >= 0)
			close(in);
		errno = e;
	}
	if (!ok)
		*err = g_strdup_printf("%s/%s: %s", n->data_dir, name, g_strerror(errno));
	return ok;
}

/* Read a small sealed file; 0 bytes if it does not exist, -1 if unreadable
 * or its checksum fails. */
static ssize_t read_sealed(struct au_node *n, const char *name, uint8_t *buf, size_t cap)
{
	int fd = openat(n->datafd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t r = read(fd, buf, cap);
	close(fd);
	struct au_rbuf rb;
	if (r < 0 || !au_rbuf_unseal(&rb, buf, (size_t)r))
		return -1;
	return (ssize_t)rb.len;
}

/* The identity file: a data directory belongs to one node id for life. */
bool au_node__check_identity(struct au_node *n, char **err)
{
	uint8_t buf[64];
	ssize_t len = read_sealed(n, "node-id", buf, sizeof(buf));
	if (len < 0) {
		*err = g_strdup_printf("%s/node-id is unreadable or corrupt", n->data_dir);
		return false;
	}
	if (len == 0) {
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u32(&w, n->self);
		au_wbuf_seal(&w);
		return write_file_durably(n, "node-id", buf, w.len, err);
	}
	struct au_rbuf rb;
	au_rbuf_init(&rb, buf, (size_t)len);
	uint32_t id = au_get_u32(&rb);
	if (rb.short_read || id != n->self) {
		*err = g_strdup_printf("%s holds the data of n%u, not n%u: give each node its own --data",
				       n->data_dir, id, n->self);
		return false;
	}
	return true;
}

/* Bump the boot epoch and make it durable before any packet leaves, so
 * packet counters never repeat across restarts. */
bool au_node__next_epoch(struct au_node *n, char **err)
{
	uint8_t buf[64];
	ssize_t len = read_sealed(n, "epoch", buf, sizeof(buf));
	if (len < 0) {
		*err = g_strdup_printf("%s/epoch is unreadable or corrupt; without it this node could "
				       "reuse packet counters that peers reject as replays",
				       n->data_dir);
		return false;
	}
	uint64_t epoch = 0;
	if (len > 0) {
		struct au_rbuf rb;
		au_rbuf_init(&rb, buf, (size_t)len);
		epoch = au_get_u64(&rb);
	}
	if (epoch + 1 >= (UINT64_C(1) << (64 - AU_PKT_SEQ_BITS))) {
		*err = g_strdup_printf("%s/epoch is exhausted", n->data_dir);
		return false;
	}
	n->epoch = epoch + 1;
	n->seq = 0;
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, n->epoch);
	au_wbuf_seal(&w);
	return write_file_durably(n, "epoch", buf, w.len, err);
}

uint64_t au_node__next_counter(struct au_node *n)
{
	if (n->seq == AU_PKT_SEQ_MAX) {
		char *err = NULL;
		if (!au_node__next_epoch(n, &err)) {
			au_node__log(n, true, "fatal: %s", err);
			exit(1);
		}
	}
	return n->epoch << AU_PKT_SEQ_BITS | ++n->seq;
}

/* Peers' epochs seen so far: after our own restart, packets from a peer's
 * earlier boots stay replays. */
void au_node__load_floors(struct au_node *n)
{
	size_t cap = 4 * ((size_t)n->c->nodes + 1) + 8;
	g_autofree uint8_t *buf = g_malloc(cap);
	ssize_t len = read_sealed(n, "peers", buf, cap);
	if (len <= 0)
		return; /* none yet, or unreadable: start from zero (logged by nothing: harmless) */
	struct au_rbuf rb;
	au_rbuf_init(&rb, buf, (size_t)len);
	uint32_t count = au_get_u32(&rb);
	for (uint32_t i = 0; i < count && i <= n->c->nodes && !rb.short_read; i++)
		n->peer_floor[i] = au_get_u32(&rb);
}

gboolean au_node__save_floors(gpointer data)
{
	struct au_node *n = data;
	if (!n->floors_dirty)
		return G_SOURCE_CONTINUE;
	n->floors_dirty = false;
	size_t cap = 4 * ((size_t)n->c->nodes + 1) + 16;
	g_autofree uint8_t *buf = g_malloc(cap);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u32(&w, n->c->nodes + 1);
	for (uint32_t i = 0; i <= n->c->nodes; i++)
		au_put_u32(&w, n->peer_floor[i]);
	au_wbuf_seal(&w);
	/* Overwrite in place (a torn write fails the seal and reads as
	 * "no floors": we lose protection, never liveness) and sync off the
	 * main thread. */
	int fd = openat(n->datafd, "peers", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, buf, w.len, 0) != (ssize_t)w.len || ftruncate(fd, (off_t)w.len) != 0) {
		au_node__log(n, true, "cannot write %s/peers: %s", n->data_dir, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return G_SOURCE_CONTINUE;
	}
	struct sync_job *j = g_new0(struct sync_job, 1);
	j->svc = UINT32_MAX;
	j->fd = fd;
	j->dirfd = dup(n->datafd);
	j->what = g_strdup_printf("%s/peers", n->data_dir);
	push_sync(n, j);
	return G_SOURCE_CONTINUE;
}
