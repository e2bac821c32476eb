/* test_chaos.c — seeded chaos: the plan generator is a pure function of
 * (scenario, seed) and stays within the [chaos] bounds, every kind of the
 * standard scenarios fits their budget and is generated, correlated chains
 * hit one node in close succession and replay, plans written as
 * [fault.*] groups load back unchanged, sweeps give the same results for
 * any --jobs and any --shard split, a reproducer replays its failure with
 * the same trace hash (at -O2 and -O0), shrinking keeps the failure, the
 * determinism re-run names the first divergent record, bad arguments exit
 * 2, and the bounded CI sweep over the standard scenarios passes. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orchestrator.h"
#include "sim/chaos/chaos.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

static char *render(const struct au_scenario *sc, uint64_t seed)
{
	struct au_chaos_plan *p = au_chaos_plan_new(sc, seed);
	char *t = au_chaos_render(sc, p, NULL);
	au_chaos_plan_free(p);
	return t;
}

/* A scenario whose liveness bound (a commit within 30 ms of the last fault)
 * many seeds cannot meet: sweeps over it have failures to report, replay
 * and shrink, with the real code. */
static const char *const impossible_liveness =
	"[run]\nname = impossible-liveness\nduration = 4s\n"
	"[cluster]\nnodes = 3\nservices = raft,kv\n"
	"[workload]\nkv_clients = 1\nkv_rate = 20/s\n"
	"[chaos]\nmax_faults = 4\nstart = 500ms\nquiet_period = 1s\nfault_duration = 50ms..1s\n"
	"[check]\ninvariants = raft_safety, linearizable_kv\nliveness = leader_within:30ms\n";

static char *tmp_dir(void)
{
	char *d = g_dir_make_tmp("aureon-chaos-XXXXXX", NULL);
	ck_assert(d);
	return d;
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	char *p = g_build_filename(dir, name, NULL);
	ck_assert(g_file_set_contents(p, text, -1, NULL));
	return p;
}

static void rm_rf(const char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int sim_cmd(const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim %s", au_test_bin(), args);
	return au_test_run(cmd, out);
}

/* ---- the generator ------------------------------------------------------- */

START_TEST(plan_is_a_function_of_the_seed)
{
	struct au_scenario *sc = au_test_load("scenarios/chaos-raft.ini");
	g_autofree char *a = render(sc, 7), *b = render(sc, 7), *c = render(sc, 8);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	/* Different seeds make different plans, not just different seed lines. */
	int distinct = 0;
	struct au_chaos_plan *prev = au_chaos_plan_new(sc, 100);
	for (uint64_t s = 101; s < 120; s++) {
		struct au_chaos_plan *p = au_chaos_plan_new(sc, s);
		distinct += p->n_faults != prev->n_faults || p->enabled != prev->enabled ||
			    (p->n_faults && prev->n_faults && p->faults[0].at != prev->faults[0].at);
		au_chaos_plan_free(prev);
		prev = p;
	}
	au_chaos_plan_free(prev);
	ck_assert_int_ge(distinct, 17);
	au_scenario_free(sc);
}
END_TEST

/* The standard chaos scenarios (README: Chaos sweeps). */
static const char *const standard[] = {"scenarios/chaos-raft.ini", "scenarios/chaos-raft-tight.ini",
				       "scenarios/chaos-aureon.ini", "scenarios/chaos-rqml.ini"};

/* The execution layer's lease, or 0. */
static au_time lease_of(const struct au_scenario *sc)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "aureon") == 0 && sc->cluster.service_config[i])
			return ((const struct au_orch_config *)sc->cluster.service_config[i])->lease_ns;
	return 0;
}

/* Does fault `f` name node `n` (as its target, or a partition member)? */
static bool names_node(const struct au_fault *f, au_node_id n)
{
	if (f->target.kind == AU_TARGET_NODE && f->target.node == n)
		return true;
	for (uint32_t m = 0; m < f->n_members; m++)
		if (f->members[m].who.kind == AU_TARGET_NODE && f->members[m].who.node == n)
			return true;
	return false;
}

/* The follow-up crash `f` of a correlated chain, in the loaded plan: an
 * explicit crash that restarts before the quiet period, of a node an
 * earlier fault of the same kind hit just before — while that fault lasted,
 * or within 3 s of it (a lease, for holder_skew's jump). */
static void check_chained(const char *path, uint64_t seed, const struct au_scenario *run,
			  uint32_t idx, int kind, au_time hi, au_time lease)
{
	const struct au_fault *f = &run->faults[idx];
	ck_assert_msg(f->action == AU_FAULT_CRASH && f->target.kind == AU_TARGET_NODE &&
		      f->restart_after > 0 && f->at + f->restart_after <= hi,
		      "%s seed %llu: %s is not a crash of nK that restarts in time", path,
		      (unsigned long long)seed, f->name);
	bool found = false;
	for (uint32_t j = 0; j < idx && !found; j++) {
		const struct au_fault *e = &run->faults[j];
		if (au_chaos_fault_kind(e->name) != kind || !names_node(e, f->target.node))
			continue;
		au_time end = e->until >= 0 ? e->until : e->at;
		if (e->action == AU_FAULT_CRASH)
			end = e->at + e->restart_after;
		au_time slack = e->action == AU_FAULT_SKEW && e->until < 0 && lease ? lease : 3 * AU_NS_PER_S;
		found = e->at < f->at && f->at <= end + slack;
	}
	ck_assert_msg(found, "%s seed %llu: %s follows no fault of its chain on n%u", path,
		      (unsigned long long)seed, f->name, f->target.node);
}

/* Plans of seeds first..last of `path` load (no contradictory schedule),
 * stay inside the bounds, read back as exactly the faults generated, and
 * their correlated chains hit one node in close succession.  Returns the
 * kinds planned; *chains counts plans with a chain. */
