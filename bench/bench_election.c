/* bench_election.c — `aureon-sim bench raft-election` (see bench_raft.h):
 * Figure 16 of the Raft paper (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", extended version, §9.3; the same
 * benchmark is in the leader-election chapter of Ongaro's dissertation): a
 * five-server cluster with a stable leader, the leader crashed at a random
 * point within its heartbeat interval and kept down, and the time until a
 * new leader is elected, over 1,000 independent trials per
 * election-timeout range.  Like `bench raft` (bench_raft.c), it builds its
 * scenario as text, runs it through the public engine API, and observes
 * Raft from outside between au_sim_run calls.
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

/* The leader that every running server agrees on (same term, each
 * follower's leader hint pointing at it), or 0 if there is none. */
static au_node_id br_agreed_leader(struct au_sim *sim, uint32_t nodes)
{
	au_node_id leader = 0;
	uint64_t term = 0;
	for (au_node_id n = 1; n <= nodes; n++) {
		struct au_raft *r = au_bench_raft_of(sim, n);
		if (r && au_raft_is_leader(r)) {
			if (leader)
				return 0; /* two nodes think they lead (old and new term) */
			leader = n;
			term = au_raft_term(r);
		}
	}
	if (!leader)
		return 0;
	for (au_node_id n = 1; n <= nodes; n++) {
		struct au_raft *r = au_bench_raft_of(sim, n);
		if (!r || n == leader)
			continue;
		if (au_raft_term(r) != term || au_raft_leader_hint(r) != leader)
			return 0;
	}
	return leader;
}

/* Append a number to a JSON object, or null when it is not finite. */
static void br_json_num(GString *o, const char *key, double v, const char *sep)
{
	if (isfinite(v))
		g_string_append_printf(o, "%s\"%s\": %.3f", sep, key, v);
	else
		g_string_append_printf(o, "%s\"%s\": null", sep, key);
}

/* ==== bench raft-election ================================================= */

/* The experiment, and what the paper measured (Figure 16 of the extended
 * paper, §9.3; the same benchmark is in the leader-election chapter of
 * Ongaro's dissertation):
 *
 *   LogCabin, five servers on gigabit Ethernet, "broadcast time (network
 *   round trip plus disk write) of roughly 15 ms".  The benchmark
 *   repeatedly crashed the leader and timed until the other servers
 *   received the new leader's first heartbeat.  The leader was crashed
 *   randomly within its heartbeat interval, which was half the minimum
 *   election timeout, so the smallest possible downtime is about half the
 *   minimum election timeout.  1,000 trials per line (100 for 150-150).
 *   Its numbers:
 *     150-150 ms (no randomness): "consistently took longer than 10 s" —
 *                                  many split votes;
 *     150-155 ms: median downtime 287 ms;
 *     150-200 ms: worst of 1,000 trials 513 ms;
 *     12-24 ms:   mean 35 ms, longest 152 ms (below that Raft's timing
 *                 requirement, broadcast << election timeout, breaks).
 *
 * Differences from the paper's setup, all deliberate:
 *   - The paper's benchmark synchronised the leader's heartbeats before
 *     the crash and gave the servers logs of different lengths (two of
 *     the four survivors could not win).  Here the logs are equal (no
 *     client traffic: a trial must stay cheap) and the followers' timers
 *     start when the last heartbeat reaches each of them, i.e. spread by
 *     the latency jitter.  The dissertation shows (by simulation) that the
 *     log difference changes election times only a little.
 *   - The first table is crash until some survivor *becomes* leader.  The
 *     second ("heard") is the paper's measure: crash until every surviving
 *     server follows the new leader, i.e. has received its first
 *     AppendEntries (about one one-way latency later).
 *   - PreVote and CheckQuorum are off: the paper measures the basic
 *     algorithm, and PreVote adds a round trip to every election (and a
 *     pre-vote round to every split), which would shift every curve.
 *
 * The network: the paper gives only the broadcast time, 15 ms, defined as
 * a round trip plus a disk write.  We take a one-way latency uniform in
 * 5..9 ms (mean 7 ms, round trip 14 ms) and a sync of 0.5..1.5 ms (mean
 * 1 ms): round trip plus disk write = 15 ms on average.  The 4 ms of
 * jitter is the only thing that separates the followers' timers in the
 * no-randomness range.  --latency and --sync change both.
 *
 * What this model gives (seed 42, 1,000 trials, crash to new leader, ms):
 *                 median    mean     p99     max   rounds  paper
 *     150-150       >30 s: no trial elected a leader    >10 s
 *     150-155       1973    2553    9248   19662   16.9    median 287
 *     150-200        157     183     503     680    1.2    max 513
 *     150-300        167     176     382     552    1.05
 *     12-24           82      97     298     507   40      mean 35, max 152
 *   and with a LAN, --latency 'uniform(50us,150us)' (same sync):
 *     150-155        125     159     549     904    1.3
 *     150-200        126     127     177     317    1.0
 *     12-24           14      15      33      58    1.06
 *   Wide ranges (>= 25 ms of randomness) agree with the paper; narrow
 *   ones bracket it: what decides a narrow-range election is not the
 *   broadcast time but how long a candidate's RequestVote takes to reach
 *   the others (its own sync, since Raft here makes term and vote durable
 *   before sending, plus one one-way latency).  A candidate wins only if it
 *   times out that much before the others, and after a split vote every
 *   candidate re-arms from its own start, so the spread of the timers
 *   only random-walks by the randomness each round.  With 7 ms one-way
 *   and 5 ms of randomness that takes ~17 rounds; on a LAN, ~1.3.  With
 *   no randomness at all the spread never changes and no leader is ever
 *   elected (real timers have noise; the simulated ones do not).  At
 *   12-24 ms with 7 ms one-way the timing requirement is broken: leaders
 *   are elected quickly but deposed before their first AppendEntries
 *   arrives (heard: mean 714 ms, 40 terms per recovery).
 */
