/* check_rqml.c — checkers for ONE and RQML (see check_rqml.h), driven by
 * the ONE_* and RQML_* trace events. */
#include "check_rqml.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "one.h"
#include "rqml.h"
#include "trace_kinds.h"

/* ---- exactly_once_one ---------------------------------------------------- */

struct eo_store {
	int64_t index, digest;
	au_node_id node; /* the first replica that stored it */
};

struct eo_state {
	GHashTable *jobs; /* int64 job -> struct eo_store */
};

void *au_eo_create(struct au_sim *sim)
{
	(void)sim;
	struct eo_state *s = g_new0(struct eo_state, 1);
	s->jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	return s;
}

const struct au_check_kinds au_eo_kinds[] = {
	AU_CHECK_KIND(AU_TR_ONE_STORE),
	AU_CHECK_KINDS_END,
};

void au_eo_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c)
{
	struct eo_state *s = st;
	if (kind != AU_TR_ONE_STORE)
		return;
	struct eo_store *e = g_hash_table_lookup(s->jobs, &a);
	if (!e) {
		e = g_new(struct eo_store, 1);
		*e = (struct eo_store){b, c, node};
		g_hash_table_insert(s->jobs, g_memdup2(&a, sizeof(a)), e);
		return;
	}
	if (e->index != b)
		au_sim_violate(sim, "exactly_once_one", node,
			       "job %" G_GINT64_FORMAT " stored in ONE twice: at log index %" G_GINT64_FORMAT
			       " (first seen on n%u) and at %" G_GINT64_FORMAT " on n%u",
			       a, e->index, e->node, b, node);
	else if (e->digest != c)
		au_sim_violate(sim, "exactly_once_one", node,
			       "job %" G_GINT64_FORMAT " at log index %" G_GINT64_FORMAT
			       ": n%u stored digest %016" G_GINT64_MODIFIER "x, n%u stored %016"
			       G_GINT64_MODIFIER "x", a, b, e->node, e->digest, node, c);
}

void au_eo_destroy(void *st)
{
	struct eo_state *s = st;
	g_hash_table_destroy(s->jobs);
	g_free(s);
}

/* ---- the RQML checkers ------------------------------------------------------
 *
 * One implementation, three checkers (each its own instance, so each
 * reports under its own name).  A job is known from its RQML_JOB event:
 * top-level jobs get their spec from the scenario's configuration, a child
 * from its parent's digest as the parent finished (RQML_DONE), exactly as
 * rqml.c derives them.  The reference of a job is computed the first time
 * it is needed.
 */

enum { RC_REF, RC_MONO, RC_SHARDS };

struct rc_job {
	struct au_rqml_job_spec spec;
	bool have_spec;
	/* reference */
	bool ref_done;
	double *ref_res;
	uint32_t ref_rounds;
	enum au_kernel_verdict ref_verdict;
	uint8_t ref_digest[32];
	/* what the cluster said */
	bool finished;
	uint32_t verdict;    /* from RQML_DONE */
	uint8_t digest[32];  /* first 8 bytes from RQML_DONE */
	GHashTable *round_res; /* round -> residual bits, first replica to aggregate it */
};

struct rc_state {
	int which;
	const struct au_rqml_config *cfg;
	GHashTable *jobs;      /* int64 job -> struct rc_job */
	GHashTable *last;      /* (node << 32 | job) -> rounds aggregated on that replica */
	GHashTable *used;      /* (node, job) -> GArray of (shard, token) for the open round */
	GHashTable *accepted;  /* task id with attempt 0 -> GArray of tokens accepted for that shard */
	GHashTable *dead;      /* task ids the queue dead-lettered (set) */
};

static void rc_job_free(gpointer p)
{
	struct rc_job *j = p;
	free(j->ref_res);
	if (j->round_res)
		g_hash_table_destroy(j->round_res);
	g_free(j);
}

