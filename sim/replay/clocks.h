/* clocks.h — where each recorded boot sits on one timeline when the
 * boots come from several hosts: their CLOCK_REALTIME anchors, corrected
 * by the datagrams between the hosts (none may arrive before it was
 * sent).  Used by `aureon-sim replay --check` (merge.c); boots from one
 * host are placed by CLOCK_MONOTONIC instead, exactly.
 */
#ifndef AU_SIM_REPLAY_CLOCKS_H
#define AU_SIM_REPLAY_CLOCKS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/replay/reclog_read.h"

#define AU_CLOCKS_MAX_HOSTS 64

struct au_clocks_report {
	guint hosts;                              /* distinct host boot ids */
	uint64_t pairs;                           /* matched datagrams between hosts */
	int64_t offset_ns[AU_CLOCKS_MAX_HOSTS];   /* correction of each host's realtime clock */
};

/* Replays every boot alone once to match the datagrams between hosts,
 * then fills offset[i] (boot i's time 0 on the common timeline, the
 * earliest 0) and the report.  False if there are more than
 * AU_CLOCKS_MAX_HOSTS hosts. */
bool au_clocks_place(GPtrArray *boots, int64_t *offset, struct au_clocks_report *rep);

#endif
