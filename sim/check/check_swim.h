/* check_swim.h — the SWIM checkers (check_swim.c), registered in
 * check.c's table:
 *
 *   swim_completeness     every crashed member is declared dead (or left,
 *                         or forgotten) by every live member within a bound
 *                         B derived from the configuration (see
 *                         au_check_swim_bound);
 *   swim_accuracy         counts false positives: live members declared
 *                         dead at their current incarnation (and false
 *                         suspicions); fails when more than [check]
 *                         swim_false_deaths_max of those declarations
 *                         fall outside fault windows and their grace
 *                         (au_check_swim_grace);
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

#include "swim.h"
#include "check_internal.h"

/* The completeness bound for an n-member cluster, in ns: first detection
 * within D probe periods (D: nobody probes a crashed member for D periods
 * with probability < 1e-9, (1 - 1/(n-1))^((n-1) D), capped by the 2n-3
 * periods of round-robin probing), one period to conclude the probe, the
 * longest suspicion timeout, and 2 ceil(log2 n) + 10 gossip rounds to
 * spread the suspicion. */
au_time au_check_swim_bound(const struct au_swim_config *cfg, uint32_t n);

/* The grace after a fault window (and after a member's restart) within
 * which a correct SWIM may still declare a live member dead: one period
 * for a probe in flight to conclude, the longest suspicion it starts, the
 * 2 ceil(log2 n) + 10 gossip rounds of the completeness bound for the
 * accusation, or the death it turned into, to reach the accused (which
 * then refutes at once), and the reconnect interval (without reconnect,
 * the push-pull period) for an accusation held by members that hold the
 * accused dead to meet the other side of a healed cut. */
au_time au_check_swim_grace(const struct au_swim_config *cfg, uint32_t n);

/* The probability that one probe in a calm network fails (no ack, direct
 * or through any of min(k, n-2) relays, before the next tick), from the
 * scenario's [network] loss, latency and bandwidth. */
double au_check_swim_probe_fail(const struct au_scenario *sc, const struct au_swim_config *cfg,
				uint32_t n);

/* swim_false_deaths_max = auto: every false death outside fault windows
 * needs a failed probe; with lambda = the probes a run can start (n per
 * period) times au_check_swim_probe_fail, the smallest b such that more
 * than b fail has probability <= 1e-9 (Chernoff).  0 when no probe can
 * fail (no loss, latencies within the deadlines). */
int64_t au_check_swim_false_deaths_auto(const struct au_scenario *sc,
					const struct au_swim_config *cfg, uint32_t n);

void *au_cswim_complete_create(struct au_sim *sim);
void *au_cswim_accuracy_create(struct au_sim *sim);
void *au_cswim_converge_create(struct au_sim *sim);
void au_cswim_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		    int64_t b, int64_t c);
extern const struct au_check_kinds au_cswim_accuracy_kinds[];
void au_cswim_row(void *st, struct au_sim *sim, au_node_id node, uint32_t service,
		  uint32_t table, const void *row);
void au_cswim_end(void *st, struct au_sim *sim);
void au_cswim_destroy(void *st);
/* One line of findings (detection latencies, false positives,
 * convergence time) into buf. */
void au_cswim_note(void *st, struct au_sim *sim, char *buf, size_t len);

#endif
