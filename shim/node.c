/* node.c — aureon-node's runtime (see node.h). */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pcg32.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"
#include "ctlproto.h"
#include "execctl.h"
#include "jobctl.h"

#define CLIENTS_MAX 1024u    /* aureon-ctl clients remembered (address, replay window) */
#define FDS_OPEN_MAX 256u    /* storage files kept open at once */
#define TIMERS_PER_WAKE 10000u
#define RX_PER_WAKE 256u
#define TRACE_KINDS_MAX 2048u
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)

_Static_assert(sizeof(void *) == 8, "timer handles are kept as pointer-sized hash keys");

/* ---- state ------------------------------------------------------------ */

struct svc_file {
	char *name;
	int fd;            /* -1 while closed */
	bool dir_dirty;    /* created since the directory was last synced */
	uint64_t last_use; /* for closing the least recently used when too many are open */
};

struct svc {
	struct au_node *node;
	uint32_t index;
	const struct au_model *model;
	const void *config;
	void *state;
	struct au_env env;
	struct au_pcg32 rng;
	uint32_t tag;
	int dirfd;
	char *dir;
	GHashTable *files; /* name -> struct svc_file */
	uint64_t *table_rows; /* per model table */
};

struct tmr {
	au_time due;
	uint64_t handle; /* also the arming order: ties fire in that order */
	uint32_t svc;
	uint32_t kind;
	uint64_t arg;
};

/* A sync handed to the worker thread. */
struct sync_job {
	uint32_t svc;     /* UINT32_MAX: the node's own peers file */
	uint64_t token;
	int fd, dirfd;    /* private dups; -1: nothing to sync */
	char *what;       /* for the error message */
	int64_t issued_ns;
	int err;          /* errno of a failed sync */
	uint64_t errors_at_issue; /* the node's storage error count when issued */
};

struct client {
	au_node_id id;
	GSocketAddress *addr;
	struct au_replay win;
	int64_t last_ns;
};

struct au_node {
	struct au_node_opts o;
	const struct au_cluster *c;
	au_node_id self;
	uint64_t epoch, seq;
	struct timespec t0;
	int datafd, lockfd;
	char *data_dir;
	struct au_pkt_key *key;
	/* services */
	struct svc svcs[AU_MAX_SERVICES];
	uint32_t n_svcs;
	uint32_t control_tag;
	struct au_execctl *exec; /* drain/resume/submit requests (execctl.h) */
	bool running;
	/* network */
	GSocket *sock;
	GSource *sock_src;
	uint8_t *rxbuf, *txbuf;
	struct au_replay *peer_win; /* [nodes + 1] */
	uint32_t *peer_floor;       /* [nodes + 1]: lowest epoch still accepted from each peer */
	bool floors_dirty;
	guint floors_src;
	GHashTable *clients;        /* id -> struct client */
	/* timers */
	int tfd;
	guint tfd_src;
	GArray *heap;      /* struct tmr, min-heap on (due, handle) */
	GHashTable *live;  /* handles armed and not cancelled or fired */
	uint64_t next_handle;
	au_time armed_due; /* what the timerfd is set to; INT64_MAX: disarmed */
	/* storage */
	GThreadPool *pool;
	GAsyncQueue *done;
	int efd;
	guint efd_src;
	uint64_t use_clock;
	unsigned open_fds;
	/* Cannot persist: a write, truncate or sync failed and no sync issued
	 * since has succeeded (/ready answers 503 meanwhile). */
	bool storage_failing;
	uint64_t persist_failures; /* opens, writes, truncates and syncs that failed */
	int64_t storage_failing_since_ns;
	char storage_last_error[160];
	/* raft, as its traces tell */
	bool raft_out_of_service; /* RAFT_DISK_FAILED until RAFT_DISK_OK */
	int raft_role;
	uint64_t raft_term, raft_last, raft_applied;
	au_node_id raft_leader;
	uint64_t raft_voters;
	bool raft_voters_known;
	/* observability */
	struct au_node_counters m;
	uint64_t trace_counts[TRACE_KINDS_MAX + 1]; /* the last slot: kinds beyond the table */
};

static void logf_(struct au_node *n, bool always, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void logf_(struct au_node *n, bool always, const char *fmt, ...)
{
	if (n->o.quiet && !always)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "aureon-node n%u: %s\n", n->self, msg);
}

static au_time now_ns(const struct au_node *n)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (au_time)(ts.tv_sec - n->t0.tv_sec) * AU_NS_PER_S + (ts.tv_nsec - n->t0.tv_nsec);
}

/* ---- timers: a heap behind one timerfd --------------------------------- */

static bool tmr_less(const struct tmr *a, const struct tmr *b)
{
	return a->due != b->due ? a->due < b->due : a->handle < b->handle;
}

static void heap_push(GArray *h, const struct tmr *t)
{
	g_array_append_val(h, *t);
	struct tmr *a = (struct tmr *)(void *)h->data;
	for (guint i = h->len - 1; i > 0;) {
		guint p = (i - 1) / 2;
		if (!tmr_less(&a[i], &a[p]))
			break;
		struct tmr x = a[i];
		a[i] = a[p];
		a[p] = x;
		i = p;
	}
}

static struct tmr heap_pop(GArray *h)
{
	struct tmr *a = (struct tmr *)(void *)h->data;
	struct tmr top = a[0];
	a[0] = a[h->len - 1];
	g_array_set_size(h, h->len - 1);
	for (guint i = 0;;) {
		guint l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->len && tmr_less(&a[l], &a[m]))
			m = l;
		if (r < h->len && tmr_less(&a[r], &a[m]))
			m = r;
		if (m == i)
			break;
		struct tmr x = a[i];
		a[i] = a[m];
		a[m] = x;
		i = m;
	}
	return top;
}

