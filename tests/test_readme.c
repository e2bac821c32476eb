/* test_readme.c — the example outputs in README.md and docs/ pages are run
 * again and compared with the text, so the documentation cannot go stale.
 *
 * Marks (an HTML comment on the line just before a fenced block):
 *
 *   <!-- checked -->             the block is a terminal session: each line
 *                                "$ COMMAND" (a trailing "\" continues it on
 *                                the next line) is run, and the lines after
 *                                it, up to the next "$ " line, are what it
 *                                must print (stdout and stderr together).
 *   <!-- checked: scenario -->   the block is a whole scenario file: it is
 *                                written to a temporary file and run, and
 *                                must pass.
 *   <!-- not checked: WHY -->    a session that cannot run in `make test`
 *                                (a build with a planted bug, root, ...).
 *
 * A fenced block whose first line starts with "$ " must carry one of
 * the three marks.  Commands run in a scratch directory that holds links
 * `scenarios`, `build` ($AU_BIN) and `build-O0` ($AU_BIN_O0, else $AU_BIN),
 * so they are written exactly as typed at the repository root and files they write
 * (`--records a.txt`) land in the scratch directory; only `build/aureon-sim`
 * and `build-O0/aureon-sim` may be run.
 *
 * Comparison: a line that is "..." stands for any number of output lines;
 * "..." inside a line for any text; everything else must match line for
 * line, the first line at the start of the output and the last at its end
 * (unless the block ends in "...").  Wall-clock figures ("0.4 s wall (74x
 * real time)", seeds/min, CPU per seed, sweep seconds) are masked on both
 * sides; trace hashes, counts, results and check lines are compared as
 * printed. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"

enum rd_kind { RD_SESSION, RD_SCENARIO, RD_UNCHECKED };

/* One marked fenced block of a markdown file. */
struct rd_block {
	char *file;
	int line;	   /* line of the opening fence, from 1 */
	enum rd_kind kind;
	GPtrArray *lines;  /* the block's lines, without the fences */
};

static void rd_block_free(gpointer p)
{
	struct rd_block *b = p;
	g_free(b->file);
	g_ptr_array_unref(b->lines);
	g_free(b);
}

/* Wall-clock parts of the output, masked before comparing. */
static const struct {
	const char *re, *with;
} rd_volatile[] = {
	{"[0-9.]+ s wall \\([0-9.]+x real time\\)", "<T> s wall (<R>x real time)"},
	{"[0-9.]+ seeds/min", "<R> seeds/min"},
	{"[0-9.]+ ms CPU per seed", "<C> ms CPU per seed"},
	{"([0-9]+ seeds) in [0-9.]+ s", "\\1 in <T> s"},
};

/* The line with its wall-clock figures masked; caller frees. */
static char *rd_normalise(const char *line)
{
	char *s = g_strdup(line);
	for (size_t i = 0; i < G_N_ELEMENTS(rd_volatile); i++) {
		GRegex *re = g_regex_new(rd_volatile[i].re, 0, 0, NULL);
		char *t = g_regex_replace(re, s, -1, 0, rd_volatile[i].with, 0, NULL);
		g_regex_unref(re);
		g_free(s);
		s = t;
	}
	return s;
}

/* Whether an actual line matches an expected one ("..." = any text). */
static gboolean rd_line_matches(const char *expected, const char *actual)
{
	g_autofree char *e = rd_normalise(expected);
	g_autofree char *a = rd_normalise(actual);
	if (!strstr(e, "..."))
		return strcmp(e, a) == 0;
	g_auto(GStrv) parts = g_strsplit(e, "...", -1);
	guint n = g_strv_length(parts);
	const char *p = a;
	if (!g_str_has_prefix(p, parts[0]))
		return FALSE;
	p += strlen(parts[0]);
	for (guint i = 1; i + 1 < n; i++) {
		const char *f = strstr(p, parts[i]);
		if (!f)
			return FALSE;
		p = f + strlen(parts[i]);
	}
	size_t tail = strlen(parts[n - 1]);
	return strlen(p) >= tail && strcmp(p + strlen(p) - tail, parts[n - 1]) == 0;
}

