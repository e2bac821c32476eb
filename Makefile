# Aureon — build, test, bench.  `make help` lists the targets.
#
# Libraries, from the ground up (each needs only those before it):
#   libaureon-core.a    core/: env.h, wire codecs, hashes, SHA-256, PCG32, distributions
#   libaureon-models.a  models/: the node logic (sans-I/O, talks only to env.h)
#   libaureon-config.a  config/: value parsers, model key tables, the model registry
#   libaureon-sim.a     sim/ but its main: engine, scenario loader, checks, chaos
# aureon-sim  = sim/cli/main.c + bench/ + sim + config + models + core (+ HDF5)
# aureon-node = shim/ + config + models + core: no engine, no HDF5.
# The same model objects link into both: that is what lets node logic
# tested in simulation run on real hosts unchanged.

CC       ?= gcc
OPT      ?= -O2
CFLAGS_BASE = -std=c11 -Wall -Wextra -Werror -g -ffp-contract=off -D_GNU_SOURCE
# Headers of core/ are named bare ("env.h"), those of models/ by their path
# under models/ ("kv.h", "raft/raft.h"), so model sources name their
# neighbours the same way wherever they live; every other header by its
# path from the top ("sim/engine/sim.h").
CPPFLAGS = -I. -Icore -Imodels
# -MMD -MP: each object lists the headers it really includes (build/*.d),
# so a header edit rebuilds only what includes it.
DEPFLAGS = -MMD -MP
PKGS     = glib-2.0 hdf5 check
# pkg-config runs on first use, not when the Makefile is read: on a fresh
# machine `deps` installs the packages first (it is an order-only
# prerequisite of every compile and link), so `:=` here would have asked
# pkg-config before anything was installed.  `lazy` caches the answer.
lazy = $(eval $1 := $(shell $2))$($1)
PKG_CFLAGS = $(call lazy,PKG_CFLAGS,pkg-config --cflags $(PKGS) 2>/dev/null)
GLIB_LIBS  = $(call lazy,GLIB_LIBS,pkg-config --libs glib-2.0 2>/dev/null)
PKG_LIBS   = $(call lazy,PKG_LIBS,pkg-config --libs glib-2.0 hdf5 2>/dev/null) -lhdf5_hl
CHECK_LIBS = $(call lazy,CHECK_LIBS,pkg-config --libs check 2>/dev/null)
BUILD   ?= build
CFLAGS   = $(CFLAGS_BASE) $(OPT) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   = $(PKG_LIBS) -lm
PREFIX  ?= /usr/local

CORE_SRC  = core/pcg32.c core/wire.c core/crc32c.c core/dist.c core/hash.c core/reclog.c core/sha256.c
# models/raft/: the Raft model, one file per concern (raft_internal.h)
RAFT_SRC  = $(addprefix models/raft/,storage.c log.c recpool.c chain.c machines.c snapshot.c election.c replication.c \
              handlers.c boot.c api.c)
MODEL_SRC = models/ping.c models/phold.c $(RAFT_SRC) models/kv.c \
            models/swim.c models/swim_protocol.c models/swim_model.c \
            models/kernels.c models/kernel_input.c models/one.c models/blob.c \
            models/rqml.c models/rqml_machine.c models/rqml_supervisor.c models/rqml_executor.c models/rqml_model.c
# the execution layer (issue 6)
MODEL_SRC += models/taskq.c models/taskq_store.c models/taskq_batch.c models/taskq_snapshot.c models/taskq_jobs.c models/lock.c \
             $(addprefix models/orchestrator/,model.c frontend.c worker.c lockclient.c jobs.c)
CONFIG_SRC = config/values.c config/keys.c config/registry.c config/cluster_spec.c
# sim/: the engine (events, nodes, network, disks, faults, trace writer),
# the scenario loader, the checks, chaos, and the command line.
ENGINE_SRC   = $(addprefix sim/engine/,evq.c sim.c drive.c shared.c net.c disk.c dist.c fault.c trace_h5.c)
SCENARIO_SRC = sim/scenario/scenario.c
CHECK_SRC    = $(addprefix sim/check/,check.c check_lin.c check_scenario.c check_raft.c check_swim.c check_rqml.c \
                 check_replicas.c check_exec.c check_jobs.c check_results.c linearize.c)
CHAOS_SRC    = $(addprefix sim/chaos/,kinds.c gen.c plan.c orders.c render.c chaos_config.c chaos_ini.c \
                 coverage.c worker.c sweep.c report.c chaos_shrink.c pin.c store.c)
