/* node.c — aureon-node's runtime (see node.h): the rest of env.h, construction
 * and observers; timers, storage, network and /metrics live in node_*.c. */
#include "node_internal.h"

void au_node__log(struct au_node *n, bool always, const char *fmt, ...)
{
	if (n->o.quiet && !always)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "aureon-node n%u: %s\n", n->self, msg);
}

au_time au_node__now(const struct au_node *n)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (au_time)(ts.tv_sec - n->t0.tv_sec) * AU_NS_PER_S + (ts.tv_nsec - n->t0.tv_nsec);
}

/* ---- the rest of env.h ---------------------------------------------------- */

static au_time env_now(void *ctx)
{
	struct svc *s = ctx;
	au_time t = au_node__now(s->node);
	if (s->node->rec)
		au_rec_now(s->node->rec, t);
	return t;
}

static uint64_t env_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct svc *s = ctx;
	struct au_node *n = s->node;
	if (delay < 0)
		delay = 0;
	struct tmr t = {au_node__now(n) + delay, ++n->next_handle, s->index, kind, arg};
	au_node__heap_push(n->heap, &t);
	g_hash_table_add(n->live, (gpointer)(uintptr_t)t.handle);
	n->m.timers_armed++;
	if (n->rec)
		au_rec_op(n->rec, AU_OP_TIMER_SET, s->index, (uint64_t)delay, kind, arg, NULL, 0);
	if (t.due < n->armed_due)
		au_node__rearm(n);
	return t.handle;
}

static void env_timer_cancel(void *ctx, uint64_t timer)
{
	struct svc *s = ctx;
	if (s->node->rec)
		au_rec_op(s->node->rec, AU_OP_TIMER_CANCEL, s->index, timer, 0, 0, NULL, 0);
	/* Only live handles are in the set; the heap entry goes lazily.  A
	 * handle of another service cannot be cancelled by mistake because
	 * handles are never reused and each model only holds its own. */
	g_hash_table_remove(s->node->live, (gpointer)(uintptr_t)timer);
}

static uint32_t env_random(void *ctx)
{
	struct svc *s = ctx;
	uint32_t v = au_pcg32_next(&s->rng);
	if (s->node->rec)
		au_rec_op(s->node->rec, AU_OP_RANDOM, s->index, v, 0, 0, NULL, 0);
	return v;
}

const char *au_node__kind_name(uint16_t kind)
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
					au_node__log(n, false, "raft: %s in term %" G_GINT64_FORMAT ", leader n%" G_GINT64_FORMAT,
					      role_names[b], a, c);
				else
					au_node__log(n, false, "raft: %s in term %" G_GINT64_FORMAT ", no leader known",
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
		n->raft_config_index = (uint64_t)a;
		break;
	case AU_TR_RAFT_INSTALL:
		n->raft_applied = (uint64_t)a;
		if ((uint64_t)a > n->raft_last)
			n->raft_last = (uint64_t)a;
		break;
	case AU_TR_RAFT_DISK_FAILED:
		if (!n->raft_out_of_service)
			au_node__log(n, true, "raft: out of service: storage %s failed (%s); no votes, acks or leading "
			      "until everything unsynced is written again and synced",
			      a == AU_STORAGE_SYNC ? "sync" : a == AU_STORAGE_TRUNCATE ? "truncate" : "write",
			      b == AU_ENOSPC ? "disk full" : "I/O error");
		n->raft_out_of_service = true;
		break;
	case AU_TR_RAFT_DISK_OK:
		if (n->raft_out_of_service)
			au_node__log(n, true, "raft: back in service: log durable to index %" G_GINT64_FORMAT, a);
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
	if (n->rec)
		au_rec_op(n->rec, AU_OP_TRACE, s->index << 16 | kind, (uint64_t)a, (uint64_t)b, (uint64_t)c, NULL, 0);
	n->trace_counts[kind < TRACE_KINDS_MAX ? kind : TRACE_KINDS_MAX]++;
	if (kind >= 200 && kind < 300)
		watch_raft(n, kind, a, b, c);
	if (kind == AU_TR_MODEL_BAD_MESSAGE)
		au_node__log(n, false, "%s: dropped a malformed message from n%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " bytes)",
		      s->model->name, a, b);
	if (n->o.trace_log) {
		/* The simulator's --records format: E time node kind a b c. */
		const char *name = au_node__kind_name(kind);
		char unknown[16];
		g_snprintf(unknown, sizeof(unknown), "KIND_%u", kind);
		fprintf(n->o.trace_log, "E t=%" G_GINT64_FORMAT " n%u %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
			au_node__now(n), n->self, name ? name : unknown, a, b, c);
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
	fprintf(f, "T t=%" G_GINT64_FORMAT " n%u %s", au_node__now(n), n->self, d->name);
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
	if (s->node->rec)
		au_rec_counts(s->node->rec, *msgs_in, *msgs_out);
}

