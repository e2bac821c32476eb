/* report.h — how aureon-sim's commands report (run, chaos, shrink, the
 * bench subcommands, the checks' verdicts): JSON string literals, usage
 * errors, and the wall-clock and memory figures printed beside simulated
 * results.
 */
#ifndef AU_REPORT_H
#define AU_REPORT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

/* Append `s` to `out` as a JSON string literal (quotes, backslashes and
 * control characters escaped). */
void au_report_json_string(GString *out, const char *s);

/* A command-line mistake: "aureon-sim: MESSAGE", a blank line and the
 * command's usage on stderr; returns 2, the exit code for usage errors. */
int au_report_usage_error(const char *usage, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A simulated time as seconds with every nanosecond digit, as reproducer
 * headers and failure lines print it: "1.860000000s". */
void au_report_seconds(au_time t, char *buf, size_t len);

/* Monotonic wall-clock time in seconds (for durations only: never in
 * anything simulated or hashed). */
double au_report_wall_seconds(void);

/* Of `names` (n of them), the one closest to `word` by edit distance, if
 * it is close enough to be a typo (at most a third of its length, and 3);
 * else NULL.  For "did you mean" hints in error messages. */
const char *au_report_nearest(const char *word, const char *const *names, size_t n);

/* This process's peak resident set size in bytes. */
uint64_t au_report_peak_rss_bytes(void);

#endif