#define EL_NODES 5u
#define EL_LATENCY "uniform(5ms,9ms)"
#define EL_SYNC "uniform(500us,1500us)"
#define EL_WARMUP_NS (1 * AU_NS_PER_S) /* the crash comes in [1 s, 1 s + heartbeat) */
#define EL_ATTEMPTS 5 /* warm-ups of 1..5 s until the cluster has a leader */
#define EL_STAGGER_NS (20 * AU_NS_PER_MS)
#define EL_DEFAULT_CAP_NS (30 * AU_NS_PER_S)
#define EL_MAX_RANGES 16

/* One election-timeout range of the figure and the paper's figure for it. */
struct el_range {
	unsigned lo_ms, hi_ms;
	const char *paper;
};

static const struct el_range el_ranges[] = {
	{150, 150, ">10 s"},   {150, 151, ""},          {150, 155, "median 287"},
	{150, 175, ""},        {150, 200, "max 513"},   {150, 300, ""},
	{12, 24, "mean 35, max 152"}, {25, 50, ""},     {50, 100, ""},
	{100, 200, ""},
};

/* How one trial ended. */
enum el_status {
	EL_DONE,      /* measured (a leader may or may not have been found) */
	EL_NO_WARMUP, /* no agreed leader before the crash: not measured */
	EL_VIOLATION, /* a safety check failed: reported, not measured */
};

/* One trial: times from the crash in ns, -1 when it did not happen. */
struct el_trial {
	enum el_status status;
	uint64_t seed;
	au_time offset_ns;  /* crash point within the heartbeat interval */
	au_time warmup_ns;  /* the crash came at warmup_ns + offset_ns */
	au_time elected_ns; /* crash until some survivor became leader */
	au_time heard_ns;   /* crash until every survivor follows one leader */
	uint64_t terms;     /* terms the election took (1 = no split vote) */
};

/* Summary statistics of one measure over the trials, in ms; a trial
 * without a leader counts as +infinity in the percentiles. */
struct el_stats {
	uint32_t n, found;
	double min, p50, mean, p90, p99, max;
};