static void *rc_create(struct au_sim *sim, int which)
{
	struct rc_state *s = g_new0(struct rc_state, 1);
	s->which = which;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (sim->sc->cluster.services[i] == &au_rqml_model)
			s->cfg = sim->sc->cluster.service_config[i];
	s->jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, rc_job_free);
	s->last = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	s->used = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					(GDestroyNotify)g_array_unref);
	s->accepted = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					    (GDestroyNotify)g_array_unref);
	s->dead = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	return s;
}

void *au_rqml_ref_create(struct au_sim *sim) { return rc_create(sim, RC_REF); }
void *au_rqml_mono_create(struct au_sim *sim) { return rc_create(sim, RC_MONO); }
void *au_rqml_shards_create(struct au_sim *sim) { return rc_create(sim, RC_SHARDS); }

void au_rqml_check_destroy(void *st)
{
	struct rc_state *s = st;
	g_hash_table_destroy(s->jobs);
	g_hash_table_destroy(s->last);
	g_hash_table_destroy(s->used);
	g_hash_table_destroy(s->accepted);
	g_hash_table_destroy(s->dead);
	g_free(s);
}

static int64_t *key64(int64_t v) { return g_memdup2(&v, sizeof(v)); }

static struct rc_job *rc_job(struct rc_state *s, int64_t job)
{
	struct rc_job *j = g_hash_table_lookup(s->jobs, &job);
	if (!j) {
		j = g_new0(struct rc_job, 1);
		j->round_res = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
		g_hash_table_insert(s->jobs, key64(job), j);
	}
	return j;
}

/* Learn the spec of a job that just started (kind as traced). */
static void rc_learn(struct rc_state *s, int64_t job, int64_t kind_depth, int64_t parent)
{
	struct rc_job *j = rc_job(s, job);
	if (j->have_spec || !s->cfg)
		return;
	if (parent == 0) {
		j->have_spec = au_rqml_top_spec(s->cfg, (uint64_t)job, &j->spec);
		return;
	}
	struct rc_job *p = g_hash_table_lookup(s->jobs, &parent);
	if (!p || !p->have_spec || !p->finished)
		return; /* a child of a parent nobody saw finish: cannot derive it */
	uint32_t k = (uint32_t)(job % 100);
	j->have_spec = au_rqml_child_spec(s->cfg, &p->spec, p->digest, k,
					  (enum au_kernel_kind)(kind_depth & 0xff), &j->spec);
}

/* The reference run of a job, on the run's shared copy of its input (the
 * one the nodes use; `env`: any of the run's, NULL builds a private one). */
static void rc_reference(struct rc_job *j, const struct au_env *env)
{
	if (j->ref_done || !j->have_spec)
		return;
	j->ref_done = true;
	struct au_kernel_problem own;
	bool owned;
	const struct au_kernel_problem *kp = au_kernel_acquire(env, &j->spec.params, &own, &owned);
	if (!kp)
		return;
	uint32_t max = j->spec.policy.max_rounds;
	j->ref_res = calloc(max, sizeof(double));
	double *state = calloc(kp->state_len, sizeof(double));
	j->ref_rounds = au_kernel_reference(kp, au_rqml_decide, &j->spec.policy, max, state,
					    j->ref_res, &j->ref_verdict);
	au_kernel_digest(state, kp->state_len, j->ref_digest);
	free(state);
	if (owned)
		au_kernel_free(&own);
}

static int64_t rc_prefix(const uint8_t d[32])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return (int64_t)v;
}

