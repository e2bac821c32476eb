/* violation.c — the text and JSON of a violation (violation.h). */
#include "violation.h"

#include <string.h>

#include "report.h"

char *au_violation_line(const struct au_violation *v)
{
	g_assert(v);
	char t[40], j[40];
	au_report_seconds(v->t_ns, t, sizeof(t));
	au_report_seconds(v->judged_ns, j, sizeof(j));
	g_autofree char *on = v->node ? g_strdup_printf(" on n%u", v->node) : g_strdup("");
	g_autofree char *judged = v->judged_ns > v->t_ns ? g_strdup_printf(" (judged at t=%s)", j)
							   : g_strdup("");
	return g_strdup_printf("%s at t=%s%s%s, trace record %" G_GUINT64_FORMAT ": %s", v->check, t,
			       on, judged, v->record, v->detail);
}

void au_violation_json(GString *o, const struct au_violation *v)
{
	g_assert(o && v);
	g_string_append(o, "{\"check\": ");
	au_report_json_string(o, v->check);
	g_string_append_printf(o, ", \"t_ns\": %" G_GINT64_FORMAT ", \"node\": %u, \"record\": %"
			       G_GUINT64_FORMAT ", \"detail\": ", v->t_ns, v->node, v->record);
	au_report_json_string(o, v->detail);
	g_string_append_printf(o, ", \"judged_ns\": %" G_GINT64_FORMAT ", \"window\": ", v->judged_ns);
	if (!v->has_window) {
		g_string_append(o, "null}");
		return;
	}
	g_string_append_printf(o, "{\"first_ns\": %" G_GINT64_FORMAT ", \"last_ns\": %" G_GINT64_FORMAT
			       ", \"ops\": %u, \"first_record\": %" G_GUINT64_FORMAT
			       ", \"last_record\": %" G_GUINT64_FORMAT ", \"lines\": [",
			       v->window_lo_ns, v->window_hi_ns, v->window_ops, v->window_first_record,
			       v->window_last_record);
	g_auto(GStrv) lines = g_strsplit(v->window_text, "\n", -1);
	bool first = true;
	for (char **l = lines; *l; l++) {
		if (!**l)
			continue;
		if (!first)
			g_string_append(o, ", ");
		au_report_json_string(o, g_strstrip(*l));
		first = false;
	}
	g_string_append(o, "]}}");
}