/* Point the timerfd at the earliest live deadline. */
static void rearm(struct au_node *n)
{
	while (n->heap->len) {
		const struct tmr *top = &g_array_index(n->heap, struct tmr, 0);
		if (g_hash_table_contains(n->live, (gpointer)(uintptr_t)top->handle))
			break;
		heap_pop(n->heap); /* cancelled: discard lazily */
	}
	au_time due = n->heap->len ? g_array_index(n->heap, struct tmr, 0).due : INT64_MAX;
	if (due == n->armed_due || n->tfd < 0)
		return;
	n->armed_due = due;
	struct itimerspec its = {0};
	if (due != INT64_MAX) {
		/* Absolute CLOCK_MONOTONIC time; a deadline in the past fires at once. */
		int64_t abs_ns = (int64_t)n->t0.tv_sec * AU_NS_PER_S + n->t0.tv_nsec + (due > 0 ? due : 0);
		if (abs_ns <= 0)
			abs_ns = 1;
		its.it_value.tv_sec = abs_ns / AU_NS_PER_S;
		its.it_value.tv_nsec = abs_ns % AU_NS_PER_S;
	}
	if (timerfd_settime(n->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		logf_(n, true, "timerfd_settime: %s", g_strerror(errno));
}

void au_node_run_timers(struct au_node *n)
{
	au_time now = now_ns(n);
	for (unsigned fired = 0; fired < TIMERS_PER_WAKE && n->heap->len && n->running;) {
		const struct tmr *top = &g_array_index(n->heap, struct tmr, 0);
		if (top->due > now)
			break;
		struct tmr t = heap_pop(n->heap);
		if (!g_hash_table_remove(n->live, (gpointer)(uintptr_t)t.handle))
			continue; /* cancelled */
		fired++;
		n->m.timers_fired++;
		struct svc *s = &n->svcs[t.svc];
		s->model->timer(s->state, t.kind, t.arg);
	}
	n->armed_due = -1; /* force a re-arm: the timerfd expired */
	rearm(n);
}

static gboolean on_timerfd(gint fd, GIOCondition cond, gpointer data)
{
	(void)cond;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		logf_(data, true, "timerfd read: %s", g_strerror(errno));
	au_node_run_timers(data);
	return G_SOURCE_CONTINUE;
}

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
		n->storage_failing_since_ns = now_ns(n);
	n->storage_failing = true;
	g_snprintf(n->storage_last_error, sizeof(n->storage_last_error), "%s %s/%s: %s", op, dir, file,
		   g_strerror(e));
	logf_(n, true, "storage: %s", n->storage_last_error);
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

static int env_storage_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len)
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

static int64_t env_storage_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len)
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
			logf_(s->node, true, "storage: read %s/%s: %s", s->dir, file, g_strerror(errno));
			return -AU_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (int64_t)got;
}

static int64_t env_storage_size(void *ctx, const char *file)
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

static int env_storage_truncate(void *ctx, const char *file, uint64_t len)
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
static void sync_worker(gpointer data, gpointer user)
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
	j->issued_ns = now_ns(n);
	j->errors_at_issue = n->persist_failures;
	g_thread_pool_push(n->pool, j, NULL);
}

static void env_storage_sync(void *ctx, const char *file, uint64_t token)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
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
				logf_(n, true, "storage: persisting again (a sync issued after the last error succeeded)");
			}
		}
		int64_t took = now_ns(n) - j->issued_ns;
		n->m.sync_ns_total += took > 0 ? (uint64_t)took : 0;
		if (j->svc != UINT32_MAX && n->running) {
			struct svc *s = &n->svcs[j->svc];
			s->model->persisted(s->state, j->token, status);
		}
		g_free(j->what);
		g_free(j);
	}
	return count;
}

static gboolean on_eventfd(gint fd, GIOCondition cond, gpointer data)
{
	(void)cond;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		logf_(data, true, "eventfd read: %s", g_strerror(errno));
	au_node_run_syncs(data);
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
			logf_(n, true, "storage: %s/%s rewritten in place: the disk is full", n->data_dir, name);
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
static bool check_identity(struct au_node *n, char **err)
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
static bool next_epoch(struct au_node *n, char **err)
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

static uint64_t next_counter(struct au_node *n)
{
	if (n->seq == AU_PKT_SEQ_MAX) {
		char *err = NULL;
		if (!next_epoch(n, &err)) {
			logf_(n, true, "fatal: %s", err);
			exit(1);
		}
	}
	return n->epoch << AU_PKT_SEQ_BITS | ++n->seq;
}

/* Peers' epochs seen so far: after our own restart, packets from a peer's
 * earlier boots stay replays. */
static void load_floors(struct au_node *n)
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

static gboolean save_floors(gpointer data)
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
		logf_(n, true, "cannot write %s/peers: %s", n->data_dir, g_strerror(errno));
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

/* ---- network ----------------------------------------------------------- */

static GSocketAddress *dest_addr(struct au_node *n, au_node_id to)
{
	if (to >= 1 && to <= n->c->nodes)
		return G_SOCKET_ADDRESS(n->c->host[to]);
	if (to >= AU_CLIENT_ID_MIN) {
		struct client *cl = g_hash_table_lookup(n->clients, GUINT_TO_POINTER(to));
		return cl ? cl->addr : NULL;
	}
	return NULL;
}

/* Send one model message as one datagram.  Socket trouble is loss, as the
 * models expect of any network; a bad destination or size is the model's
 * error and is reported to it. */
static int send_tagged(struct au_node *n, uint32_t tag, au_node_id to, const void *msg, size_t len)
{
	if (!msg || len == 0) {
		n->m.tx_rejected++;
		return -AU_EINVAL;
	}
	if (len > AU_MSG_MAX) {
		n->m.tx_rejected++;
		return -AU_EMSGSIZE;
	}
	GSocketAddress *addr = dest_addr(n, to);
	if (!addr) {
		n->m.tx_rejected++;
		return -AU_EINVAL;
	}
	struct au_pkt_hdr h = {n->self, to, next_counter(n), tag};
	size_t plen = au_pkt_seal(n->key, &h, msg, len, n->txbuf);
	g_assert(plen > 0);
	if (!n->sock) {
		n->m.tx_failed++;
		return 0;
	}
	g_autoptr(GError) err = NULL;
	gssize w = g_socket_send_to(n->sock, addr, (const gchar *)n->txbuf, plen, NULL, &err);
	if (w != (gssize)plen) {
		n->m.tx_failed++;
		return 0;
	}
	n->m.tx_datagrams++;
	n->m.tx_bytes += plen;
	return 0;
}

int au_node_control_send(struct au_node *n, au_node_id to, const void *msg, size_t len)
{
	return send_tagged(n, n->control_tag, to, msg, len);
}

static int env_send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct svc *s = ctx;
	return send_tagged(s->node, s->tag, to, msg, len);
}