static uint32_t check_plans(const char *path, uint64_t first, uint64_t last, uint32_t *chains)
{
	struct au_scenario *sc = au_test_load(path);
	const struct au_chaos_config *c = sc->chaos;
	au_time hi = sc->duration - c->quiet_period, lease = lease_of(sc);
	uint32_t seen_kinds = 0;
	*chains = 0;
	for (uint64_t seed = first; seed <= last; seed++) {
		struct au_chaos_plan *plan = au_chaos_plan_new(sc, seed);
		/* The budget: a group counts one, a whole Raft order one. */
		uint32_t groups = 0, order_transfers[3] = {0, 0, 0};
		for (uint32_t i = 0; i < plan->n_faults; i++) {
			int k = plan->kinds[i];
			if (!au_chaos_kind_is_order((enum au_chaos_kind)k))
				groups++;
			else if (plan->faults[i].action == AU_FAULT_TRANSFER)
				order_transfers[k == AU_CK_CONFIG_RACE ? 0 : k == AU_CK_SPLIT_VOTE ? 1 : 2]++;
		}
		/* config_race and figure8 transfer once, split_vote three times */
		uint32_t orders = order_transfers[0] + order_transfers[1] / 3 + order_transfers[2];
		ck_assert_msg(groups + orders <= c->max_faults && groups + orders == plan->charged,
			      "%s seed %llu: %u groups and %u orders for max_faults %u (charged %u)", path,
			      (unsigned long long)seed, groups, orders, c->max_faults, plan->charged);
		ck_assert_uint_le(plan->n_faults, AU_CHAOS_MAX_FAULTS);
		ck_assert((plan->enabled & ~c->kinds) == 0);
		ck_assert(plan->enabled != 0);
		*chains += plan->chains > 0;
		g_autofree char *text = au_chaos_render(sc, plan, "a header\nof two lines");
		char *err = NULL;
		struct au_scenario *run = au_scenario_load_text(path, text, &err);
		ck_assert_msg(run, "%s seed %llu: %s\n%s", path, (unsigned long long)seed, err, text);
		ck_assert_uint_eq(run->n_faults, sc->n_faults + plan->n_faults);
		ck_assert_uint_eq(run->seed, seed);
		ck_assert(strstr(text, "# a header\n# of two lines\n") == text);
		uint32_t matched = 0, down_for_good = 0, chained = 0;
		bool runs_aureon = false;
		for (uint32_t i = 0; i < sc->cluster.n_services; i++)
			runs_aureon |= strcmp(sc->cluster.services[i]->name, "aureon") == 0;
		for (uint32_t i = 0; i < run->n_faults; i++) {
			const struct au_fault *f = &run->faults[i];
			int k = au_chaos_fault_kind(f->name);
			if (k < 0)
				continue;
			seen_kinds |= 1u << k;
			/* never more than one node down for good (chaos-aureon seed
			 * 428 once planned three of five: no majority, no leader) */
			if (f->action == AU_FAULT_CRASH && f->restart_after < 0)
				ck_assert_msg(++down_for_good <= 1, "%s seed %llu: %u crashes for good", path,
					      (unsigned long long)seed, down_for_good);
			/* with a task queue a leave is a worker gone for good too
			 * (chaos-aureon seed 1609 planned three leaves after a 13 s
			 * outage: too few workers left to clear the backlog) */
			if (f->action == AU_FAULT_LEAVE && runs_aureon)
				ck_assert_msg(++down_for_good <= 1, "%s seed %llu: %u workers gone for good",
					      path, (unsigned long long)seed, down_for_good);
			ck_assert(plan->enabled & (1u << k) || k == AU_CK_ADD_VOTER);
			/* within [start, duration - quiet_period] */
			au_time end = f->until >= 0 ? f->until : f->at;
			if (f->action == AU_FAULT_CRASH)
				end = f->at + f->restart_after;
			/* holder_crash's crash for good: late, but 7 s before the end */
			if (k == AU_CK_HOLDER_CRASH && f->restart_after < 0) {
				ck_assert_int_eq(f->target.kind, AU_TARGET_LEASE_HOLDER);
				ck_assert_int_le(f->at, sc->duration - 7 * AU_NS_PER_S);
				end = f->at < hi ? f->at : hi;
			}
			ck_assert_msg(f->at >= c->start && end <= hi, "%s seed %llu: %s from %lld to %lld",
				      path, (unsigned long long)seed, f->name, (long long)f->at, (long long)end);
			if (g_str_has_suffix(f->name, "-then-crash")) {
				check_chained(path, seed, run, i, k, hi, lease);
				chained++;
			}
			/* the same fault as generated */
			for (uint32_t j = 0; j < plan->n_faults; j++) {
				const struct au_fault *g = &plan->faults[j];
				if (strcmp(g->name, f->name) != 0)
					continue;
				ck_assert_int_eq(g->action, f->action);
				ck_assert_int_eq(g->at, f->at);
				ck_assert_int_eq(g->until, f->until);
				ck_assert_int_eq(g->target.kind, f->target.kind);
				ck_assert_uint_eq(g->target.node, f->target.node);
				ck_assert_int_eq(g->has_link, f->has_link);
				ck_assert(g->rate == f->rate);
				ck_assert_int_eq(g->skew, f->skew);
				ck_assert_int_eq(g->drift_ppm, f->drift_ppm);
				ck_assert_int_eq(g->restart_after, f->restart_after);
				ck_assert_int_eq(g->extra, f->extra);
				ck_assert_uint_eq(g->n_members, f->n_members);
				ck_assert_int_eq(plan->chained[j], g_str_has_suffix(f->name, "-then-crash"));
				matched++;
			}
		}
		ck_assert_uint_eq(matched, plan->n_faults);
		/* a chain is one or two follow-ups */
		ck_assert_uint_ge(chained, plan->chains);
		ck_assert_uint_le(chained, 2 * plan->chains);
		au_scenario_free(run);
		au_chaos_plan_free(plan);
	}
	au_scenario_free(sc);
	return seen_kinds;
}

/* Every plan of 200 seeds of the standard scenarios (and two others) loads,
 * stays in bounds and round-trips; every allowed kind turns up. */
START_TEST(plans_stay_in_bounds_and_round_trip)
{
	const char *paths[] = {"scenarios/chaos-raft.ini",   "scenarios/chaos-raft-tight.ini",
			       "scenarios/chaos-aureon.ini", "scenarios/chaos-rqml.ini",
			       "scenarios/raft-storm.ini",   "scenarios/ping.ini"};
	for (size_t p = 0; p < G_N_ELEMENTS(paths); p++) {
		uint32_t chains;
		uint32_t seen = check_plans(paths[p], 1, 200, &chains);
		struct au_scenario *sc = au_test_load(paths[p]);
		ck_assert_msg((seen & sc->chaos->kinds) == sc->chaos->kinds, "%s: kinds never generated: %x",
			      paths[p], sc->chaos->kinds & ~seen);
		/* [chaos] correlated is on by default: some plans hold a chain */
		ck_assert_msg(chains > 0, "%s: no correlated chain in 200 plans", paths[p]);
		au_scenario_free(sc);
	}
}
END_TEST

