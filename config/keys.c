/* keys.c — reading key files strictly, and models' key tables (see keys.h). */
#include "config/keys.h"

#include <stdarg.h>
#include <string.h>

#include "config/values.h"

bool au_keys_fail(struct au_keys *K, const char *group, const char *key, const char *fmt, ...)
{
	if (K->err)
		return false;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (group && key)
		K->err = g_strdup_printf("%s: [%s] %s: %s", K->path, group, key, msg);
	else if (group)
		K->err = g_strdup_printf("%s: [%s]: %s", K->path, group, msg);
	else
		K->err = g_strdup_printf("%s: %s", K->path, msg);
	return false;
}

/* Every "key = value" line of a group, as GKeyFile reads them (leading
 * blanks skipped, '#' comments, the key up to '=' without trailing blanks),
 * by "group\nkey": the first repeat fails, naming both lines.  A group
 * given twice is one group to GKeyFile, so its keys are counted together. */
static bool no_repeated_keys(struct au_keys *K, const char *text)
{
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree char *group = NULL;
	bool ok = true;
	for (gsize i = 0; ok && lines[i]; i++) {
		const char *l = lines[i];
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '#' || *l == '\0' || *l == '\r')
			continue;
		if (*l == '[') {
			const char *end = strchr(l, ']');
			g_free(group);
			group = end ? g_strndup(l + 1, (gsize)(end - l - 1)) : NULL;
			continue;
		}
		const char *eq = strchr(l, '=');
		if (!group || !eq)
			continue; /* GKeyFile has said what is wrong already */
		const char *kend = eq;
		while (kend > l && (kend[-1] == ' ' || kend[-1] == '\t'))
			kend--;
		g_autofree char *key = g_strndup(l, (gsize)(kend - l));
		char *id = g_strdup_printf("%s\n%s", group, key);
		gpointer first = g_hash_table_lookup(seen, id);
		if (first) {
			ok = au_keys_fail(K, group, key, "set twice, on lines %u and %zu (a key file "
					  "would silently keep the last): keep one", GPOINTER_TO_UINT(first),
					  (size_t)i + 1);
			g_free(id);
		} else {
			g_hash_table_insert(seen, id, GUINT_TO_POINTER((guint)i + 1));
		}
	}
	g_hash_table_destroy(seen);
	return ok;
}

bool au_keys_load_text(struct au_keys *K, const char *text)
{
	GError *gerr = NULL;
	if (!g_key_file_load_from_data(K->kf, text, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		au_keys_fail(K, NULL, NULL, "not a valid key file: %s", gerr->message);
		g_error_free(gerr);
		return false;
	}
	return no_repeated_keys(K, text);
}

char *au_keys_value(struct au_keys *K, const char *group, const char *key)
{
	char *v = g_key_file_get_value(K->kf, group, key, NULL);
	if (!v)
		return NULL;
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || g_ascii_isspace(p[-1]))) {
			*p = '\0';
			break;
		}
	}
	g_strstrip(v);
	return v;
}

bool au_keys_has(struct au_keys *K, const char *group, const char *key)
{
	return g_key_file_has_key(K->kf, group, key, NULL);
}

bool au_keys_duration(struct au_keys *K, const char *g, const char *k, au_time *out,
		      bool required)
{
	g_autofree char *v = au_keys_value(K, g, k);
	if (!v)
		return required ? au_keys_fail(K, g, k, "missing (a duration such as 10s)") : true;
	if (!au_parse_duration(v, out))
		return au_keys_fail(K, g, k, "'%s' is not a duration: a non-negative number with a unit "
				     "ns, us, ms, s, m or h (e.g. 150ms)", v);
	return true;
}

bool au_keys_prob(struct au_keys *K, const char *g, const char *k, double *out, bool required)
{
	g_autofree char *v = au_keys_value(K, g, k);
	if (!v)
		return required ? au_keys_fail(K, g, k, "missing (a probability between 0 and 1)") : true;
	if (!au_parse_double(v, out) || *out < 0.0 || *out > 1.0)
		return au_keys_fail(K, g, k, "'%s' is not a probability between 0 and 1", v);
	return true;
}

bool au_keys_bool(struct au_keys *K, const char *g, const char *k, bool *out)
{
	g_autofree char *v = au_keys_value(K, g, k);
	if (!v)
		return true;
	if (!au_parse_bool(v, out))
		return au_keys_fail(K, g, k, "'%s' is not true or false", v);
	return true;
}

