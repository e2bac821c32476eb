/* main.c — the aureon-sim command line: run, bench, divergence. */
#include <errno.h>
#include <glib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "phold.h"
#include "bench/bench_exec.h"
#include "bench/bench_kernels.h"
#include "bench/bench_raft.h"
#include "bench/bench_stack.h"
#include "bench/bench_swim.h"
#include "sim/chaos/chaos.h"
#include "sim/scenario/scenario.h"
#include "sim/engine/trace_h5.h"
#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "cli.h"
#include "sim/report/report.h"
#include "sim/report/violation.h"
#include "sim/chaos/pin.h"
#include "sim/replay/replay.h"

#define AUREON_VERSION "0.1.0"

enum { EXIT_PASS = 0, EXIT_VIOLATION = 1, EXIT_USAGE = 2 };

static const char *const usage_top =
	"usage: aureon-sim COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  run SCENARIO [--seed N] [--until T] [--json] [--trace FILE] [--records FILE]\n"
	"                      run a scenario file; prints a summary and the trace hash\n"
	"  bench phold [--lps N] [--init E] [--remote R] [--events M] [--json]\n"
	"                      PHOLD throughput through the engine\n"
	"  bench raft-election [--trials N] [--csv FILE] [--json]\n"
	"                      the Raft paper's Figure 16: time to elect after a crash\n"
	"  bench raft [--commands N] [--json]\n"
	"                      Raft commit throughput (5 nodes, log compaction on)\n"
	"  bench kernels [--edges M] [--side N] [--json]\n"
	"                      RQML kernels vs a STREAM-like triad (memory bandwidth)\n"
	"  bench aureon [--sweep] [--tasks N] [--nodes K] [--json]\n"
	"                      task queue: 10,000 tasks on 20 nodes with faults; --sweep:\n"
	"                      tasks/s vs node count, batched and one op per command\n"
	"  bench swim [--sizes LIST] [--trials N] [--quick] [--csv PREFIX] [--json]\n"
	"                      SWIM detection time, dissemination, false positives, load\n"
	"  bench stack [--seeds N] [--repeat R] [--dir D] [--json]\n"
	"                      the whole stack beside PHOLD and Raft alone: time\n"
	"                      acceleration, events per CPU s, chaos seeds per minute\n"
	"  chaos SCENARIO --seeds A-B [--jobs N] [--shard K/N] [--out DIR] [--json]\n"
	"        [--junit FILE] [--tap FILE] [--check-determinism[=PCT]] [--shrink N]\n"
	"        [--heartbeat S]  (chaos --help)\n"
	"                      seeded sweep: a generated fault plan per seed, with\n"
	"                      reproducers and shrinking for the failures\n"
	"  shrink FILE [--out F] [--force] [--time S] [--check NAME]\n"
	"                      shrink a failing scenario file (drop faults, shorten\n"
	"                      the run, fewer nodes and clients) to FILE.min.ini\n"
	"  divergence A B      first differing record of two --records dumps\n"
	"  list checks|kinds|services\n"
	"                      what this build has, with one line each\n"
	"  lint SCENARIO       load and validate a scenario without running it; warn\n"
	"                      where it judges less than it seems (exit 0/1/2)\n"
	"  replay DIR [--node nK | --check [--skip CHECK] [--trace F.h5]]\n"
	"                      replay the inputs `aureon-node --record DIR` logged; exact or\n"
	"                      the first record that diverged; --check: every node in one\n"
	"                      simulated run with every checker on (docs/replay.md)\n"
	"  help | --help       this text;  --version  the version\n"
	"\n"
	"exit codes: 0 all checks held, 1 a check failed, 2 usage, scenario or I/O error\n";

static const char *const usage_run =
	"usage: aureon-sim run SCENARIO [options]\n"
	"\n"
	"  --seed N        run seed (default: [run] seed, else 1)\n"
	"  --until T       stop at simulated time T (a duration, e.g. 10s) instead of\n"
	"                  [run] duration\n"
	"  --json          print one JSON object on stdout instead of the text summary\n"
	"  --records FILE  write every trace record as a text line (index, time, node,\n"
	"                  kind, fields) to FILE, for `aureon-sim divergence`; an\n"
	"                  existing FILE is an error unless --force\n"
	"  --quiet         no progress line on a terminal\n"
	"  --trace FILE    write every trace record to an HDF5 file\n"
	"                  (docs/traces-and-analysis.md); an existing FILE is an\n"
	"                  error unless --force\n"
	"  --force         overwrite an existing --trace or --records file\n";

