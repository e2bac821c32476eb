/* check_results.h — results_retrievable, the check of the blob store
 * (models/blob.h; docs/one.md, "Results"):
 *
 *   results_retrievable  every fetch that completed got bytes whose SHA-256
 *                        is the digest ONE recorded (a holder that served a
 *                        wrong or stale chunk fails it; the violation names
 *                        the nodes that served); no fetch gave up or was
 *                        still running at the end; and at the end every job
 *                        ONE recorded (on the most advanced live replica)
 *                        has its bytes, read back and hashed, on some live
 *                        node.
 */
#ifndef AU_CHECK_RESULTS_H
#define AU_CHECK_RESULTS_H

#include "check_internal.h"

void *au_rr_create(struct au_sim *sim);
void au_rr_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		 int64_t c);
void au_rr_end(void *st, struct au_sim *sim);
void au_rr_destroy(void *st);
extern const struct au_check_kinds au_rr_kinds[];
/* What was fetched, and a fetch too late to judge. */
void au_rr_note(void *st, struct au_sim *sim, char *buf, size_t len);

#endif