static const char *const el_usage =
	"usage: aureon-sim bench raft-election [options]\n"
	"\n"
	"Figure 16 of the Raft paper: 5 servers, broadcast time ~15 ms, the leader\n"
	"crashed at a random point of its heartbeat interval (half the minimum\n"
	"election timeout) and kept down; time until a new leader is elected, per\n"
	"election-timeout range (150-150 ... 150-300 ms, 12-24 ... 100-200 ms).\n"
	"\n"
	"  --trials N      independent trials per range, default 1000\n"
	"  --seed S        base seed (trial seeds derive from it), default 42\n"
	"  --range LO-HI   only this range in ms, e.g. 150-155 (repeatable)\n"
	"  --cap T         give up on a trial after T simulated (default 30s)\n"
	"  --latency D     one-way network latency, default " EL_LATENCY "\n"
	"  --sync D        disk sync latency, default " EL_SYNC "\n"
	"  --csv FILE      write every trial: range,trial,seed,offset_ms,warmup_s,status,\n"
	"                  ms,heard_ms,terms (ms = crash to new leader, inf = none within\n"
	"                  the cap; status done, nowarmup (no leader to crash) or violation)\n"
	"  --json          one JSON object instead of the table\n";

/* The scenario of one trial: warm-up with staggered boots, then the
 * leader crash at `crash_at`. */
static char *el_scenario_text(const struct el_range *rg, au_time crash_at, au_time cap_ns,
			      const char *latency, const char *sync)
{
	au_time hb = (au_time)rg->lo_ms * AU_NS_PER_MS / 2;
	GString *t = g_string_new(NULL);
	g_string_append_printf(t,
			       "[run]\nname = raft-election-%u-%u\nduration = %" G_GINT64_FORMAT "ns\n"
			       "[cluster]\nnodes = %u\nservices = raft\n"
			       "[network]\nlatency = %s\n"
			       "[disk]\nsync_latency = %s\n"
			       "[trace]\nmessages = none\n"
			       "[raft]\nelection_timeout = %ums..%ums\nheartbeat = %" G_GINT64_FORMAT "ns\n"
			       "prevote = false\ncheck_quorum = false\nsnapshot_every = 0\n",
			       rg->lo_ms, rg->hi_ms, crash_at + cap_ns + AU_NS_PER_S, EL_NODES, latency,
			       sync, rg->lo_ms, rg->hi_ms, hb);
	/* Staggered boots: n2..n5 go down at t=0 and come back 20 ms apart.
	 * With simultaneous boots and no randomness (150-150) every server
	 * times out at the same instant, votes for itself, and does so again
	 * every 150 ms forever: no first leader.  Staggering lets n1 win the
	 * first election in every range; the warm-up second is then steady. */
	for (au_node_id n = 2; n <= EL_NODES; n++)
		g_string_append_printf(t,
				       "[fault.boot-n%u]\nat = 0ns\naction = crash\ntarget = n%u\n"
				       "restart_after = %" G_GINT64_FORMAT "ns\n",
				       n, n, (au_time)(n - 1) * EL_STAGGER_NS);
	g_string_append_printf(t, "[fault.kill-leader]\nat = %" G_GINT64_FORMAT "ns\naction = crash\n"
			       "target = leader\n", crash_at);
	return g_string_free(t, FALSE);
}

/* One attempt at a trial with the crash at `crash_at`: fills out->status
 * and the times.  Returns 0, or -1 (with *err set) if the scenario did not
 * load, which is a bug in this file. */