static struct client *client_for(struct au_node *n, au_node_id id)
{
	struct client *cl = g_hash_table_lookup(n->clients, GUINT_TO_POINTER(id));
	if (cl)
		return cl;
	if (g_hash_table_size(n->clients) >= CLIENTS_MAX) {
		/* Forget the client heard from longest ago.  A replay of its old
		 * packets is then accepted once more: a KV write replayed that
		 * way is applied at most once anyway (Raft client sessions). */
		struct client *old = NULL;
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, n->clients);
		while (g_hash_table_iter_next(&it, &k, &v))
			if (!old || ((struct client *)v)->last_ns < old->last_ns)
				old = v;
		g_hash_table_remove(n->clients, GUINT_TO_POINTER(old->id));
		n->m.clients_evicted++;
	}
	cl = g_new0(struct client, 1);
	cl->id = id;
	g_hash_table_insert(n->clients, GUINT_TO_POINTER(id), cl);
	return cl;
}

static void free_client(gpointer p)
{
	struct client *cl = p;
	if (cl->addr)
		g_object_unref(cl->addr);
	g_free(cl);
}

static void control_recv(struct au_node *n, au_node_id from, const uint8_t *msg, size_t len)
{
	uint64_t nonce;
	n->m.control_requests++;
	int type = au_ctl_type(msg, len);
	if (type == AU_CTL_ADMIN_REQ || type == AU_CTL_SUBMIT_REQ || type == AU_CTL_JOB_REQ ||
	    type == AU_CTL_JOBS_REQ) {
		if (n->running)
			au_execctl_recv(n->exec, from, msg, len);
		return;
	}
	if (!au_ctl_decode_status_req(msg, len, &nonce))
		return;
	struct au_ctl_status s = {0};
	s.nonce = nonce;
	au_node_get_status(n, &s.st);
	s.rx_delivered = n->m.rx_delivered;
	for (int i = 0; i < AU_DROP_COUNT_; i++)
		s.rx_dropped += n->m.drops[i];
	GString *names = g_string_new(NULL);
	for (uint32_t i = 0; i < n->n_svcs; i++)
		g_string_append_printf(names, "%s%s", i ? "," : "", n->svcs[i].model->name);
	g_strlcpy(s.services, names->str, sizeof(s.services));
	g_string_free(names, TRUE);
	uint8_t buf[512];
	size_t blen = au_ctl_encode_status_resp(&s, buf, sizeof(buf));
	if (blen)
		send_tagged(n, n->control_tag, from, buf, blen);
}

static void drop(struct au_node *n, enum au_pkt_drop why)
{
	n->m.drops[why]++;
}

void au_node_input(struct au_node *n, const uint8_t *buf, size_t len, GSocketAddress *from)
{
	n->m.rx_datagrams++;
	n->m.rx_bytes += len;
	struct au_pkt_hdr h;
	const uint8_t *payload;
	size_t plen;
	int v = au_pkt_open(n->key, buf, len, &h, &payload, &plen);
	if (v >= 0) {
		drop(n, (enum au_pkt_drop)v);
		return;
	}
	/* Authentic from here on. */
	if (h.receiver != n->self) {
		drop(n, AU_DROP_MISDIRECTED);
		return;
	}
	bool is_client = h.sender >= AU_CLIENT_ID_MIN;
	if (!is_client && (h.sender < 1 || h.sender > n->c->nodes)) {
		drop(n, AU_DROP_UNKNOWN_SENDER);
		return;
	}
	/* Find the service before touching replay state, so a packet we
	 * would drop anyway leaves no trace of its sender. */
	struct svc *s = NULL;
	bool control = h.service == n->control_tag;
	for (uint32_t i = 0; !control && i < n->n_svcs; i++)
		if (n->svcs[i].tag == h.service)
			s = &n->svcs[i];
	if (!control && !s) {
		drop(n, AU_DROP_UNKNOWN_SERVICE);
		return;
	}
	/* Clients may use the control service and client-side models (kv),
	 * never the members' own protocols (raft, swim). */
	if (is_client && s && !s->model->client_side) {
		drop(n, AU_DROP_FORBIDDEN);
		return;
	}
	uint32_t epoch = (uint32_t)(h.counter >> AU_PKT_SEQ_BITS);
	if (is_client) {
		struct client *cl = client_for(n, h.sender);
		if (!au_replay_accept(&cl->win, h.counter)) {
			drop(n, AU_DROP_REPLAY);
			return;
		}
		cl->last_ns = now_ns(n);
		if (from) {
			/* Replies go where the client's latest authentic packet came from. */
			if (cl->addr)
				g_object_unref(cl->addr);
			cl->addr = g_object_ref(from);
		}
	} else {
		if (epoch < n->peer_floor[h.sender] || !au_replay_accept(&n->peer_win[h.sender], h.counter)) {
			drop(n, AU_DROP_REPLAY);
			return;
		}
		if (epoch > n->peer_floor[h.sender]) {
			n->peer_floor[h.sender] = epoch;
			n->floors_dirty = true;
		}
	}
	n->m.rx_delivered++;
	if (control)
		control_recv(n, h.sender, payload, plen);
	else if (n->running)
		s->model->recv(s->state, h.sender, payload, plen);
}

