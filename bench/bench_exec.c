/* bench_exec.c — the execution layer's benchmarks (see bench_exec.h).
 *
 * Both build a scenario as text and run it through the public engine API,
 * in slices of 100 simulated ms, reading between slices how many tasks the
 * replicated queue holds as done (the largest count over the live
 * replicas: every replica applies the same log, some lag).  Reading state
 * between events changes nothing, so the simulated numbers are functions
 * of the seed; only wall times vary.
 *
 * Throughput sweep: 50,000 tasks enqueued at the start (5,000 for the
 * one-operation-per-command baseline, whose rate is as steady), each taking 1 ms
 * on a worker, 16 workers and a local queue of 64 per node, disks syncing
 * in 0.2-0.5 ms — so workers are never what limits the rate and the queue
 * is: every lease, renewal and ack is an operation in a Raft command.
 * The rate is measured from the first task done to the last.  With
 * batching the leader packs every operation that arrived while earlier
 * commands were in flight into the next command (group commit, at most
 * batch_inflight = 2 commands in flight); the baseline allows one
 * operation per command, which is what a queue doing a Raft round trip per
 * lease and per ack would get.
 */
#include "bench_exec.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "orchestrator/orchestrator.h"
#include "raft/raft.h"
#include "taskq.h"
#include "sim/scenario/scenario.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"

static const char usage[] =
	"usage: aureon-sim bench aureon [--tasks N] [--nodes K] [--seed S] [--json]\n"
	"       aureon-sim bench aureon --sweep [--tasks N] [--seed S] [--json]\n"
	"\n"
	"  (default)  N tasks (10000) on K nodes (20) with crashes and 1 % loss, every\n"
	"             invariant checked; wall time and simulated time to finish\n"
	"  --sweep    queue throughput in simulated tasks/s for 5, 10, 20 and 50 nodes,\n"
	"             batched (N = 50000) and with one operation per Raft command (N / 10)\n";

/* CPU seconds this process has used (user + system): wall time on a shared
 * machine includes other people's work, this does not. */
static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

struct result {
	uint64_t nodes, tasks, done, entries, events;
	au_time first_done_ns, all_done_ns; /* -1: never */
	double wall_s, cpu_s;
	int rc;
	char check[64], detail[256];
};

/* Service index of `name` in the scenario. */
static uint32_t service(const struct au_scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, name) == 0)
			return i;
	return UINT32_MAX;
}

/* Run `text` in slices of `slice_ns` until every task is done (or its
 * duration); fill r. */
static int run(const char *text, uint64_t seed, uint64_t tasks, au_time slice_ns,
	       struct result *r)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("<bench aureon>", text, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: bench scenario: %s\n", err);
		g_free(err);
		return 2;
	}
	uint32_t svc = service(sc, "aureon"), rsvc = service(sc, "raft");
	memset(r, 0, sizeof(*r));
	r->nodes = sc->cluster.nodes;
	r->tasks = tasks;
	r->first_done_ns = r->all_done_ns = -1;
	double t0 = au_report_wall_seconds(), c0 = cpu();
	struct au_sim *sim = au_sim_new(sc, seed);
	int rc = 0;
	for (au_time t = slice_ns; t <= sc->duration && rc == 0; t += slice_ns) {
		rc = au_sim_run(sim, t);
		uint64_t done = 0, entries = 0;
		for (au_node_id n = 1; n <= sc->cluster.nodes; n++) {
			if (!au_sim_node_up(sim, n))
				continue;
			const struct au_env *e = au_sim_env(sim, n, svc);
			struct au_orch *o = e->ops->local_service(e->ctx, "aureon");
			const struct au_env *re = au_sim_env(sim, n, rsvc);
			struct au_raft *raft = re->ops->local_service(re->ctx, "raft");
			uint64_t c[4];
			au_taskq_counts(au_orch_queue(o), c);
			if (c[AU_TASK_DONE] + c[AU_TASK_DEAD] > done)
				done = c[AU_TASK_DONE] + c[AU_TASK_DEAD];
			if (raft && au_raft_commit_index(raft) > entries)
				entries = au_raft_commit_index(raft);
		}
		if (done && r->first_done_ns < 0)
			r->first_done_ns = t;
		r->done = done;
		r->entries = entries;
		if (done >= tasks) {
			r->all_done_ns = t;
			break;
		}
	}
	if (rc == 0)
		rc = au_sim_finish(sim);
	r->wall_s = au_report_wall_seconds() - t0;
	r->cpu_s = cpu() - c0;
	r->events = au_sim_stats(sim)->events;
	r->rc = rc;
	const struct au_violation *v = au_sim_violation(sim);
	if (v) {
		g_strlcpy(r->check, v->check, sizeof(r->check));
		g_strlcpy(r->detail, v->detail, sizeof(r->detail));
	}
	au_sim_free(sim);
	au_scenario_free(sc);
	return rc ? 1 : 0;
}

