/* test_raft.c — Raft and the KV store: every raft scenario passes its
 * checks over a range of seeds, runs are deterministic, sessions make a
 * retried command apply once, ReadIndex answers only on a confirmed leader,
 * and the raft_safety checker reports each kind of violation when fed the
 * traces of one (so it is not vacuous). */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

static const char *const raft_scenarios[] = {
	"scenarios/raft-basic.ini",        "scenarios/raft-leader-crash.ini",
	"scenarios/raft-partition-heal.ini", "scenarios/raft-figure8.ini",
	"scenarios/raft-flaky-network.ini", "scenarios/raft-disk-faults.ini",
	"scenarios/raft-membership.ini",   "scenarios/raft-storm.ini",
	/* storage that fails: a full disk, failed writes and syncs */
	"scenarios/raft-disk-full.ini",    "scenarios/raft-storage-errors.ini",
	/* the scenarios that catch planted bugs must pass with the real code */
	"scenarios/mutant-figure8.ini",    "scenarios/mutant-vote-lost.ini",
	"scenarios/mutant-vote-cleared.ini", "scenarios/mutant-membership-early.ini",
	/* reproducers of bugs found and fixed */
	"scenarios/regressions/prevote-stuck.ini", "scenarios/regressions/dup-noleader.ini",
};

/* _i = scenario * 100 + seed */
START_TEST(scenario_passes)
{
	au_test_scenario_passes(raft_scenarios[_i / 100], (uint64_t)(_i % 100));
}
END_TEST

START_TEST(deterministic)
{
	char a[65], b[65], c[65];
	au_test_run_hash(raft_scenarios[_i], 5, a);
	au_test_run_hash(raft_scenarios[_i], 5, b);
	au_test_run_hash(raft_scenarios[_i], 6, c);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	au_test_same_hash_at_O0(raft_scenarios, G_N_ELEMENTS(raft_scenarios), 3, false);
}
END_TEST

/* ---- driving Raft's API directly -------------------------------------------- */

struct done_log {
	int calls, ok;
	uint8_t result[16];
	size_t len;
};

static void on_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct done_log *d = ctx;
	(void)index;
	d->calls++;
	d->ok += ok;
	if (ok && result && len <= sizeof(d->result)) {
		memcpy(d->result, result, len);
		d->len = len;
	}
}

static struct au_raft *leader_of(struct au_sim *sim, uint32_t nodes)
{
	for (au_node_id n = 1; n <= nodes; n++) {
		const struct au_env *e = au_sim_env(sim, n, 0);
		struct au_raft *r = au_sim_node_up(sim, n) ? e->ops->local_service(e->ctx, "raft") : NULL;
		if (r && au_raft_is_leader(r))
			return r;
	}
	return NULL;
}

/* Three raft,kv nodes with no KV clients, run 2 s: their leader (the
 * scenario and simulator come back through sc and sim; the caller frees). */
static struct au_raft *kv_cluster_leader(struct au_scenario **sc, struct au_sim **sim)
{
	char *err = NULL;
	*sc = au_scenario_load_text("s.ini",
				    "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
				    "[workload]\nkv_clients = 0\n",
				    &err);
	ck_assert_msg(*sc, "%s", err);
	*sim = au_sim_new(*sc, 3);
	au_sim_run(*sim, 2 * AU_NS_PER_S);
	struct au_raft *r = leader_of(*sim, 3);
	ck_assert_msg(r, "no leader after 2 s");
	return r;
}

