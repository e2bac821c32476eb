/* test_exec.c — the execution layer: the task queue machine's semantics
 * (priority then FIFO, capabilities, affinity, fencing tokens, retries and
 * dead letters, expiry, drain, node death and reboot, checkpoints,
 * snapshots, malformed commands), the lock machine, and whole scenarios
 * with their checkers and determinism. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"
#include "orchestrator/orchestrator.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "sim/check/check.h"
#include "u64map.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "taskq_fix.h"
#include "tests.h"

/* ---- the queue machine, driven by hand ---------------------------------------- */

static void enq(struct qfix *f, uint64_t id, int32_t prio, uint32_t topic, uint32_t caps,
		uint32_t retries)
{
	uint8_t payload[3] = {1, 2, 3};
	struct au_task_spec s = {.id = id, .topic = topic, .priority = prio, .caps = caps,
				 .max_retries = retries, .rounds = 1, .payload = payload,
				 .payload_len = 3};
	ck_assert_int_eq(au_taskq_add_enqueue(&f->b, &s), 0);
}

/* Lease up to `want` tasks to `node`; returns how many were granted and
 * their tokens in grant order. */
static uint32_t lease(struct qfix *f, au_node_id node, uint32_t caps, uint32_t want,
		      uint64_t *tokens)
{
	au_taskq_add_lease(&f->b, node, 1, caps, want, 1000);
	qfix_commit(f);
	uint32_t n = 0;
	for (guint i = 0; i < f->events->len; i++) {
		struct au_taskq_event *e = &g_array_index(f->events, struct au_taskq_event, i);
		if (e->type != AU_TASKQ_EV_GRANTED)
			continue;
		ck_assert_uint_eq(e->node, node);
		tokens[n++] = e->token;
	}
	return n;
}

struct find_token {
	uint64_t token, id;
};

static bool find_token_cb(void *ctx, const struct au_task *t)
{
	struct find_token *x = ctx;
	if (t->token != x->token)
		return true;
	x->id = t->id;
	return false;
}

/* The task a current lease token belongs to (0: none). */
static uint64_t task_of_token(struct qfix *f, uint64_t token)
{
	struct find_token fd = {token, 0};
	au_taskq_each_lease(f->q, find_token_cb, &fd);
	return fd.id;
}

START_TEST(priority_then_fifo)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 10, 0, 0, 0, 3);
	enq(&f, 11, 5, 0, 0, 3);
	enq(&f, 12, 0, 0, 0, 3);
	enq(&f, 13, 5, 0, 0, 3);
	enq(&f, 10, 9, 0, 0, 3); /* a duplicate id: ignored */
	qfix_commit(&f);
	uint64_t counts[4];
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[AU_TASK_QUEUED], 4);
	uint64_t tok[8];
	ck_assert_uint_eq(lease(&f, 1, 0, 8, tok), 4);
	uint64_t want[] = {11, 13, 10, 12};
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(task_of_token(&f, tok[i]), want[i]);
	/* tokens increase along the log and within an entry */
	for (int i = 1; i < 4; i++)
		ck_assert_uint_gt(tok[i], tok[i - 1]);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 4);
	qfix_free(&f);
}
END_TEST

START_TEST(capabilities_filter)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 0, 0x2, 3); /* needs capability bit 1 */
	enq(&f, 2, 0, 0, 0, 3);
	qfix_commit(&f);
	uint64_t tok[4];
	ck_assert_uint_eq(lease(&f, 1, 0x1, 4, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 2);
	ck_assert_uint_eq(lease(&f, 2, 0x1, 4, tok), 0);
	ck_assert_uint_eq(lease(&f, 3, 0x3, 4, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(ack_needs_current_token)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 7, 0, 0, 0, 3);
	qfix_commit(&f);
	uint64_t tok[2];
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	uint64_t first = tok[0];
	/* expire, re-lease to n2: n1's token is stale now */
	au_taskq_add_expire(&f.b, 7, first);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 7)->retries, 1);
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	uint8_t r1[1] = {1}, r2[1] = {2};
	au_taskq_add_ack(&f.b, 1, 7, first, r1, 1);
	qfix_commit(&f);
	ck_assert_int_eq(g_array_index(f.events, struct au_taskq_event, 0).type,
			 AU_TASKQ_EV_ACK_STALE);
	ck_assert_uint_eq(au_taskq_get(f.q, 7)->state, AU_TASK_LEASED);
	au_taskq_add_ack(&f.b, 2, 7, tok[0], r2, 1);
	au_taskq_add_ack(&f.b, 2, 7, tok[0], r1, 1); /* duplicate: no effect */
	qfix_commit(&f);
	const struct au_task *t = au_taskq_get(f.q, 7);
	ck_assert_uint_eq(t->state, AU_TASK_DONE);
	ck_assert_uint_eq(t->result_len, 1);
	ck_assert_uint_eq(t->result[0], 2);
	ck_assert_uint_eq(t->done_node, 2);
	ck_assert_int_gt(au_taskq_affinity(f.q, 2, 0), 0);
	ck_assert_int_lt(au_taskq_affinity(f.q, 1, 0), 0);
	qfix_free(&f);
}
END_TEST