/* The endurance run: crashes (three with restarts, one for good), a leader
 * crash, 1 % loss. */
static char *endurance_text(uint64_t nodes, uint64_t tasks)
{
	return g_strdup_printf(
		"[run]\nname = bench-aureon\nduration = 10m\n"
		"[cluster]\nnodes = %" G_GUINT64_FORMAT "\nservices = raft,swim,aureon\n"
		"[network]\nlatency = uniform(1ms,5ms)\nloss = 0.01\n"
		"[aureon]\nlease = 3s\n"
		"[workload]\ntasks = %" G_GUINT64_FORMAT "\ntask_rounds = 2\ntask_topics = 8\n"
		"task_priorities = 2\ntask_cost = lognormal(100ms,40ms)\n"
		"[fault.c1]\nat = 3s\naction = crash\ntarget = random\nrestart_after = 5s\n"
		"[fault.c2]\nat = 6s\naction = crash\ntarget = leader\nrestart_after = 4s\n"
		"[fault.c3]\nat = 9s\naction = crash\ntarget = random\n"
		"[fault.c4]\nat = 12s\naction = crash\ntarget = random\nrestart_after = 2s\n"
		"[check]\ninvariants = raft_safety, no_task_lost, exactly_once, lease_placement\n",
		nodes, tasks);
}

static char *sweep_text(uint64_t nodes, uint64_t tasks, bool batched)
{
	return g_strdup_printf(
		"[run]\nname = bench-aureon-sweep\nduration = 30m\n"
		"[cluster]\nnodes = %" G_GUINT64_FORMAT "\nservices = raft,aureon\n"
		"[network]\nlatency = uniform(1ms,5ms)\n"
		"[disk]\nsync_latency = uniform(200us,500us)\n"
		"[raft]\nmax_batch = 256\n"
		"[aureon]\nmax_concurrency = 16\nlocal_queue = 64\nlease = 30s\nrenew = 5s\n"
		"batch_ops = %u\n"
		"[workload]\ntasks = %" G_GUINT64_FORMAT "\ntask_cost = const(1ms)\ntask_payload = 16\n",
		nodes, batched ? 0u : 1u, tasks);
}

static double rate(const struct result *r)
{
	if (r->all_done_ns <= r->first_done_ns || r->first_done_ns < 0)
		return 0;
	return (double)r->tasks * 1e9 / (double)(r->all_done_ns - r->first_done_ns);
}

