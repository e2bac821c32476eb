/* merge.c — `aureon-sim replay DIR --check`: every recorded boot of every
 * node replayed in one driven run of the engine (sim.h, driven runs), in
 * the order the inputs happened, so the ordinary checkers judge what the
 * real cluster did (see merge.h).
 */
#include "sim/replay/merge.h"

#include <string.h>

#include "hash.h"
#include "trace_kinds.h"
#include "kv.h"
#include "sim/replay/clocks.h"
#include "sim/replay/facts.h"
#include "sim/replay/replay.h"
#include "wire.h"
#include "sim/check/check.h"
#include "sim/engine/trace_h5.h"
#include "sim/report/violation.h"
#include "sim/scenario/scenario.h"

/* A pseudo record type: a boot whose log ended without a stop record,
 * before the node's next boot: the node went down (killed) here. */
#define DOWN_TYPE 0xffu

struct mboot {
	const struct au_rl_boot *b;
	struct au_rb *rb;
	struct au_replay_result res;
	au_time offset;           /* global time = offset + the node's local time */
	bool has_next;
	au_time next_t;           /* global time of the next input */
	unsigned next_type;
	au_time last_t;           /* global time of the last input fed */
	au_time start_t;          /* global time of its boot record */
	bool started, ended;
	bool later_boot;          /* the node boots again after this one */
};

/* Sends waiting for their receive, by link and content: a receive takes
 * the oldest send of the same bytes on its link (a datagram held in a
 * paused node's socket for minutes is still matched). */
struct msent_key {
	uint64_t link;    /* au_replay_link_key */
	uint64_t content; /* au_replay_content_key */
};

static guint msent_hash(gconstpointer p)
{
	const struct msent_key *k = p;
	return (guint)(k->link * UINT64_C(0x9e3779b97f4a7c15) >> 32) ^ (guint)k->content ^ (guint)(k->content >> 32);
}

static gboolean msent_equal(gconstpointer a, gconstpointer b)
{
	const struct msent_key *x = a, *y = b;
	return x->link == y->link && x->content == y->content;
}

/* One aureon-ctl KV operation, as the servers saw it: called when a server
 * first received its request, returned when one sent an OK for it. */
struct kvop {
	uint64_t session, seq;
	struct au_kv_history_row row;
	au_node_id server; /* the first that received it */
	bool done;
};

struct merge {
	struct au_sim *sim;
	uint32_t nodes, n_services;
	uint32_t kv_svc;    /* the kv service's index, or UINT32_MAX */
	GHashTable *ops;    /* (session, seq) -> struct kvop *, owned by ops_order */
	GPtrArray *ops_order; /* struct kvop *, in call order */
	GHashTable *sessions; /* session -> dense client number (1..) */
	uint64_t kv_ok, kv_bad;
	uint64_t kv_extra;       /* reads answered OK again with another value, judged too */
	uint32_t extra_clients;  /* client numbers for those, from 1 << 30 up (above any session's) */
	au_time now;
	GHashTable *sent;   /* struct msent_key -> GQueue of indexes + 1 into facts.sends */
	struct au_replay_facts facts;
	uint64_t delivered, unmatched, from_clients, sends;
	uint64_t from_unlogged;  /* received from a node with no log (--partial) */
	bool logged[AU_MAX_NODES + 1]; /* nodes with a log */
};

static void on_trace(void *ctx, au_node_id node, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct merge *m = ctx;
	if (kind == AU_TR_MODEL_STORAGE || kind == AU_TR_RAFT_DISK_FAILED) {
		struct au_rf_storage st = {node, m->now, (int)a, (int)b};
		g_array_append_val(m->facts.storage, st);
	}
	au_sim_drive_event(m->sim, node, kind, a, b, c);
}

static void on_row(void *ctx, au_node_id node, uint32_t service, uint32_t table, const void *row)
{
	struct merge *m = ctx;
	au_sim_drive_row(m->sim, node, service, table, row);
}

