/* violation.h — one way to say what failed and where, for every command
 * that reports a violation (run's text and --json, its HDF5 trace's root
 * attributes, chaos failure lines and reproducer headers): the time and
 * node of the offending operation(s), when the checker judged if that was
 * later, and a window of operations where a check judged one.
 */
#ifndef AU_REPORT_VIOLATION_H
#define AU_REPORT_VIOLATION_H

#include <glib.h>

#include "sim/engine/sim.h"

/* "CHECK at t=1.860000000s on n3 (judged at t=30.000000000s), trace record
 * R: DETAIL" — " on nK" only when a node is known, the judged part only
 * when the checker ran later than the operation.  Caller frees. */
char *au_violation_line(const struct au_violation *v);

/* Append the violation as a JSON object: check, t_ns, node, record,
 * detail, judged_ns, and window (null, or first_ns, last_ns, ops,
 * first_record, last_record, lines). */
void au_violation_json(GString *out, const struct au_violation *v);

#endif