int au_bench_exec(int argc, char **argv)
{
	uint64_t tasks = 0, nodes = 20, seed = 1;
	bool json = false, sweep = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--sweep") == 0) {
			sweep = true;
		} else if (strcmp(a, "--tasks") == 0 || strcmp(a, "--nodes") == 0 ||
			   strcmp(a, "--seed") == 0) {
			uint64_t v;
			if (i + 1 >= argc || !au_parse_u64(argv[i + 1], &v))
				return au_report_usage_error(usage, "%s needs a non-negative integer", a);
			i++;
			if (a[2] == 't')
				tasks = v;
			else if (a[2] == 'n')
				nodes = v;
			else
				seed = v;
		} else {
			return au_report_usage_error(usage, "unknown option %s", a);
		}
	}
	if (!tasks)
		tasks = sweep ? 50000 : 10000;
	if (tasks > 1000000 || nodes < 3 || nodes > 63)
		return au_report_usage_error(usage, "need tasks <= 1000000 and 3 <= nodes <= 63 (Raft voters)");
	if (!sweep) {
		g_autofree char *text = endurance_text(nodes, tasks);
		struct result r;
		int rc = run(text, seed, tasks, 100 * AU_NS_PER_MS, &r);
		if (rc == 2)
			return 2;
		if (json)
			printf("{\"bench\": \"aureon\", \"nodes\": %" G_GUINT64_FORMAT ", \"tasks\": %"
			       G_GUINT64_FORMAT ", \"seed\": %" G_GUINT64_FORMAT ", \"done\": %"
			       G_GUINT64_FORMAT ", \"all_done_sim_s\": %.3f, \"wall_s\": %.3f, \"cpu_s\": %.3f, "
			       "\"events\": %"
			       G_GUINT64_FORMAT ", \"log_entries\": %" G_GUINT64_FORMAT
			       ", \"result\": \"%s\", \"check\": \"%s\"}\n",
			       r.nodes, r.tasks, seed, r.done,
			       r.all_done_ns < 0 ? -1.0 : (double)r.all_done_ns / 1e9, r.wall_s, r.cpu_s,
			       r.events, r.entries, r.rc ? "fail" : "pass", r.check);
		else
			printf("bench aureon: %" G_GUINT64_FORMAT " tasks on %" G_GUINT64_FORMAT
			       " nodes, crashes and 1 %% loss, seed %" G_GUINT64_FORMAT "\n"
			       "  done %" G_GUINT64_FORMAT " (all by %.1f simulated s), %" G_GUINT64_FORMAT
			       " log entries, %" G_GUINT64_FORMAT " events\n"
			       "  wall %.2f s (target < 20 s), cpu %.2f s; checks %s%s%s\n",
			       r.tasks, r.nodes, seed, r.done,
			       r.all_done_ns < 0 ? -1.0 : (double)r.all_done_ns / 1e9, r.entries, r.events,
			       r.wall_s, r.cpu_s, r.rc ? "FAILED: " : "held", r.check, r.rc ? r.detail : "");
		return rc;
	}
	static const uint64_t counts[] = {5, 10, 20, 50};
	struct result res[4][2];
	int worst = 0;
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 2; b++) {
			/* The baseline is slow in simulated time: a tenth of the
			 * tasks measure its (steady) rate as well. */
			uint64_t n = b == 0 ? tasks : tasks / 10;
			g_autofree char *text = sweep_text(counts[i], n, b == 0);
			int rc = run(text, seed, n, 10 * AU_NS_PER_MS, &res[i][b]);
			if (rc == 2)
				return 2;
			if (rc > worst)
				worst = rc;
		}
	if (json) {
		printf("{\"bench\": \"aureon-sweep\", \"tasks\": %" G_GUINT64_FORMAT ", \"seed\": %"
		       G_GUINT64_FORMAT ", \"rows\": [", tasks, seed);
		for (int i = 0; i < 4; i++) {
			const struct result *bt = &res[i][0], *un = &res[i][1];
			printf("%s{\"nodes\": %" G_GUINT64_FORMAT ", \"batched_tasks_per_s\": %.1f, "
			       "\"batched_entries\": %" G_GUINT64_FORMAT ", \"unbatched_tasks_per_s\": %.1f, "
			       "\"unbatched_entries\": %" G_GUINT64_FORMAT ", \"wall_s\": %.2f, "
			       "\"result\": \"%s\"}",
			       i ? ", " : "", bt->nodes, rate(bt), bt->entries, rate(un), un->entries,
			       bt->wall_s + un->wall_s, bt->rc || un->rc ? "fail" : "pass");
		}
		printf("]}\n");
		return worst;
	}
	printf("bench aureon --sweep: %" G_GUINT64_FORMAT " tasks (baseline %" G_GUINT64_FORMAT
	       ") of 1 ms, 16 workers per node, seed %" G_GUINT64_FORMAT "\n", tasks, tasks / 10, seed);
	printf("| nodes | batched: tasks/s (sim) | log entries | tasks per entry | one op per command: "
	       "tasks/s | log entries | batched / unbatched | wall s |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < 4; i++) {
		const struct result *bt = &res[i][0], *un = &res[i][1];
		double rb = rate(bt), ru = rate(un);
		printf("| %" G_GUINT64_FORMAT " | %.0f | %" G_GUINT64_FORMAT " | %.1f | %.0f | %"
		       G_GUINT64_FORMAT " | %.1fx | %.1f |%s\n",
		       bt->nodes, rb, bt->entries, bt->entries ? (double)bt->tasks / (double)bt->entries : 0.0,
		       ru, un->entries, ru > 0 ? rb / ru : 0, bt->wall_s + un->wall_s,
		       bt->rc || un->rc ? " CHECK FAILED" : "");
	}
	return worst;
}