static guint op_hash(gconstpointer p)
{
	const struct kvop *o = p;
	return g_int64_hash(&o->session) ^ g_int64_hash(&o->seq);
}

static gboolean op_equal(gconstpointer a, gconstpointer b)
{
	const struct kvop *x = a, *y = b;
	return x->session == y->session && x->seq == y->seq;
}

/* A client's request reached a server: the operation is called (once,
 * at the first server that got any attempt of it). */
static void kv_request(struct merge *m, au_node_id server, const void *msg, size_t len)
{
	struct au_kv_wire w;
	if (!au_kv_wire_decode(msg, len, &w) || !w.is_req) {
		m->kv_bad++;
		return;
	}
	struct kvop probe = {.session = w.client, .seq = w.seq};
	if (g_hash_table_contains(m->ops, &probe))
		return;
	gpointer num = g_hash_table_lookup(m->sessions, &w.client);
	if (!num) {
		uint64_t *k = g_new(uint64_t, 1);
		*k = w.client;
		num = GUINT_TO_POINTER(g_hash_table_size(m->sessions) + 1);
		g_hash_table_insert(m->sessions, k, num);
	}
	struct kvop *o = g_new0(struct kvop, 1);
	o->session = w.client;
	o->seq = w.seq;
	o->server = server;
	o->row = (struct au_kv_history_row){
		.client = GPOINTER_TO_UINT(num), .op = w.op, .key = w.key,
		.value = w.op == AU_KV_GET ? 0 : w.value, .expected = w.expected,
		.call_ns = m->now, .return_ns = -1, .outcome = AU_KV_UNKNOWN,
	};
	g_ptr_array_add(m->ops_order, o);
	g_hash_table_add(m->ops, o);
}

/* A server answered a client: the first OK returns the operation (its
 * history row goes to the checkers now, as a simulated client's would). */
static void kv_reply(struct merge *m, au_node_id server, const void *msg, size_t len)
{
	struct au_kv_wire w;
	if (!au_kv_wire_decode(msg, len, &w) || w.is_req || w.status != AU_KV_STATUS_OK)
		return;
	struct kvop probe = {.session = w.client, .seq = w.seq};
	struct kvop *o = g_hash_table_lookup(m->ops, &probe);
	if (!o)
		return;
	if (o->done) {
		/* Another OK for the same operation (a retry answered twice):
		 * the client accepts whichever arrives first, so a read answered
		 * with another value is judged too, as a read of its own. */
		if (o->row.op != AU_KV_GET || w.value == o->row.value)
			return;
		struct au_kv_history_row extra = o->row;
		extra.client = ++m->extra_clients;
		extra.value = w.value;
		extra.return_ns = m->now;
		m->kv_extra++;
		au_sim_drive_row(m->sim, server, m->kv_svc, 0, &extra);
		return;
	}
	o->done = true;
	if (o->row.op == AU_KV_GET)
		o->row.value = w.value;
	else if (o->row.op == AU_KV_CAS)
		o->row.cas_ok = w.flag;
	o->row.return_ns = m->now;
	o->row.outcome = AU_KV_OK;
	m->kv_ok++;
	au_sim_drive_row(m->sim, server, m->kv_svc, 0, &o->row);
}

static void on_send(void *ctx, au_node_id node, uint32_t service, au_node_id to, const void *msg, size_t len)
{
	struct merge *m = ctx;
	if (to < 1 || to > m->nodes) {
		if (service == m->kv_svc)
			kv_reply(m, node, msg, len);
		return; /* to an aureon-ctl client: not replayed */
	}
	m->sends++;
	struct au_rf_send rs = {m->now, node, to, false, 0};
	g_array_append_val(m->facts.sends, rs);
	struct msent_key probe = {au_replay_link_key(node, to, service), au_replay_content_key(msg, len)};
	GQueue *q = g_hash_table_lookup(m->sent, &probe);
	if (!q) {
		q = g_queue_new();
		g_hash_table_insert(m->sent, g_memdup2(&probe, sizeof(probe)), q);
	}
	g_queue_push_tail(q, GSIZE_TO_POINTER((gsize)m->facts.sends->len));
}