static const char *const usage_bench =
	"usage: aureon-sim bench phold|raft|raft-election|kernels|swim|aureon|stack [options]\n"
	"       (aureon-sim bench raft --help, bench raft-election --help, bench kernels --help,\n"
	"       bench swim --help, bench aureon --help, bench stack --help for theirs)\n"
	"\nphold options:\n"
	"\n"
	"  --lps N         logical processes (virtual nodes), default 1024\n"
	"  --init E        initial events per LP, default 16\n"
	"  --remote R      probability an event goes to another LP, default 0.9\n"
	"  --events M      stop after M processed events, default 20000000\n"
	"  --seed S        run seed, default 42\n"
	"  --json          one JSON line: lps, events, events_per_sec, ns_per_event,\n"
	"                  peak_rss_bytes\n";

/* ---- run ------------------------------------------------------------- */

static void print_json(struct au_sim *sim, const struct au_scenario *sc, uint64_t seed,
		       const char *hash)
{
	const struct au_sim_stats *st = au_sim_stats(sim);
	const struct au_violation *v = au_sim_violation(sim);
	GString *o = g_string_new("{\"scenario\": ");
	au_report_json_string(o, sc->name);
	g_string_append_printf(o, ", \"seed\": %" G_GUINT64_FORMAT ", \"result\": \"%s\"", seed,
			       v ? "fail" : "pass");
	g_string_append_printf(o, ", \"sim_time_ns\": %" G_GINT64_FORMAT, st->sim_time_ns);
	g_string_append_printf(o, ", \"events\": %" G_GUINT64_FORMAT, st->events);
	g_string_append_printf(o, ", \"messages\": %" G_GUINT64_FORMAT, st->messages_sent);
	g_string_append(o, ", \"fates\": {");
	for (int f = 0; f < AU_FATE_COUNT_; f++)
		g_string_append_printf(o, "%s\"%s\": %" G_GUINT64_FORMAT, f ? ", " : "",
				       au_fate_name((enum au_fate)f), st->fates[f]);
	g_autofree char *checks = au_check_json(sim);
	g_string_append_printf(o, "}, %s, \"check_notes\": {", checks);
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		char note[256];
		if (!au_check_note(sim, i, note, sizeof(note)))
			continue;
		g_string_append_printf(o, "%s\"%s\": ", first ? "" : ", ", names[i]);
		au_report_json_string(o, note);
		first = false;
	}
	g_string_append(o, "}, \"violation\": ");
	if (v)
		au_violation_json(o, v);
	else
		g_string_append(o, "null");
	g_string_append_printf(o, ", \"faults_applied\": %" G_GUINT64_FORMAT
			       ", \"faults_skipped\": %" G_GUINT64_FORMAT,
			       st->faults_applied, st->faults_skipped);
	g_string_append_printf(o, ", \"storage_errors\": {\"write\": %" G_GUINT64_FORMAT
			       ", \"truncate\": %" G_GUINT64_FORMAT ", \"sync\": %" G_GUINT64_FORMAT "}",
			       st->storage_errors[AU_STORAGE_WRITE], st->storage_errors[AU_STORAGE_TRUNCATE],
			       st->storage_errors[AU_STORAGE_SYNC]);
	g_string_append_printf(o, ", \"trace_hash\": \"%s\"}\n", hash);
	fputs(o->str, stdout);
	g_string_free(o, TRUE);
}

