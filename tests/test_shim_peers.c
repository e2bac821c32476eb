/* test_shim_peers.c — /peers and the model series of /metrics: the example
 * cluster file (shim/examples/local-3.ini, on free ports) runs the whole
 * stack with SWIM on three real processes, /peers lists every member alive
 * and, once one is killed, suspect or dead; the exposition follows
 * Prometheus conventions; a node without swim says so. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/cluster.h"
#include "shim/modelview.h"
#include "shim/node.h"
#include "shim_cluster.h"
#include "tests.h"

static int count_of(const char *text, const char *needle)
{
	int k = 0;
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		k++;
	return k;
}

/* Check the text exposition's conventions: every sample's family has HELP
 * and TYPE lines before it; counters end in _total (their samples too);
 * no family is declared twice.  Returns NULL or what is wrong. */
static char *exposition_problem(const char *text)
{
	g_autoptr(GHashTable) types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GHashTable) helps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		if (!**l)
			continue;
		if (g_str_has_prefix(*l, "# HELP ")) {
			g_auto(GStrv) f = g_strsplit(*l + 7, " ", 2);
			g_hash_table_add(helps, g_strdup(f[0]));
			continue;
		}
		if (g_str_has_prefix(*l, "# TYPE ")) {
			g_auto(GStrv) f = g_strsplit(*l + 7, " ", 2);
			if (g_hash_table_contains(types, f[0]))
				return g_strdup_printf("family %s declared twice", f[0]);
			if (!g_hash_table_contains(helps, f[0]))
				return g_strdup_printf("TYPE of %s without HELP before it", f[0]);
			if (strcmp(f[1], "counter") == 0 && !g_str_has_suffix(f[0], "_total"))
				return g_strdup_printf("counter %s does not end in _total", f[0]);
			g_hash_table_insert(types, g_strdup(f[0]), g_strdup(f[1]));
			continue;
		}
		if (**l == '#')
			continue;
		size_t nl = strcspn(*l, "{ ");
		g_autofree char *name = g_strndup(*l, nl);
		g_autofree char *family = NULL;
		if (g_hash_table_contains(types, name))
			family = g_strdup(name);
		else if (g_str_has_suffix(name, "_sum") || g_str_has_suffix(name, "_count"))
			family = g_strndup(name, strlen(name) - (g_str_has_suffix(name, "_sum") ? 4 : 6));
		if (!family || !g_hash_table_contains(types, family))
			return g_strdup_printf("sample %s has no TYPE line before it", name);
	}
	return NULL;
}

/* Whether every member's entry in a /peers body has state `state`. */
static bool all_in_state(const char *body, int members, const char *state)
{
	g_autofree char *want = g_strdup_printf("\"state\": \"%s\"", state);
	return body && count_of(body, want) == members;
}