/* A datagram fed to a model: matched with its replayed send (the oldest
 * unmatched one of the same bytes on that link) for its fate and delay. */
static void on_recv(void *ctx, au_node_id node, uint32_t service, au_node_id from, const void *msg, size_t len)
{
	struct merge *m = ctx;
	if (from < 1 || from > m->nodes) {
		m->from_clients++;
		if (service == m->kv_svc)
			kv_request(m, node, msg, len);
		return;
	}
	struct msent_key probe = {au_replay_link_key(from, node, service), au_replay_content_key(msg, len)};
	GQueue *q = g_hash_table_lookup(m->sent, &probe);
	if (!q || g_queue_is_empty(q)) {
		if (m->logged[from])
			m->unmatched++;
		else
			m->from_unlogged++;
		return;
	}
	struct au_rf_send *rs = &g_array_index(m->facts.sends, struct au_rf_send,
					       GPOINTER_TO_SIZE(g_queue_pop_head(q)) - 1);
	au_time sent_at = rs->t;
	rs->delivered = true;
	rs->delay = m->now - sent_at;
	au_sim_drive_message(m->sim, sent_at, m->now, from, node, (uint8_t)service, (uint32_t)len, AU_FATE_DELIVERED);
	m->delivered++;
}

static void queue_free(gpointer p)
{
	g_queue_free(p);
}

/* The scenario a merged replay runs under: the recorded cluster file's
 * [cluster] and service groups (hosts, keys and other runtime groups
 * dropped), a [run] lasting the replay.  g_malloc'd, or NULL with *err. */
char *au_merge_scenario_text(const struct au_rl_boot *b, const char *name, au_time duration, char **err)
{
	GKeyFile *kf = au_rf_cluster_keys(b, err);
	if (!kf)
		return NULL;
	/* No simulated KV clients: the history comes from the servers'
	 * requests and replies (linearizable_kv then keeps it whole). */
	for (uint32_t i = 0; i < b->n_services; i++)
		if (strcmp(b->services[i], "kv") == 0)
			g_key_file_set_value(kf, "workload", "kv_clients", "0");
	GString *t = g_string_new(NULL);
	g_string_append_printf(t, "# A replay of record logs (aureon-sim replay): the recorded cluster file's\n"
				  "# model groups; the schedule comes from the logs, not from this file.\n"
				  "[run]\nname = %s\nduration = %" G_GINT64_FORMAT "ms\nseed = 1\n",
			       name, duration / AU_NS_PER_MS + 1);
	au_rf_scenario_groups(t, kf, b);
	g_key_file_free(kf);
	return g_string_free(t, FALSE);
}

/* A boot's local time of its last timed record. */
static au_time boot_end(const struct au_rl_boot *b)
{
	au_time t = 0;
	for (guint i = 0; i < b->frames->len; i++) {
		const struct au_rl_frame *f = &g_array_index(b->frames, struct au_rl_frame, i);
		struct au_reclog_cur c = {f->p, f->len, 0, false};
		unsigned type = au_reclog_get_u8(&c);
		if (type != AU_REC_HEADER && type != AU_REC_CHECKPOINT && type != AU_REC_STRAY && type < AU_REC_TYPES_)
			t += au_reclog_get_sv(&c);
	}
	return t;
}

/* Place every boot on one timeline: with one host boot id, by
 * CLOCK_MONOTONIC (exact); otherwise by CLOCK_REALTIME corrected by the
 * datagrams between hosts (clocks.c).  False with *err for version 1 logs. */