static void rc_ref_event(struct rc_state *s, struct au_sim *sim, au_node_id node, uint16_t kind,
			 int64_t a, int64_t b, int64_t c)
{
	struct rc_job *j = g_hash_table_lookup(s->jobs, &a);
	if (!j || !j->have_spec)
		return;
	rc_reference(j, au_sim_env(sim, 1, 0));
	if (!j->ref_res)
		return;
	if (kind == AU_TR_RQML_ROUND) {
		int64_t want;
		uint32_t r = (uint32_t)b;
		if (r < 1 || r > j->ref_rounds) {
			au_sim_violate(sim, "results_match_reference", node,
				       "job %" G_GINT64_FORMAT " aggregated round %u; the reference "
				       "stops after %u", a, r, j->ref_rounds);
			return;
		}
		memcpy(&want, &j->ref_res[r - 1], sizeof(want));
		if (want != c) {
			double got;
			memcpy(&got, &c, sizeof(got));
			au_sim_violate(sim, "results_match_reference", node,
				       "job %" G_GINT64_FORMAT " round %u: residual %.17g, the reference "
				       "has %.17g", a, r, got, j->ref_res[r - 1]);
		}
	} else if (kind == AU_TR_RQML_DONE) {
		uint32_t rounds = (uint32_t)(b & 0xffffffff), verdict = (uint32_t)(b >> 32);
		if (au_one_has_reason((uint8_t)verdict)) {
			/* Failed or cancelled: it ran only rounds the reference ran
			 * (each checked above) and has no result. */
			if (rounds >= j->ref_rounds || c != 0)
				au_sim_violate(sim, "results_match_reference", node,
					       "job %" G_GINT64_FORMAT " ended %s after %u rounds with digest "
					       "%016" G_GINT64_MODIFIER "x; the reference finishes after %u "
					       "rounds, and a job that did not finish has no result",
					       a, au_kernel_verdict_name(verdict), rounds, c, j->ref_rounds);
			return;
		}
		if (rounds != j->ref_rounds || verdict != (uint32_t)j->ref_verdict ||
		    c != rc_prefix(j->ref_digest))
			au_sim_violate(sim, "results_match_reference", node,
				       "job %" G_GINT64_FORMAT " finished after %u rounds (verdict %u, "
				       "digest %016" G_GINT64_MODIFIER "x); the reference: %u rounds, "
				       "verdict %u, digest %016" G_GINT64_MODIFIER "x", a, rounds,
				       verdict, c, j->ref_rounds, (uint32_t)j->ref_verdict,
				       rc_prefix(j->ref_digest));
	} else if (kind == AU_TR_ONE_STORE && j->finished && au_one_has_reason((uint8_t)j->verdict)) {
		if (c != 0)
			au_sim_violate(sim, "results_match_reference", node,
				       "ONE stored job %" G_GINT64_FORMAT " with digest %016" G_GINT64_MODIFIER
				       "x, but the job %s: it has no result", a, c,
				       au_kernel_verdict_name(j->verdict));
	} else if (kind == AU_TR_ONE_STORE && c != rc_prefix(j->ref_digest)) {
		au_sim_violate(sim, "results_match_reference", node,
			       "ONE stored job %" G_GINT64_FORMAT " with digest %016" G_GINT64_MODIFIER
			       "x; the reference's is %016" G_GINT64_MODIFIER "x", a, c,
			       rc_prefix(j->ref_digest));
	}
}

static void rc_mono_event(struct rc_state *s, struct au_sim *sim, au_node_id node, uint16_t kind,
			  int64_t a, int64_t b, int64_t c)
{
	int64_t key = (int64_t)node << 32 | (a & 0xffffffff);
	if (kind == AU_TR_RQML_JOB || kind == AU_TR_RQML_RESTORE) {
		g_hash_table_insert(s->last, key64(key), key64(kind == AU_TR_RQML_JOB ? 0 : b));
		return;
	}
	if (kind != AU_TR_RQML_ROUND)
		return;
	int64_t *last = g_hash_table_lookup(s->last, &key);
	int64_t expect = last ? *last + 1 : -1;
	if (b != expect) {
		au_sim_violate(sim, "rounds_monotone", node,
			       "n%u aggregated round %" G_GINT64_FORMAT " of job %" G_GINT64_FORMAT
			       " after round %" G_GINT64_FORMAT, node, b, a, last ? *last : -1);
		return;
	}
	*last = b;
	struct rc_job *j = rc_job(s, a);
	int64_t *seen = g_hash_table_lookup(j->round_res, &b);
	if (!seen)
		g_hash_table_insert(j->round_res, key64(b), key64(c));
	else if (*seen != c)
		au_sim_violate(sim, "rounds_monotone", node,
			       "replicas disagree on job %" G_GINT64_FORMAT " round %" G_GINT64_FORMAT
			       ": residual bits %016" G_GINT64_MODIFIER "x on n%u, %016"
			       G_GINT64_MODIFIER "x elsewhere", a, b, c, node, *seen);
}