START_TEST(retries_then_dead_letter)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 3, 0, 0, 0, 2);
	qfix_commit(&f);
	uint64_t tok[1];
	for (int attempt = 0; attempt < 3; attempt++) {
		ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
		au_taskq_add_nack(&f.b, 1, 3, tok[0], true);
		qfix_commit(&f);
	}
	const struct au_task *t = au_taskq_get(f.q, 3);
	ck_assert_uint_eq(t->state, AU_TASK_DEAD);
	ck_assert_uint_eq(t->retries, 3);
	ck_assert_uint_eq(t->attempts, 3);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 0);
	/* a nack without requeue dead-letters at once */
	enq(&f, 4, 0, 0, 0, 5);
	qfix_commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_nack(&f.b, 1, 4, tok[0], false);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 4)->state, AU_TASK_DEAD);
	/* a release is no failure */
	enq(&f, 5, 0, 0, 0, 0);
	qfix_commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_release(&f.b, 1, 5, tok[0]);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 5)->state, AU_TASK_QUEUED);
	ck_assert_uint_eq(au_taskq_get(f.q, 5)->retries, 0);
	qfix_free(&f);
}
END_TEST

START_TEST(drain_death_and_reboot)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 6; id++)
		enq(&f, id, 0, 0, 0, 5);
	qfix_commit(&f);
	uint64_t tok[8];
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 2);
	au_taskq_add_node(&f.b, 1, AU_TASKQ_NODE_DRAIN);
	qfix_commit(&f);
	ck_assert(au_taskq_node_draining(f.q, 1));
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 0);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 2); /* running ones stay */
	au_taskq_add_node(&f.b, 1, AU_TASKQ_NODE_RESUME);
	qfix_commit(&f);
	/* death reclaims at once */
	ck_assert_uint_eq(lease(&f, 2, 0, 2, tok), 2);
	au_taskq_add_node(&f.b, 2, AU_TASKQ_NODE_DEAD);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 2), 0);
	ck_assert_uint_eq(lease(&f, 2, 0, 2, tok), 0); /* no leases to the dead */
	au_taskq_add_node(&f.b, 2, AU_TASKQ_NODE_ALIVE);
	qfix_commit(&f);
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	/* a newer incarnation of n1 revokes what the old one held */
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 2);
	au_taskq_add_lease(&f.b, 1, 2, 0, 1, 1000);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 1);
	ck_assert_uint_eq(au_taskq_node_inc(f.q, 1), 2);
	/* and the old incarnation gets nothing any more */
	au_taskq_add_lease(&f.b, 1, 1, 0, 1, 1000);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(renew_and_checkpoint)
{
	struct qfix f;
	qfix_init(&f);
	struct au_task_spec s = {.id = 9, .max_retries = 3, .rounds = 5};
	au_taskq_add_enqueue(&f.b, &s);
	qfix_commit(&f);
	uint64_t tok[1];
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_renew(&f.b, 1, 9, tok[0], 5000);
	qfix_commit(&f);
	ck_assert_int_eq(au_taskq_get(f.q, 9)->deadline_ns, 5000);
	au_taskq_add_renew(&f.b, 2, 9, tok[0], 9000); /* not n2's lease */
	qfix_commit(&f);
	ck_assert_int_eq(g_array_index(f.events, struct au_taskq_event, 0).type,
			 AU_TASKQ_EV_RENEW_LOST);
	uint8_t st[2] = {4, 2};
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0], 2, st, 2);
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0], 1, st, 1); /* older: rejected */
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0] + 1, 3, st, 1); /* wrong token */
	qfix_commit(&f);
	const struct au_task *t = au_taskq_get(f.q, 9);
	ck_assert_uint_eq(t->ckpt_round, 2);
	ck_assert_uint_eq(t->ckpt_len, 2);
	/* survives an expiry: the next holder resumes from it */
	au_taskq_add_expire(&f.b, 9, tok[0]);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 9)->ckpt_round, 2);
	qfix_free(&f);
}
END_TEST

START_TEST(affinity_prefers_good_topics)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 1, 0, 9);
	enq(&f, 2, 0, 2, 0, 9);
	qfix_commit(&f);
	/* n1 succeeds on topic 2 */
	uint64_t tok[2];
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 2);
	au_taskq_add_ack(&f.b, 1, 2, tok[1], NULL, 0);
	au_taskq_add_release(&f.b, 1, 1, tok[0]);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 2)->state, AU_TASK_DONE);
	enq(&f, 3, 0, 1, 0, 9);
	enq(&f, 4, 0, 2, 0, 9); /* younger than 3, but topic 2 */
	qfix_commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 4);
	/* without affinity (n2), the oldest head: task 1 */
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(snapshot_roundtrip)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 20; id++)
		enq(&f, id, (int32_t)(id % 3), (uint32_t)(id % 4), 0, 2);
	qfix_commit(&f);
	uint64_t tok[8];
	lease(&f, 1, 0, 5, tok);
	au_taskq_add_ack(&f.b, 1, task_of_token(&f, tok[0]), tok[0], (const uint8_t *)"ok", 2);
	au_taskq_add_node(&f.b, 3, AU_TASKQ_NODE_DRAIN);
	qfix_commit(&f);
	uint8_t *a = NULL, *b = NULL;
	size_t na = au_taskq_snapshot(f.q, &a);
	struct au_taskq *r = au_taskq_new(NULL);
	ck_assert(au_taskq_restore(r, a, na));
	size_t nb = au_taskq_snapshot(r, &b);
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(a, b, na) == 0);
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	ck_assert(au_taskq_node_draining(r, 3));
	/* the restored replica behaves identically from here */
	struct au_taskq_batch cmd;
	au_taskq_batch_init(&cmd);
	au_taskq_add_lease(&cmd, 2, 1, 0, 4, 77);
	ck_assert_int_eq(au_taskq_apply(f.q, 100, cmd.buf, cmd.len), 1);
	ck_assert_int_eq(au_taskq_apply(r, 100, cmd.buf, cmd.len), 1);
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	/* corrupt snapshots are refused and change nothing */
	for (size_t cut = 0; cut < na; cut += na / 7 + 1)
		ck_assert(!au_taskq_restore(r, a, cut));
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	au_taskq_batch_free(&cmd);
	free(a);
	free(b);
	au_taskq_free(r);
	qfix_free(&f);
}
END_TEST

