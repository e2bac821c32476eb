/* test_scenario.c — the scenario loader: durations, distributions, and
 * every kind of bad input giving an error that names file, group and key. */
#include <glib.h>
#include <string.h>

#include "pcg32.h"
#include "sim/scenario/scenario.h"
#include "sim/engine/sim.h"
#include "tests.h"

START_TEST(durations)
{
	static const struct {
		const char *text;
		au_time ns;
	} ok[] = {{"0ns", 0}, {"150ms", 150000000}, {"1.5s", 1500000000}, {"2m", 120000000000},
		  {"1h", 3600000000000}, {"7us", 7000}, {"0.001ms", 1000}};
	for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
		au_time t = -1;
		ck_assert_msg(au_parse_duration(ok[i].text, &t), "%s rejected", ok[i].text);
		ck_assert_msg(t == ok[i].ns, "%s gave %lld", ok[i].text, (long long)t);
	}
	static const char *const bad[] = {"", "10", "ms", "-5ms", "5 ms", "5msx", "1.5ns",
					  "99999999999999999999s", "10000000h", "1e3ms", "5MS", ".s"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		au_time t;
		ck_assert_msg(!au_parse_duration(bad[i], &t), "'%s' accepted", bad[i]);
	}
}
END_TEST

START_TEST(distributions)
{
	struct au_dist d;
	const char *why;
	ck_assert(au_parse_dist("uniform(1ms,5ms)", &d, &why) && d.kind == AU_DIST_UNIFORM);
	ck_assert(au_parse_dist("const(3ms)", &d, &why) && d.p1 == 3000000);
	ck_assert(au_parse_dist("normal(2ms, 1ms)", &d, &why) && d.kind == AU_DIST_NORMAL);
	ck_assert(au_parse_dist("lognormal(2ms,1ms)", &d, &why) && d.sigma > 0);
	ck_assert(au_parse_dist("exponential(1us,1us)", &d, &why) && d.shift == 1000);
	static const char *const bad[] = {"uniform(5ms,1ms)", "uniform(1ms)", "gauss(1ms,2ms)",
					  "const(1ms", "const(1)", "lognormal(0ms,1ms)", "const()",
					  "uniform(1ms,2ms,3ms)"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		ck_assert_msg(!au_parse_dist(bad[i], &d, &why) && why, "'%s' accepted", bad[i]);
}
END_TEST

static const char *const base =
	"[run]\nduration = 10s\n[cluster]\nnodes = 5\nservices = ping\n";

/* Each bad scenario and text its error must contain. */
static const struct {
	const char *extra;
	const char *want;
} bad_cases[] = {
	{"[bogus]\nx = 1\n", "[bogus]: unknown group"},
	{"[network]\nlatncy = const(1ms)\n", "[network] latncy: unknown key"},
	{"[network]\nlatency = uniform(5ms)\n", "[network] latency"},
	{"[network]\nloss = 1.5\n", "[network] loss"},
	{"[network]\nloss = 0.1x\n", "[network] loss"},
	{"[network]\nbandwidth = 10Gbps\n", "[network] bandwidth"},
	{"[ping]\ninterval = 10\n", "[ping] interval"},
	{"[ping]\ninterval = -1s\n", "[ping] interval"},
	{"[fault.x]\nat = 1s\naction = explode\ntarget = n1\n", "[fault.x] action: unknown action"},
	{"[fault.x]\nat = 1s\naction = crash\ntarget = n9\n", "[fault.x] target"},
	{"[fault.x]\nat = 1s\naction = crash\ntarget = n0\n", "[fault.x] target"},
	{"[fault.x]\nat = 1s\naction = crash\n", "[fault.x] target: missing"},
	{"[fault.x]\naction = crash\ntarget = n1\n", "[fault.x] at: missing"},
	{"[fault.x]\nat = 20s\naction = crash\ntarget = n1\n", "[fault.x] at: fires after the run ends"},
	{"[fault.x]\nat = 2s\naction = partition\ngroups = n1,n2 | n3\nuntil = 1s\n",
	 "[fault.x] until: must be later"},
	{"[fault.x]\nat = 1s\naction = partition\ngroups = n1,n2\n", "[fault.x] groups"},
	{"[fault.x]\nat = 1s\naction = partition\ngroups = n1,n2 | n2,n3\n", "appears twice"},
	{"[fault.x]\nat = 1s\naction = partition\ngroups = n1 | n2 | n3\noneway = true\n",
	 "[fault.x] oneway"},
	{"[fault.x]\nat = 1s\naction = crash\ntarget = leader\n", "[fault.x] target: 'leader' needs"},
	{"[fault.x]\nat = 1s\naction = crash\ntarget = n1\nrate = 0.5\n",
	 "[fault.x] rate: not a key of action crash"},
	{"[fault.x]\nat = 1s\naction = loss\nlink = n1-n1\nrate = 0.5\n", "[fault.x] link"},
	{"[fault.x]\nat = 1s\naction = loss\ntarget = n1\n", "[fault.x] rate: missing"},
	{"[fault.a]\nat = 1s\naction = crash\ntarget = n2\n[fault.b]\nat = 2s\naction = crash\ntarget = n2\n",
	 "[fault.b] target: crashes n2, which is already down"},
	{"[fault.a]\nat = 1s\naction = restart\ntarget = n2\n", "[fault.a] target: restarts n2, which is running"},
	{"[fault.a]\nat = 1s\naction = crash\ntarget = n2\nrestart_after = 1s\n[fault.b]\nat = 1500ms\naction = restart\ntarget = n2\n",
	 "restarts n2, which is running"},
	{"[fault.a]\nat = 1s\naction = resume\ntarget = n2\n", "[fault.a] target: resumes n2"},
	{"[fault.a]\nat = 1s\naction = skew\ntarget = n2\ndrift = 2000000ppm\n", "[fault.a] drift"},
	{"[fault.a]\nat = 1s\naction = disk_fault\ntarget = n2\nkind = melt\n", "[fault.a] kind"},
	{"[fault.a]\nat = 1s\naction = disk_fault\ntarget = n2\nkind = disk_full\nrate = 0.5\n",
	 "[fault.a] rate: only write_error and sync_error take rate"},
	{"[fault.a]\nat = 1s\naction = disk_fault\ntarget = n2\nkind = sync_error\nrate = 0\n",
	 "[fault.a] rate: a rate of 0 fails nothing"},
	{"[fault.a]\nat = 1s\naction = disk_fault\ntarget = n2\nkind = write_error\nrate = 2\n",
	 "[fault.a] rate"},
	{"[disk]\ncapacity = 10\n", "[disk] capacity: '10' is not a size"},
	{"[disk]\ncapacity = 1TB\n", "[disk] capacity"},
	{"[disk]\ncapacity = -5MiB\n", "[disk] capacity"},
	{"[check]\ninvariants = raft_safety\n", "[check] invariants: check 'raft_safety' needs service raft"},
	{"[check]\ninvariants = no_such_check\n", "[check] invariants: unknown"},
	{"[check]\nliveness = leader_within:5s\n", "[check] liveness: 'leader_within:5s' needs the raft service"},
	{"[check]\nliveness = soon\n", "[check] liveness: 'soon' is not a liveness check"},
	{"[check]\nswim_false_deaths_max = 0\n",
	 "[check] swim_false_deaths_max: needs the swim service"},
	{"[fault.]\nat = 1s\naction = heal\n", "[fault.]"},
};

START_TEST(bad_input_names_file_group_key)
{
	g_autofree char *text = g_strconcat(base, bad_cases[_i].extra, NULL);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("bad.ini", text, &err);
	ck_assert_msg(sc == NULL, "case %d accepted:\n%s", _i, text);
	ck_assert_msg(err && g_str_has_prefix(err, "bad.ini: "), "case %d: error lacks the file: %s", _i,
		      err);
	ck_assert_msg(strstr(err, bad_cases[_i].want), "case %d: error '%s' lacks '%s'", _i, err,
		      bad_cases[_i].want);
	g_free(err);
}
END_TEST

START_TEST(bad_base_groups)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[cluster]\nnodes = 5\nservices = ping\n", "[run]: missing group"},
		{"[run]\nduration = 0s\n[cluster]\nnodes=2\nservices=ping\n", "[run] duration"},
		{"[run]\nduration = 1s\nseed = -4\n[cluster]\nnodes=2\nservices=ping\n", "[run] seed"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 0\nservices = ping\n", "[cluster] nodes"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 99999999999\nservices = ping\n", "[cluster] nodes"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raftt\n", "[cluster] services: unknown service"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = ping,ping\n", "listed twice"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = ping\nn4 = 2\n", "[cluster] n4"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = phold\n[ping]\ninterval=1s\n",
		 "[ping]: configures service ping"},
		{"not a key file at all\n", "not a valid key file"},
		/* a key set twice: GKeyFile would keep the last (issue 19) */
		{"[run]\nduration = 1s\nduration = 2s\n[cluster]\nnodes = 3\nservices = ping\n",
		 "b.ini: [run] duration: set twice, on lines 2 and 3"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = ping\n# again\n[run]\n  duration=2s\n",
		 "[run] duration: set twice, on lines 2 and 8"},
		/* KV replicates through Raft: alone or before raft it would leave
		 * every operation unknown (issue 19). */
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = kv,raft\n",
		 "[cluster] services: service kv needs raft, listed before it"},
		{"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = kv\n",
		 "[cluster] services: service kv needs raft, listed before it"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("b.ini", cases[i].text, &err);
		ck_assert_msg(!sc, "case %zu accepted", i);
		ck_assert_msg(strstr(err, cases[i].want), "case %zu: '%s' lacks '%s'", i, err, cases[i].want);
		g_free(err);
	}
}
END_TEST

