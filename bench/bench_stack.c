/* bench_stack.c — `aureon-sim bench stack` (see bench_stack.h). */
#include "bench_stack.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config/values.h"
#include "sim/chaos/chaos.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"
#include "sim/scenario/scenario.h"

static const char usage[] =
	"usage: aureon-sim bench stack [--seeds N] [--repeat R] [--dir D] [--json]\n"
	"\n"
	"  PHOLD (1,024 LPs x 16, 2 M events), raft-basic and default R times each\n"
	"  (3: one run of default.ini is ~0.15 s, at the mercy of a shared machine)\n"
	"  and N seeds (5) of chaos-raft, chaos-aureon and chaos-rqml, from the\n"
	"  scenarios in D (default: scenarios); per line, over its runs: time\n"
	"  acceleration and events per CPU second, an event's cost against PHOLD's\n"
	"  and against raft-basic's, and for chaos seeds per minute on 2 cores.\n";

/* CPU seconds of this process (user + system). */
static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

struct line {
	const char *name;
	uint32_t runs, failed;
	uint64_t events;
	double sim_s, cpu_s, wall_s;
};

/* Run `sc` at `seed` to its end (max_events: 0 = no bound; PHOLD). */
static void run_one(const struct au_scenario *sc, uint64_t seed, uint64_t max_events,
		    struct line *L)
{
	double c0 = cpu_now(), w0 = au_report_wall_seconds();
	struct au_sim *sim = au_sim_new(sc, seed);
	int rc;
	if (max_events) {
		au_sim_run(sim, 0);
		au_sim_set_max_events(sim, max_events);
		au_sim_run(sim, INT64_MAX);
		rc = 0;
	} else {
		rc = au_sim_run(sim, sc->duration);
		if (rc == 0)
			rc = au_sim_finish(sim);
	}
	const struct au_sim_stats *st = au_sim_stats(sim);
	L->events += st->events;
	L->sim_s += (double)st->sim_time_ns / 1e9;
	L->runs++;
	L->failed += rc != 0;
	au_sim_free(sim);
	L->cpu_s += cpu_now() - c0;
	L->wall_s += au_report_wall_seconds() - w0;
}

static struct au_scenario *load(const char *dir, const char *file)
{
	g_autofree char *path = g_build_filename(dir, file, NULL);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim bench stack: %s\n", err);
		g_free(err);
	}
	return sc;
}

/* Seeds 1..n of a chaos scenario, each with its generated plan. */
static bool run_chaos(const char *dir, const char *file, uint64_t n, struct line *L)
{
	struct au_scenario *base = load(dir, file);
	if (!base)
		return false;
	g_autofree char *path = g_build_filename(dir, file, NULL);
	for (uint64_t seed = 1; seed <= n; seed++) {
		struct au_chaos_plan *plan = au_chaos_plan_new(base, seed);
		g_autofree char *text = au_chaos_render(base, plan, NULL);
		au_chaos_plan_free(plan);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text(path, text, &err);
		if (!sc) {
			fprintf(stderr, "aureon-sim bench stack: %s seed %" G_GUINT64_FORMAT ": %s\n", file,
				seed, err);
			g_free(err);
			au_scenario_free(base);
			return false;
		}
		run_one(sc, seed, 0, L);
		au_scenario_free(sc);
	}
	au_scenario_free(base);
	return true;
}