static int el_attempt(const struct el_range *rg, uint64_t seed, au_time crash_at, au_time cap_ns,
		      const char *latency, const char *sync, struct el_trial *out, char **err)
{
	out->elected_ns = out->heard_ns = -1;
	out->terms = 0;
	g_autofree char *text = el_scenario_text(rg, crash_at, cap_ns, latency, sync);
	struct au_scenario *sc = au_scenario_load_text("<bench raft-election>", text, err);
	if (!sc)
		return -1;
	struct au_sim *sim = au_sim_new(sc, seed);
	/* Up to just before the crash: there must be one leader everyone follows. */
	int rc = au_sim_run(sim, crash_at - 1);
	au_node_id old = rc ? 0 : br_agreed_leader(sim, EL_NODES);
	uint64_t term0 = old ? au_raft_term(au_bench_raft_of(sim, old)) : 0;
	if (rc == 0 && old)
		rc = au_sim_run(sim, crash_at);
	if (rc != 0) {
		out->status = EL_VIOLATION;
	} else if (!old || au_sim_node_up(sim, old)) {
		out->status = EL_NO_WARMUP; /* (the crash fault always takes the leader down) */
	} else {
		/* One event at a time, so the moment a survivor becomes leader is
		 * the exact simulated time of the event that made it leader. */
		au_time deadline = crash_at + cap_ns;
		const struct au_sim_stats *st = au_sim_stats(sim);
		out->status = EL_DONE;
		for (;;) {
			uint64_t before = st->events;
			au_sim_set_max_events(sim, before + 1);
			if (au_sim_run(sim, deadline) != 0) {
				out->status = EL_VIOLATION;
				break;
			}
			if (st->events == before)
				break; /* nothing left before the deadline */
			au_time since = st->sim_time_ns - crash_at;
			if (out->elected_ns < 0) {
				for (au_node_id n = 1; n <= EL_NODES; n++) {
					struct au_raft *r = au_bench_raft_of(sim, n);
					if (r && au_raft_is_leader(r)) {
						out->elected_ns = since;
						break;
					}
				}
			}
			if (out->elected_ns >= 0) {
				au_node_id now_leader = br_agreed_leader(sim, EL_NODES);
				if (now_leader) {
					out->heard_ns = since;
					out->terms = au_raft_term(au_bench_raft_of(sim, now_leader)) - term0;
					break;
				}
			}
		}
		au_sim_set_max_events(sim, 0);
	}
	if (out->status == EL_DONE && au_sim_finish(sim) != 0)
		out->status = EL_VIOLATION;
	if (out->status == EL_VIOLATION) {
		const struct au_violation *v = au_sim_violation(sim);
		fprintf(stderr, "aureon-sim: raft-election %u-%u seed %" G_GUINT64_FORMAT
			": check %s failed at t=%" G_GINT64_FORMAT " ns: %s\n",
			rg->lo_ms, rg->hi_ms, seed, v ? v->check : "?", v ? v->t_ns : 0,
			v ? v->detail : "?");
	}
	au_sim_free(sim);
	au_scenario_free(sc);
	return 0;
}

/* Run one trial: the crash comes after 1 s of warm-up, or, if the cluster
 * has no leader that every server follows by then (the short-timeout
 * ranges can livelock for a while: a new leader's first AppendEntries
 * does not reach the others before they time out), the same trial is
 * replayed from the start with the crash 1 s later, up to EL_ATTEMPTS
 * times.  The offset within the heartbeat interval stays the same. */
static int el_run_trial(const struct el_range *rg, uint64_t seed, au_time cap_ns,
			const char *latency, const char *sync, struct el_trial *out, char **err)
{
	au_time hb = (au_time)rg->lo_ms * AU_NS_PER_MS / 2;
	memset(out, 0, sizeof(*out));
	out->seed = seed;
	out->offset_ns = (au_time)(au_hash_mix64(seed ^ UINT64_C(0x63726173682d6174)) % (uint64_t)hb);
	for (int a = 1; a <= EL_ATTEMPTS; a++) {
		out->warmup_ns = a * EL_WARMUP_NS;
		if (el_attempt(rg, seed, out->warmup_ns + out->offset_ns, cap_ns, latency, sync, out,
			       err) != 0)
			return -1;
		if (out->status != EL_NO_WARMUP)
			break;
	}
	return 0;
}

/* Compare doubles for qsort (infinities last). */
static int el_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0..100] of sorted v[0..n). */
static double el_percentile(const double *v, uint32_t n, double p)
{
	if (n == 0)
		return NAN;
	double rank = ceil(p / 100.0 * n);
	uint32_t i = rank < 1 ? 0 : (uint32_t)rank - 1;
	return v[i < n ? i : n - 1];
}

