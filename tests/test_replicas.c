/* test_replicas.c — replicas_agree and jobs_recorded: the digest table and
 * the description diff on their own; the machines' incremental digests
 * against digests rebuilt from a snapshot after every command; whole runs
 * in which one replica is made to diverge; and jobs_recorded fed forged
 * traces. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "lock.h"
#include "one.h"
#include "pcg32.h"
#include "raft/raft.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "sim/check/check_replicas.h"
#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

/* ---- the digest table ---------------------------------------------------------- */

static enum au_replica_verdict report(struct au_replica_table *t, au_node_id node, uint64_t index,
				      uint64_t digest, struct au_replica_report *first)
{
	struct au_replica_report r = {index, digest, digest & 0xff, node, (au_time)index * 10};
	return au_replica_table_report(t, &r, first);
}

START_TEST(table_keeps_first_digest_per_index)
{
	struct au_replica_table *t = au_replica_table_new(64, 4);
	struct au_replica_report first;
	ck_assert_int_eq(report(t, 1, 64, 0xaa, &first), AU_REPLICA_FIRST);
	ck_assert_int_eq(report(t, 2, 64, 0xaa, &first), AU_REPLICA_AGREE);
	ck_assert_int_eq(report(t, 3, 128, 0xbb, &first), AU_REPLICA_FIRST);
	/* a replica replaying after a restart reports 64 again: compared */
	ck_assert_int_eq(report(t, 2, 64, 0xaa, &first), AU_REPLICA_AGREE);
	ck_assert_int_eq(report(t, 3, 64, 0xab, &first), AU_REPLICA_DIFFER);
	ck_assert_uint_eq(first.node, 1);
	ck_assert_uint_eq(first.index, 64);
	ck_assert_uint_eq(first.digest, 0xaa);
	ck_assert_int_eq(first.t_ns, 640);
	/* the table keeps the first report, not the latest: n3's did not replace it */
	ck_assert_int_eq(report(t, 4, 64, 0xab, &first), AU_REPLICA_DIFFER);
	ck_assert_uint_eq(first.node, 1);
	/* a window of 4 indexes: 64 * 5 takes 64's slot; 64 is then too old */
	ck_assert_int_eq(report(t, 1, 64 * 5, 0xcc, &first), AU_REPLICA_FIRST);
	ck_assert_int_eq(report(t, 2, 64, 0x01, &first), AU_REPLICA_TOO_OLD);
	ck_assert_int_eq(report(t, 2, 64 * 5, 0xcd, &first), AU_REPLICA_DIFFER);
	au_replica_table_free(t);
}
END_TEST

