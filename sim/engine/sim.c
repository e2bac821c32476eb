/* sim.c — the engine: node lifecycle, the env.h implementation, the event
 * loop, and trace records (hash, dump, checkers).
 */
#include "sim_internal.h"
#include "trace_h5.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const fate_names[AU_FATE_COUNT_] = {
	"delivered", "dropped", "partitioned", "duplicated", "corrupted", "dst_down",
};

const char *au_fate_name(enum au_fate f)
{
	return (unsigned)f < AU_FATE_COUNT_ ? fate_names[f] : "?";
}

/* ---- trace records: hash, dump, trace file, judge -------------------- */

static const struct au_sim_judge *registered_judge;

void au_sim_register_judge(const struct au_sim_judge *judge)
{
	registered_judge = judge;
}

void *au_sim_judge_state(const struct au_sim *sim)
{
	return sim->judge_state;
}

/* Room for n more bytes in the hash buffer (hashing what it holds if
 * need be): the caller writes them there and adds n to hbuf_len.  The
 * digest is of the byte stream, wherever the buffer cuts it. */
static inline uint8_t *hash_room(struct au_sim *sim, size_t n)
{
	if (sim->hbuf_len + n > sizeof(sim->hbuf)) {
		au_sha256_update(&sim->sha, sim->hbuf, sim->hbuf_len);
		sim->hbuf_len = 0;
	}
	return sim->hbuf + sim->hbuf_len;
}

static void hash_bytes(struct au_sim *sim, const uint8_t *p, size_t n)
{
	memcpy(hash_room(sim, n), p, n);
	sim->hbuf_len += n;
}

/* v's low n bytes, little-endian (one store on a little-endian machine:
 * this runs for every field of every record). */
static inline size_t put_le(uint8_t *p, uint64_t v, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n == 8) {
		memcpy(p, &v, 8);
		return 8;
	}
	if (n == 4) {
		uint32_t u = (uint32_t)v;
		memcpy(p, &u, 4);
		return 4;
	}
	if (n == 2) {
		uint16_t u = (uint16_t)v;
		memcpy(p, &u, 2);
		return 2;
	}
#endif
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return n;
}

static const char *kind_name(uint16_t kind)
{
	switch (kind) {
#define AU_X(name, num)                                                                \
	case num:                                                                      \
		return #name;
		AU_TRACE_KINDS(AU_X)
#undef AU_X
	default:
		return "UNKNOWN";
	}
}

void au_sim_record_event(struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c)
{
	/* Record layout hashed (little-endian): tag 'E', t, node, kind, a, b, c;
	 * written straight into the hash buffer. */
	uint8_t *rec = hash_room(sim, 1 + 8 + 4 + 2 + 24);
	size_t n = 0;
	rec[n++] = 'E';
	n += put_le(rec + n, (uint64_t)sim->now, 8);
	n += put_le(rec + n, node, 4);
	n += put_le(rec + n, kind, 2);
	n += put_le(rec + n, (uint64_t)a, 8);
	n += put_le(rec + n, (uint64_t)b, 8);
	n += put_le(rec + n, (uint64_t)c, 8);
	sim->hbuf_len += n;
	uint64_t index = sim->stats.records++;
	if (sim->dump)
		fprintf(sim->dump, "%" G_GUINT64_FORMAT " E t=%" G_GINT64_FORMAT " n%u %s %" G_GINT64_FORMAT
			" %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
			index, sim->now, node, kind_name(kind), a, b, c);
	if (kind == AU_TR_RAFT_ROLE) { /* who `target = leader` means now */
		if (b == 3 && a >= sim->leader_term) {
			/* A stale leader (a candidate paused after winning its
			 * votes, leading an older term for a moment) is not it. */
			sim->leader = node;
			sim->leader_term = a;
		} else if (b != 3 && sim->leader == node)
			sim->leader = 0;
	}
	if (sim->holder_tasks)
		au_fault_track(sim, node, kind, a, b);
	if (sim->h5)
		au_h5_event(sim->h5, sim->now, node, kind, a, b, c);
	if (sim->judge_state)
		sim->judge->event(sim->judge_state, sim, index, node, kind, a, b, c);
	if (sim->observer)
		sim->observer(sim->observer_ctx, sim->now, node, kind, a, b, c);
}

