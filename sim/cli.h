/* cli.h — small helpers the aureon-sim commands share (run, chaos, shrink
 * and the bench subcommands) and the scenario loader: strict number
 * parsing, JSON string output, and wall-clock / memory figures for reports. */
#ifndef AU_CLI_H
#define AU_CLI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* A non-negative decimal integer that fills the whole string and fits in
 * 64 bits; false otherwise (empty, sign, junk, overflow). */
bool au_cli_parse_u64(const char *s, uint64_t *out);

/* Append `s` to `out` as a JSON string literal (quotes, backslashes and
 * control characters escaped). */
void au_cli_json_string(GString *out, const char *s);

/* Monotonic wall-clock time in seconds (for durations only). */
double au_cli_wall_seconds(void);

/* This process's peak resident set size in bytes. */
uint64_t au_cli_peak_rss_bytes(void);

#endif
