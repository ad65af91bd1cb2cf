# signal-gateway build.
#   make              build/signal-gateway          release (-O2)
#   make san          build/signal-gateway-san      ASan+UBSan: what the integration tests run
#   make tsan         build/signal-gateway-tsan     ThreadSanitizer (scripts/tsan-tests)
#   make fuzz         build/fuzz/fuzz_<target>      libFuzzer+ASan+UBSan, clang (scripts/fuzz)
#   make unit-bins    build/san/tests/test_*, build/tsan/tests/test_metrics (scripts/unit-tests)
#   make unit / test  scripts/unit-tests / scripts/test
# Variables: CC (default cc) builds rel, san and tsan; FUZZ_CC (default clang) builds fuzz.
# WERROR=1 turns warnings into errors: scripts/ pass it (developer and CI builds, one known
# compiler); a plain `make` does not, so a user's newer or other compiler cannot stop it.
# GIT_REV overrides `git rev-parse` (the container build has no .git).
# Third-party code comes only from Debian packages; llhttp's C sources are compiled from
# Debian's node-llhttp (/usr/share/llhttp) into build/, never copied into the tree.

CC      ?= cc
FUZZ_CC ?= clang
PKGS    := libuv libcjson libfyaml nettle hiredis libcurl libssl libcrypto
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
INCLUDES := -iquote src -I/usr/share/include/llhttp $(shell pkg-config --cflags $(PKGS))
WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter $(if $(filter 1,$(WERROR)),-Werror)
LLHTTP_SRC := /usr/share/llhttp/api.c /usr/share/llhttp/http.c /usr/share/llhttp/llhttp.c