START_TEST(malformed_commands_change_nothing)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 0, 0, 2);
	au_taskq_add_lease(&f.b, 1, 1, 0, 1, 10);
	uint64_t chain = au_taskq_chain(f.q);
	/* every truncation and a few bit flips of a valid command */
	for (size_t cut = 0; cut < f.b.len; cut++)
		ck_assert_int_lt(au_taskq_apply(f.q, 1, f.b.buf, cut), 0);
	uint8_t *copy = g_memdup2(f.b.buf, f.b.len);
	copy[4] = 99; /* unknown operation code */
	ck_assert_int_lt(au_taskq_apply(f.q, 1, copy, f.b.len), 0);
	g_free(copy);
	ck_assert_uint_eq(au_taskq_chain(f.q), chain);
	uint64_t counts[4];
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[0] + counts[1] + counts[2] + counts[3], 0);
	qfix_commit(&f);
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[AU_TASK_LEASED], 1);
	qfix_free(&f);
}
END_TEST

/* ---- the lock machine ---------------------------------------------------------- */

struct lfix {
	GArray *ev;
};

static void lock_ev(void *ctx, const struct au_lock_event *ev)
{
	g_array_append_val(((struct lfix *)ctx)->ev, *ev);
}

START_TEST(locks_fence_stale_holders)
{
	struct au_locks *l = au_locks_new(NULL);
	struct lfix f = {g_array_new(FALSE, FALSE, sizeof(struct au_lock_event))};
	au_locks_observe(l, lock_ev, &f);
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	uint64_t a = AU_LOCK_OWNER(1, 1), c = AU_LOCK_OWNER(2, 1);
	au_lock_add_lock(&b, 7, a, 100);
	au_lock_add_lock(&b, 7, c, 100); /* busy */
	ck_assert_int_eq(au_locks_apply(l, 1, b.buf, b.len), 2);
	ck_assert_int_eq(g_array_index(f.ev, struct au_lock_event, 0).type, AU_LOCK_EV_GRANTED);
	ck_assert_int_eq(g_array_index(f.ev, struct au_lock_event, 1).type, AU_LOCK_EV_BUSY);
	uint64_t ta = g_array_index(f.ev, struct au_lock_event, 0).token;
	au_taskq_batch_reset(&b);
	au_lock_add_write(&b, 7, a, ta, 11);
	au_lock_add_expire(&b, 7, ta);      /* the leader's clock passed the deadline */
	au_lock_add_lock(&b, 7, c, 300);    /* c takes it */
	au_lock_add_write(&b, 7, a, ta, 12); /* a wakes up and writes: stale */
	ck_assert_int_eq(au_locks_apply(l, 2, b.buf, b.len), 4);
	uint64_t tok;
	ck_assert_uint_eq(au_locks_holder(l, 7, &tok, NULL), c);
	ck_assert_uint_gt(tok, ta);
	ck_assert_int_eq(au_locks_value(l, 7), 11);
	const struct au_lock_event *last = &g_array_index(f.ev, struct au_lock_event, f.ev->len - 1);
	ck_assert_int_eq(last->type, AU_LOCK_EV_WRITE);
	ck_assert(!last->accepted);
	/* unlock needs the holder's token; snapshots round-trip */
	au_taskq_batch_reset(&b);
	au_lock_add_unlock(&b, 7, ta);
	au_locks_apply(l, 3, b.buf, b.len);
	ck_assert_uint_eq(au_locks_holder(l, 7, NULL, NULL), c);
	uint8_t *snap = NULL;
	size_t n = au_locks_snapshot(l, &snap);
	struct au_locks *r = au_locks_new(NULL);
	ck_assert(au_locks_restore(r, snap, n));
	ck_assert_uint_eq(au_locks_holder(r, 7, NULL, NULL), c);
	ck_assert(!au_locks_restore(r, snap, n - 1));
	for (size_t cut = 0; cut < b.len; cut++)
		ck_assert_int_lt(au_locks_apply(l, 4, b.buf, cut), 0);
	free(snap);
	au_locks_free(r);
	au_locks_free(l);
	au_taskq_batch_free(&b);
	g_array_free(f.ev, TRUE);
}
END_TEST

/* ---- whole scenarios ---------------------------------------------------------- */

