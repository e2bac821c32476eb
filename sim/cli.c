/* cli.c — helpers shared by the aureon-sim commands (see cli.h). */
#include "cli.h"

#include <sys/resource.h>
#include <time.h>

#include "chaos.h"
#include "check.h"
#include "trace_h5.h"

void au_cli_json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(out, "\\u%04x", *p);
		else
			g_string_append_c(out, (char)*p);
	}
	g_string_append_c(out, '"');
}

double au_cli_wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t au_cli_peak_rss_bytes(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss * 1024u;
}

void au_cli_register(void)
{
	au_check_register();
	au_h5_register();
	au_chaos_register();
}