/* One line per scripted fault: what it did, to whom, when (the first 20). */
static void print_faults(struct au_sim *sim, const struct au_scenario *sc)
{
	static const char *const kind_word[] = {
		[AU_TARGET_NONE] = "",           [AU_TARGET_NODE] = "",
		[AU_TARGET_LEADER] = " (leader)", [AU_TARGET_RANDOM] = " (random)",
		[AU_TARGET_REST] = "",           [AU_TARGET_LEASE_HOLDER] = " (lease holder)",
		[AU_TARGET_LOCK_HOLDER] = " (lock holder)",
	};
	for (uint32_t i = 0; i < sc->n_faults && i < 20; i++) {
		const struct au_fault *f = &sc->faults[i];
		char at[32], until[32], extra[32];
		au_format_duration(f->at, at, sizeof(at));
		GString *line = g_string_new(NULL);
		g_string_append_printf(line, "    %s: %s", f->name, au_fault_action_name(f->action));
		au_node_id n = au_sim_fault_node(sim, i);
		if (f->action == AU_FAULT_PARTITION) {
			for (uint32_t g = 1; g <= f->n_groups; g++) {
				g_string_append(line, g == 1 ? " " : " | ");
				bool first = true;
				for (uint32_t m = 0; m < f->n_members; m++) {
					const struct au_group_member *gm = &f->members[m];
					if (gm->group != g)
						continue;
					g_string_append(line, first ? "" : ",");
					first = false;
					if (gm->who.kind == AU_TARGET_NODE)
						g_string_append_printf(line, "n%u", gm->who.node);
					else
						g_string_append(line, gm->who.kind == AU_TARGET_LEADER ? "leader" : "rest");
				}
			}
			if (f->oneway)
				g_string_append(line, " (one way)");
		} else if (f->has_link) {
			g_string_append_printf(line, " link n%u-n%u", f->link_a, f->link_b);
		} else if (n) {
			g_string_append_printf(line, " n%u%s", n, kind_word[f->target.kind]);
		} else if (f->target.kind != AU_TARGET_NONE) {
			g_string_append(line, f->at <= au_sim_stats(sim)->sim_time_ns ? " (skipped: no eligible node)"
								 : " (not reached)");
		}
		g_string_append_printf(line, " at %s", at);
		if (f->until >= 0) {
			au_format_duration(f->until, until, sizeof(until));
			g_string_append_printf(line, " until %s", until);
		}
		if (f->action == AU_FAULT_CRASH && f->restart_after >= 0) {
			au_format_duration(f->restart_after, extra, sizeof(extra));
			g_string_append_printf(line, ", restarted %s later", extra);
		}
		if (f->action == AU_FAULT_DISK)
			g_string_append_printf(line, " (%s)", au_disk_fault_kind_name(f->disk_kind));
		printf("%s\n", line->str);
		g_string_free(line, TRUE);
	}
	if (sc->n_faults > 20)
		printf("    ... (%u more faults)\n", sc->n_faults - 20);
}

static void print_text(struct au_sim *sim, const struct au_scenario *sc, uint64_t seed,
		       const char *hash, double wall)
{
	const struct au_sim_stats *st = au_sim_stats(sim);
	char dur[32];
	au_format_duration(st->sim_time_ns, dur, sizeof(dur));
	printf("aureon-sim %s: scenario %s (%s), seed %" G_GUINT64_FORMAT "\n", AUREON_VERSION,
	       sc->name, sc->path, seed);
	printf("  %u nodes; services:", sc->cluster.nodes);
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		printf(" %s", sc->cluster.services[i]->name);
	double speed = wall > 0 ? (double)st->sim_time_ns / 1e9 / wall : 0;
	printf("\n  simulated %s in %.3f s wall (%.0fx real time), %" G_GUINT64_FORMAT
	       " events, %" G_GUINT64_FORMAT " trace records\n",
	       dur, wall, speed, st->events, st->records);
	printf("  messages: %" G_GUINT64_FORMAT " sent;", st->messages_sent);
	for (int f = 0; f < AU_FATE_COUNT_; f++)
		printf(" %s %" G_GUINT64_FORMAT "%s", au_fate_name((enum au_fate)f), st->fates[f],
		       f + 1 < AU_FATE_COUNT_ ? "," : "\n");
	printf("  faults: %" G_GUINT64_FORMAT " applied, %" G_GUINT64_FORMAT
	       " skipped; unsynced writes at crashes: %" G_GUINT64_FORMAT " kept, %" G_GUINT64_FORMAT
	       " torn, %" G_GUINT64_FORMAT " lost\n",
	       st->faults_applied, st->faults_skipped, st->kept_writes, st->torn_writes,
	       st->lost_writes);
	uint64_t disk_errors = 0;
	for (int op = 0; op < AU_STORAGE_OPS_; op++)
		disk_errors += st->storage_errors[op];
	if (disk_errors)
		printf("  storage errors injected: %" G_GUINT64_FORMAT " writes, %" G_GUINT64_FORMAT
		       " truncates, %" G_GUINT64_FORMAT " syncs failed\n",
		       st->storage_errors[AU_STORAGE_WRITE], st->storage_errors[AU_STORAGE_TRUNCATE],
		       st->storage_errors[AU_STORAGE_SYNC]);
	print_faults(sim, sc);
	uint32_t shown = sc->cluster.nodes <= 10 ? sc->cluster.nodes : 5;
	for (au_node_id n = 1; n <= shown; n++) {
		for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
			char line[512];
			au_sim_model_summary(sim, n, s, line, sizeof(line));
			if (!au_sim_node_up(sim, n))
				printf("  n%u %s: down at the end\n", n, sc->cluster.services[s]->name);
			else if (line[0])
				printf("  n%u %s: %s\n", n, sc->cluster.services[s]->name, line);
		}
	}
	if (shown < sc->cluster.nodes)
		printf("  ... (%u more nodes)\n", sc->cluster.nodes - shown);
	for (uint32_t k = 1; k <= sc->clients && k <= 5; k++) {
		for (uint32_t sv = 0; sv < sc->cluster.n_services; sv++) {
			char line[512];
			au_sim_model_summary(sim, sc->cluster.nodes + k, sv, line, sizeof(line));
			if (line[0])
				printf("  n%u %s: %s\n", sc->cluster.nodes + k, sc->cluster.services[sv]->name, line);
		}
	}
	if (sc->clients > 5)
		printf("  ... (%u more client nodes)\n", sc->clients - 5);
	for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
		char *report = au_sim_model_report(sim, s);
		if (report)
			fputs(report, stdout);
		g_free(report);
	}
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	g_autofree char *checks = au_check_text(sim);
	printf("  checks: %s\n", n ? checks : "none for these services");
	for (size_t i = 0; i < n; i++) {
		char note[256];
		if (au_check_note(sim, i, note, sizeof(note)))
			printf("    %s: %s\n", names[i], note);
	}
	const struct au_violation *v = au_sim_violation(sim);
	if (v) {
		g_autofree char *line = au_violation_line(v);
		printf("  VIOLATION: %s\n", line);
		if (v->has_window && v->window_text[0])
			printf("  window (%u operations):\n%s\n", v->window_ops, v->window_text);
	}
	/* A pass says which checks it does not cover. */
	g_autofree char *undecided = v ? NULL : au_check_undecided(names, results, n);
	if (undecided)
		printf("  result: pass (no verdict from: %s)\n", undecided);
	else
		printf("  result: %s\n", v ? "FAIL" : "pass");
	printf("  trace hash: %s\n", hash);
}

