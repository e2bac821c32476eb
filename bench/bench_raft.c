/* bench_raft.c — the Raft benchmarks of aureon-sim (see bench_raft.h):
 * `bench raft-election` is bench_election.c's; this file has the helper
 * both use and `bench raft`.
 *
 * `bench raft` measures replication throughput: a five-server cluster with
 * log compaction on, driven by closed-loop KV clients that issue puts back
 * to back (or by one in-process pipeline of proposals to the leader),
 * until 100,000 commands have committed; it reports committed commands per
 * wall-clock second, overall and per tenth of the run (so a rate that falls
 * as the log grows would show), and per simulated second.
 *
 * Both build their scenario as text and run it through the public engine
 * API (scenario.h, sim.h) only.  Raft is observed from outside between
 * au_sim_run calls: the env of a node's service hands out the node's
 * struct au_raft through local_service("raft") (NULL while the node is
 * down), and raft.h's observers read its role, term and commit index.
 * Reading state between events changes nothing, so every simulated result
 * is a function of the seed alone; only the wall-clock times vary.
 */
#include "bench_raft.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "raft/raft.h"
#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"
#include "sim/scenario/scenario.h"

enum { BR_EXIT_OK = 0, BR_EXIT_USAGE = 2 };

struct au_raft *au_bench_raft_of(struct au_sim *sim, au_node_id n)
{
	if (!au_sim_node_up(sim, n))
		return NULL;
	const struct au_env *e = au_sim_env(sim, n, 0);
	return e ? e->ops->local_service(e->ctx, "raft") : NULL;
}

/* ==== bench raft (throughput) ============================================= */

/* The cluster: a datacenter LAN, 0.1 ms one-way, and NVMe-class syncs of
 * 0.1..0.3 ms.  The latency is constant on purpose: Raft implementations
 * run over TCP, which delivers in order, while the simulated network
 * reorders whenever latency has jitter — and an AppendEntries that
 * overtakes its predecessor is rejected (its prev index is past the
 * follower's log), which sends the leader back to probing one append at a
 * time and resending from the follower's end.  With uniform(50us,150us)
 * a traced run sent each entry to each follower ~20 times instead of
 * once, and this bench drops to 9 messages and 11 events per commit and
 * about half the commits per second.
 *
 * Two drivers, both deterministic:
 *   kv        (default) the KV workload end to end: `clients` closed-loop
 *             client nodes each put as soon as the previous put returned
 *             (kv_rate 1000000/s, a mean think time of 1 us), so `clients`
 *             commands are always in flight; requests and replies cross
 *             the simulated network and the KV store applies them.
 *   pipeline  one client pipeline inside the bench: between slices of
 *             100 us simulated, the bench tops the leader up to `clients`
 *             outstanding proposals through au_raft_submit (as the Raft
 *             tests do), each a KV put without a session; the completion
 *             callback frees a slot.  No client nodes, no client messages:
 *             Raft replication alone (plus the KV apply).
 * Throughput is read from the commit index (the highest over the running
 * servers, i.e. the leader's) after every slice; it counts log entries,
 * which after the warm-up are all commands (a leader's no-op comes only
 * with a new term, and no term changes here).
 *
 * What it gives on a 2-core VM (100,000 commits, seed 42): kv about 58,000
 * commits per wall second (4.8 events and 2.5 messages per commit, 386,000
 * commits per simulated second); pipeline about 76,000 (1.6 events per
 * commit).  Not 100,000: the cost is per entry per server, not per event —
 * every server appends, writes, syncs, applies and traces each entry, ~3 us
 * each on this machine.  A profile of the pipeline run: ~25-30% growing the
 * simulated disk's file images (realloc, zero-fill, page faults: each new
 * log segment grows from empty, and truncated ones keep their buffers, so
 * RSS also grows ~1.3 KB per entry despite compaction), ~20% trace records
 * (SHA-256 and the raft_safety checker's per-index tables), ~15% Raft's
 * append and apply paths, ~9% the KV apply and snapshots.  Raising it means
 * changing the engine or the model, which this file does not. */
#define TP_LATENCY "const(100us)"
#define TP_SYNC "uniform(100us,300us)"
#define TP_POLL_NS (100 * AU_NS_PER_US)
#define TP_WARMUP_AFTER_LEADER_NS (10 * AU_NS_PER_MS)
#define TP_SLICES 10
#define TP_KEYS 1000u