START_TEST(diff_names_the_differing_records)
{
	const char *a = "meta: n=3\nkey 1: value=5\nkey 2: value=6\nkey 3: value=7\n";
	const char *b = "meta: n=3\nkey 1: value=5\nkey 2: value=9\nkey 4: value=8\n";
	char out[512];
	size_t n = au_replica_diff(a, 1, b, 2, 10, out, sizeof(out));
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out, "key 2: n1 has value=6, n2 has value=9\n"
			      "key 3: only n1 has value=7\n"
			      "key 4: only n2 has value=8\n");
	/* at most max_records written; all counted */
	n = au_replica_diff(a, 1, b, 2, 1, out, sizeof(out));
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out, "key 2: n1 has value=6, n2 has value=9\n");
	/* equal descriptions, empty ones, a short buffer */
	ck_assert_uint_eq(au_replica_diff(a, 1, a, 2, 10, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(au_replica_diff("", 1, NULL, 2, 10, out, sizeof(out)), 0);
	ck_assert_uint_eq(au_replica_diff(a, 1, "", 2, 10, out, 8), 4);
	ck_assert_uint_eq(strlen(out), 7);
	/* a line without ": " is a record with no fields */
	ck_assert_uint_eq(au_replica_diff("x\n", 1, "x\ny\n", 2, 10, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "y: only n2 has \n");
}
END_TEST

/* ---- incremental digests = digests of the restored state ------------------------- */

/* One random command of 1-4 operations (enqueue, lease, ack, nack,
 * checkpoint, renew, node marks, expire) for the queue whose held leases
 * are `leases` (id, token, node); ids come from *next_id. */
static void random_command(struct au_pcg32 *rng, struct au_taskq_batch *b, const GArray *leases,
			   uint64_t *next_id, uint64_t index)
{
	uint32_t ops = 1 + au_pcg32_below(rng, 4);
	for (uint32_t k = 0; k < ops; k++) {
		uint32_t what = au_pcg32_below(rng, 10);
		const uint64_t *l = leases->len ? &g_array_index(leases, uint64_t,
								 3 * au_pcg32_below(rng, leases->len))
						: NULL;
		au_node_id node = 1 + au_pcg32_below(rng, 4);
		if (what >= 3 && what < 5) {
			au_taskq_add_lease(b, node, 1 + au_pcg32_below(rng, 2), 0,
					   1 + au_pcg32_below(rng, 3), (au_time)index * 1000);
		} else if (what < 3 || !l) {
			uint8_t payload[5] = {(uint8_t)*next_id, 1, 2, 3, 4};
			struct au_task_spec s = {.id = (*next_id)++, .topic = au_pcg32_below(rng, 3),
						 .priority = (int32_t)au_pcg32_below(rng, 2),
						 .max_retries = 1, .rounds = 3, .payload = payload,
						 .payload_len = 1 + au_pcg32_below(rng, 5)};
			au_taskq_add_enqueue(b, &s);
		} else if (what == 5) {
			au_taskq_add_ack(b, (au_node_id)l[2], l[0], l[1], (const uint8_t *)"done", 4);
		} else if (what == 6) {
			au_taskq_add_nack(b, (au_node_id)l[2], l[0], l[1], au_pcg32_below(rng, 2));
		} else if (what == 7) {
			au_taskq_add_checkpoint(b, (au_node_id)l[2], l[0], l[1], 1,
						(const uint8_t *)"ck", 2);
		} else if (what == 8) {
			au_taskq_add_renew(b, (au_node_id)l[2], l[0], l[1], (au_time)index * 2000);
		} else {
			au_taskq_add_node(b, node, (enum au_taskq_node_op)au_pcg32_below(rng, 4));
			au_taskq_add_expire(b, l[0], l[1]);
		}
	}
}

/* The leases q holds now, as (id, token, node) triples. */
static void held_leases(const struct au_taskq *q, GArray *leases, uint64_t next_id)
{
	g_array_set_size(leases, 0);
	for (uint64_t id = 1; id < next_id; id++) {
		const struct au_task *t = au_taskq_get(q, id);
		if (t && t->state == AU_TASK_LEASED) {
			uint64_t e[3] = {id, t->token, t->node};
			g_array_append_vals(leases, e, 1);
		}
	}
}

/* The digest of a replica restored from q's snapshot. */
static uint64_t restored_digest(struct au_taskq *q)
{
	uint8_t *snap = NULL;
	size_t n = au_taskq_snapshot(q, &snap);
	struct au_taskq *r = au_taskq_new(NULL);
	ck_assert(au_taskq_restore(r, snap, n));
	uint64_t d = au_taskq_digest(r);
	free(snap);
	au_taskq_free(r);
	return d;
}

/* A task queue driven by random operations; after every command its
 * digest must equal that of a replica restored from its snapshot (so the
 * incremental bookkeeping misses no change), and the two must agree
 * again after both apply the next command. */
START_TEST(taskq_digest_matches_restored_state)
{
	struct au_pcg32 rng;
	au_pcg32_stream(&rng, (uint64_t)_i + 1, 77, 1);
	struct au_taskq *q = au_taskq_new(NULL);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	GArray *leases = g_array_new(FALSE, FALSE, sizeof(uint64_t) * 3); /* id, token, node */
	uint64_t prev = au_taskq_digest(q), next_id = 1;
	for (uint64_t index = 1; index <= 150; index++) {
		random_command(&rng, &b, leases, &next_id, index);
		ck_assert_int_gt(au_taskq_apply(q, index, b.buf, b.len), 0);
		au_taskq_batch_reset(&b);
		held_leases(q, leases, next_id);
		uint8_t *snap = NULL;
		size_t n = au_taskq_snapshot(q, &snap);
		struct au_taskq *r = au_taskq_new(NULL);
		ck_assert(au_taskq_restore(r, snap, n));
		uint64_t d = au_taskq_digest(q);
		ck_assert_msg(d == au_taskq_digest(r), "seed %d index %llu: incremental %016llx, "
			      "restored %016llx", _i, (unsigned long long)index, (unsigned long long)d,
			      (unsigned long long)au_taskq_digest(r));
		ck_assert_msg(d != prev, "seed %d index %llu: a command that changed the queue "
			      "left its digest alone", _i, (unsigned long long)index);
		g_autofree char *da = au_taskq_describe(q), *db = au_taskq_describe(r);
		ck_assert_str_eq(da, db);
		prev = d;
		free(snap);
		au_taskq_free(r);
	}
	g_array_free(leases, TRUE);
	au_taskq_batch_free(&b);
	au_taskq_free(q);
}
END_TEST

/* The digest folds in changed tasks' shares only when it is read: read
 * after 1-7 commands at random (a task often changed by several of them
 * in between), it must equal the digest of a twin queue read after every
 * command and that of a replica restored from a snapshot; and a queue
 * restored while changes were still unfolded must read as the snapshot's
 * state, not carry those changes over. */
START_TEST(taskq_digest_read_rarely_matches)
{
	struct au_pcg32 rng;
	au_pcg32_stream(&rng, (uint64_t)_i + 11, 78, 1);
	struct au_taskq *q = au_taskq_new(NULL), *twin = au_taskq_new(NULL);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	GArray *leases = g_array_new(FALSE, FALSE, sizeof(uint64_t) * 3);
	uint64_t next_id = 1;
	uint32_t until_read = 1 + au_pcg32_below(&rng, 7);
	uint8_t *old_snap = NULL;
	size_t old_len = 0;
	for (uint64_t index = 1; index <= 200; index++) {
		random_command(&rng, &b, leases, &next_id, index);
		ck_assert_int_gt(au_taskq_apply(q, index, b.buf, b.len), 0);
		ck_assert_int_gt(au_taskq_apply(twin, index, b.buf, b.len), 0);
		au_taskq_batch_reset(&b);
		held_leases(q, leases, next_id);
		uint64_t dt = au_taskq_digest(twin);
		if (index == 100) {
			old_len = au_taskq_snapshot(q, &old_snap);
			ck_assert_uint_gt(old_len, 0);
		}
		if (--until_read == 0) {
			uint64_t d = au_taskq_digest(q);
			ck_assert_msg(d == dt, "seed %d index %llu: read rarely %016llx, every "
				      "command %016llx", _i, (unsigned long long)index,
				      (unsigned long long)d, (unsigned long long)dt);
			ck_assert_uint_eq(d, restored_digest(q));
			until_read = 1 + au_pcg32_below(&rng, 7);
		}
	}
	/* One more command, its changes left unfolded; then back to index 100. */
	random_command(&rng, &b, leases, &next_id, 201);
	ck_assert_int_gt(au_taskq_apply(q, 201, b.buf, b.len), 0);
	uint64_t want = restored_digest(q);
	ck_assert(au_taskq_restore(q, old_snap, old_len));
	struct au_taskq *r = au_taskq_new(NULL);
	ck_assert(au_taskq_restore(r, old_snap, old_len));
	ck_assert_uint_eq(au_taskq_digest(q), au_taskq_digest(r));
	ck_assert_uint_ne(au_taskq_digest(q), want);
	free(old_snap);
	au_taskq_free(r);
	g_array_free(leases, TRUE);
	au_taskq_batch_free(&b);
	au_taskq_free(q);
	au_taskq_free(twin);
}
END_TEST

START_TEST(lock_and_one_digests_match_restored_state)
{
	struct au_locks *l = au_locks_new(NULL), *l2 = au_locks_new(NULL);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	uint64_t a = AU_LOCK_OWNER(1, 1), c = AU_LOCK_OWNER(2, 1);
	au_lock_add_lock(&b, 7, a, 100);
	au_lock_add_lock(&b, 8, c, 100);
	au_lock_add_lock(&b, 7, c, 100); /* busy: changes nothing but creates no key */
	ck_assert_int_eq(au_locks_apply(l, 1, b.buf, b.len), 3);
	uint64_t tok;
	au_locks_holder(l, 7, &tok, NULL);
	au_taskq_batch_reset(&b);
	au_lock_add_write(&b, 7, a, tok, 42);
	au_lock_add_unlock(&b, 8, 12345); /* wrong token */
	ck_assert_int_eq(au_locks_apply(l, 2, b.buf, b.len), 2);
	uint8_t *snap = NULL;
	size_t n = au_locks_snapshot(l, &snap);
	ck_assert(au_locks_restore(l2, snap, n));
	ck_assert_uint_eq(au_locks_digest(l), au_locks_digest(l2));
	/* the same next command keeps them equal; a different one does not */
	au_taskq_batch_reset(&b);
	au_lock_add_expire(&b, 7, tok);
	au_locks_apply(l, 3, b.buf, b.len);
	ck_assert_uint_ne(au_locks_digest(l), au_locks_digest(l2));
	au_locks_apply(l2, 3, b.buf, b.len);
	ck_assert_uint_eq(au_locks_digest(l), au_locks_digest(l2));
	g_autofree char *dl = au_locks_describe(l);
	ck_assert_msg(strstr(dl, "lock 7: holder=0"), "%s", dl);
	free(snap);
	au_locks_free(l);
	au_locks_free(l2);
	au_taskq_batch_free(&b);

	/* ONE: records stored in any order give one digest; a snapshot too */
	struct au_one *o1 = au_one_new(), *o2 = au_one_new(), *o3 = au_one_new();
	double res[2] = {0.5, 1e-9};
	uint32_t w[2] = {2, 5};
	struct au_one_record r = {.job = 3, .kind = AU_KERNEL_JACOBI, .verdict = AU_KERNEL_CONVERGED,
				  .rounds = 2, .n_residuals = 2, .residuals = res, .n_workers = 2,
				  .workers = w};
	uint8_t buf[1024];
	size_t n3 = au_one_encode_put(&r, buf, sizeof(buf));
	r.job = 9;
	r.verdict = AU_KERNEL_STALLED;
	uint8_t buf9[1024];
	size_t n9 = au_one_encode_put(&r, buf9, sizeof(buf9));
	au_one_apply(o1, 10, buf, n3);
	au_one_apply(o1, 11, buf9, n9);
	au_one_apply(o1, 12, buf9, n9); /* a duplicate: rejected, counted */
	au_one_apply(o2, 10, buf, n3);
	ck_assert_uint_ne(au_one_digest(o1), au_one_digest(o2));
	au_one_apply(o2, 11, buf9, n9);
	au_one_apply(o2, 12, buf9, n9);
	ck_assert_uint_eq(au_one_digest(o1), au_one_digest(o2));
	n = au_one_snapshot(o1, &snap);
	ck_assert(au_one_restore(o3, snap, n));
	ck_assert_uint_eq(au_one_digest(o1), au_one_digest(o3));
	g_autofree char *d1 = au_one_describe(o1), *d3 = au_one_describe(o3);
	ck_assert_str_eq(d1, d3);
	ck_assert_msg(strstr(d1, "record 9: index=11") && strstr(d1, "verdict=stalled"), "%s", d1);
	/* a corrupt snapshot empties the state, digest included */
	ck_assert(!au_one_restore(o3, snap, n - 1));
	struct au_one *empty = au_one_new();
	ck_assert_uint_eq(au_one_digest(o3), au_one_digest(empty));
	free(snap);
	au_one_free(empty);
	au_one_free(o1);
	au_one_free(o2);
	au_one_free(o3);
}
END_TEST

/* ---- whole runs -------------------------------------------------------------------- */

/* The replicas_agree line of the run summary. */
static void replicas_note(struct au_sim *sim, char *buf, size_t len)
{
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "replicas_agree") == 0)
			au_check_note(sim, i, buf, len);
}

