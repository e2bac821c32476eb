/* pin.h — reproducers pinned to the build that made them.
 *
 * A reproducer made by a build with a planted bug (AU_BUG_*) passes on a
 * build without it: replayed silently elsewhere, it would claim a bug is
 * gone.  So every reproducer header records the build — its commit (git
 * describe when the binary was built, "unknown" outside git), its flags
 * (the optimisation and EXTRA_CFLAGS, so any -DAU_BUG_*), and the SHA-256
 * of the binary — and `aureon-sim run` compares a file's pin with its own
 * build and warns on stderr when they differ (it still runs the file).
 */
#ifndef AU_CHAOS_PIN_H
#define AU_CHAOS_PIN_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* This build's commit, as git describe said at build time ("unknown"). */
const char *au_pin_commit(void);
/* This build's compiler flags that vary between builds (-O2 -DAU_BUG_...). */
const char *au_pin_flags(void);
/* SHA-256 of this process's binary (/proc/self/exe), hex; "unknown" if it
 * cannot be read.  Computed once. */
const char *au_pin_binary_sha256(void);

/* The header lines that pin a reproducer to this build (no "# "; the
 * caller comments them): "Build commit: ...", "Build flags: ...", "Build
 * binary sha256: ...".  Caller frees. */
char *au_pin_header(void);

/* The pin a scenario text records in its comments, the first of each line
 * (NULL members: not pinned).  Free with au_pin_clear. */
struct au_pin {
	char *commit, *flags, *sha256;
};
void au_pin_read(const char *text, struct au_pin *out);
void au_pin_clear(struct au_pin *p);

/* If `text` is pinned to another build, a warning for stderr naming
 * both builds (and the planted bugs each has); NULL when it is not
 * pinned or pinned to this very build.  Caller frees. */
char *au_pin_mismatch(const char *path, const char *text);

/* A shrunk scenario text made true for its new header: the header of the
 * reproducer it was shrunk from (leading comment lines from "aureon-sim
 * chaos reproducer" or "Shrunk by" to the "Build binary sha256" line:
 * its failure time, trace hash and pin no longer hold) is dropped, and the
 * plan line ("# ---- chaos plan of seed S: N faults ...") says how many
 * are left ("N faults generated, M left after shrinking").  Caller frees. */
char *au_pin_shrunk_text(const char *text, uint32_t faults_left);

#endif