/* The same over 2,000 seeds of each standard scenario (slow). */
START_TEST(plans_load_over_many_seeds)
{
	for (size_t p = 0; p < G_N_ELEMENTS(standard); p++) {
		uint32_t chains;
		check_plans(standard[p], 1, 2000, &chains);
		ck_assert_uint_gt(chains, 100);
	}
}
END_TEST

/* Coverage of the generator itself: in every standard scenario each kind
 * it allows — the Raft orders included — fits its max_faults and appears
 * in the plans of 300 seeds, and so does a chain started by each kind that
 * can start one. */
START_TEST(every_kind_fits_the_standard_scenarios)
{
	for (size_t p = 0; p < G_N_ELEMENTS(standard); p++) {
		struct au_scenario *sc = au_test_load(standard[p]);
		const struct au_chaos_config *c = sc->chaos;
		ck_assert(c->correlated > 0);
		uint32_t planned = 0, chained = 0, chain_starters = 0;
		for (int k = 0; k < AU_CK_COUNT_; k++)
			if (c->kinds & (1u << k))
				ck_assert_msg(au_chaos_kind_charge((enum au_chaos_kind)k) <= c->max_faults,
					      "%s: %s is charged more than max_faults", standard[p],
					      au_chaos_kind_name((enum au_chaos_kind)k));
		const int starters[] = {AU_CK_CRASH, AU_CK_PAUSE, AU_CK_SKEW, AU_CK_PARTITION,
					AU_CK_PARTITION_ONEWAY, AU_CK_LEAVE, AU_CK_DRAIN,
					AU_CK_HOLDER_PAUSE, AU_CK_HOLDER_SKEW, AU_CK_LOCK_PAUSE,
					AU_CK_DISK_FULL, AU_CK_SYNC_ERROR};
		for (size_t i = 0; i < G_N_ELEMENTS(starters); i++)
			chain_starters |= (1u << starters[i]) & c->kinds;
		for (uint64_t seed = 1; seed <= 300; seed++) {
			struct au_chaos_plan *plan = au_chaos_plan_new(sc, seed);
			for (uint32_t i = 0; i < plan->n_faults; i++) {
				planned |= 1u << plan->kinds[i];
				if (plan->chained[i])
					chained |= 1u << plan->kinds[i];
			}
			au_chaos_plan_free(plan);
		}
		g_autofree char *missing = au_chaos_kind_list(c->kinds & ~planned);
		ck_assert_msg((planned & c->kinds) == c->kinds, "%s: never planned in 300 seeds: %s",
			      standard[p], missing);
		g_autofree char *unchained = au_chaos_kind_list(chain_starters & ~chained);
		ck_assert_msg(chained == chain_starters, "%s: never started a chain: %s", standard[p],
			      unchained);
		au_scenario_free(sc);
	}
}
END_TEST

/* A plan with correlated chains is deterministic and its reproducer file
 * replays with the same trace hash; correlated = 0 makes no chains, and
 * leaves plans without any correlated draw. */
START_TEST(correlated_chains_replay)
{
	const char *paths[] = {"scenarios/chaos-raft.ini", "scenarios/chaos-aureon.ini"};
	g_autofree char *d = tmp_dir();
	for (size_t p = 0; p < G_N_ELEMENTS(paths); p++) {
		struct au_scenario *sc = au_test_load(paths[p]);
		/* the first seed whose plan holds a chain of three hits */
		uint64_t seed = 0;
		for (uint64_t s = 1; s <= 500 && !seed; s++) {
			struct au_chaos_plan *plan = au_chaos_plan_new(sc, s);
			for (uint32_t i = 1; i < plan->n_faults && !seed; i++)
				for (uint32_t j = 0; j < i && !seed; j++)
					if (plan->chained[i] && plan->chained[j] &&
					    plan->faults[i].target.node == plan->faults[j].target.node)
						seed = s;
			au_chaos_plan_free(plan);
		}
		ck_assert_msg(seed, "%s: no chain of three in 500 seeds", paths[p]);
		g_autofree char *text = render(sc, seed);
		ck_assert(strstr(text, "-then-crash]\n"));
		char hash[2][65];
		for (int rep = 0; rep < 2; rep++) {
			struct au_scenario *run = au_test_load_text("<test>", text);
			struct au_sim *sim = au_sim_new(run, run->seed);
			int rc = au_sim_run(sim, run->duration);
			if (rc == 0)
				rc = au_sim_finish(sim);
			const struct au_violation *v = au_sim_violation(sim);
			ck_assert_msg(rc == 0, "%s seed %llu: %s", paths[p], (unsigned long long)seed,
				      v ? v->detail : "?");
			au_sim_trace_hash(sim, hash[rep]);
			au_sim_free(sim);
			au_scenario_free(run);
		}
		ck_assert_str_eq(hash[0], hash[1]);
		g_autofree char *name = g_strdup_printf("chain-%zu.ini", p);
		g_autofree char *file = write_tmp(d, name, text);
		g_autofree char *args = g_strdup_printf("run %s --json", file);
		char *out = NULL;
		ck_assert_int_eq(sim_cmd(args, &out), 0);
		g_autofree char *rhash = au_test_json_hash(out);
		ck_assert_msg(rhash && strcmp(rhash, hash[0]) == 0, "%s seed %llu: %s", paths[p],
			      (unsigned long long)seed, out);
		g_free(out);
		au_scenario_free(sc);
	}
	rm_rf(d);
	/* correlated = 0: no chains */
	g_autofree char *base = NULL;
	ck_assert(g_file_get_contents("scenarios/chaos-aureon.ini", &base, NULL, NULL));
	ck_assert(strstr(base, "\ncorrelated = 0.25\n"));
	g_auto(GStrv) parts = g_strsplit(base, "\ncorrelated = 0.25\n", 2);
	g_autofree char *off = g_strconcat(parts[0], "\ncorrelated = 0\n", parts[1], NULL);
	struct au_scenario *sc = au_test_load_text("<test>", off);
	ck_assert(sc->chaos->correlated == 0.0);
	for (uint64_t s = 1; s <= 200; s++) {
		struct au_chaos_plan *plan = au_chaos_plan_new(sc, s);
		ck_assert_uint_eq(plan->chains, 0);
		for (uint32_t i = 0; i < plan->n_faults; i++)
			ck_assert(!plan->chained[i]);
		au_chaos_plan_free(plan);
	}
	au_scenario_free(sc);
}
END_TEST

