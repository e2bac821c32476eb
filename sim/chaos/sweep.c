/* sweep.c — `aureon-sim chaos`: seeded sweeps over a scenario.
 *
 * For every seed: generate the plan (plan.c), write it into the scenario
 * text, load that text and run it with every checker on.  Seeds are run by
 * forked workers that the parent feeds one job at a time over pipes
 * (worker.c); every run depends only on (scenario, seed), and results are
 * reported in seed order, so the output is the same for any --jobs.  A
 * worker that dies (a crash in the code under test) or overruns --timeout
 * fails that seed and is replaced.
 *
 * Phases: (1) the seeds; (2) with --check-determinism, a sample of seeds
 * again, comparing trace hashes (a mismatch is run twice more with record
 * dumps to name the first divergent record); (3) the first --shrink
 * failures are shrunk (chaos_shrink.c).  Then the summary, the coverage
 * table, --json and --junit (report.c).
 */
#include "chaos_internal.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "pin.h"
#include "store.h"
#include "sim/report/report.h"
#include "sim/report/violation.h"

static const char *const usage_chaos =
	"usage: aureon-sim chaos SCENARIO --seeds A-B|LIST [options]\n"
	"\n"
	"Runs SCENARIO once per seed, each time with a fault plan generated from\n"
	"the seed within the scenario's [chaos] bounds, every checker on.\n"
	"\n"
	"  --seeds A-B|LIST       seeds to run: 1-1000, or 3,17,40-50 (seeds >= 1)\n"
	"  --jobs N               worker processes (default: online CPUs); results do\n"
	"                         not depend on N\n"
	"  --shard K/N            run only every N-th seed of the list, starting at\n"
	"                         the K-th (1 <= K <= N): split a sweep over machines\n"
	"  --out DIR              reproducers go here (default chaos-out)\n"
	"  --store DIR            a directory per failing seed, DIR/SCENARIO/seed-N/:\n"
	"                         reproducer, shrunk reproducer, HDF5 trace, history,\n"
	"                         report and timeline.html (default OUT/store)\n"
	"  --store-max N          fill it for the first N failures (default 3; 0: none)\n"
	"  --json                 one JSON summary object on stdout instead of text\n"
	"  --junit FILE           JUnit XML report (one test case per seed; the suite\n"
	"                         is named by scenario and shard)\n"
	"  --tap FILE             TAP report (one test point per seed)\n"
	"  --check-determinism[=PCT]  re-run PCT percent of the seeds (default 5) and\n"
	"                         compare trace hashes\n"
	"  --shrink N             shrink the first N failures (default 3; 0: none)\n"
	"  --no-shrink            same as --shrink 0\n"
	"  --shrink-time S        wall-time budget per shrink, seconds (default 60)\n"
	"  --timeout S            wall-time limit per seed, seconds (default 300)\n"
	"  --unrestricted         ignore the [chaos] bounds: every kind, any number\n"
	"                         and timing of faults, no liveness checks\n"
	"  --quiet                no progress bar, no heartbeat\n"
	"  --heartbeat S          stderr not a terminal: a line every S seconds\n"
	"                         (seeds done, failures, rate; default 30, 0: none)\n"
	"  --verbose              keep the workers' stderr (checker explanations)\n"
	"\n"
	"Exit: 0 every seed passed (and hashes matched), 1 a seed failed or a\n"
	"re-run differed, 2 usage, scenario or I/O error; a shard with no seeds\n"
	"runs nothing, writes empty reports and exits 0.  A seed listed twice\n"
	"runs once.  The progress bar is drawn only on a terminal, without --json\n"
	"and without CI set in the environment.  Failing seeds leave\n"
	"DIR/repro-SEED.ini (replay: aureon-sim run DIR/repro-SEED.ini) and, when\n"
	"shrunk, DIR/repro-SEED.min.ini.\n";

