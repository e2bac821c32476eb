/* fixture.c — a fake env for one node of any model (see fixture.h). */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "tests.h"

static struct au_fixture *fx_of(void *ctx)
{
	return ctx;
}

static au_time env_now(void *ctx)
{
	return fx_of(ctx)->now;
}

static int env_send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct au_fixture *fx = fx_of(ctx);
	if (len > AU_MSG_MAX)
		return -AU_EMSGSIZE;
	if (to < 1 || to > fx->env.nodes)
		return -AU_EINVAL;
	struct au_fx_send s = {to, g_memdup2(msg, len), len};
	g_array_append_val(fx->sent, s);
	return 0;
}

static uint64_t env_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct au_fixture *fx = fx_of(ctx);
	struct au_fx_timer t = {++fx->next_handle, fx->now + (delay > 0 ? delay : 0), kind, arg,
				true};
	g_array_append_val(fx->timers, t);
	return t.handle;
}

static void env_timer_cancel(void *ctx, uint64_t handle)
{
	struct au_fixture *fx = fx_of(ctx);
	for (guint i = 0; i < fx->timers->len; i++) {
		struct au_fx_timer *t = &g_array_index(fx->timers, struct au_fx_timer, i);
		if (t->handle == handle)
			t->live = false;
	}
}

static uint32_t env_random(void *ctx)
{
	return au_pcg32_next(&fx_of(ctx)->rng);
}

static GByteArray *file(struct au_fixture *fx, const char *name, bool create)
{
	GByteArray *b = g_hash_table_lookup(fx->files, name);
	if (!b && create) {
		b = g_byte_array_new();
		g_hash_table_insert(fx->files, g_strdup(name), b);
	}
	return b;
}

static int env_storage_write(void *ctx, const char *name, uint64_t off, const void *buf,
			     size_t len)
{
	struct au_fixture *fx = fx_of(ctx);
	if (fx->fail_writes)
		return fx->fail_writes;
	GByteArray *b = file(fx, name, true);
	if (b->len < off + len)
		g_byte_array_set_size(b, (guint)(off + len)); /* a gap reads as zeros */
	memcpy(b->data + off, buf, len);
	return 0;
}

static int64_t env_storage_read(void *ctx, const char *name, uint64_t off, void *buf, size_t len)
{
	GByteArray *b = file(fx_of(ctx), name, false);
	if (!b)
		return -AU_ENOENT;
	if (off >= b->len)
		return 0;
	size_t n = MIN(len, b->len - off);
	memcpy(buf, b->data + off, n);
	return (int64_t)n;
}

static int64_t env_storage_size(void *ctx, const char *name)
{
	GByteArray *b = file(fx_of(ctx), name, false);
	return b ? (int64_t)b->len : -AU_ENOENT;
}

static int env_storage_truncate(void *ctx, const char *name, uint64_t len)
{
	struct au_fixture *fx = fx_of(ctx);
	if (fx->fail_writes)
		return fx->fail_writes;
	g_byte_array_set_size(file(fx, name, true), (guint)len);
	return 0;
}

static void env_storage_sync(void *ctx, const char *name, uint64_t token)
{
	struct au_fixture *fx = fx_of(ctx);
	struct au_fx_sync s = {g_strdup(name), token};
	g_array_append_val(fx->syncs, s);
}

static void env_trace(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct au_fixture *fx = fx_of(ctx);
	struct au_fx_trace t = {fx->now, kind, a, b, c};
	g_array_append_val(fx->traces, t);
}

static void env_record(void *ctx, uint32_t table, const void *row)
{
	struct au_fixture *fx = fx_of(ctx);
	ck_assert_msg(table < fx->model->n_tables, "%s recorded a row of table %u it does not have",
		      fx->model->name, table);
	(void)row;
	fx->rows++;
}

static void *env_local_service(void *ctx, const char *name)
{
	(void)ctx, (void)name;
	return NULL; /* one service per fixture node */
}

static const struct au_env_ops fx_env_ops = {
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
};

/* The model's config as its key table's defaults say, read by config/
 * from an empty group: exactly what a scenario that sets nothing gets. */
static void *default_config(const struct au_model *m, uint32_t nodes)
{
	void *cfg = g_malloc0(m->config_size ? m->config_size : 1);
	struct au_keys K = {.path = "<fixture>", .kf = g_key_file_new()};
	const struct au_keys_cluster cl = {nodes, NULL};
	bool ok = (!m->config_group || au_keys_model(&K, m->config_group, m->config_keys, cfg, &cl)) &&
		  (!m->extra_group || au_keys_model(&K, m->extra_group, m->extra_keys, cfg, &cl));
	g_key_file_free(K.kf);
	ck_assert_msg(ok, "%s: defaults do not parse: %s", m->name, K.err);
	return cfg;
}

struct au_fixture *au_fx_new(const struct au_model *m, const void *config, au_node_id self,
			     uint32_t nodes, uint64_t seed)
{
	struct au_fixture *fx = g_new0(struct au_fixture, 1);
	fx->model = m;
	fx->config = config ? g_memdup2(config, m->config_size) : default_config(m, nodes);
	fx->env = (struct au_env){.ops = &fx_env_ops, .ctx = fx, .self = self, .nodes = nodes,
				  .metrics_period_ns = AU_NS_PER_S};
	fx->seed = seed;
	au_pcg32_stream(&fx->rng, seed, AU_STREAM_SERVICE, self);
	fx->sent = g_array_new(FALSE, FALSE, sizeof(struct au_fx_send));
	fx->timers = g_array_new(FALSE, FALSE, sizeof(struct au_fx_timer));
	fx->syncs = g_array_new(FALSE, FALSE, sizeof(struct au_fx_sync));
	fx->traces = g_array_new(FALSE, FALSE, sizeof(struct au_fx_trace));
	fx->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  (GDestroyNotify)g_byte_array_unref);
	fx->durable = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    (GDestroyNotify)g_byte_array_unref);
	return fx;
}

