/* ctl_ops.h — aureon-ctl's operator commands: member add/remove/transfer,
 * lock acquire/release, wait-leader and del (batch and load: ctl_batch.h).  ctl_main.c
 * hands them over with two calls: ctl_ops_option() for their options and
 * ctl_ops_main() for the command. */
#ifndef AU_SHIM_CTL_OPS_H
#define AU_SHIM_CTL_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* An option of these commands at argv[i] (value, if any, at argv[i + 1]):
 * returns how many arguments it took (1 or 2), 0 if it is not one of
 * them, -1 after printing an error (bad value). */
int ctl_ops_option(int argc, char **argv, int i);
/* Whether `cmd` is one of these commands. */
bool ctl_ops_handles(const char *cmd);
/* Run one of them; returns the exit code. */
int ctl_ops_main(const char *config, const char *cmd, int nargs, char **args, int64_t timeout_ns,
		 bool json);
/* The usage lines of these commands. */
extern const char ctl_ops_usage[];

#endif
