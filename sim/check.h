/* check.h — the invariant checkers: what a run is judged by.
 *
 * Checkers watch every trace record of a run and stop it at the first
 * violation; some also judge at its end.  The module registers the [check]
 * group with the scenario loader and itself with the engine
 * (au_check_register), and reports each check's verdict.
 */
#ifndef AU_CHECK_H
#define AU_CHECK_H

#include "sim.h"

/* Read [check] with every scenario and judge every run: registers with
 * the scenario loader and the engine.  Once, before the first load. */
void au_check_register(void);

#endif
