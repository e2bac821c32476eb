/* to_scenario.c — `aureon-sim replay DIR --to-scenario FILE`: a scenario
 * file made from what a merged replay saw (facts.h), so the ordinary tools
 * (run, shrink, chaos seeds, --trace) work on a neighbour of a run that
 * happened on real hosts.
 *
 * The file holds the recorded cluster and its services' settings, the
 * faults as they happened (crashes and restarts, clean stops, late starts,
 * pauses inferred from gaps in a node's inputs, one-way cuts inferred from
 * runs of lost datagrams on a link), the latency and loss measured between
 * the nodes, and a KV load shaped like the recorded one.  It does not hold
 * the exact schedule: the record logs do (`replay --check` replays that);
 * in the scenario the engine draws delays, timer jitter and the load from
 * the seed.
 */
#include "sim/replay/facts.h"

#include <string.h>

#include "sim/scenario/scenario.h"

/* A run of lost datagrams on one link this long (and at least this many)
 * with none delivered between is a cut; shorter runs count as loss. */
#define CUT_MIN_NS (200 * AU_NS_PER_MS)
#define CUT_MIN_LOST 3

GKeyFile *au_rf_cluster_keys(const struct au_rl_boot *b, char **err)
{
	GKeyFile *kf = g_key_file_new();
	GError *gerr = NULL;
	if (!g_key_file_load_from_data(kf, b->cluster_text, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		*err = g_strdup_printf("the recorded cluster file does not parse: %s", gerr->message);
		g_error_free(gerr);
		g_key_file_free(kf);
		return NULL;
	}
	return kf;
}

void au_rf_scenario_groups(GString *t, GKeyFile *kf, const struct au_rl_boot *b)
{
	gsize n_groups = 0;
	gchar **groups = g_key_file_get_groups(kf, &n_groups);
	for (gsize g = 0; g < n_groups; g++) {
		bool keep = strcmp(groups[g], "cluster") == 0 || strcmp(groups[g], "workload") == 0;
		for (uint32_t i = 0; !keep && i < b->n_services; i++)
			keep = strcmp(groups[g], b->services[i]) == 0;
		if (!keep)
			continue;
		g_string_append_printf(t, "\n[%s]\n", groups[g]);
		gchar **keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
		for (gchar **k = keys; k && *k; k++) {
			g_autofree gchar *v = g_key_file_get_value(kf, groups[g], *k, NULL);
			g_string_append_printf(t, "%s = %s\n", *k, v ? v : "");
		}
		g_strfreev(keys);
	}
	g_strfreev(groups);
}

void au_rf_init(struct au_replay_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->boots = g_array_new(FALSE, FALSE, sizeof(struct au_rf_boot));
	f->pauses = g_array_new(FALSE, FALSE, sizeof(struct au_rf_pause));
	f->sends = g_array_new(FALSE, FALSE, sizeof(struct au_rf_send));
	f->kv = g_array_new(FALSE, FALSE, sizeof(struct au_kv_history_row));
	f->storage = g_array_new(FALSE, FALSE, sizeof(struct au_rf_storage));
}

void au_rf_clear(struct au_replay_facts *f)
{
	GArray *arrays[] = {f->boots, f->pauses, f->sends, f->kv, f->storage};
	for (size_t i = 0; i < G_N_ELEMENTS(arrays); i++)
		if (arrays[i])
			g_array_free(arrays[i], TRUE);
	g_free(f->checks);
	memset(f, 0, sizeof(*f));
}

/* A duration as the scenario format writes one: whole microseconds. */
static void put_us(GString *t, au_time ns)
{
	g_string_append_printf(t, "%" G_GINT64_FORMAT "us", (ns < 0 ? 0 : ns + 500) / 1000);
}

/* Whether node `n` had a boot running at global time t. */
static bool node_up(const struct au_replay_facts *f, au_node_id n, au_time t)
{
	for (guint i = 0; i < f->boots->len; i++) {
		const struct au_rf_boot *b = &g_array_index(f->boots, struct au_rf_boot, i);
		if (b->node == n && b->start <= t && t <= b->end)
			return true;
	}
	return false;
}

static gint cmp_time(gconstpointer a, gconstpointer b)
{
	au_time x = *(const au_time *)a, y = *(const au_time *)b;
	return x < y ? -1 : x > y;
}

struct cut {
	au_node_id src, dst;
	au_time from, to;
};

static gint cmp_cut(gconstpointer a, gconstpointer b)
{
	const struct cut *x = a, *y = b;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	if (x->dst != y->dst)
		return x->dst < y->dst ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* A run of lost datagrams on one link, while it lasts. */
struct lost_run {
	guint first, count;
	au_time from, to;
};

/* Close link a->b's run at send index `end`: a cut if it is long enough;
 * its datagrams are marked so loss does not count them again. */
static void close_run(const struct au_replay_facts *f, struct lost_run *r, au_node_id a, au_node_id b, guint end,
		      GArray *cuts, bool *in_cut)
{
	if (r->count >= CUT_MIN_LOST && r->to - r->from >= CUT_MIN_NS) {
		struct cut c = {a, b, r->from, r->to + AU_NS_PER_MS};
		g_array_append_val(cuts, c);
		for (guint k = r->first; k < end; k++) {
			const struct au_rf_send *q = &g_array_index(f->sends, struct au_rf_send, k);
			if (q->src == a && q->dst == b)
				in_cut[k] = true;
		}
	}
	r->count = 0;
}

/* Runs of lost datagrams to a running node, per link, in one pass over the
 * sends: a run of CUT_MIN_LOST or more spanning CUT_MIN_NS is a cut.  Cuts
 * come out by link, then time. */
static GArray *find_cuts(const struct au_replay_facts *f, uint32_t nodes, const bool *dst_up, bool *in_cut)
{
	GArray *cuts = g_array_new(FALSE, FALSE, sizeof(struct cut));
	size_t side = (size_t)nodes + 1;
	struct lost_run *runs = g_new0(struct lost_run, side * side);
	for (guint i = 0; i < f->sends->len; i++) {
		const struct au_rf_send *s = &g_array_index(f->sends, struct au_rf_send, i);
		if (s->src > nodes || s->dst > nodes || !dst_up[i])
			continue;
		struct lost_run *r = &runs[s->src * side + s->dst];
		if (s->delivered) {
			close_run(f, r, s->src, s->dst, i, cuts, in_cut);
			continue;
		}
		if (r->count++ == 0) {
			r->first = i;
			r->from = s->t;
		}
		r->to = s->t;
	}
	for (au_node_id a = 1; a <= nodes; a++)
		for (au_node_id b = 1; b <= nodes; b++)
			close_run(f, &runs[a * side + b], a, b, f->sends->len, cuts, in_cut);
	g_free(runs);
	g_array_sort(cuts, cmp_cut);
	return cuts;
}

static void network_group(GString *t, const struct au_replay_facts *f, const bool *dst_up, const bool *in_cut)
{
	GArray *delays = g_array_new(FALSE, FALSE, sizeof(au_time));
	uint64_t to_up = 0, lost = 0;
	for (guint i = 0; i < f->sends->len; i++) {
		const struct au_rf_send *s = &g_array_index(f->sends, struct au_rf_send, i);
		if (s->delivered) {
			/* A datagram that waited in a paused node's socket says
			 * nothing of the network. */
			bool waited = false;
			for (guint k = 0; k < f->pauses->len && !waited; k++) {
				const struct au_rf_pause *p = &g_array_index(f->pauses, struct au_rf_pause, k);
				waited = p->node == s->dst && p->from < s->t + s->delay && s->t < p->to;
			}
			if (!waited)
				g_array_append_val(delays, s->delay);
			to_up++;
		} else if (dst_up[i] && !in_cut[i]) {
			to_up++;
			lost++;
		}
	}
	g_string_append(t, "\n[network]\n# measured between the nodes: the 5th to 95th percentile of the delays of\n"
			   "# the datagrams matched with their sends (not those held by a paused node), and\n"
			   "# the share lost to a running node outside the cuts below\n");
	if (delays->len) {
		g_array_sort(delays, cmp_time);
		au_time lo = g_array_index(delays, au_time, delays->len * 5 / 100);
		au_time hi = g_array_index(delays, au_time, delays->len * 95 / 100);
		lo = lo < 1000 ? 1000 : lo; /* at least 1us */
		hi = hi < lo ? lo : hi;
		g_string_append(t, "latency = uniform(");
		put_us(t, lo);
		g_string_append(t, ",");
		put_us(t, hi + (hi - lo < 1000 ? 1000 : 0));
		g_string_append(t, ")\n");
	}
	g_string_append_printf(t, "loss = %.4f\n", to_up ? (double)lost / (double)to_up : 0.0);
	g_array_free(delays, TRUE);
}

/* The recorded KV load's shape: concurrent clients, rate per client,
 * keys, mix (aureon-ctl deletes count as puts). */
static void workload_keys(GKeyFile *kf, const struct au_replay_facts *f)
{
	if (f->kv->len == 0)
		return;
	uint64_t get = 0, put = 0, cas = 0;
	GHashTable *keys = g_hash_table_new(g_int64_hash, g_int64_equal);
	/* Calls (odd) and returns (even; first at a tie), for the most
	 * operations in flight at once: the clients needed. */
	GArray *edges = g_array_new(FALSE, FALSE, sizeof(au_time));
	for (guint i = 0; i < f->kv->len; i++) {
		struct au_kv_history_row *r = &g_array_index(f->kv, struct au_kv_history_row, i);
		get += r->op == AU_KV_GET;
		cas += r->op == AU_KV_CAS;
		put += r->op == AU_KV_PUT || r->op == AU_KV_DEL;
		g_hash_table_add(keys, &r->key);
		au_time call = r->call_ns * 2 + 1, ret = (r->return_ns < 0 ? f->span : r->return_ns) * 2;
		g_array_append_val(edges, call);
		g_array_append_val(edges, ret);
	}
	g_array_sort(edges, cmp_time);
	int64_t open = 0, most = 1;
	for (guint i = 0; i < edges->len; i++) {
		open += (g_array_index(edges, au_time, i) & 1) ? 1 : -1;
		most = open > most ? open : most;
	}
	double secs = (double)(f->span > AU_NS_PER_S ? f->span : AU_NS_PER_S) / 1e9;
	double rate = (double)f->kv->len / secs / (double)most;
	g_autofree char *clients = g_strdup_printf("%" G_GINT64_FORMAT, most > 1000 ? 1000 : most);
	g_autofree char *r = g_strdup_printf("%.0f/s", rate < 1 ? 1 : rate > 1000000 ? 1000000 : rate);
	g_autofree char *k = g_strdup_printf("%u", g_hash_table_size(keys));
	g_autofree char *mix = g_strdup_printf("get:%" G_GUINT64_FORMAT ",put:%" G_GUINT64_FORMAT ",cas:%"
					       G_GUINT64_FORMAT, get, put, cas);
	g_key_file_set_value(kf, "workload", "kv_clients", clients);
	g_key_file_set_value(kf, "workload", "kv_rate", r);
	g_key_file_set_value(kf, "workload", "kv_keys", k);
	g_key_file_set_value(kf, "workload", "kv_mix", mix);
	g_array_free(edges, TRUE);
	g_hash_table_destroy(keys);
}

static void fault(GString *t, const char *name, au_time at, const char *action, au_node_id target)
{
	g_string_append_printf(t, "\n[fault.%s]\nat = ", name);
	put_us(t, at);
	g_string_append_printf(t, "\naction = %s\ntarget = n%u\n", action, target);
}

/* Crashes, restarts, stops and late starts, from the boots' spans. */
static void node_faults(GString *t, const struct au_replay_facts *f)
{
	for (guint i = 0; i < f->boots->len; i++) {
		const struct au_rf_boot *b = &g_array_index(f->boots, struct au_rf_boot, i);
		const struct au_rf_boot *next = NULL, *prev = NULL;
		for (guint j = 0; j < f->boots->len; j++) {
			const struct au_rf_boot *o = &g_array_index(f->boots, struct au_rf_boot, j);
			if (o->node == b->node && o->start > b->start && (!next || o->start < next->start))
				next = o;
			if (o->node == b->node && o->start < b->start)
				prev = o;
		}
		char name[64];
		if (!prev && b->start > 100 * AU_NS_PER_MS) {
			/* Started after the others: down from the start until then. */
			g_snprintf(name, sizeof(name), "late-start-n%u", b->node);
			fault(t, name, 0, "crash", b->node);
			g_string_append(t, "restart_after = ");
			put_us(t, b->start);
			g_string_append(t, "\n");
		}
		if (!next && !b->clean_stop)
			continue; /* killed at the end, or still running: up to the end */
		if (!next && b->end + 100 * AU_NS_PER_MS >= f->span)
			continue; /* stopped with the rest at the end */
		g_snprintf(name, sizeof(name), "%s-n%u-%u", b->clean_stop ? "stop" : "kill", b->node, i + 1);
		fault(t, name, b->end + AU_NS_PER_US, "crash", b->node);
		if (next) {
			g_string_append(t, "restart_after = ");
			put_us(t, next->start - b->end - AU_NS_PER_US);
			g_string_append(t, "\n");
		}
	}
}

/* Storage failures as disk faults: per node and kind (disk_full for
 * ENOSPC, else write_error or sync_error), failures less than 5 s apart
 * in one window, from the first to just after the last. */
static void disk_faults(GString *t, const struct au_replay_facts *f, uint32_t nodes)
{
	static const char *const kinds[] = {"disk_full", "write_error", "sync_error"};
	for (au_node_id n = 1; n <= nodes; n++)
		for (int k = 0; k < 3; k++) {
			au_time from = -1, to = -1;
			unsigned count = 0, w = 0;
			for (guint i = 0; i <= f->storage->len; i++) {
				const struct au_rf_storage *s =
					i < f->storage->len ? &g_array_index(f->storage, struct au_rf_storage, i) : NULL;
				if (s) {
					int kind = s->code == AU_ENOSPC ? 0 : s->op == 2 ? 2 : 1;
					if (s->node != n || kind != k)
						continue;
					if (from < 0 || s->t - to < 5 * AU_NS_PER_S) {
						from = from < 0 ? s->t : from;
						to = s->t;
						count++;
						continue;
					}
				}
				if (from >= 0) {
					char name[64];
					g_snprintf(name, sizeof(name), "%s-n%u-%u", kinds[k], n, ++w);
					fault(t, name, from > AU_NS_PER_US ? from - AU_NS_PER_US : 0, "disk_fault", n);
					g_string_append_printf(t, "# %u failed operations on the host\nkind = %s\nuntil = ",
							       count, kinds[k]);
					put_us(t, to + AU_NS_PER_MS);
					g_string_append(t, "\n");
				}
				if (s) {
					from = to = s->t;
					count = 1;
				}
			}
		}
}

char *au_rf_scenario(const struct au_replay_facts *f, const char *dir, char **err)
{
	const struct au_rl_boot *b = f->first;
	GKeyFile *kf = au_rf_cluster_keys(b, err);
	if (!kf)
		return NULL;
	bool kv = false;
	for (uint32_t i = 0; i < b->n_services; i++)
		kv = kv || strcmp(b->services[i], "kv") == 0;
	if (kv)
		workload_keys(kf, f);
	g_autofree char *base = g_path_get_basename(dir);
	GString *t = g_string_new(NULL);
	g_string_append_printf(
		t,
		"# Written by `aureon-sim replay %s --to-scenario` from the record logs of a run on\n"
		"# real hosts: the recorded cluster and its services' settings, the faults as they\n"
		"# happened (crashes and restarts, stops, late starts, pauses inferred from gaps of\n"
		"# %" G_GINT64_FORMAT " s or more in a node's inputs, one-way cuts inferred from runs of lost\n"
		"# datagrams), the latency and loss measured between the nodes, and a KV load shaped\n"
		"# like the recorded one (%u operations).  Not the exact schedule: the logs hold that\n"
		"# (`aureon-sim replay %s --check` replays it exactly); here the engine draws message\n"
		"# delays, timer jitter and the load from the seed, so this is a neighbour of the\n"
		"# recorded run for shrinking, tracing and sweeping seeds.\n"
		"[run]\nname = from-%s\nseed = 1\nduration = ",
		dir, AU_RF_PAUSE_GAP / AU_NS_PER_S, f->kv->len, dir, base);
	put_us(t, f->span + AU_NS_PER_S);
	g_string_append(t, "\n");
	au_rf_scenario_groups(t, kf, b);
	uint32_t nodes = (uint32_t)g_key_file_get_uint64(kf, "cluster", "nodes", NULL);
	g_key_file_free(kf);
	bool *in_cut = g_new0(bool, f->sends->len + 1);
	/* Whether each datagram's receiver was running when it was sent. */
	bool *dst_up = g_new0(bool, f->sends->len + 1);
	for (guint i = 0; i < f->sends->len; i++) {
		const struct au_rf_send *s = &g_array_index(f->sends, struct au_rf_send, i);
		dst_up[i] = node_up(f, s->dst, s->t);
	}
	GArray *cuts = find_cuts(f, nodes, dst_up, in_cut);
	network_group(t, f, dst_up, in_cut);
	g_free(dst_up);
	node_faults(t, f);
	disk_faults(t, f, nodes);
	for (guint i = 0; i < f->pauses->len; i++) {
		const struct au_rf_pause *p = &g_array_index(f->pauses, struct au_rf_pause, i);
		char name[64];
		g_snprintf(name, sizeof(name), "pause-n%u-%u", p->node, i + 1);
		fault(t, name, p->from + AU_NS_PER_US, "pause", p->node);
		g_string_append(t, "until = ");
		put_us(t, p->to);
		g_string_append(t, "\n");
	}
	for (guint i = 0; i < cuts->len; i++) {
		const struct cut *c = &g_array_index(cuts, struct cut, i);
		g_string_append_printf(t, "\n[fault.cut-n%u-n%u-%u]\nat = ", c->src, c->dst, i + 1);
		put_us(t, c->from);
		g_string_append_printf(t, "\naction = partition\ngroups = n%u | n%u\noneway = true\nuntil = ", c->src,
				       c->dst);
		put_us(t, c->to);
		g_string_append(t, "\n");
	}
	g_array_free(cuts, TRUE);
	g_free(in_cut);
	if (f->checks && f->checks[0])
		g_string_append_printf(t, "\n[check]\n# the checks the replay of the logs ran\ninvariants = %s\n", f->checks);
	char *text = g_string_free(t, FALSE);
	/* What we write must load: a scenario the tools refuse is no use. */
	char *lerr = NULL;
	struct au_scenario *sc = au_scenario_load_text("(--to-scenario)", text, &lerr);
	if (!sc) {
		*err = g_strdup_printf("the scenario made from the logs does not load (a bug: please report it): %s", lerr);
		g_free(lerr);
		g_free(text);
		return NULL;
	}
	au_scenario_free(sc);
	return text;
}