static const char *const exec_scenarios[] = {
	"scenarios/aureon-basic.ini",     "scenarios/aureon-worker-crash.ini",
	"scenarios/aureon-leader-crash.ini", "scenarios/aureon-partition.ini",
	"scenarios/aureon-drain.ini",     "scenarios/aureon-backpressure.ini",
	"scenarios/aureon-locks.ini",     "scenarios/aureon-skew.ini",
	"scenarios/aureon-expiry.ini",
};

/* _i = scenario * 100 + seed */
START_TEST(scenario_passes)
{
	au_test_scenario_passes(exec_scenarios[_i / 100], (uint64_t)(_i % 100));
}
END_TEST

START_TEST(deterministic)
{
	static const int pick[] = {0, 1, 3, 6, 8};
	const char *path = exec_scenarios[pick[_i]];
	struct au_scenario *sc = au_test_load(path);
	char a[65], b[65], c[65];
	au_test_run_passes(sc, 5, path, NULL, a, NULL);
	au_test_run_passes(sc, 5, path, NULL, b, NULL);
	au_test_run_passes(sc, 6, path, NULL, c, NULL);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	au_scenario_free(sc);
}
END_TEST

/* aureon-expiry: leases that end by timeout only — a holder cut off from
 * the leader, clocks jumped on holders and on the leader, a takeover —
 * pass lease_expiry, and it did judge them: expiries were proposed, none
 * before its lease ran out on the proposing leader's clock, none later
 * than one scan after that, except where the leader's own clock jumped
 * ahead past the deadline (up to the 1.5 s a 3 s jump leaves). */
START_TEST(expiry_judged_on_leader_clock)
{
	struct au_scenario *sc = au_test_load("scenarios/aureon-expiry.ini");
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct au_sim *sim = au_sim_new(sc, seed);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
		ck_assert_int_eq(au_sim_finish(sim), 0);
		const char *names[32], *results[32];
		size_t n = au_check_results(sim, names, results, 32);
		bool seen = false;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(names[i], "lease_expiry") != 0)
				continue;
			seen = true;
			ck_assert_str_eq(results[i], "pass");
			char note[256];
			ck_assert(au_check_note(sim, i, note, sizeof(note)));
			unsigned long long proposed = 0, judged = 0;
			double lo = -1, hi = -1;
			const char *j = strstr(note, "; ");
			ck_assert_msg(sscanf(note, "%llu expiries proposed", &proposed) == 1, "%s", note);
			ck_assert_msg(strstr(note, "s after the lease ran out") &&
				      sscanf(strstr(note, "), ") + 3, "%lf s to %lf s", &lo, &hi) == 2,
				      "%s", note);
			ck_assert_msg(j && sscanf(j + 2, "%llu leases judged", &judged) == 1, "%s", note);
			ck_assert_msg(proposed >= 10 && judged >= 100, "seed %llu: %s",
				      (unsigned long long)seed, note);
			ck_assert_msg(lo >= 0 && hi <= 1.6, "seed %llu: %s", (unsigned long long)seed, note);
		}
		ck_assert(seen);
		au_sim_free(sim);
	}
	au_scenario_free(sc);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	const char *const paths[] = {exec_scenarios[1], exec_scenarios[3]};
	au_test_same_hash_at_O0(paths, G_N_ELEMENTS(paths), 1, true);
}
END_TEST

/* One parsed text record: "<index> E t=<t> n<node> <KIND> a b c". */
struct rec {
	int64_t t;
	uint32_t node;
	char kind[32];
	int64_t a, b, c;
};

static GArray *parse_records(char *text)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(struct rec));
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct rec r = {0};
		unsigned long long idx;
		long long t, a, b, c;
		if (sscanf(line, "%llu E t=%lld n%u %31s %lld %lld %lld", &idx, &t, &r.node, r.kind, &a,
			   &b, &c) != 7)
			continue;
		r.t = t;
		r.a = a;
		r.b = b;
		r.c = c;
		g_array_append_val(out, r);
	}
	return out;
}

static GArray *run_records(struct au_scenario *sc, uint64_t seed, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	au_test_run_passes(sc, seed, what, f, NULL, NULL);
	fclose(f);
	GArray *recs = parse_records(buf);
	free(buf);
	return recs;
}

/* A holder paused past its lease writes with a stale token: rejected. */
START_TEST(paused_lock_holder_is_fenced)
{
	struct au_scenario *sc = au_test_load("scenarios/aureon-locks.ini");
	uint64_t rejected = 0, accepted = 0;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		GArray *recs = run_records(sc, seed, "aureon-locks");
		for (guint i = 0; i < recs->len; i++) {
			const struct rec *r = &g_array_index(recs, struct rec, i);
			if (strcmp(r->kind, "LOCK_WRITE") == 0 && r->node == 1)
				*(r->c ? &accepted : &rejected) += 1;
		}
		g_array_free(recs, TRUE);
	}
	ck_assert_uint_gt(accepted, 50);
	ck_assert_msg(rejected > 0, "no stale write happened: the scenario no longer tests fencing");
	au_scenario_free(sc);
}
END_TEST

