/* check.c — invariant checkers, driven by trace records.
 *
 * A checker sees every event record in order and may declare a violation,
 * which stops the run; at the end it gives its verdict.  Every checker
 * whose service is running is on in every run (they are cheap); [check]
 * invariants names the ones a scenario relies on, and naming one that does
 * not exist or cannot run is an error at load time.
 *
 * ping_integrity: every pong the ping model accepts answers a ping that
 * node really sent, to that peer, and is accepted at most once — so the
 * model's handling of duplicated, corrupted and stale messages is checked,
 * not assumed.
 */
#include <string.h>

#include "sim_internal.h"

struct au_checker_ops {
	const char *name;
	const char *service; /* runs only when this service runs */
	void *(*create)(struct au_sim *sim);
	void (*event)(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		      int64_t b, int64_t c);
	void (*end)(void *st, struct au_sim *sim);
	void (*destroy)(void *st);
};

/* ---- ping_integrity --------------------------------------------------- */

struct ping_integrity {
	GHashTable **sent; /* per node: seq -> peer, while unanswered */
	uint32_t nodes;
};

static void *pi_create(struct au_sim *sim)
{
	struct ping_integrity *pi = g_new0(struct ping_integrity, 1);
	pi->nodes = sim->nodes;
	pi->sent = g_new0(GHashTable *, (gsize)sim->nodes + 1);
	return pi;
}

static void pi_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		     int64_t b, int64_t c)
{
	struct ping_integrity *pi = st;
	(void)c;
	if (node == 0 || node > pi->nodes)
		return;
	GHashTable **t = &pi->sent[node];
	switch (kind) {
	case AU_TR_PING_SENT:
		if (!*t)
			*t = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		if (g_hash_table_contains(*t, &b)) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u reused ping sequence %" G_GINT64_FORMAT, node, b);
			return;
		}
		g_hash_table_insert(*t, g_memdup2(&b, sizeof(b)), GINT_TO_POINTER((gint)a));
		break;
	case AU_TR_PING_RTT: {
		gpointer peer;
		if (!*t || !g_hash_table_lookup_extended(*t, &b, NULL, &peer)) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u accepted a pong for ping %" G_GINT64_FORMAT
				       " that it never sent or already answered", node, b);
			return;
		}
		if (GPOINTER_TO_INT(peer) != a) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u accepted a pong from n%" G_GINT64_FORMAT
				       " for ping %" G_GINT64_FORMAT " sent to n%d", node, a, b,
				       GPOINTER_TO_INT(peer));
			return;
		}
		g_hash_table_remove(*t, &b);
		break;
	}
	case AU_TR_PING_TIMEOUT:
		if (*t)
			g_hash_table_remove(*t, &b);
		break;
	case AU_TR_NODE_CRASH:
		/* The node's memory is gone; so is what it was waiting for. */
		if (*t)
			g_hash_table_remove_all(*t);
		break;
	default:
		break;
	}
}

static void pi_end(void *st, struct au_sim *sim)
{
	(void)st;
	(void)sim;
}

static void pi_destroy(void *st)
{
	struct ping_integrity *pi = st;
	for (uint32_t n = 0; n <= pi->nodes; n++)
		if (pi->sent[n])
			g_hash_table_destroy(pi->sent[n]);
	g_free(pi->sent);
	g_free(pi);
}

static const struct au_checker_ops all_checkers[] = {
	{"ping_integrity", "ping", pi_create, pi_event, pi_end, pi_destroy},
};

const char *const au_check_names[] = {"ping_integrity", NULL};

const char *au_check_service(const char *check)
{
	for (size_t i = 0; i < G_N_ELEMENTS(all_checkers); i++)
		if (strcmp(all_checkers[i].name, check) == 0)
			return all_checkers[i].service;
	return NULL;
}

static bool service_runs(const struct au_sim *sim, const char *name)
{
	for (uint32_t i = 0; i < sim->sc->n_services; i++)
		if (strcmp(sim->sc->services[i]->name, name) == 0)
			return true;
	return false;
}

void au_check_init(struct au_sim *sim)
{
	sim->checkers = g_new0(struct au_checker, G_N_ELEMENTS(all_checkers));
	for (size_t i = 0; i < G_N_ELEMENTS(all_checkers); i++) {
		const struct au_checker_ops *ops = &all_checkers[i];
		if (ops->service && !service_runs(sim, ops->service))
			continue;
		struct au_checker *c = &sim->checkers[sim->n_checkers++];
		c->ops = ops;
		c->state = ops->create(sim);
		c->result = "pass";
	}
}

void au_check_event(struct au_sim *sim, uint64_t record, au_node_id node, uint16_t kind,
		    int64_t a, int64_t b, int64_t c)
{
	(void)record;
	for (size_t i = 0; i < sim->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &sim->checkers[i];
		ck->ops->event(ck->state, sim, node, kind, a, b, c);
		if (sim->violated) {
			ck->result = "fail";
			sim->violation.record = record;
		}
	}
}

void au_check_end(struct au_sim *sim)
{
	for (size_t i = 0; i < sim->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &sim->checkers[i];
		ck->ops->end(ck->state, sim);
		if (sim->violated)
			ck->result = "fail";
	}
}

void au_check_free(struct au_sim *sim)
{
	for (size_t i = 0; i < sim->n_checkers; i++)
		sim->checkers[i].ops->destroy(sim->checkers[i].state);
	g_free(sim->checkers);
	sim->checkers = NULL;
	sim->n_checkers = 0;
}

size_t au_sim_checks(const struct au_sim *sim, const char **names, const char **results,
		     size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < sim->n_checkers && n < max; i++, n++) {
		names[n] = sim->checkers[i].ops->name;
		results[n] = sim->checkers[i].result;
	}
	return n;
}