static void rc_shards_event(struct rc_state *s, struct au_sim *sim, au_node_id node,
			    uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	if (kind == AU_TR_TASKQ_DEAD_LETTER) {
		g_hash_table_add(s->dead, key64(a));
		return;
	}
	if (kind == AU_TR_RQML_FAIL) {
		/* A job fails only when the shard really used every attempt it
		 * may: at least shard_attempts of them, the last one dead-lettered
		 * (or, for a lost output, accepted). */
		uint32_t attempts = (uint32_t)((uint64_t)c >> 8), error = (uint32_t)(c & 0xff);
		uint32_t round = (uint32_t)(b >> 16), shard = (uint32_t)(b & 0xffff);
		int64_t last = attempts ? (int64_t)au_rqml_task_id((uint64_t)a, round, shard, attempts - 1)
					: 0;
		const char *why = NULL;
		if (s->cfg && attempts < s->cfg->shard_attempts)
			why = "fewer attempts than shard_attempts allows";
		else if (error != AU_RQML_ERR_OUTPUT_LOST && !g_hash_table_contains(s->dead, &last))
			why = "its last attempt's task was never dead-lettered";
		else if (error == AU_RQML_ERR_OUTPUT_LOST &&
			 !g_hash_table_contains(s->accepted, &(int64_t){last & ~(int64_t)1023}))
			why = "no attempt of it was accepted, so no output was lost";
		if (why)
			au_sim_violate(sim, "shards_once", node,
				       "job %" G_GINT64_FORMAT " failed on shard %u of round %u after %u "
				       "attempts (last error %s), but %s", a, shard, round, attempts,
				       au_rqml_error_name(error), why);
		return;
	}
	if (kind == AU_TR_TASKQ_ACK) {
		/* Accepted tokens per shard (any attempt): task id without its
		 * attempt bits. */
		int64_t shard_key = a & ~(int64_t)1023;
		GArray *toks = g_hash_table_lookup(s->accepted, &shard_key);
		if (!toks) {
			toks = g_array_new(FALSE, FALSE, sizeof(int64_t));
			g_hash_table_insert(s->accepted, key64(shard_key), toks);
		}
		for (guint i = 0; i < toks->len; i++)
			if (g_array_index(toks, int64_t, i) == b)
				return;
		g_array_append_val(toks, b);
		return;
	}
	int64_t key = (int64_t)node << 32 | (a & 0xffffffff);
	if (kind == AU_TR_RQML_SHARD_USED) {
		GArray *u = g_hash_table_lookup(s->used, &key);
		if (!u) {
			u = g_array_new(FALSE, FALSE, sizeof(int64_t) * 3);
			g_hash_table_insert(s->used, key64(key), u);
		}
		int64_t e[3] = {b >> 16, b & 0xffff, c};
		g_array_append_vals(u, e, 1);
		return;
	}
	if (kind == AU_TR_NODE_CRASH) {
		/* Whatever that node was in the middle of is gone. */
		GHashTableIter it;
		gpointer k;
		g_hash_table_iter_init(&it, s->used);
		while (g_hash_table_iter_next(&it, &k, NULL))
			if ((*(int64_t *)k >> 32) == (int64_t)node)
				g_hash_table_iter_remove(&it);
		return;
	}
	if (kind != AU_TR_RQML_ROUND)
		return;
	struct rc_job *j = g_hash_table_lookup(s->jobs, &a);
	GArray *u = g_hash_table_lookup(s->used, &key);
	uint32_t S = j && j->have_spec ? j->spec.params.shards : 0;
	uint32_t n = u ? u->len : 0;
	uint8_t seen[AU_KERNEL_MAX_SHARDS] = {0};
	const char *why = NULL;
	int64_t bad = -1;
	for (uint32_t i = 0; i < n && !why; i++) {
		const int64_t *e = &g_array_index(u, int64_t, 3 * (gsize)i);
		if (e[0] != b)
			why = "a shard output of another round", bad = e[1];
		else if (S && (e[1] < 0 || e[1] >= S))
			why = "a shard that does not exist", bad = e[1];
		else if (seen[e[1] % AU_KERNEL_MAX_SHARDS]++)
			why = "a shard twice", bad = e[1];
		else {
			/* The token must be one the queue accepted for this shard
			 * (under any of its attempts). */
			bool ok = false;
			int64_t id = (int64_t)au_rqml_task_id((uint64_t)a, (uint32_t)b, (uint32_t)e[1], 0);
			GArray *toks = g_hash_table_lookup(s->accepted, &id);
			for (guint t = 0; toks && t < toks->len && !ok; t++)
				ok = g_array_index(toks, int64_t, t) == e[2];
			if (!ok)
				why = "an output whose token the task queue never accepted", bad = e[1];
		}
	}
	if (!why && S && n != S)
		why = "too few shards";
	if (why)
		au_sim_violate(sim, "shards_once", node,
			       "n%u aggregated job %" G_GINT64_FORMAT " round %" G_GINT64_FORMAT
			       " with %s (shard %" G_GINT64_FORMAT ", %u outputs for %u shards)",
			       node, a, b, why, bad, n, S);
	if (u)
		g_array_set_size(u, 0);
}