static gint u64_cmp(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Keep the first of each seed listed more than once ("1-3,2-4" is 1, 2,
 * 3, 4), in the order given: a sorted copy finds the repeated values (none
 * in the common case), a set of those drops their later copies. */
static void drop_repeats(GArray *seeds)
{
	GArray *sorted = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), seeds->len);
	g_array_append_vals(sorted, seeds->data, seeds->len);
	g_array_sort(sorted, u64_cmp);
	GHashTable *repeated = NULL;
	for (guint i = 1; i < sorted->len; i++) {
		uint64_t v = g_array_index(sorted, uint64_t, i);
		if (v != g_array_index(sorted, uint64_t, i - 1))
			continue;
		if (!repeated)
			repeated = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		g_hash_table_insert(repeated, g_memdup2(&v, sizeof(v)), NULL); /* not kept yet */
	}
	g_array_free(sorted, TRUE);
	if (!repeated)
		return;
	guint kept = 0;
	for (guint i = 0; i < seeds->len; i++) {
		uint64_t v = g_array_index(seeds, uint64_t, i);
		/* a repeated value is kept at its first occurrence, which marks it
		 * in the set (value 1); later ones are dropped */
		gpointer key, seen;
		if (g_hash_table_lookup_extended(repeated, &v, &key, &seen)) {
			if (seen)
				continue;
			g_hash_table_insert(repeated, g_memdup2(&v, sizeof(v)), GINT_TO_POINTER(1));
		}
		g_array_index(seeds, uint64_t, kept++) = v;
	}
	g_array_set_size(seeds, kept);
	g_hash_table_destroy(repeated);
}

/* "1-1000" or "3,17,40-50" into a list; *why says what is wrong. */
static GArray *parse_seeds(const char *spec, const char **why)
{
	GArray *seeds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_auto(GStrv) items = g_strsplit(spec, ",", -1);
	for (gsize i = 0; items[i]; i++) {
		char *item = g_strstrip(items[i]);
		uint64_t a, b;
		char *dash = strchr(item, '-');
		if (dash) {
			*dash = '\0';
			if (!au_parse_u64(item, &a) || !au_parse_u64(dash + 1, &b)) {
				*why = "a range is A-B with whole numbers A <= B";
				goto bad;
			}
		} else if (!au_parse_u64(item, &a)) {
			*why = "seeds are whole numbers, ranges A-B, separated by commas";
			goto bad;
		} else {
			b = a;
		}
		if (a == 0) {
			*why = "seeds start at 1 (seed 0 means 'not set' in a scenario file)";
			goto bad;
		}
		if (b < a) {
			*why = "a range A-B needs A <= B";
			goto bad;
		}
		if (b - a >= MAX_SEEDS || seeds->len + (b - a + 1) > MAX_SEEDS) {
			*why = "more than 10,000,000 seeds in one sweep (split it with --shard)";
			goto bad;
		}
		for (uint64_t s = a;; s++) {
			g_array_append_val(seeds, s);
			if (s == b)
				break;
		}
	}
	if (seeds->len == 0) {
		*why = "no seeds given";
		goto bad;
	}
	drop_repeats(seeds);
	return seeds;
bad:
	g_array_free(seeds, TRUE);
	return NULL;
}

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aureon-sim chaos: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n%s", usage_chaos);
	va_end(ap);
	return EXIT_USAGE;
}

/* A fixed pseudo-random pick of PCT % of the seeds (SplitMix64 of the
 * seed), the same whatever the shard or job count. */
static bool sampled(uint64_t seed, double pct)
{
	uint64_t z = au_hash_mix64(seed);
	return (double)(z % 1000000) < pct * 10000.0;
}

/* ---- the sweep's results, as they come ----------------------------------- */