/* Statistics of elected_ns (heard = false) or heard_ns over the measured
 * trials; the mean is over the trials that found a leader. */
static struct el_stats el_summarise(const struct el_trial *t, uint32_t n, bool heard)
{
	struct el_stats s = {0};
	double *v = g_new(double, n ? n : 1);
	double sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].status != EL_DONE)
			continue;
		au_time x = heard ? t[i].heard_ns : t[i].elected_ns;
		double ms = x < 0 ? INFINITY : (double)x / 1e6;
		v[s.n++] = ms;
		if (x >= 0) {
			s.found++;
			sum += ms;
		}
	}
	qsort(v, s.n, sizeof(double), el_cmp_double);
	s.min = s.n ? v[0] : NAN;
	s.max = s.n ? v[s.n - 1] : NAN;
	s.p50 = el_percentile(v, s.n, 50);
	s.p90 = el_percentile(v, s.n, 90);
	s.p99 = el_percentile(v, s.n, 99);
	s.mean = s.found ? sum / s.found : NAN;
	g_free(v);
	return s;
}

/* Format a time in ms for the table: ">30s" for infinity (the cap). */
static const char *el_fmt(double ms, char *buf, size_t len, const char *inf)
{
	if (isnan(ms))
		snprintf(buf, len, "-");
	else if (isinf(ms))
		snprintf(buf, len, "%s", inf);
	else
		snprintf(buf, len, "%.1f", ms);
	return buf;
}

/* Print one table row of statistics. */
static void el_print_row(const struct el_range *rg, const struct el_stats *s, uint32_t skipped,
			 uint32_t retried, double mean_terms, double wall, const char *inf,
			 bool with_paper)
{
	char b[6][24], terms[16];
	char name[24];
	if (isfinite(mean_terms))
		snprintf(terms, sizeof(terms), "%.2f", mean_terms);
	else
		snprintf(terms, sizeof(terms), "-");
	snprintf(name, sizeof(name), "%u-%u", rg->lo_ms, rg->hi_ms);
	printf("  %-8s %5.1f %6u %8s %8s %8s %8s %8s %8s %6u %5s %6.1f", name,
	       (double)rg->lo_ms / 2, s->n, el_fmt(s->min, b[0], 24, inf),
	       el_fmt(s->p50, b[1], 24, inf), el_fmt(s->mean, b[2], 24, inf),
	       el_fmt(s->p90, b[3], 24, inf), el_fmt(s->p99, b[4], 24, inf),
	       el_fmt(s->max, b[5], 24, inf), s->n - s->found, terms, wall);
	if (skipped)
		printf("  (%u trials not measured)", skipped);
	if (retried)
		printf("  (%u after a longer warm-up)", retried);
	if (with_paper && rg->paper[0])
		printf("  paper: %s", rg->paper);
	printf("\n");
}

/* Parse "LO-HI" (ms) into a range; false if malformed. */
static bool el_parse_range(const char *s, struct el_range *out)
{
	uint64_t lo, hi;
	g_auto(GStrv) parts = g_strsplit(s, "-", 2);
	if (g_strv_length(parts) != 2 || !au_parse_u64(parts[0], &lo) || !au_parse_u64(parts[1], &hi) ||
	    lo < 2 || hi < lo || hi > 600000)
		return false;
	out->lo_ms = (unsigned)lo;
	out->hi_ms = (unsigned)hi;
	out->paper = "";
	for (size_t i = 0; i < G_N_ELEMENTS(el_ranges); i++)
		if (el_ranges[i].lo_ms == lo && el_ranges[i].hi_ms == hi)
			out->paper = el_ranges[i].paper;
	return true;
}

/* A time from the crash for the CSV file: ms, "inf" for never, or empty
 * when the trial was not measured. */
static const char *el_csv_ms(const struct el_trial *t, au_time ns, char *buf, size_t len)
{
	if (t->status != EL_DONE)
		snprintf(buf, len, "%s", "");
	else if (ns < 0)
		snprintf(buf, len, "inf");
	else
		snprintf(buf, len, "%.6f", (double)ns / 1e6);
	return buf;
}