static gboolean rd_is_gap(const char *line)
{
	g_autofree char *t = g_strstrip(g_strdup(line));
	return strcmp(t, "...") == 0;
}

/* Whether segment seg (expected lines [s, e)) matches actual lines from at. */
static gboolean rd_segment_at(GPtrArray *exp, guint s, guint e, char **act, guint nact, guint at)
{
	if (at + (e - s) > nact)
		return FALSE;
	for (guint i = s; i < e; i++)
		if (!rd_line_matches(exp->pdata[i], act[at + i - s]))
			return FALSE;
	return TRUE;
}

/* Does the output match the expected lines (see the top of the file)?  On
 * a mismatch, why names the first expected line that was not found. */
static gboolean rd_match(GPtrArray *exp, const char *output, GString *why)
{
	g_auto(GStrv) act = g_strsplit(output, "\n", -1);
	guint nact = g_strv_length(act);
	if (nact > 0 && act[nact - 1][0] == '\0')
		nact--; /* the final newline */
	/* drop blank expected lines at the ends */
	guint s = 0, end = exp->len;
	while (s < end && ((char *)exp->pdata[s])[0] == '\0')
		s++;
	while (end > s && ((char *)exp->pdata[end - 1])[0] == '\0')
		end--;
	gboolean shown = s < end; /* an empty block: output not shown */
	guint at = 0;
	gboolean anchored = TRUE;
	while (s < end) {
		if (rd_is_gap(exp->pdata[s])) {
			anchored = FALSE;
			s++;
			continue;
		}
		guint e = s;
		while (e < end && !rd_is_gap(exp->pdata[e]))
			e++;
		gboolean last = e == end;
		gboolean found = FALSE;
		if (last) {
			/* the last segment ends with the output */
			guint len = e - s;
			if (nact >= len && nact - len >= at &&
			    (!anchored || nact - len == at) &&
			    rd_segment_at(exp, s, e, act, nact, nact - len)) {
				at = nact;
				found = TRUE;
			}
		} else if (anchored) {
			found = rd_segment_at(exp, s, e, act, nact, at);
			if (found)
				at += e - s;
		} else {
			for (guint i = at; i < nact && !found; i++)
				if (rd_segment_at(exp, s, e, act, nact, i)) {
					found = TRUE;
					at = i + (e - s);
				}
		}
		if (!found) {
			/* name the first line of the segment that fails */
			const char *bad = exp->pdata[s];
			for (guint i = s; i < e; i++) {
				gboolean any = FALSE;
				for (guint j = 0; j < nact && !any; j++)
					any = rd_line_matches(exp->pdata[i], act[j]);
				if (!any) {
					bad = exp->pdata[i];
					break;
				}
			}
			g_string_append_printf(why, "expected line not printed (or not in that place): %s", bad);
			return FALSE;
		}
		anchored = TRUE;
		s = e;
	}
	if (shown && anchored && at < nact) {
		g_string_append_printf(why, "output goes on after the block ends: %s", act[at]);
		return FALSE;
	}
	return TRUE;
}

/* The marked fenced blocks of one markdown text.  Errors (a "$ build"
 * block without a mark, an unknown mark, an unclosed fence) go to err. */