static void hex_to_bin(const char *hex, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void bin_to_hex(const uint8_t in[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		g_snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The checks of a run (all of them, or those with one verdict) as bits
 * into R->check_names, which learns names as they come. */
static uint16_t check_bits(struct runner *R, const struct result *res, int verdict)
{
	uint16_t bits = 0;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (verdict >= 0 && res->check_verdict[i] != verdict)
			continue;
		uint32_t k = 0;
		while (k < R->n_check_names && strcmp(R->check_names[k], res->check_names[i]) != 0)
			k++;
		if (k == R->n_check_names && k < 16)
			R->check_names[R->n_check_names++] = g_strdup(res->check_names[i]);
		if (k < 16)
			bits |= (uint16_t)(1u << k);
	}
	return bits;
}

static void clear_progress(struct sweep *S)
{
	if (S->progress)
		fprintf(stderr, "\r%78s\r", "");
}

static void draw_progress(struct sweep *S, bool force)
{
	double t = au_report_wall_seconds();
	if (!S->progress || (!force && t - S->last_draw < 0.1))
		return;
	S->last_draw = t;
	double el = t - S->t0, rate = el > 0 ? S->done / el : 0;
	double eta = rate > 0 ? (S->n - S->done) / rate : 0;
	char bar[21];
	uint32_t fill = S->n ? (uint32_t)((uint64_t)S->done * 20 / S->n) : 20;
	for (uint32_t i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r[%s] %u/%u seeds, %u failed, %.1f seeds/s, ETA %dm%02ds ", bar, S->done,
		S->n, S->failed, rate, (int)eta / 60, (int)eta % 60);
}

/* A line on stderr every heartbeat_s of wall time, for logs without a
 * terminal (CI): a sweep of 10,000 seeds is not silent for minutes. */
static void heartbeat(struct sweep *S)
{
	if (S->heartbeat_s <= 0)
		return;
	double t = au_report_wall_seconds();
	if (t - S->last_beat < S->heartbeat_s)
		return;
	S->last_beat = t;
	double el = t - S->t0, rate = el > 0 ? S->done / el : 0;
	fprintf(stderr, "chaos: %u/%u seeds done, %u failed, %.1f seeds/s, %.0f s elapsed\n", S->done, S->n,
		S->failed, rate, el);
	fflush(stderr);
}

static void on_tick(void *ctx)
{
	struct sweep *S = ctx;
	if (S->done < S->n)
		heartbeat(S);
}

/* Is this a CI job?  CI set to anything but "", "0" or "false" (GitHub,
 * GitLab and most others set CI=true). */
static bool in_ci(void)
{
	const char *ci = getenv("CI");
	return ci && *ci && strcmp(ci, "0") != 0 && g_ascii_strcasecmp(ci, "false") != 0;
}

/* " on nK", or nothing for checks that fail on no node (end of run). */
static const char *on_node(au_node_id n)
{
	static char buf[24];
	if (!n)
		return "";
	g_snprintf(buf, sizeof(buf), " on n%u", n);
	return buf;
}

/* What a failing seed failed, where and when (violation.h), or for a run
 * that crashed or timed out, its check and detail. */
static char *fail_line(const struct result *res)
{
	if (res->out.viol.check[0])
		return au_violation_line(&res->out.viol);
	char t[40];
	au_report_seconds(res->out.t_ns, t, sizeof(t));
	return g_strdup_printf("%s at t=%s%s, trace record %" G_GUINT64_FORMAT ": %s", res->out.check,
			       t, on_node(res->out.node), res->out.record, res->out.detail);
}

static void write_repro(struct sweep *S, const struct result *res)
{
	struct runner *R = S->R;
	char t[40];
	au_report_seconds(res->out.t_ns, t, sizeof(t));
	g_autofree char *file = au_chaos_repro_path(R, res->seed, ".ini");
	g_autofree char *base = g_path_get_basename(file);
	g_autofree char *kinds = au_chaos_kind_list(res->enabled);
	g_autofree char *fails = fail_line(res);
	g_autofree char *pin = au_pin_header();
	g_autofree char *header = g_strdup_printf(
		"aureon-sim chaos reproducer: scenario %s (%s), seed %" G_GUINT64_FORMAT "\n"
		"Every generated fault is spelled out below as a [fault.chaos-*] group.\n"
		"Replay: aureon-sim run %s\n"
		"Fails: %s\n"
		"Trace hash: %s\n"
		"Fault kinds on for this seed: %s\n%s",
		R->sc->name, R->path, res->seed, base, fails,
		res->rc == 1 ? res->out.hash : "(none: the run crashed)", kinds, pin);
	g_autofree char *text = au_chaos_seed_text(R, res->seed, false, NULL);
	struct au_ini *ini = au_ini_parse(text);
	au_ini_prepend_comment(ini, header);
	g_autofree char *out = au_ini_to_text(ini);
	au_ini_free(ini);
	GError *err = NULL;
	if (!g_file_set_contents(file, out, -1, &err)) {
		fprintf(stderr, "aureon-sim chaos: %s\n", err->message);
		g_error_free(err);
		S->io_error = 1;
	}
}

/* A passing run whose checks did not all reach a verdict: one line per
 * such check, so a pass never hides what it did not cover. */
static void emit_no_verdict(struct sweep *S, const struct seed_rec *r)
{
	const struct result *res = r->full;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		clear_progress(S);
		printf("NO VERDICT seed %" G_GUINT64_FORMAT ": %s %s (%s)\n", r->seed,
		       res->check_names[i], au_chaos_verdict_names[res->check_verdict[i]], res->check_reason[i]);
	}
	fflush(stdout);
}

/* Print failures (and passes without every verdict) in seed order, as far
 * as results are in. */
static void emit_in_order(struct sweep *S)
{
	while (S->emitted < S->n && S->recs[S->emitted].done) {
		struct seed_rec *r = &S->recs[S->emitted++];
		if (!r->full)
			continue;
		if (r->rc == 0) {
			if (!S->json)
				emit_no_verdict(S, r);
			continue;
		}
		const struct result *res = r->full;
		write_repro(S, res);
		if (S->json)
			continue;
		clear_progress(S);
		g_autofree char *file = au_chaos_repro_path(S->R, r->seed, ".ini");
		g_autofree char *fails = fail_line(res);
		if (res->rc == 1)
			printf("FAIL seed %" G_GUINT64_FORMAT ": %s\n     reproducer: %s\n", r->seed, fails,
			       file);
		else
			printf("FAIL seed %" G_GUINT64_FORMAT ": %s\n     reproducer: %s\n", r->seed,
			       res->out.detail, file);
		fflush(stdout);
	}
}

static void on_run_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	struct seed_rec *r = &S->recs[res->index];
	r->done = true;
	S->cpu_s += res->cpu_s;
	r->rc = (int8_t)res->rc;
	r->enabled = res->enabled;
	r->planned = res->planned;
	r->applied = res->applied;
	r->chains_planned = res->chains_planned;
	r->chains_applied = res->chains_applied;
	r->combos = res->combos;
	(void)check_bits(S->R, res, -1); /* learn new names in the run's order */
	for (int v = 0; v < V_COUNT_; v++)
		r->checks[v] = check_bits(S->R, res, v);
	if (res->rc <= 1)
		hex_to_bin(res->out.hash, r->hash);
	if (res->rc != 0 || r->checks[V_NOT_RUN] || r->checks[V_UNKNOWN])
		r->full = g_memdup2(res, sizeof(*res));
	if (res->rc != 0)
		S->failed++;
	if (res->rc == 2) { /* a generator bug: say so at once */
		clear_progress(S);
		fprintf(stderr, "aureon-sim chaos: seed %" G_GUINT64_FORMAT ": %s\n", res->seed,
			res->out.detail);
	}
	S->done++;
	emit_in_order(S);
	draw_progress(S, false);
	heartbeat(S);
}