void au_sim_record_message(struct au_sim *sim, au_time send_ns, au_time recv_ns,
			   au_node_id src, au_node_id dst, uint8_t service, uint8_t type,
			   uint32_t bytes, enum au_fate fate)
{
	sim->stats.fates[fate]++;
	if (!sim->sc->record_messages)
		return;
	uint8_t *rec = hash_room(sim, 1 + 8 + 8 + 4 + 4 + 1 + 1 + 4 + 1);
	size_t n = 0;
	rec[n++] = 'M';
	n += put_le(rec + n, (uint64_t)send_ns, 8);
	n += put_le(rec + n, (uint64_t)recv_ns, 8);
	n += put_le(rec + n, src, 4);
	n += put_le(rec + n, dst, 4);
	rec[n++] = service;
	rec[n++] = type;
	n += put_le(rec + n, bytes, 4);
	rec[n++] = (uint8_t)fate;
	sim->hbuf_len += n;
	uint64_t index = sim->stats.records++;
	if (sim->dump)
		fprintf(sim->dump,
			"%" G_GUINT64_FORMAT " M t=%" G_GINT64_FORMAT " n%u->n%u svc=%u type=%u bytes=%u sent=%" G_GINT64_FORMAT " %s\n",
			index, sim->now, src, dst, service, type, bytes, send_ns, au_fate_name(fate));
	if (sim->h5)
		au_h5_message(sim->h5, index, send_ns, recv_ns, src, dst,
			      (uint16_t)(service << 8 | type), bytes, (uint8_t)fate);
}

/* A row of a model table: hashed as tag 'T', service, table, time, node,
 * then each column little-endian in declared order. */
void au_sim_record_row(struct au_sim *sim, struct au_sim_svc *svc, uint32_t table, const void *row)
{
	const struct au_model *m = sim->sc->cluster.services[svc->index];
	if (table >= m->n_tables) {
		au_sim_record_event(sim, svc->node, AU_TR_SEND_REJECTED, -1, table, 0);
		return;
	}
	const struct au_table_desc *d = &m->tables[table];
	/* Head and columns gathered in one buffer, hashed in one call (the
	 * digest is of the byte stream, however it is cut). */
	uint8_t buf[256];
	size_t n = 0;
	buf[n++] = 'T';
	buf[n++] = (uint8_t)svc->index;
	buf[n++] = (uint8_t)table;
	n += put_le(buf + n, (uint64_t)sim->now, 8);
	n += put_le(buf + n, svc->node, 4);
	for (uint32_t i = 0; i < d->n_cols; i++) {
		const uint8_t *f = (const uint8_t *)row + d->cols[i].offset;
		uint64_t v = 0;
		size_t w = d->cols[i].type == AU_COL_U32 ? 4 : d->cols[i].type == AU_COL_ENUM8 ? 1 : 8;
		if (w == 8)
			memcpy(&v, f, 8);
		else if (w == 4) {
			uint32_t u;
			memcpy(&u, f, 4);
			v = u;
		} else
			v = *f;
		if (n + 8 > sizeof(buf)) {
			hash_bytes(sim, buf, n);
			n = 0;
		}
		n += put_le(buf + n, v, w);
	}
	hash_bytes(sim, buf, n);
	uint64_t index = sim->stats.records++;
	if (sim->dump)
		fprintf(sim->dump, "%" G_GUINT64_FORMAT " T t=%" G_GINT64_FORMAT " n%u %s\n", index,
			sim->now, svc->node, d->name);
	if (sim->h5)
		au_h5_row(sim->h5, svc->index, table, index, sim->now, svc->node, row);
	if (sim->judge_state)
		sim->judge->row(sim->judge_state, sim, index, svc->node, svc->index, table, row);
}

void au_sim_trace_hash(struct au_sim *sim, char out[65])
{
	/* Hash a copy so the running hash can continue. */
	struct au_sha256 c = sim->sha;
	au_sha256_update(&c, sim->hbuf, sim->hbuf_len);
	au_sha256_hex(&c, out);
}