static GPtrArray *rd_blocks(const char *file, const char *text, GString *err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(rd_block_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	const char *mark = NULL; /* the previous line, if a mark */
	for (guint i = 0; lines[i]; i++) {
		const char *l = lines[i];
		const char *t = l + strspn(l, " \t");
		if (!g_str_has_prefix(t, "```")) {
			mark = g_str_has_prefix(t, "<!--") && strstr(t, "checked") ? t : NULL;
			continue;
		}
		size_t indent = (size_t)(t - l);
		struct rd_block *b = g_new0(struct rd_block, 1);
		b->file = g_strdup(file);
		b->line = (int)i + 1;
		b->lines = g_ptr_array_new_with_free_func(g_free);
		guint j = i + 1;
		for (; lines[j]; j++) {
			const char *u = lines[j] + strspn(lines[j], " \t");
			if (g_str_has_prefix(u, "```"))
				break;
			size_t ind = strspn(lines[j], " ");
			g_ptr_array_add(b->lines, g_strdup(lines[j] + MIN(ind, indent)));
		}
		if (!lines[j]) {
			g_string_append_printf(err, "%s:%d: fenced block never closed\n", file, b->line);
			rd_block_free(b);
			break;
		}
		gboolean session = b->lines->len > 0 && g_str_has_prefix(b->lines->pdata[0], "$ ");
		if (mark && g_str_has_prefix(mark, "<!-- checked -->"))
			b->kind = RD_SESSION;
		else if (mark && g_str_has_prefix(mark, "<!-- checked: scenario -->"))
			b->kind = RD_SCENARIO;
		else if (mark && g_str_has_prefix(mark, "<!-- not checked:"))
			b->kind = RD_UNCHECKED;
		else if (mark) {
			g_string_append_printf(err, "%s:%d: unknown mark %s\n", file, b->line - 1, mark);
			b->kind = RD_UNCHECKED;
		} else {
			if (session)
				g_string_append_printf(err, "%s:%d: a \"$ ...\" session without "
					"<!-- checked --> or <!-- not checked: why -->\n", file, b->line);
			rd_block_free(b);
			i = j;
			mark = NULL;
			continue;
		}
		if (b->kind == RD_SESSION && !session)
			g_string_append_printf(err, "%s:%d: a checked session must start with \"$ build\"\n",
					       file, b->line);
		g_ptr_array_add(out, b);
		i = j;
		mark = NULL;
	}
	return out;
}

/* A scratch directory with links to the scenarios and the binaries, so the
 * documented commands run as written.  Caller removes it (rd_scratch_rm). */
static char *rd_scratch(void)
{
	char *dir = g_dir_make_tmp("aureon-readme-XXXXXX", NULL);
	ck_assert(dir);
	g_autofree char *cwd = g_get_current_dir();
	g_autofree char *scen = g_build_filename(cwd, "scenarios", NULL);
	g_autofree char *bin = g_canonicalize_filename(au_test_bin(), cwd);
	/* without an -O0 build (make asan, valgrind) build-O0 is the same build */
	const char *o0env = getenv("AU_BIN_O0");
	g_autofree char *o0 = g_canonicalize_filename(o0env && *o0env ? o0env : au_test_bin(), cwd);
	const char *targets[] = {scen, bin, o0};
	const char *names[] = {"scenarios", "build", "build-O0"};
	for (int i = 0; i < 3; i++) {
		g_autofree char *link = g_build_filename(dir, names[i], NULL);
		ck_assert_int_eq(symlink(targets[i], link), 0);
	}
	return dir;
}

static void rd_scratch_rm(const char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run one command of a session in dir; output (stdout and stderr) in *out.
 * Only the simulator may be run, as one plain command (no ; & | < > ` $):
 * anything else is an error in the page. */
static gboolean rd_run(const char *dir, const char *cmd, char **out, GString *why)
{
	if ((!g_str_has_prefix(cmd, "build/aureon-sim ") && !g_str_has_prefix(cmd, "build-O0/aureon-sim ")) ||
	    strpbrk(cmd, ";&|<>`$\n")) {
		g_string_append_printf(why, "a checked command must be one plain build/aureon-sim command: %s", cmd);
		return FALSE;
	}
	g_autofree char *sh = g_strdup_printf("cd '%s' && %s 2>&1", dir, cmd);
	int rc = au_test_run(sh, out);
	if (rc < 0 || rc > 2) {
		g_string_append_printf(why, "`%s` did not exit normally (status %d)", cmd, rc);
		return FALSE;
	}
	return TRUE;
}

/* Run a checked block and compare; TRUE if it holds, else why says why
 * (and, if show, the whole output of what failed goes to stderr). */
static gboolean rd_check_block(const struct rd_block *b, GString *why, gboolean show)
{
	g_autofree char *dir = rd_scratch();
	gboolean ok = TRUE;
	if (b->kind == RD_SCENARIO) {
		GString *t = g_string_new(NULL);
		for (guint i = 0; i < b->lines->len; i++)
			g_string_append_printf(t, "%s\n", (char *)b->lines->pdata[i]);
		g_autofree char *path = g_build_filename(dir, "example.ini", NULL);
		ck_assert(g_file_set_contents(path, t->str, -1, NULL));
		g_string_free(t, TRUE);
		char *out = NULL;
		ok = rd_run(dir, "build/aureon-sim run example.ini --quiet", &out, why);
		if (ok && !strstr(out, "\n  result: pass\n")) {
			if (show)
				fprintf(stderr, "%s:%d: the scenario printed:\n%s\n", b->file, b->line, out);
			g_string_append(why, "the scenario does not pass (its output is on stderr)");
			ok = FALSE;
		}
		g_free(out);
	} else if (b->kind == RD_SESSION) {
		guint i = 0;
		while (ok && i < b->lines->len) {
			const char *l = b->lines->pdata[i];
			if (!g_str_has_prefix(l, "$ ")) {
				i++;
				continue;
			}
			GString *cmd = g_string_new(l + 2);
			while (cmd->len && cmd->str[cmd->len - 1] == '\\' && i + 1 < b->lines->len) {
				g_string_truncate(cmd, cmd->len - 1);
				i++;
				const char *next = b->lines->pdata[i];
				g_string_append(cmd, next + strspn(next, " \t"));
			}
			GPtrArray *exp = g_ptr_array_new();
			for (i++; i < b->lines->len && !g_str_has_prefix(b->lines->pdata[i], "$ "); i++)
				g_ptr_array_add(exp, b->lines->pdata[i]);
			char *out = NULL;
			ok = rd_run(dir, cmd->str, &out, why);
			if (ok && !rd_match(exp, out, why)) {
				/* the whole output goes to stderr; the message stays short */
				if (show)
					fprintf(stderr, "%s:%d: `%s` printed:\n%s\n", b->file, b->line,
						cmd->str, out);
				g_string_append_printf(why, " (`%s`; its output is on stderr)", cmd->str);
				ok = FALSE;
			}
			g_free(out);
			g_ptr_array_unref(exp);
			g_string_free(cmd, TRUE);
		}
	}
	rd_scratch_rm(dir);
	return ok;
}

static GPtrArray *rd_lines(const char *text)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) v = g_strsplit(text, "\n", -1);
	for (guint i = 0; v[i]; i++)
		g_ptr_array_add(a, g_strdup(v[i]));
	if (a->len && ((char *)a->pdata[a->len - 1])[0] == '\0')
		g_ptr_array_remove_index(a, a->len - 1);
	return a;
}

