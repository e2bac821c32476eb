/* report.c — JSON strings and wall-clock / memory figures (see report.h). */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

void au_report_json_string(GString *out, const char *s)
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

double au_report_wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t au_report_peak_rss_bytes(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss * 1024u;
}

int au_report_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aureon-sim: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n%s", usage);
	va_end(ap);
	return 2;
}

void au_report_seconds(au_time t, char *buf, size_t len)
{
	g_snprintf(buf, len, "%" G_GINT64_FORMAT ".%09" G_GINT64_FORMAT "s", t / AU_NS_PER_S,
		   t % AU_NS_PER_S);
}