static void on_rerun_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	struct seed_rec *r = &S->recs[S->det_idx[res->index]];
	char h0[65];
	bin_to_hex(r->hash, h0);
	if (res->rc > 1 || strcmp(h0, res->out.hash) != 0) {
		S->det_mismatch++;
		g_string_append_printf(S->det_report, "seed %" G_GUINT64_FORMAT ": trace hash %s, re-run %s\n",
				       r->seed, h0, res->rc > 1 ? res->out.detail : res->out.hash);
		/* Remember which seeds to diagnose: reuse the index slot. */
		S->det_idx[res->index] |= 0x80000000u;
	}
}

static void on_diag_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	S->diag[res->index] = *res;
}

static void on_shrink_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	S->diag[res->index] = *res;
}

/* First differing line of two record dumps, as a report. */
static char *first_divergence(const char *a, const char *b)
{
	FILE *f[2] = {fopen(a, "r"), fopen(b, "r")};
	if (!f[0] || !f[1]) {
		if (f[0])
			fclose(f[0]);
		if (f[1])
			fclose(f[1]);
		return g_strdup("(record dumps could not be read)");
	}
	char *line[2] = {NULL, NULL};
	size_t cap[2] = {0, 0};
	char *out = NULL;
	for (uint64_t i = 0;; i++) {
		ssize_t n0 = getline(&line[0], &cap[0], f[0]);
		ssize_t n1 = getline(&line[1], &cap[1], f[1]);
		if (n0 < 0 && n1 < 0) {
			out = g_strdup_printf("the two record dumps are identical (%" G_GUINT64_FORMAT " records)", i);
			break;
		}
		if (n0 < 0 || n1 < 0 || strcmp(line[0], line[1]) != 0) {
			out = g_strdup_printf("first divergent record %" G_GUINT64_FORMAT ":\n    A: %s    B: %s", i,
					      n0 < 0 ? "(ended)\n" : line[0], n1 < 0 ? "(ended)\n" : line[1]);
			break;
		}
	}
	free(line[0]);
	free(line[1]);
	fclose(f[0]);
	fclose(f[1]);
	return out;
}

