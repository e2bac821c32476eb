/* ctl_batch.h — aureon-ctl batch and load: many KV operations over one
 * client node (one socket), pipelined with a window of requests in flight.
 *
 *   batch  commands from stdin, one per line, in the command line's syntax
 *          (put K V, get K, del K, cas K EXPECTED NEW; blank lines and
 *          # comments skipped); one result line per command on stdout in
 *          input order.
 *   load   N puts over K keys with C in flight; prints acknowledged
 *          writes/s and latency percentiles.
 *
 * Each slot of the window is its own Raft client session (a random 64-bit
 * id, sequence numbers 1, 2, ...) with at most one request in flight, so
 * the sessions' at-most-once rule (a sequence number at or below the last
 * applied one is never applied again) holds exactly as for a single
 * command.  batch keeps the input's order per key: a command waits until
 * no earlier command on its key is in flight (and, to print in order, the
 * commands after it wait too).  Linearizability is local (per key), so the
 * batch's effect and results are those of running its lines one after the
 * other.  ctl_main.c hands over with ctl_batch_option() and ctl_batch_main().
 */
#ifndef AU_SHIM_CTL_BATCH_H
#define AU_SHIM_CTL_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_WINDOW_MAX 1024u    /* requests in flight at most */
#define CTL_WINDOW_DEFAULT 64u
#define CTL_BATCH_LINES_MAX 10000000u /* lines one batch reads */

/* An option of batch or load at argv[i]: how many arguments it took (2),
 * 0 if not one of them, -1 after printing an error. */
int ctl_batch_option(int argc, char **argv, int i);
/* Whether `cmd` is batch or load. */
bool ctl_batch_handles(const char *cmd);
/* Run it; returns the exit code. */
int ctl_batch_main(const char *config, const char *cmd, int nargs, char **args, int64_t timeout_ns,
		   bool json);
/* The usage lines of batch and load. */
extern const char ctl_batch_usage[];

#endif