static gboolean on_socket(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct au_node *n = data;
	(void)cond;
	for (unsigned i = 0; i < RX_PER_WAKE; i++) {
		GSocketAddress *from = NULL;
		g_autoptr(GError) err = NULL;
		/* One byte more than the largest valid datagram: a longer one
		 * shows up as oversize, never silently cut to a valid length. */
		gssize r = g_socket_receive_from(sock, &from, (gchar *)n->rxbuf, AU_PKT_MAX + 1, NULL, &err);
		if (r < 0) {
			if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				logf_(n, false, "receive: %s", err->message);
			break;
		}
		au_node_input(n, n->rxbuf, (size_t)r, from);
		if (from)
			g_object_unref(from);
	}
	return G_SOURCE_CONTINUE;
}

/* ---- the rest of env.h ---------------------------------------------------- */

static au_time env_now(void *ctx)
{
	struct svc *s = ctx;
	return now_ns(s->node);
}

static uint64_t env_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
	if (delay < 0)
		delay = 0;
	struct tmr t = {now_ns(n) + delay, ++n->next_handle, s->index, kind, arg};
	heap_push(n->heap, &t);
	g_hash_table_add(n->live, (gpointer)(uintptr_t)t.handle);
	n->m.timers_armed++;
	if (t.due < n->armed_due)
		rearm(n);
	return t.handle;
}

static void env_timer_cancel(void *ctx, uint64_t timer)
{
	struct svc *s = ctx;
	/* Only live handles are in the set; the heap entry goes lazily.  A
	 * handle of another service cannot be cancelled by mistake because
	 * handles are never reused and each model only holds its own. */
	g_hash_table_remove(s->node->live, (gpointer)(uintptr_t)timer);
}

static uint32_t env_random(void *ctx)
{
	struct svc *s = ctx;
	return au_pcg32_next(&s->rng);
}

static const char *kind_name(uint16_t kind)
{
	switch (kind) {
#define AU_X(name, num) \
	case num:       \
		return #name;
		AU_TRACE_KINDS(AU_X)
#undef AU_X
	default:
		return NULL;
	}
}

static const char *const role_names[] = {"follower", "pre-candidate", "candidate", "leader"};

/* Raft's state as its trace events tell it (the model's header exposes
 * only a few observers; the traces carry the rest). */
static void watch_raft(struct au_node *n, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	switch (kind) {
	case AU_TR_RAFT_ROLE:
		if ((uint64_t)a != n->raft_term || b != n->raft_role || (au_node_id)c != n->raft_leader) {
			bool change = b != n->raft_role || (au_node_id)c != n->raft_leader;
			n->raft_term = (uint64_t)a;
			n->raft_role = (int)b;
			n->raft_leader = (au_node_id)c;
			if (change && b >= 0 && b <= 3) {
				if (c)
					logf_(n, false, "raft: %s in term %" G_GINT64_FORMAT ", leader n%" G_GINT64_FORMAT,
					      role_names[b], a, c);
				else
					logf_(n, false, "raft: %s in term %" G_GINT64_FORMAT ", no leader known",
					      role_names[b], a);
			}
		}
		break;
	case AU_TR_RAFT_APPEND:
		n->raft_last = (uint64_t)a;
		break;
	case AU_TR_RAFT_RECOVER:
		n->raft_last = (uint64_t)a;
		n->raft_applied = (uint64_t)b;
		break;
	case AU_TR_RAFT_APPLY:
		n->raft_applied = (uint64_t)a;
		break;
	case AU_TR_RAFT_TRUNCATE:
		n->raft_last = a > 0 ? (uint64_t)a - 1 : 0;
		break;
	case AU_TR_RAFT_CONFIG:
		n->raft_voters = (uint64_t)b;
		n->raft_voters_known = true;
		break;
	case AU_TR_RAFT_INSTALL:
		n->raft_applied = (uint64_t)a;
		if ((uint64_t)a > n->raft_last)
			n->raft_last = (uint64_t)a;
		break;
	case AU_TR_RAFT_DISK_FAILED:
		if (!n->raft_out_of_service)
			logf_(n, true, "raft: out of service: storage %s failed (%s); no votes, acks or leading "
			      "until everything unsynced is written again and synced",
			      a == AU_STORAGE_SYNC ? "sync" : a == AU_STORAGE_TRUNCATE ? "truncate" : "write",
			      b == AU_ENOSPC ? "disk full" : "I/O error");
		n->raft_out_of_service = true;
		break;
	case AU_TR_RAFT_DISK_OK:
		if (n->raft_out_of_service)
			logf_(n, true, "raft: back in service: log durable to index %" G_GINT64_FORMAT, a);
		n->raft_out_of_service = false;
		break;
	default:
		break;
	}
}