void au_sim_violate(struct au_sim *sim, const char *check, au_node_id node, const char *fmt,
		    ...)
{
	if (sim->violated)
		return;
	sim->violated = true;
	sim->stop = true;
	struct au_violation *v = &sim->violation;
	g_strlcpy(v->check, check, sizeof(v->check));
	v->t_ns = sim->now;
	v->judged_ns = sim->now;
	v->node = node;
	v->record = sim->stats.records ? sim->stats.records - 1 : 0;
	va_list ap;
	va_start(ap, fmt);
	g_vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

void au_sim_violation_place(struct au_sim *sim, au_time t_ns, au_node_id node, uint64_t record,
			    const struct au_violation *window)
{
	if (!sim->violated)
		return;
	struct au_violation *v = &sim->violation;
	assert(t_ns <= v->judged_ns);
	v->t_ns = t_ns;
	v->node = node;
	v->record = record;
	if (window) {
		v->has_window = true;
		v->window_lo_ns = window->window_lo_ns;
		v->window_hi_ns = window->window_hi_ns;
		v->window_ops = window->window_ops;
		v->window_first_record = window->window_first_record;
		v->window_last_record = window->window_last_record;
		g_strlcpy(v->window_text, window->window_text, sizeof(v->window_text));
	}
}

au_node_id au_sim_delivering_from(const struct au_sim *sim)
{
	return sim->delivering_from;
}

/* ---- clocks ---------------------------------------------------------- */

/* Drift accumulated over dt at ppm, in exact integer arithmetic (none
 * without drift: the usual clock, read by env_now on every message). */
static inline au_time drift_over(au_time dt, int64_t ppm)
{
	if (ppm == 0)
		return 0;
	return (dt / 1000000) * ppm + ((dt % 1000000) * ppm) / 1000000;
}

au_time au_sim_local_time(const struct au_sim *sim, au_node_id n, au_time t)
{
	const struct au_sim_node *nd = &sim->node[n];
	return t + nd->skew_ns + nd->drift_base + drift_over(t - nd->drift_since, nd->drift_ppm);
}

/* A delay on node n's clock as a global delay: a fast clock (ppm > 0)
 * reaches its deadline sooner. */
static au_time global_delay(const struct au_sim_node *nd, au_time local_delay)
{
	if (nd->drift_ppm == 0)
		return local_delay;
	/* local = global * (1 + ppm/1e6)  =>  global = local * 1e6 / (1e6 + ppm) */
	au_i128 num = (au_i128)local_delay * 1000000;
	int64_t den = 1000000 + nd->drift_ppm;
	return (au_time)((num + den - 1) / den);
}

/* The handle a timer handle given to a model now stands for: a timer
 * re-timed by a drift change was pushed again under a new handle. */
static uint64_t timer_handle(const struct au_sim *sim, uint64_t h)
{
	gpointer to;
	while (sim->timer_moved && g_hash_table_lookup_extended(sim->timer_moved, &h, NULL, &to))
		h = *(const uint64_t *)to;
	return h;
}

/* Node n's clock changes rate: its pending timers were converted to global
 * time at the old rate, so each is pushed again to fire when the node's
 * own clock reaches its deadline (env.h: a timer fires `delay` on the
 * node's clock).  Without this, a timer armed on a 3x slow clock still ran
 * three times its length after the drift ended (chaos-rqml seed 1154: a
 * SWIM suspicion of 4 s declared a live member dead 12 s later, long after
 * every fault). */
struct timers_of {
	au_node_id node;
	uint32_t epoch;
};

/* au_evq_live_in_order's filter: a pending timer of this node's epoch. */
static bool is_timer_of(const struct au_event *ev, void *ctx)
{
	const struct timers_of *w = ctx;
	return ev->type == AU_EV_TIMER && ev->node == w->node && ev->aux == w->epoch;
}

static void retime_timers(struct au_sim *sim, au_node_id n, int64_t old_ppm)
{
	struct au_sim_node *nd = &sim->node[n];
	/* In pop order, so re-timed timers due at one instant keep the order
	 * they had (not the queue's slot numbering, which depends on when it
	 * last compacted). */
	struct timers_of want = {n, nd->epoch};
	size_t n_live;
	uint64_t *live = au_evq_live_in_order(&sim->q, is_timer_of, &want, &n_live);
	for (size_t i = 0; i < n_live; i++) {
		uint64_t h = live[i];
		struct au_event ev;
		au_evq_cancel(&sim->q, h, &ev);
		/* A timer that came due during a pause was pushed again at the
		 * resume, due now: nothing is left of it (chaos-aureon seed 7175:
		 * a pause and a drift ending at the same instant pushed it into
		 * the past). */
		au_time left = ev.u.timer.due > sim->now ? ev.u.timer.due - sim->now : 0;
		au_time local_left = left + drift_over(left, old_ppm);
		ev.u.timer.due = sim->now + global_delay(nd, local_left);
		uint64_t nh = au_evq_push(&sim->q, ev.u.timer.due, &ev);
		if (!sim->timer_moved)
			sim->timer_moved = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
		g_hash_table_insert(sim->timer_moved, g_memdup2(&h, sizeof(h)), g_memdup2(&nh, sizeof(nh)));
	}
	free(live);
}

void au_sim_set_drift(struct au_sim *sim, au_node_id n, int64_t ppm)
{
	struct au_sim_node *nd = &sim->node[n];
	int64_t old = nd->drift_ppm;
	nd->drift_base += drift_over(sim->now - nd->drift_since, nd->drift_ppm);
	nd->drift_since = sim->now;
	nd->drift_ppm = ppm;
	if (ppm != old)
		retime_timers(sim, n, old);
}

/* ---- env.h over the simulator ---------------------------------------- */

static au_time env_now(void *ctx)
{
	struct au_sim_svc *s = ctx;
	return au_sim_local_time(s->sim, s->node, s->sim->now);
}

static int env_send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct au_sim_svc *s = ctx;
	return au_net_send(s->sim, s, to, msg, len);
}