static int cmd_run(int argc, char **argv)
{
	const char *path = NULL, *records = NULL, *trace_path = NULL;
	bool json = false, quiet = false, have_seed = false, force = false;
	uint64_t seed = 0;
	au_time until = -1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_run, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (strcmp(a, "--seed") == 0) {
			if (i + 1 >= argc || !au_parse_u64(argv[i + 1], &seed))
				return au_report_usage_error(usage_run, "--seed needs a non-negative integer");
			have_seed = true;
			i++;
		} else if (strcmp(a, "--until") == 0) {
			if (i + 1 >= argc || !au_parse_duration(argv[i + 1], &until))
				return au_report_usage_error(usage_run, "--until needs a duration with a unit (e.g. 10s)");
			i++;
		} else if (strcmp(a, "--records") == 0) {
			if (i + 1 >= argc)
				return au_report_usage_error(usage_run, "--records needs a file name");
			records = argv[++i];
		} else if (strcmp(a, "--trace") == 0) {
			if (i + 1 >= argc)
				return au_report_usage_error(usage_run, "--trace needs a file name (e.g. run.h5)");
			trace_path = argv[++i];
		} else if (strcmp(a, "--force") == 0) {
			force = true;
		} else if (a[0] == '-') {
			return au_report_usage_error(usage_run, "unknown option %s", a);
		} else if (!path) {
			path = a;
		} else {
			return au_report_usage_error(usage_run, "more than one scenario given (%s, %s)", path, a);
		}
	}
	if (!path)
		return au_report_usage_error(usage_run, "run needs a scenario file");
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	if (!have_seed)
		seed = sc->seed ? sc->seed : 1;
	/* A reproducer made by another build (another commit, or planted bugs
	 * on or off) may not reproduce here: say so loudly, then run it. */
	g_autofree char *pin_warning = au_pin_mismatch(path, sc->text);
	if (pin_warning)
		fputs(pin_warning, stderr);
	FILE *dump = NULL;
	if (records && !force && g_file_test(records, G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "aureon-sim: --records %s: the file exists; pass --force to overwrite it\n",
			records);
		au_scenario_free(sc);
		return EXIT_USAGE;
	}
	if (records) {
		dump = fopen(records, "w");
		if (!dump) {
			fprintf(stderr, "aureon-sim: --records %s: cannot write: %s\n", records,
				strerror(errno));
			au_scenario_free(sc);
			return EXIT_USAGE;
		}
	}
	if (until < 0)
		until = sc->duration;
	/* Every trace-file problem is found before the run starts. */
	struct au_h5 *h5 = NULL;
	if (trace_path) {
		h5 = au_h5_create(trace_path, force, sc, seed, AUREON_VERSION, &err);
		if (!h5) {
			fprintf(stderr, "aureon-sim: --trace %s\n", err);
			g_free(err);
			if (dump)
				fclose(dump);
			au_scenario_free(sc);
			return EXIT_USAGE;
		}
	}
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_set_record_dump(sim, dump);
	au_sim_set_trace_file(sim, h5);
	bool progress = !quiet && !json && isatty(STDERR_FILENO);
	double t0 = au_report_wall_seconds(), last = t0;
	int rc = 0;
	/* Run in slices so a long run can show progress on a terminal; the
	 * slicing does not change the event order. */
	const int slices = 200;
	for (int s = 1; s <= slices; s++) {
		au_time stop = s == slices ? until : until / slices * s + until % slices * s / slices;
		rc = au_sim_run(sim, stop);
		if (rc != 0 || (h5 && au_h5_failed(h5, NULL)))
			break;
		double now = au_report_wall_seconds();
		if (progress && now - last > 0.5) {
			fprintf(stderr, "\r  %3d%% simulated, %" G_GUINT64_FORMAT " events, %.1f s wall ",
				s * 100 / slices, au_sim_stats(sim)->events, now - t0);
			last = now;
		}
	}
	/* A run a violation stopped has ended already; finishing it again
	 * changes nothing. */
	rc = au_sim_finish(sim);
	double wall = au_report_wall_seconds() - t0;
	if (progress && wall > 0.5)
		fprintf(stderr, "\r%60s\r", "");
	char hash[65];
	au_sim_trace_hash(sim, hash);
	if (h5)
		au_check_h5_verdict(h5, sim);
	if (h5 && au_h5_close(h5, hash, au_sim_stats(sim)->sim_time_ns, au_sim_stats(sim)->events,
			      au_sim_stats(sim)->records, &err) != 0) {
		fprintf(stderr, "aureon-sim: --trace %s (the partial file was removed)\n", err);
		g_free(err);
		if (dump)
			fclose(dump);
		au_sim_free(sim);
		au_scenario_free(sc);
		return EXIT_USAGE;
	}
	if (json)
		print_json(sim, sc, seed, hash);
	else
		print_text(sim, sc, seed, hash, wall);
	if (dump && fclose(dump) != 0) {
		fprintf(stderr, "aureon-sim: --records %s: write failed: %s\n", records, strerror(errno));
		rc = EXIT_USAGE;
	}
	au_sim_free(sim);
	au_scenario_free(sc);
	return rc;
}