const struct au_check_kinds au_rqml_check_kinds[] = {
	AU_CHECK_KIND(AU_TR_NODE_CRASH),                 /* shards */
	AU_CHECK_KIND(AU_TR_TASKQ_ACK),                  /* shards */
	AU_CHECK_KIND(AU_TR_TASKQ_DEAD_LETTER),          /* shards */
	AU_CHECK_KIND(AU_TR_ONE_STORE),                  /* ref */
	{AU_TR_RQML_JOB, AU_TR_RQML_FAIL},               /* job, round, done, restore, ... */
	AU_CHECK_KINDS_END,
};

void au_rqml_check_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c)
{
	struct rc_state *s = st;
	switch (kind) {
	case AU_TR_RQML_JOB:
		rc_learn(s, a, b, c);
		break;
	case AU_TR_RQML_DONE: {
		struct rc_job *j = rc_job(s, a);
		if (!j->finished) {
			j->finished = true;
			j->verdict = (uint32_t)((uint64_t)b >> 32);
			for (int i = 0; i < 8; i++)
				j->digest[i] = (uint8_t)((uint64_t)c >> (56 - 8 * i));
		}
		break;
	}
	default:
		break;
	}
	if (s->which == RC_REF &&
	    (kind == AU_TR_RQML_ROUND || kind == AU_TR_RQML_DONE || kind == AU_TR_ONE_STORE))
		rc_ref_event(s, sim, node, kind, a, b, c);
	else if (s->which == RC_MONO)
		rc_mono_event(s, sim, node, kind, a, b, c);
	else if (s->which == RC_SHARDS)
		rc_shards_event(s, sim, node, kind, a, b, c);
}

/* ---- jobs_recorded ------------------------------------------------------------
 *
 * Every job that finished has exactly one ONE record, and that record
 * says what the job did.  A job's life comes from the replicas' traces
 * (RQML_JOB: kind and parent; RQML_DONE: rounds, verdict and digest, the
 * first replica to finish it speaking for all — rounds_monotone and
 * results_match_reference check that they agree); its record from
 * ONE_STORE, and the record's fields from the ONE replica that just stored
 * it (read, never changed).
 */