START_TEST(unrestricted_plans_load)
{
	struct au_scenario *sc = au_test_load("scenarios/chaos-raft.ini");
	sc->chaos->mode = AU_CHAOS_UNRESTRICTED;
	uint32_t most = 0;
	for (uint64_t seed = 1; seed <= 100; seed++) {
		g_autofree char *text = render(sc, seed);
		char *err = NULL;
		struct au_scenario *run = au_scenario_load_text("<unrestricted>", text, &err);
		ck_assert_msg(run, "seed %llu: %s", (unsigned long long)seed, err);
		ck_assert(!run->liveness[0]); /* no quiet period: no liveness checks */
		if (run->n_faults > most)
			most = run->n_faults;
		au_scenario_free(run);
	}
	ck_assert_uint_gt(most, 12); /* beyond the swarm bound of the file */
	au_scenario_free(sc);
}
END_TEST

START_TEST(chaos_group_is_strict)
{
	static const struct {
		const char *chaos, *needle;
	} bad[] = {
		{"bogus = 1\n", "[chaos] bogus: unknown key"},
		{"kinds = crash, meteor\n", "unknown fault kind 'meteor'"},
		{"kinds = transfer_leader\n", "does not run (raft)"},
		{"max_faults = 0\n", "[chaos] max_faults"},
		{"mode = gentle\n", "[chaos] mode"},
		{"quiet_period = 10s\n", "leaves no time for faults"},
		{"fault_duration = 2s..1s\n", "[chaos] fault_duration"},
		{"max_rate = 1.5\n", "[chaos] max_rate"},
		{"start = soon\n", "[chaos] start"},
		{"kinds = holder_pause\n", "does not run (raft and aureon)"},
		{"kinds = lock_pause\n", "does not run (raft and aureon with [workload] lock_keys)"},
		{"correlated = 1.5\n", "[chaos] correlated: '1.5' is not a probability"},
		{"correlated = often\n", "[chaos] correlated"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(
			"[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = ping\n[chaos]\n%s", bad[i].chaos);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("x.ini", text, &err);
		ck_assert_msg(!sc && err && strstr(err, bad[i].needle), "%s: got %s", bad[i].chaos,
			      err ? err : "(loaded)");
		g_free(err);
	}
	/* A quiet period shorter than the liveness window is refused. */
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"x.ini",
		"[run]\nduration = 30s\n[cluster]\nnodes = 3\nservices = raft\n"
		"[chaos]\nquiet_period = 2s\n[check]\nliveness = leader_within:5s\n", &err);
	ck_assert_msg(!sc && strstr(err, "shorter than the liveness window"), "%s", err ? err : "");
	g_free(err);
	/* Holder targets need the execution layer. */
	err = NULL;
	sc = au_scenario_load_text("x.ini",
				   "[run]\nduration = 30s\n[cluster]\nnodes = 3\nservices = raft\n"
				   "[fault.p]\nat = 1s\naction = pause\ntarget = lease_holder\nuntil = 2s\n",
				   &err);
	ck_assert_msg(!sc && strstr(err, "needs the execution layer"), "%s", err ? err : "");
	g_free(err);
	/* Defaults: every supported kind but the two outside Raft's storage
	 * model; without raft, no raft admin kinds. */
	sc = au_test_load_text("<test>", "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = ping\n");
	ck_assert(!(sc->chaos->kinds & (1u << AU_CK_TRANSFER_LEADER)));
	ck_assert(!(sc->chaos->kinds & (1u << AU_CK_READ_ERROR)));
	ck_assert(sc->chaos->kinds & (1u << AU_CK_CRASH));
	ck_assert(sc->chaos->correlated == AU_CHAOS_CORRELATED_DEFAULT);
	au_scenario_free(sc);
	sc = au_test_load_text("<test>", "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft\n[chaos]\nkinds = all\n");
	ck_assert_uint_eq(sc->chaos->kinds, au_chaos_supported_kinds(sc));
	au_scenario_free(sc);
}
END_TEST

/* The line editor keeps everything it does not touch. */
START_TEST(ini_edits_leave_the_rest_verbatim)
{
	const char *text = "# top\n[run]\nname = x   # inline\nduration = 1s\n\n# about b\n[b]\nk=v\n";
	struct au_ini *ini = au_ini_parse(text);
	g_autofree char *same = au_ini_to_text(ini);
	ck_assert_str_eq(same, text);
	g_autofree char *name = au_ini_get(ini, "run", "name");
	ck_assert_str_eq(name, "x");
	au_ini_set(ini, "run", "seed", "5");
	au_ini_set(ini, "run", "duration", "2s");
	au_ini_remove_group(ini, "b");
	au_ini_set(ini, "c", "z", "1");
	g_autofree char *out = au_ini_to_text(ini);
	ck_assert_str_eq(out, "# top\n[run]\nname = x   # inline\nduration = 2s\nseed = 5\n\n[c]\nz = 1\n");
	au_ini_free(ini);
}
END_TEST

/* The Raft order kinds play their faults in whole sets (so a plan never
 * holds half of one), the plans load, a sweep of them is deterministic
 * (every seed re-run) and passes with the real code, and the coverage
 * table shows the orders they exist for happened. */
