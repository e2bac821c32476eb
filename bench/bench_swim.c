/* bench_swim.c — `aureon-sim bench swim` (see bench_swim.h).
 *
 * Each experiment builds its scenario as text and runs it through the
 * public engine API (scenario.h, sim.h).  SWIM is observed from outside:
 * the bench registers an observer (swim.h) on every node's state, found
 * through the env's local_service("swim"), and reads the counters between
 * au_sim_run slices.  Observing changes nothing, so every simulated
 * number is a function of the seed; only wall-clock times vary.
 *
 * Detection.  A cluster of n nodes (seeds = all: it starts complete)
 * warms up, then one member at a time crashes at a random point of a
 * probe period and comes back 25 s later; crashes are 30 s apart so the
 * trials do not overlap.  For each crash:
 *   - first detection: the first view that turns the member suspect.  The
 *     prober raises the suspicion exactly one probe interval after its
 *     probe started, so the first probe of the dead member started at
 *     t_first - P; the number of protocol periods until it is
 *     ceil((t_first - P - t_crash) / P) (at least 1).  SWIM §3.1 (random
 *     targets, synchronous periods, no other failures): the member is
 *     picked in a period with probability 1 - (1 - 1/n)^(n-1) ~ 1 - e^-1,
 *     so the expected number of periods is 1/(1 - e^-1) = 1.582.  With
 *     unsynchronised members whose probes of a given member arrive about
 *     once per period, ceil(Exp(1)) has the same geometric law.
 *   - dissemination: when 50, 90, 99 and 100 % of the other live members
 *     hold the member suspect (or dead), counted from the first detection.
 *     Infection-style gossip reaches everyone in O(log n) rounds.
 */
#include "bench_swim.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hash.h"
#include "swim.h"
#include "sim/check/check_swim.h"
#include "sim/scenario/scenario.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"

enum { BS_EXIT_OK = 0, BS_EXIT_USAGE = 2 };

#define BS_WARMUP_NS (5 * AU_NS_PER_S)
#define BS_STEADY_END_NS (15 * AU_NS_PER_S)
#define BS_FIRST_CRASH_NS (20 * AU_NS_PER_S)
#define BS_SPACING_NS (30 * AU_NS_PER_S)
#define BS_RESTART_NS (25 * AU_NS_PER_S)
#define BS_MAX_SIZES 16
#define BS_PROBE_NS AU_NS_PER_S
#define BS_GOSSIP_NS (200 * AU_NS_PER_MS)

static const char *const bs_usage =
	"usage: aureon-sim bench swim [options]\n"
	"\n"
	"SWIM against its theory: first-detection time (SWIM 3.1: 1/(1-e^-1) = 1.58\n"
	"protocol periods) and dissemination rounds (O(log n)) for n = 16 .. 10,000,\n"
	"false positives versus message loss with and without suspicion, message\n"
	"load per member and view memory per entry.  memberlist's LAN defaults.\n"
	"\n"
	"  --sizes LIST    cluster sizes, default 16,64,256,1024,4096,10000\n"
	"  --trials N      crashes per size (default: 100 up to 256 nodes, 50 up to\n"
	"                  1024, 20 up to 4096, 12 beyond)\n"
	"  --fp-nodes N    cluster size of the false-positive runs, default 64\n"
	"  --fp-time T     simulated length of each false-positive run, default 600s\n"
	"  --only PART     detect, fp or load (load comes with detect); default all\n"
	"  --quick         sizes 16,64,256,1024, 20 trials, fp runs of 200s\n"
	"  --seed S        base seed, default 42\n"
	"  --csv PREFIX    write PREFIX-detect.csv (one row per crash), PREFIX-curve.csv\n"
	"                  (dissemination of the first crash per size) and PREFIX-fp.csv\n"
	"  --json          one JSON object instead of the tables\n";

/* ---- helpers ------------------------------------------------------------- */