START_TEST(session_applies_a_retry_once)
{
	struct au_scenario *sc;
	struct au_sim *sim;
	struct au_raft *r = kv_cluster_leader(&sc, &sim);
	/* CAS key 42 from 0 to 7: applied twice, the second would fail. */
	uint8_t cmd[AU_KV_CMD_LEN];
	au_kv_encode_cmd(cmd, AU_KV_CAS, 42, 7, 0);
	struct done_log first = {0}, retry = {0}, other = {0};
	ck_assert_int_eq(au_raft_submit(r, 1, 99, 1, cmd, sizeof(cmd), on_done, &first), 0);
	ck_assert_int_eq(au_raft_submit(r, 1, 99, 1, cmd, sizeof(cmd), on_done, &retry), 0);
	ck_assert_int_eq(au_raft_submit(r, 1, 98, 1, cmd, sizeof(cmd), on_done, &other), 0);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	ck_assert(first.calls == 1 && first.ok == 1 && retry.calls == 1 && retry.ok == 1);
	ck_assert_int_eq(first.result[0], 1); /* swapped */
	ck_assert_int_eq(retry.result[0], 1); /* the retry got the first result */
	ck_assert_int_eq(other.result[0], 0); /* a different session really re-ran it */
	/* A follower refuses proposals. */
	for (au_node_id n = 1; n <= 3; n++) {
		const struct au_env *e = au_sim_env(sim, n, 0);
		struct au_raft *f = e->ops->local_service(e->ctx, "raft");
		if (f && !au_raft_is_leader(f)) {
			ck_assert_int_eq(au_raft_submit(f, 1, 1, 1, cmd, sizeof(cmd), on_done, &first), -AU_EINVAL);
			ck_assert_int_eq(au_raft_read_index(f, on_done, &first), -AU_EINVAL);
		}
	}
	struct done_log read = {0};
	ck_assert_int_eq(au_raft_read_index(r, on_done, &read), 0);
	ck_assert_int_eq(read.calls, 0); /* needs a heartbeat round first */
	au_sim_run(sim, 3 * AU_NS_PER_S + 100 * AU_NS_PER_MS);
	ck_assert(read.calls == 1 && read.ok == 1);
	au_sim_finish(sim);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A KV command through the leader's log (no session: client 0). */
static void kv_cmd(struct au_raft *r, uint8_t op, int64_t key, int64_t value, int64_t expected,
		   struct done_log *d)
{
	uint8_t cmd[AU_KV_CMD_LEN];
	au_kv_encode_cmd(cmd, op, key, value, expected);
	ck_assert_int_eq(au_raft_submit(r, 1, 0, 0, cmd, sizeof(cmd), on_done, d), 0);
}

/* The value a KV result reports having found ([ok u8][value i64]). */
static int64_t found(const struct done_log *d)
{
	ck_assert(d->calls == 1 && d->ok == 1 && d->len == 9);
	struct au_rbuf rb;
	au_rbuf_init(&rb, d->result, d->len);
	(void)au_get_u8(&rb);
	return (int64_t)au_get_u64(&rb);
}

/* Puts, a delete and a put again on keys that share a slot of kv.c's
 * lookup cache (key % 128): each command finds the value the ones before
 * left — 0 after the delete, never the removed value. */
START_TEST(kv_delete_then_put_finds_nothing_deleted)
{
	struct au_scenario *sc;
	struct au_sim *sim;
	struct au_raft *r = kv_cluster_leader(&sc, &sim);
	struct done_log d[8] = {{0}};
	kv_cmd(r, AU_KV_PUT, 5, 11, 0, &d[0]);
	kv_cmd(r, AU_KV_PUT, 133, 21, 0, &d[1]); /* 133 % 128 == 5 */
	kv_cmd(r, AU_KV_PUT, 5, 12, 0, &d[2]);
	kv_cmd(r, AU_KV_DEL, 5, 0, 0, &d[3]);
	kv_cmd(r, AU_KV_PUT, 5, 13, 0, &d[4]);
	kv_cmd(r, AU_KV_DEL, 133, 0, 0, &d[5]);
	kv_cmd(r, AU_KV_CAS, 133, 22, 0, &d[6]); /* deleted: reads as 0, swaps */
	kv_cmd(r, AU_KV_CAS, 5, 14, 13, &d[7]);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	int64_t want[8] = {0, 0, 11, 12, 0, 21, 0, 13};
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(found(&d[i]), want[i]);
	ck_assert_int_eq(d[6].result[0], 1);
	ck_assert_int_eq(d[7].result[0], 1);
	au_sim_finish(sim);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(bad_messages_are_dropped)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"b.ini", "[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = raft\n", &err);
	ck_assert(sc);
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 1 * AU_NS_PER_S);
	const struct au_env *e = au_sim_env(sim, 1, 0);
	/* garbage, a truncated append, a valid checksum over nonsense */
	uint8_t junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37);
	au_send(e, 2, junk, sizeof(junk));
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, 3);
	au_put_u64(&w, 1);
	au_wbuf_seal(&w);
	au_send(e, 2, buf, w.len);
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, 200);
	au_wbuf_seal(&w);
	au_send(e, 2, buf, w.len);
	ck_assert_int_eq(au_sim_run(sim, 5 * AU_NS_PER_S), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ---- durability and message economy ------------------------------------------ */

static uint64_t summary_field(struct au_sim *sim, au_node_id node, const char *field)
{
	char buf[256], key[32];
	au_sim_model_summary(sim, node, 0, buf, sizeof(buf));
	g_snprintf(key, sizeof(key), " %s=", field);
	const char *p = strstr(buf, key);
	ck_assert_msg(p, "no %s in \"%s\"", field, buf);
	return g_ascii_strtoull(p + strlen(key), NULL, 10);
}

/* A truncation that a crash undid must not resurrect a stale suffix: a
 * well-formed record that does not continue the log (here: forged, with a
 * higher term than anything real) is refused at recovery. */
START_TEST(recovery_refuses_a_stale_suffix)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"s.ini", "[run]\nduration = 6s\n[cluster]\nnodes = 3\nservices = raft\n"
			 "[fault.c]\nat = 3s\naction = crash\ntarget = n2\nrestart_after = 1s\n", &err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = au_sim_new(sc, 5);
	au_sim_run(sim, 2900 * AU_NS_PER_MS);
	uint64_t last = summary_field(sim, 2, "last");
	ck_assert_uint_gt(last, 0);
	ck_assert_uint_lt(last, 1024); /* all in seg.0 */
	const struct au_env *e = au_sim_env(sim, 2, 0);
	int64_t end = e->ops->storage_size(e->ctx, "seg.0");
	ck_assert_int_gt(end, 0);
	uint8_t rec[64];
	struct au_wbuf w;
	au_wbuf_init(&w, rec, sizeof(rec));
	au_put_u32(&w, 4 + 8 + 8 + 8 + 1 + 4 + 4);
	au_put_u64(&w, last + 1);
	au_put_u64(&w, UINT64_C(0x5eed5eed5eed5eed)); /* not the chain of entry `last` */
	au_put_u64(&w, 1000);                          /* term */
	au_put_u8(&w, 0);                              /* no-op */
	au_put_u32(&w, 0);
	au_wbuf_seal(&w);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "seg.0", (uint64_t)end, rec, w.len), 0);
	e->ops->storage_sync(e->ctx, "seg.0", 0);
	ck_assert_int_eq(au_sim_run(sim, 5 * AU_NS_PER_S), 0);
	ck_assert(au_sim_node_up(sim, 2));
	ck_assert_uint_eq(summary_field(sim, 2, "last"), last);
	ck_assert_uint_lt(summary_field(sim, 2, "term"), 1000);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* What n2 did around its restart: recoveries (time, last index) and
 * refusals of an unreadable disk. */