static const char *const tp_usage =
	"usage: aureon-sim bench raft [options]\n"
	"\n"
	"Raft replication throughput: commands are submitted as fast as the cluster\n"
	"commits them; log compaction on.  Reports committed commands per wall second,\n"
	"overall and per tenth of the run, and per simulated second.\n"
	"\n"
	"  --commands N        committed commands to measure, default 100000\n"
	"  --nodes K           servers, default 5 (1..63)\n"
	"  --driver kv|pipeline  closed-loop KV client nodes over the network (default),\n"
	"                      or one in-process pipeline submitting to the leader\n"
	"  --clients C         commands in flight: client nodes (kv) or pipeline depth,\n"
	"                      default 256 (1..1000 for kv)\n"
	"  --snapshot-every E  compact the log every E applied entries, default 1000\n"
	"  --latency D         one-way network latency, default " TP_LATENCY "\n"
	"  --seed S            run seed, default 42\n"
	"  --json              one JSON object instead of the table\n";

/* One poll of the run: commit index, times and engine counters. */
struct tp_mark {
	uint64_t commit;
	double wall, cpu;
	au_time sim_ns;
	uint64_t events, messages;
};

/* The in-process client pipeline of --driver pipeline. */
struct tp_pipe {
	uint64_t depth, outstanding, submitted, ok, failed;
};

/* CPU time of this process in seconds (context for noisy wall times). */
static double tp_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The highest commit index over the running servers (the leader's), and
 * the leader if there is one. */
static uint64_t tp_commit(struct au_sim *sim, uint32_t nodes, au_node_id *leader)
{
	uint64_t c = 0;
	*leader = 0;
	for (au_node_id n = 1; n <= nodes; n++) {
		struct au_raft *r = au_bench_raft_of(sim, n);
		if (!r)
			continue;
		if (au_raft_commit_index(r) > c)
			c = au_raft_commit_index(r);
		if (au_raft_is_leader(r))
			*leader = n;
	}
	return c;
}

/* Take a mark now. */
static struct tp_mark tp_take(struct au_sim *sim, uint32_t nodes)
{
	au_node_id leader;
	const struct au_sim_stats *st = au_sim_stats(sim);
	return (struct tp_mark){tp_commit(sim, nodes, &leader), au_report_wall_seconds(), tp_cpu(), st->sim_time_ns,
				st->events, st->messages_sent};
}

/* Read the snapshot index from a model summary line ("... snapshot=K ..."). */
static uint64_t tp_snapshot_index(struct au_sim *sim, au_node_id n)
{
	char line[512];
	au_sim_model_summary(sim, n, 0, line, sizeof(line));
	const char *p = strstr(line, "snapshot=");
	return p ? g_ascii_strtoull(p + 9, NULL, 10) : 0;
}

/* Pipeline completion: the command was applied (ok) or can no longer be. */
static void tp_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct tp_pipe *p = ctx;
	(void)index;
	(void)result;
	(void)len;
	p->outstanding--;
	if (ok)
		p->ok++;
	else
		p->failed++;
}

/* Top the pipeline up to its depth with puts submitted to the leader. */
static void tp_top_up(struct au_sim *sim, au_node_id leader, struct tp_pipe *p)
{
	struct au_raft *r = leader ? au_bench_raft_of(sim, leader) : NULL;
	while (r && p->outstanding < p->depth) {
		/* A KV put (kv.c's command format: op, key, value, expected). */
		uint8_t cmd[25];
		uint64_t fields[3] = {p->submitted % TP_KEYS, p->submitted + 1, 0};
		cmd[0] = 1; /* AU_KV_PUT */
		for (int f = 0; f < 3; f++)
			for (int b = 0; b < 8; b++)
				cmd[1 + 8 * f + b] = (uint8_t)(fields[f] >> (8 * b));
		if (au_raft_submit(r, 1, 0, 0, cmd, sizeof(cmd), tp_done, p) != 0)
			return;
		p->outstanding++;
		p->submitted++;
	}
}

/* The options of `bench raft`. */
struct tp_opts {
	uint64_t commands, nodes, clients, snap_every, seed;
	bool json, pipeline;
	const char *latency;
};

/* Report the check that failed on stderr; returns 1. */
static int tp_violated(struct au_sim *sim)
{
	const struct au_violation *v = au_sim_violation(sim);
	fprintf(stderr, "aureon-sim: bench raft: check %s failed at t=%" G_GINT64_FORMAT " ns: %s\n",
		v ? v->check : "?", v ? v->t_ns : 0, v ? v->detail : "?");
	return 1;
}

/* Warm the cluster up, measure until `commands` more have committed, run
 * the end-of-run checks and print the results; returns the exit code. */