static void drop_syncs(struct au_fixture *fx)
{
	for (guint i = 0; i < fx->syncs->len; i++)
		g_free(g_array_index(fx->syncs, struct au_fx_sync, i).file);
	g_array_set_size(fx->syncs, 0);
}

void au_fx_free(struct au_fixture *fx)
{
	if (fx->state)
		fx->model->destroy(fx->state);
	for (guint i = 0; i < fx->sent->len; i++)
		g_free(g_array_index(fx->sent, struct au_fx_send, i).msg);
	drop_syncs(fx);
	g_array_free(fx->sent, TRUE);
	g_array_free(fx->timers, TRUE);
	g_array_free(fx->syncs, TRUE);
	g_array_free(fx->traces, TRUE);
	g_hash_table_destroy(fx->files);
	g_hash_table_destroy(fx->durable);
	g_free(fx->config);
	g_free(fx);
}

void au_fx_boot(struct au_fixture *fx)
{
	ck_assert_msg(!fx->state, "n%u is already up", fx->env.self);
	fx->state = fx->model->init(&fx->env, fx->config);
	ck_assert_ptr_nonnull(fx->state);
}

void au_fx_crash(struct au_fixture *fx)
{
	ck_assert_msg(fx->state, "n%u is already down", fx->env.self);
	fx->model->destroy(fx->state);
	fx->state = NULL;
	drop_syncs(fx);
	for (guint i = 0; i < fx->timers->len; i++)
		g_array_index(fx->timers, struct au_fx_timer, i).live = false;
	g_hash_table_remove_all(fx->files);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, fx->durable);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const GByteArray *d = v;
		GByteArray *b = g_byte_array_sized_new(d->len);
		g_byte_array_append(b, d->data, d->len);
		g_hash_table_insert(fx->files, g_strdup(k), b);
	}
}

void au_fx_recv(struct au_fixture *fx, au_node_id from, const void *msg, size_t len)
{
	ck_assert_msg(fx->state, "n%u is down", fx->env.self);
	fx->model->recv(fx->state, from, msg, len);
}

/* The live timer due first (ties: the one armed first), or -1. */
static gint earliest(const struct au_fixture *fx)
{
	gint best = -1;
	for (guint i = 0; i < fx->timers->len; i++) {
		const struct au_fx_timer *t = &g_array_index(fx->timers, struct au_fx_timer, i);
		if (t->live && (best < 0 ||
				t->due < g_array_index(fx->timers, struct au_fx_timer, best).due))
			best = (gint)i;
	}
	return best;
}

static void fire(struct au_fixture *fx, guint i)
{
	struct au_fx_timer *t = &g_array_index(fx->timers, struct au_fx_timer, i);
	t->live = false;
	if (t->due > fx->now)
		fx->now = t->due;
	uint32_t kind = t->kind;
	uint64_t arg = t->arg;
	fx->model->timer(fx->state, kind, arg); /* may arm more: t may move */
}

void au_fx_advance(struct au_fixture *fx, au_time dt)
{
	au_time until = fx->now + dt;
	for (gint i; fx->state && (i = earliest(fx)) >= 0 &&
		     g_array_index(fx->timers, struct au_fx_timer, i).due <= until;)
		fire(fx, (guint)i);
	fx->now = until;
}

bool au_fx_fire_next(struct au_fixture *fx)
{
	gint i = fx->state ? earliest(fx) : -1;
	if (i < 0)
		return false;
	fire(fx, (guint)i);
	return true;
}

uint32_t au_fx_persist_all(struct au_fixture *fx, int status)
{
	uint32_t n = 0;
	while (fx->state && fx->syncs->len > 0) {
		struct au_fx_sync s = g_array_index(fx->syncs, struct au_fx_sync, 0);
		g_array_remove_index(fx->syncs, 0);
		const GByteArray *b = file(fx, s.file, false);
		if (status == 0 && b) {
			GByteArray *d = g_byte_array_sized_new(b->len);
			g_byte_array_append(d, b->data, b->len);
			g_hash_table_insert(fx->durable, g_strdup(s.file), d);
		}
		g_free(s.file);
		fx->model->persisted(fx->state, s.token, status);
		n++;
	}
	return n;
}

uint32_t au_fx_timers(const struct au_fixture *fx, uint32_t kind)
{
	uint32_t n = 0;
	for (guint i = 0; i < fx->timers->len; i++) {
		const struct au_fx_timer *t = &g_array_index(fx->timers, struct au_fx_timer, i);
		n += t->live && t->kind == kind;
	}
	return n;
}

uint32_t au_fx_traced(const struct au_fixture *fx, uint16_t kind, struct au_fx_trace *last)
{
	uint32_t n = 0;
	for (guint i = 0; i < fx->traces->len; i++) {
		const struct au_fx_trace *t = &g_array_index(fx->traces, struct au_fx_trace, i);
		if (t->kind != kind)
			continue;
		n++;
		if (last)
			*last = *t;
	}
	return n;
}

const GByteArray *au_fx_file(const struct au_fixture *fx, const char *name)
{
	return g_hash_table_lookup(fx->files, name);
}
