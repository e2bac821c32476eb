/* test_analysis.c — runs the Python analysis toolkit's own tests
 * (tests/test_analysis.py, unittest) with Debian's python3, so they count
 * in the same Check summary as everything else. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "tests.h"

START_TEST(python_analysis_suite)
{
	g_autofree char *cmd = g_strdup_printf(
		"AU_BIN=%s /usr/bin/python3 tests/test_analysis.py 2>&1", au_test_bin());
	char *out = NULL;
	int rc = au_test_run(cmd, &out);
	if (rc != 0)
		fprintf(stderr, "%s\n", out);
	ck_assert_msg(rc == 0, "tests/test_analysis.py failed (exit %d); its output is above", rc);
	ck_assert_msg(strstr(out, "OK"), "no unittest OK line:\n%s", out);
	g_free(out);
}
END_TEST

Suite *analysis_suite(void)
{
	Suite *s = suite_create("analysis");
	TCase *tc = tcase_create("python");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, python_analysis_suite);
	suite_add_tcase(s, tc);
	return s;
}