static gboolean rd_match_text(const char *expected, const char *actual)
{
	GPtrArray *e = rd_lines(expected);
	GString *why = g_string_new(NULL);
	gboolean ok = rd_match(e, actual, why);
	g_string_free(why, TRUE);
	g_ptr_array_unref(e);
	return ok;
}

START_TEST(matcher_compares_stable_lines)
{
	const char *out = "aureon-sim 0.1.0: scenario x, seed 1\n"
			  "  simulated 1m in 0.013 s wall (4511x real time), 4304 events\n"
			  "  n1 ping: boot=1\n"
			  "  n2 ping: boot=2\n"
			  "  n3 ping: boot=3\n"
			  "  result: pass\n"
			  "  trace hash: 03391b63\n";
	/* the whole output, wall time differing: matches */
	ck_assert(rd_match_text("aureon-sim 0.1.0: scenario x, seed 1\n"
				"  simulated 1m in 9.9 s wall (6x real time), 4304 events\n"
				"  n1 ping: boot=1\n  n2 ping: boot=2\n  n3 ping: boot=3\n"
				"  result: pass\n  trace hash: 03391b63\n", out));
	/* elided lines and an elided line end */
	ck_assert(rd_match_text("aureon-sim 0.1.0: ...\n...\n  n2 ping: boot=2\n...\n"
				"  trace hash: 03391b63\n", out));
	/* a stale hash, a stale count: no */
	ck_assert(!rd_match_text("aureon-sim 0.1.0: ...\n...\n  trace hash: 607defaf\n", out));
	ck_assert(!rd_match_text("aureon-sim 0.1.0: ...\n  simulated 1m in 0.013 s wall (4511x real time), "
				 "4305 events\n...\n", out));
	/* lines left out without "...": no */
	ck_assert(!rd_match_text("aureon-sim 0.1.0: ...\n  n1 ping: boot=1\n...\n", out));
	ck_assert(!rd_match_text("...\n  n1 ping: boot=1\n  n3 ping: boot=3\n...\n", out));
	/* output going on past the block's end without "...": no */
	ck_assert(!rd_match_text("...\n  result: pass\n", out));
	ck_assert(rd_match_text("...\n  result: pass\n...\n", out));
	/* lines in another order: no */
	ck_assert(!rd_match_text("...\n  n2 ping: boot=2\n...\n  n1 ping: boot=1\n...\n", out));
	/* sweep timings are masked, seed counts are not */
	ck_assert(rd_line_matches("chaos: x: 300 seeds in 12.0 s (2 workers, 1498 seeds/min, 26.2 ms CPU per seed)",
				  "chaos: x: 300 seeds in 8.1 s (2 workers, 2210 seeds/min, 27.0 ms CPU per seed)"));
	ck_assert(!rd_line_matches("chaos: x: 300 seeds in 12.0 s (2 workers, ...)",
				   "chaos: x: 301 seeds in 12.0 s (2 workers, 1498 seeds/min)"));
}
END_TEST