static struct au_swim *bs_swim(struct au_sim *sim, au_node_id n)
{
	if (!au_sim_node_up(sim, n))
		return NULL;
	const struct au_env *e = au_sim_env(sim, n, 0);
	return e ? e->ops->local_service(e->ctx, "swim") : NULL;
}

static struct au_sim *bs_new_sim(const char *text, uint64_t seed, struct au_scenario **sc_out)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("<bench swim>", text, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: internal error in bench swim: %s\n", err);
		g_free(err);
		exit(BS_EXIT_USAGE);
	}
	*sc_out = sc;
	return au_sim_new(sc, seed);
}

static int bs_cmp_time(const void *a, const void *b)
{
	au_time x = *(const au_time *)a, y = *(const au_time *)b;
	return x < y ? -1 : x > y;
}

/* ---- detection and dissemination ----------------------------------------- */

struct bs_detect;

struct bs_obs {
	struct bs_detect *d;
	au_node_id node;
};

struct bs_detect {
	struct au_sim *sim;
	uint32_t n;
	au_node_id target;  /* the member crashed in the current trial */
	au_time crash_ns;
	au_time *known;     /* [n+1]: when each node first held target suspect/dead */
	uint32_t n_known;
	struct bs_obs *obs; /* [n+1] */
};

static void bs_on_change(void *ctx, au_node_id member, enum au_swim_state state, uint32_t inc)
{
	struct bs_obs *o = ctx;
	struct bs_detect *d = o->d;
	(void)inc;
	if (member != d->target || (state != AU_SWIM_SUSPECT && state != AU_SWIM_DEAD))
		return;
	const struct au_env *e = au_sim_env(d->sim, o->node, 0);
	au_time now = au_now(e);
	if (now < d->crash_ns || d->known[o->node] >= 0)
		return;
	d->known[o->node] = now;
	d->n_known++;
}

static void bs_watch(struct bs_detect *d, au_node_id n)
{
	struct au_swim *sw = bs_swim(d->sim, n);
	if (sw)
		au_swim_observe(sw, bs_on_change, &d->obs[n]);
}

/* One crash: what the bench records. */
struct bs_trial {
	uint32_t n;
	uint32_t trial;
	au_node_id target;
	au_time crash_ns;
	au_time first_ns;        /* first suspicion, -1 if none */
	double periods;          /* ceil((first probe - crash) / P), >= 1 */
	double probe_delay;      /* (first probe - crash) / P */
	au_time t50, t90, t99, t100; /* from the first suspicion; -1 if not reached */
	uint32_t others, reached;
};

/* Per-size results. */
struct bs_size {
	uint32_t n, trials;
	double det_mean, det_se, delay_mean, first_mean_s;
	double t50, t90, t99, t100, t100_max; /* means over trials, s */
	uint32_t incomplete;
	double steady_msgs, steady_bytes, run_msgs; /* per member per second */
	double bytes_per_entry;
	double wall_s;
	uint64_t events;
};

static char *bs_detect_scenario(uint32_t n, uint32_t trials, uint64_t seed, au_node_id *targets,
				au_time *crash_at)
{
	GString *t = g_string_new(NULL);
	au_time end = BS_FIRST_CRASH_NS + (au_time)trials * BS_SPACING_NS;
	g_string_append_printf(t,
			       "[run]\nname = bench-swim-%u\nduration = %" G_GINT64_FORMAT "ns\n"
			       "[cluster]\nnodes = %u\nservices = swim\n"
			       "[network]\nlatency = uniform(1ms,5ms)\n"
			       "[trace]\nmessages = none\n"
			       "[swim]\nstats_interval = 0s\n",
			       n, end, n);
	au_node_id prev = 0;
	for (uint32_t i = 0; i < trials; i++) {
		uint64_t r = au_hash_mix64(seed * 1000003u + i);
		au_node_id x;
		do {
			x = 1 + (au_node_id)(r % n);
			r = au_hash_mix64(r);
		} while (x == prev && n > 1);
		prev = x;
		targets[i] = x;
		crash_at[i] = BS_FIRST_CRASH_NS + (au_time)i * BS_SPACING_NS +
			      (au_time)(au_hash_mix64(r) % (uint64_t)BS_PROBE_NS);
		g_string_append_printf(t,
				       "[fault.crash%u]\nat = %" G_GINT64_FORMAT "ns\naction = crash\n"
				       "target = n%u\nrestart_after = %" G_GINT64_FORMAT "ns\n",
				       i, crash_at[i], x, BS_RESTART_NS);
	}
	return g_string_free(t, FALSE);
}

