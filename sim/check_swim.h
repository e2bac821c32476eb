/* check_swim.h — the SWIM checkers (sim/check_swim.c), registered in
 * check.c's table:
 *
 *   swim_completeness     every crashed member is declared dead (or left,
 *                         or forgotten) by every live member within a bound
 *                         B derived from the configuration (see
 *                         au_check_swim_bound);
 *   swim_accuracy         counts and reports false positives: live members
 *                         declared dead at their current incarnation (and
 *                         false suspicions); never fails a run;
 *   membership_converged  ([check] liveness = membership_converged:T)
 *                         once the faults are over, within T every live
 *                         member sees every live member alive (or suspect)
 *                         and every crashed or departed one dead, left or
 *                         unknown.
 *
 * They read the protocol's /membership rows and the engine's lifecycle
 * events, and read views through swim.h's API where they need a snapshot.
 */
#ifndef AU_CHECK_SWIM_H
#define AU_CHECK_SWIM_H

#include "../models/swim.h"
#include "sim_internal.h"

/* The completeness bound for an n-member cluster, in ns: first detection
 * within D probe periods (D: nobody probes a crashed member for D periods
 * with probability < 1e-9, (1 - 1/(n-1))^((n-1) D), capped by the 2n-3
 * periods of round-robin probing), one period to conclude the probe, the
 * longest suspicion timeout, and 2 ceil(log2 n) + 10 gossip rounds to
 * spread the suspicion. */
au_time au_check_swim_bound(const struct au_swim_config *cfg, uint32_t n);

void *au_cswim_complete_create(struct au_sim *sim);
void *au_cswim_accuracy_create(struct au_sim *sim);
void *au_cswim_converge_create(struct au_sim *sim);
void au_cswim_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		    int64_t b, int64_t c);
void au_cswim_row(void *st, struct au_sim *sim, au_node_id node, uint32_t service,
		  uint32_t table, const void *row);
void au_cswim_end(void *st, struct au_sim *sim);
void au_cswim_destroy(void *st);
/* One line of findings (detection latencies, false positives,
 * convergence time) into buf. */
void au_cswim_note(void *st, struct au_sim *sim, char *buf, size_t len);

#endif