/* Write one trial as a CSV row (header: see el_usage). */
static void el_csv_row(FILE *csv, const struct el_range *rg, uint64_t k, const struct el_trial *t)
{
	static const char *const status[] = {"done", "nowarmup", "violation"};
	char e[32], h[32];
	fprintf(csv, "%u-%u,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%.6f,%.3f,%s,%s,%s,%"
		G_GUINT64_FORMAT "\n", rg->lo_ms, rg->hi_ms, k, t->seed, (double)t->offset_ns / 1e6,
		(double)t->warmup_ns / 1e9, status[t->status], el_csv_ms(t, t->elected_ns, e, sizeof(e)),
		el_csv_ms(t, t->heard_ns, h, sizeof(h)), t->terms);
}

/* Append one measure's statistics to the JSON object. */
static void el_json_stats(GString *o, const char *key, const struct el_stats *s)
{
	g_string_append_printf(o, ", \"%s\": {\"found\": %u", key, s->found);
	br_json_num(o, "min", s->min, ", ");
	br_json_num(o, "median", s->p50, ", ");
	br_json_num(o, "mean", s->mean, ", ");
	br_json_num(o, "p90", s->p90, ", ");
	br_json_num(o, "p99", s->p99, ", ");
	br_json_num(o, "max", s->max, ", ");
	g_string_append(o, "}");
}