static bool place(GPtrArray *boots, struct mboot *mb, guint n, bool *same_host, struct au_clocks_report *rep,
		  char **err)
{
	*same_host = true;
	for (guint i = 0; i < n; i++) {
		if (!mb[i].b->has_anchor) {
			*err = g_strdup_printf("n%u boot %" G_GUINT64_FORMAT ": a version %u log has no clock anchor; "
					       "a merged replay (--check) needs version 2 logs (per-node replay still works)",
					       mb[i].b->node, mb[i].b->epoch, mb[i].b->version);
			return false;
		}
		if (strcmp(mb[i].b->host_id, mb[0].b->host_id) != 0)
			*same_host = false;
	}
	if (!*same_host) {
		int64_t *off = g_new(int64_t, n);
		bool ok = au_clocks_place(boots, off, rep);
		for (guint i = 0; ok && i < n; i++)
			mb[i].offset = off[i];
		g_free(off);
		if (!ok)
			*err = g_strdup_printf("the logs come from more than %d hosts", AU_CLOCKS_MAX_HOSTS);
		return ok;
	}
	int64_t base = INT64_MAX;
	for (guint i = 0; i < n; i++)
		base = mb[i].b->t0_mono_ns < base ? mb[i].b->t0_mono_ns : base;
	for (guint i = 0; i < n; i++)
		mb[i].offset = mb[i].b->t0_mono_ns - base;
	return true;
}

static void advance(struct mboot *x)
{
	au_time t;
	unsigned type;
	if (au_rb_next(x->rb, &t, &type)) {
		x->has_next = true;
		x->next_t = x->offset + t;
		x->next_type = type;
		return;
	}
	x->has_next = false;
	x->ended = true;
	/* Killed (no stop record) and booted again later: down after its last input. */
	if (x->res.outcome == AU_REPLAY_EXACT && !x->res.stopped && x->later_boot && x->started) {
		x->has_next = true;
		x->next_t = x->last_t + 1;
		x->next_type = DOWN_TYPE;
	}
}

/* The boot whose input comes next: earliest time, then node, then epoch. */
static struct mboot *pick(struct mboot *mb, guint n)
{
	struct mboot *best = NULL;
	for (guint i = 0; i < n; i++) {
		struct mboot *x = &mb[i];
		if (!x->has_next)
			continue;
		if (!best || x->next_t < best->next_t ||
		    (x->next_t == best->next_t && (x->b->node < best->b->node ||
						   (x->b->node == best->b->node && x->b->epoch < best->b->epoch))))
			best = x;
	}
	return best;
}

/* --to-scenario: the facts of the replayed run, as a scenario file. */
static bool write_scenario(struct merge *m, const struct mboot *mb, guint n, const struct au_merge_opts *o, FILE *out,
			   char **err)
{
	struct au_replay_facts *f = &m->facts;
	for (guint i = 0; i < n; i++) {
		const struct mboot *x = &mb[i];
		if (!x->started)
			continue;
		struct au_rf_boot fb = {x->b->node, x->start_t, x->last_t, x->res.stopped, x->later_boot};
		g_array_append_val(f->boots, fb);
		if (x->last_t > f->span)
			f->span = x->last_t;
	}
	/* A node silent since long before the end (the run stopped while it
	 * was paused, or it was frozen when the logs were taken) is paused to
	 * the end. */
	for (guint i = 0; i < n; i++) {
		const struct mboot *x = &mb[i];
		if (x->started && !x->ended && f->span - x->last_t >= AU_RF_PAUSE_GAP) {
			struct au_rf_pause pz = {x->b->node, x->last_t, f->span};
			g_array_append_val(f->pauses, pz);
		}
	}
	for (guint i = 0; i < m->ops_order->len; i++) {
		const struct kvop *op = m->ops_order->pdata[i];
		g_array_append_val(f->kv, op->row);
	}
	const char *names[32], *results[32];
	size_t nc = au_check_results(m->sim, names, results, 32);
	GString *cl = g_string_new(NULL);
	for (size_t i = 0; i < nc; i++)
		g_string_append_printf(cl, "%s%s", i ? ", " : "", names[i]);
	f->checks = g_string_free(cl, FALSE);
	char *text = au_rf_scenario(f, o->dir, err);
	if (!text)
		return false;
	bool ok = true;
	if (!o->force && g_file_test(o->scenario_out, G_FILE_TEST_EXISTS)) {
		*err = g_strdup_printf("--to-scenario %s: the file exists (--force overwrites it)", o->scenario_out);
		ok = false;
	} else {
		GError *gerr = NULL;
		if (!g_file_set_contents(o->scenario_out, text, -1, &gerr)) {
			*err = g_strdup_printf("--to-scenario %s: %s", o->scenario_out, gerr->message);
			g_error_free(gerr);
			ok = false;
		}
	}
	if (ok)
		fprintf(out, "  scenario written to %s (run it with `aureon-sim run %s`)\n", o->scenario_out,
			o->scenario_out);
	g_free(text);
	return ok;
}