SIM_SRC   = $(ENGINE_SRC) $(SCENARIO_SRC) $(CHECK_SRC) $(CHAOS_SRC) sim/report/report.c sim/report/violation.c \
            sim/cli/cli.c sim/cli/lint.c sim/replay/reclog_read.c sim/replay/replay.c sim/replay/merge.c sim/replay/to_scenario.c sim/replay/clocks.c
SIM_MAIN  = sim/cli/main.c
# aureon-sim bench subcommands
BENCH_SRC = $(addprefix bench/,bench_raft.c bench_election.c bench_kernels.c bench_swim.c bench_exec.c bench_stack.c)
TEST_SRC  = $(wildcard tests/test_*.c) tests/scenario_runs.c tests/fixture.c tests/shim_cluster.c tests/taskq_fix.c
# shim/: aureon-node and aureon-ctl.  SHIM_SRC is what both (and the tests)
# share.
SHIM_SRC  = shim/packet.c shim/cluster.c shim/ctlproto.c shim/node.c shim/node_timers.c shim/node_storage.c \
            shim/node_net.c shim/node_metrics.c shim/execctl.c shim/opsctl.c shim/jobfile.c shim/jobctl.c shim/modelview.c \
            shim/identity.c shim/record.c
SHIM_PKGS = gio-2.0 gio-unix-2.0 libsoup-3.0 libsodium
SHIM_CFLAGS = $(call lazy,SHIM_CFLAGS,pkg-config --cflags $(SHIM_PKGS) 2>/dev/null)
SHIM_LIBS   = $(call lazy,SHIM_LIBS,pkg-config --libs $(SHIM_PKGS) 2>/dev/null)

obj = $(patsubst %.c,$(BUILD)/%.o,$1)
CORE_LIB   = $(BUILD)/libaureon-core.a
MODELS_LIB = $(BUILD)/libaureon-models.a
CONFIG_LIB = $(BUILD)/libaureon-config.a
SIM_LIB    = $(BUILD)/libaureon-sim.a
SHIM_OBJ   = $(call obj,$(SHIM_SRC))
BENCH_OBJ  = $(call obj,$(BENCH_SRC))
TEST_OBJ   = $(call obj,$(TEST_SRC))
# Link order: a library before those it uses.
NODE_LIBS  = $(CONFIG_LIB) $(MODELS_LIB) $(CORE_LIB)
SIM_LIBS   = $(SIM_LIB) $(NODE_LIBS)
# aureon-ctl's own files (the command line, its client node, the commands).
CTL_SRC    = shim/ctl_main.c shim/ctl_client.c shim/ctl_ops.c shim/ctl_jobs.c shim/ctl_results.c shim/ctl_batch.c
ALL_OBJ    = $(call obj,$(CORE_SRC) $(MODEL_SRC) $(CONFIG_SRC) $(SIM_SRC) $(SIM_MAIN) $(BENCH_SRC) \
             $(TEST_SRC) $(SHIM_SRC) shim/node_main.c shim/http.c $(CTL_SRC) shim/fuzz_recv.c)

DEBIAN_PKGS = build-essential pkg-config libglib2.0-dev libhdf5-dev check libsubunit-dev \
              python3-h5py python3-numpy python3-matplotlib python3-pandas hdf5-tools libsoup-3.0-dev \
              libsodium-dev

.PHONY: all deps test test-all asan valgrind bench bench-ctl install clean help run mutants \
        fuzz test-netns test-disk test-fresh chaos soak test-timeline docs-figures test-replay-bug

all: $(BUILD)/aureon-sim $(BUILD)/aureon-node $(BUILD)/aureon-ctl

