# signal-gateway build.  `make` → build/signal-gateway (release, -O2).
# `make test` → every test suite (scripts/test).  `make unit` → unit tests under ASan+UBSan.
# Third-party code comes only from Debian packages; llhttp's C sources are compiled from
# Debian's node-llhttp (/usr/share/llhttp) into build/, never copied into the tree.

CC      ?= cc
PKGS    := libuv libcjson libfyaml libcrypto nettle hiredis libcurl
CFLAGS_BASE := -std=gnu17 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation \
               -D_GNU_SOURCE -iquote src -I/usr/share/include/llhttp $(shell pkg-config --cflags $(PKGS))
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
LLHTTP_SRC := /usr/share/llhttp/api.c /usr/share/llhttp/http.c /usr/share/llhttp/llhttp.c

SRC  := $(shell find src -name '*.c' | sort)
LIB_SRC := $(filter-out src/main.c,$(SRC))
LUA  := $(sort $(wildcard src/state/scripts/*.lua))

# Release build
REL      := build/rel
REL_CFLAGS := $(CFLAGS_BASE) -O2 -g -fno-omit-frame-pointer
REL_OBJ  := $(patsubst src/%.c,$(REL)/%.o,$(LIB_SRC)) $(REL)/gen/lua_scripts.o

# Sanitizer build (tests)
SAN      := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_CFLAGS := $(CFLAGS_BASE) -O1 -g -fno-omit-frame-pointer $(SAN_FLAGS)
SAN_OBJ  := $(patsubst src/%.c,$(SAN)/%.o,$(LIB_SRC)) $(SAN)/gen/lua_scripts.o

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(SAN)/tests/%,$(UNIT_SRC))

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DEFS    := -DSGW_VERSION='"$(VERSION)"' -DSGW_GIT_REV='"$(GIT_REV)"'

.PHONY: all test unit unit-bins san clean fuzz
all: build/signal-gateway

# main.c prints GIT_REV (--version, gateway_build_info): rebuild it when HEAD moves
REV_STAMP := build/gen/rev-$(GIT_REV)
$(REV_STAMP):
	@mkdir -p $(dir $@) && rm -f build/gen/rev-* && touch $@
$(REL)/main.o $(SAN)/main.o: $(REV_STAMP)

build/signal-gateway: $(REL)/main.o $(REL)/libsgw.a $(REL)/libllhttp.a
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

build/signal-gateway-san: $(SAN)/main.o $(SAN)/libsgw.a $(SAN)/libllhttp.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

san: build/signal-gateway-san

$(REL)/libsgw.a: $(REL_OBJ)
	ar rcs $@ $^
$(SAN)/libsgw.a: $(SAN_OBJ)
	ar rcs $@ $^

$(REL)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(DEFS) -MMD -MP -c -o $@ $<
$(SAN)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(DEFS) -MMD -MP -c -o $@ $<

# The Redis Lua scripts, embedded in the binary.
build/gen/lua_scripts.c: $(LUA) scripts/embed-lua
	@mkdir -p build/gen
	scripts/embed-lua $(LUA) > $@.tmp && mv $@.tmp $@
$(REL)/gen/lua_scripts.o: build/gen/lua_scripts.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c -o $@ $<
$(SAN)/gen/lua_scripts.o: build/gen/lua_scripts.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c -o $@ $<

# llhttp from Debian's node-llhttp sources (warnings are theirs, not ours).
$(REL)/libllhttp.a: $(LLHTTP_SRC)
	@mkdir -p $(REL)/llhttp
	cd $(REL)/llhttp && for f in $(LLHTTP_SRC); do $(CC) -O2 -g -fPIC -I/usr/share/include/llhttp -c $$f || exit 1; done
	ar rcs $@ $(REL)/llhttp/*.o
$(SAN)/libllhttp.a: $(LLHTTP_SRC)
	@mkdir -p $(SAN)/llhttp
	cd $(SAN)/llhttp && for f in $(LLHTTP_SRC); do $(CC) -O1 -g $(SAN_FLAGS) -I/usr/share/include/llhttp -c $$f || exit 1; done
	ar rcs $@ $(SAN)/llhttp/*.o

$(SAN)/tests/%: tests/unit/%.c $(SAN)/libsgw.a $(SAN)/libllhttp.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(DEFS) -Itests/unit -o $@ $< $(SAN)/libsgw.a $(SAN)/libllhttp.a $(LIBS) $(shell pkg-config --libs cmocka)

# the metrics shards are the one part shared between worker threads: their unit test runs
# under ThreadSanitizer too (scripts/unit-tests)
TSAN_METRICS := build/tsan/tests/test_metrics
$(TSAN_METRICS): tests/unit/test_metrics.c src/metrics.c src/util/strmap.c src/util/xalloc.c src/util/hash.c tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -g -fsanitize=thread -Itests/unit -o $@ $(filter %.c,$^) \
	    $(shell pkg-config --libs cmocka nettle) -lpthread

unit-bins: $(UNIT_BIN) $(TSAN_METRICS)

unit:
	scripts/unit-tests

test:
	scripts/test

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- Fuzzing (tests/fuzz, docs/fuzzing.md) -------------------------------------------------
# `make fuzz` → build/fuzz/fuzz_<target> (libFuzzer + ASan + UBSan, clang); scripts/fuzz runs
# them. The project's objects are compiled again with coverage instrumentation into
# build/fuzz/obj; the Redis store (and its generated Lua) is left out: no target uses it.
FUZZ_CC      ?= clang
FUZZ         := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := $(filter-out -Werror -Wno-format-truncation,$(CFLAGS_BASE)) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LIB_SRC := $(filter-out src/state/redis.c src/state/redis_uv.c,$(LIB_SRC))
FUZZ_OBJ     := $(patsubst src/%.c,$(FUZZ)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_TARGETS := prometheus k8s_event config http kubeconfig decide_reply
FUZZ_BIN     := $(patsubst %,$(FUZZ)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz
fuzz: $(FUZZ_BIN)

$(FUZZ)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEFS) -MMD -MP -c -o $@ $<

$(FUZZ)/libsgw.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ)/libllhttp.a: $(LLHTTP_SRC)
	@mkdir -p $(FUZZ)/llhttp
	cd $(FUZZ)/llhttp && for f in $(LLHTTP_SRC); do $(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -I/usr/share/include/llhttp -c $$f || exit 1; done
	@rm -f $@
	ar rcs $@ $(FUZZ)/llhttp/*.o

# the YAML targets count libfyaml documents (tests/fuzz/fuzz_yaml.h)
$(FUZZ)/fuzz_config $(FUZZ)/fuzz_kubeconfig: FUZZ_LDEXTRA := -Wl,--wrap=fy_document_build_from_file -Wl,--wrap=fy_document_destroy
$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_yaml.h $(FUZZ)/libsgw.a $(FUZZ)/libllhttp.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer $(DEFS) -Itests/fuzz -o $@ $< \
	    $(FUZZ)/libsgw.a $(FUZZ)/libllhttp.a $(LIBS) $(FUZZ_LDEXTRA)