bool au_keys_only(struct au_keys *K, const char *group, const char *const *allowed,
		  bool (*also_ok)(const char *key))
{
	g_auto(GStrv) keys = g_key_file_get_keys(K->kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(keys[i], *a) == 0;
		if (!ok && also_ok)
			ok = also_ok(keys[i]);
		if (!ok) {
			GString *list = g_string_new(NULL);
			for (const char *const *a = allowed; *a; a++)
				g_string_append_printf(list, "%s%s", list->len ? ", " : "", *a);
			au_keys_fail(K, group, keys[i], "unknown key (known here: %s)", list->str);
			g_string_free(list, TRUE);
			return false;
		}
	}
	return true;
}

bool au_keys_model(struct au_keys *K, const char *g, const struct au_config_key *keys,
		   void *cfg, const struct au_keys_cluster *cl)
{
	for (const struct au_config_key *k = keys; k && k->name; k++) {
		g_autofree char *v = au_keys_value(K, g, k->name);
		const char *text = v ? v : k->default_text;
		uint8_t *field = (uint8_t *)cfg + k->offset;
		switch (k->type) {
		case AU_CFG_DURATION: {
			au_time t;
			if (!au_parse_duration(text, &t))
				return au_keys_fail(K, g, k->name, "'%s' is not a duration with a unit (e.g. 1s)",
					    text);
			if ((uint64_t)t < k->min || (uint64_t)t > k->max)
				return au_keys_fail(K, g, k->name, "'%s' is out of range", text);
			memcpy(field, &t, sizeof(t));
			break;
		}
		case AU_CFG_DURATION_RANGE: {
			g_auto(GStrv) parts = g_strsplit(text, "..", 2);
			au_time r[2];
			if (g_strv_length(parts) != 2 || !au_parse_duration(g_strstrip(parts[0]), &r[0]) ||
			    !au_parse_duration(g_strstrip(parts[1]), &r[1]) || r[1] < r[0])
				return au_keys_fail(K, g, k->name,
					    "'%s' is not a duration range lo..hi (e.g. 150ms..300ms)", text);
			if ((uint64_t)r[0] < k->min || (uint64_t)r[1] > k->max)
				return au_keys_fail(K, g, k->name, "'%s' is out of range", text);
			memcpy(field, r, sizeof(r));
			break;
		}
		case AU_CFG_UINT: {
			uint64_t u;
			if (!au_parse_u64(text, &u) || u < k->min || u > k->max)
				return au_keys_fail(K, g, k->name, "'%s' is not an integer in %" G_GUINT64_FORMAT
							   "..%" G_GUINT64_FORMAT, text, k->min, k->max);
			uint32_t u32 = (uint32_t)u;
			memcpy(field, &u32, sizeof(u32));
			break;
		}
		case AU_CFG_RATE: {
			size_t tl = strlen(text);
			uint64_t u;
			g_autofree char *num = g_strndup(text, tl >= 2 ? tl - 2 : 0);
			if (tl < 3 || strcmp(text + tl - 2, "/s") != 0 || !au_parse_u64(num, &u) ||
			    u < k->min || u > k->max)
				return au_keys_fail(K, g, k->name, "'%s' is not a rate N/s with N in %" G_GUINT64_FORMAT
							   "..%" G_GUINT64_FORMAT, text, k->min, k->max);
			uint32_t u32 = (uint32_t)u;
			memcpy(field, &u32, sizeof(u32));
			break;
		}
		case AU_CFG_WEIGHTS: {
			size_t nchoices = 0;
			while (k->choices[nchoices])
				nchoices++;
			uint32_t w[16] = {0};
			uint64_t total = 0;
			bool none_ok = k->max == AU_CFG_WEIGHTS_NONE_OK;
			if (none_ok && strcmp(text, "none") == 0) {
				memcpy(field, w, nchoices * sizeof(uint32_t));
				break;
			}
			g_auto(GStrv) parts = g_strsplit(text, ",", -1);
			for (gsize i = 0; parts[i]; i++) {
				g_auto(GStrv) kv = g_strsplit(g_strstrip(parts[i]), ":", 2);
				uint64_t u;
				size_t c = 0;
				while (c < nchoices && (!kv[0] || strcmp(kv[0], k->choices[c]) != 0))
					c++;
				if (g_strv_length(kv) != 2 || c == nchoices || !au_parse_u64(kv[1], &u) ||
				    u > 1000000 || w[c])
					return au_keys_fail(K, g, k->name, "'%s' is not a list name:weight with names "
								   "from %s, each once", text, k->help);
				w[c] = (uint32_t)u;
				total += u;
			}
			if (total == 0 && !none_ok)
				return au_keys_fail(K, g, k->name, "'%s': the weights add up to 0", text);
			memcpy(field, w, nchoices * sizeof(uint32_t));
			break;
		}
		case AU_CFG_DIST: {
			struct au_dist d;
			const char *why;
			if (!au_parse_dist(text, &d, &why))
				return au_keys_fail(K, g, k->name, "'%s': %s", text, why);
			memcpy(field, &d, sizeof(d));
			break;
		}
		case AU_CFG_CAPS: {
			uint32_t pct[AU_MAX_CAPS] = {0};
			if (strcmp(text, "none") != 0) {
				g_auto(GStrv) parts = g_strsplit(text, ",", -1);
				for (gsize i = 0; parts[i]; i++) {
					g_auto(GStrv) kv = g_strsplit(g_strstrip(parts[i]), ":", 2);
					uint64_t u;
					int bit = g_strv_length(kv) == 2 ? au_strv_index(cl->cap_names, g_strstrip(kv[0])) : -1;
					if (g_strv_length(kv) != 2 || !au_parse_u64(g_strstrip(kv[1]), &u) || u > 100)
						return au_keys_fail(K, g, k->name, "'%s' is not a list capability:percent "
									   "(percent 0..100), or none", text);
					if (bit < 0)
						return au_keys_fail(K, g, k->name, "'%s': no node has capability '%s' "
									   "([cluster] capabilities)", text, kv[0]);
					if (pct[bit])
						return au_keys_fail(K, g, k->name, "'%s': capability '%s' named twice",
							    text, kv[0]);
					pct[bit] = (uint32_t)u;
				}
			}
			memcpy(field, pct, sizeof(pct));
			break;
		}
		case AU_CFG_NODE_LIST: {
			struct au_node_list nl = {0};
			g_autofree char *list = g_strstrip(g_strdup(text));
			if (strcmp(list, "all") == 0) {
				nl.all = 1;
			} else {
				g_auto(GStrv) parts = g_strsplit(list, ",", -1);
				for (gsize i = 0; parts[i]; i++) {
					au_node_id id;
					if (!au_parse_node(g_strstrip(parts[i]), cl->nodes, &id))
						return au_keys_fail(K, g, k->name, "'%s' is not a node of this cluster "
									   "(n1..n%u); write all or a list n1,n2,...",
							    parts[i], cl->nodes);
					for (uint32_t j = 0; j < nl.n; j++)
						if (nl.id[j] == id)
							return au_keys_fail(K, g, k->name, "'%s' is listed twice", parts[i]);
					if (nl.n == AU_NODE_LIST_MAX)
						return au_keys_fail(K, g, k->name, "more than %u nodes listed",
							    AU_NODE_LIST_MAX);
					nl.id[nl.n++] = id;
				}
				if (nl.n == 0)
					return au_keys_fail(K, g, k->name, "empty node list (write all or n1,n2,...)");
			}
			memcpy(field, &nl, sizeof(nl));
			break;
		}
		case AU_CFG_DOUBLE: {
			double d;
			if (!au_parse_double(text, &d) || d < 0.0)
				return au_keys_fail(K, g, k->name, "'%s' is not a finite number >= 0", text);
			memcpy(field, &d, sizeof(d));
			break;
		}
		case AU_CFG_STRING: {
			size_t tl = strlen(text);
			if (tl > k->max)
				return au_keys_fail(K, g, k->name, "'%s' is longer than %" G_GUINT64_FORMAT " bytes",
					    text, k->max);
			memcpy(field, text, tl + 1);
			break;
		}
		case AU_CFG_BOOL: {
			bool b;
			if (!au_parse_bool(text, &b))
				return au_keys_fail(K, g, k->name, "'%s' is not true or false", text);
			int iv = b;
			memcpy(field, &iv, sizeof(iv));
			break;
		}
		}
	}
	return true;
}