help:
	@echo "make            build build/aureon-sim, build/aureon-node, build/aureon-ctl"
	@echo "make deps       install missing Debian packages (apt-get; needs root)"
	@echo "make run        build and run the default scenario (scenarios/default.ini: the whole stack)"
	@echo "make test       build and run the Check suites (fast; skips tests tagged slow)"
	@echo "make test-all   every test, slow ones included"
	@echo "make asan       ASan+UBSan build in build-asan/ and its tests"
	@echo "make valgrind   the test suites under valgrind"
	@echo "make bench      PHOLD vs a bare heap, trace overhead, Raft endurance and sweep timing"
	@echo "make bench-ctl  aureon-ctl load and batch on a 3-node loopback cluster: acknowledged writes/s"
	@echo "make mutants    build each planted bug and show a check catches it"
	@echo "make chaos      seeded chaos sweep: 10,000 seeds of scenarios/chaos-raft.ini"
	@echo "make soak       10,000 seeds of every standard chaos scenario; 0 failures to pass"
	@echo "make docs-figures  redraw the report figures in docs/ (analysis/doc_figures)"
	@echo "make fuzz       libFuzzer on aureon-node's receive path (FUZZ_SECONDS, default 60)"
	@echo "make test-netns 5 aureon-nodes in network namespaces with tc netem (root)"
	@echo "make test-disk  the full-disk story on 3 aureon-nodes with tmpfs data dirs (root; also in make test)"
	@echo "make test-replay-bug  that story recorded and replayed, clean and with a planted bug (root; also in make test)"
	@echo "make test-timeline  planted-bug sweep to a store dir; its timeline.html checked in headless Chromium"
	@echo "make test-fresh make run / make test on a fresh debootstrapped Debian 12, both orders (root)"
	@echo "make install PREFIX=/usr/local   install aureon-sim and the scenarios"
	@echo "make clean      remove build outputs"

# Install whatever Debian packages are missing.  Quiet when all are present.
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "aureon: missing Debian packages:$$missing"; \
	    echo "aureon: run as root, or: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "aureon: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	    || { echo "aureon: apt-get install failed"; exit 1; }; \
	fi

# An object without its .d file (built before -MMD, or the .d lost) is
# rebuilt: the .d is a prerequisite that an empty rule "makes" when it is
# missing, so a build directory from an older Makefile cannot keep objects
# compiled against headers that have since changed.
$(BUILD)/%.o: %.c $(BUILD)/%.d | deps
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/%.d: ;
.PRECIOUS: $(BUILD)/%.d

-include $(ALL_OBJ:.o=.d)

# shim/ and its tests include GIO and libsoup headers.
$(BUILD)/shim/%.o $(BUILD)/tests/test_shim.o $(BUILD)/tests/test_shim_ops.o $(BUILD)/tests/test_shim_jobs.o \
  $(BUILD)/tests/test_shim_peers.o $(BUILD)/tests/test_shim_batch.o \
  $(BUILD)/tests/test_identity.o $(BUILD)/tests/test_shim_ident.o $(BUILD)/tests/test_shim_e2e.o \
  $(BUILD)/tests/shim_cluster.o: CFLAGS += $(SHIM_CFLAGS)

$(CORE_LIB): $(call obj,$(CORE_SRC))
$(MODELS_LIB): $(call obj,$(MODEL_SRC))
$(CONFIG_LIB): $(call obj,$(CONFIG_SRC))
$(SIM_LIB): $(call obj,$(SIM_SRC))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	@echo "  AR    $@"
	@rm -f $@ && ar rcs $@ $^

# aureon-node and aureon-ctl: no engine, no HDF5.
$(BUILD)/aureon-node: $(BUILD)/shim/node_main.o $(BUILD)/shim/http.o $(SHIM_OBJ) $(NODE_LIBS)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(SHIM_LIBS) $(GLIB_LIBS) -lm

$(BUILD)/aureon-ctl: $(call obj,$(CTL_SRC)) $(SHIM_OBJ) $(NODE_LIBS)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(SHIM_LIBS) $(GLIB_LIBS) -lm

$(BUILD)/aureon-sim: $(call obj,$(SIM_MAIN)) $(BENCH_OBJ) $(SIM_LIBS)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/aureon-tests: $(TEST_OBJ) $(SHIM_OBJ) $(SIM_LIBS)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(CHECK_LIBS) $(SHIM_LIBS) $(LDLIBS)

$(BUILD)/phold_min: bench/phold_min.c core/pcg32.c core/pcg32.h core/hash.h | deps
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -Icore -o $@ bench/phold_min.c core/pcg32.c -lm

# Reproducers record the build that made them (sim/chaos/pin.c): the
# commit (git describe; "unknown" outside git) and the flags that vary
# between builds (OPT, EXTRA_CFLAGS: any -DAU_BUG_*).  The stamp file
# changes when they do, so pin.o is rebuilt then and only then.
BUILD_COMMIT = $(call lazy,BUILD_COMMIT,git describe --always --dirty --tags 2>/dev/null || echo unknown)
BUILD_FLAGS  = $(strip $(OPT) $(EXTRA_CFLAGS))
$(BUILD)/build-info.stamp: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n%s\n' '$(BUILD_COMMIT)' '$(BUILD_FLAGS)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/sim/chaos/pin.o: $(BUILD)/build-info.stamp
$(BUILD)/sim/chaos/pin.o: CFLAGS += -DAU_BUILD_COMMIT='"$(BUILD_COMMIT)"' -DAU_BUILD_FLAGS='"$(BUILD_FLAGS)"'
# The store (sim/chaos/store.c) runs the Python tools of this tree.
$(BUILD)/sim/chaos/store.o: CFLAGS += -DAU_ANALYSIS_DIR='"$(CURDIR)/analysis"'
.PHONY: FORCE
FORCE:

