/* pin.c — what build made a reproducer, and a warning when another build
 * replays it (pin.h). */
#include "pin.h"

#include <stdio.h>
#include <string.h>

#ifndef AU_BUILD_COMMIT
#define AU_BUILD_COMMIT "unknown"
#endif
#ifndef AU_BUILD_FLAGS
#define AU_BUILD_FLAGS "unknown"
#endif

const char *au_pin_commit(void)
{
	return AU_BUILD_COMMIT[0] ? AU_BUILD_COMMIT : "unknown";
}

const char *au_pin_flags(void)
{
	return AU_BUILD_FLAGS[0] ? AU_BUILD_FLAGS : "(none)";
}

const char *au_pin_binary_sha256(void)
{
	static char hex[65];
	if (hex[0])
		return hex;
	gchar *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents("/proc/self/exe", &data, &len, NULL)) {
		g_strlcpy(hex, "unknown", sizeof(hex));
		return hex;
	}
	gchar *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
	g_strlcpy(hex, sum, sizeof(hex));
	g_free(sum);
	g_free(data);
	return hex;
}

char *au_pin_header(void)
{
	return g_strdup_printf("Build commit: %s\nBuild flags: %s\nBuild binary sha256: %s\n",
			       au_pin_commit(), au_pin_flags(), au_pin_binary_sha256());
}

/* The value of the first comment line "# NAME: value" (NULL if none). */
static char *comment_value(const char *text, const char *name)
{
	g_autofree char *prefix = g_strdup_printf("%s:", name);
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		if (n > 0 && p[0] == '#') {
			const char *q = p + 1;
			while (q < p + n && *q == ' ')
				q++;
			size_t pl = strlen(prefix);
			if ((size_t)(p + n - q) >= pl && strncmp(q, prefix, pl) == 0) {
				char *v = g_strndup(q + pl, (size_t)(p + n - q) - pl);
				return g_strstrip(v);
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

void au_pin_read(const char *text, struct au_pin *out)
{
	g_assert(out);
	out->commit = text ? comment_value(text, "Build commit") : NULL;
	out->flags = text ? comment_value(text, "Build flags") : NULL;
	out->sha256 = text ? comment_value(text, "Build binary sha256") : NULL;
}

void au_pin_clear(struct au_pin *p)
{
	g_clear_pointer(&p->commit, g_free);
	g_clear_pointer(&p->flags, g_free);
	g_clear_pointer(&p->sha256, g_free);
}

/* The -DAU_BUG_* names in a flags string, space-separated, or "none". */
static char *planted_bugs(const char *flags)
{
	GString *s = g_string_new(NULL);
	g_auto(GStrv) words = g_strsplit_set(flags ? flags : "", " \t", -1);
	for (char **w = words; *w; w++)
		if (g_str_has_prefix(*w, "-DAU_BUG_"))
			g_string_append_printf(s, "%s%s", s->len ? " " : "", *w + 2);
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

char *au_pin_mismatch(const char *path, const char *text)
{
	struct au_pin p;
	au_pin_read(text, &p);
	if (!p.commit && !p.flags && !p.sha256)
		return NULL;
	bool same_bin = p.sha256 && strcmp(p.sha256, au_pin_binary_sha256()) == 0;
	bool same_flags = p.flags && strcmp(p.flags, au_pin_flags()) == 0;
	bool same_commit = p.commit && strcmp(p.commit, au_pin_commit()) == 0;
	char *out = NULL;
	if (!same_bin || !same_flags || !same_commit) {
		g_autofree char *theirs = planted_bugs(p.flags);
		g_autofree char *ours = planted_bugs(au_pin_flags());
		GString *w = g_string_new(NULL);
		g_string_append_printf(w, "aureon-sim: WARNING: %s was made by another build of aureon-sim;\n"
					  "  its verdict here may not be the verdict it recorded.\n", path);
		g_string_append_printf(w, "  made by: commit %s, flags %s, binary sha256 %s\n",
				       p.commit ? p.commit : "?", p.flags ? p.flags : "?",
				       p.sha256 ? p.sha256 : "?");
		g_string_append_printf(w, "  this is: commit %s, flags %s, binary sha256 %s\n",
				       au_pin_commit(), au_pin_flags(), au_pin_binary_sha256());
		if (strcmp(theirs, ours) != 0)
			g_string_append_printf(w, "  PLANTED BUGS DIFFER: %s there, %s here: a pass here does "
						  "not mean the bug it found is fixed.\n", theirs, ours);
		out = g_string_free(w, FALSE);
	}
	au_pin_clear(&p);
	return out;
}

/* `text` without a leading reproducer header (see au_pin_shrunk_text). */
static const char *after_old_header(const char *text)
{
	if (!g_str_has_prefix(text, "# aureon-sim chaos reproducer") &&
	    !g_str_has_prefix(text, "# Shrunk by aureon-sim shrink"))
		return text;
	for (const char *p = text; p && *p == '#';) {
		const char *eol = strchr(p, '\n');
		if (g_str_has_prefix(p, "# Build binary sha256:"))
			return eol ? eol + 1 : p + strlen(p);
		p = eol ? eol + 1 : NULL;
	}
	return text; /* not a header this build wrote: keep it */
}

char *au_pin_shrunk_text(const char *text, uint32_t faults_left)
{
	g_assert(text);
	text = after_old_header(text);
	const char *tag = "# ---- chaos plan of seed ";
	const char *line = strstr(text, tag);
	if (!line)
		return g_strdup(text);
	const char *colon = strstr(line, ": ");
	const char *eol = strchr(line, '\n');
	if (!colon || (eol && colon > eol))
		return g_strdup(text);
	unsigned n = 0;
	int used = 0;
	if (sscanf(colon + 2, "%u faults%n", &n, &used) != 1 || used == 0)
		return g_strdup(text);
	const char *rest = colon + 2 + used;
	return g_strdup_printf("%.*s: %u faults generated, %u left after shrinking%s", (int)(colon - text),
			       text, n, faults_left, rest);
}