static void env_trace(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
	n->trace_counts[kind < TRACE_KINDS_MAX ? kind : TRACE_KINDS_MAX]++;
	if (kind >= 200 && kind < 300)
		watch_raft(n, kind, a, b, c);
	if (kind == AU_TR_MODEL_BAD_MESSAGE)
		logf_(n, false, "%s: dropped a malformed message from n%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " bytes)",
		      s->model->name, a, b);
	if (n->o.trace_log) {
		/* The simulator's --records format: E time node kind a b c. */
		const char *name = kind_name(kind);
		char unknown[16];
		g_snprintf(unknown, sizeof(unknown), "KIND_%u", kind);
		fprintf(n->o.trace_log, "E t=%" G_GINT64_FORMAT " n%u %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
			now_ns(n), n->self, name ? name : unknown, a, b, c);
	}
}

static void env_record(void *ctx, uint32_t table, const void *row)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
	if (table >= s->model->n_tables)
		return;
	s->table_rows[table]++;
	FILE *f = n->o.trace_log;
	if (!f)
		return;
	const struct au_table_desc *d = &s->model->tables[table];
	fprintf(f, "T t=%" G_GINT64_FORMAT " n%u %s", now_ns(n), n->self, d->name);
	for (uint32_t i = 0; i < d->n_cols; i++) {
		const struct au_table_col *col = &d->cols[i];
		const uint8_t *p = (const uint8_t *)row + col->offset;
		switch (col->type) {
		case AU_COL_I64: {
			int64_t v;
			memcpy(&v, p, sizeof(v));
			fprintf(f, " %s=%" G_GINT64_FORMAT, col->name, v);
			break;
		}
		case AU_COL_U32: {
			uint32_t v;
			memcpy(&v, p, sizeof(v));
			fprintf(f, " %s=%u", col->name, v);
			break;
		}
		case AU_COL_F64: {
			double v;
			memcpy(&v, p, sizeof(v));
			fprintf(f, " %s=%.17g", col->name, v);
			break;
		}
		case AU_COL_ENUM8:
			if (*p < col->n_enum)
				fprintf(f, " %s=%s", col->name, col->enum_names[*p]);
			else
				fprintf(f, " %s=%u", col->name, *p);
			break;
		}
	}
	fputc('\n', f);
}

static void *env_local_service(void *ctx, const char *name)
{
	struct svc *s = ctx;
	return au_node_service_state(s->node, name);
}

static void env_msg_counts(void *ctx, uint64_t *msgs_in, uint64_t *msgs_out)
{
	struct svc *s = ctx;
	*msgs_in = s->node->m.rx_delivered;
	*msgs_out = s->node->m.tx_datagrams;
}

static const struct au_env_ops node_env_ops = {
	.now = env_now,
	.send = env_send,
	.timer_set = env_timer_set,
	.timer_cancel = env_timer_cancel,
	.random = env_random,
	.storage_write = env_storage_write,
	.storage_read = env_storage_read,
	.storage_size = env_storage_size,
	.storage_truncate = env_storage_truncate,
	.storage_sync = env_storage_sync,
	.trace = env_trace,
	.record = env_record,
	.local_service = env_local_service,
	.msg_counts = env_msg_counts,
};

/* ---- construction ------------------------------------------------------- */

/* mkdir -p with 0700 and a directory fsync of each parent we created into. */
static int open_dir(const char *path, bool sync, char **err)
{
	if (g_mkdir_with_parents(path, 0700) != 0) {
		*err = g_strdup_printf("cannot create %s: %s", path, g_strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = g_strdup_printf("cannot open %s: %s", path, g_strerror(errno));
		return -1;
	}
	if (sync) {
		/* Make the directory's own entry durable in its parent. */
		g_autofree char *parent = g_path_get_dirname(path);
		int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			fsync(pfd);
			close(pfd);
		}
	}
	return fd;
}

static bool setup_socket(struct au_node *n, char **err)
{
	g_autoptr(GError) gerr = NULL;
	GSocketAddress *me = G_SOCKET_ADDRESS(n->c->host[n->self]);
	n->sock = g_socket_new(g_socket_address_get_family(me), G_SOCKET_TYPE_DATAGRAM,
			       G_SOCKET_PROTOCOL_UDP, &gerr);
	if (!n->sock) {
		*err = g_strdup_printf("cannot create a UDP socket: %s", gerr->message);
		return false;
	}
	g_socket_set_blocking(n->sock, FALSE);
	/* Bursts of appends and heartbeats to many peers: give the kernel room. */
	g_socket_set_option(n->sock, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER_BYTES, NULL);
	g_socket_set_option(n->sock, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER_BYTES, NULL);
	if (!g_socket_bind(n->sock, me, FALSE, &gerr)) {
		*err = g_strdup_printf("cannot bind UDP %s (n%u in [hosts]): %s",
				       n->c->host_text[n->self], n->self, gerr->message);
		return false;
	}
	return true;
}