static uint64_t env_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct au_sim_svc *s = ctx;
	struct au_sim *sim = s->sim;
	struct au_sim_node *nd = &sim->node[s->node];
	assert(delay >= 0);
	if (delay < 0)
		delay = 0;
	struct au_event ev = {0};
	ev.type = AU_EV_TIMER;
	ev.service = (uint8_t)s->index;
	ev.node = s->node;
	ev.aux = nd->epoch;
	ev.a = kind;
	ev.u.timer.arg = arg;
	ev.u.timer.due = sim->now + global_delay(nd, delay);
	return au_evq_push(&sim->q, ev.u.timer.due, &ev);
}

static void env_timer_cancel(void *ctx, uint64_t timer)
{
	struct au_sim_svc *s = ctx;
	timer = timer_handle(s->sim, timer);
	const struct au_event *ev = au_evq_lookup(&s->sim->q, timer);
	/* Only this service's own timers: a stale handle never cancels
	 * somebody else's event. */
	if (!ev || ev->type != AU_EV_TIMER || ev->node != s->node || ev->service != s->index)
		return;
	au_evq_cancel(&s->sim->q, timer, NULL);
}

static uint32_t env_random(void *ctx)
{
	struct au_sim_svc *s = ctx;
	return au_pcg32_next(&s->rng);
}

static int env_storage_write(void *ctx, const char *file, uint64_t off, const void *buf,
			     size_t len)
{
	struct au_sim_svc *s = ctx;
	return au_disk_write(s->sim, s, file, off, buf, len);
}

static int64_t env_storage_read(void *ctx, const char *file, uint64_t off, void *buf,
				size_t len)
{
	struct au_sim_svc *s = ctx;
	return au_disk_read(s->sim, s, file, off, buf, len);
}

static int64_t env_storage_size(void *ctx, const char *file)
{
	struct au_sim_svc *s = ctx;
	return au_disk_size(s->sim, s, file);
}

static int env_storage_truncate(void *ctx, const char *file, uint64_t len)
{
	struct au_sim_svc *s = ctx;
	return au_disk_truncate(s->sim, s, file, len);
}

static void env_storage_sync(void *ctx, const char *file, uint64_t token)
{
	struct au_sim_svc *s = ctx;
	au_disk_sync(s->sim, s, file, token);
}

static void env_trace(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct au_sim_svc *s = ctx;
	au_sim_record_event(s->sim, s->node, kind, a, b, c);
}

static void *env_local_service(void *ctx, const char *name)
{
	struct au_sim_svc *s = ctx;
	struct au_sim_node *nd = &s->sim->node[s->node];
	for (uint32_t i = 0; i < s->sim->sc->cluster.n_services; i++)
		if (strcmp(s->sim->sc->cluster.services[i]->name, name) == 0)
			return nd->svc[i].state;
	return NULL;
}

static void env_record(void *ctx, uint32_t table, const void *row)
{
	struct au_sim_svc *s = ctx;
	au_sim_record_row(s->sim, s, table, row);
}

static void env_msg_counts(void *ctx, uint64_t *msgs_in, uint64_t *msgs_out)
{
	struct au_sim_svc *s = ctx;
	const struct au_sim_node *nd = &s->sim->node[s->node];
	*msgs_in = nd->msgs_in;
	*msgs_out = nd->msgs_out;
}