/* ---- main ---------------------------------------------------------------- */

/* The command line of `aureon-sim chaos`. */
struct options {
	const char *path, *seeds_spec, *out_dir, *junit, *tap, *store;
	uint64_t store_max;
	bool json, quiet, verbose, unrestricted;
	double det_pct, shrink_budget, timeout, heartbeat;
	uint64_t jobs, shard_k, shard_n, shrink_n;
};

/* Parse argv into *o: -1 to go on, else the exit code (help or a usage
 * error, said). */
static int parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){.out_dir = "chaos-out", .shrink_budget = 60, .timeout = 300, .heartbeat = 30,
			      .shard_k = 1, .shard_n = 1, .shrink_n = 3, .store_max = 3};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_chaos, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--seeds") == 0) {
			if (!val)
				return usage_error("--seeds needs a list, e.g. 1-1000 or 3,17,40-50");
			o->seeds_spec = val;
			i++;
		} else if (strcmp(a, "--jobs") == 0) {
			if (!au_parse_u64(val, &o->jobs) || o->jobs < 1 || o->jobs > 256)
				return usage_error("--jobs needs a number of workers in 1..256");
			i++;
		} else if (strcmp(a, "--shard") == 0) {
			g_auto(GStrv) kn = val ? g_strsplit(val, "/", 2) : NULL;
			if (!kn || g_strv_length(kn) != 2 || !au_parse_u64(kn[0], &o->shard_k) ||
			    !au_parse_u64(kn[1], &o->shard_n) || o->shard_n < 1 || o->shard_k < 1 ||
			    o->shard_k > o->shard_n)
				return usage_error("--shard needs K/N with 1 <= K <= N (e.g. 3/8)");
			i++;
		} else if (strcmp(a, "--out") == 0) {
			if (!val || !*val)
				return usage_error("--out needs a directory");
			o->out_dir = val;
			i++;
		} else if (strcmp(a, "--store") == 0) {
			if (!val || !*val)
				return usage_error("--store needs a directory");
			o->store = val;
			i++;
		} else if (strcmp(a, "--store-max") == 0) {
			if (!au_parse_u64(val, &o->store_max) || o->store_max > 1000)
				return usage_error("--store-max needs a count of failures to store, 0..1000");
			i++;
		} else if (strcmp(a, "--junit") == 0) {
			if (!val || !*val)
				return usage_error("--junit needs a file name");
			o->junit = val;
			i++;
		} else if (strcmp(a, "--tap") == 0) {
			if (!val || !*val)
				return usage_error("--tap needs a file name");
			o->tap = val;
			i++;
		} else if (strcmp(a, "--heartbeat") == 0) {
			char *end = NULL;
			double v = val ? g_ascii_strtod(val, &end) : -1;
			if (!val || !*val || *end || !(v >= 0 && v <= 86400))
				return usage_error("--heartbeat needs seconds in 0..86400 (0: no heartbeat)");
			o->heartbeat = v;
			i++;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = true;
		} else if (strcmp(a, "--verbose") == 0) {
			o->verbose = true;
		} else if (strcmp(a, "--unrestricted") == 0) {
			o->unrestricted = true;
		} else if (strcmp(a, "--check-determinism") == 0) {
			o->det_pct = 5;
		} else if (g_str_has_prefix(a, "--check-determinism=")) {
			char *end;
			const char *v = a + strlen("--check-determinism=");
			o->det_pct = g_ascii_strtod(v, &end);
			if (!*v || *end || !(o->det_pct > 0 && o->det_pct <= 100))
				return usage_error("--check-determinism=PCT needs a percentage in (0, 100]");
		} else if (strcmp(a, "--shrink") == 0) {
			if (!au_parse_u64(val, &o->shrink_n) || o->shrink_n > 1000)
				return usage_error("--shrink needs a count of failures to shrink, 0..1000");
			i++;
		} else if (strcmp(a, "--no-shrink") == 0) {
			o->shrink_n = 0;
		} else if (strcmp(a, "--shrink-time") == 0 || strcmp(a, "--timeout") == 0) {
			char *end = NULL;
			double v = val ? g_ascii_strtod(val, &end) : 0;
			if (!val || !*val || *end || !(v > 0 && v <= 86400))
				return usage_error("%s needs seconds, more than 0 and at most 86400", a);
			*(strcmp(a, "--timeout") == 0 ? &o->timeout : &o->shrink_budget) = v;
			i++;
		} else if (a[0] == '-') {
			return usage_error("unknown option %s", a);
		} else if (!o->path) {
			o->path = a;
		} else {
			return usage_error("more than one scenario given (%s, %s)", o->path, a);
		}
	}
	if (!o->path)
		return usage_error("chaos needs a scenario file");
	if (!o->seeds_spec)
		return usage_error("chaos needs --seeds (e.g. --seeds 1-1000)");
	return -1;
}