START_TEST(raft_orders_play_whole)
{
	g_autofree char *base = NULL;
	ck_assert(g_file_get_contents("scenarios/chaos-raft-tight.ini", &base, NULL, NULL));
	ck_assert(strstr(base, "\nmax_faults = 40\n"));
	g_auto(GStrv) parts = g_strsplit(base, "\nmax_faults = 40\n", 2);
	g_autofree char *text = g_strconcat(parts[0], "\nmax_faults = 40\nkinds = config_race, split_vote, figure8\n",
					    parts[1], NULL);
	struct au_scenario *sc = au_test_load_text("<test>", text);
	uint32_t seeds_with[3] = {0, 0, 0};
	for (uint64_t seed = 1; seed <= 60; seed++) {
		struct au_chaos_plan *p = au_chaos_plan_new(sc, seed);
		uint32_t n[3] = {0, 0, 0}, transfers[3] = {0, 0, 0};
		for (uint32_t i = 0; i < p->n_faults; i++) {
			int k = p->kinds[i] == AU_CK_CONFIG_RACE ? 0 : p->kinds[i] == AU_CK_SPLIT_VOTE ? 1 : 2;
			ck_assert(k < 2 || p->kinds[i] == AU_CK_FIGURE8);
			n[k]++;
			transfers[k] += p->faults[i].action == AU_FAULT_TRANSFER;
		}
		/* config_race: 10 groups, one a transfer; figure8: 17, one;
		 * split_vote: 6 or 7 (with the voter's crash), three */
		ck_assert_uint_eq(n[0], 10 * transfers[0]);
		ck_assert_uint_eq(n[2], 17 * transfers[2]);
		ck_assert_uint_eq(transfers[1] % 3, 0);
		ck_assert_uint_ge(n[1], 2 * transfers[1]);
		ck_assert_uint_le(n[1], 7 * transfers[1] / 3);
		for (int k = 0; k < 3; k++)
			seeds_with[k] += n[k] > 0;
		g_autofree char *run_text = au_chaos_render(sc, p, NULL);
		struct au_scenario *run = au_test_load_text("<test>", run_text);
		ck_assert_uint_eq(run->n_faults, p->n_faults);
		au_scenario_free(run);
		au_chaos_plan_free(p);
	}
	for (int k = 0; k < 3; k++)
		ck_assert_uint_gt(seeds_with[k], 5);
	au_scenario_free(sc);

	g_autofree char *d = tmp_dir();
	g_autofree char *path = write_tmp(d, "orders.ini", text);
	g_autofree char *args = g_strdup_printf("chaos %s --store-max 0 --seeds 1-24 --jobs 2 --check-determinism=100 "
						"--no-shrink --out %s/out --quiet 2>&1", path, d);
	char *out = NULL;
	int rc = sim_cmd(args, &out);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert(strstr(out, "every trace hash identical"));
	const char *situations[] = {"a voter following its term's leader was asked by another candidate",
				    "a membership change reached a leader before it committed in its term",
				    "a leader crashed before it committed in its term"};
	for (size_t i = 0; i < G_N_ELEMENTS(situations); i++) {
		const char *line = strstr(out, situations[i]);
		ck_assert_msg(line, "%s", out);
		g_autofree char *l = g_strndup(line, strcspn(line, "\n"));
		ck_assert_msg(!strstr(l, "never"), "%s", l);
	}
	g_free(out);
	rm_rf(d);
}
END_TEST

/* ---- sweeps through the CLI ------------------------------------------------ */

/* The part of a --json summary that must not depend on --jobs: everything
 * from failures_per_check on, with the output directory normalised. */
static char *stable_part(const char *json, const char *dir)
{
	const char *p = strstr(json, "\"failures_per_check\"");
	ck_assert_msg(p, "%s", json);
	g_auto(GStrv) parts = g_strsplit(p, dir, -1);
	return g_strjoinv("DIR", parts);
}

/* Sweeps in this file pass --store-max 0: the store (a trace and a report per
 * failing seed) is tested in test_store.c; here it would only cost time. */
START_TEST(results_do_not_depend_on_jobs_or_shards)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *sc = write_tmp(d, "live.ini", impossible_liveness);
	char *out1 = NULL, *out2 = NULL, *s1 = NULL, *s2 = NULL;
	g_autofree char *a1 = g_strdup_printf("chaos %s --store-max 0 --seeds 1-40 --jobs 1 --no-shrink --json --out %s/j1", sc, d);
	g_autofree char *a2 = g_strdup_printf("chaos %s --store-max 0 --seeds 1-40 --jobs 2 --no-shrink --json --out %s/j2", sc, d);
	ck_assert_int_eq(sim_cmd(a1, &out1), 1);
	ck_assert_int_eq(sim_cmd(a2, &out2), 1);
	g_autofree char *dir1 = g_strdup_printf("%s/j1", d), *dir2 = g_strdup_printf("%s/j2", d);
	g_autofree char *p1 = stable_part(out1, dir1), *p2 = stable_part(out2, dir2);
	ck_assert_str_eq(p1, p2);
	/* Not vacuous: some seeds failed, some passed. */
	ck_assert(strstr(out1, "\"seeds_run\": 40, \"failed\": 0,") == NULL);
	ck_assert(strstr(out1, "\"seeds_run\": 40, \"failed\": 40,") == NULL);
	ck_assert(strstr(out1, "\"seeds_run\": 40, \"failed\": "));
	/* Reproducer files are identical too. */
	GDir *gd = g_dir_open(dir1, 0, NULL);
	const char *name;
	int files = 0;
	while ((name = g_dir_read_name(gd))) {
		g_autofree char *f1 = g_build_filename(dir1, name, NULL), *f2 = g_build_filename(dir2, name, NULL);
		g_autofree char *c1 = NULL, *c2 = NULL;
		if (g_file_test(f1, G_FILE_TEST_IS_DIR))
			continue; /* the store (its run.txt has wall times); test_store.c checks it */
		ck_assert(g_file_get_contents(f1, &c1, NULL, NULL));
		ck_assert_msg(g_file_get_contents(f2, &c2, NULL, NULL), "%s missing with --jobs 2", name);
		ck_assert_str_eq(c1, c2);
		files++;
	}
	g_dir_close(gd);
	ck_assert_int_gt(files, 0);
	/* Shards 1/2 and 2/2 fail exactly the seeds the whole sweep fails. */
	g_autofree char *sh1 = g_strdup_printf("chaos %s --store-max 0 --seeds 1-40 --shard 1/2 --no-shrink --json --out %s/s", sc, d);
	g_autofree char *sh2 = g_strdup_printf("chaos %s --store-max 0 --seeds 1-40 --shard 2/2 --no-shrink --json --out %s/s", sc, d);
	sim_cmd(sh1, &s1);
	sim_cmd(sh2, &s2);
	for (int seed = 1; seed <= 40; seed++) {
		g_autofree char *key = g_strdup_printf("{\"seed\": %d,", seed);
		bool whole = strstr(out1, key) != NULL;
		bool in1 = strstr(s1, key) != NULL, in2 = strstr(s2, key) != NULL;
		ck_assert_msg(whole == (in1 || in2) && !(in1 && in2), "seed %d", seed);
		ck_assert(!in1 || seed % 2 == 1);
		ck_assert(!in2 || seed % 2 == 0);
	}
	ck_assert(strstr(s1, "\"seeds_run\": 20,"));
	g_free(out1);
	g_free(out2);
	g_free(s1);
	g_free(s2);
	rm_rf(d);
}
END_TEST