struct jr_job {
	bool started, finished, recorded;
	uint8_t kind;
	uint64_t parent;
	uint32_t rounds, verdict;
	int64_t digest;        /* first 8 bytes, big-endian (RQML_DONE c) */
	au_time done_ns;
	int64_t record_index;  /* log index of its ONE record */
	au_node_id record_node;
	uint32_t fail_shard, fail_attempts; /* failed: from RQML_FAIL */
	uint8_t fail_error;
};

struct jr_state {
	GHashTable *jobs;      /* int64 job -> struct jr_job */
	uint32_t one_svc;      /* index of the "one" service */
	au_time grace_ns;      /* a finished job gets this long (after the faults) to be recorded */
};

#define JR_GRACE_NS (INT64_C(5) * 1000000000)

void *au_jr_create(struct au_sim *sim)
{
	struct jr_state *s = g_new0(struct jr_state, 1);
	s->jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	s->grace_ns = JR_GRACE_NS;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++) {
		if (sim->sc->cluster.services[i] == &au_one_model)
			s->one_svc = i;
		if (sim->sc->cluster.services[i] == &au_rqml_model) {
			const struct au_rqml_config *cfg = sim->sc->cluster.service_config[i];
			if (3 * cfg->enqueue_retry_ns > s->grace_ns)
				s->grace_ns = 3 * cfg->enqueue_retry_ns;
		}
	}
	return s;
}

void au_jr_destroy(void *st)
{
	struct jr_state *s = st;
	g_hash_table_destroy(s->jobs);
	g_free(s);
}

static struct jr_job *jr_job(struct jr_state *s, int64_t job)
{
	struct jr_job *j = g_hash_table_lookup(s->jobs, &job);
	if (!j) {
		j = g_new0(struct jr_job, 1);
		g_hash_table_insert(s->jobs, key64(job), j);
	}
	return j;
}

static const char *jr_verdict(uint32_t v)
{
	return au_kernel_verdict_name(v);
}

/* The record node `node` just stored for job j, field by field. */
static void jr_compare_record(struct jr_state *s, struct au_sim *sim, au_node_id node,
			      int64_t job, const struct jr_job *j)
{
	const struct au_one *o = node <= sim->nodes && sim->node[node].svc
					 ? sim->node[node].svc[s->one_svc].state
					 : NULL;
	const struct au_one_record *r = o ? au_one_get(o, (uint64_t)job) : NULL;
	if (!r)
		return;
	const char *what = NULL;
	char want[AU_RQML_REASON_LEN + 8], got[AU_ONE_REASON_MAX + 8], reason[AU_RQML_REASON_LEN];
	if (r->rounds != j->rounds || r->verdict != j->verdict) {
		what = "rounds and verdict";
		snprintf(want, sizeof(want), "%u rounds, %s", j->rounds, jr_verdict(j->verdict));
		snprintf(got, sizeof(got), "%u rounds, %s", r->rounds, jr_verdict(r->verdict));
	} else if (au_one_has_reason((uint8_t)j->verdict) &&
		   strcmp(r->reason, au_rqml_reason((uint8_t)j->verdict, j->rounds, j->fail_shard,
						    j->fail_attempts, j->fail_error, reason,
						    sizeof(reason))) != 0) {
		what = "reason";
		snprintf(got, sizeof(got), "'%s'", r->reason);
		snprintf(want, sizeof(want), "'%s'", reason);
	} else if (j->started && (r->parent != j->parent || r->kind != j->kind)) {
		what = "parent and kind";
		snprintf(want, sizeof(want), "parent %" G_GUINT64_FORMAT ", kind %u", j->parent, j->kind);
		snprintf(got, sizeof(got), "parent %" G_GUINT64_FORMAT ", kind %u", r->parent, r->kind);
	}
	if (what)
		au_sim_violate(sim, "jobs_recorded", node,
			       "the ONE record of job %" G_GINT64_FORMAT " has the wrong %s: %s; the job "
			       "finished with %s", job, what, got, want);
}