static int tp_run(struct au_sim *sim, const struct tp_opts *opt)
{
	const uint64_t commands = opt->commands, nodes = opt->nodes, clients = opt->clients;
	const uint64_t snap_every = opt->snap_every, seed = opt->seed;
	const bool json = opt->json, pipeline = opt->pipeline;
	const char *latency = opt->latency;
	struct tp_pipe pipe = {clients, 0, 0, 0, 0};
	uint32_t nn = (uint32_t)nodes;
	/* Warm-up: until a leader has committed, then 10 ms more so the KV
	 * clients that started before the election have found it. */
	double w_start = au_report_wall_seconds();
	au_time t = 0, leader_at = -1;
	au_node_id leader = 0;
	while (leader_at < 0 || t < leader_at + TP_WARMUP_AFTER_LEADER_NS) {
		t += TP_POLL_NS;
		if (au_sim_run(sim, t) != 0)
			return tp_violated(sim);
		uint64_t c = tp_commit(sim, nn, &leader);
		if (leader_at < 0 && leader && c > 0)
			leader_at = t;
		if (pipeline)
			tp_top_up(sim, leader, &pipe);
		if (t > 60 * AU_NS_PER_S) {
			fprintf(stderr, "aureon-sim: bench raft: no leader after 60 s simulated\n");
			return 1;
		}
	}
	double warm_wall = au_report_wall_seconds() - w_start;
	au_node_id first_leader = leader;
	struct tp_mark marks[TP_SLICES + 1];
	marks[0] = tp_take(sim, nn);
	const struct tp_mark start = marks[0];
	int next = 1;
	bool progress = !json && isatty(STDERR_FILENO);
	double last_progress = start.wall;
	while (next <= TP_SLICES) {
		t += TP_POLL_NS;
		if (au_sim_run(sim, t) != 0)
			return tp_violated(sim);
		uint64_t c = tp_commit(sim, nn, &leader);
		if (pipeline)
			tp_top_up(sim, leader, &pipe);
		while (next <= TP_SLICES && c >= start.commit + commands * (uint64_t)next / TP_SLICES)
			marks[next++] = tp_take(sim, nn);
		if (progress && au_report_wall_seconds() - last_progress > 0.5) {
			last_progress = au_report_wall_seconds();
			fprintf(stderr, "\r  %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " committed, %.1f s ",
				c - start.commit, commands, last_progress - start.wall);
		}
		if (t - start.sim_ns > 3600 * AU_NS_PER_S) {
			fprintf(stderr, "aureon-sim: bench raft: only %" G_GUINT64_FORMAT
				" commits after an hour simulated\n", c - start.commit);
			return 1;
		}
	}
	if (progress)
		fprintf(stderr, "\r%60s\r", "");
	const struct tp_mark end = marks[TP_SLICES];
	/* End of run: the checkers' verdicts (for kv the linearizability of the
	 * whole history is checked here), timed apart from the throughput. */
	double f0 = au_report_wall_seconds();
	int frc = au_sim_finish(sim);
	double finish_wall = au_report_wall_seconds() - f0;
	char hash[65];
	au_sim_trace_hash(sim, hash);
	uint64_t committed = end.commit - start.commit;
	double wall = end.wall - start.wall, cpu = end.cpu - start.cpu;
	double sim_s = (double)(end.sim_ns - start.sim_ns) / 1e9;
	uint64_t events = end.events - start.events, msgs = end.messages - start.messages;
	uint64_t snap_idx = leader ? tp_snapshot_index(sim, leader) : 0;
	const char *driver = pipeline ? "pipeline" : "kv";
	if (json) {
		GString *o = g_string_new(NULL);
		g_string_append_printf(o, "{\"bench\": \"raft\", \"driver\": \"%s\", \"nodes\": %"
				       G_GUINT64_FORMAT ", \"clients\": %" G_GUINT64_FORMAT
				       ", \"commands\": %" G_GUINT64_FORMAT ", \"snapshot_every\": %"
				       G_GUINT64_FORMAT ", \"seed\": %" G_GUINT64_FORMAT ", \"latency\": ",
				       driver, nodes, clients, commands, snap_every, seed);
		au_report_json_string(o, latency);
		g_string_append_printf(o, ", \"sync_latency\": \"%s\", \"committed\": %" G_GUINT64_FORMAT
				       ", \"wall_s\": %.3f, \"cpu_s\": %.3f, \"commits_per_wall_s\": %.1f"
				       ", \"commits_per_cpu_s\": %.1f, \"sim_s\": %.6f"
				       ", \"commits_per_sim_s\": %.1f, \"events\": %" G_GUINT64_FORMAT
				       ", \"events_per_commit\": %.3f, \"messages_per_commit\": %.3f"
				       ", \"ns_per_event\": %.1f, \"warmup_sim_s\": %.4f, \"warmup_wall_s\": %.3f"
				       ", \"first_leader\": %u, \"leader\": %u"
				       ", \"leader_snapshot_index\": %" G_GUINT64_FORMAT ", \"slices\": [",
				       TP_SYNC, committed, wall, cpu, (double)committed / wall,
				       (double)committed / cpu, sim_s, (double)committed / sim_s, events,
				       (double)events / (double)committed, (double)msgs / (double)committed,
				       wall * 1e9 / (double)events, (double)start.sim_ns / 1e9, warm_wall,
				       first_leader, leader, snap_idx);
		for (int k = 1; k <= TP_SLICES; k++) {
			uint64_t dc = marks[k].commit - marks[k - 1].commit;
			double dw = marks[k].wall - marks[k - 1].wall;
			double du = marks[k].cpu - marks[k - 1].cpu;
			double ds = (double)(marks[k].sim_ns - marks[k - 1].sim_ns) / 1e9;
			g_string_append_printf(o, "%s{\"commits\": %" G_GUINT64_FORMAT ", \"wall_s\": %.4f"
					       ", \"cpu_s\": %.4f, \"commits_per_wall_s\": %.1f, \"sim_s\": %.6f"
					       ", \"commits_per_sim_s\": %.1f, \"events\": %" G_GUINT64_FORMAT "}",
					       k > 1 ? ", " : "", dc, dw, du, (double)dc / dw, ds,
					       (double)dc / ds, marks[k].events - marks[k - 1].events);
		}
		g_autofree char *checks = au_check_json(sim);
		g_string_append_printf(o, "], \"finish_wall_s\": %.3f, %s", finish_wall, checks);
		g_string_append_printf(o, ", \"peak_rss_bytes\": %" G_GUINT64_FORMAT
				       ", \"trace_hash\": \"%s\"}\n", au_report_peak_rss_bytes(), hash);
		fputs(o->str, stdout);
		g_string_free(o, TRUE);
	} else {
		printf("raft throughput: %" G_GUINT64_FORMAT " servers, driver %s: %" G_GUINT64_FORMAT
		       " %s, puts; snapshot every %" G_GUINT64_FORMAT " entries; seed %" G_GUINT64_FORMAT
		       "\n", nodes, driver, clients,
		       pipeline ? "proposals in flight from one in-process pipeline"
				: "closed-loop KV client nodes",
		       snap_every, seed);
		printf("  network %s one-way, disk sync " TP_SYNC "; warm-up %.3f s simulated (%.2f s "
		       "wall), leader n%u\n\n", latency, (double)start.sim_ns / 1e9, warm_wall,
		       first_leader);
		printf("  %-6s %8s %8s %8s %14s %8s %13s %9s\n", "slice", "commits", "wall s", "cpu s",
		       "commits/wall-s", "sim ms", "commits/sim-s", "events");
		for (int k = 1; k <= TP_SLICES; k++) {
			uint64_t dc = marks[k].commit - marks[k - 1].commit;
			double dw = marks[k].wall - marks[k - 1].wall;
			double du = marks[k].cpu - marks[k - 1].cpu;
			double ds = (double)(marks[k].sim_ns - marks[k - 1].sim_ns) / 1e9;
			printf("  %3d%%   %8" G_GUINT64_FORMAT " %8.3f %8.3f %14.0f %8.1f %13.0f %9"
			       G_GUINT64_FORMAT "\n", k * 100 / TP_SLICES, dc, dw, du, (double)dc / dw,
			       ds * 1e3, (double)dc / ds, marks[k].events - marks[k - 1].events);
		}
		printf("\n  total: %" G_GUINT64_FORMAT " commits in %.3f s wall (%.3f s cpu) = %.0f "
		       "commits/wall-s (%.0f per cpu-s)\n", committed, wall, cpu,
		       (double)committed / wall, (double)committed / cpu);
		printf("  simulated: %.4f s = %.0f commits/sim-s\n", sim_s, (double)committed / sim_s);
		printf("  engine: %" G_GUINT64_FORMAT " events = %.2f events/commit, %.2f messages/commit,"
		       " %.0f ns/event\n", events, (double)events / (double)committed,
		       (double)msgs / (double)committed, wall * 1e9 / (double)events);
		g_autofree char *checks = au_check_text(sim);
		printf("  leader n%u, log compacted to index %" G_GUINT64_FORMAT "; end-of-run checks "
		       "(%.2f s wall): %s", leader, snap_idx, finish_wall, checks);
		printf("\n  peak RSS %.1f MiB; trace hash %s\n", (double)au_report_peak_rss_bytes() / 1048576.0, hash);
	}
	return frc != 0 ? tp_violated(sim) : 0;
}

