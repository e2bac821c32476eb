/* phold.h — the PHOLD benchmark workload as a model: each node is a logical
 * process holding `init` events; processing one schedules one more, to a
 * random other node with probability `remote` (as a message through the
 * simulated network) or to itself (as a timer), 1 µs lookahead plus an
 * exponential delay of mean 1 µs.  Used by `aureon-sim bench phold`. */
#ifndef AU_PHOLD_H
#define AU_PHOLD_H

#include "model.h"

struct au_phold_config {
	uint32_t init;         /* initial events per node */
	uint32_t remote_ppm;   /* probability of a remote event, in millionths */
	au_time lookahead_ns;  /* fixed part of every delay */
	au_time mean_ns;       /* mean of the exponential part */
};

extern const struct au_model au_phold_model;

#endif
