/* values.h — the text of one configuration value, parsed strictly: whole
 * numbers, durations, sizes, bandwidths, probabilities, booleans,
 * distributions and node names, as scenario files, cluster files and the
 * command lines write them.
 *
 * Every parser takes the whole string or nothing: a missing or unknown
 * unit, a sign where none belongs, trailing garbage or an overflow is a
 * false return, never a silent fallback.  Used by aureon-sim and
 * aureon-node alike; it knows no file format (keys.h reads the files).
 */
#ifndef AU_CONFIG_VALUES_H
#define AU_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dist.h"
#include "env.h"

/* A non-negative decimal integer that fills the whole string and fits in
 * 64 bits; false otherwise (empty, sign, junk, overflow). */
bool au_parse_u64(const char *s, uint64_t *out);
/* A finite decimal number (no leading space, nothing after it). */
bool au_parse_double(const char *text, double *out);
/* true/yes/1 or false/no/0. */
bool au_parse_bool(const char *text, bool *out);
/* A duration with a unit ("150ms", "1.5s", "0ns"): ns, us, ms, s, m or h.
 * False on a missing or unknown unit, a negative value, a fraction finer
 * than a nanosecond, trailing garbage or overflow. */
bool au_parse_duration(const char *text, au_time *out);
/* Format a duration with the largest exact unit, e.g. "150ms". */
void au_format_duration(au_time t, char *buf, size_t len);
/* A bandwidth: a positive number with bit, kbit, Mbit or Gbit (per second). */
bool au_parse_bandwidth(const char *text, uint64_t *bps);
/* A size in bytes with a unit: B, KB/MB/GB (powers of 1000) or KiB/MiB/GiB
 * (powers of 1024); fractions allowed (1.5GiB); more than 0. */
bool au_parse_bytes(const char *text, uint64_t *bytes);
/* A distribution of durations ("uniform(1ms,5ms)", "lognormal(50ms,20ms)",
 * ...); on failure *why says what is wrong. */
bool au_parse_dist(const char *text, struct au_dist *out, const char **why);
/* "nK" for a cluster of `nodes` nodes (n1..nN, no leading zero). */
bool au_parse_node(const char *text, uint32_t nodes, au_node_id *out);

/* The index of `name` in the NULL-terminated list `names` (NULL: an empty
 * list), or -1: e.g. the bit of a capability among the cluster's names. */
int au_strv_index(char *const *names, const char *name);

#endif