struct install_watch {
	uint64_t installs, recovers, digests_after; /* digests by a node after it installed */
	bool installed[8];
};

static void watch(void *ctx, au_time t, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		  int64_t c)
{
	struct install_watch *w = ctx;
	(void)t, (void)b, (void)c;
	if (node >= 8)
		return;
	if (kind == AU_TR_RAFT_INSTALL) {
		w->installs++;
		w->installed[node] = true;
	} else if (kind == AU_TR_RAFT_RECOVER && b > 0) {
		w->recovers++;
		w->installed[node] = true;
	} else if (kind == AU_TR_RAFT_DIGEST && w->installed[node]) {
		w->digests_after++;
	}
	(void)a;
}

/* Frequent snapshots, a follower cut off long enough to need one sent to
 * it and a crash: replicas that got their state from a snapshot (installed
 * or recovered) report the same digests as those that applied the log. */
START_TEST(snapshots_agree_with_the_log)
{
	struct au_scenario *sc = au_test_load_text("<test>", 
		"[run]\nduration = 12s\n[cluster]\nnodes = 5\nservices = raft,kv\n"
		"[raft]\nsnapshot_every = 40\ndigest_every = 8\n"
		"[workload]\nkv_clients = 4\nkv_rate = 40/s\n"
		"[fault.cut]\nat = 1s\naction = partition\ngroups = n5 | rest\nuntil = 5s\n"
		"[fault.crash]\nat = 6s\naction = crash\ntarget = n3\nrestart_after = 1s\n"
		"[check]\ninvariants = raft_safety, replicas_agree, linearizable_kv\n");
	struct au_sim *sim = au_sim_new(sc, (uint64_t)_i + 1);
	struct install_watch w = {0};
	au_sim_set_observer(sim, watch, &w);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_msg(rc == 0, "seed %d: %s: %s", _i + 1, v ? v->check : "?", v ? v->detail : "");
	ck_assert_msg(w.installs > 0 && w.recovers > 0, "seed %d: installs %llu recovers %llu", _i + 1,
		      (unsigned long long)w.installs, (unsigned long long)w.recovers);
	ck_assert_uint_gt(w.digests_after, 10);
	char note[256];
	replicas_note(sim, note, sizeof(note));
	ck_assert_msg(strstr(note, "every 8 applied entries"), "%s", note);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A replica made to diverge behind Raft's back (a record slipped into
 * n2's ONE, which no client reads) is caught at the next digest. */
START_TEST(a_silently_diverged_replica_is_caught)
{
	struct au_scenario *sc = au_test_load_text("<test>", 
		"[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft,kv,one\n"
		"[raft]\ndigest_every = 16\n[workload]\nkv_clients = 2\nkv_rate = 40/s\n");
	struct au_sim *sim = au_sim_new(sc, 3);
	ck_assert_int_eq(au_sim_run(sim, 3 * AU_NS_PER_S), 0);
	const struct au_env *env = au_sim_env(sim, 2, 0);
	struct au_one *one = env->ops->local_service(env->ctx, "one");
	struct au_raft *raft = env->ops->local_service(env->ctx, "raft");
	ck_assert(one && raft);
	double res[1] = {0.25};
	uint32_t w[1] = {1};
	struct au_one_record r = {.job = 999, .kind = AU_KERNEL_PAGERANK, .verdict = AU_KERNEL_CONVERGED,
				  .rounds = 1, .n_residuals = 1, .residuals = res, .n_workers = 1,
				  .workers = w};
	uint8_t buf[256];
	size_t n = au_one_encode_put(&r, buf, sizeof(buf));
	au_one_apply(one, au_raft_applied_index(raft), buf, n);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 1);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_str_eq(v->check, "replicas_agree");
	ck_assert_msg(strstr(v->detail, "differ at applied index") && strstr(v->detail, "(one"),
		      "%s", v->detail);
	ck_assert_msg(v->node == 2 || strstr(v->detail, "n2 and"), "%s", v->detail);
	ck_assert_int_lt(v->t_ns, 5 * AU_NS_PER_S);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* What a replica's state was at a digest report, kept by an observer. */
struct past {
	struct au_sim *sim;
	au_node_id node;
	uint64_t index, digest;
	au_time t;
	char *text[AU_RAFT_MAX_MACHINES];
};

static void keep_past(void *ctx, au_time t, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		      int64_t c)
{
	struct past *p = ctx;
	(void)c;
	if (kind != AU_TR_RAFT_DIGEST || p->node || node != 2 || a != 128)
		return;
	const struct au_env *env = au_sim_env(p->sim, node, 0);
	struct au_raft *r = env->ops->local_service(env->ctx, "raft");
	p->node = node;
	p->index = (uint64_t)a;
	p->digest = (uint64_t)b;
	p->t = t;
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++)
		p->text[id] = au_raft_slot_name(r, id) ? au_raft_describe(r, id) : NULL;
}