static uint64_t bs_sum_bytes(struct au_sim *sim, uint32_t n)
{
	uint64_t b = 0;
	for (au_node_id m = 1; m <= n; m++) {
		struct au_swim_counters c;
		au_swim_get_counters(bs_swim(sim, m), &c);
		b += c.bytes_out;
	}
	return b;
}

static void bs_run_size(uint32_t n, uint32_t trials, uint64_t seed, struct bs_size *out,
			GArray *rows, FILE *curve)
{
	au_node_id *targets = g_new0(au_node_id, trials);
	au_time *crash_at = g_new0(au_time, trials);
	g_autofree char *text = bs_detect_scenario(n, trials, seed, targets, crash_at);
	struct au_scenario *sc;
	double w0 = au_report_wall_seconds();
	struct bs_detect d = {0};
	d.sim = bs_new_sim(text, seed, &sc);
	d.n = n;
	d.known = g_new(au_time, (gsize)n + 1);
	d.obs = g_new0(struct bs_obs, (gsize)n + 1);
	au_sim_run(d.sim, 0); /* boot */
	for (au_node_id m = 1; m <= n; m++) {
		d.obs[m] = (struct bs_obs){&d, m};
		bs_watch(&d, m);
	}
	/* Steady load: messages between the warm-up and the first crash. */
	au_sim_run(d.sim, BS_WARMUP_NS);
	uint64_t m0 = au_sim_stats(d.sim)->messages_sent, b0 = bs_sum_bytes(d.sim, n);
	au_sim_run(d.sim, BS_STEADY_END_NS);
	uint64_t m1 = au_sim_stats(d.sim)->messages_sent, b1 = bs_sum_bytes(d.sim, n);
	double steady_s = (double)(BS_STEADY_END_NS - BS_WARMUP_NS) / 1e9;
	out->steady_msgs = (double)(m1 - m0) / steady_s / n;
	out->steady_bytes = (double)(b1 - b0) / steady_s / n;
	size_t mem = 0;
	for (au_node_id m = 1; m <= n; m++)
		mem += au_swim_memory(bs_swim(d.sim, m));
	out->bytes_per_entry = (double)mem / ((double)n * n);

	double sum = 0, sum2 = 0, delay = 0, first = 0;
	double s50 = 0, s90 = 0, s99 = 0, s100 = 0, max100 = 0;
	uint32_t measured = 0, complete = 0;
	au_time *times = g_new(au_time, (gsize)n + 1);
	for (uint32_t i = 0; i < trials; i++) {
		d.target = targets[i];
		d.crash_ns = crash_at[i];
		for (au_node_id m = 0; m <= n; m++)
			d.known[m] = -1;
		d.n_known = 0;
		au_time window_end = BS_FIRST_CRASH_NS + (au_time)(i + 1) * BS_SPACING_NS;
		au_sim_run(d.sim, window_end - 1);
		/* The target is back by now: watch its new life too. */
		bs_watch(&d, d.target);
		struct bs_trial tr = {n, i, d.target, d.crash_ns, -1, 0, 0, -1, -1, -1, -1, 0, 0};
		uint32_t others = 0, got = 0;
		for (au_node_id m = 1; m <= n; m++) {
			if (m == d.target)
				continue;
			others++;
			if (d.known[m] >= 0)
				times[got++] = d.known[m];
		}
		tr.others = others;
		tr.reached = got;
		if (got > 0) {
			qsort(times, got, sizeof(au_time), bs_cmp_time);
			tr.first_ns = times[0];
			au_time probe_start = times[0] - BS_PROBE_NS;
			tr.probe_delay = (double)(probe_start - d.crash_ns) / (double)BS_PROBE_NS;
			tr.periods = ceil(tr.probe_delay);
			if (tr.periods < 1)
				tr.periods = 1;
			au_time *pct[] = {&tr.t50, &tr.t90, &tr.t99, &tr.t100};
			const double frac[] = {0.5, 0.9, 0.99, 1.0};
			for (int k = 0; k < 4; k++) {
				uint32_t need = (uint32_t)ceil(frac[k] * others);
				if (need >= 1 && need <= got)
					*pct[k] = times[need - 1] - times[0];
			}
			measured++;
			sum += tr.periods;
			sum2 += tr.periods * tr.periods;
			delay += tr.probe_delay;
			first += (double)(tr.first_ns - d.crash_ns) / 1e9;
			if (tr.t100 >= 0) {
				complete++;
				s50 += (double)tr.t50 / 1e9;
				s90 += (double)tr.t90 / 1e9;
				s99 += (double)tr.t99 / 1e9;
				s100 += (double)tr.t100 / 1e9;
				if ((double)tr.t100 / 1e9 > max100)
					max100 = (double)tr.t100 / 1e9;
			}
			if (curve && i == 0)
				for (uint32_t k = 0; k < got; k++)
					fprintf(curve, "%u,%.6f,%.6f\n", n, (double)(times[k] - times[0]) / 1e9,
						(double)(k + 1) / others);
		}
		g_array_append_val(rows, tr);
	}
	au_sim_finish(d.sim);
	out->n = n;
	out->trials = measured;
	out->det_mean = measured ? sum / measured : NAN;
	double var = measured > 1 ? (sum2 - sum * sum / measured) / (measured - 1) : 0;
	out->det_se = measured ? sqrt(var / measured) : NAN;
	out->delay_mean = measured ? delay / measured : NAN;
	out->first_mean_s = measured ? first / measured : NAN;
	out->t50 = complete ? s50 / complete : NAN;
	out->t90 = complete ? s90 / complete : NAN;
	out->t99 = complete ? s99 / complete : NAN;
	out->t100 = complete ? s100 / complete : NAN;
	out->t100_max = max100;
	out->incomplete = measured - complete;
	const struct au_sim_stats *st = au_sim_stats(d.sim);
	out->run_msgs = (double)st->messages_sent / ((double)st->sim_time_ns / 1e9) / n;
	out->events = st->events;
	out->wall_s = au_report_wall_seconds() - w0;
	au_sim_free(d.sim);
	au_scenario_free(sc);
	g_free(times);
	g_free(d.known);
	g_free(d.obs);
	g_free(targets);
	g_free(crash_at);
}