/* ---- bench phold ---------------------------------------------------- */

static int cmd_bench(int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(usage_bench, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : EXIT_PASS;
	}
	if (strcmp(argv[0], "raft-election") == 0)
		return au_bench_raft_election(argc - 1, argv + 1);
	if (strcmp(argv[0], "raft") == 0)
		return au_bench_raft(argc - 1, argv + 1);
	if (strcmp(argv[0], "kernels") == 0)
		return au_bench_kernels(argc - 1, argv + 1);
	if (strcmp(argv[0], "aureon") == 0)
		return au_bench_exec(argc - 1, argv + 1);
	if (strcmp(argv[0], "swim") == 0)
		return au_bench_swim(argc - 1, argv + 1);
	if (strcmp(argv[0], "stack") == 0)
		return au_bench_stack(argc - 1, argv + 1);
	if (strcmp(argv[0], "phold") != 0)
		return au_report_usage_error(usage_bench, "unknown bench '%s' (this build has: phold, raft, kernels, "
						"raft-election, swim, aureon, stack)", argv[0]);
	uint64_t lps = 1024, init = 16, events = 20000000, seed = 42;
	double remote = 0.9;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t *target = NULL;
		if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		} else if (strcmp(a, "--help") == 0) {
			fputs(usage_bench, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--remote") == 0) {
			char *end;
			if (i + 1 >= argc)
				return au_report_usage_error(usage_bench, "--remote needs a probability");
			remote = g_ascii_strtod(argv[++i], &end);
			if (*end || argv[i][0] == '\0' || !(remote >= 0.0 && remote <= 1.0))
				return au_report_usage_error(usage_bench, "--remote needs a probability in [0,1]");
			continue;
		} else if (strcmp(a, "--lps") == 0) {
			target = &lps;
		} else if (strcmp(a, "--init") == 0) {
			target = &init;
		} else if (strcmp(a, "--events") == 0) {
			target = &events;
		} else if (strcmp(a, "--seed") == 0) {
			target = &seed;
		} else {
			return au_report_usage_error(usage_bench, "unknown option %s", a);
		}
		if (i + 1 >= argc || !au_parse_u64(argv[i + 1], target))
			return au_report_usage_error(usage_bench, "%s needs a non-negative integer", a);
		i++;
	}
	if (lps < 1 || lps > AU_MAX_NODES || init < 1 || init > 1000000 || events < 1)
		return au_report_usage_error(usage_bench, "need 1 <= lps <= %u, 1 <= init <= 1000000, events >= 1",
				   AU_MAX_NODES);
	if (lps * init > (1u << 24) - 1)
		return au_report_usage_error(usage_bench, "lps * init must stay below 2^24 pending events");
	if (lps == 1 && remote > 0)
		return au_report_usage_error(usage_bench, "with one LP there is nobody remote: pass --remote 0");
	g_autofree char *text = g_strdup_printf(
		"[run]\nname = phold\nduration = 1000h\n"
		"[cluster]\nnodes = %" G_GUINT64_FORMAT "\nservices = phold\n"
		"[network]\nlatency = exponential(1us,1us)\n"
		"[trace]\nmessages = none\n"
		"[phold]\ninit = %" G_GUINT64_FORMAT "\nremote_ppm = %u\n",
		lps, init, (unsigned)(remote * 1e6 + 0.5));
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("<bench phold>", text, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: internal error: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_run(sim, 0); /* boot: every LP schedules its initial events */
	au_sim_set_max_events(sim, events);
	double t0 = au_report_wall_seconds();
	au_sim_run(sim, INT64_MAX);
	double wall = au_report_wall_seconds() - t0;
	au_sim_finish(sim);
	const struct au_sim_stats *st = au_sim_stats(sim);
	double eps = (double)st->events / wall;
	char hash[65];
	au_sim_trace_hash(sim, hash);
	if (json)
		printf("{\"lps\":%" G_GUINT64_FORMAT ",\"init\":%" G_GUINT64_FORMAT ",\"remote\":%g,"
		       "\"events\":%" G_GUINT64_FORMAT ",\"events_per_sec\":%.1f,\"ns_per_event\":%.3f,"
		       "\"peak_rss_bytes\":%" G_GUINT64_FORMAT ",\"final_time_ns\":%" G_GINT64_FORMAT
		       ",\"trace_hash\":\"%s\"}\n",
		       lps, init, remote, st->events, eps, wall * 1e9 / (double)st->events,
		       au_report_peak_rss_bytes(), st->sim_time_ns, hash);
	else
		printf("phold through the engine: %" G_GUINT64_FORMAT " LPs x %" G_GUINT64_FORMAT
		       ", remote %g: %" G_GUINT64_FORMAT " events in %.3f s = %.2f M events/s "
		       "(%.1f ns/event), peak RSS %.1f MiB\n",
		       lps, init, remote, st->events, wall, eps / 1e6, wall * 1e9 / (double)st->events,
		       (double)au_report_peak_rss_bytes() / 1048576.0);
	au_sim_free(sim);
	au_scenario_free(sc);
	return EXIT_PASS;
}