START_TEST(example_cluster_runs_swim_and_peers_lists_it)
{
	/* The example file as shipped, moved to free ports and a fresh key. */
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) gerr = NULL;
	ck_assert_msg(g_key_file_load_from_file(kf, "shim/examples/local-3.ini", G_KEY_FILE_NONE, &gerr), "%s",
		      gerr ? gerr->message : "");
	g_autofree char *services = g_key_file_get_string(kf, "cluster", "services", NULL);
	ck_assert_msg(services && strstr(services, "swim"), "the example runs no swim: %s", services);
	struct cluster_run *r = g_new0(struct cluster_run, 1);
	running = r;
	r->nodes = 3;
	r->dir = make_tmpdir();
	for (int i = 1; i <= 3; i++) {
		g_autofree char *id = g_strdup_printf("n%d", i);
		r->udp[i] = free_port(G_SOCKET_TYPE_DATAGRAM);
		r->http[i] = free_port(G_SOCKET_TYPE_STREAM);
		g_autofree char *u = g_strdup_printf("127.0.0.1:%u", r->udp[i]);
		g_autofree char *h = g_strdup_printf("127.0.0.1:%u", r->http[i]);
		ck_assert(g_key_file_has_key(kf, "hosts", id, NULL) && g_key_file_has_key(kf, "http", id, NULL));
		g_key_file_set_string(kf, "hosts", id, u);
		g_key_file_set_string(kf, "http", id, h);
	}
	g_key_file_set_string(kf, "auth", "key_file", "cluster.key");
	g_autofree char *text = g_key_file_to_data(kf, NULL, NULL);
	r->ini = write_cluster(r->dir, text);
	for (int i = 1; i <= 3; i++)
		start_node(r, i);

	/* Every node's /peers: three members, all alive, none quarantined —
	 * once SWIM has run (a first boot starts with everyone alive, so wait
	 * for probes answered: acks received). */
	for (int i = 1; i <= 3; i++) {
		g_autofree char *body = NULL;
		int status = 0;
		for (int t = 0; t < 200; t++) {
			g_autofree char *mt = http_get(r->http[i], "/metrics", &status);
			uint64_t probes = mt ? metric(mt, "aureon_swim_probes_total") : UINT64_MAX;
			uint64_t in = mt ? metric(mt, "aureon_swim_messages_received_total") : UINT64_MAX;
			uint64_t failed = mt ? metric(mt, "aureon_swim_probe_failures_total") : UINT64_MAX;
			g_free(body);
			body = http_get(r->http[i], "/peers", &status);
			if (probes != UINT64_MAX && probes >= 2 && in >= 2 && failed == 0 && status == 200 &&
			    all_in_state(body, 3, "alive"))
				break;
			g_usleep(50000);
		}
		ck_assert_msg(status == 200 && all_in_state(body, 3, "alive"), "n%d /peers: %s (logs in %s)", i,
			      body, r->dir);
		ck_assert_msg(strstr(body, "\"swim\": true") && strstr(body, "\"alive\": 3") &&
				      count_of(body, "\"quarantined\": false") == 3,
			      "%s", body);
		for (int m = 1; m <= 3; m++) {
			g_autofree char *entry = g_strdup_printf("{\"id\": \"n%d\", \"address\": \"127.0.0.1:%u\", "
								 "\"self\": %s, \"state\": \"alive\", \"incarnation\": ",
								 m, r->udp[m], m == i ? "true" : "false");
			ck_assert_msg(strstr(body, entry), "no %s in %s", entry, body);
		}
	}

	/* /metrics: SWIM, RQML, ONE and queue series, by the conventions. */
	int status = 0;
	g_autofree char *m = http_get(r->http[1], "/metrics", &status);
	ck_assert_int_eq(status, 200);
	g_autofree char *mpath = g_build_filename(r->dir, "metrics.txt", NULL);
	write_text(mpath, m, 0644);
	ck_assert_msg(strstr(m, "aureon_swim_members{state=\"alive\"} 3\n"), "see %s", mpath);
	ck_assert_msg(strstr(m, "aureon_swim_members{state=\"dead\"} 0\n"), "see %s", mpath);
	ck_assert_msg(metric(m, "aureon_swim_messages_sent_total") >= 2, "see %s", mpath);
	ck_assert_msg(metric(m, "aureon_swim_probes_total") >= 2, "see %s", mpath);
	ck_assert_msg(strstr(m, "aureon_rqml_jobs{state=\"running\"} 0\n"), "see %s", mpath);
	ck_assert_msg(metric(m, "aureon_rqml_rounds_total") == 0, "see %s", mpath);
	ck_assert_msg(metric(m, "aureon_one_records") == 0, "see %s", mpath);
	ck_assert_msg(strstr(m, "aureon_one_puts_rejected_total{reason=\"duplicate\"} 0\n"), "see %s", mpath);
	ck_assert_msg(strstr(m, "aureon_queue_leases{node=\"n3\"} "), "see %s", mpath);
	ck_assert_msg(strstr(m, "aureon_queue_nodes_marked{mark=\"draining\"} 0\n"), "see %s", mpath);
	g_autofree char *problem = exposition_problem(m);
	ck_assert_msg(!problem, "%s in %s", problem, mpath);
	g_autofree char *promtool = g_find_program_in_path("promtool");
	if (promtool) {
		g_autofree char *cmd = g_strdup_printf("promtool check metrics < %s 2>&1", mpath);
		char *out = NULL;
		ck_assert_msg(au_test_run(cmd, &out) == 0, "promtool: %s", out);
		g_free(out);
	}

	/* Kill n3: SWIM on n1 suspects it (then declares it dead), and the
	 * alive gauge follows. */
	kill_node(r, 3, SIGKILL);
	g_autofree char *body = NULL;
	bool gone = false;
	for (int t = 0; t < 300 && !gone; t++) {
		g_usleep(50000);
		g_free(body);
		body = http_get(r->http[1], "/peers", &status);
		gone = body && (strstr(body, "{\"id\": \"n3\"") &&
				(strstr(strstr(body, "{\"id\": \"n3\""), "\"state\": \"suspect\"") ||
				 strstr(strstr(body, "{\"id\": \"n3\""), "\"state\": \"dead\"")));
	}
	ck_assert_msg(gone, "n3 still alive in n1's view after 15 s: %s (logs in %s)", body, r->dir);
	ck_assert_msg(strstr(body, "\"alive\": 2"), "%s", body);
	g_free(m);
	m = http_get(r->http[1], "/metrics", &status);
	ck_assert_msg(strstr(m, "aureon_swim_members{state=\"alive\"} 2\n"), "%s", m);
	cluster_teardown();
}
END_TEST

