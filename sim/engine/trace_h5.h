/* trace_h5.h — writing a run's trace records into one self-describing HDF5
 * file: /events, /messages and one table per model table, as chunked,
 * shuffle+deflate compressed compound datasets written in batches (memory
 * stays bounded however long the run), with kinds, fates and message types
 * as HDF5 enums and the run's facts as root attributes.  Identical runs give
 * byte-identical files.
 */
#ifndef AU_TRACE_H5_H
#define AU_TRACE_H5_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/scenario/scenario.h"

struct au_h5;

/* Read [trace] with every scenario (its defaults when the group is
 * absent): registers the loader's hook.  Once, before the first load. */
void au_h5_register(void);

/* Check that `path` can be written (parent directory exists and is
 * writable, the file does not exist unless `force`, the disk has room) and
 * create the file with its datasets.  NULL and *err on failure. */
struct au_h5 *au_h5_create(const char *path, bool force, const struct au_scenario *sc,
			   uint64_t seed, const char *version, char **err);

/* Append records; they are buffered and written in batches. */
void au_h5_event(struct au_h5 *h, au_time t, uint32_t node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c);
void au_h5_message(struct au_h5 *h, uint64_t record, au_time send_ns, au_time recv_ns,
		   uint32_t src, uint32_t dst, uint16_t type, uint32_t bytes, uint8_t fate);
void au_h5_row(struct au_h5 *h, uint32_t service, uint32_t table, uint64_t record,
	       au_time t, uint32_t node, const void *row);

/* True once a write has failed (e.g. disk full); the run should stop. */
bool au_h5_failed(const struct au_h5 *h, char **err);

/* The run's verdict, written as root attributes at close: `result` (pass
 * or fail), `checks` (a JSON object: {"checks": {name: verdict},
 * "check_reasons": {name: why}}) and `violation` (one line, or ""). */
void au_h5_set_verdict(struct au_h5 *h, const char *result, const char *checks,
		       const char *violation);

/* The violation as JSON (violation.h au_violation_json: time, node, the
 * window), written at close as the root attribute "violation_json" for
 * tools that place it on a time axis (analysis/timeline, report). */
void au_h5_set_violation_json(struct au_h5 *h, const char *json);

/* Flush, write the closing root attributes and close.  Returns 0, or -1
 * with *err (the file is then removed: no half-written traces). */
int au_h5_close(struct au_h5 *h, const char *trace_hash, au_time sim_end_ns, uint64_t events,
		uint64_t records, char **err);
/* Abandon: close and delete the file. */
void au_h5_abort(struct au_h5 *h);

/* Which datasets [trace] tables asks for; NULL-terminated list of known
 * names for validation ("events", "messages", then model tables). */
bool au_h5_table_known(const struct au_scenario *sc, const char *name);

#endif