/* `bench raft`: parse the options, build the cluster and run tp_run. */
int au_bench_raft(int argc, char **argv)
{
	uint64_t commands = 100000, nodes = 5, clients = 256, snap_every = 1000, seed = 42;
	bool json = false, pipeline = false;
	const char *latency = TP_LATENCY;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		uint64_t *dst = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(tp_usage, stdout);
			return BR_EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		} else if (strcmp(a, "--driver") == 0) {
			if (i + 1 >= argc || (strcmp(argv[i + 1], "kv") != 0 &&
					      strcmp(argv[i + 1], "pipeline") != 0))
				return au_report_usage_error(tp_usage, "--driver needs kv or pipeline");
			pipeline = strcmp(argv[++i], "pipeline") == 0;
			continue;
		} else if (strcmp(a, "--latency") == 0) {
			struct au_dist d;
			const char *why = "missing";
			if (i + 1 >= argc || !au_parse_dist(argv[i + 1], &d, &why) ||
			    strpbrk(argv[i + 1], "\n[]=#"))
				return au_report_usage_error(tp_usage, "--latency needs a distribution such as "
								"const(100us) (%s)", why);
			latency = argv[++i];
			continue;
		} else if (strcmp(a, "--commands") == 0) {
			dst = &commands;
		} else if (strcmp(a, "--nodes") == 0) {
			dst = &nodes;
		} else if (strcmp(a, "--clients") == 0) {
			dst = &clients;
		} else if (strcmp(a, "--snapshot-every") == 0) {
			dst = &snap_every;
		} else if (strcmp(a, "--seed") == 0) {
			dst = &seed;
		} else {
			return au_report_usage_error(tp_usage, "unknown option %s", a);
		}
		if (i + 1 >= argc || !au_parse_u64(argv[i + 1], dst))
			return au_report_usage_error(tp_usage, "%s needs a non-negative integer", a);
		i++;
	}
	if (commands < TP_SLICES || commands > 100000000)
		return au_report_usage_error(tp_usage, "--commands must be in %d..100000000", TP_SLICES);
	/* Raft keeps voters as bits 1..N of a uint64_t, so node 64 would not fit. */
	if (nodes < 1 || nodes > AU_RAFT_MAX_NODES - 1)
		return au_report_usage_error(tp_usage, "--nodes must be in 1..%u", AU_RAFT_MAX_NODES - 1);
	if (clients < 1 || clients > (pipeline ? 1000000u : 1000u))
		return au_report_usage_error(tp_usage, "--clients must be in 1..%u",
				      pipeline ? 1000000u : 1000u);
	if (snap_every > 100000000)
		return au_report_usage_error(tp_usage, "--snapshot-every must be at most 100000000 (0: never)");
	/* Election timeouts suited to the LAN (~0.5 ms broadcast time); short
	 * so the warm-up, in which KV clients bounce between servers until
	 * there is a leader, stays short. */
	g_autofree char *text = g_strdup_printf(
		"[run]\nname = raft-throughput\nduration = 1000h\n"
		"[cluster]\nnodes = %" G_GUINT64_FORMAT "\nservices = raft,kv\n"
		"[network]\nlatency = %s\n"
		"[disk]\nsync_latency = " TP_SYNC "\n"
		"[trace]\nmessages = none\n"
		"[raft]\nelection_timeout = 50ms..100ms\nheartbeat = 25ms\n"
		"snapshot_every = %" G_GUINT64_FORMAT "\n"
		"[workload]\nkv_clients = %" G_GUINT64_FORMAT "\nkv_rate = 1000000/s\nkv_keys = %u\n"
		"kv_mix = put:100\nkv_attempt_timeout = 1s\nkv_deadline = 1h\n",
		nodes, latency, snap_every, pipeline ? (uint64_t)0 : clients, TP_KEYS);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("<bench raft>", text, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: internal error: %s\n", err);
		g_free(err);
		return BR_EXIT_USAGE;
	}
	struct au_sim *sim = au_sim_new(sc, seed);
	struct tp_opts opt = {commands, nodes, clients, snap_every, seed, json, pipeline, latency};
	int rc = tp_run(sim, &opt);
	au_sim_free(sim);
	au_scenario_free(sc);
	return rc;
}