START_TEST(peers_without_swim_says_so)
{
	g_autofree char *dir = make_tmpdir();
	g_autofree char *ini = write_cluster(dir, "[cluster]\nnodes = 2\nservices = raft,kv\n[hosts]\n"
						  "n1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\n[auth]\nkey_file = cluster.key\n");
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(ini, &err);
	ck_assert_msg(c, "%s", err);
	g_autofree char *data = g_build_filename(dir, "data", NULL);
	struct au_node_opts o = {.cluster = c, .id = 2, .data_dir = data, .have_seed = true,
				 .seed = 7, .no_socket = true, .quiet = true};
	struct au_node *n = au_node_new(&o, &err);
	ck_assert_msg(n, "%s", err);
	au_node_start(n);
	g_autoptr(GString) body = g_string_new(NULL);
	au_modelview_peers_json(n, body);
	ck_assert_msg(strstr(body->str, "{\"node\": \"n2\", \"swim\": false, \"reason\": \"no swim service"), "%s",
		      body->str);
	ck_assert_msg(strstr(body->str, "{\"id\": \"n1\", \"address\": \"127.0.0.1:1\", \"self\": false, "
					"\"state\": null, \"incarnation\": null, \"quarantined\": false, "
					"\"invalid_proofs\": 0, \"wrong_key\": false}"),
		      "%s", body->str);
	ck_assert_msg(strstr(body->str, "\"self\": true"), "%s", body->str);
	/* No swim, rqml, one or aureon: none of their series. */
	g_autoptr(GString) m = g_string_new(NULL);
	au_node_render_metrics(n, m);
	ck_assert_msg(!strstr(m->str, "aureon_swim_") && !strstr(m->str, "aureon_rqml_") &&
			      !strstr(m->str, "aureon_one_") && !strstr(m->str, "aureon_queue_"),
		      "%s", m->str);
	g_autofree char *problem = exposition_problem(m->str);
	ck_assert_msg(!problem, "%s", problem);
	/* The checker itself: a counter without _total and a sample without
	 * TYPE are caught. */
	g_autofree char *p1 = exposition_problem("# HELP x_count a\n# TYPE x_count counter\nx_count 1\n");
	ck_assert(p1 && strstr(p1, "_total"));
	g_autofree char *p2 = exposition_problem("y 1\n");
	ck_assert(p2 && strstr(p2, "no TYPE"));
	ck_assert_str_eq(au_peer_state_name(1), "suspect");
	ck_assert_str_eq(au_peer_state_name(9), "unknown");
	au_node_free(n);
	au_cluster_free(c);
	rm_rf(dir);
}
END_TEST

Suite *shim_peers_suite(void)
{
	Suite *s = suite_create("shim_peers");
	TCase *unit = tcase_create("unit");
	tcase_add_test(unit, peers_without_swim_says_so);
	suite_add_tcase(s, unit);
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 60);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, example_cluster_runs_swim_and_peers_lists_it);
	suite_add_tcase(s, procs);
	return s;
}