static char *json_field(const char *json, const char *key)
{
	g_autofree char *k = g_strdup_printf("\"%s\": ", key);
	const char *p = strstr(json, k);
	if (!p)
		return NULL;
	p += strlen(k);
	size_t n = *p == '"' ? strcspn(p + 1, "\"") + 2 : strcspn(p, ",}");
	return g_strndup(p, n);
}

/* A failing seed's reproducer fails the same check at the same simulated
 * time with the same trace hash, with no generator involved — at -O2 and at
 * -O0 — and its shrunk version fails the same check too. */
START_TEST(reproducer_replays_and_shrinks)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *sc = write_tmp(d, "live.ini", impossible_liveness);
	char *out = NULL;
	/* The first failing seed of 1-20 is replayed and shrunk. */
	g_autofree char *args = g_strdup_printf("chaos %s --store-max 0 --seeds 1-20 --jobs 2 --json --out %s "
						"--shrink 1 --shrink-time 20", sc, d);
	ck_assert_int_eq(sim_cmd(args, &out), 1);
	g_autofree char *fs = strstr(out, "\"failing_seeds\": [{") ? g_strdup(strstr(out, "\"failing_seeds\": [{")) : NULL;
	ck_assert_msg(fs, "%s", out);
	g_autofree char *seed = json_field(fs, "seed");
	g_autofree char *check = json_field(fs, "check"), *t = json_field(fs, "t_ns");
	g_autofree char *hash = json_field(fs, "trace_hash");
	ck_assert_str_eq(check, "\"leader_within\"");
	const char *bins[] = {au_test_bin(), getenv("AU_BIN_O0")};
	for (size_t b = 0; b < 2; b++) {
		if (!bins[b] || !*bins[b])
			continue;
		g_autofree char *cmd = g_strdup_printf("%s/aureon-sim run %s/repro-%s.ini --json", bins[b], d, seed);
		char *rout = NULL;
		ck_assert_int_eq(au_test_run(cmd, &rout), 1);
		g_autofree char *rcheck = json_field(rout, "check"), *rt = json_field(rout, "t_ns");
		g_autofree char *rhash = json_field(rout, "trace_hash");
		ck_assert_str_eq(rcheck, check);
		ck_assert_str_eq(rt, t);
		ck_assert_str_eq(rhash, hash);
		g_free(rout);
	}
	/* The reproducer has no [chaos] group left, only explicit faults. */
	g_autofree char *repro = NULL;
	g_autofree char *rp = g_strdup_printf("%s/repro-%s.ini", d, seed);
	ck_assert(g_file_get_contents(rp, &repro, NULL, NULL));
	ck_assert(strstr(repro, "\n# [chaos]\n"));
	ck_assert(strstr(repro, "[fault.chaos-01-"));
	g_autofree char *seed_line = g_strdup_printf("\nseed = %s\n", seed);
	ck_assert(strstr(repro, seed_line));
	/* The shrunk one: smaller, same check, and its header's hash replays. */
	ck_assert_msg(strstr(fs, "\"shrunk\": {\"file\""), "%s", out);
	g_autofree char *shrunk = g_strdup(strstr(fs, "\"shrunk\""));
	g_autofree char *fb = json_field(shrunk, "faults_before"), *fa = json_field(shrunk, "faults_after");
	g_autofree char *shash = json_field(shrunk, "trace_hash");
	ck_assert_int_le(atoi(fa), atoi(fb));
	char *mout = NULL;
	g_autofree char *mcmd = g_strdup_printf("run %s/repro-%s.min.ini --json", d, seed);
	ck_assert_int_eq(sim_cmd(mcmd, &mout), 1);
	g_autofree char *mcheck = json_field(mout, "check"), *mhash = json_field(mout, "trace_hash");
	ck_assert_str_eq(mcheck, check);
	ck_assert_str_eq(mhash, shash);
	g_free(mout);
	g_free(out);
	rm_rf(d);
}
END_TEST

/* aureon-sim shrink on a file that fails; and on one that passes. */
START_TEST(shrink_command)
{
	g_autofree char *d = tmp_dir();
	/* Every fault spelled out, the impossible window still fails. */
	g_autofree char *text = g_strdup_printf(
		"%s[fault.a]\nat = 1s\naction = crash\ntarget = n1\nrestart_after = 300ms\n"
		"[fault.b]\nat = 1500ms\naction = partition\ngroups = n1 | n2,n3\nuntil = 2s\n"
		"[fault.c]\nat = 2100ms\naction = loss\ntarget = n2\nrate = 0.5\nuntil = 2400ms\n",
		impossible_liveness);
	g_autofree char *f = write_tmp(d, "fails.ini", text);
	char *out = NULL;
	g_autofree char *args = g_strdup_printf("shrink %s --time 20", f);
	ck_assert_int_eq(sim_cmd(args, &out), 0);
	ck_assert_msg(strstr(out, "fails leader_within"), "%s", out);
	g_free(out);
	g_autofree char *m = g_strdup_printf("run %s/fails.min.ini --json", d);
	ck_assert_int_eq(sim_cmd(m, &out), 1);
	ck_assert(strstr(out, "\"check\": \"leader_within\""));
	g_free(out);
	g_autofree char *ok = g_strdup_printf("shrink scenarios/raft-basic.ini --out %s/x.ini", d);
	ck_assert_int_eq(sim_cmd(ok, &out), 1);
	ck_assert(strstr(out, "nothing to shrink"));
	g_free(out);
	rm_rf(d);
}
END_TEST