SRC     := $(shell find src -name '*.c' | sort)
LIB_SRC := $(filter-out src/main.c,$(SRC))
LUA     := $(sort $(wildcard src/state/scripts/*.lua))

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DEFS    := -DSGW_VERSION='"$(VERSION)"' -DSGW_GIT_REV='"$(GIT_REV)"'

# ---- variants ----------------------------------------------------------------------------
# Each variant of the project's library is one row: where its objects and archives go, the
# compiler, the optimisation and the sanitizers. The sanitizers apply to llhttp too, so that
# they see every byte the parser touches. One set of rules (variant_rules below) builds
# every row; a variant that also links the gateway names the binary in .bin.
VARIANTS := rel san tsan fuzz
rel.dir  := build/rel
rel.cc   := $(CC)
rel.opt  := -O2 -g
rel.san  :=
rel.bin  := build/signal-gateway
san.dir  := build/san
san.cc   := $(CC)
san.opt  := -O1 -g
san.san  := -fsanitize=address,undefined -fno-sanitize-recover=undefined
san.bin  := build/signal-gateway-san
tsan.dir := build/tsan
tsan.cc  := $(CC)
tsan.opt := -O1 -g
tsan.san := -fsanitize=thread
tsan.bin := build/signal-gateway-tsan
# fuzz: coverage instrumentation in every object; the harnesses link with -fsanitize=fuzzer
fuzz.dir := build/fuzz/obj
fuzz.cc  := $(FUZZ_CC)
fuzz.opt := -O1 -g
fuzz.san := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link
fuzz.bin :=

# gcc's -Wformat-truncation flags the snprintf calls that truncate on purpose (bounded
# paths and timestamps); clang has no such option and warns about an unknown one, so it is
# passed only to a compiler that accepts it.
accepts = $(shell $(1) -Werror $(2) -E -x c /dev/null >/dev/null 2>&1 && echo $(2))
# cflags,<variant>: every compile and link of the project's code in that variant. Frame
# pointers in all of them: perf, callgrind and the sanitizers' reports walk the stack.
cflags = -std=gnu17 $(WARN) $($(1).nowarn) -D_GNU_SOURCE $(INCLUDES) $($(1).opt) -fno-omit-frame-pointer $($(1).san)

# Files that embed VERSION or the git revision: rebuilt when VERSION changes or HEAD moves.
EMBED_SRC := $(shell grep -l -E 'SGW_(VERSION|GIT_REV)' $(SRC) /dev/null)
REV_STAMP := build/gen/rev-$(GIT_REV)

define variant_rules
$(1).nowarn := $$(call accepts,$$($(1).cc),-Wno-format-truncation)
$(1).obj := $$(patsubst src/%.c,$$($(1).dir)/%.o,$$(LIB_SRC)) $$($(1).dir)/gen/lua_scripts.o

$$($(1).dir)/%.o: src/%.c
	@mkdir -p $$(dir $$@)
	$$($(1).cc) $$(call cflags,$(1)) $$(DEFS) -MMD -MP -c -o $$@ $$<

$$($(1).dir)/gen/lua_scripts.o: build/gen/lua_scripts.c
	@mkdir -p $$(dir $$@)
	$$($(1).cc) $$(call cflags,$(1)) -c -o $$@ $$<

$$(patsubst src/%.c,$$($(1).dir)/%.o,$$(EMBED_SRC)): $$(REV_STAMP) $$(wildcard VERSION)

$$($(1).dir)/libsgw.a: $$($(1).obj)
	@rm -f $$@
	ar rcs $$@ $$^

# llhttp's warnings are its own, not ours: compiled without the project's warning flags
$$($(1).dir)/libllhttp.a: $$(LLHTTP_SRC)
	@mkdir -p $$($(1).dir)/llhttp
	cd $$($(1).dir)/llhttp && for f in $$(LLHTTP_SRC); do \
	    $$($(1).cc) $$($(1).opt) $$($(1).san) -fPIC -I/usr/share/include/llhttp -c $$$$f || exit 1; done
	@rm -f $$@
	ar rcs $$@ $$($(1).dir)/llhttp/*.o

ifneq ($$($(1).bin),)
$$($(1).bin): $$($(1).dir)/main.o $$($(1).dir)/libsgw.a $$($(1).dir)/libllhttp.a
	$$($(1).cc) $$(call cflags,$(1)) -o $$@ $$^ $$(LIBS)
endif
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

.PHONY: all san tsan fuzz unit-bins unit test clean
all: $(rel.bin)
san: $(san.bin)
tsan: $(tsan.bin)

$(REV_STAMP):
	@mkdir -p $(dir $@) && rm -f build/gen/rev-* && touch $@

# The Redis Lua scripts, embedded in the binary.
build/gen/lua_scripts.c: $(LUA) scripts/embed-lua
	@mkdir -p build/gen
	scripts/embed-lua $(LUA) > $@.tmp && mv $@.tmp $@

# ---- unit tests (tests/unit, cmocka) -------------------------------------------------------
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(san.dir)/tests/%,$(UNIT_SRC))
CMOCKA    = $(shell pkg-config --libs cmocka)

$(san.dir)/tests/%: tests/unit/%.c $(san.dir)/libsgw.a $(san.dir)/libllhttp.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(san.cc) $(call cflags,san) $(DEFS) -Itests/unit -o $@ $< $(san.dir)/libsgw.a $(san.dir)/libllhttp.a $(LIBS) $(CMOCKA)

# The metrics shards are the one structure the worker threads share by design: their unit
# test also runs under ThreadSanitizer, linked with just the objects it needs.
TSAN_METRICS := $(tsan.dir)/tests/test_metrics
TSAN_METRICS_OBJ := $(addprefix $(tsan.dir)/,metrics.o util/strmap.o util/xalloc.o util/hash.o)
$(TSAN_METRICS): tests/unit/test_metrics.c $(TSAN_METRICS_OBJ) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(tsan.cc) $(call cflags,tsan) -Itests/unit -o $@ $< $(TSAN_METRICS_OBJ) $(CMOCKA) $(LIBS)

unit-bins: $(UNIT_BIN) $(TSAN_METRICS)

unit:
	scripts/unit-tests

test:
	scripts/test

clean:
	rm -rf build

# ---- fuzzing (tests/fuzz, docs/fuzzing.md) -------------------------------------------------
# `make fuzz` → build/fuzz/fuzz_<target>; scripts/fuzz runs them. A harness links only the
# archive members it calls, so no target pulls in the Redis store.
FUZZ_TARGETS := prometheus grafana k8s_event config http kubeconfig decide_reply cloudevents mapped pagerduty traceparent tzif
FUZZ_BIN     := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
fuzz: $(FUZZ_BIN)

# the YAML targets count libfyaml documents (tests/fuzz/fuzz_yaml.h)
build/fuzz/fuzz_config build/fuzz/fuzz_kubeconfig: FUZZ_LDEXTRA := -Wl,--wrap=fy_document_build_from_file -Wl,--wrap=fy_document_destroy
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_yaml.h $(fuzz.dir)/libsgw.a $(fuzz.dir)/libllhttp.a
	$(fuzz.cc) $(call cflags,fuzz) -fsanitize=fuzzer $(DEFS) -Itests/fuzz -o $@ $< \
	    $(fuzz.dir)/libsgw.a $(fuzz.dir)/libllhttp.a $(LIBS) $(FUZZ_LDEXTRA)

-include $(shell find build -name '*.d' 2>/dev/null)