static const struct au_env_ops node_env_ops = {
	.now = env_now,
	.send = au_node__send,
	.timer_set = env_timer_set,
	.timer_cancel = env_timer_cancel,
	.random = env_random,
	.storage_write = au_node__storage_write,
	.storage_read = au_node__storage_read,
	.storage_size = au_node__storage_size,
	.storage_truncate = au_node__storage_truncate,
	.storage_sync = au_node__storage_sync,
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
	n->seed = seed;
	for (uint32_t i = 0; i < n->n_svcs; i++)
		au_pcg32_stream(&n->svcs[i].rng, seed, AU_STREAM_SERVICE + i, n->self);
}

/* --record DIR: the log's first segment, its header naming this boot. */
static bool open_record(struct au_node *n, char **err)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) gerr = NULL;
	if (!g_file_get_contents(n->c->path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("--record: cannot read the cluster file again: %s", gerr->message);
		return false;
	}
	const char *names[AU_MAX_SERVICES];
	for (uint32_t i = 0; i < n->n_svcs; i++)
		names[i] = n->svcs[i].model->name;
	/* The clock anchor: t0 on both clocks, and the host's boot id. */
	struct timespec mono, real;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	int64_t t0_mono = (int64_t)n->t0.tv_sec * AU_NS_PER_S + n->t0.tv_nsec;
	int64_t since = (int64_t)mono.tv_sec * AU_NS_PER_S + mono.tv_nsec - t0_mono;
	g_autofree char *boot_id = NULL;
	if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL))
		boot_id = g_strdup(g_get_host_name());
	g_strstrip(boot_id);
	struct au_rec_info info = {n->self, n->epoch, n->seed, text, n->n_svcs, names,
				   t0_mono, (int64_t)real.tv_sec * AU_NS_PER_S + real.tv_nsec - since, boot_id};
	char *why = NULL;
	n->rec = au_rec_open(n->o.record_dir, n->o.record_max_bytes, &info, &why);
	if (!n->rec) {
		*err = g_strdup_printf("--record %s: %s", n->o.record_dir, why);
		g_free(why);
		return false;
	}
	return true;
}

void au_node__rec_checkpoint(struct au_node *n)
{
	if (!n->rec)
		return;
	struct au_raft *r = au_node_service_state(n, "raft");
	uint64_t slots[AU_RAFT_MAX_MACHINES];
	au_rec_checkpoint(n->rec, r != NULL, r ? au_raft_state_digest(r, slots) : 0, r ? au_raft_term(r) : 0,
			  r ? au_raft_commit_index(r) : 0);
}

void au_node__rec_end(struct au_node *n)
{
	if (au_rec_end(n->rec))
		au_node__rec_checkpoint(n);
}

/* The keys: the cluster key alone, or with [identities] this node's
 * secret key and the pair keys with every member (identity.h). */