static const void *env_shared_input(void *ctx, const uint8_t key[32], const void *spec,
				    size_t spec_len, void *(*build)(const void *spec, size_t len),
				    void (*destroy)(void *obj))
{
	struct au_sim_svc *s = ctx;
	return au_sim_shared_input(s->sim, key, spec, spec_len, build, destroy);
}

static const struct au_env_ops sim_env_ops = {
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
	.local_service = env_local_service,
	.record = env_record,
	.msg_counts = env_msg_counts,
	.shared_input = env_shared_input,
};

/* ---- construction ----------------------------------------------------- */

/* Zeroed memory aligned to a cache line (for the node and service arrays). */
static void *aligned_zalloc(size_t bytes)
{
	size_t rounded = (bytes + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, rounded ? rounded : 64);
	if (!p) {
		fprintf(stderr, "aureon: out of memory (%zu bytes for nodes)\n", bytes);
		abort();
	}
	memset(p, 0, rounded ? rounded : 64);
	return p;
}

struct au_sim *au_sim_new(const struct au_scenario *sc, uint64_t seed)
{
	struct au_sim *sim = g_new0(struct au_sim, 1);
	sim->sc = sc;
	sim->seed = seed;
	sim->nodes = sc->cluster.nodes + sc->clients;
	sim->servers = sc->cluster.nodes;
	au_evq_init(&sim->q);
	au_sha256_init(&sim->sha);
	sim->partitions = g_ptr_array_new();
	sim->link_faults = g_ptr_array_new();
	au_pcg32_stream(&sim->fault_rng, seed, AU_STREAM_FAULT, 0);
	sim->node = aligned_zalloc(((size_t)sim->nodes + 1) * sizeof(struct au_sim_node));
	uint32_t per = sc->cluster.n_services ? sc->cluster.n_services : 1;
	sim->svc_all = aligned_zalloc(((size_t)sim->nodes + 1) * per * sizeof(struct au_sim_svc));
	for (au_node_id n = 1; n <= sim->nodes; n++) {
		struct au_sim_node *nd = &sim->node[n];
		au_pcg32_stream(&nd->net_rng, seed, AU_STREAM_NET, n);
		au_pcg32_stream(&nd->disk_rng, seed, AU_STREAM_DISK, n);
		nd->svc = &sim->svc_all[(size_t)n * per];
		for (uint32_t i = 0; i < sc->cluster.n_services; i++) {
			struct au_sim_svc *s = &nd->svc[i];
			s->sim = sim;
			s->node = n;
			s->index = i;
			s->env.ops = &sim_env_ops;
			s->env.ctx = s;
			s->env.self = n;
			s->env.nodes = sc->cluster.nodes;
			s->env.caps = n <= sc->cluster.nodes && sc->cluster.node_caps ? sc->cluster.node_caps[n] : 0;
			s->env.cpu_gflops = n <= sc->cluster.nodes ? sc->cluster.cpu_gflops[n] : sc->cluster.cpu_gflops_default;
			s->env.metrics_period_ns = sc->metrics_period;
			au_pcg32_stream(&s->rng, seed, AU_STREAM_SERVICE + i, n);
		}
	}
	au_net_update_plain(sim);
	sim->judge = registered_judge;
	sim->judge_state = sim->judge ? sim->judge->start(sim) : NULL;
	return sim;
}

static void stop_services(struct au_sim *sim, au_node_id n)
{
	struct au_sim_node *nd = &sim->node[n];
	for (uint32_t i = sim->sc->cluster.n_services; i-- > 0;) {
		struct au_sim_svc *s = &nd->svc[i];
		if (s->state)
			sim->sc->cluster.services[i]->destroy(s->state);
		s->state = NULL;
	}
}

void au_sim_free(struct au_sim *sim)
{
	if (!sim)
		return;
	au_time t;
	struct au_event ev;
	while (au_evq_pop(&sim->q, &t, &ev))
		au_msg_free_payload(sim, &ev);
	au_evq_free(&sim->q);
	for (au_node_id n = 1; n <= sim->nodes; n++) {
		struct au_sim_node *nd = &sim->node[n];
		stop_services(sim, n);
		if (nd->deferred) {
			for (guint i = 0; i < nd->deferred->len; i++)
				au_msg_free_payload(sim, &g_array_index(nd->deferred, struct au_deferred, i).ev);
			g_array_free(nd->deferred, TRUE);
		}
		au_disk_free(nd->disk);
	}
	free(sim->node);
	free(sim->svc_all);
	au_net_free(sim);
	if (sim->judge_state)
		sim->judge->free(sim->judge_state);
	au_sim_shared_free(sim);
	if (sim->timer_moved)
		g_hash_table_destroy(sim->timer_moved);
	g_free(sim->fault_node);
	g_free(sim->fault_outcome);
	g_free(sim->holder_tasks);
	g_free(sim->holder_lock);
	g_free(sim);
}