static void seed_services(struct au_node *n)
{
	uint64_t seed = n->o.seed;
	if (!n->o.have_seed) {
		/* Production: a fresh seed from the OS on every boot. */
		if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
			seed = (uint64_t)g_get_real_time() ^ ((uint64_t)getpid() << 32);
	}
	for (uint32_t i = 0; i < n->n_svcs; i++)
		au_pcg32_stream(&n->svcs[i].rng, seed, AU_STREAM_SERVICE + i, n->self);
}

struct au_node *au_node_new(const struct au_node_opts *o, char **err)
{
	const struct au_cluster *c = o->cluster;
	if (o->id < 1 || o->id > c->nodes) {
		*err = g_strdup_printf("node id n%u is not in %s (n1..n%u)", o->id, c->path, c->nodes);
		return NULL;
	}
	struct au_node *n = g_new0(struct au_node, 1);
	n->o = *o;
	n->c = c;
	n->self = o->id;
	n->datafd = n->lockfd = n->tfd = n->efd = -1;
	n->data_dir = g_strdup(o->data_dir);
	n->armed_due = INT64_MAX;
	n->raft_role = -1;
	clock_gettime(CLOCK_MONOTONIC, &n->t0);
	n->heap = g_array_new(FALSE, FALSE, sizeof(struct tmr));
	n->live = g_hash_table_new(g_direct_hash, g_direct_equal);
	n->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_client);
	n->peer_win = g_new0(struct au_replay, c->nodes + 1);
	n->peer_floor = g_new0(uint32_t, c->nodes + 1);
	n->rxbuf = g_malloc(AU_PKT_MAX + 1);
	n->txbuf = g_malloc(AU_PKT_MAX);
	n->key = au_pkt_key_new(c->key, c->key_len);
	n->exec = au_execctl_new(n);
	n->control_tag = au_pkt_service_tag(AU_NODE_CONTROL_SERVICE);
	n->done = g_async_queue_new();
	n->pool = g_thread_pool_new(sync_worker, n, 1, TRUE, NULL);
	/* Many log segments may be open at once: take the hard file limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	n->datafd = open_dir(n->data_dir, true, err);
	if (n->datafd < 0)
		goto fail;
	n->lockfd = openat(n->datafd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (n->lockfd < 0 || flock(n->lockfd, LOCK_EX | LOCK_NB) != 0) {
		*err = g_strdup_printf("%s is in use by another aureon-node (or cannot be locked: %s)",
				       n->data_dir, g_strerror(errno));
		goto fail;
	}
	if (!check_identity(n, err) || !next_epoch(n, err))
		goto fail;
	load_floors(n);

	const struct au_cluster_spec *spec = &c->spec;
	n->n_svcs = spec->n_services;
	for (uint32_t i = 0; i < n->n_svcs; i++) {
		struct svc *s = &n->svcs[i];
		s->node = n;
		s->index = i;
		s->model = spec->services[i];
		s->config = spec->service_config[i];
		s->tag = au_pkt_service_tag(s->model->name);
		s->files = g_hash_table_new(g_str_hash, g_str_equal);
		s->table_rows = g_new0(uint64_t, s->model->n_tables + 1);
		s->dirfd = -1;
		s->env = (struct au_env){
			.ops = &node_env_ops,
			.ctx = s,
			.self = n->self,
			.nodes = c->nodes,
			.caps = spec->node_caps ? spec->node_caps[n->self] : 0,
			.cpu_gflops = spec->cpu_gflops ? spec->cpu_gflops[n->self] : 0.0,
			.metrics_period_ns = c->metrics_period,
		};
		if (s->tag == n->control_tag) {
			*err = g_strdup_printf("service %s collides with the control service's wire tag",
					       s->model->name);
			goto fail;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (n->svcs[j].tag == s->tag) {
				*err = g_strdup_printf("services %s and %s have the same wire tag",
						       n->svcs[j].model->name, s->model->name);
				goto fail;
			}
		}
		s->dir = g_build_filename(n->data_dir, "store", s->model->name, NULL);
		s->dirfd = open_dir(s->dir, true, err);
		if (s->dirfd < 0)
			goto fail;
	}
	seed_services(n);
	if (!o->no_socket && !setup_socket(n, err))
		goto fail;
	n->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->tfd < 0 || n->efd < 0) {
		*err = g_strdup_printf("timerfd/eventfd: %s", g_strerror(errno));
		goto fail;
	}
	return n;
fail:
	au_node_free(n);
	return NULL;
}

void au_node_start(struct au_node *n)
{
	logf_(n, false, "epoch %" G_GUINT64_FORMAT ", UDP %s, data %s", n->epoch,
	      n->c->host_text[n->self], n->data_dir);
	n->running = true;
	/* In [cluster] services order, like the simulator: kv finds the raft
	 * that started before it. */
	for (uint32_t i = 0; i < n->n_svcs; i++) {
		struct svc *s = &n->svcs[i];
		s->state = s->model->init(&s->env, s->config);
	}
	if (n->sock) {
		n->sock_src = g_socket_create_source(n->sock, G_IO_IN, NULL);
		g_source_set_callback(n->sock_src, G_SOURCE_FUNC(on_socket), n, NULL);
		g_source_attach(n->sock_src, NULL);
	}
	n->tfd_src = g_unix_fd_add(n->tfd, G_IO_IN, on_timerfd, n);
	n->efd_src = g_unix_fd_add(n->efd, G_IO_IN, on_eventfd, n);
	n->floors_src = g_timeout_add_seconds(1, save_floors, n);
}