/* ---- divergence -------------------------------------------------------- */

/* Is `line` (n bytes, from getline) record `index` of a --records dump:
 * "INDEX E|M|T t=TIME nNODE ...", text only?  An HDF5 trace, a scenario
 * file or any other file fails at its first line. */
static bool record_line_ok(const char *line, ssize_t n, uint64_t index)
{
	if (n < 2 || line[n - 1] != '\n' || memchr(line, '\0', (size_t)n))
		return false;
	for (ssize_t i = 0; i < n - 1; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return false;
	char *end;
	errno = 0;
	unsigned long long got = strtoull(line, &end, 10);
	if (errno || end == line || got != index || end[0] != ' ')
		return false;
	if ((end[1] != 'E' && end[1] != 'M' && end[1] != 'T') || strncmp(end + 2, " t=", 3) != 0)
		return false;
	const char *p = end + 5;
	if (*p == '-')
		p++;
	if (!g_ascii_isdigit(*p))
		return false;
	while (g_ascii_isdigit(*p))
		p++;
	return p[0] == ' ' && p[1] == 'n' && g_ascii_isdigit(p[2]);
}

static int cmd_divergence(int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "--help") == 0) {
		printf("usage: aureon-sim divergence A B\n\n"
		       "A and B are record dumps written by `aureon-sim run ... --records FILE`.\n"
		       "Prints the first record where they differ, or \"identical\".\n"
		       "Exit 0 identical, 1 different, 2 error (a file that is not a\n"
		       "record dump, such as an HDF5 trace, is an error).\n");
		return EXIT_PASS;
	}
	if (argc != 2)
		return au_report_usage_error(usage_top, "divergence needs two record files");
	FILE *f[2];
	for (int i = 0; i < 2; i++) {
		f[i] = fopen(argv[i], "r");
		if (!f[i]) {
			fprintf(stderr, "aureon-sim: %s: %s\n", argv[i], strerror(errno));
			if (i)
				fclose(f[0]);
			return EXIT_USAGE;
		}
	}
	char *line[2] = {NULL, NULL};
	size_t cap[2] = {0, 0};
	uint64_t index = 0;
	int rc = EXIT_PASS;
	for (;; index++) {
		ssize_t n0 = getline(&line[0], &cap[0], f[0]);
		ssize_t n1 = getline(&line[1], &cap[1], f[1]);
		if (n0 < 0 && n1 < 0) {
			printf("identical (%" G_GUINT64_FORMAT " records)\n", index);
			break;
		}
		/* Judge only what `run --records` wrote: never compare (or print)
		 * the bytes of some other file. */
		int bad = n0 >= 0 && !record_line_ok(line[0], n0, index) ? 0
			  : n1 >= 0 && !record_line_ok(line[1], n1, index) ? 1 : -1;
		if (bad >= 0) {
			fprintf(stderr, "aureon-sim divergence: %s: %s is not a record dump (line %"
				G_GUINT64_FORMAT " is not record %" G_GUINT64_FORMAT "); make one with "
				"`aureon-sim run SCENARIO --records FILE`\n",
				argv[bad], index ? "from this line on, it" : "it", index + 1, index);
			rc = EXIT_USAGE;
			break;
		}
		if (n0 < 0 || n1 < 0 || strcmp(line[0], line[1]) != 0) {
			printf("runs diverge at record %" G_GUINT64_FORMAT ":\n", index);
			printf("  A: %s", n0 < 0 ? "(ended)\n" : line[0]);
			printf("  B: %s", n1 < 0 ? "(ended)\n" : line[1]);
			rc = EXIT_VIOLATION;
			break;
		}
	}
	free(line[0]);
	free(line[1]);
	fclose(f[0]);
	fclose(f[1]);
	return rc;
}

