/* check_results.c — results_retrievable (see check_results.h). */
#include "check_results.h"

#include <string.h>

#include "blob.h"
#include "kernels.h"
#include "one.h"

struct rr_state {
	uint32_t one_svc, blob_svc;
	int64_t pending_job;   /* the fetch running (the fetcher runs one at a time), or 0 */
	au_node_id pending_node;
	au_time pending_since; /* when it started */
	uint64_t fetched;
	int64_t unjudged_job;  /* a fetch started too late to finish by the end, or 0 */
	au_time unjudged_left; /* how long before the end it started */
};

/* A fetch that starts this close to the end of the run (a fetching node
 * that rebooted late arms its fetch from its boot) has no time to finish:
 * it is not judged, and the note says so.  Up to 2 holders x 200 ms chunk
 * timeouts per chunk over a few chunks fit well inside it. */
#define RR_FETCH_GRACE (5 * AU_NS_PER_S)

void *au_rr_create(struct au_sim *sim)
{
	struct rr_state *s = g_new0(struct rr_state, 1);
	s->one_svc = s->blob_svc = UINT32_MAX;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++) {
		if (sim->sc->cluster.services[i] == &au_one_model)
			s->one_svc = i;
		if (sim->sc->cluster.services[i] == &au_blob_model)
			s->blob_svc = i;
	}
	return s;
}

void au_rr_destroy(void *st) { g_free(st); }

static void mask_text(char *out, size_t len, int64_t mask)
{
	size_t at = 0;
	out[0] = 0;
	for (int n = 1; n < 64 && at + 5 < len; n++)
		if ((uint64_t)mask >> n & 1)
			at += (size_t)snprintf(out + at, len - at, "%sn%d", at ? "," : "", n);
}

const struct au_check_kinds au_rr_kinds[] = {
	{AU_TR_BLOB_FETCH_START, AU_TR_BLOB_FETCH},
	AU_CHECK_KINDS_END,
};

void au_rr_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		 int64_t c)
{
	struct rr_state *s = st;
	if (kind == AU_TR_BLOB_FETCH_START) {
		s->pending_job = a;
		s->pending_node = node;
		s->pending_since = sim->now;
	} else if (kind == AU_TR_BLOB_FETCH) {
		s->pending_job = 0;
		char who[160];
		mask_text(who, sizeof(who), c);
		if (b == 1)
			au_sim_violate(sim, "results_retrievable", node,
				       "the result of job %" G_GINT64_FORMAT " fetched from %s does not hash to "
				       "the digest ONE recorded: a holder served wrong bytes",
				       a, who[0] ? who : "no node");
		else if (b != 0)
			au_sim_violate(sim, "results_retrievable", node,
				       "the fetch of job %" G_GINT64_FORMAT "'s result gave up: no node served "
				       "it (chunks came from %s)", a, who[0] ? who : "no node");
		else
			s->fetched++;
	}
}

static void *state_of(struct au_sim *sim, au_node_id n, uint32_t svc)
{
	if (svc == UINT32_MAX || !sim->node[n].up || !sim->node[n].svc)
		return NULL;
	return sim->node[n].svc[svc].state;
}

void au_rr_end(void *st, struct au_sim *sim)
{
	struct rr_state *s = st;
	if (s->pending_job && sim->node[s->pending_node].up &&
	    sim->now - s->pending_since < RR_FETCH_GRACE) {
		s->unjudged_job = s->pending_job;
		s->unjudged_left = sim->now - s->pending_since;
	} else if (s->pending_job && sim->node[s->pending_node].up) {
		au_sim_violate(sim, "results_retrievable", s->pending_node,
			       "the fetch of job %" G_GINT64_FORMAT "'s result was still running at the end",
			       s->pending_job);
		return;
	}
	/* The most advanced live ONE replica speaks for the records. */
	const struct au_one *best = NULL;
	for (au_node_id n = 1; n <= sim->nodes; n++) {
		const struct au_one *o = state_of(sim, n, s->one_svc);
		if (o && (!best || au_one_applied_index(o) > au_one_applied_index(best)))
			best = o;
	}
	if (!best)
		return;
	for (uint32_t i = 0; i < au_one_count(best); i++) {
		const struct au_one_record *r = au_one_at(best, i);
		if (au_one_has_reason(r->verdict))
			continue; /* failed or cancelled: no result to keep */
		bool found = false;
		for (au_node_id n = 1; n <= sim->nodes && !found; n++) {
			struct au_blob *b = state_of(sim, n, s->blob_svc);
			found = b && au_blob_has(b, r->digest) && au_blob_verify(b, r->digest);
		}
		if (!found) {
			au_sim_violate(sim, "results_retrievable", 0,
				       "job %" G_GUINT64_FORMAT " has a ONE record but no live node keeps bytes "
				       "with its digest %016" G_GINT64_MODIFIER "x",
				       r->job, (uint64_t)au_kernel_digest_prefix(r->digest));
			return;
		}
	}
}

void au_rr_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	(void)sim;
	const struct rr_state *s = st;
	if (s->unjudged_job)
		g_snprintf(buf, len,
			   "%" G_GUINT64_FORMAT " fetches completed; the fetch of job %" G_GINT64_FORMAT
			   " started %.3f s before the end and was not judged",
			   s->fetched, s->unjudged_job, (double)s->unjudged_left / AU_NS_PER_S);
	else
		g_snprintf(buf, len, "%" G_GUINT64_FORMAT " fetches completed", s->fetched);
}