void au_node_free(struct au_node *n)
{
	if (!n)
		return;
	n->running = false;
	if (n->sock_src) {
		g_source_destroy(n->sock_src);
		g_source_unref(n->sock_src);
	}
	if (n->tfd_src)
		g_source_remove(n->tfd_src);
	if (n->efd_src)
		g_source_remove(n->efd_src);
	if (n->floors_src)
		g_source_remove(n->floors_src);
	if (n->floors_dirty && n->datafd >= 0)
		save_floors(n);
	/* Syncs in flight finish (their files stay consistent); their
	 * persisted() is not delivered: the models are going away. */
	g_thread_pool_free(n->pool, FALSE, TRUE);
	au_node_run_syncs(n);
	for (uint32_t i = n->n_svcs; i-- > 0;) {
		struct svc *s = &n->svcs[i];
		if (s->state)
			s->model->destroy(s->state);
		if (s->files) {
			GHashTableIter it;
			gpointer k, v;
			g_hash_table_iter_init(&it, s->files);
			while (g_hash_table_iter_next(&it, &k, &v)) {
				struct svc_file *f = v;
				if (f->fd >= 0)
					close(f->fd);
				g_free(f->name);
				g_free(f);
			}
			g_hash_table_destroy(s->files);
		}
		if (s->dirfd >= 0)
			close(s->dirfd);
		g_free(s->dir);
		g_free(s->table_rows);
	}
	/* After the services: Raft is gone, so no ReadIndex calls back now. */
	au_execctl_free(n->exec);
	g_async_queue_unref(n->done);
	if (n->sock)
		g_object_unref(n->sock);
	if (n->tfd >= 0)
		close(n->tfd);
	if (n->efd >= 0)
		close(n->efd);
	if (n->lockfd >= 0)
		close(n->lockfd);
	if (n->datafd >= 0)
		close(n->datafd);
	au_pkt_key_free(n->key);
	g_array_free(n->heap, TRUE);
	g_hash_table_destroy(n->live);
	g_hash_table_destroy(n->clients);
	g_free(n->peer_win);
	g_free(n->peer_floor);
	g_free(n->rxbuf);
	g_free(n->txbuf);
	g_free(n->data_dir);
	g_free(n);
}

/* ---- observers ------------------------------------------------------------- */

void *au_node_service_state(struct au_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->n_svcs; i++)
		if (strcmp(n->svcs[i].model->name, name) == 0)
			return n->svcs[i].state;
	return NULL;
}

void au_node_get_status(struct au_node *n, struct au_node_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = n->self;
	st->nodes = n->c->nodes;
	st->epoch = n->epoch;
	st->uptime_ns = now_ns(n);
	st->role = -1;
	au_execctl_status(n, st);
	st->storage_failing = n->storage_failing;
	st->storage_failing_ns = n->storage_failing_since_ns;
	g_strlcpy(st->storage_error, n->storage_last_error, sizeof(st->storage_error));
	st->raft_out_of_service = n->raft_out_of_service;
	struct au_raft *r = au_node_service_state(n, "raft");
	if (r) {
		st->has_raft = true;
		st->role = au_raft_is_leader(r) ? AU_RAFT_LEADER : n->raft_role;
		st->term = au_raft_term(r);
		st->leader = au_raft_is_leader(r) ? n->self : au_raft_leader_hint(r);
		st->commit = au_raft_commit_index(r);
		st->applied = n->raft_applied;
		st->last_index = n->raft_last;
		st->voters_known = n->raft_voters_known;
		if (n->raft_voters_known) {
			st->voters = n->raft_voters;
		} else {
			const struct au_raft_config *cfg = NULL;
			for (uint32_t i = 0; i < n->n_svcs; i++)
				if (n->svcs[i].state == r)
					cfg = n->svcs[i].config;
			uint32_t k = cfg && cfg->voters && cfg->voters < n->c->nodes ? cfg->voters : n->c->nodes;
			for (uint32_t v = 1; v <= k && v <= AU_RAFT_MAX_NODES; v++)
				st->voters |= UINT64_C(1) << v;
		}
	}
}

const struct au_env *au_node_env(struct au_node *n, const char *service)
{
	for (uint32_t i = 0; i < n->n_svcs; i++)
		if (strcmp(n->svcs[i].model->name, service) == 0)
			return &n->svcs[i].env;
	return NULL;
}

const struct au_node_counters *au_node_counters(const struct au_node *n) { return &n->m; }
const struct au_cluster *au_node_cluster(const struct au_node *n) { return n->c; }
au_node_id au_node_id_of(const struct au_node *n) { return n->self; }
unsigned au_node_client_count(const struct au_node *n) { return g_hash_table_size(n->clients); }

/* ---- /metrics ------------------------------------------------------------------ */