START_TEST(parser_finds_marks_and_rejects_unmarked_sessions)
{
	const char *page = "# t\n\n<!-- checked -->\n```text\n$ build/aureon-sim run scenarios/ping.ini\n"
			   "  result: pass\n```\n\n<!-- checked: scenario -->\n```ini\n[run]\n```\n"
			   "<!-- not checked: needs root -->\n```sh\n$ build/aureon-node\n```\n"
			   "```sh\nmake run\n```\n";
	GString *err = g_string_new(NULL);
	GPtrArray *b = rd_blocks("t.md", page, err);
	ck_assert_msg(err->len == 0, "%s", err->str);
	ck_assert_int_eq(b->len, 3);
	ck_assert_int_eq(((struct rd_block *)b->pdata[0])->kind, RD_SESSION);
	ck_assert_int_eq(((struct rd_block *)b->pdata[0])->line, 4);
	ck_assert_int_eq(((struct rd_block *)b->pdata[1])->kind, RD_SCENARIO);
	ck_assert_int_eq(((struct rd_block *)b->pdata[2])->kind, RD_UNCHECKED);
	g_ptr_array_unref(b);

	/* a session shown without a mark, an unknown mark, an unclosed fence */
	b = rd_blocks("u.md", "```text\n$ build/aureon-sim run x.ini\n```\n", err);
	ck_assert_int_eq(b->len, 0);
	ck_assert_msg(strstr(err->str, "u.md:1: a \"$ ...\" session without"), "%s", err->str);
	g_ptr_array_unref(b);
	g_string_truncate(err, 0);
	b = rd_blocks("v.md", "<!-- checkedd -->\n```\n$ build/aureon-sim\n```\n```\nopen\n", err);
	ck_assert_msg(strstr(err->str, "v.md:1: unknown mark") && strstr(err->str, "v.md:5: fenced block never closed"),
		      "%s", err->str);
	g_ptr_array_unref(b);
	g_string_free(err, TRUE);
}
END_TEST

