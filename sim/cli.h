/* cli.h — small helpers the aureon-sim commands share (run, chaos, shrink
 * and the bench subcommands) and the scenario loader: strict number
 * parsing, JSON string output, and wall-clock / memory figures for reports. */
#ifndef AU_CLI_H
#define AU_CLI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Append `s` to `out` as a JSON string literal (quotes, backslashes and
 * control characters escaped). */
void au_cli_json_string(GString *out, const char *s);

/* Monotonic wall-clock time in seconds (for durations only). */
double au_cli_wall_seconds(void);

/* This process's peak resident set size in bytes. */
uint64_t au_cli_peak_rss_bytes(void);

/* Register the modules that read scenario groups and judge runs with the
 * scenario loader and the engine: [check] and the checkers, [trace],
 * [chaos] (in that order: it is the loader's).  aureon-sim's main and the
 * test runner call it first. */
void au_cli_register(void);

#endif