void au_sim_set_record_dump(struct au_sim *sim, FILE *f) { sim->dump = f; }
void au_sim_set_trace_file(struct au_sim *sim, struct au_h5 *h5) { sim->h5 = h5; }

void au_sim_set_observer(struct au_sim *sim, au_sim_observer fn, void *ctx)
{
	sim->observer = fn;
	sim->observer_ctx = ctx;
}
void au_sim_set_max_events(struct au_sim *sim, uint64_t max_events) { sim->max_events = max_events; }
const struct au_sim_stats *au_sim_stats(const struct au_sim *sim) { return &sim->stats; }

const struct au_violation *au_sim_violation(const struct au_sim *sim)
{
	return sim->violated ? &sim->violation : NULL;
}

const struct au_env *au_sim_env(struct au_sim *sim, au_node_id node, uint32_t service)
{
	if (node < 1 || node > sim->nodes || service >= sim->sc->cluster.n_services)
		return NULL;
	return &sim->node[node].svc[service].env;
}

bool au_sim_node_up(const struct au_sim *sim, au_node_id node)
{
	return node >= 1 && node <= sim->nodes && sim->node[node].up;
}

au_node_id au_sim_fault_node(const struct au_sim *sim, uint32_t idx)
{
	return sim->fault_node && idx < sim->sc->n_faults ? sim->fault_node[idx] : 0;
}

int64_t au_sim_durable_read(struct au_sim *sim, au_node_id node, const char *file,
			    uint64_t off, void *buf, size_t len)
{
	if (node < 1 || node > sim->nodes || !sim->node[node].disk)
		return -AU_ENOENT;
	return au_disk_durable_read(sim->node[node].disk, file, off, buf, len);
}

void au_sim_model_summary(struct au_sim *sim, au_node_id node, uint32_t service, char *buf,
			  size_t len)
{
	buf[0] = '\0';
	if (node < 1 || node > sim->nodes || service >= sim->sc->cluster.n_services)
		return;
	const struct au_model *m = sim->sc->cluster.services[service];
	void *st = sim->node[node].svc[service].state;
	if (st && m->summary)
		m->summary(st, buf, len);
}

char *au_sim_model_report(struct au_sim *sim, uint32_t service)
{
	const struct au_model *m = sim->sc->cluster.services[service];
	if (!m->report)
		return NULL;
	uint32_t n = sim->servers;
	void **states = g_new0(void *, (gsize)n + 1);
	for (au_node_id i = 1; i <= n; i++)
		states[i] = sim->node[i].up ? sim->node[i].svc[service].state : NULL;
	char *text = m->report((void *const *)states, n);
	g_free(states);
	return text;
}

/* ---- node lifecycle ---------------------------------------------------- */

static void start_services(struct au_sim *sim, au_node_id n)
{
	struct au_sim_node *nd = &sim->node[n];
	nd->up = true;
	bool client_node = n > sim->servers;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++) {
		struct au_sim_svc *s = &nd->svc[i];
		/* Client nodes run only the client side of client-side models. */
		if (client_node && !sim->sc->cluster.services[i]->client_side)
			continue;
		s->state = sim->sc->cluster.services[i]->init(&s->env, sim->sc->cluster.service_config[i]);
	}
}