/* One task of 10 one-second rounds that only n4 and n5 can run (they
 * alone have the capability).  At 2.5 s both are cut off from the majority
 * until 6 s: rounds they finish then reach their disk but not the log.  At 4.5 s both crash; n5 comes
 * back at 5.5 s, n4 never.  If n5 held the task it must resume from its
 * own disk at the last round it synced; if n4 did, n5 takes the task over
 * (after SWIM declares n4 dead) from the log's newest checkpoint. */
static const char resume_text[] =
	"[run]\nduration = 60s\n"
	"[cluster]\nnodes = 5\nservices = raft,swim,aureon\n"
	"capabilities = cpu\ncapabilities.n4 = cpu,gpu\ncapabilities.n5 = cpu,gpu\n"
	"[aureon]\nlease = 10m\n"
	"[workload]\ntasks = 1\ntask_rounds = 10\ntask_cost = const(10s)\ntask_caps = gpu:100\n"
	"[fault.cut]\nat = 2500ms\naction = partition\ngroups = n4,n5 | rest\nuntil = 6s\n"
	"[fault.crash-n4]\nat = 4500ms\naction = crash\ntarget = n4\n"
	"[fault.crash-n5]\nat = 4500ms\naction = crash\ntarget = n5\nrestart_after = 1s\n";

START_TEST(checkpoint_resume)
{
	struct au_scenario *sc = au_test_load_text("<test>", resume_text);
	int paths[2] = {0, 0}; /* resumed from disk, from the log */
	for (uint64_t seed = 1; seed <= 6; seed++) {
		GArray *recs = run_records(sc, seed, "checkpoint resume");
		int64_t crash_t = -1, synced = 0, logged = 0, start_round = -1, source = -1;
		au_node_id holder = 0, second = 0;
		for (guint i = 0; i < recs->len; i++) {
			const struct rec *r = &g_array_index(recs, struct rec, i);
			if (strcmp(r->kind, "ORCH_START") == 0 && !holder)
				holder = r->node;
			else if (strcmp(r->kind, "NODE_CRASH") == 0 && crash_t < 0)
				crash_t = r->t;
			else if (strcmp(r->kind, "ORCH_ROUND") == 0 && crash_t < 0)
				synced = r->c;
			else if (strcmp(r->kind, "TASKQ_CHECKPOINT") == 0 && crash_t < 0 && r->c > logged)
				logged = r->c;
			else if (strcmp(r->kind, "ORCH_RESUME") == 0 && crash_t >= 0 && source < 0)
				source = r->c;
			else if (strcmp(r->kind, "ORCH_START") == 0 && crash_t >= 0 && start_round < 0) {
				start_round = r->c;
				second = r->node;
			}
		}
		ck_assert_msg(holder == 4 || holder == 5, "seed %llu: holder n%u",
			      (unsigned long long)seed, holder);
		ck_assert_int_eq(second, 5);
		/* rounds were done before the crash, some only on disk */
		ck_assert_int_ge(logged, 1);
		ck_assert_int_gt(synced, logged);
		ck_assert_int_lt(synced, 10);
		if (holder == 5) {
			ck_assert_int_eq(source, 1);
			ck_assert_int_eq(start_round, synced); /* the last round its disk synced */
			paths[0]++;
		} else {
			ck_assert_int_eq(source, 2);
			ck_assert_int_eq(start_round, logged); /* the newest checkpoint in the log */
			paths[1]++;
		}
		g_array_free(recs, TRUE);
	}
	ck_assert_msg(paths[0] && paths[1], "seeds 1-6 no longer cover both paths (disk %d, log %d)",
		      paths[0], paths[1]);
	au_scenario_free(sc);
}
END_TEST

/* More work than capacity: nodes never hold more than their bound, and the
 * cluster completes tasks at its capacity (5 nodes x 4 workers / 100 ms). */