run: deps $(BUILD)/aureon-sim
	$(BUILD)/aureon-sim run scenarios/default.ini

# Tests run from the repo root; AU_BIN lets them find the binaries.
# build-O0/aureon-sim lets the determinism test compare hashes across
# optimisation levels.
.PHONY: o0
o0:
	@$(MAKE) --no-print-directory BUILD=build-O0 OPT=-O0 build-O0/aureon-sim

# The planted bug IGNORE_STORAGE_ERROR built into aureon-node, aureon-ctl
# and aureon-sim (build-bug/), for the hosts-versus-replay comparison.
.PHONY: bugbuild
bugbuild:
	@$(MAKE) --no-print-directory BUILD=build-bug EXTRA_CFLAGS=-DAU_BUG_IGNORE_STORAGE_ERROR \
	  build-bug/aureon-node build-bug/aureon-ctl build-bug/aureon-sim

# The Check suites, then (as root) the full-disk story on real processes,
# recorded and replayed, with the clean build and with a planted bug
# (tests/shim_replay_bug.sh runs tests/shim_disk_full.sh twice); both exit
# 2 where they cannot run (not root, no tmpfs).
test: deps $(BUILD)/aureon-tests $(BUILD)/aureon-sim $(BUILD)/aureon-node $(BUILD)/aureon-ctl o0
	CK_EXCLUDE_TAGS=slow AU_BIN=$(BUILD) AU_BIN_O0=build-O0 $(BUILD)/aureon-tests
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory bugbuild; fi
	@AU_BIN=$(BUILD) AU_BUG_BIN=build-bug tests/shim_replay_bug.sh; rc=$$?; [ $$rc = 0 ] || [ $$rc = 2 ]

# Issue 18's planted-bug comparison alone (root: tmpfs mounts).
test-replay-bug: deps $(BUILD)/aureon-sim $(BUILD)/aureon-node $(BUILD)/aureon-ctl bugbuild
	AU_BIN=$(BUILD) AU_BUG_BIN=build-bug tests/shim_replay_bug.sh

# From a planted-bug sweep to a store directory; its timeline.html opened
# in headless Chromium (installed here if missing) and the screenshot
# checked for the highlighted window (tests/test_timeline.sh).
test-timeline: deps $(BUILD)/aureon-sim
	@command -v chromium >/dev/null || $(MAKE) --no-print-directory deps DEBIAN_PKGS=chromium
	tests/test_timeline.sh

# The README's two commands on a fresh Debian 12 root made by debootstrap,
# in both orders (root; ~15 minutes; needs the Debian mirror).
test-fresh:
	tests/fresh_machine.sh

# The full-disk story alone (root: tmpfs mounts).
test-disk: deps $(BUILD)/aureon-node $(BUILD)/aureon-ctl
	AU_BIN=$(BUILD) tests/shim_disk_full.sh

test-all: deps $(BUILD)/aureon-tests $(BUILD)/aureon-sim $(BUILD)/aureon-node $(BUILD)/aureon-ctl o0
	AU_BIN=$(BUILD) AU_BIN_O0=build-O0 $(BUILD)/aureon-tests
	@AU_BIN=$(BUILD) tests/shim_disk_full.sh; rc=$$?; [ $$rc = 0 ] || [ $$rc = 2 ]

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build-asan/aureon-tests build-asan/aureon-sim build-asan/aureon-node build-asan/aureon-ctl
	CK_FORK=no CK_EXCLUDE_TAGS=slow AU_BIN=build-asan ASAN_OPTIONS=detect_leaks=1 build-asan/aureon-tests

valgrind: deps $(BUILD)/aureon-tests $(BUILD)/aureon-sim
	CK_FORK=no CK_EXCLUDE_TAGS=slow AU_BIN=$(BUILD) AU_VALGRIND=1 valgrind --error-exitcode=9 \
	  --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/aureon-tests