struct recovery_log {
	int refused;
	int recovered;
	au_time recovered_at;
	int64_t recovered_last, recovered_term;
	uint64_t roles_while_unrecovered; /* role changes: it stood or followed */
};

static void watch_n2(void *ctx, au_time t, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		     int64_t c)
{
	struct recovery_log *l = ctx;
	(void)c;
	if (node != 2)
		return;
	if (kind == AU_TR_RAFT_BAD_DISK && a == 5)
		l->refused++;
	if (kind == AU_TR_RAFT_RECOVER) {
		l->recovered++;
		l->recovered_at = t;
		l->recovered_last = a;
	}
	if (kind == AU_TR_RAFT_ROLE && l->recovered && l->recovered_at == t)
		l->recovered_term = a;
	else if (kind == AU_TR_RAFT_ROLE && l->refused && !l->recovered)
		l->roles_while_unrecovered++;
	(void)b;
}

/* A read error at boot is not an empty disk: a node that cannot read its
 * term, vote and log stays out (no votes, no replies) and retries, instead
 * of rejoining with term 0 and no log (it could then vote twice in a term
 * or deny entries it acknowledged).  Once reads work it recovers all of it. */
START_TEST(unreadable_disk_at_boot_is_not_an_empty_disk)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"s.ini", "[run]\nduration = 8s\n[cluster]\nnodes = 3\nservices = raft\n"
			 "[fault.c]\nat = 3s\naction = crash\ntarget = n2\nrestart_after = 1s\n"
			 "[fault.d]\nat = 3500ms\naction = disk_fault\nkind = read_error\n"
			 "target = n2\nuntil = 5s\n", &err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = au_sim_new(sc, 5);
	struct recovery_log l = {0};
	au_sim_set_observer(sim, watch_n2, &l);
	au_sim_run(sim, 2900 * AU_NS_PER_MS);
	uint64_t term = summary_field(sim, 2, "term"), commit = summary_field(sim, 2, "commit");
	ck_assert_uint_gt(commit, 0);
	l.recovered = 0;
	au_sim_run(sim, 4500 * AU_NS_PER_MS);
	ck_assert(au_sim_node_up(sim, 2));
	ck_assert_int_eq(l.recovered, 0);  /* not at 4 s, with reads failing */
	ck_assert_int_ge(l.refused, 1);
	char buf[256];
	au_sim_model_summary(sim, 2, 0, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "unrecovered"), "%s", buf);
	ck_assert_int_eq(au_sim_run(sim, 8 * AU_NS_PER_S), 0);
	ck_assert_int_eq(l.recovered, 1);   /* after the read errors ended */
	ck_assert_int_ge(l.recovered_at, 5 * AU_NS_PER_S);
	ck_assert_int_ge(l.recovered_last, (int64_t)commit);
	ck_assert_int_ge(l.recovered_term, (int64_t)term);
	ck_assert_uint_eq(l.roles_while_unrecovered, 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ReadIndex reads share heartbeat rounds: a burst of reads costs one or
 * two rounds, not one round each. */
START_TEST(reads_share_heartbeat_rounds)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"s.ini", "[run]\nduration = 10s\n[cluster]\nnodes = 5\nservices = raft,kv\n"
			 "[raft]\nheartbeat = 1s\nelection_timeout = 3s..4s\n"
			 "[workload]\nkv_clients = 0\n", &err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = au_sim_new(sc, 3);
	au_sim_run(sim, 5 * AU_NS_PER_S);
	struct au_raft *r = leader_of(sim, 5);
	ck_assert_msg(r, "no leader after 5 s");
	au_sim_run(sim, 5 * AU_NS_PER_S + 500 * AU_NS_PER_MS); /* between heartbeats */
	uint64_t sent = au_sim_stats(sim)->messages_sent;
	struct done_log reads = {0};
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(au_raft_read_index(r, on_done, &reads), 0);
	au_sim_run(sim, 5 * AU_NS_PER_S + 700 * AU_NS_PER_MS);
	ck_assert_int_eq(reads.calls, 20);
	ck_assert_int_eq(reads.ok, 20);
	/* The first read starts a round; the other 19 arrived after it was
	 * sent, so they share a second one: 2 x (4 heartbeats + 4 replies).
	 * One round per read would be 160 messages. */
	ck_assert_uint_le(au_sim_stats(sim)->messages_sent - sent, 16);
	au_sim_finish(sim);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Reordering does not make the leader resend: an append that overtakes
 * its predecessor is held by the follower, not answered with "I am behind"
 * (which would send the leader back to probing one append at a time). */
START_TEST(reordered_appends_are_held_not_rejected)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"s.ini", "[run]\nduration = 300ms\n[cluster]\nnodes = 3\nservices = raft,kv\n"
			 "[network]\nlatency = uniform(50us,150us)\n"
			 "[raft]\nelection_timeout = 10ms..20ms\nheartbeat = 5ms\n"
			 "[workload]\nkv_clients = 100\nkv_rate = 100000/s\nkv_mix = put:100\n", &err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = au_sim_new(sc, 9);
	ck_assert_int_eq(au_sim_run(sim, 300 * AU_NS_PER_MS), 0);
	uint64_t held = 0, commits = 0;
	for (au_node_id n = 1; n <= 3; n++) {
		held += summary_field(sim, n, "held");
		ck_assert_uint_eq(summary_field(sim, n, "gaps"), 0);
		if (summary_field(sim, n, "commit") > commits)
			commits = summary_field(sim, n, "commit");
	}
	ck_assert_uint_gt(held, 10);     /* the jitter did reorder appends */
	ck_assert_uint_gt(commits, 2000);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ---- the KV workload's compare-and-set ----------------------------------------- */

/* The kv summary field of client node n (service 1 of raft,kv). */
static uint64_t kv_field(struct au_sim *sim, au_node_id n, const char *field)
{
	char buf[256], key[32];
	au_sim_model_summary(sim, n, 1, buf, sizeof(buf));
	g_snprintf(key, sizeof(key), " %s=", field);
	const char *p = strstr(buf, key);
	ck_assert_msg(p, "no %s in \"%s\" (n%u)", field, buf, n);
	return g_ascii_strtoull(p + strlen(key), NULL, 10);
}

/* CAS operations draw `expected` from the values the client saw at that
 * key, so a standard KV scenario swaps a substantial share of them (when
 * `expected` was drawn from 0..3 against written values >= 2^33, 0.2 %
 * swapped) and its history is still linearizable; some still fail. */
START_TEST(kv_cas_swaps_in_a_standard_scenario)
{
	uint64_t seed = (uint64_t)_i;
	struct au_scenario *sc = au_test_load("scenarios/raft-basic.ini");
	struct au_sim *sim = au_sim_new(sc, seed);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_msg(rc == 0, "seed %llu: %s: %s", (unsigned long long)seed, v ? v->check : "?",
		      v ? v->detail : "");
	uint64_t cas = 0, swapped = 0;
	for (au_node_id n = 6; n <= 8; n++) { /* 5 servers, 3 clients */
		cas += kv_field(sim, n, "cas");
		swapped += kv_field(sim, n, "cas_swapped");
	}
	ck_assert_msg(cas >= 300, "seed %llu: only %llu cas", (unsigned long long)seed,
		      (unsigned long long)cas);
	ck_assert_msg(swapped * 5 >= cas && swapped < cas, "seed %llu: %llu of %llu cas swapped",
		      (unsigned long long)seed, (unsigned long long)swapped, (unsigned long long)cas);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Two clients doing nothing but CAS on one key: each write of one makes
 * the other's knowledge stale, and only the value a failed CAS found there
 * (the machine's result) lets it swap again. */
START_TEST(kv_failed_cas_teaches_the_current_value)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"cas.ini", "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
			   "[workload]\nkv_clients = 2\nkv_keys = 1\nkv_rate = 40/s\n"
			   "kv_mix = get:0,put:0,cas:1\n[check]\ninvariants = raft_safety, linearizable_kv\n",
		&err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = au_sim_new(sc, 2);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	for (au_node_id n = 4; n <= 5; n++) {
		uint64_t cas = kv_field(sim, n, "cas"), swapped = kv_field(sim, n, "cas_swapped");
		ck_assert_msg(cas >= 200 && swapped * 4 >= cas && swapped < cas,
			      "n%u: %llu of %llu cas swapped", n, (unsigned long long)swapped,
			      (unsigned long long)cas);
	}
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* More keys than a client remembers (its memory is bounded: keys share
 * slots and evict each other), many CAS: the same seed gives the same
 * trace, another seed another, and the history stays linearizable. */
START_TEST(kv_cas_workload_is_deterministic)
{
	static const char text[] =
		"[run]\nduration = 8s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
		"[network]\nloss = 0.02\n[workload]\nkv_clients = 4\nkv_keys = 300\nkv_rate = 100/s\n"
		"kv_mix = get:30,put:30,cas:40\n[check]\ninvariants = raft_safety, linearizable_kv\n";
	char h[3][65];
	uint64_t swapped[3] = {0};
	for (int i = 0; i < 3; i++) {
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("det.ini", text, &err);
		ck_assert_msg(sc, "%s", err);
		struct au_sim *sim = au_sim_new(sc, i < 2 ? 7 : 8);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
		ck_assert_int_eq(au_sim_finish(sim), 0);
		for (au_node_id n = 4; n <= 7; n++)
			swapped[i] += kv_field(sim, n, "cas_swapped");
		au_sim_trace_hash(sim, h[i]);
		au_sim_free(sim);
		au_scenario_free(sc);
	}
	ck_assert_str_eq(h[0], h[1]);
	ck_assert_str_ne(h[0], h[2]);
	ck_assert_uint_eq(swapped[0], swapped[1]);
	ck_assert_uint_gt(swapped[0], 100);
}
END_TEST

/* ---- the checker is not vacuous ----------------------------------------------- */

struct forged {
	au_node_id node;
	uint16_t kind;
	int64_t a, b, c;
};

static const char *run_forged(const struct forged *ev, size_t n)
{
	static char check[64];
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"f.ini", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft\n"
			 "[raft]\nelection_timeout = 10s..11s\n", &err);
	ck_assert(sc);
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	for (size_t i = 0; i < n; i++)
		au_trace(au_sim_env(sim, ev[i].node, 0), ev[i].kind, ev[i].a, ev[i].b, ev[i].c);
	const struct au_violation *v = au_sim_violation(sim);
	g_strlcpy(check, v ? v->detail : "", sizeof(check));
	au_sim_free(sim);
	au_scenario_free(sc);
	return check;
}

START_TEST(checker_reports_each_violation)
{
	const struct forged two_leaders[] = {{1, AU_TR_RAFT_ROLE, 5, 3, 1}, {2, AU_TR_RAFT_ROLE, 5, 3, 2}};
	ck_assert(strstr(run_forged(two_leaders, 2), "election safety"));
	const struct forged mismatch[] = {{1, AU_TR_RAFT_APPEND, 1, 1, 111}, {2, AU_TR_RAFT_APPEND, 1, 1, 222}};
	ck_assert(strstr(run_forged(mismatch, 2), "log matching"));
	const struct forged leader_trunc[] = {{1, AU_TR_RAFT_ROLE, 2, 3, 1}, {1, AU_TR_RAFT_TRUNCATE, 1, 2, 0}};
	ck_assert(strstr(run_forged(leader_trunc, 2), "append-only"));
	const struct forged lost[] = {{1, AU_TR_RAFT_ROLE, 2, 3, 1}, {1, AU_TR_RAFT_APPEND, 1, 2, 9},
				      {1, AU_TR_RAFT_COMMIT, 1, 2, 9}, {2, AU_TR_RAFT_ROLE, 3, 3, 2}};
	ck_assert(strstr(run_forged(lost, 4), "leader completeness"));
	const struct forged beyond[] = {{2, AU_TR_RAFT_APPEND, 1, 1, 7}, {2, AU_TR_RAFT_COMMIT, 1, 1, 7}};
	ck_assert(strstr(run_forged(beyond, 2), "beyond any leader"));
	const struct forged early[] = {{2, AU_TR_RAFT_APPEND, 1, 1, 7}, {2, AU_TR_RAFT_APPLY, 1, 1, 7}};
	ck_assert(strstr(run_forged(early, 2), "before it was committed"));
	const struct forged below[] = {{1, AU_TR_RAFT_ROLE, 2, 3, 1}, {1, AU_TR_RAFT_APPEND, 1, 2, 9},
				       {1, AU_TR_RAFT_COMMIT, 1, 2, 9}, {2, AU_TR_RAFT_APPEND, 1, 2, 9},
				       {2, AU_TR_RAFT_COMMIT, 1, 2, 9}, {2, AU_TR_RAFT_TRUNCATE, 1, 2, 0}};
	ck_assert(strstr(run_forged(below, 6), "committed entry lost"));
	const struct forged fine[] = {{1, AU_TR_RAFT_ROLE, 2, 3, 1}, {1, AU_TR_RAFT_APPEND, 1, 2, 9},
				      {2, AU_TR_RAFT_APPEND, 1, 2, 9}, {1, AU_TR_RAFT_COMMIT, 1, 2, 9},
				      {2, AU_TR_RAFT_COMMIT, 1, 2, 9}, {2, AU_TR_RAFT_APPLY, 1, 2, 9}};
	ck_assert_str_eq(run_forged(fine, 6), "");
}
END_TEST

Suite *raft_suite(void)
{
	Suite *s = suite_create("raft");
	TCase *sc = tcase_create("scenarios");
	tcase_set_timeout(sc, 300);
	/* 8 scenarios x seeds 1..10 in make test; make test-all adds 11..99 */
	for (int k = 0; k < (int)G_N_ELEMENTS(raft_scenarios); k++)
		tcase_add_loop_test(sc, scenario_passes, k * 100 + 1, k * 100 + 11);
	suite_add_tcase(s, sc);
	TCase *more = tcase_create("scenarios-many-seeds");
	tcase_set_tags(more, "slow");
	tcase_set_timeout(more, 1200);
	for (int k = 0; k < (int)G_N_ELEMENTS(raft_scenarios); k++)
		tcase_add_loop_test(more, scenario_passes, k * 100 + 11, k * 100 + 100);
	suite_add_tcase(s, more);
	TCase *det = tcase_create("determinism");
	tcase_set_timeout(det, 120);
	tcase_add_loop_test(det, deterministic, 0, (int)G_N_ELEMENTS(raft_scenarios));
	tcase_add_test(det, same_hash_at_O0);
	suite_add_tcase(s, det);
	TCase *api = tcase_create("api");
	tcase_add_test(api, session_applies_a_retry_once);
	tcase_add_test(api, kv_delete_then_put_finds_nothing_deleted);
	tcase_add_test(api, bad_messages_are_dropped);
	tcase_add_test(api, checker_reports_each_violation);
	tcase_add_test(api, recovery_refuses_a_stale_suffix);
	tcase_add_test(api, unreadable_disk_at_boot_is_not_an_empty_disk);
	tcase_add_test(api, reads_share_heartbeat_rounds);
	tcase_add_test(api, reordered_appends_are_held_not_rejected);
	tcase_add_test(api, kv_failed_cas_teaches_the_current_value);
	tcase_add_test(api, kv_cas_workload_is_deterministic);
	tcase_add_loop_test(api, kv_cas_swaps_in_a_standard_scenario, 1, 4);
	suite_add_tcase(s, api);
	return s;
}
