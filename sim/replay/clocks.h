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
#include <stddef.h>
#include <stdint.h>

#include "sim/replay/reclog_read.h"

#define AU_CLOCKS_MAX_HOSTS 64

/* How a merged replay pairs a datagram's receive with its send (clocks.c
 * and merge.c alike): the link it went over, and its bytes. */
static inline uint64_t au_replay_link_key(uint32_t src, uint32_t dst, uint32_t service)
{
	return (uint64_t)src << 40 | (uint64_t)dst << 8 | service;
}
/* CRC-32C of the bytes << 32 | their length. */
uint64_t au_replay_content_key(const void *msg, size_t len);

struct au_clocks_report {
	guint hosts;                              /* distinct host boot ids */
	uint64_t pairs;                           /* matched datagrams between hosts */
	int64_t offset_ns[AU_CLOCKS_MAX_HOSTS];   /* correction of each host's realtime clock */
	uint32_t first_node[AU_CLOCKS_MAX_HOSTS]; /* the node of each host's first boot, to name it */
};

/* Replays every boot alone once to match the datagrams between hosts,
 * then fills offset[i] (boot i's time 0 on the common timeline, the
 * earliest 0) and the report.  False if there are more than
 * AU_CLOCKS_MAX_HOSTS hosts. */
bool au_clocks_place(GPtrArray *boots, int64_t *offset, struct au_clocks_report *rep);

#endif