const struct au_check_kinds au_jr_kinds[] = {
	AU_CHECK_KIND(AU_TR_ONE_STORE),
	AU_CHECK_KIND(AU_TR_RQML_JOB),
	AU_CHECK_KIND(AU_TR_RQML_DONE),
	AU_CHECK_KIND(AU_TR_RQML_FAIL),
	AU_CHECK_KINDS_END,
};

void au_jr_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c)
{
	struct jr_state *s = st;
	switch (kind) {
	case AU_TR_RQML_JOB: {
		struct jr_job *j = jr_job(s, a);
		if (!j->started) {
			j->started = true;
			j->kind = (uint8_t)(b & 0xff);
			j->parent = (uint64_t)c;
		}
		break;
	}
	case AU_TR_RQML_FAIL: {
		struct jr_job *j = jr_job(s, a);
		if (!j->finished) {
			j->fail_shard = (uint32_t)(b & 0xffff);
			j->fail_attempts = (uint32_t)((uint64_t)c >> 8);
			j->fail_error = (uint8_t)(c & 0xff);
		}
		break;
	}
	case AU_TR_RQML_DONE: {
		struct jr_job *j = jr_job(s, a);
		if (!j->finished) {
			j->finished = true;
			j->rounds = (uint32_t)(b & 0xffffffff);
			j->verdict = (uint32_t)((uint64_t)b >> 32);
			j->digest = c;
			j->done_ns = sim->now;
		}
		break;
	}
	case AU_TR_ONE_STORE: {
		struct jr_job *j = jr_job(s, a);
		if (!j->finished) {
			au_sim_violate(sim, "jobs_recorded", node,
				       "n%u stored a ONE record of job %" G_GINT64_FORMAT " at log index %"
				       G_GINT64_FORMAT ", but no replica has finished that job", node, a, b);
			return;
		}
		if (j->recorded && j->record_index != b) {
			au_sim_violate(sim, "jobs_recorded", node,
				       "job %" G_GINT64_FORMAT " has two ONE records: at log index %"
				       G_GINT64_FORMAT " (n%u) and at %" G_GINT64_FORMAT " (n%u)", a,
				       j->record_index, j->record_node, b, node);
			return;
		}
		if (c != j->digest) {
			au_sim_violate(sim, "jobs_recorded", node,
				       "the ONE record of job %" G_GINT64_FORMAT " has digest %016"
				       G_GINT64_MODIFIER "x; the job finished with %016" G_GINT64_MODIFIER "x",
				       a, c, j->digest);
			return;
		}
		if (!j->recorded) {
			j->recorded = true;
			j->record_index = b;
			j->record_node = node;
		}
		jr_compare_record(s, sim, node, a, j);
		break;
	}
	default:
		break;
	}
}

void au_jr_end(void *st, struct au_sim *sim)
{
	struct jr_state *s = st;
	/* Quiet long enough to have recorded it: finished, and the faults
	 * over, `grace` before the end. */
	au_time faults_over = au_scenario_faults_over(sim->sc);
	uint64_t missing = 0;
	int64_t first = 0;
	const struct jr_job *fj = NULL;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, s->jobs);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct jr_job *j = v;
		au_time since = j->done_ns > faults_over ? j->done_ns : faults_over;
		if (!j->finished || j->recorded || sim->now - since < s->grace_ns)
			continue;
		int64_t job = *(const int64_t *)k;
		if (!missing || job < first) { /* the smallest: independent of the table's order */
			first = job;
			fj = j;
		}
		missing++;
	}
	if (missing)
		au_sim_violate(sim, "jobs_recorded", 0,
			       "no ONE record at the end for %" G_GUINT64_FORMAT " finished job(s), e.g. "
			       "job %" G_GINT64_FORMAT " (%s after %u rounds at t=%" G_GINT64_FORMAT " ns)",
			       missing, first, jr_verdict(fj->verdict), fj->rounds, fj->done_ns);
}
