/* cli.h — what aureon-sim's command line (main.c) and the test runner set
 * up before anything loads a scenario or runs one: the modules that read
 * scenario groups and judge runs, registered with the loader and the
 * engine.
 */
#ifndef AU_CLI_H
#define AU_CLI_H

/* Register [check] and the checkers, [trace], and [chaos], in that order
 * (the order the loader reads their groups and names them in messages). */
void au_cli_register(void);

/* `aureon-sim list checks|kinds|services` (argv after "list"): names and
 * one-line descriptions from the registries; the exit code. */
int au_cli_list(int argc, char **argv);
/* `aureon-sim lint SCENARIO`: load and validate, then print warnings;
 * exit 0 clean, 1 warnings, 2 errors. */
int au_cli_lint(int argc, char **argv);

#endif