/* `bench raft-election`: parse the options, run every range, print the tables. */
int au_bench_raft_election(int argc, char **argv)
{
	uint64_t trials = 1000, seed = 42;
	au_time cap_ns = EL_DEFAULT_CAP_NS;
	bool json = false, custom_net = false;
	const char *csv_path = NULL, *latency = EL_LATENCY, *sync = EL_SYNC;
	struct el_range chosen[EL_MAX_RANGES];
	size_t n_chosen = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(el_usage, stdout);
			return BR_EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--trials") == 0 || strcmp(a, "--seed") == 0) {
			uint64_t *dst = strcmp(a, "--trials") == 0 ? &trials : &seed;
			if (i + 1 >= argc || !au_parse_u64(argv[i + 1], dst))
				return au_report_usage_error(el_usage, "%s needs a non-negative integer", a);
			i++;
		} else if (strcmp(a, "--csv") == 0) {
			if (i + 1 >= argc)
				return au_report_usage_error(el_usage, "--csv needs a file name");
			csv_path = argv[++i];
		} else if (strcmp(a, "--cap") == 0) {
			if (i + 1 >= argc || !au_parse_duration(argv[i + 1], &cap_ns) || cap_ns <= 0 ||
			    cap_ns > 3600 * AU_NS_PER_S)
				return au_report_usage_error(el_usage, "--cap needs a duration with a unit, "
								"at most 1h (e.g. 30s)");
			i++;
		} else if (strcmp(a, "--latency") == 0 || strcmp(a, "--sync") == 0) {
			struct au_dist d;
			const char *why = "missing";
			if (i + 1 >= argc || !au_parse_dist(argv[i + 1], &d, &why) ||
			    strpbrk(argv[i + 1], "\n[]=#"))
				return au_report_usage_error(el_usage, "%s needs a distribution such as "
								"uniform(5ms,9ms) (%s)", a, why);
			*(strcmp(a, "--sync") == 0 ? &sync : &latency) = argv[++i];
			custom_net = true;
		} else if (strcmp(a, "--range") == 0) {
			if (i + 1 >= argc || !el_parse_range(argv[i + 1], &chosen[n_chosen]))
				return au_report_usage_error(el_usage, "--range needs LO-HI in ms with "
								"2 <= LO <= HI (e.g. 150-155)");
			if (++n_chosen == EL_MAX_RANGES)
				return au_report_usage_error(el_usage, "at most %d --range options",
						      EL_MAX_RANGES - 1);
			i++;
		} else {
			return au_report_usage_error(el_usage, "unknown option %s", a);
		}
	}
	if (trials < 1 || trials > 1000000)
		return au_report_usage_error(el_usage, "--trials must be in 1..1000000");
	const struct el_range *ranges = n_chosen ? chosen : el_ranges;
	size_t n_ranges = n_chosen ? n_chosen : G_N_ELEMENTS(el_ranges);
	FILE *csv = NULL;
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (!csv) {
			fprintf(stderr, "aureon-sim: --csv %s: cannot write: %s\n", csv_path,
				strerror(errno));
			return BR_EXIT_USAGE;
		}
		fprintf(csv, "range,trial,seed,offset_ms,warmup_s,status,ms,heard_ms,terms\n");
	}
	char inf[32], capbuf[24];
	au_format_duration(cap_ns, capbuf, sizeof(capbuf));
	snprintf(inf, sizeof(inf), ">%s", capbuf);
	bool progress = !json && isatty(STDERR_FILENO);
	struct el_trial *t = g_new(struct el_trial, trials);
	GString *o = g_string_new(NULL);
	if (json) {
		g_string_append_printf(o, "{\"bench\": \"raft-election\", \"nodes\": %u, \"seed\": %"
				       G_GUINT64_FORMAT ", \"trials\": %" G_GUINT64_FORMAT ", \"latency\": ",
				       EL_NODES, seed, trials);
		au_report_json_string(o, latency);
		g_string_append(o, ", \"sync_latency\": ");
		au_report_json_string(o, sync);
		g_string_append_printf(o, ", \"cap_ms\": %.0f, \"prevote\": false, \"check_quorum\": "
				       "false, \"ranges\": [", (double)cap_ns / 1e6);
	} else {
		printf("raft-election (Raft paper, Figure 16): %u servers, %" G_GUINT64_FORMAT
		       " trials per range, seed %" G_GUINT64_FORMAT "\n", EL_NODES, trials, seed);
		printf("  network latency %s one-way, disk sync %s%s;\n", latency, sync,
		       custom_net ? "" : " (round trip + disk write ~15 ms)");
		printf("  PreVote and CheckQuorum off; heartbeat = min election timeout / 2; leader "
		       "crashed at a random\n  point of its heartbeat interval after 1 s (up to %d s "
		       "if there is no leader yet), kept down;\n  a trial gives up after %s.\n",
		       EL_ATTEMPTS, capbuf);
		printf("  ms = crash until a survivor becomes leader; none = trials with no leader "
		       "within the cap\n  (counted as %s in the percentiles; the mean is over the others); "
		       "terms = mean election rounds.\n\n", inf);
		printf("  %-8s %5s %6s %8s %8s %8s %8s %8s %8s %6s %5s %6s\n", "range", "hb", "trials",
		       "min", "median", "mean", "p90", "p99", "max", "none", "terms", "wall");
	}
	double wall_total0 = au_report_wall_seconds();
	struct el_stats *heard_stats = g_new0(struct el_stats, n_ranges);
	uint32_t *skipped_all = g_new0(uint32_t, n_ranges), *retried_all = g_new0(uint32_t, n_ranges);
	double *terms_all = g_new0(double, n_ranges), *wall_all = g_new0(double, n_ranges);
	int rc = BR_EXIT_OK;
	bool failed = false;
	for (size_t ri = 0; ri < n_ranges && !failed; ri++) {
		const struct el_range *rg = &ranges[ri];
		double w0 = au_report_wall_seconds(), last = w0;
		uint32_t skipped = 0, violations = 0, retried = 0;
		double terms_sum = 0;
		uint32_t terms_n = 0;
		for (uint64_t k = 0; k < trials; k++) {
			/* Independent trials: the seed depends on the base seed and
			 * the trial number only, so range X trial k and range Y trial
			 * k share their random streams (common random numbers). */
			uint64_t tseed = au_hash_mix64(seed ^ au_hash_mix64(k + 1));
			char *err = NULL;
			if (el_run_trial(rg, tseed, cap_ns, latency, sync, &t[k], &err) != 0) {
				fprintf(stderr, "aureon-sim: internal error: %s\n", err);
				g_free(err);
				rc = BR_EXIT_USAGE;
				failed = true;
				break;
			}
			if (t[k].status == EL_NO_WARMUP)
				skipped++;
			else if (t[k].warmup_ns > EL_WARMUP_NS)
				retried++;
			if (t[k].status == EL_VIOLATION)
				violations++;
			if (t[k].status == EL_DONE && t[k].heard_ns >= 0) {
				terms_sum += (double)t[k].terms;
				terms_n++;
			}
			if (csv) {
				el_csv_row(csv, rg, k, &t[k]);
			}
			double now = au_report_wall_seconds();
			if (progress && now - last > 0.5) {
				fprintf(stderr, "\r  %u-%u: %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
					" trials, %.1f s ", rg->lo_ms, rg->hi_ms, k + 1, trials, now - w0);
				last = now;
			}
		}
		if (progress)
			fprintf(stderr, "\r%60s\r", "");
		if (failed)
			break;
		double wall = au_report_wall_seconds() - w0;
		struct el_stats se = el_summarise(t, (uint32_t)trials, false);
		struct el_stats sh = el_summarise(t, (uint32_t)trials, true);
		double mean_terms = terms_n ? terms_sum / terms_n : NAN;
		heard_stats[ri] = sh;
		skipped_all[ri] = skipped + violations;
		retried_all[ri] = retried;
		terms_all[ri] = mean_terms;
		wall_all[ri] = wall;
		if (violations)
			rc = 1;
		if (json) {
			g_string_append_printf(o, "%s{\"range\": \"%u-%u\", \"lo_ms\": %u, \"hi_ms\": %u"
					       ", \"heartbeat_ms\": %.1f, \"measured\": %u, \"no_leader\": %u"
					       ", \"not_measured\": %u, \"violations\": %u"
					       ", \"longer_warmup\": %u",
					       ri ? ", " : "", rg->lo_ms, rg->hi_ms, rg->lo_ms, rg->hi_ms,
					       (double)rg->lo_ms / 2, se.n, se.n - se.found, skipped,
					       violations, retried);
			br_json_num(o, "mean_terms", mean_terms, ", ");
			el_json_stats(o, "elected_ms", &se);
			el_json_stats(o, "heard_ms", &sh);
			g_string_append(o, ", \"paper\": ");
			au_report_json_string(o, rg->paper);
			g_string_append_printf(o, ", \"wall_s\": %.3f}", wall);
		} else {
			el_print_row(rg, &se, skipped + violations, retried, mean_terms, wall, inf, true);
			fflush(stdout);
		}
	}
	double wall_total = au_report_wall_seconds() - wall_total0;
	if (failed) {
		/* nothing more to print */
	} else if (json) {
		g_string_append_printf(o, "], \"wall_s\": %.3f, \"peak_rss_bytes\": %" G_GUINT64_FORMAT
				       "}\n", wall_total, au_report_peak_rss_bytes());
		fputs(o->str, stdout);
	} else {
		printf("\n  heard = crash until every surviving server follows the new leader (the "
		       "paper's measure:\n  until the others receive the new leader's first heartbeat)\n\n");
		printf("  %-8s %5s %6s %8s %8s %8s %8s %8s %8s %6s %5s %6s\n", "range", "hb", "trials",
		       "min", "median", "mean", "p90", "p99", "max", "none", "terms", "wall");
		for (size_t ri = 0; ri < n_ranges; ri++)
			el_print_row(&ranges[ri], &heard_stats[ri], skipped_all[ri], retried_all[ri],
				     terms_all[ri], wall_all[ri], inf, true);
		printf("\n  total wall time %.1f s\n", wall_total);
	}
	if (csv && fclose(csv) != 0) {
		fprintf(stderr, "aureon-sim: --csv %s: write failed: %s\n", csv_path, strerror(errno));
		rc = BR_EXIT_USAGE;
	}
	g_string_free(o, TRUE);
	g_free(t);
	g_free(heard_stats);
	g_free(skipped_all);
	g_free(retried_all);
	g_free(terms_all);
	g_free(wall_all);
	return rc;
}