/* The replay replicas_agree uses to see a replica's state at an index it
 * has left: the same descriptions as at the time, for a report that
 * happened; nothing for one that did not. */
START_TEST(replay_shows_a_past_state)
{
	struct au_scenario *sc = au_test_load_text("<test>", 
		"[run]\nduration = 6s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon,kv\n"
		"[raft]\nsnapshot_every = 100\n[workload]\ntasks = 50\nkv_clients = 2\n"
		"kv_rate = 30/s\n[fault.crash]\nat = 2s\naction = crash\ntarget = n3\n"
		"restart_after = 1s\n");
	struct au_sim *sim = au_sim_new(sc, 4);
	struct past p = {.sim = sim};
	au_sim_set_observer(sim, keep_past, &p);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_msg(p.node == 2, "n2 never reported index 128");
	char *text[AU_RAFT_MAX_MACHINES];
	ck_assert(au_replica_replay(sim, p.node, p.index, p.t, p.digest, text));
	int described = 0;
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++) {
		ck_assert_msg((p.text[id] == NULL) == (text[id] == NULL), "slot %u", id);
		if (text[id]) {
			ck_assert_str_eq(text[id], p.text[id]);
			described++;
		}
		g_free(text[id]);
	}
	ck_assert_int_eq(described, 4); /* sessions, kv, taskq, locks */
	/* a report that never happened, or with another digest: no state */
	ck_assert(!au_replica_replay(sim, p.node, p.index, p.t, p.digest ^ 1, text));
	ck_assert(!au_replica_replay(sim, 1, p.index, p.t + 1, p.digest, text));
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++) {
		ck_assert(text[id] == NULL);
		g_free(p.text[id]);
	}
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Same scenario and seed: same trace, digests included. */
START_TEST(digests_are_deterministic)
{
	struct au_scenario *sc = au_test_load_text("<test>", 
		"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon\n"
		"[raft]\nsnapshot_every = 50\ndigest_every = 4\n[workload]\ntasks = 60\n");
	char h[2][65];
	for (int k = 0; k < 2; k++) {
		struct au_sim *sim = au_sim_new(sc, 9);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
		ck_assert_int_eq(au_sim_finish(sim), 0);
		au_sim_trace_hash(sim, h[k]);
		char note[256];
		replicas_note(sim, note, sizeof(note));
		ck_assert_msg(!strstr(note, " 0 compared"), "%s", note);
		au_sim_free(sim);
	}
	ck_assert_str_eq(h[0], h[1]);
	au_scenario_free(sc);
}
END_TEST