/* The scenario, checked for room for chaos faults, and this machine's
 * share of the seeds; NULL after saying what is wrong (*rc the exit code). */
static struct au_scenario *prepare(struct options *o, GArray **seeds_out, int *rc)
{
	*rc = EXIT_USAGE;
	const char *why = NULL;
	GArray *all_seeds = parse_seeds(o->seeds_spec, &why);
	if (!all_seeds) {
		*rc = usage_error("--seeds %s: %s", o->seeds_spec, why);
		return NULL;
	}
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(o->path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		g_array_free(all_seeds, TRUE);
		return NULL;
	}
	if (o->unrestricted)
		sc->chaos->mode = AU_CHAOS_UNRESTRICTED;
	if (sc->chaos->mode == AU_CHAOS_SWARM &&
	    sc->chaos->start + sc->chaos->quiet_period + AU_NS_PER_MS >= sc->duration) {
		fprintf(stderr, "aureon-sim: %s: no time for chaos faults: the run is %" G_GINT64_FORMAT
			" ns and the quiet period before liveness checks %" G_GINT64_FORMAT " ns; add "
			"[chaos] quiet_period (or a longer [run] duration)\n",
			o->path, sc->duration, sc->chaos->quiet_period);
		au_scenario_free(sc);
		g_array_free(all_seeds, TRUE);
		return NULL;
	}
	if (g_mkdir_with_parents(o->out_dir, 0755) != 0) {
		fprintf(stderr, "aureon-sim chaos: --out %s: cannot create: %s\n", o->out_dir,
			strerror(errno));
		au_scenario_free(sc);
		g_array_free(all_seeds, TRUE);
		return NULL;
	}
	if (o->jobs == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		o->jobs = cpus > 0 ? (uint64_t)cpus : 1;
	}
	/* This machine's share of the list. */
	GArray *seeds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	for (guint i = (guint)(o->shard_k - 1); i < all_seeds->len; i += (guint)o->shard_n)
		g_array_append_val(seeds, g_array_index(all_seeds, uint64_t, i));
	g_array_free(all_seeds, TRUE);
	/* A shard the list leaves empty (3 seeds over 8 machines) is not an
	 * error: CI runs a fixed number of shards whatever the list. */
	if (o->jobs > seeds->len)
		o->jobs = seeds->len ? seeds->len : 1;
	*seeds_out = seeds;
	return sc;
}

/* (1) Every seed; false if the workers failed. */
static bool phase_seeds(struct sweep *S, struct pool *P, GArray *seeds, double timeout)
{
	struct job *jv = g_new0(struct job, S->n);
	for (uint32_t i = 0; i < S->n; i++) {
		S->recs[i].seed = g_array_index(seeds, uint64_t, i);
		jv[i] = (struct job){.type = JOB_RUN, .index = i, .seed = S->recs[i].seed};
	}
	S->t0 = S->last_beat = au_report_wall_seconds();
	P->tick = on_tick;
	P->tick_ctx = S;
	bool ok = au_chaos_run_batch(P, jv, S->n, timeout, on_run_result, S);
	P->tick = NULL;
	S->wall_s = au_report_wall_seconds() - S->t0;
	draw_progress(S, true);
	clear_progress(S);
	g_free(jv);
	return ok;
}