int main(int argc, char **argv)
{
	/* Simulated disks grow and free many file images: keep freed memory in
	 * the process rather than returning it to the kernel and faulting it
	 * back in page by page (measured: ~9 % of a long Raft run). */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	au_cli_register();
	if (argc < 2)
		return au_report_usage_error(usage_top, "no command given");
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_top, stdout);
		return EXIT_PASS;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("aureon-sim %s\n", AUREON_VERSION);
		return EXIT_PASS;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "bench") == 0)
		return cmd_bench(argc - 2, argv + 2);
	if (strcmp(cmd, "divergence") == 0)
		return cmd_divergence(argc - 2, argv + 2);
	if (strcmp(cmd, "chaos") == 0)
		return au_chaos_main(argc - 2, argv + 2);
	if (strcmp(cmd, "shrink") == 0)
		return au_shrink_main(argc - 2, argv + 2);
	if (strcmp(cmd, "list") == 0)
		return au_cli_list(argc - 2, argv + 2);
	if (strcmp(cmd, "lint") == 0)
		return au_cli_lint(argc - 2, argv + 2);
	if (strcmp(cmd, "replay") == 0)
		return au_replay_main(argc - 2, argv + 2, AUREON_VERSION);
	return au_report_usage_error(usage_top, "unknown command '%s'", cmd);
}