START_TEST(scenario_keys_and_check_names)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"<t>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
		"[raft]\ndigest_every = 0\n", &err);
	ck_assert(!sc);
	ck_assert_msg(strstr(err, "digest_every"), "%s", err);
	g_free(err);
	err = NULL;
	sc = au_scenario_load_text("<t>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
				   "[check]\ninvariants = replicas_agree\n", &err);
	ck_assert_msg(sc, "%s", err);
	au_scenario_free(sc);
	sc = au_scenario_load_text("<t>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
				   "[check]\ninvariants = jobs_recorded\n", &err);
	ck_assert(!sc);
	ck_assert_msg(strstr(err, "jobs_recorded") && strstr(err, "rqml"), "%s", err);
	g_free(err);
	err = NULL;
	sc = au_scenario_load_text("<t>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = swim\n"
				   "[check]\ninvariants = replicas_agree\n", &err);
	ck_assert(!sc);
	ck_assert_msg(strstr(err, "replicas_agree") && strstr(err, "raft"), "%s", err);
	g_free(err);
}
END_TEST

/* ---- jobs_recorded, fed forged traces --------------------------------------------- */

struct forged {
	au_node_id node;
	uint16_t kind;
	int64_t a, b, c;
};

#define DONE_B(rounds, verdict) ((int64_t)(rounds) | (int64_t)(verdict) << 32)

