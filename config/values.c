/* values.c — strict parsers of single configuration values (see values.h). */
#include "config/values.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

/* 128-bit integers for exact products of durations and units. */
__extension__ typedef __int128 au_i128;

bool au_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !g_ascii_isdigit(s[0]))
		return false;
	char *end;
	errno = 0;
	guint64 v = g_ascii_strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static const struct {
	const char *name;
	au_time ns;
} time_units[] = {
	{"ns", 1}, {"us", AU_NS_PER_US}, {"ms", AU_NS_PER_MS}, {"s", AU_NS_PER_S},
	{"m", 60 * AU_NS_PER_S}, {"h", 3600 * AU_NS_PER_S},
};

/* Parse a decimal (digits, optional fraction) times `scale`, exactly.
 * The result must be a whole number. */
static bool parse_scaled(const char *num, size_t len, int64_t scale, int64_t *out)
{
	if (len == 0)
		return false;
	int64_t whole = 0, frac = 0, frac_div = 1;
	size_t i = 0;
	bool digits = false;
	for (; i < len && g_ascii_isdigit(num[i]); i++) {
		digits = true;
		if (whole > (INT64_MAX - 9) / 10)
			return false;
		whole = whole * 10 + (num[i] - '0');
	}
	if (i < len && num[i] == '.') {
		i++;
		for (; i < len && g_ascii_isdigit(num[i]); i++) {
			digits = true;
			if (frac_div > INT64_MAX / 10)
				return false;
			frac = frac * 10 + (num[i] - '0');
			frac_div *= 10;
		}
	}
	if (!digits || i != len)
		return false;
	if (whole > INT64_MAX / scale)
		return false;
	int64_t v = whole * scale;
	/* frac * scale / frac_div must be exact. */
	au_i128 f = (au_i128)frac * scale;
	if (f % frac_div != 0)
		return false;
	int64_t fv = (int64_t)(f / frac_div);
	if (v > INT64_MAX - fv)
		return false;
	*out = v + fv;
	return true;
}

bool au_parse_duration(const char *text, au_time *out)
{
	if (!text)
		return false;
	size_t len = strlen(text);
	size_t num_end = 0;
	while (num_end < len && (g_ascii_isdigit(text[num_end]) || text[num_end] == '.'))
		num_end++;
	const char *unit = text + num_end;
	for (size_t u = 0; u < G_N_ELEMENTS(time_units); u++)
		if (strcmp(unit, time_units[u].name) == 0)
			return parse_scaled(text, num_end, time_units[u].ns, out);
	return false;
}

void au_format_duration(au_time t, char *buf, size_t len)
{
	for (size_t u = G_N_ELEMENTS(time_units); u-- > 0;) {
		if (t != 0 && t % time_units[u].ns == 0) {
			g_snprintf(buf, len, "%" G_GINT64_FORMAT "%s", t / time_units[u].ns,
				   time_units[u].name);
			return;
		}
	}
	g_snprintf(buf, len, "%" G_GINT64_FORMAT "ns", t);
}

bool au_parse_double(const char *text, double *out)
{
	if (!text || !*text || g_ascii_isspace(text[0]))
		return false;
	char *end;
	errno = 0;
	double v = g_ascii_strtod(text, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool au_parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

bool au_parse_node(const char *text, uint32_t nodes, au_node_id *out)
{
	uint64_t v;
	if (!text || text[0] != 'n' || !au_parse_u64(text + 1, &v) || text[1] == '0')
		return false;
	if (v < 1 || v > nodes)
		return false;
	*out = (au_node_id)v;
	return true;
}

bool au_parse_dist(const char *text, struct au_dist *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = "expected const(x), uniform(a,b), normal(mean,sd), lognormal(mean,sd), "
	       "exponential(mean) or exponential(mean,shift), with units on every duration";
	const char *open = strchr(text, '(');
	size_t tl = strlen(text);
	if (!open || tl < 3 || text[tl - 1] != ')')
		return false;
	g_autofree char *name = g_strndup(text, (gsize)(open - text));
	g_autofree char *inner = g_strndup(open + 1, tl - (size_t)(open - text) - 2);
	g_auto(GStrv) args = g_strsplit(inner, ",", -1);
	guint n = g_strv_length(args);
	au_time v[2] = {0, 0};
	if (n < 1 || n > 2)
		return false;
	for (guint i = 0; i < n; i++) {
		g_strstrip(args[i]);
		if (!au_parse_duration(args[i], &v[i])) {
			*why = "a distribution argument is not a duration with a unit (e.g. 5ms)";
			return false;
		}
	}
	if (strcmp(name, "const") == 0 && n == 1) {
		out->kind = AU_DIST_CONST;
		out->p1 = v[0];
	} else if (strcmp(name, "uniform") == 0 && n == 2) {
		if (v[1] < v[0]) {
			*why = "uniform(a,b) needs a <= b";
			return false;
		}
		out->kind = AU_DIST_UNIFORM;
		out->p1 = v[0];
		out->p2 = v[1];
	} else if (strcmp(name, "normal") == 0 && n == 2) {
		out->kind = AU_DIST_NORMAL;
		out->p1 = v[0];
		out->p2 = v[1];
	} else if (strcmp(name, "lognormal") == 0 && n == 2) {
		if (v[0] <= 0) {
			*why = "lognormal(mean,sd) needs mean > 0";
			return false;
		}
		out->kind = AU_DIST_LOGNORMAL;
		out->p1 = v[0];
		out->p2 = v[1];
		double m = (double)v[0], sd = (double)v[1];
		out->sigma = sqrt(log(1.0 + (sd * sd) / (m * m)));
		out->mu = log(m) - out->sigma * out->sigma / 2.0;
	} else if (strcmp(name, "exponential") == 0) {
		out->kind = AU_DIST_EXPONENTIAL;
		out->p1 = v[0];
		out->shift = n == 2 ? v[1] : 0;
	} else {
		return false;
	}
	*why = NULL;
	return true;
}

bool au_parse_bandwidth(const char *text, uint64_t *bps)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"bit", 1}, {"kbit", 1000}, {"Mbit", 1000000}, {"Gbit", 1000000000}};
	size_t len = strlen(text), i = 0;
	while (i < len && (g_ascii_isdigit(text[i]) || text[i] == '.'))
		i++;
	for (size_t u = 0; u < G_N_ELEMENTS(units); u++) {
		if (strcmp(text + i, units[u].unit) != 0)
			continue;
		int64_t v;
		if (!parse_scaled(text, i, (int64_t)units[u].mult, &v) || v <= 0)
			return false;
		*bps = (uint64_t)v;
		return true;
	}
	return false;
}

bool au_parse_bytes(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"B", 1},          {"KB", 1000},        {"MB", 1000000},
		     {"GB", 1000000000}, {"KiB", 1024},       {"MiB", 1024 * 1024},
		     {"GiB", INT64_C(1024) * 1024 * 1024}};
	size_t len = strlen(text), i = 0;
	while (i < len && (g_ascii_isdigit(text[i]) || text[i] == '.'))
		i++;
	for (size_t u = 0; u < G_N_ELEMENTS(units); u++) {
		if (strcmp(text + i, units[u].unit) != 0)
			continue;
		int64_t v;
		if (!parse_scaled(text, i, units[u].mult, &v) || v <= 0)
			return false;
		*bytes = (uint64_t)v;
		return true;
	}
	return false;
}

int au_strv_index(char *const *names, const char *name)
{
	for (int i = 0; names && names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
