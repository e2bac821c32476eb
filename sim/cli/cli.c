/* cli.c — what aureon-sim's command line sets up first (see cli.h). */
#include "cli.h"

#include "sim/chaos/chaos.h"
#include "sim/check/check.h"
#include "sim/engine/trace_h5.h"

void au_cli_register(void)
{
	au_check_register();
	au_h5_register();
	au_chaos_register();
}