int au_bench_stack(int argc, char **argv)
{
	uint64_t seeds = 5, repeat = 3;
	const char *dir = "scenarios";
	bool json = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--seeds") == 0) {
			if (i + 1 >= argc || !au_parse_u64(argv[i + 1], &seeds) || seeds < 1 ||
			    seeds > 100000)
				return au_report_usage_error(usage, "--seeds needs an integer in 1..100000");
			i++;
		} else if (strcmp(argv[i], "--repeat") == 0) {
			if (i + 1 >= argc || !au_parse_u64(argv[i + 1], &repeat) || repeat < 1 ||
			    repeat > 1000)
				return au_report_usage_error(usage, "--repeat needs an integer in 1..1000");
			i++;
		} else if (strcmp(argv[i], "--dir") == 0) {
			if (i + 1 >= argc)
				return au_report_usage_error(usage, "--dir needs a directory");
			dir = argv[++i];
		} else {
			return au_report_usage_error(usage, "unknown option %s", argv[i]);
		}
	}
	struct line lines[6] = {{.name = "phold"},        {.name = "raft-basic"},
				{.name = "default"},      {.name = "chaos-raft"},
				{.name = "chaos-aureon"}, {.name = "chaos-rqml"}};
	char *err = NULL;
	struct au_scenario *ph = au_scenario_load_text(
		"<bench stack phold>",
		"[run]\nname = phold\nduration = 1000h\n[cluster]\nnodes = 1024\nservices = phold\n"
		"[network]\nlatency = exponential(1us,1us)\n[trace]\nmessages = none\n"
		"[phold]\ninit = 16\nremote_ppm = 900000\n",
		&err);
	if (!ph) {
		fprintf(stderr, "aureon-sim: internal error: %s\n", err);
		g_free(err);
		return 2;
	}
	for (uint64_t r = 0; r < repeat; r++)
		run_one(ph, 42, 2000000, &lines[0]);
	au_scenario_free(ph);
	const char *const plain[2] = {"raft-basic.ini", "default.ini"};
	for (int k = 0; k < 2; k++) {
		struct au_scenario *sc = load(dir, plain[k]);
		if (!sc)
			return 2;
		for (uint64_t r = 0; r < repeat; r++)
			run_one(sc, sc->seed ? sc->seed : 1, 0, &lines[1 + k]);
		au_scenario_free(sc);
	}
	const char *const chaos[3] = {"chaos-raft.ini", "chaos-aureon.ini", "chaos-rqml.ini"};
	for (int k = 0; k < 3; k++)
		if (!run_chaos(dir, chaos[k], seeds, &lines[3 + k]))
			return 2;
	double ph_ns = lines[0].cpu_s * 1e9 / (double)lines[0].events;
	double raft_ns = lines[1].cpu_s * 1e9 / (double)lines[1].events;
	int rc = 0;
	GString *o = g_string_new(json ? "{\"bench\": \"stack\", \"lines\": [" : "");
	if (!json)
		g_string_append(o, "what           runs  events     sim s   CPU s  wall s  accel(sim/CPU)  "
				   "ns/event  xPHOLD  xRaft  seeds/min(2 cores)\n");
	for (int k = 0; k < 6; k++) {
		const struct line *L = &lines[k];
		double ns = L->cpu_s * 1e9 / (double)(L->events ? L->events : 1);
		double accel = L->cpu_s > 0 ? L->sim_s / L->cpu_s : 0;
		double spm = k >= 3 && L->cpu_s > 0 ? 2.0 * 60.0 * L->runs / L->cpu_s : 0;
		rc |= L->failed != 0;
		if (json)
			g_string_append_printf(
				o,
				"%s{\"name\": \"%s\", \"runs\": %u, \"failed\": %u, \"events\": %" G_GUINT64_FORMAT
				", \"sim_s\": %.3f, \"cpu_s\": %.3f, \"wall_s\": %.3f, \"accel\": %.1f, "
				"\"ns_per_event\": %.1f, \"x_phold\": %.2f, \"x_raft\": %.2f, "
				"\"seeds_per_min_2cores\": %.0f}",
				k ? ", " : "", L->name, L->runs, L->failed, L->events, L->sim_s, L->cpu_s,
				L->wall_s, k ? accel : 0, ns, ns / ph_ns, ns / raft_ns, spm);
		else
			g_string_append_printf(o,
					       "%-13s %5u %8" G_GUINT64_FORMAT " %8.1f %7.3f %7.3f %15.1f "
					       "%9.1f %7.2f %6.2f %s%.0f%s\n",
					       L->name, L->runs, L->events, L->sim_s, L->cpu_s, L->wall_s,
					       k ? accel : 0, ns, ns / ph_ns, ns / raft_ns,
					       spm ? "" : "(", spm, spm ? "" : ")");
		if (L->failed)
			fprintf(stderr, "aureon-sim bench stack: %s: %u of %u runs failed a check\n",
				L->name, L->failed, L->runs);
	}
	if (json)
		g_string_append(o, "]}\n");
	fputs(o->str, stdout);
	g_string_free(o, TRUE);
	return rc;
}