/* ---- false positives versus loss ---------------------------------------------- */

struct bs_fp {
	double loss;
	bool suspicion;
	uint64_t probes, probe_fails, declared, refutes, dead_views, suspect_views;
	double p_fail_theory;
	double wall_s;
};

struct bs_fp_obs {
	uint64_t *dead, *suspect;
};

static void bs_fp_change(void *ctx, au_node_id member, enum au_swim_state state, uint32_t inc)
{
	struct bs_fp_obs *o = ctx;
	(void)member;
	(void)inc;
	if (state == AU_SWIM_DEAD)
		(*o->dead)++;
	else if (state == AU_SWIM_SUSPECT)
		(*o->suspect)++;
}

/* A probe fails when the direct round trip and every indirect path (ping-req,
 * ping, ack, forwarded ack) each lose at least one message. */
static double bs_p_fail(double p, uint32_t k)
{
	double direct = 1.0 - (1.0 - p) * (1.0 - p);
	double path = 1.0 - pow(1.0 - p, 4.0);
	return direct * pow(path, (double)k);
}

static void bs_run_fp(uint32_t n, au_time duration, double loss, bool suspicion, uint64_t seed,
		      struct bs_fp *out)
{
	g_autofree char *text = g_strdup_printf(
		"[run]\nname = bench-swim-fp\nduration = %" G_GINT64_FORMAT "ns\n"
		"[cluster]\nnodes = %u\nservices = swim\n"
		"[network]\nlatency = uniform(1ms,5ms)\nloss = %.4f\n"
		"[trace]\nmessages = none\n"
		"[swim]\nstats_interval = 0s\nsuspicion = %s\n",
		duration, n, loss, suspicion ? "true" : "false");
	struct au_scenario *sc;
	double w0 = au_report_wall_seconds();
	struct au_sim *sim = bs_new_sim(text, seed, &sc);
	au_sim_run(sim, 0);
	memset(out, 0, sizeof(*out));
	struct bs_fp_obs o = {&out->dead_views, &out->suspect_views};
	for (au_node_id m = 1; m <= n; m++)
		au_swim_observe(bs_swim(sim, m), bs_fp_change, &o);
	au_sim_run(sim, duration);
	for (au_node_id m = 1; m <= n; m++) {
		struct au_swim_counters c;
		au_swim_get_counters(bs_swim(sim, m), &c);
		out->probes += c.probes;
		out->probe_fails += c.probe_fails;
		out->declared += c.declared_dead;
		out->refutes += c.refutes;
	}
	au_sim_finish(sim);
	out->loss = loss;
	out->suspicion = suspicion;
	out->p_fail_theory = bs_p_fail(loss, 3);
	out->wall_s = au_report_wall_seconds() - w0;
	au_sim_free(sim);
	au_scenario_free(sc);
}

