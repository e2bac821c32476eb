/* ping.h — the ping model: nodes ping random peers and record RTTs and
 * losses.  Configured by the [ping] scenario group. */
#ifndef AU_PING_H
#define AU_PING_H

#include "model.h"

struct au_ping_config {
	au_time interval_ns; /* time between a node's pings */
	au_time timeout_ns;  /* a ping unanswered this long counts as lost */
};

extern const struct au_model au_ping_model;

#endif