START_TEST(backpressure_bounded)
{
	struct au_scenario *sc = au_test_load("scenarios/aureon-backpressure.ini");
	struct au_sim *sim = au_sim_new(sc, 2);
	uint32_t svc = 0;
	while (strcmp(sc->cluster.services[svc]->name, "aureon") != 0)
		svc++;
	uint32_t max_waiting = 0, max_running = 0;
	uint64_t done_at_5 = 0, done_at_25 = 0;
	for (au_time t = 100 * AU_NS_PER_MS; t <= 30 * AU_NS_PER_S; t += 100 * AU_NS_PER_MS) {
		ck_assert_int_eq(au_sim_run(sim, t), 0);
		uint64_t done = 0;
		for (au_node_id n = 1; n <= sc->cluster.nodes; n++) {
			if (!au_sim_node_up(sim, n))
				continue;
			const struct au_env *e = au_sim_env(sim, n, svc);
			const struct au_orch *o = e->ops->local_service(e->ctx, "aureon");
			struct au_orch_stats st;
			au_orch_stats(o, &st);
			max_waiting = st.waiting > max_waiting ? st.waiting : max_waiting;
			max_running = st.running > max_running ? st.running : max_running;
			done += st.acked;
		}
		if (t == 5 * AU_NS_PER_S)
			done_at_5 = done;
		if (t == 25 * AU_NS_PER_S)
			done_at_25 = done;
	}
	ck_assert_uint_le(max_waiting, 4); /* local_queue */
	ck_assert_uint_eq(max_running, 4); /* max_concurrency */
	/* 20 s of full load: 200 tasks/s at capacity (each task also waits
	 * 1-3 ms for its result's disk sync); allow 5 % */
	double rate = (double)(done_at_25 - done_at_5) / 20.0;
	ck_assert_msg(rate > 190.0 && rate <= 201.0, "throughput %.1f tasks/s", rate);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Scenario keys of the execution layer are strict. */
START_TEST(bad_scenarios_rejected)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\n[workload]\ntask_caps=gpu:10\n",
		 "no node has capability 'gpu'"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\ncapabilities=GPU\n",
		 "not a capability name"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\ncapabilities.n4=gpu\n",
		 "capabilities.nK needs a node"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon,swim\n", "before aureon"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=aureon\n", "needs raft"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\n[workload]\ntask_cost=lognormal(0ms,1ms)\n",
		 "task_cost"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\n[workload]\ntaskz=3\n",
		 "unknown key"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,kv\n[workload]\ntasks=3\n",
		 "configures service aureon"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,kv\n[fault.d]\nat=0s\naction=drain\ntarget=n1\n",
		 "drain needs"},
		{"[run]\nduration=1s\n[cluster]\nnodes=3\nservices=raft,aureon\n[aureon]\nlease=0s\n",
		 "lease"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("<bad>", bad[i].text, &err);
		ck_assert_msg(!sc, "accepted: %s", bad[i].text);
		ck_assert_msg(err && strstr(err, bad[i].needle), "%s: got '%s'", bad[i].needle, err);
		g_free(err);
	}
	/* and a mixed [workload] of kv and aureon is fine */
	struct au_scenario *ok = au_test_load_text("<test>", "[run]\nduration=1s\n[cluster]\nnodes=3\n"
					   "services=raft,kv,aureon\n[workload]\nkv_clients=1\ntasks=5\n");
	au_scenario_free(ok);
}
END_TEST

/* ---- lease_expiry, fed forged records ------------------------------------------
 *
 * A quiet cluster (no election within the run) whose front ends scan every
 * millisecond, so a slice of the run ends exactly on the millisecond asked
 * for; records are injected between slices as if node `node` had traced
 * them.  Lease 1 s, lock TTL 1 s: the late bound is a lease plus one scan
 * (1 ms) plus 1 ms of slack. */

struct le_rec {
	int at_ms;
	au_node_id node;
	uint16_t kind;
	int64_t a, b, c;
};

/* The violation detail ("" if none) after the records, then (if `finish`)
 * the run's end at 10 s; `faults` is extra scenario text. */
static char *le_forged(const char *faults, const struct le_rec *ev, size_t n, bool finish)
{
	g_autofree char *text = g_strdup_printf(
		"[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft,aureon\n"
		"[raft]\nelection_timeout = 100s..101s\n"
		"[aureon]\nlease = 1s\nexpiry_scan = 1ms\n[workload]\nlock_ttl = 1s\n%s",
		faults ? faults : "");
	struct au_scenario *sc = au_test_load_text("<test>", text);
	struct au_sim *sim = au_sim_new(sc, 1);
	for (size_t i = 0; i < n && !au_sim_violation(sim); i++) {
		au_sim_run(sim, (au_time)ev[i].at_ms * AU_NS_PER_MS);
		if (!au_sim_violation(sim))
			au_trace(au_sim_env(sim, ev[i].node, 1), ev[i].kind, ev[i].a, ev[i].b, ev[i].c);
	}
	if (finish && !au_sim_violation(sim)) {
		au_sim_run(sim, sc->duration);
		au_sim_finish(sim);
	}
	const struct au_violation *v = au_sim_violation(sim);
	char *detail = g_strdup(v ? v->detail : "");
	if (v)
		ck_assert_str_eq(v->check, "lease_expiry");
	au_sim_free(sim);
	au_scenario_free(sc);
	return detail;
}