START_TEST(good_scenario_with_inline_comments)
{
	const char *text =
		"[run]\nname = t\nseed = 42                 # overridden by --seed\nduration = 60s\n"
		"[cluster]\nnodes = 5\nservices = ping\ncpu_gflops = 10\nn3 = 2\n"
		"[network]\nlatency = uniform(1ms,5ms)   # jitter\nloss = 0.0\nduplicate = 0.01\n"
		"bandwidth = 1Gbit\n"
		"[fault.b]\nat = 20s\naction = partition\ngroups = n1,n2 | rest\nuntil = 30s\n"
		"[fault.a]\nat = 10s\naction = crash\ntarget = random\nrestart_after = 5s\n"
		"[fault.c]\nat = 20s\naction = clog\nlink = n1-n3\nextra = 5ms\nuntil = 25s\n";
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text("good.ini", text, &err);
	ck_assert_msg(sc, "rejected: %s", err);
	ck_assert_uint_eq(sc->seed, 42);
	ck_assert_uint_eq(sc->cluster.nodes, 5);
	ck_assert(sc->cluster.cpu_gflops[3] == 2.0 && sc->cluster.cpu_gflops[1] == 10.0);
	ck_assert(sc->bandwidth_bps == 1000000000u);
	ck_assert_uint_eq(sc->n_faults, 3);
	/* sorted by time, then file order */
	ck_assert_str_eq(sc->faults[0].name, "a");
	ck_assert_str_eq(sc->faults[1].name, "b");
	ck_assert_str_eq(sc->faults[2].name, "c");
	ck_assert_uint_eq(sc->faults[1].n_groups, 2);
	au_scenario_free(sc);
}
END_TEST

