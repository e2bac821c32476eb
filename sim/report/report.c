/* report.c — JSON strings and wall-clock / memory figures (see report.h). */
#include "report.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

/* Levenshtein distance of a and b, both shorter than 64 bytes (longer
 * words are never typos of our names: a large distance). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *au_report_nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < best_d) { /* the first of equals: the caller's order decides */
			best_d = d;
			best = names[i];
		}
	}
	size_t len = strlen(word), limit = len / 3 < 3 ? len / 3 : 3;
	return best && best_d <= (limit ? limit : 1) ? best : NULL;
}