/* Feed the events to a run of an RQML scenario (no faults) at time 0, end
 * it at `end_ns`, and return "check: detail" of the violation ("" if none). */
static char *forged_jobs(const struct forged *ev, size_t n, au_time end_ns)
{
	struct au_scenario *sc = au_test_load_text("<test>", 
		"[run]\nduration = 60s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon,one,rqml\n"
		"[raft]\nelection_timeout = 100s..110s\n[workload]\njobs = jacobi:0\n"
		"[check]\ninvariants = jobs_recorded\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	for (size_t i = 0; i < n; i++)
		au_trace(au_sim_env(sim, ev[i].node, 0), ev[i].kind, ev[i].a, ev[i].b, ev[i].c);
	if (!au_sim_violation(sim)) {
		au_sim_run(sim, end_ns);
		au_sim_finish(sim);
	}
	const struct au_violation *v = au_sim_violation(sim);
	char *detail = v ? g_strdup_printf("%s: %s", v->check, v->detail) : g_strdup("");
	au_sim_free(sim);
	au_scenario_free(sc);
	return detail;
}

START_TEST(jobs_recorded_is_not_vacuous)
{
	const struct forged ok[] = {
		{1, AU_TR_RQML_JOB, 4, AU_KERNEL_JACOBI, 0},
		{1, AU_TR_RQML_DONE, 4, DONE_B(12, AU_KERNEL_CONVERGED), 0x77},
		{2, AU_TR_RQML_DONE, 4, DONE_B(12, AU_KERNEL_CONVERGED), 0x77},
		{1, AU_TR_ONE_STORE, 4, 50, 0x77},
		{2, AU_TR_ONE_STORE, 4, 50, 0x77}, /* the same record on another replica */
		{1, AU_TR_ONE_REJECT, 4, 51, 0x77}, /* a second put, rejected: fine */
	};
	char *d = forged_jobs(ok, G_N_ELEMENTS(ok), 30 * AU_NS_PER_S);
	ck_assert_str_eq(d, "");
	g_free(d);
	const struct forged early[] = {{1, AU_TR_ONE_STORE, 4, 50, 0x77}};
	d = forged_jobs(early, 1, AU_NS_PER_S);
	ck_assert_msg(strstr(d, "jobs_recorded: n1 stored a ONE record of job 4 at log index 50, "
				"but no replica has finished that job"), "%s", d);
	g_free(d);
	const struct forged twice[] = {
		{1, AU_TR_RQML_DONE, 4, DONE_B(3, AU_KERNEL_MAX_ROUNDS), 0x77},
		{1, AU_TR_ONE_STORE, 4, 50, 0x77},
		{3, AU_TR_ONE_STORE, 4, 60, 0x77},
	};
	d = forged_jobs(twice, 3, AU_NS_PER_S);
	/* exactly_once_one, earlier in the list, sees it first */
	ck_assert_msg(strstr(d, "exactly_once_one: job 4 stored in ONE twice"), "%s", d);
	g_free(d);
	const struct forged wrong[] = {
		{1, AU_TR_RQML_DONE, 4, DONE_B(3, AU_KERNEL_STALLED), 0x77},
		{2, AU_TR_ONE_STORE, 4, 50, 0x78},
	};
	d = forged_jobs(wrong, 2, AU_NS_PER_S);
	ck_assert_msg(strstr(d, "jobs_recorded: the ONE record of job 4 has digest 0000000000000078"),
		      "%s", d);
	g_free(d);
	/* finished, never recorded: fails once the grace (5 s) is over */
	const struct forged lost[] = {
		{1, AU_TR_RQML_DONE, 4, DONE_B(3, AU_KERNEL_CONVERGED), 0x77},
		{1, AU_TR_RQML_DONE, 6, DONE_B(8, AU_KERNEL_STALLED), 0x79},
		{1, AU_TR_RQML_DONE, 5, DONE_B(2, AU_KERNEL_MAX_ROUNDS), 0x78},
		{1, AU_TR_ONE_STORE, 4, 50, 0x77},
	};
	d = forged_jobs(lost, 4, 4 * AU_NS_PER_S);
	ck_assert_str_eq(d, "");
	g_free(d);
	d = forged_jobs(lost, 4, 6 * AU_NS_PER_S);
	ck_assert_msg(strstr(d, "jobs_recorded: no ONE record at the end for 2 finished job(s), "
				"e.g. job 5 (max_rounds after 2 rounds"), "%s", d);
	g_free(d);
}
END_TEST

Suite *replicas_suite(void)
{
	Suite *s = suite_create("replicas");
	TCase *tc = tcase_create("logic");
	tcase_add_test(tc, table_keeps_first_digest_per_index);
	tcase_add_test(tc, diff_names_the_differing_records);
	tcase_add_loop_test(tc, taskq_digest_matches_restored_state, 0, 4);
	tcase_add_loop_test(tc, taskq_digest_read_rarely_matches, 0, 4);
	tcase_add_test(tc, lock_and_one_digests_match_restored_state);
	tcase_add_test(tc, scenario_keys_and_check_names);
	tcase_add_test(tc, jobs_recorded_is_not_vacuous);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("runs");
	tcase_set_timeout(tr, 120);
	tcase_add_loop_test(tr, snapshots_agree_with_the_log, 0, 3);
	tcase_add_test(tr, a_silently_diverged_replica_is_caught);
	tcase_add_test(tr, replay_shows_a_past_state);
	tcase_add_test(tr, digests_are_deterministic);
	suite_add_tcase(s, tr);
	return s;
}