static void metric_head(GString *o, const char *name, const char *type, const char *help)
{
	g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u64(GString *o, const char *name, const char *type, const char *help, uint64_t v)
{
	metric_head(o, name, type, help);
	g_string_append_printf(o, "%s %" G_GUINT64_FORMAT "\n", name, v);
}

void au_node_render_metrics(struct au_node *n, GString *o)
{
	const struct au_node_counters *m = &n->m;
	struct au_node_status st;
	au_node_get_status(n, &st);
	metric_head(o, "aureon_node_info", "gauge", "Constant 1, labelled with this node's identity.");
	GString *svcs = g_string_new(NULL);
	for (uint32_t i = 0; i < n->n_svcs; i++)
		g_string_append_printf(svcs, "%s%s", i ? "," : "", n->svcs[i].model->name);
	g_string_append_printf(o, "aureon_node_info{node=\"n%u\",services=\"%s\",version=\"0.1.0\"} 1\n",
			       n->self, svcs->str);
	g_string_free(svcs, TRUE);
	metric_u64(o, "aureon_boot_epoch", "gauge", "Boot epoch (bumped and made durable at every start).", n->epoch);
	metric_head(o, "aureon_uptime_seconds", "gauge", "Seconds since this process started.");
	g_string_append_printf(o, "aureon_uptime_seconds %.3f\n", (double)st.uptime_ns / 1e9);
	metric_u64(o, "aureon_datagrams_received_total", "counter", "UDP datagrams received, valid or not.", m->rx_datagrams);
	metric_u64(o, "aureon_received_bytes_total", "counter", "Bytes of UDP datagrams received.", m->rx_bytes);
	metric_u64(o, "aureon_datagrams_accepted_total", "counter",
		   "Datagrams that passed authentication and replay checks and were delivered.", m->rx_delivered);
	metric_head(o, "aureon_datagrams_dropped_total", "counter",
		    "Datagrams dropped before any service saw them, by reason.");
	for (int i = 0; i < AU_DROP_COUNT_; i++)
		g_string_append_printf(o, "aureon_datagrams_dropped_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       au_pkt_drop_names[i], m->drops[i]);
	metric_u64(o, "aureon_datagrams_sent_total", "counter", "UDP datagrams sent.", m->tx_datagrams);
	metric_u64(o, "aureon_sent_bytes_total", "counter", "Bytes of UDP datagrams sent.", m->tx_bytes);
	metric_u64(o, "aureon_send_failures_total", "counter",
		   "Sends the socket refused (e.g. buffer full); the models treat them as loss.", m->tx_failed);
	metric_u64(o, "aureon_send_rejected_total", "counter",
		   "Sends refused because of a bad destination or size.", m->tx_rejected);
	metric_u64(o, "aureon_control_requests_total", "counter", "Requests to the control service.", m->control_requests);
	metric_u64(o, "aureon_clients", "gauge", "aureon-ctl clients remembered (address and replay window).",
		   g_hash_table_size(n->clients));
	metric_u64(o, "aureon_clients_evicted_total", "counter", "Clients forgotten to stay within the limit.",
		   m->clients_evicted);
	metric_u64(o, "aureon_timers_fired_total", "counter", "Model timers that fired.", m->timers_fired);
	metric_u64(o, "aureon_timers_armed_total", "counter", "Model timers armed.", m->timers_armed);
	metric_head(o, "aureon_storage_sync_seconds", "summary", "Time from a sync request to its completion.");
	g_string_append_printf(o, "aureon_storage_sync_seconds_sum %.9f\naureon_storage_sync_seconds_count %" G_GUINT64_FORMAT "\n",
			       (double)m->sync_ns_total / 1e9, m->syncs);
	metric_u64(o, "aureon_storage_errors_total", "counter", "Storage reads, writes, truncates, syncs or opens that failed.",
		   m->storage_errors);
	metric_u64(o, "aureon_storage_write_errors_total", "counter", "Storage writes and truncates that failed (disk full, I/O error).",
		   m->storage_write_errors);
	metric_u64(o, "aureon_storage_sync_errors_total", "counter", "Syncs (fdatasync) that failed; the models rewrite what they covered.",
		   m->storage_sync_errors);
	metric_u64(o, "aureon_storage_failing", "gauge", "1 while the node cannot persist: a write or sync failed and no sync issued since has succeeded.",
		   n->storage_failing ? 1 : 0);
	metric_u64(o, "aureon_raft_out_of_service", "gauge", "1 while Raft refuses to vote, acknowledge or lead because its storage failed.",
		   n->raft_out_of_service ? 1 : 0);
	metric_head(o, "aureon_trace_events_total", "counter", "Trace events the models recorded, by kind.");
	for (unsigned k = 0; k <= TRACE_KINDS_MAX; k++) {
		if (!n->trace_counts[k])
			continue;
		const char *name = k < TRACE_KINDS_MAX ? kind_name((uint16_t)k) : NULL;
		g_autofree char *lower = name ? g_ascii_strdown(name, -1) : g_strdup_printf("kind_%u", k);
		g_string_append_printf(o, "aureon_trace_events_total{kind=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       k < TRACE_KINDS_MAX ? lower : "other", n->trace_counts[k]);
	}
	metric_head(o, "aureon_table_rows_total", "counter", "Rows the models appended to their trace tables.");
	for (uint32_t i = 0; i < n->n_svcs; i++)
		for (uint32_t t = 0; t < n->svcs[i].model->n_tables; t++)
			g_string_append_printf(o, "aureon_table_rows_total{service=\"%s\",table=\"%s\"} %" G_GUINT64_FORMAT "\n",
					       n->svcs[i].model->name, n->svcs[i].model->tables[t].name,
					       n->svcs[i].table_rows[t]);
	if (st.has_raft) {
		metric_u64(o, "aureon_raft_term", "gauge", "Current Raft term.", st.term);
		metric_u64(o, "aureon_raft_is_leader", "gauge", "1 if this node is the Raft leader.",
			   st.role == AU_RAFT_LEADER);
		metric_u64(o, "aureon_raft_leader", "gauge", "Node id of the known leader (0: none).", st.leader);
		metric_u64(o, "aureon_raft_commit_index", "gauge", "Highest log index known committed.", st.commit);
		metric_u64(o, "aureon_raft_last_index", "gauge", "Index of the last entry in the log.", st.last_index);
		metric_u64(o, "aureon_raft_voters", "gauge", "Voters in the configuration in effect.",
			   (uint64_t)__builtin_popcountll(st.voters));
	}
	au_execctl_metrics(n, o);
}
