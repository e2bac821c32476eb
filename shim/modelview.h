/* modelview.h — what the models running on a node show an operator over
 * HTTP, read through their public headers only:
 *
 *   /peers    the SWIM membership view as JSON: every member of [hosts]
 *             with its address, state (alive, suspect, dead, left; null
 *             without the swim service), incarnation and whether this node
 *             quarantines it (identities, issue 16);
 *   /metrics  the SWIM, RQML and ONE series and the task queue's
 *             cluster-wide gauges (execctl.c has this node's queue and
 *             worker series), Prometheus naming: base units, `_total` on
 *             counters, states as labels, HELP and TYPE on every family.
 *
 * Fields of /peers and every series: docs/shim.md, "Observing a node".
 */
#ifndef AU_SHIM_MODELVIEW_H
#define AU_SHIM_MODELVIEW_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "node.h"

/* One member as node `n` sees it. */
struct au_peer_view {
	au_node_id id;
	const char *address;   /* as written in [hosts] */
	bool self;
	bool has_swim;         /* false: no swim service, state unknown */
	int state;             /* enum au_swim_state (swim.h) */
	uint32_t incarnation;
	/* Trust (shim/identity.h): whether `n` ignores this member for
	 * sending invalid proofs, for how much longer (ns), how many invalid
	 * proofs it has seen from its address, and whether they look like a
	 * wrong key (a run of them with no valid proof since).  Not for the
	 * node itself (trust_known false). */
	bool quarantined;
	int64_t quarantine_left_ns;
	uint64_t invalid_proofs;
	bool wrong_key;
	bool trust_known;
};

/* Member `id` (1..nodes) as node `n` sees it. */
void au_peer_view_get(struct au_node *n, au_node_id id, struct au_peer_view *out);

/* The /peers body: one JSON object. */
void au_modelview_peers_json(struct au_node *n, GString *out);

/* The SWIM, RQML, ONE and cluster-wide queue series (nothing for a
 * service the node does not run). */
void au_modelview_metrics(struct au_node *n, GString *out);

/* "alive", "suspect", "dead", "left", "unknown". */
const char *au_peer_state_name(int state);

#endif