int au_merge_run(GPtrArray *boots, const struct au_merge_opts *o, FILE *out)
{
	guint n = boots->len;
	struct mboot *mb = g_new0(struct mboot, n);
	struct merge m = {0};
	struct au_scenario *sc = NULL;
	struct au_h5 *h5 = NULL;
	char *err = NULL, *name = NULL, *run_name = NULL, *checks = NULL;
	bool partial = false;
	int rc = 2;
	for (guint i = 0; i < n; i++) {
		mb[i].b = boots->pdata[i];
		if (mb[i].b->config_digest != mb[0].b->config_digest) {
			err = g_strdup_printf("n%u boot %" G_GUINT64_FORMAT " ran another cluster file than n%u boot %"
					      G_GUINT64_FORMAT " (config digests differ): one merged run needs one cluster",
					      mb[i].b->node, mb[i].b->epoch, mb[0].b->node, mb[0].b->epoch);
			goto out;
		}
		if (mb[i].b->node < 1 || mb[i].b->node > AU_MAX_NODES) {
			err = g_strdup_printf("%s: a log of node %u, outside n1..n%u", (const char *)mb[i].b->paths->pdata[0],
					      mb[i].b->node, AU_MAX_NODES);
			goto out;
		}
		mb[i].later_boot = i + 1 < n && ((struct au_rl_boot *)boots->pdata[i + 1])->node == mb[i].b->node;
		m.logged[mb[i].b->node] = true;
	}
	if (o->scenario_out && !o->force && g_file_test(o->scenario_out, G_FILE_TEST_EXISTS)) {
		err = g_strdup_printf("--to-scenario %s: the file exists (--force overwrites it)", o->scenario_out);
		goto out;
	}
	bool same_host;
	struct au_clocks_report clocks;
	if (!place(boots, mb, n, &same_host, &clocks, &err))
		goto out;
	/* The replay's span, for the scenario's duration. */
	au_time span = 0;
	for (guint i = 0; i < n; i++) {
		au_time end = mb[i].offset + boot_end(mb[i].b);
		if (end > span)
			span = end;
	}
	struct au_rb_sink sink = {&m, on_trace, on_row, on_send, on_recv};
	for (guint i = 0; i < n; i++) {
		mb[i].rb = au_rb_open(mb[i].b, &sink, &mb[i].res);
		if (!mb[i].rb) {
			err = g_strdup_printf("n%u boot %" G_GUINT64_FORMAT ": cannot rebuild the services: %s",
					      mb[i].b->node, mb[i].b->epoch, mb[i].res.what);
			goto out;
		}
	}
	name = g_path_get_basename(o->dir);
	run_name = g_strdup_printf("replay of %s", name);
	char *text = au_merge_scenario_text(mb[0].b, run_name, span, &err);
	if (!text)
		goto out;
	sc = au_scenario_load_text("(the recorded cluster file)", text, &err);
	g_free(text);
	if (!sc)
		goto out;
	if (sc->cluster.n_services != mb[0].b->n_services) {
		err = g_strdup("the recorded services do not load as a scenario");
		goto out;
	}
	if (o->trace_path) {
		h5 = au_h5_create(o->trace_path, o->force, sc, 1, o->version, &err);
		if (!h5) {
			char *e = g_strdup_printf("--trace %s", err);
			g_free(err);
			err = e;
			goto out;
		}
	}
	m.nodes = sc->cluster.nodes;
	GString *missing = g_string_new(NULL);
	for (au_node_id nd = 1; nd <= m.nodes; nd++)
		if (!m.logged[nd])
			g_string_append_printf(missing, "%sn%u", missing->len ? ", " : "", nd);
	if (missing->len && !o->partial) {
		err = g_strdup_printf("%s holds no log of %s: a run without its inputs can fail checks on effects whose "
				      "causes are missing; --partial replays the others anyway", o->dir, missing->str);
		g_string_free(missing, TRUE);
		goto out;
	}
	partial = missing->len > 0;
	g_string_free(missing, TRUE);
	m.n_services = sc->cluster.n_services;
	m.sent = g_hash_table_new_full(msent_hash, msent_equal, g_free, queue_free);
	au_rf_init(&m.facts);
	m.facts.first = mb[0].b;
	m.kv_svc = UINT32_MAX;
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "kv") == 0)
			m.kv_svc = i;
	m.ops = g_hash_table_new(op_hash, op_equal);
	m.extra_clients = 1u << 30; /* above any session number */
	m.ops_order = g_ptr_array_new_with_free_func(g_free);
	m.sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	m.sim = au_sim_new(sc, 1);
	au_sim_set_trace_file(m.sim, h5);
	au_sim_set_record_dump(m.sim, o->dump);
	for (char **k = o->skip; k && *k; k++)
		if (!au_check_leave_out(m.sim, *k)) {
			err = g_strdup_printf("--skip %s: no check of that name is on for these services", *k);
			goto out;
		}
	au_sim_drive_begin(m.sim);
	for (guint i = 0; i < n; i++)
		advance(&mb[i]);
	uint64_t inputs = 0;
	bool booted_once[AU_MAX_NODES + 1] = {0};
	struct mboot *stop_boot = NULL;
	for (struct mboot *x; (x = pick(mb, n)) && !au_sim_drive_stopped(m.sim);) {
		au_node_id node = x->b->node;
		m.now = x->next_t;
		au_sim_drive_time(m.sim, m.now);
		if (x->next_type == DOWN_TYPE || x->next_type == AU_REC_STOP) {
			if (x->next_type == AU_REC_STOP)
				x->last_t = m.now;
			if (x->started) /* a boot that never started its services changes nothing */
				au_sim_drive_down(m.sim, node);
			x->has_next = false;
			x->ended = true;
			continue;
		}
		if (x->next_type == AU_REC_BOOT) {
			au_sim_drive_boot(m.sim, node, booted_once[node]);
			booted_once[node] = true;
			x->started = true;
			x->start_t = m.now;
		} else if (m.now - x->last_t >= AU_RF_PAUSE_GAP) {
			struct au_rf_pause pz = {node, x->last_t, m.now};
			g_array_append_val(m.facts.pauses, pz);
		}
		bool ok = au_rb_feed(x->rb);
		inputs++;
		x->last_t = m.now;
		if (x->next_type == AU_REC_BOOT) {
			void *states[AU_MAX_SERVICES] = {0};
			for (uint32_t s = 0; s < m.n_services; s++)
				states[s] = au_rb_state(x->rb, s);
			au_sim_drive_states(m.sim, node, states);
		}
		if (!ok) {
			stop_boot = x;
			break;
		}
		advance(x);
		if (x->ended && x->res.outcome != AU_REPLAY_EXACT) {
			stop_boot = x;
			break;
		}
	}
	for (guint i = 0; i < n; i++)
		au_rb_detach(mb[i].rb);
	/* Operations no server answered OK: their outcome is unknown (the
	 * client may have given up, or the answer was lost), in call order. */
	uint64_t kv_unknown = 0;
	for (guint i = 0; i < m.ops_order->len; i++) {
		struct kvop *op = m.ops_order->pdata[i];
		if (!op->done) {
			kv_unknown++;
			au_sim_drive_row(m.sim, op->server, m.kv_svc, 0, &op->row);
		}
	}
	int checks_rc = au_sim_finish(m.sim);
	char hash[65];
	au_sim_trace_hash(m.sim, hash);
	const struct au_sim_stats *st = au_sim_stats(m.sim);
	fprintf(out, "merged replay of %s: %u node%s, %u boot%s, %" G_GUINT64_FORMAT " inputs over %.3f s, placed by %s\n",
		o->dir, m.nodes, m.nodes == 1 ? "" : "s", n, n == 1 ? "" : "s", inputs,
		(double)st->sim_time_ns / AU_NS_PER_S,
		same_host ? "CLOCK_MONOTONIC (one host)" : "CLOCK_REALTIME, corrected by the datagrams between hosts");
	if (!same_host) {
		fprintf(out, "  clocks: %u hosts, %" G_GUINT64_FORMAT " datagrams between them; corrections to their "
			     "realtime clocks:", clocks.hosts, clocks.pairs);
		for (guint h = 0; h < clocks.hosts; h++)
			fprintf(out, "%s host of n%u %+.3f ms", h ? "," : "", clocks.first_node[h],
				(double)clocks.offset_ns[h] / 1e6);
		fprintf(out, "\n");
	}
	bool all_exact = true;
	for (guint i = 0; i < n; i++) {
		struct mboot *x = &mb[i];
		fprintf(out, "  n%u boot %" G_GUINT64_FORMAT ": ", x->b->node, x->b->epoch);
		if (x != stop_boot && !x->ended && x->res.outcome == AU_REPLAY_EXACT) {
			fprintf(out, "not replayed to its end (the run stopped first): %" G_GUINT64_FORMAT
				     " inputs, %" G_GUINT64_FORMAT " checkpoints equal up to there\n",
				x->res.inputs, x->res.checkpoints);
			continue;
		}
		if (x->res.outcome == AU_REPLAY_EXACT && x != stop_boot) {
			if (!au_replay_print_outcome(out, x->b, &x->res,
						     x->later_boot ? ", killed (no stop record; down after its last input)\n"
								   : ", no stop record (killed or still running at the end)\n",
						     "    "))
				all_exact = false;
		} else if (x == stop_boot) {
			all_exact = false;
			au_replay_print_outcome(out, x->b, &x->res, "\n", "    ");
		} else {
			all_exact = false;
			fprintf(out, "not finished: the merged run stopped before its end (%" G_GUINT64_FORMAT
				     " inputs replayed)\n", x->res.inputs);
		}
	}
	for (au_node_id nd = 1; nd <= m.nodes; nd++)
		if (!m.logged[nd])
			fprintf(out, "  n%u: no log in %s: not replayed (the checks see it never up; what it sent "
				     "is counted below as from nodes without a log)\n", nd, o->dir);
	fprintf(out, "  datagrams between nodes: %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT
		     " received and matched to their send",
		m.sends, m.delivered);
	uint64_t left = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, m.sent);
	while (g_hash_table_iter_next(&it, &k, &v))
		left += g_queue_get_length(v); /* a count: order does not matter */
	fprintf(out, ", %" G_GUINT64_FORMAT " never received (lost, or to a node down or stopped)", left);
	if (m.unmatched)
		fprintf(out, ", %" G_GUINT64_FORMAT " received with no replayed send (sent by an input the sender's log does not hold, e.g. the last "
			"ones of a killed node)",
			m.unmatched);
	if (m.from_unlogged)
		fprintf(out, ", %" G_GUINT64_FORMAT " from nodes without a log", m.from_unlogged);
	fprintf(out, "; %" G_GUINT64_FORMAT " from aureon-ctl clients\n", m.from_clients);
	if (m.kv_svc != UINT32_MAX)
		fprintf(out, "  kv history (from the servers' requests and replies): %u operations of %u client "
			     "sessions, %" G_GUINT64_FORMAT " answered OK, %" G_GUINT64_FORMAT " unknown (no OK sent: "
			     "refused, given up or lost)%s\n",
			m.ops_order->len, g_hash_table_size(m.sessions), m.kv_ok, kv_unknown,
			m.kv_bad ? ", some requests malformed" : "");
	if (m.kv_extra)
		fprintf(out, "    %" G_GUINT64_FORMAT " reads were answered OK again with another value (a retry "
			     "served twice): each judged as a read of its own\n", m.kv_extra);
	checks = au_check_text(m.sim);
	fprintf(out, "  checks: %s\n", checks[0] ? checks : "(none for these services)");
	if (o->skip && o->skip[0]) {
		g_autofree char *left = g_strjoinv(", ", o->skip);
		fprintf(out, "    left out (--skip): %s\n", left);
	}
	const char *cnames[32], *cresults[32];
	size_t nc = au_check_results(m.sim, cnames, cresults, 32);
	for (size_t i = 0; i < nc; i++) {
		char note[256];
		if (au_check_note(m.sim, i, note, sizeof(note)) || au_check_reason(m.sim, i, note, sizeof(note)))
			fprintf(out, "    %s: %s\n", cnames[i], note);
	}
	const struct au_violation *viol = au_sim_violation(m.sim);
	if (viol) {
		g_autofree char *line = au_violation_line(viol);
		fprintf(out, "  violation: %s\n", line);
		if (viol->has_window && viol->window_text[0])
			fprintf(out, "  window (%u operations):\n%s\n", viol->window_ops, viol->window_text);
	}
	fprintf(out, "  trace hash %s\n", hash);
	if (h5) {
		au_check_h5_verdict(h5, m.sim);
		int hrc = au_h5_close(h5, hash, st->sim_time_ns, st->events, st->records, &err);
		h5 = NULL;
		if (hrc != 0) {
			char *e = g_strdup_printf("--trace %s (the partial file was removed)", err);
			g_free(err);
			err = e;
			goto out;
		}
	}
	if (o->scenario_out && !write_scenario(&m, mb, n, o, out, &err))
		goto out;
	/* A pass says only what was judged: checks without a verdict are
	 * named; a datagram received with no replayed send means the logs
	 * miss what produced it (recording stopped, a boot not recorded, or a
	 * killed node's uncompared tail that diverged): not a faithful replay. */
	bool faithful = m.unmatched == 0;
	rc = (checks_rc || !all_exact || !faithful) ? 1 : 0;
	char *nov = rc == 0 ? au_check_undecided(cnames, cresults, nc) : NULL;
	char *result =
		rc != 0 ? (viol ? g_strdup("fail (a check failed on the replayed run)")
			   : !all_exact ? g_strdup("fail (a boot did not replay exactly)")
					: g_strdup_printf("fail (%" G_GUINT64_FORMAT " datagrams were received with no "
							  "replayed send: the logs miss the inputs that produced them)",
							  m.unmatched))
		: nov ? g_strdup_printf("pass (every boot exact; no verdict from: %s)", nov)
		      : g_strdup("pass (every boot exact, every check held)");
	fprintf(out, "result: %s%s\n", result,
		partial ? "; partial: some nodes' logs are missing (--partial), so a failure may come from their "
			  "missing inputs"
			: "");
	g_free(nov);
	g_free(result);
out:
	if (err) {
		fprintf(stderr, "aureon-sim replay --check: %s\n", err);
		g_free(err);
		rc = 2;
	}
	g_free(name);
	g_free(run_name);
	g_free(checks);
	if (h5)
		au_h5_abort(h5);
	if (m.sim) {
		au_sim_drive_end(m.sim);
		au_sim_free(m.sim);
	}
	for (guint i = 0; i < n; i++)
		au_rb_free(mb[i].rb);
	if (m.sent)
		g_hash_table_destroy(m.sent);
	au_rf_clear(&m.facts);
	if (m.ops)
		g_hash_table_destroy(m.ops);
	if (m.ops_order)
		g_ptr_array_free(m.ops_order, TRUE);
	if (m.sessions)
		g_hash_table_destroy(m.sessions);
	au_scenario_free(sc);
	g_free(mb);
	return rc;
}
