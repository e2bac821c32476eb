/* chaos_ini.c — editing a scenario file as text, line by line.
 *
 * Reproducers should read like the scenario they came from: the same
 * comments, order and spacing, with the seed set and the generated faults
 * added.  GKeyFile would rewrite every line, so chaos keeps the file as its
 * lines and edits only the ones it must.  It understands what the scenario
 * loader (a GKeyFile) understands: `[group]` headers, `key = value` lines,
 * and `#` comment lines; anything else is kept verbatim.
 */
#include "chaos.h"

#include <glib.h>
#include <string.h>

struct au_ini {
	GPtrArray *lines; /* char *, without newlines */
};

struct au_ini *au_ini_parse(const char *text)
{
	struct au_ini *ini = g_new0(struct au_ini, 1);
	ini->lines = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = g_strv_length(lines);
	/* A final newline leaves one empty string: not a line of its own. */
	if (n > 0 && lines[n - 1][0] == '\0')
		n--;
	for (guint i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);
		if (len && lines[i][len - 1] == '\r')
			lines[i][len - 1] = '\0';
		g_ptr_array_add(ini->lines, g_strdup(lines[i]));
	}
	return ini;
}

void au_ini_free(struct au_ini *ini)
{
	if (!ini)
		return;
	g_ptr_array_free(ini->lines, TRUE);
	g_free(ini);
}

struct au_ini *au_ini_copy(const struct au_ini *ini)
{
	struct au_ini *c = g_new0(struct au_ini, 1);
	c->lines = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < ini->lines->len; i++)
		g_ptr_array_add(c->lines, g_strdup(g_ptr_array_index(ini->lines, i)));
	return c;
}

char *au_ini_to_text(const struct au_ini *ini)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < ini->lines->len; i++) {
		g_string_append(s, g_ptr_array_index(ini->lines, i));
		g_string_append_c(s, '\n');
	}
	return g_string_free(s, FALSE);
}

/* The group name if line is a "[group]" header (caller frees), else NULL. */
static char *header_of(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '[')
		return NULL;
	const char *end = strchr(line, ']');
	if (!end)
		return NULL;
	return g_strndup(line + 1, (gsize)(end - line - 1));
}

/* The key if line is "key = value" (caller frees), else NULL. */
static char *key_of(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '#' || *line == '[' || *line == '\0')
		return NULL;
	const char *eq = strchr(line, '=');
	if (!eq)
		return NULL;
	char *k = g_strndup(line, (gsize)(eq - line));
	return g_strstrip(k);
}

/* Lines [*first, *end) of `group`'s last occurrence, header included;
 * false if absent.  A group runs to the next header; comment lines and
 * blank lines right before that header belong to the next group. */
static bool group_span(const struct au_ini *ini, const char *group, guint *first, guint *end)
{
	bool found = false;
	for (guint i = 0; i < ini->lines->len; i++) {
		g_autofree char *h = header_of(g_ptr_array_index(ini->lines, i));
		if (h && strcmp(h, group) == 0) {
			*first = i;
			found = true;
		}
	}
	if (!found)
		return false;
	guint e = *first + 1;
	while (e < ini->lines->len) {
		g_autofree char *h = header_of(g_ptr_array_index(ini->lines, e));
		if (h)
			break;
		e++;
	}
	/* Leave the next group's leading comments and blank lines with it. */
	while (e > *first + 1 && e < ini->lines->len) {
		const char *l = g_ptr_array_index(ini->lines, e - 1);
		const char *p = l + strspn(l, " \t");
		if (*p != '#' && *p != '\0')
			break;
		e--;
	}
	*end = e;
	return true;
}

bool au_ini_has_group(const struct au_ini *ini, const char *group)
{
	guint a, b;
	return group_span(ini, group, &a, &b);
}

