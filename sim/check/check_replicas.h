/* check_replicas.h — replicas_agree: every replica's Raft state machines
 * hold the same state at the same applied index (check_replicas.c).
 *
 * Raft traces RAFT_DIGEST every `digest_every` applied entries: the
 * replica's applied index, a digest of its sessions and every machine
 * (raft.h, au_raft_state_digest) and a byte of each machine's digest.  The
 * checker keeps the first digest reported for each such index and fails
 * when another replica reports a different one — naming both nodes, the
 * index, the machines whose digests differ and, from the machines' own
 * descriptions of their state (struct au_raft_machine.describe), the first
 * records that differ.  Both descriptions are of that index: the first
 * reporter has usually applied more entries since, so its state then comes
 * from a replica still at that index or, failing that, from replaying the
 * run (same scenario, same seed) up to its report — only failing runs pay
 * for that.  The table is a ring of `window` indexes: a replica
 * more than window * digest_every entries behind the newest report is not
 * compared (counted in the run summary), so memory stays fixed.
 *
 * The digest table and the text diff are separate from the simulator so
 * tests can drive them directly.
 */
#ifndef AU_CHECK_REPLICAS_H
#define AU_CHECK_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "check_internal.h"

/* ---- the digest table ------------------------------------------------------ */

struct au_replica_report {
	uint64_t index, digest, fingerprints;
	au_node_id node;
	au_time t_ns;
};

enum au_replica_verdict {
	AU_REPLICA_FIRST,   /* the first report of this index (kept) */
	AU_REPLICA_AGREE,   /* equal to the first report of this index */
	AU_REPLICA_DIFFER,  /* different: *first says from whom */
	AU_REPLICA_TOO_OLD, /* the index has left the window: not compared */
};

struct au_replica_table;

/* `every` > 0: the indexes reported are multiples of it; `window` > 0:
 * how many of them are kept. */
struct au_replica_table *au_replica_table_new(uint64_t every, uint32_t window);
void au_replica_table_free(struct au_replica_table *t);
enum au_replica_verdict au_replica_table_report(struct au_replica_table *t,
						const struct au_replica_report *r,
						struct au_replica_report *first);

/* ---- diffing two replicas' descriptions ------------------------------------- */

/* Compare two descriptions (lines "record id: fields") of the same machine
 * on nodes a and b.  Writes into `out` (always NUL-terminated) up to
 * `max_records` differing records, one per line, in a's order then b's:
 *   "key 3: n1 has value=7, n2 has value=9"
 *   "key 4: only n2 has value=1"
 * and returns how many records differ (possibly more than written). */
size_t au_replica_diff(const char *a, au_node_id na, const char *b, au_node_id nb,
		       size_t max_records, char *out, size_t out_len);

/* ---- seeing a replica's past state ---------------------------------------------- */

/* Run sim's scenario and seed again, up to the moment (t_ns) node `node`
 * reported applied index `index` with state digest `digest`, and fill
 * text[slot] with that replica's descriptions then (au_raft_describe; g_free
 * each).  False, text all NULL, if the replay did not reproduce that
 * report. */
bool au_replica_replay(struct au_sim *sim, au_node_id node, uint64_t index, au_time t_ns,
		       uint64_t digest, char *text[AU_RAFT_MAX_MACHINES]);

/* ---- the checker (check.c lists it) ------------------------------------------ */

void *au_check_replicas_create(struct au_sim *sim);
void au_check_replicas_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind,
			     int64_t a, int64_t b, int64_t c);
void au_check_replicas_destroy(void *st);
extern const struct au_check_kinds au_check_replicas_kinds[];
void au_check_replicas_note(void *st, struct au_sim *sim, char *buf, size_t len);

#endif