/* (2) A sample of the seeds again, comparing trace hashes; the first three
 * mismatches are run twice more with record dumps, naming the first
 * record where they split.  False if a hash differed. */
static bool phase_determinism(struct sweep *S, struct pool *P, double timeout)
{
	S->det_idx = g_new0(uint32_t, S->n);
	for (uint32_t i = 0; i < S->n; i++)
		if (S->recs[i].rc <= 1 && sampled(S->recs[i].seed, S->det_pct))
			S->det_idx[S->n_det++] = i;
	for (uint32_t i = 0; S->n_det == 0 && i < S->n; i++)
		if (S->recs[i].rc <= 1)
			S->det_idx[S->n_det++] = i;
	struct job *jv = g_new0(struct job, S->n_det ? S->n_det : 1);
	for (uint32_t i = 0; i < S->n_det; i++)
		jv[i] = (struct job){.type = JOB_RERUN, .index = i, .seed = S->recs[S->det_idx[i]].seed};
	au_chaos_run_batch(P, jv, S->n_det, timeout, on_rerun_result, S);
	g_free(jv);
	uint32_t diagnosed = 0;
	for (uint32_t i = 0; i < S->n_det && diagnosed < 3; i++) {
		if (!(S->det_idx[i] & 0x80000000u))
			continue;
		diagnosed++;
		uint64_t seed = S->recs[S->det_idx[i] & 0x7fffffffu].seed;
		struct job dj[2] = {{.type = JOB_DIAG, .index = 0, .seed = seed, .attempt = 0},
				    {.type = JOB_DIAG, .index = 1, .seed = seed, .attempt = 1}};
		S->diag = g_new0(struct result, 2);
		au_chaos_run_batch(P, dj, 2, timeout, on_diag_result, S);
		g_autofree char *div = first_divergence(S->diag[0].message, S->diag[1].message);
		g_strchomp(div);
		g_string_append_printf(S->det_report, "  seed %" G_GUINT64_FORMAT " run twice more with "
				       "record dumps (%s, %s): %s\n", seed, S->diag[0].message,
				       S->diag[1].message, div);
		g_free(S->diag);
		S->diag = NULL;
	}
	return S->det_mismatch == 0;
}

/* (3) Shrink the first `max` failures (those a check failed or that
 * crashed). */
static void phase_shrink(struct sweep *S, struct pool *P, uint64_t max, double budget,
			 bool say)
{
	S->shrink_idx = g_new0(uint32_t, S->n);
	for (uint32_t i = 0; i < S->n && S->n_shrink < max; i++)
		if (S->recs[i].full && (S->recs[i].rc == 1 || S->recs[i].rc == 3))
			S->shrink_idx[S->n_shrink++] = i;
	if (!S->n_shrink)
		return;
	if (say)
		printf("shrinking %u failing seed%s (budget %.0f s each)...\n", S->n_shrink,
		       S->n_shrink > 1 ? "s" : "", budget);
	fflush(stdout);
	struct job *jv = g_new0(struct job, S->n_shrink);
	for (uint32_t i = 0; i < S->n_shrink; i++) {
		const struct seed_rec *r = &S->recs[S->shrink_idx[i]];
		jv[i] = (struct job){.type = JOB_SHRINK, .index = i, .seed = r->seed};
		g_strlcpy(jv[i].want, r->full->out.check, sizeof(jv[i].want));
	}
	S->diag = g_new0(struct result, S->n_shrink);
	au_chaos_run_batch(P, jv, S->n_shrink, budget * 3 + 60, on_shrink_result, S);
	S->shrunk = S->diag;
	S->diag = NULL;
	g_free(jv);
}

/* (4) The store: a directory per failing seed (store.c), for the first
 * --store-max failures, after shrinking so the shrunk file is there. */