START_TEST(shipped_scenarios_load)
{
	GDir *d = g_dir_open("scenarios", 0, NULL);
	ck_assert_msg(d, "run the tests from the repository root");
	const char *name;
	int count = 0;
	while ((name = g_dir_read_name(d))) {
		if (!g_str_has_suffix(name, ".ini"))
			continue;
		g_autofree char *path = g_build_filename("scenarios", name, NULL);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load(path, &err);
		ck_assert_msg(sc, "%s", err);
		au_scenario_free(sc);
		count++;
	}
	g_dir_close(d);
	ck_assert_int_gt(count, 0);
}
END_TEST

START_TEST(mutated_scenarios_never_crash)
{
	/* Random byte edits of the default scenario: each load either succeeds
	 * or fails with a message naming the file; it never crashes (run under
	 * make asan / make valgrind to catch memory errors too). */
	g_autofree char *orig = NULL;
	gsize len = 0;
	ck_assert(g_file_get_contents("scenarios/ping.ini", &orig, &len, NULL));
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, (uint64_t)_i, 99);
	static const char alphabet[] = "[]=|,.-+#0123456789nmsux \n\t()leaderrestrandomuntil";
	for (int iter = 0; iter < 300; iter++) {
		g_autofree char *text = g_strndup(orig, len);
		int edits = 1 + (int)au_pcg32_below(&rng, 4);
		for (int e = 0; e < edits; e++) {
			uint32_t at = au_pcg32_below(&rng, (uint32_t)len);
			text[at] = alphabet[au_pcg32_below(&rng, sizeof(alphabet) - 1)];
		}
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("m.ini", text, &err);
		if (sc) {
			/* What loads must also run. */
			if (sc->cluster.nodes <= 50) {
				struct au_sim *sim = au_sim_new(sc, 1);
				au_sim_run(sim, sc->duration < 5 * AU_NS_PER_S ? sc->duration : 5 * AU_NS_PER_S);
				au_sim_finish(sim);
				au_sim_free(sim);
			}
			au_scenario_free(sc);
		} else {
			ck_assert_msg(err && g_str_has_prefix(err, "m.ini: "), "seed %d iter %d", _i, iter);
			g_free(err);
		}
	}
}
END_TEST

Suite *scenario_suite(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, distributions);
	tcase_add_loop_test(tc, bad_input_names_file_group_key, 0, (int)G_N_ELEMENTS(bad_cases));
	tcase_add_test(tc, bad_base_groups);
	tcase_add_test(tc, good_scenario_with_inline_comments);
	tcase_add_test(tc, shipped_scenarios_load);
	tcase_add_loop_test(tc, mutated_scenarios_never_crash, 0, 10);
	suite_add_tcase(s, tc);
	return s;
}
