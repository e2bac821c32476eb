/* check_rqml.c — checkers for ONE and RQML (see check_rqml.h), driven by
 * the ONE_* and RQML_* trace events. */
#include "check_rqml.h"

#include <glib.h>

#include "../models/trace_kinds.h"

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

void au_eo_end(void *st, struct au_sim *sim)
{
	(void)st;
	(void)sim;
}

void au_eo_destroy(void *st)
{
	struct eo_state *s = st;
	g_hash_table_destroy(s->jobs);
	g_free(s);
}
