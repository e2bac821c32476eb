/* ctl_results.h — aureon-ctl's `result get` and `result make` commands
 * (ctl_results.c; docs/one.md, "Results"). */
#ifndef AU_SHIM_CTL_RESULTS_H
#define AU_SHIM_CTL_RESULTS_H

#include <stdbool.h>

/* Whether the command line's command is `result`. */
bool au_ctl_results_is_cmd(int argc, char **argv);
/* Run it (options and arguments parsed here); returns the exit code. */
int au_ctl_results_main(int argc, char **argv);

#endif