/* The determinism re-run: with the self-test switch the re-runs get an
 * extra fault, so hashes differ and the report names the first divergent
 * record (the extra heal). */
START_TEST(determinism_check_names_the_divergence)
{
	g_autofree char *d = tmp_dir();
	char *out = NULL;
	g_autofree char *ok = g_strdup_printf("chaos scenarios/chaos-raft.ini --seeds 1-6 --jobs 2 "
					      "--check-determinism=50 --out %s", d);
	ck_assert_int_eq(sim_cmd(ok, &out), 0);
	ck_assert_msg(strstr(out, "every trace hash identical"), "%s", out);
	g_free(out);
	g_autofree char *bad = g_strdup_printf("AU_CHAOS_TEST_NONDET=1 %s/aureon-sim chaos "
					       "scenarios/chaos-raft.ini --seeds 1-6 --jobs 2 "
					       "--check-determinism=50 --out %s", au_test_bin(), d);
	ck_assert_int_eq(au_test_run(bad, &out), 1);
	ck_assert_msg(strstr(out, "gave a different trace hash") && strstr(out, "first divergent record") &&
		      strstr(out, "HEAL"), "%s", out);
	g_free(out);
	rm_rf(d);
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
	static const struct {
		const char *args, *needle;
	} bad[] = {
		{"chaos", "needs a scenario"},
		{"chaos scenarios/chaos-raft.ini", "needs --seeds"},
		{"chaos scenarios/chaos-raft.ini --seeds 0-5", "seeds start at 1"},
		{"chaos scenarios/chaos-raft.ini --seeds 9-3", "A <= B"},
		{"chaos scenarios/chaos-raft.ini --seeds x", "whole numbers"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-99999999", "10,000,000"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --jobs 0", "--jobs"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --shard 3/2", "--shard"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --shard 1", "--shard"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --check-determinism=0", "percentage"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --timeout -1", "--timeout"},
		{"chaos scenarios/chaos-raft.ini --seeds 1-5 --frobnicate", "unknown option --frobnicate"},
		{"chaos /nonexistent.ini --seeds 1-5", "/nonexistent.ini"},
		{"chaos scenarios/raft-basic.ini --seeds 1-5 --out /proc/nope", "--out /proc/nope"},
		{"shrink", "needs a scenario file"},
		{"shrink scenarios/raft-basic.ini --time 0", "--time"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *args = g_strdup_printf("%s 2>&1", bad[i].args);
		char *out = NULL;
		ck_assert_int_eq(sim_cmd(args, &out), 2);
		ck_assert_msg(strstr(out, bad[i].needle), "%s: %s", bad[i].args, out);
		g_free(out);
	}
	char *out = NULL;
	ck_assert_int_eq(sim_cmd("chaos --help", &out), 0);
	ck_assert(strstr(out, "--check-determinism"));
	g_free(out);
}
END_TEST

/* JUnit XML: one test case per seed, a failure element per failing seed,
 * and a skipped test case per check a seed left without a verdict (here
 * linearizable_kv, whose end-of-run judgement a failed leader_within
 * preempts); the coverage table and --json count them too. */
START_TEST(junit_report)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *sc = write_tmp(d, "live.ini", impossible_liveness);
	g_autofree char *args = g_strdup_printf("chaos %s --store-max 0 --seeds 1-10 --no-shrink --quiet --out %s "
						"--junit %s/junit.xml", sc, d, d);
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(args, &out), 1);
	ck_assert_msg(strstr(out, "\n  check                         ran   failed  not run  unknown\n"),
		      "%s", out);
	g_autofree char *xml = NULL;
	g_autofree char *jp = g_strdup_printf("%s/junit.xml", d);
	ck_assert(g_file_get_contents(jp, &xml, NULL, NULL));
	int cases = 0, seed_cases = 0, failures = 0, skipped = 0;
	for (const char *p = xml; (p = strstr(p, "<testcase ")); p++) {
		cases++;
		const char *name = strstr(p, "name=\"seed ");
		if (name) /* "seed N" (the run), not "seed N: CHECK" */
			seed_cases += name[strlen("name=\"seed ") + strspn(name + strlen("name=\"seed "),
									"0123456789")] == '"';
	}
	for (const char *p = xml; (p = strstr(p, "<failure ")); p++)
		failures++;
	for (const char *p = xml; (p = strstr(p, "<skipped message=\"not run: leader_within failed first "
					  "at the end of the run\"/>")); p++)
		skipped++;
	ck_assert_int_eq(seed_cases, 10);
	ck_assert_int_gt(failures, 0);
	ck_assert_int_eq(skipped, failures); /* each failing seed skipped linearizable_kv */
	ck_assert_int_eq(cases, 10 + skipped);
	g_autofree char *attr = g_strdup_printf("tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\"",
						cases, failures, skipped);
	ck_assert_msg(strstr(xml, attr), "%s", xml);
	ck_assert(strstr(xml, ": linearizable_kv\">"));
	g_autofree char *row = g_strdup_printf("\n  linearizable_kv                10        0 %8d        0\n",
					       skipped);
	ck_assert_msg(strstr(out, row), "%s", out);
	g_free(out);
	rm_rf(d);
}
END_TEST

/* Every reproducer in scenarios/regressions/ passes with today's code. */
START_TEST(regressions_pass)
{
	GDir *gd = g_dir_open("scenarios/regressions", 0, NULL);
	ck_assert(gd);
	const char *name;
	int n = 0;
	while ((name = g_dir_read_name(gd))) {
		if (!g_str_has_suffix(name, ".ini"))
			continue;
		g_autofree char *path = g_build_filename("scenarios/regressions", name, NULL);
		struct au_scenario *sc = au_test_load(path);
		struct au_sim *sim = au_sim_new(sc, sc->seed ? sc->seed : 1);
		int rc = au_sim_run(sim, sc->duration);
		if (rc == 0)
			rc = au_sim_finish(sim);
		const struct au_violation *v = au_sim_violation(sim);
		ck_assert_msg(rc == 0, "%s: %s: %s", path, v ? v->check : "?", v ? v->detail : "");
		au_sim_free(sim);
		au_scenario_free(sc);
		n++;
	}
	g_dir_close(gd);
	ck_assert_int_ge(n, 2);
}
END_TEST