static bool load_ident(struct au_node *n, char **err)
{
	const struct au_cluster *c = n->c;
	struct au_ident_keypair kp;
	g_autofree char *path = NULL;
	if (c->pub) {
		path = n->o.identity_file ? g_strdup(n->o.identity_file) : au_cluster_identity_path(c, n->self);
		if (!path)
			path = g_build_filename(n->data_dir, "identity.key", NULL);
		if (!au_ident_load_secret(path, &kp, err))
			return false;
	}
	char *why = NULL;
	n->ident = au_ident_new(c->nodes, n->self, c->key, c->key_len, (const uint8_t(*)[AU_IDENT_KEY])c->pub,
				c->revoked, c->pub ? &kp : NULL, c->quar, &why);
	memset(&kp, 0, sizeof(kp));
	if (!n->ident) {
		*err = g_strdup_printf("%s%s%s", path ? path : c->key_path, ": ", why);
		g_free(why);
		return false;
	}
	if (c->pub) {
		GString *rev = g_string_new(NULL);
		for (au_node_id p = 1; p <= c->nodes; p++)
			if (c->revoked[p])
				g_string_append_printf(rev, " n%u", p);
		au_node__log(n, false, "identity: per-node keys ([identities]), this node's from %s; revoked:%s",
			     path, rev->len ? rev->str : " none");
		g_string_free(rev, TRUE);
	}
	return true;
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
	n->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, au_node__free_client);
	n->peer_win = g_new0(struct au_replay, c->nodes + 1);
	n->peer_floor = g_new0(uint32_t, c->nodes + 1);
	n->rxbuf = g_malloc(AU_PKT_MAX + 1);
	n->txbuf = g_malloc(AU_PKT_MAX);
	n->exec = au_execctl_new(n);
	n->ops = au_opsctl_new(n);
	n->control_tag = au_pkt_service_tag(AU_NODE_CONTROL_SERVICE);
	n->done = g_async_queue_new();
	n->pool = g_thread_pool_new(au_node__sync_worker, n, 1, TRUE, NULL);
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
	if (!au_node__check_identity(n, err) || !load_ident(n, err) || !au_node__next_epoch(n, err))
		goto fail;
	au_node__load_floors(n);

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
	n->held_tx = g_array_new(FALSE, FALSE, sizeof(struct au_held_pkt));
	n->held_bytes = g_byte_array_new();
	if (o->record_dir && !open_record(n, err))
		goto fail;
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
	au_node__log(n, false, "epoch %" G_GUINT64_FORMAT ", UDP %s, data %s", n->epoch,
	      n->c->host_text[n->self], n->data_dir);
	n->running = true;
	if (n->rec)
		au_rec_begin(n->rec, AU_REC_BOOT, au_node__now(n));
	/* In [cluster] services order, like the simulator: kv finds the raft
	 * that started before it. */
	for (uint32_t i = 0; i < n->n_svcs; i++) {
		struct svc *s = &n->svcs[i];
		s->state = s->model->init(&s->env, s->config);
	}
	if (n->rec) {
		au_rec_end(n->rec);
		au_node__rec_checkpoint(n);
		au_node__rec_flush(n);
	}
	if (n->sock) {
		n->sock_src = g_socket_create_source(n->sock, G_IO_IN, NULL);
		g_source_set_callback(n->sock_src, G_SOURCE_FUNC(au_node__on_socket), n, NULL);
		g_source_attach(n->sock_src, NULL);
	}
	n->tfd_src = g_unix_fd_add(n->tfd, G_IO_IN, au_node__on_timerfd, n);
	n->efd_src = g_unix_fd_add(n->efd, G_IO_IN, au_node__on_eventfd, n);
	n->floors_src = g_timeout_add_seconds(1, au_node__save_floors, n);
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
		au_node__save_floors(n);
	/* Syncs in flight finish (their files stay consistent); their
	 * persisted() is not delivered: the models are going away. */
	g_thread_pool_free(n->pool, FALSE, TRUE);
	au_node_run_syncs(n);
	if (n->rec) {
		au_node__rec_flush(n); /* what the last wake-up sent */
		/* The state the models stop in, then the stop record. */
		if (n->svcs[0].state)
			au_node__rec_checkpoint(n);
		au_rec_close(n->rec, au_node__now(n));
		n->rec = NULL;
	}
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
	au_opsctl_free(n->ops);
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
	au_ident_free(n->ident);
	g_array_free(n->heap, TRUE);
	g_hash_table_destroy(n->live);
	g_hash_table_destroy(n->clients);
	g_free(n->peer_win);
	g_free(n->peer_floor);
	g_free(n->rxbuf);
	g_free(n->txbuf);
	if (n->held_tx) {
		for (guint i = 0; i < n->held_tx->len; i++)
			g_object_unref(g_array_index(n->held_tx, struct au_held_pkt, i).addr);
		g_array_free(n->held_tx, TRUE);
	}
	if (n->held_bytes)
		g_byte_array_free(n->held_bytes, TRUE);
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
	st->uptime_ns = au_node__now(n);
	st->role = -1;
	au_execctl_status(n, st);
	st->storage_failing = n->storage_failing;
	st->storage_failing_ns = n->storage_failing_since_ns;
	g_strlcpy(st->storage_error, n->storage_last_error, sizeof(st->storage_error));
	if (n->ident) {
		g_autofree char *auth = au_ident_status_text(n->ident, au_node__now(n));
		g_strlcpy(st->auth, auth, sizeof(st->auth));
	}
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
		st->config_index = n->raft_config_index;
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