# libFuzzer on aureon-node's receive path (shim/fuzz_recv.c), for
# FUZZ_SECONDS; the corpus stays in build-fuzz/corpus between runs.
# AU_FUZZ_MODELS=1 also feeds authentic, checksummed bytes to the models'
# decoders (what a key holder could send; see shim/fuzz_recv.c).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
$(BUILD)/fuzz_recv: $(BUILD)/shim/fuzz_recv.o $(SHIM_OBJ) $(NODE_LIBS)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(SHIM_LIBS) $(GLIB_LIBS) -lm

fuzz: deps
	@command -v $(FUZZ_CC) >/dev/null || $(MAKE) --no-print-directory deps DEBIAN_PKGS=clang
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) \
	  OPT="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  build-fuzz/fuzz_recv
	@mkdir -p build-fuzz/corpus
	ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz_recv -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 build-fuzz/corpus

# Five nodes in network namespaces with tc netem delay and loss (root).
test-netns: deps $(BUILD)/aureon-node $(BUILD)/aureon-ctl
	AU_BIN=$(BUILD) tests/shim_netns.sh

# Build every planted-bug variant (AU_BUG_*) and run its scenarios until a
# check fails: proof that the checkers are not vacuous.
mutants: deps
	tests/mutants.sh

# Seeded chaos sweep (docs/chaos.md).  CHAOS_SEEDS, CHAOS_JOBS and
# CHAOS_SCENARIO override; reproducers, junit.xml and chaos.tap land in
# build/chaos/.  make exits 2 whenever a recipe fails, so it cannot tell a
# failing seed (the sweep's 1) from a usage error (2): the sweep's own code
# goes to build/chaos/exit-code, and .ci/chaos (for CI) exits with it.
CHAOS_SEEDS    ?= 1-10000
CHAOS_JOBS     ?= 2
CHAOS_SCENARIO ?= scenarios/chaos-raft.ini
chaos: deps $(BUILD)/aureon-sim
	@mkdir -p $(BUILD)/chaos && rm -f $(BUILD)/chaos/exit-code
	@echo "$(BUILD)/aureon-sim chaos $(CHAOS_SCENARIO) --seeds $(CHAOS_SEEDS) --jobs $(CHAOS_JOBS) ..."
	@$(BUILD)/aureon-sim chaos $(CHAOS_SCENARIO) --seeds $(CHAOS_SEEDS) --jobs $(CHAOS_JOBS) \
	  --check-determinism --out $(BUILD)/chaos --junit $(BUILD)/chaos/junit.xml \
	  --tap $(BUILD)/chaos/chaos.tap; rc=$$?; echo $$rc > $(BUILD)/chaos/exit-code; \
	if [ $$rc != 0 ]; then echo "make chaos: aureon-sim chaos exited $$rc (1: a seed failed or a" \
	  "re-run differed; 2: usage, scenario or I/O error), saved in $(BUILD)/chaos/exit-code;" \
	  "make exits 2 either way: CI runs .ci/chaos, which exits with the sweep's code"; fi; exit $$rc

# 10,000 seeds of every standard chaos scenario on a clean build; 0 failures
# to pass (SOAK_SEEDS=500 for a quick one).  Results: bench/RESULTS.md.
# The figures of docs/ that analysis/report draws, redrawn from their
# scenarios with today's simulator and plots.
docs-figures: deps $(BUILD)/aureon-sim
	analysis/doc_figures $(BUILD)

soak: deps $(BUILD)/aureon-sim
	BUILD=$(BUILD) tests/soak.sh

bench: deps $(BUILD)/aureon-sim $(BUILD)/phold_min
	bench/run.sh $(BUILD)

# aureon-ctl's acknowledged writes/s on 3 loopback aureon-nodes: the
# per-process baseline, load and batch (issue 16).  Results: bench/RESULTS.md.
bench-ctl: deps $(BUILD)/aureon-node $(BUILD)/aureon-ctl
	bench/ctl_load.sh $(BUILD)

install: $(BUILD)/aureon-sim $(BUILD)/aureon-node $(BUILD)/aureon-ctl
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/aureon/scenarios
	install -m 755 $(BUILD)/aureon-sim $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/aureon-node $(BUILD)/aureon-ctl $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/aureon/examples
	install -m 644 shim/examples/local-3.ini shim/examples/pagerank-job.ini shim/examples/aureon-node@.service $(DESTDIR)$(PREFIX)/share/aureon/examples/
	install -m 644 scenarios/*.ini $(DESTDIR)$(PREFIX)/share/aureon/scenarios/

clean:
	rm -rf build build-asan build-O0 build-bug build-mut-* build-fuzz