/* The bounded CI sweep: the standard scenarios under generated faults,
 * with a determinism sample.  Every check must hold. */
START_TEST(ci_sweep)
{
	static const struct {
		const char *path, *seeds;
	} sweeps[] = {
		{"scenarios/chaos-raft.ini", "1-200"},
		{"scenarios/raft-storm.ini", "1-50"},
		{"scenarios/ping.ini", "1-50"},
		{"scenarios/chaos-aureon.ini", "1-80"},
		{"scenarios/chaos-rqml.ini", "1-50"},
	};
	g_autofree char *d = tmp_dir();
	for (size_t i = 0; i < G_N_ELEMENTS(sweeps); i++) {
		g_autofree char *args = g_strdup_printf("chaos %s --store-max 0 --seeds %s --jobs 2 --check-determinism "
							"--shrink 1 --shrink-time 30 --out %s --quiet 2>&1",
							sweeps[i].path, sweeps[i].seeds, d);
		char *out = NULL;
		int rc = sim_cmd(args, &out);
		ck_assert_msg(rc == 0, "%s --seeds %s (exit %d):\n%s", sweeps[i].path, sweeps[i].seeds, rc, out);
		ck_assert(strstr(out, "every trace hash identical"));
		/* not vacuous: crashes were applied */
		const char *line = strstr(out, "\n  crash ");
		ck_assert_msg(line, "%s", out);
		g_autofree char *l = g_strndup(line + 1, strcspn(line + 1, "\n"));
		ck_assert_msg(!strstr(l, "never"), "%s", l);
		/* correlated chains were applied */
		const char *cl = strstr(out, "\n  correlated ");
		ck_assert_msg(cl, "%s", out);
		g_autofree char *cls = g_strndup(cl + 1, strcspn(cl + 1, "\n"));
		ck_assert_msg(!strstr(cls, "never"), "%s", cls);
		/* storage that cannot persist was injected (not vacuous) */
		static const char *const disk_lines[] = {"\n  disk_full ", "\n  write_error ",
							 "\n  sync_error "};
		for (size_t j = 0; strstr(sweeps[i].path, "chaos-raft") && j < G_N_ELEMENTS(disk_lines); j++) {
			const char *el = strstr(out, disk_lines[j]);
			ck_assert_msg(el, "%s: no line%s\n%s", sweeps[i].path, disk_lines[j], out);
			g_autofree char *e = g_strndup(el + 1, strcspn(el + 1, "\n"));
			ck_assert_msg(!strstr(e, "never"), "%s", e);
		}
		/* the execution layer's kinds and situations happened */
		static const char *const exec_lines[] = {
			"\n  holder_pause ", "\n  holder_crash ", "\n  holder_skew ", "\n  lock_pause ",
			"\n  a lease was reclaimed from a dead node ", "\n  a paused lease holder lost a lease ",
			"\n  a lock holder's write was fenced ", "\n  a stale ack was rejected "};
		for (size_t j = 0; strstr(sweeps[i].path, "aureon") && j < G_N_ELEMENTS(exec_lines); j++) {
			const char *el = strstr(out, exec_lines[j]);
			ck_assert_msg(el, "%s: no line%s\n%s", sweeps[i].path, exec_lines[j], out);
			g_autofree char *e = g_strndup(el + 1, strcspn(el + 1, "\n"));
			ck_assert_msg(!strstr(e, "never"), "%s", e);
		}
		/* RQML: the holder kinds hit shard tasks' holders, and every
		 * RQML checker ran */
		static const char *const rqml_lines[] = {
			"\n  holder_pause ", "\n  holder_crash ", "\n  holder_skew ",
			"\n  results_match_reference ", "\n  shards_once ", "\n  rounds_monotone ",
			"\n  exactly_once_one "};
		for (size_t j = 0; strstr(sweeps[i].path, "rqml") && j < G_N_ELEMENTS(rqml_lines); j++) {
			const char *el = strstr(out, rqml_lines[j]);
			ck_assert_msg(el, "%s: no line%s\n%s", sweeps[i].path, rqml_lines[j], out);
			g_autofree char *e = g_strndup(el + 1, strcspn(el + 1, "\n"));
			ck_assert_msg(!strstr(e, "never"), "%s", e);
		}
		g_free(out);
	}
	rm_rf(d);
}
END_TEST

Suite *chaos_suite(void)
{
	Suite *s = suite_create("chaos");
	TCase *gen = tcase_create("generator");
	tcase_set_timeout(gen, 60);
	tcase_add_test(gen, plan_is_a_function_of_the_seed);
	tcase_add_test(gen, plans_stay_in_bounds_and_round_trip);
	tcase_add_test(gen, unrestricted_plans_load);
	tcase_add_test(gen, chaos_group_is_strict);
	tcase_add_test(gen, ini_edits_leave_the_rest_verbatim);
	tcase_add_test(gen, every_kind_fits_the_standard_scenarios);
	tcase_add_test(gen, correlated_chains_replay);
	suite_add_tcase(s, gen);
	TCase *many = tcase_create("generator-2000-seeds");
	tcase_set_tags(many, "slow");
	tcase_set_timeout(many, 600);
	tcase_add_test(many, plans_load_over_many_seeds);
	suite_add_tcase(s, many);
	TCase *cli = tcase_create("sweeps");
	tcase_set_timeout(cli, 240);
	tcase_add_test(cli, results_do_not_depend_on_jobs_or_shards);
	tcase_add_test(cli, reproducer_replays_and_shrinks);
	tcase_add_test(cli, shrink_command);
	tcase_add_test(cli, determinism_check_names_the_divergence);
	tcase_add_test(cli, bad_arguments_exit_2);
	tcase_add_test(cli, junit_report);
	tcase_add_test(cli, regressions_pass);
	tcase_add_test(cli, raft_orders_play_whole);
	suite_add_tcase(s, cli);
	TCase *ci = tcase_create("ci-sweep");
	tcase_set_timeout(ci, 300);
	tcase_add_test(ci, ci_sweep);
	suite_add_tcase(s, ci);
	return s;
}