/* ---- the command ------------------------------------------------------------------- */

int au_bench_swim(int argc, char **argv)
{
	uint32_t sizes[BS_MAX_SIZES] = {16, 64, 256, 1024, 4096, 10000};
	uint32_t n_sizes = 6;
	uint64_t trials_opt = 0, seed = 42, fp_nodes = 64;
	au_time fp_time = 600 * AU_NS_PER_S;
	bool json = false, quick = false, do_detect = true, do_fp = true;
	const char *csv = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(bs_usage, stdout);
			return BS_EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--quick") == 0) {
			quick = true;
		} else if (strcmp(a, "--sizes") == 0) {
			if (!v)
				return au_report_usage_error(bs_usage, "--sizes needs a list such as 16,64,256");
			g_auto(GStrv) parts = g_strsplit(v, ",", -1);
			n_sizes = 0;
			for (gsize k = 0; parts[k]; k++) {
				uint64_t s;
				if (!au_parse_u64(parts[k], &s) || s < 3 || s > 100000 || n_sizes == BS_MAX_SIZES)
					return au_report_usage_error(bs_usage, "--sizes: '%s' is not a size in 3..100000 (at most %d "
							      "sizes)", parts[k], BS_MAX_SIZES);
				sizes[n_sizes++] = (uint32_t)s;
			}
			i++;
		} else if (strcmp(a, "--trials") == 0) {
			if (!au_parse_u64(v, &trials_opt) || trials_opt < 1 || trials_opt > 10000)
				return au_report_usage_error(bs_usage, "--trials needs an integer in 1..10000");
			i++;
		} else if (strcmp(a, "--seed") == 0) {
			if (!au_parse_u64(v, &seed))
				return au_report_usage_error(bs_usage, "--seed needs a non-negative integer");
			i++;
		} else if (strcmp(a, "--fp-nodes") == 0) {
			if (!au_parse_u64(v, &fp_nodes) || fp_nodes < 3 || fp_nodes > 100000)
				return au_report_usage_error(bs_usage, "--fp-nodes needs an integer in 3..100000");
			i++;
		} else if (strcmp(a, "--fp-time") == 0) {
			if (!v || !au_parse_duration(v, &fp_time) || fp_time < AU_NS_PER_S)
				return au_report_usage_error(bs_usage, "--fp-time needs a duration of at least 1s");
			i++;
		} else if (strcmp(a, "--only") == 0) {
			if (!v || (strcmp(v, "detect") && strcmp(v, "fp") && strcmp(v, "load")))
				return au_report_usage_error(bs_usage, "--only needs detect, fp or load");
			do_detect = strcmp(v, "fp") != 0;
			do_fp = strcmp(v, "fp") == 0;
			i++;
		} else if (strcmp(a, "--csv") == 0) {
			if (!v)
				return au_report_usage_error(bs_usage, "--csv needs a file name prefix");
			csv = v;
			i++;
		} else {
			return au_report_usage_error(bs_usage, "unknown option %s", a);
		}
	}
	if (quick) {
		static const uint32_t q[] = {16, 64, 256, 1024};
		memcpy(sizes, q, sizeof(q));
		n_sizes = 4;
		if (!trials_opt)
			trials_opt = 20;
		fp_time = 200 * AU_NS_PER_S;
	}
	FILE *f_detect = NULL, *f_curve = NULL, *f_fp = NULL;
	if (csv) {
		g_autofree char *p1 = g_strdup_printf("%s-detect.csv", csv);
		g_autofree char *p2 = g_strdup_printf("%s-curve.csv", csv);
		g_autofree char *p3 = g_strdup_printf("%s-fp.csv", csv);
		f_detect = fopen(p1, "w");
		f_curve = fopen(p2, "w");
		f_fp = fopen(p3, "w");
		if (!f_detect || !f_curve || !f_fp) {
			fprintf(stderr, "aureon-sim: --csv %s: cannot write: %s\n", csv, strerror(errno));
			if (f_detect)
				fclose(f_detect);
			if (f_curve)
				fclose(f_curve);
			if (f_fp)
				fclose(f_fp);
			return BS_EXIT_USAGE;
		}
		fprintf(f_detect, "n,trial,target,crash_s,first_s,probe_delay_periods,periods,"
				  "t50_s,t90_s,t99_s,t100_s,reached,others\n");
		fprintf(f_curve, "n,seconds_after_first,fraction\n");
		fprintf(f_fp, "loss,suspicion,probes,probe_fails,p_fail,p_fail_theory,declared_dead,"
			      "dead_views,suspect_views,refutes\n");
	}

	struct au_swim_config cfg = {0}; /* the defaults, for the bound column */
	cfg.probe_interval_ns = BS_PROBE_NS;
	cfg.suspicion_mult = 4;
	cfg.suspicion_max_timeout_mult = 6;
	cfg.gossip_interval_ns = BS_GOSSIP_NS;
	cfg.gossip_nodes = 3;
	cfg.suspicion = 1;

	struct bs_size res[BS_MAX_SIZES];
	GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct bs_trial));
	const double theory = 1.0 / (1.0 - exp(-1.0));
	if (do_detect) {
		for (uint32_t s = 0; s < n_sizes; s++) {
			uint32_t n = sizes[s];
			uint32_t trials = trials_opt ? (uint32_t)trials_opt
				       : n <= 256 ? 100 : n <= 1024 ? 50 : n <= 4096 ? 20 : 12;
			if (!json)
				fprintf(stderr, "bench swim: n = %u, %u crashes ...\n", n, trials);
			guint first_row = rows->len;
			bs_run_size(n, trials, seed + n, &res[s], rows, f_curve);
			for (guint r = first_row; f_detect && r < rows->len; r++) {
				const struct bs_trial *t = &g_array_index(rows, struct bs_trial, r);
				fprintf(f_detect, "%u,%u,%u,%.6f,%.6f,%.4f,%.0f,%.4f,%.4f,%.4f,%.4f,%u,%u\n",
					t->n, t->trial, t->target, (double)t->crash_ns / 1e9,
					t->first_ns < 0 ? -1.0 : (double)(t->first_ns - t->crash_ns) / 1e9,
					t->probe_delay, t->periods, t->t50 < 0 ? -1.0 : t->t50 / 1e9,
					t->t90 < 0 ? -1.0 : t->t90 / 1e9, t->t99 < 0 ? -1.0 : t->t99 / 1e9,
					t->t100 < 0 ? -1.0 : t->t100 / 1e9, t->reached, t->others);
			}
		}
	}
	struct bs_fp fp[8];
	uint32_t n_fp = 0;
	if (do_fp) {
		static const double losses[] = {0.0, 0.01, 0.05, 0.10};
		for (int sus = 1; sus >= 0; sus--)
			for (int l = 0; l < 4; l++) {
				if (!json)
					fprintf(stderr, "bench swim: false positives, loss %.0f %%, suspicion %s ...\n",
						losses[l] * 100, sus ? "on" : "off");
				bs_run_fp((uint32_t)fp_nodes, fp_time, losses[l], sus, seed, &fp[n_fp]);
				const struct bs_fp *f = &fp[n_fp];
				if (f_fp)
					fprintf(f_fp, "%.2f,%d,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%.6g,%.6g,%"
						G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%"
						G_GUINT64_FORMAT "\n",
						f->loss, f->suspicion, f->probes, f->probe_fails,
						f->probes ? (double)f->probe_fails / f->probes : 0.0, f->p_fail_theory,
						f->declared, f->dead_views, f->suspect_views, f->refutes);
				n_fp++;
			}
	}
	if (f_detect)
		fclose(f_detect);
	if (f_curve)
		fclose(f_curve);
	if (f_fp)
		fclose(f_fp);

	if (json) {
		GString *o = g_string_new("{\"theory_periods\": ");
		g_string_append_printf(o, "%.4f, \"sizes\": [", theory);
		for (uint32_t s = 0; do_detect && s < n_sizes; s++) {
			const struct bs_size *r = &res[s];
			g_string_append_printf(
				o, "%s{\"n\": %u, \"trials\": %u, \"periods_mean\": %.4f, \"periods_se\": %.4f, "
				"\"probe_delay_mean\": %.4f, \"first_detection_s\": %.4f, \"t50_s\": %.4f, "
				"\"t90_s\": %.4f, \"t99_s\": %.4f, \"t100_s\": %.4f, \"t100_max_s\": %.4f, "
				"\"incomplete\": %u, \"steady_msgs_per_member_s\": %.4f, "
				"\"steady_bytes_per_member_s\": %.2f, \"run_msgs_per_member_s\": %.4f, "
				"\"view_bytes_per_entry\": %.3f, \"bound_s\": %.3f, \"events\": %" G_GUINT64_FORMAT
				", \"wall_s\": %.2f}",
				s ? ", " : "", r->n, r->trials, r->det_mean, r->det_se, r->delay_mean,
				r->first_mean_s, r->t50, r->t90, r->t99, r->t100, r->t100_max, r->incomplete,
				r->steady_msgs, r->steady_bytes, r->run_msgs, r->bytes_per_entry,
				(double)au_check_swim_bound(&cfg, r->n) / 1e9, r->events, r->wall_s);
		}
		g_string_append(o, "], \"false_positives\": [");
		for (uint32_t k = 0; k < n_fp; k++) {
			const struct bs_fp *f = &fp[k];
			g_string_append_printf(
				o, "%s{\"loss\": %.2f, \"suspicion\": %s, \"probes\": %" G_GUINT64_FORMAT
				", \"probe_fails\": %" G_GUINT64_FORMAT ", \"p_fail_theory\": %.6g, "
				"\"declared_dead\": %" G_GUINT64_FORMAT ", \"dead_views\": %" G_GUINT64_FORMAT
				", \"suspect_views\": %" G_GUINT64_FORMAT ", \"refutes\": %" G_GUINT64_FORMAT "}",
				k ? ", " : "", f->loss, f->suspicion ? "true" : "false", f->probes, f->probe_fails,
				f->p_fail_theory, f->declared, f->dead_views, f->suspect_views, f->refutes);
		}
		g_string_append_printf(o, "], \"peak_rss_bytes\": %" G_GUINT64_FORMAT "}\n", au_report_peak_rss_bytes());
		fputs(o->str, stdout);
		g_string_free(o, TRUE);
	} else {
		if (do_detect) {
			double pooled = 0, pooled_n = 0;
			for (uint32_t s = 0; s < n_sizes; s++) {
				pooled += res[s].det_mean * res[s].trials;
				pooled_n += res[s].trials;
			}
			printf("First detection (SWIM 3.1: expected periods until a crashed member is first "
			       "probed = 1/(1-e^-1) = %.3f)\n\n", theory);
			printf("| n | crashes | periods until first probe (mean +- se) | continuous delay / P | "
			       "crash to first suspicion (s) |\n|---|---|---|---|---|\n");
			for (uint32_t s = 0; s < n_sizes; s++)
				printf("| %u | %u | %.3f +- %.3f | %.3f | %.3f |\n", res[s].n, res[s].trials,
				       res[s].det_mean, res[s].det_se, res[s].delay_mean, res[s].first_mean_s);
			printf("| all | %.0f | %.3f | | |\n\n", pooled_n, pooled_n ? pooled / pooled_n : NAN);
			printf("Dissemination of the suspicion (from the first suspicion; gossip every 200 ms "
			       "to 3 members, piggybacked on probes)\n\n");
			printf("| n | log2 n | t50 (s) | t90 (s) | t99 (s) | t100 mean (s) | t100 max (s) | "
			       "t100 in gossip rounds | t100 / log2 n (rounds) | incomplete |\n"
			       "|---|---|---|---|---|---|---|---|---|---|\n");
			for (uint32_t s = 0; s < n_sizes; s++) {
				double lg = log2((double)res[s].n);
				double rounds = res[s].t100 / ((double)BS_GOSSIP_NS / 1e9);
				printf("| %u | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %.2f | %u |\n",
				       res[s].n, lg, res[s].t50, res[s].t90, res[s].t99, res[s].t100,
				       res[s].t100_max, rounds, rounds / lg, res[s].incomplete);
			}
			printf("\nLoad per member and view memory\n\n");
			printf("| n | msgs/member/s steady | bytes/member/s steady | msgs/member/s with crashes | "
			       "view bytes per (node, member) | completeness bound (s) | events | wall (s) |\n"
			       "|---|---|---|---|---|---|---|---|\n");
			for (uint32_t s = 0; s < n_sizes; s++)
				printf("| %u | %.3f | %.1f | %.3f | %.3f | %.1f | %" G_GUINT64_FORMAT " | %.1f |\n",
				       res[s].n, res[s].steady_msgs, res[s].steady_bytes, res[s].run_msgs,
				       res[s].bytes_per_entry, (double)au_check_swim_bound(&cfg, res[s].n) / 1e9,
				       res[s].events, res[s].wall_s);
			printf("\n");
		}
		if (do_fp) {
			printf("False positives, %" G_GUINT64_FORMAT " nodes, %.0f s each, no crashes "
			       "(k = 3 ping-req relays)\n\n", fp_nodes, (double)fp_time / 1e9);
			printf("| loss | suspicion | probes | failed probes | P(fail) measured | P(fail) theory | "
			       "members declared dead | dead in views | suspect in views | refutations |\n"
			       "|---|---|---|---|---|---|---|---|---|---|\n");
			for (uint32_t k = 0; k < n_fp; k++) {
				const struct bs_fp *f = &fp[k];
				printf("| %.0f %% | %s | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT " | %.2e | %.2e | %"
				       G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT " | %"
				       G_GUINT64_FORMAT " |\n",
				       f->loss * 100, f->suspicion ? "on" : "off", f->probes, f->probe_fails,
				       f->probes ? (double)f->probe_fails / f->probes : 0.0, f->p_fail_theory,
				       f->declared, f->dead_views, f->suspect_views, f->refutes);
			}
		}
		printf("\npeak RSS %.1f MiB\n", (double)au_report_peak_rss_bytes() / 1048576.0);
	}
	g_array_free(rows, TRUE);
	return BS_EXIT_OK;
}