START_TEST(checked_blocks_refuse_other_commands_and_stale_output)
{
	struct rd_block b = {.file = "w.md", .line = 1, .kind = RD_SESSION};
	b.lines = rd_lines("$ build/aureon-sim run scenarios/ping.ini\n...\n  result: pass\n"
			   "  trace hash: 0000\n");
	GString *why = g_string_new(NULL);
	ck_assert(!rd_check_block(&b, why, FALSE));
	ck_assert_msg(strstr(why->str, "expected line not printed") && strstr(why->str, "trace hash: 0000"),
		      "%s", why->str);
	g_ptr_array_unref(b.lines);
	g_string_truncate(why, 0);
	/* a command whose output is not shown: run, nothing compared */
	b.lines = rd_lines("$ build/aureon-sim run scenarios/ping.ini --records a.txt\n");
	ck_assert_msg(rd_check_block(&b, why, FALSE), "%s", why->str);
	g_ptr_array_unref(b.lines);
	const char *bad[] = {"$ rm -rf /tmp/x\n", "$ build/aureon-sim run scenarios/ping.ini; touch x\n",
			     "$ build/aureon-sim run scenarios/ping.ini > x\n"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_string_truncate(why, 0);
		b.lines = rd_lines(bad[i]);
		ck_assert(!rd_check_block(&b, why, FALSE));
		ck_assert_msg(strstr(why->str, "one plain build/aureon-sim command"), "%s", why->str);
		g_ptr_array_unref(b.lines);
	}
	g_string_truncate(why, 0);
	b.kind = RD_SCENARIO;
	b.lines = rd_lines("[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = ping\n[ping]\nbogus = 1\n");
	ck_assert(!rd_check_block(&b, why, FALSE));
	ck_assert_msg(strstr(why->str, "does not pass"), "%s", why->str);
	g_ptr_array_unref(b.lines);
	g_string_free(why, TRUE);
}
END_TEST

/* Every checked block of README.md and docs/ pages, run and compared. */
START_TEST(documented_outputs_are_current)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(files, g_strdup("README.md"));
	GDir *d = g_dir_open("docs", 0, NULL);
	ck_assert(d);
	const char *n;
	GPtrArray *docs = g_ptr_array_new_with_free_func(g_free);
	while ((n = g_dir_read_name(d)))
		if (g_str_has_suffix(n, ".md"))
			g_ptr_array_add(docs, g_build_filename("docs", n, NULL));
	g_dir_close(d);
	g_ptr_array_sort(docs, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < docs->len; i++)
		g_ptr_array_add(files, g_strdup(docs->pdata[i]));
	g_ptr_array_unref(docs);

	GString *err = g_string_new(NULL);
	int checked_in_readme = 0, checked = 0;
	for (guint f = 0; f < files->len; f++) {
		g_autofree char *text = NULL;
		ck_assert_msg(g_file_get_contents(files->pdata[f], &text, NULL, NULL), "cannot read %s",
			      (char *)files->pdata[f]);
		GPtrArray *blocks = rd_blocks(files->pdata[f], text, err);
		for (guint i = 0; i < blocks->len; i++) {
			const struct rd_block *b = blocks->pdata[i];
			if (b->kind == RD_UNCHECKED)
				continue;
			checked++;
			if (f == 0)
				checked_in_readme++;
			GString *why = g_string_new(NULL);
			if (!rd_check_block(b, why, TRUE))
				g_string_append_printf(err, "%s:%d: %s\n", b->file, b->line, why->str);
			g_string_free(why, TRUE);
		}
		g_ptr_array_unref(blocks);
	}
	g_ptr_array_unref(files);
	if (err->len > 3000) /* Check's messages have a size limit */
		g_string_truncate(err, 3000);
	ck_assert_msg(err->len == 0, "documentation out of date (regenerate the block):\n%s", err->str);
	ck_assert_msg(checked_in_readme >= 1, "README.md has no checked example");
	ck_assert_int_ge(checked, 4);
	g_string_free(err, TRUE);
}
END_TEST

Suite *readme_suite(void)
{
	Suite *s = suite_create("readme");
	TCase *tc = tcase_create("examples");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, matcher_compares_stable_lines);
	tcase_add_test(tc, parser_finds_marks_and_rejects_unmarked_sessions);
	tcase_add_test(tc, checked_blocks_refuse_other_commands_and_stale_output);
	tcase_add_test(tc, documented_outputs_are_current);
	suite_add_tcase(s, tc);
	return s;
}