#define LE_EXPECT(faults, recs, finish, needle)                                                  \
	do {                                                                                     \
		char *d_ = le_forged(faults, recs, G_N_ELEMENTS(recs), finish);                  \
		if (*(needle))                                                                   \
			ck_assert_msg(strstr(d_, needle), "%s: want '%s', got '%s'", #recs, needle, d_); \
		else                                                                             \
			ck_assert_msg(!*d_, "%s: want no violation, got '%s'", #recs, d_);        \
		g_free(d_);                                                                      \
	} while (0)

START_TEST(lease_expiry_early)
{
	/* Expired half a lease after the grant. */
	const struct le_rec grant[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
				       {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
				       {1500, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, grant, false, "task 7 (token 100) expired early: leader n1 proposed its "
				      "expiry 0.5s after its last grant on its clock, before the 1s lease");
	/* A renewal counts from when it applied. */
	const struct le_rec renewed[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					 {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					 {1800, 1, AU_TR_TASKQ_RENEW, 7, 100, 2},
					 {2300, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, renewed, false, "0.5s after its last renewal");
	/* An inherited lease counts from the takeover, however old its grant. */
	const struct le_rec inherited[] = {{500, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					   {1500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					   {2200, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, inherited, false, "0.7s after its last takeover");
	/* So does a lease this replica only has from a snapshot (never seen). */
	const struct le_rec unseen[] = {{1500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					{2200, 1, AU_TR_ORCH_EXPIRE, 9, 300, 0}};
	LE_EXPECT(NULL, unseen, false, "task 9 (token 300) expired early");
	/* Locks too, by their TTL. */
	const struct le_rec lock[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
				      {1000, 1, AU_TR_LOCK_GRANT, 3, 200, 2},
				      {1900, 1, AU_TR_LOCK_RENEW, 3, 200, 2},
				      {2500, 1, AU_TR_ORCH_LOCK_EXPIRE, 3, 200, 0}};
	LE_EXPECT(NULL, lock, false, "lock 3 (token 200) expired early");
	/* Exactly a lease after the grant is on time. */
	const struct le_rec on_time[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					 {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					 {2000, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0},
					 {2100, 1, AU_TR_TASKQ_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, on_time, true, "");
}
END_TEST

START_TEST(lease_expiry_late)
{
	/* No expiry proposed: judged when the renewal finally applies. */
	const struct le_rec renewed_late[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					      {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					      {2500, 1, AU_TR_TASKQ_RENEW, 7, 100, 2}};
	LE_EXPECT(NULL, renewed_late, false,
		  "task 7 (token 100, n2's) outlived its 1s lease: leader n1 had proposed no expiry "
		  "1.5s after its grant on its clock (0.5s past due");
	/* ... or acked, or at the end of the run. */
	const struct le_rec acked_late[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					    {1000, 1, AU_TR_LOCK_GRANT, 3, 200, 2},
					    {2003, 1, AU_TR_LOCK_RELEASE, 3, 200, 0}};
	LE_EXPECT(NULL, acked_late, false, "lock 3 (token 200, n2's) outlived its 1s lease");
	const struct le_rec never[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
				       {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2}};
	LE_EXPECT(NULL, never, true, "(8s past due");
	/* A proposal later than one scan (+ 1 ms) past due is late. */
	const struct le_rec proposed_late[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					       {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					       {2003, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, proposed_late, false, "0.003s past due");
	const struct le_rec proposed_in_time[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
						  {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
						  {2002, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0},
						  {4000, 1, AU_TR_TASKQ_RENEW, 7, 100, 2},
						  {4500, 1, AU_TR_TASKQ_ACK, 7, 100, 0}};
	LE_EXPECT(NULL, proposed_in_time, true, "");
	/* Only a leader owes an expiry, and only while it leads. */
	const struct le_rec follower[] = {{1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					  {3000, 1, AU_TR_TASKQ_RENEW, 7, 100, 2}};
	LE_EXPECT(NULL, follower, true, "");
	const struct le_rec stepped_down[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					      {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					      {1500, 1, AU_TR_RAFT_ROLE, 2, 0, 0},
					      {3000, 1, AU_TR_TASKQ_RENEW, 7, 100, 2}};
	LE_EXPECT(NULL, stepped_down, true, "");
	/* A leader times the leases its own replica applied, not another's. */
	const struct le_rec other_replica[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					       {1000, 2, AU_TR_TASKQ_GRANT, 7, 100, 2},
					       {3000, 2, AU_TR_TASKQ_RENEW, 7, 100, 2}};
	LE_EXPECT(NULL, other_replica, true, "");
}
END_TEST

START_TEST(lease_expiry_leader_clock)
{
	/* n1's clock jumps 5 s ahead at 1.2 s: 0.001 s later (one scan) the
	 * lease granted at 1 s has run out on its clock.  Proposing then is
	 * right, though only 0.201 s passed in real time ... */
	const char *ahead = "[fault.j]\nat = 1200ms\naction = skew\ntarget = n1\nskew = +5s\n";
	const struct le_rec jump[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
				      {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
				      {1201, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(ahead, jump, true, "");
	/* ... and not proposing by then is late (judged on that clock). */
	const struct le_rec jump_late[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					   {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					   {1210, 1, AU_TR_TASKQ_RENEW, 7, 100, 2}};
	LE_EXPECT(ahead, jump_late, false, "outlived its 1s lease");
	/* n1's clock jumps 5 s back at 1.2 s: 5.5 s later in real time only
	 * 0.5 s passed on it. */
	const char *back = "[fault.j]\nat = 1200ms\naction = skew\ntarget = n1\nskew = -5s\n";
	const struct le_rec jump_back[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					   {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					   {6500, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(back, jump_back, false, "expired early: leader n1 proposed its expiry 0.5s after");
	/* A drifting clock: 25 % fast from 1 s, so a lease granted at 1 s runs
	 * out at 1.8 s (the slice ends within a scan, 0.8 ms, before 1.801 s). */
	const char *fast = "[fault.d]\nat = 1s\naction = skew\ntarget = n1\ndrift = 250000ppm\n";
	const struct le_rec drift_ok[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					  {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					  {1801, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(fast, drift_ok, true, "");
	const struct le_rec drift_early[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					     {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					     {1700, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(fast, drift_early, false, "expired early");
	/* A leader paused past the deadline owes nothing while paused, and
	 * one scan after it resumes. */
	const char *pause = "[fault.p]\nat = 1500ms\naction = pause\ntarget = n1\nuntil = 3s\n";
	const struct le_rec paused[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					{1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					{3001, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(pause, paused, true, "");
	const struct le_rec not_paused[] = {{500, 1, AU_TR_ORCH_LEAD, 1, 0, 0},
					    {1000, 1, AU_TR_TASKQ_GRANT, 7, 100, 2},
					    {3001, 1, AU_TR_ORCH_EXPIRE, 7, 100, 0}};
	LE_EXPECT(NULL, not_paused, false, "outlived its 1s lease");
}
END_TEST

/* The u64 map (core/u64map.h) answers as a GHashTable
 * would over random puts, removes (backward shift across the table's
 * wrap) and clears, with dense, clustered and extreme keys, and its slot
 * walk visits every key once. */
START_TEST(check_map_matches_hash_table)
{
	struct au_u64map m;
	au_u64map_init(&m, 12);
	GHashTable *ref = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	GRand *r = g_rand_new_with_seed(17);
	for (int step = 0; step < 200000; step++) {
		uint64_t key;
		switch (g_rand_int_range(r, 0, 4)) {
		case 0: key = (uint64_t)g_rand_int_range(r, 0, 64); break;
		case 1: key = UINT64_C(1) << 40 | (uint64_t)g_rand_int_range(r, 0, 300); break;
		case 2: key = UINT64_MAX - (uint64_t)g_rand_int_range(r, 0, 8); break;
		default: key = (uint64_t)g_rand_int_range(r, 0, 2000) * 1024; break;
		}
		uint32_t *want = g_hash_table_lookup(ref, &key);
		uint32_t *got = au_u64map_get(&m, key);
		ck_assert(!want == !got);
		if (want)
			ck_assert_uint_eq(*want, got[0]);
		int op = g_rand_int_range(r, 0, 1000);
		if (op < 550) {
			bool fresh;
			uint32_t *v = au_u64map_put(&m, key, &fresh);
			ck_assert(fresh == !want);
			ck_assert(!fresh || (v[0] == 0 && v[1] == 0 && v[2] == 0));
			v[0] = (uint32_t)step;
			v[2] = ~(uint32_t)step;
			g_hash_table_replace(ref, g_memdup2(&key, sizeof(key)), g_memdup2(&v[0], 4));
		} else if (op < 998) {
			ck_assert(au_u64map_remove(&m, key) == (want != NULL));
			g_hash_table_remove(ref, &key);
		} else {
			au_u64map_clear(&m);
			g_hash_table_remove_all(ref);
		}
		ck_assert_uint_eq(m.len, g_hash_table_size(ref));
		if (step % 5000 == 0) {
			uint32_t seen = 0;
			for (uint32_t i = 0; i < m.cap; i++) {
				if (!m.used[i])
					continue;
				uint64_t k = au_u64map_key(&m, i);
				const uint32_t *v = au_u64map_value(&m, i);
				uint32_t *w = g_hash_table_lookup(ref, &k);
				ck_assert(w && *w == v[0] && v[2] == ~v[0]);
				seen++;
			}
			ck_assert_uint_eq(seen, g_hash_table_size(ref));
		}
	}
	g_rand_free(r);
	g_hash_table_destroy(ref);
	au_u64map_free(&m);
}
END_TEST

Suite *exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("taskq");
	tcase_add_test(tc, priority_then_fifo);
	tcase_add_test(tc, capabilities_filter);
	tcase_add_test(tc, ack_needs_current_token);
	tcase_add_test(tc, retries_then_dead_letter);
	tcase_add_test(tc, drain_death_and_reboot);
	tcase_add_test(tc, renew_and_checkpoint);
	tcase_add_test(tc, affinity_prefers_good_topics);
	tcase_add_test(tc, snapshot_roundtrip);
	tcase_add_test(tc, malformed_commands_change_nothing);
	tcase_add_test(tc, locks_fence_stale_holders);
	tcase_add_test(tc, bad_scenarios_rejected);
	tcase_add_test(tc, lease_expiry_early);
	tcase_add_test(tc, lease_expiry_late);
	tcase_add_test(tc, lease_expiry_leader_clock);
	tcase_add_test(tc, check_map_matches_hash_table);
	suite_add_tcase(s, tc);

	TCase *sc = tcase_create("scenarios");
	tcase_set_timeout(sc, 300);
	for (size_t i = 0; i < G_N_ELEMENTS(exec_scenarios); i++)
		tcase_add_loop_test(sc, scenario_passes, (int)(i * 100 + 1), (int)(i * 100 + 3));
	tcase_add_loop_test(sc, deterministic, 0, 5);
	tcase_add_test(sc, expiry_judged_on_leader_clock);
	tcase_add_test(sc, same_hash_at_O0);
	tcase_add_test(sc, paused_lock_holder_is_fenced);
	tcase_add_test(sc, checkpoint_resume);
	tcase_add_test(sc, backpressure_bounded);
	suite_add_tcase(s, sc);

	/* make test-all: 30 seeds of every scenario */
	TCase *slow = tcase_create("scenarios-30-seeds");
	tcase_set_tags(slow, "slow");
	tcase_set_timeout(slow, 3600);
	for (size_t i = 0; i < G_N_ELEMENTS(exec_scenarios); i++)
		tcase_add_loop_test(slow, scenario_passes, (int)(i * 100 + 4), (int)(i * 100 + 31));
	suite_add_tcase(s, slow);
	return s;
}