void au_sim_crash(struct au_sim *sim, au_node_id n, uint32_t fault)
{
	struct au_sim_node *nd = &sim->node[n];
	assert(nd->up);
	au_sim_record_event(sim, n, AU_TR_NODE_CRASH, nd->epoch, fault, 0);
	stop_services(sim, n);
	nd->up = false;
	nd->epoch++; /* pending timers and syncs of the old epoch are void */
	if (nd->paused) {
		/* Deliveries held by the pause die with the node; timers too. */
		for (guint i = 0; i < nd->deferred->len; i++) {
			struct au_event *ev = &g_array_index(nd->deferred, struct au_deferred, i).ev;
			if (ev->type == AU_EV_DELIVER)
				au_sim_record_message(sim, ev->a, -1, ev->aux, n, ev->service,
						      0, ev->len, AU_FATE_DST_DOWN);
			au_msg_free_payload(sim, ev);
		}
		g_array_set_size(nd->deferred, 0);
		nd->paused = false;
	}
	uint64_t kept = 0, torn = 0, lost = 0;
	au_disk_crash(sim, n, &kept, &torn, &lost);
	sim->stats.kept_writes += kept;
	sim->stats.torn_writes += torn;
	sim->stats.lost_writes += lost;
	if (kept + torn + lost)
		au_sim_record_event(sim, n, AU_TR_DISK_CRASH, (int64_t)kept, (int64_t)torn,
				    (int64_t)lost);
	if (sim->leader == n)
		sim->leader = 0;
}

void au_sim_restart(struct au_sim *sim, au_node_id n, uint32_t fault)
{
	struct au_sim_node *nd = &sim->node[n];
	assert(!nd->up);
	au_sim_record_event(sim, n, AU_TR_NODE_RESTART, nd->epoch, fault, 0);
	start_services(sim, n);
}

void au_sim_pause(struct au_sim *sim, au_node_id n, uint32_t fault)
{
	struct au_sim_node *nd = &sim->node[n];
	assert(nd->up && !nd->paused);
	nd->paused = true;
	if (!nd->deferred)
		nd->deferred = g_array_new(FALSE, FALSE, sizeof(struct au_deferred));
	au_sim_record_event(sim, n, AU_TR_NODE_PAUSE, 0, fault, 0);
}

void au_sim_resume(struct au_sim *sim, au_node_id n)
{
	struct au_sim_node *nd = &sim->node[n];
	assert(nd->paused);
	nd->paused = false;
	au_sim_record_event(sim, n, AU_TR_NODE_RESUME, nd->deferred->len, 0, 0);
	/* Everything that came due during the pause runs now, in its original
	 * order (pushes get increasing sequence numbers). */
	for (guint i = 0; i < nd->deferred->len; i++) {
		struct au_deferred *d = &g_array_index(nd->deferred, struct au_deferred, i);
		if (d->ev.type == AU_EV_TIMER)
			d->ev.u.timer.due = sim->now;
		au_evq_push(&sim->q, sim->now, &d->ev);
	}
	g_array_set_size(nd->deferred, 0);
}

void au_sim_push(struct au_sim *sim, au_time t, const struct au_event *ev)
{
	(void)au_evq_push(&sim->q, t, ev);
}

/* ---- the event loop ---------------------------------------------------- */

static void fire_timer(struct au_sim *sim, struct au_event *ev)
{
	struct au_sim_node *nd = &sim->node[ev->node];
	if (!nd->up || ev->aux != nd->epoch)
		return; /* armed before a crash */
	struct au_sim_svc *s = &nd->svc[ev->service];
	sim->stats.timers_fired++;
	sim->sc->cluster.services[ev->service]->timer(s->state, (uint32_t)ev->a, ev->u.timer.arg);
}

/* Events for a paused node wait until it resumes. */
static bool defer_if_paused(struct au_sim *sim, au_time t, const struct au_event *ev)
{
	if (ev->node == 0 || ev->node > sim->nodes)
		return false;
	struct au_sim_node *nd = &sim->node[ev->node];
	if (!nd->paused)
		return false;
	if (ev->type != AU_EV_DELIVER && ev->type != AU_EV_TIMER && ev->type != AU_EV_SYNC_DONE)
		return false;
	struct au_deferred d = {t, *ev};
	g_array_append_val(nd->deferred, d);
	return true;
}

/* The service an event is addressed to, or NULL if it names none (faults,
 * stale services). */
static inline struct au_sim_svc *event_svc(struct au_sim *sim, const struct au_event *ev)
{
	if (!ev || ev->node == 0 || ev->node > sim->nodes || ev->service >= sim->sc->cluster.n_services)
		return NULL;
	return &sim->svc_all[(size_t)ev->node * sim->sc->cluster.n_services + ev->service];
}

