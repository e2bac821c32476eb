/* check.h — the invariant checkers: what a run is judged by.
 *
 * Checkers watch every trace record of a run and stop it at the first
 * violation; some also judge at its end.  Every checker whose service
 * runs is on in every run (they are cheap); [check] invariants names the
 * ones a scenario relies on.  The module registers the [check] group with
 * the scenario loader and itself as the engine's judge
 * (au_check_register), and reports each check's verdict.
 */
#ifndef AU_CHECK_H
#define AU_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/engine/sim.h"

/* Read [check] with every scenario and judge every run: registers with
 * the scenario loader and the engine.  Once, before the first load. */
void au_check_register(void);

/* The checkers this build has (the registry `aureon-sim list checks`
 * prints): how many, and the i-th one's name, the service it runs with and
 * one line saying what it judges; false past the end. */
size_t au_check_count(void);
bool au_check_info(size_t i, const char **name, const char **service, const char **about);

/* The verdicts a check can have (au_check_results; compare with
 * strcmp).  pass: it held on everything it judged — every record up to the
 * end of the run, or up to the record that stopped it; fail: it was
 * violated; not run: its judgement was never made, e.g. its end-of-run
 * part when another check's violation stopped the run first, or a
 * liveness window that had not closed when the run ended; unknown: it
 * judged and could not decide (linearizable_kv's search budget ran out).
 * The last two come with a reason (au_check_reason).  Only fail makes
 * a run fail. */
#define AU_VERDICT_PASS "pass"
#define AU_VERDICT_FAIL "fail"
#define AU_VERDICT_NOT_RUN "not run"
#define AU_VERDICT_UNKNOWN "unknown"

/* Names and verdicts (AU_VERDICT_*) of the checks that are on in this run:
 * fills up to `max` entries, returns how many. */
size_t au_check_results(const struct au_sim *sim, const char **names, const char **results,
			size_t max);
/* "name verdict, ..." of the checks among au_check_results' n that have no
 * verdict (neither pass nor fail), for a pass line to name them; NULL when
 * every one has a verdict.  The caller frees it. */
char *au_check_undecided(const char *const *names, const char *const *results, size_t n);
/* Why check i (in au_check_results order) has no verdict: true and the reason
 * in buf for not run and unknown, false for pass and fail (a fail's detail
 * is the violation's). */
bool au_check_reason(const struct au_sim *sim, size_t i, char *buf, size_t len);
/* The checks as one line of text, "raft_safety fail, linearizable_kv not
 * run (run stopped at t=1.86s by raft_safety)", or "" with no checks;
 * g_malloc'd, the caller g_frees it. */
char *au_check_text(const struct au_sim *sim);
/* The checks as two JSON members, `"checks": {"name": "verdict", ...},
 * "check_reasons": {"name": "why", ...}` (reasons for not run and unknown
 * only); g_malloc'd, the caller g_frees it. */
char *au_check_json(const struct au_sim *sim);
/* Findings of check i (in au_check_results order) that a pass/fail does not
 * say, e.g. false positives counted; false if it has none. */
bool au_check_note(struct au_sim *sim, size_t i, char *buf, size_t len);

/* linearizable_kv's search budget (configurations per key) instead of its
 * default, so tests can reach the "unknown" verdict. */
void au_check_set_lin_budget(struct au_sim *sim, uint64_t configurations);

/* Leave check `name` out of this run (before its first record): it is
 * not judged and not listed among the verdicts; the caller says so
 * (`aureon-sim replay --check --skip NAME`, to see what the checks after
 * a first failure would say).  False if it is not on in this run. */
bool au_check_leave_out(struct au_sim *sim, const char *name);

/* For tests: hand every event record to every checker (runs started from
 * now on), as before the table by kind; a run judged both ways must reach
 * the same verdicts and notes, which shows the kind lists miss nothing
 * the checkers read. */
void au_check_dispatch_every(bool on);

struct au_h5;
/* Write a finished run's verdict into its HDF5 trace's root attributes:
 * result (pass/fail), the checks as JSON, the violation's line and JSON
 * (every command that writes a trace: run, replay --check). */
void au_check_h5_verdict(struct au_h5 *h5, struct au_sim *sim);

struct au_lin_result;
/* Where a linearizability window happened (how linearizable_kv reports
 * one): t_ns, node and record of the operation that closed it (the last to
 * return; an unknown outcome counts at its call; the node that served it),
 * the window's first call and last return, its records and operation
 * lines.  False (and *w zeroed) for an empty window. */
bool au_check_lin_window(const struct au_lin_result *res, struct au_violation *w);

#endif
