/* check_rqml.h — the checkers of RQML and ONE (check_rqml.c), as entry
 * points check.c lists in its checker table.
 *
 *   exactly_once_one   every job has at most one ONE record: every replica
 *                      stores a job at the same log index with the same
 *                      digest (replays after a restart store it again at
 *                      that index; a second write would carry another).
 */
#ifndef AU_CHECK_RQML_H
#define AU_CHECK_RQML_H

#include "sim_internal.h"

void *au_eo_create(struct au_sim *sim);
void au_eo_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c);
void au_eo_end(void *st, struct au_sim *sim);
void au_eo_destroy(void *st);

#endif