/* Prefetching for upcoming events.  The queue starts loading an event's
 * slot when the event joins its run, AU_EVQ_AHEAD events before it runs.
 * PF_NODE_AT events before, the slot has arrived: read which node and
 * service the event is for and start loading those; PF_STATE_AT events
 * before, the service has arrived: start loading the model state it points
 * to.  Each step reads only what an earlier step requested several events
 * earlier, so with many nodes the chain slot -> node and service -> model
 * state costs no stall.  (always_inline is load-bearing: GCC deems a
 * function whose only effect is __builtin_prefetch pure, and deletes calls
 * to it that it did not inline first.) */
enum { PF_NODE_AT = 6, PF_STATE_AT = 3 };
_Static_assert(PF_STATE_AT < PF_NODE_AT && PF_NODE_AT < AU_EVQ_AHEAD, "prefetch steps in order");

__attribute__((always_inline)) static inline void prefetch_node(struct au_sim *sim,
								 const struct au_event *next)
{
	struct au_sim_svc *s = event_svc(sim, next);
	if (s) {
		__builtin_prefetch(&sim->node[next->node]);
		__builtin_prefetch(s);
	}
}

__attribute__((always_inline)) static inline void prefetch_state(struct au_sim *sim,
								  const struct au_event *next)
{
	struct au_sim_svc *s = event_svc(sim, next);
	if (s && s->state)
		__builtin_prefetch(s->state);
}

/* End the run, once, however it ends (its time, --until, the event budget,
 * or a violation): every model records what is still in flight (a KV
 * client's unfinished operation, as unknown: exported histories must not
 * lose it), RUN_END is recorded, and the checkers give their end-of-run
 * verdicts (the judge makes none after a violation). */
static void end_run(struct au_sim *sim)
{
	if (sim->finished)
		return;
	sim->finished = true;
	for (au_node_id n = 1; n <= sim->nodes; n++)
		for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++) {
			void *st = sim->node[n].svc[i].state;
			if (st && sim->sc->cluster.services[i]->run_end)
				sim->sc->cluster.services[i]->run_end(st);
		}
	au_sim_record_event(sim, 0, AU_TR_RUN_END, (int64_t)sim->stats.events, 0, 0);
	if (sim->judge_state)
		sim->judge->end(sim->judge_state, sim);
	assert(sim->finished);
}

int au_sim_run(struct au_sim *sim, au_time until)
{
	/* Boot every node at t=0, in id order, then schedule the faults. */
	if (!sim->booted) {
		sim->booted = true;
		for (au_node_id n = 1; n <= sim->nodes; n++) {
			au_sim_record_event(sim, n, AU_TR_NODE_BOOT, 0, 0, 0);
			start_services(sim, n);
		}
		au_fault_schedule(sim);
	}
	au_time t;
	struct au_event ev;
	while (!sim->stop) {
		if (!au_evq_pop_until(&sim->q, until, &t, &ev))
			break;
		prefetch_node(sim, au_evq_ahead_hint(&sim->q, PF_NODE_AT));
		prefetch_state(sim, au_evq_ahead_hint(&sim->q, PF_STATE_AT));
		assert(t >= sim->now);
		sim->now = t;
		size_t pending = au_evq_len(&sim->q);
		if (pending > sim->stats.peak_pending)
			sim->stats.peak_pending = pending;
		if (defer_if_paused(sim, t, &ev))
			continue;
		sim->stats.events++;
		switch ((enum au_ev_type)ev.type) {
		case AU_EV_DELIVER:
			au_net_deliver(sim, &ev);
			break;
		case AU_EV_TIMER:
			fire_timer(sim, &ev);
			break;
		case AU_EV_SYNC_DONE:
			au_disk_sync_done(sim, &ev);
			break;
		case AU_EV_FAULT:
			au_fault_fire(sim, &ev);
			break;
		case AU_EV_RESTART:
			if (!sim->node[ev.node].up)
				au_sim_restart(sim, ev.node, (uint32_t)ev.a);
			break;
		case AU_EV_BOOT:
			break;
		}
		if (sim->max_events && sim->stats.events >= sim->max_events)
			break;
	}
	if (!sim->stop && sim->now < until && until != INT64_MAX &&
	    (sim->max_events == 0 || sim->stats.events < sim->max_events))
		sim->now = until; /* the run lasts its full duration */
	sim->stats.sim_time_ns = sim->now;
	if (sim->violated)
		end_run(sim); /* the run cannot go on: end it as a finished run ends */
	return sim->violated ? 1 : 0;
}

int au_sim_finish(struct au_sim *sim)
{
	end_run(sim);
	return sim->violated ? 1 : 0;
}