static void phase_store(struct sweep *S, const struct options *o)
{
	g_autofree char *store = o->store ? g_strdup(o->store) : g_build_filename(o->out_dir, "store", NULL);
	uint32_t stored = 0;
	for (uint32_t i = 0; i < S->n && stored < o->store_max; i++) {
		const struct seed_rec *r = &S->recs[i];
		if (!r->full || r->rc == 0 || r->rc == 2)
			continue;
		bool shrunk = false;
		for (uint32_t k = 0; k < S->n_shrink; k++)
			if (S->shrink_idx[k] == i && S->shrunk && S->shrunk[k].shrink_rc == 0)
				shrunk = true;
		char *dir = NULL;
		int src = au_chaos_store_seed(S->R, store, r->seed, shrunk, &dir);
		if (src < 0)
			S->io_error = 1;
		else if (!o->json && !o->quiet)
			printf("stored seed %" G_GUINT64_FORMAT ": %s/ (%s)\n", r->seed, dir,
			       src == 0 ? "timeline.html, report/summary.md, trace.h5, reproducers"
					: "reproducers only: see README.txt there");
		g_free(dir);
		stored++;
	}
	fflush(stdout);
}

int au_chaos_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	GArray *seeds = NULL;
	struct au_scenario *sc = prepare(&o, &seeds, &rc);
	if (!sc)
		return rc;
	struct runner R = {.sc = sc, .path = o.path, .out_dir = g_strdup(o.out_dir),
			   .verbose = o.verbose, .shrink_budget_s = o.shrink_budget,
			   .timeout_s = o.timeout};
	const char *nd = getenv("AU_CHAOS_TEST_NONDET");
	R.perturb_test = nd && *nd && strcmp(nd, "0") != 0;
	signal(SIGPIPE, SIG_IGN);
	struct pool P;
	struct sweep S = {.R = &R, .n = seeds->len, .json = o.json, .jobs = (uint32_t)o.jobs,
			  .shard_k = o.shard_k, .shard_n = o.shard_n, .det_pct = o.det_pct};
	/* The bar only for a person at a terminal; the heartbeat for logs. */
	bool tty = isatty(STDERR_FILENO);
	S.progress = !o.quiet && !o.json && tty && !in_ci();
	S.heartbeat_s = !o.quiet && !tty ? o.heartbeat : 0;
	S.recs = g_new0(struct seed_rec, S.n ? S.n : 1);
	S.det_report = g_string_new(NULL);
	rc = EXIT_PASS;
	if (S.n == 0) {
		if (!o.json && !o.quiet)
			printf("chaos: %s (%s): shard %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " holds no seeds "
			       "of the list; nothing to run\n", sc->name, o.path, o.shard_k, o.shard_n);
		goto report;
	}
	if (!au_chaos_pool_start(&P, &R, S.jobs)) {
		fprintf(stderr, "aureon-sim chaos: cannot start workers: %s\n", strerror(errno));
		rc = EXIT_USAGE;
		goto out;
	}
	if (!o.json && !o.quiet)
		printf("chaos: %s (%s), %u seeds%s, %u workers\n", sc->name, o.path, S.n,
		       o.shard_n > 1 ? " (this shard)" : "", S.jobs);
	fflush(stdout);
	if (!phase_seeds(&S, &P, seeds, o.timeout))
		rc = EXIT_USAGE;
	if (o.det_pct > 0 && rc != EXIT_USAGE && !phase_determinism(&S, &P, o.timeout))
		rc = EXIT_FAIL;
	if (rc != EXIT_USAGE)
		phase_shrink(&S, &P, o.shrink_n, o.shrink_budget, !o.json && !o.quiet);
	au_chaos_pool_stop(&P);
	if (rc != EXIT_USAGE)
		phase_store(&S, &o);
report:
	if (S.failed)
		rc = rc == EXIT_USAGE ? rc : EXIT_FAIL;
	if (o.json)
		au_chaos_report_json(&S);
	else
		au_chaos_report_text(&S);
	if (o.junit && !au_chaos_write_junit(&S, o.junit, S.wall_s))
		rc = EXIT_USAGE;
	if (o.tap && !au_chaos_write_tap(&S, o.tap))
		rc = EXIT_USAGE;
	if (S.io_error)
		rc = EXIT_USAGE;
out:
	g_free(S.shrunk);
	g_free(S.shrink_idx);
	for (uint32_t i = 0; i < S.n; i++)
		g_free(S.recs[i].full);
	g_free(S.recs);
	g_free(S.det_idx);
	g_string_free(S.det_report, TRUE);
	for (uint32_t i = 0; i < R.n_check_names; i++)
		g_free(R.check_names[i]);
	g_free(R.out_dir);
	g_array_free(seeds, TRUE);
	au_scenario_free(sc);
	fflush(stdout);
	return rc;
}
