# Haven: build, test, run.  See README.md.
VERSION	?= 0.1.0
BUILD	?= build
BIN	 = $(BUILD)/bin

PKGS	 = libevent libevent_openssl openssl libmariadb libvirt libssh2 \
	   jansson libcurl libxml-2.0 libzstd libxxhash
CC	?= cc
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2 -Werror
CFLAGS	?= -O2 -g
SAN	?=
ALL_CFLAGS = $(CFLAGS) $(SAN) $(WARN) -std=gnu11 -D_GNU_SOURCE \
	   -DHAVEN_VERSION='"$(VERSION)"' -Isrc/common -Isrc/havend \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt -lm
LDFLAGS	?=

COMMON_SRC = $(wildcard src/common/*.c)
HAVEND_SRC = $(filter-out src/havend/havend.c,$(wildcard src/havend/*.c))
WWW_FILES  = $(sort $(wildcard src/www/*))
SQL_FILES  = $(sort $(wildcard sql/*.sql))
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
HAVEND_OBJ = $(HAVEND_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/www.o \
	     $(BUILD)/gen/sql.o
CTL_OBJ	   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/ctl/*.c))
AGENT_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/agent/*.c))
SETUP_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/setup/*.c))
FB_OBJ	   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard firstboot/*.c))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Needs a MariaDB server: tests/integration/db.t starts one and runs it.
UNIT_DB	   = $(BUILD)/tests/test_db_ops
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
# Small C programs the tests drive (data-channel client, ...).
TOOL_SRC   = $(wildcard tests/lib/*.c)
TOOL_BIN   = $(TOOL_SRC:tests/lib/%.c=$(BUILD)/tools/%)

PROGS	 = $(BIN)/havend $(BIN)/havenctl $(BIN)/haven-agent
PROGS	+= $(if $(SETUP_OBJ),$(BIN)/haven-setup)
PROGS	+= $(if $(FB_OBJ),$(BIN)/haven-firstboot)

.PHONY: all deps check check-fast unit integration e2e asan run bench clean fuzz \
	agent-package image ova image-check
all: $(PROGS) $(UNIT_BIN) $(TOOL_BIN)

Q	 = $(if $(V),,@)
$(BUILD)/%.o: %.c $(wildcard src/common/*.h src/havend/*.h src/agent/*.h src/ctl/*.h firstboot/*.h)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The admin UI's static files are compiled into havend.
$(BUILD)/gen/www.c: $(WWW_FILES) tests/lib/embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh tests/lib/embed.sh $(WWW_FILES) > $@
$(BUILD)/gen/www.o: $(BUILD)/gen/www.c
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# So are the schema migrations (sql/NNN_name.sql, in name order).
$(BUILD)/gen/sql.c: $(SQL_FILES) tests/lib/embed-sql.sh
	@mkdir -p $(dir $@)
	$(Q)sh tests/lib/embed-sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/sql.o: $(BUILD)/gen/sql.c src/havend/sqlfiles.h
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	$(Q)rm -f $@; ar rcs $@ $^
$(BUILD)/libhavend.a: $(HAVEND_OBJ)
	$(Q)rm -f $@; ar rcs $@ $^

$(BIN)/havend: $(BUILD)/src/havend/havend.o $(BUILD)/libhavend.a $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/havenctl: $(CTL_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/haven-agent: $(AGENT_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
AGENT_PKG  = $(BUILD)/agent/haven-agent-$(VERSION)
agent-package: $(AGENT_PKG).tar.gz
$(AGENT_PKG).tar.gz: $(AGENT_OBJ) $(BUILD)/libcommon.a packaging/install.sh \
	    packaging/haven-agent.service packaging/haven-agent-replicate.service \
	    packaging/haven-agent.init
	@rm -rf $(AGENT_PKG) && mkdir -p $(AGENT_PKG)
	@$(if $(V),,echo "  PKG     $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -Wl,--as-needed \
	    -o $(AGENT_PKG)/haven-agent $(AGENT_OBJ) $(BUILD)/libcommon.a $(LIBS)
	$(Q)install -m 0755 packaging/install.sh $(AGENT_PKG)/install.sh
	$(Q)install -m 0644 packaging/haven-agent.service \
	    packaging/haven-agent-replicate.service $(AGENT_PKG)/
	$(Q)install -m 0755 packaging/haven-agent.init $(AGENT_PKG)/
	$(Q)echo $(VERSION) > $(AGENT_PKG)/VERSION
	$(Q)tar -C $(BUILD)/agent --owner=0 --group=0 -czf $@.tmp \
	    haven-agent-$(VERSION) && mv $@.tmp $@

# Linked with havend's code: migrations, PKI and accounts are made by it.
$(BIN)/haven-setup: $(SETUP_OBJ) $(BUILD)/libhavend.a $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/haven-firstboot: $(FB_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS) -lnewt

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libhavend.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ \
	    $(filter-out src/%,$^) -lcmocka $(LIBS)
# The agent's unit tests compile its sources in: rebuild when they change.
$(BUILD)/tests/test_blockmap: src/agent/blockmap.c src/agent/blockmap.h
$(BUILD)/tests/test_snapshot: src/agent/snapshot.c src/agent/snapshot.h
# haven-firstboot's validators, SNTP client and shadow edit are linked in.
$(BUILD)/tests/test_firstboot: firstboot/fb_check.c firstboot/sntp.c \
    firstboot/fb_shadow.c

$(BUILD)/tools/%: tests/lib/%.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LIBS)

deps:
	@sh tests/lib/deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(filter-out $(UNIT_DB),$(UNIT_BIN)); do \
	    echo "# $$t"; $$t; done

integration: $(PROGS) $(TOOL_BIN) agent-package
	HAVEN_BIN=$(abspath $(BIN)) HAVEN_TOOLS=$(abspath $(BUILD)/tools) \
	    HAVEN_TESTS=$(abspath $(BUILD)/tests) \
	    HAVEN_AGENT_PKG=$(abspath $(AGENT_PKG).tar.gz) prove -j2 tests/integration/*.t

check-fast: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

# The browser tests: Debian's chromium drives the admin UI.
e2e: $(PROGS) agent-package
	HAVEN_BIN=$(abspath $(BIN)) \
	    HAVEN_AGENT_PKG=$(abspath $(AGENT_PKG).tar.gz) \
	    HAVEN_E2E_SHOTS=$(abspath $(BUILD))/e2e-screenshots \
	    bash tests/e2e/run.sh

check: check-fast
	$(MAKE) fuzz FUZZ_TIME=15
	$(MAKE) e2e
	$(MAKE) image-check

# The appliance: a bootable Debian 12 disk (image/), packed as an OVF/OVA
# (ovf/), checked by booting it under qemu and importing it into the
# vSphere simulator (tests/image/).
IMAGE	 = $(BUILD)/image/haven-$(VERSION).raw
OVA	 = $(BUILD)/ova/haven-$(VERSION).ova
image: $(PROGS) agent-package
	bash image/build.sh $(abspath $(BIN)) $(abspath $(AGENT_PKG).tar.gz) \
	    $(abspath $(IMAGE)) $(VERSION)
ova: image
	bash ovf/build.sh $(abspath $(IMAGE)) $(abspath $(OVA)) $(VERSION)
image-check: ova $(TOOL_BIN)
	HAVEN_BIN=$(abspath $(BIN)) HAVEN_TOOLS=$(abspath $(BUILD)/tools) \
	    HAVEN_IMAGE=$(abspath $(IMAGE)) HAVEN_OVA=$(abspath $(OVA)) \
	    HAVEN_VERSION=$(VERSION) prove tests/image/*.t

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined \
	    -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    CFLAGS="-O1 -g" check-fast

# Coverage-guided fuzzing of the parsers that face untrusted bytes, with
# libFuzzer (clang).  FUZZ_TIME seconds per target; crashes fail the run.
FUZZ_TIME ?= 20
FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined -g -O1 -std=gnu11 \
	   -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	   -DHAVEN_VERSION='"$(VERSION)"' -Isrc/common -Isrc/havend \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_DEPS = src/common/frame.c src/common/dataproto.c src/common/util.c \
	   src/common/log.c src/common/config.c src/havend/conf.c
fuzz: deps
	@mkdir -p $(BUILD)/fuzz
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	    c=tests/fuzz/corpus/$${n#fuzz_}; mkdir -p $(BUILD)/fuzz/$$n $$c; \
	    echo "  FUZZ    $$n ($(FUZZ_TIME) s)"; \
	    clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/$$n.bin $$f \
	        $(FUZZ_DEPS) \
	        $(LIBS); \
	    $(BUILD)/fuzz/$$n.bin -max_total_time=$(FUZZ_TIME) -seed=1 \
	        -print_final_stats=0 $(BUILD)/fuzz/$$n $$c \
	        >$(BUILD)/fuzz/$$n.log 2>&1 || { tail -n 40 \
	        $(BUILD)/fuzz/$$n.log; exit 1; }; \
	    grep -E "^Done [0-9]+ runs" $(BUILD)/fuzz/$$n.log || true; done

run: deps all
	@sh tests/lib/run.sh $(abspath $(BIN))

bench: deps all
	@set -e; for b in tests/bench/*.sh; do [ -e "$$b" ] || continue; \
	    HAVEN_BIN=$(abspath $(BIN)) $$b; done

clean:
	rm -rf build build-asan