char **au_ini_groups(const struct au_ini *ini)
{
	GPtrArray *out = g_ptr_array_new();
	for (guint i = 0; i < ini->lines->len; i++) {
		char *h = header_of(g_ptr_array_index(ini->lines, i));
		if (h)
			g_ptr_array_add(out, h);
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

char *au_ini_get(const struct au_ini *ini, const char *group, const char *key)
{
	guint a, b;
	if (!group_span(ini, group, &a, &b))
		return NULL;
	char *found = NULL;
	for (guint i = a + 1; i < b; i++) {
		const char *line = g_ptr_array_index(ini->lines, i);
		g_autofree char *k = key_of(line);
		if (!k || strcmp(k, key) != 0)
			continue;
		g_free(found);
		found = g_strdup(strchr(line, '=') + 1);
		/* An inline " # comment" is not part of the value. */
		for (char *p = found; *p; p++)
			if (*p == '#' && (p == found || g_ascii_isspace(p[-1]))) {
				*p = '\0';
				break;
			}
		g_strstrip(found);
	}
	return found;
}

void au_ini_set(struct au_ini *ini, const char *group, const char *key, const char *value)
{
	char *line = g_strdup_printf("%s = %s", key, value);
	guint a, b;
	if (!group_span(ini, group, &a, &b)) {
		if (ini->lines->len)
			g_ptr_array_add(ini->lines, g_strdup(""));
		g_ptr_array_add(ini->lines, g_strdup_printf("[%s]", group));
		g_ptr_array_add(ini->lines, line);
		return;
	}
	guint last = 0;
	for (guint i = a + 1; i < b; i++) {
		g_autofree char *k = key_of(g_ptr_array_index(ini->lines, i));
		if (k && strcmp(k, key) == 0)
			last = i;
	}
	if (last) {
		g_free(ini->lines->pdata[last]);
		ini->lines->pdata[last] = line;
		return;
	}
	/* After the group's last non-blank line. */
	guint at = b;
	while (at > a + 1 && ((const char *)g_ptr_array_index(ini->lines, at - 1))[0] == '\0')
		at--;
	g_ptr_array_insert(ini->lines, (gint)at, line);
}

void au_ini_remove_key(struct au_ini *ini, const char *group, const char *key)
{
	guint a, b;
	if (!group_span(ini, group, &a, &b))
		return;
	for (guint i = b; i-- > a + 1;) {
		g_autofree char *k = key_of(g_ptr_array_index(ini->lines, i));
		if (k && strcmp(k, key) == 0)
			g_ptr_array_remove_index(ini->lines, i);
	}
}

void au_ini_remove_group(struct au_ini *ini, const char *group)
{
	guint a, b;
	while (group_span(ini, group, &a, &b)) {
		/* The comment lines right above the header go with the group. */
		while (a > 0) {
			const char *l = g_ptr_array_index(ini->lines, a - 1);
			const char *p = l + strspn(l, " \t");
			if (*p != '#')
				break;
			a--;
		}
		g_ptr_array_remove_range(ini->lines, a, b - a);
		/* Do not leave two blank lines where the group was. */
		if (a > 0 && a < ini->lines->len &&
		    ((const char *)g_ptr_array_index(ini->lines, a - 1))[0] == '\0' &&
		    ((const char *)g_ptr_array_index(ini->lines, a))[0] == '\0')
			g_ptr_array_remove_index(ini->lines, a);
		else if (a > 0 && a == ini->lines->len &&
			 ((const char *)g_ptr_array_index(ini->lines, a - 1))[0] == '\0')
			g_ptr_array_remove_index(ini->lines, a - 1);
	}
}

void au_ini_comment_group(struct au_ini *ini, const char *group, const char *note)
{
	guint a, b;
	if (!group_span(ini, group, &a, &b))
		return;
	for (guint i = a; i < b; i++) {
		const char *l = g_ptr_array_index(ini->lines, i);
		char *c = g_strdup_printf("# %s", l);
		g_free(ini->lines->pdata[i]);
		ini->lines->pdata[i] = c;
	}
	if (note)
		g_ptr_array_insert(ini->lines, (gint)a, g_strdup_printf("# %s", note));
}

void au_ini_append(struct au_ini *ini, const char *text)
{
	if (!*text) {
		g_ptr_array_add(ini->lines, g_strdup(""));
		return;
	}
	struct au_ini *more = au_ini_parse(text);
	for (guint i = 0; i < more->lines->len; i++)
		g_ptr_array_add(ini->lines, g_strdup(g_ptr_array_index(more->lines, i)));
	au_ini_free(more);
}

void au_ini_prepend_comment(struct au_ini *ini, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = 0;
	for (gsize i = 0; lines[i]; i++) {
		if (!lines[i][0] && !lines[i + 1])
			break;
		g_ptr_array_insert(ini->lines, (gint)n++,
				   lines[i][0] ? g_strdup_printf("# %s", lines[i]) : g_strdup("#"));
	}
}
