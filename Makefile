# update-sessiond build. Targets: all run fleet test bench bench-growth install clean.
# Switches: SANITIZE=1 (ASan+UBSan), DEBUG=1 (-O0 -g).
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
PKGS    := libevent libevent_openssl json-c uuid hiredis libcrypto libssl libxml-2.0
CFLAGS  := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP -I. -pthread \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lcrypt -lm -pthread

ifeq ($(DEBUG),1)
CFLAGS  += -O0 -g3
else
CFLAGS  += -O2 -g
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DUSD_FAULTS
LDFLAGS += -fsanitize=address,undefined
BUILD   := build/san
endif

CORE_SRC  := $(wildcard core/*.c)
STORE_SRC := $(wildcard store/*.c)
NET_SRC   := $(filter-out net/main.c,$(wildcard net/*.c net/data/*.c))
LUA_SRC   := $(sort $(wildcard store/lua/*.lua))

CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/store/lua_scripts.o
NET_OBJ   := $(NET_SRC:%.c=$(BUILD)/%.o)
BIN       := $(BUILD)/update-sessiond

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run fleet test unit bench bench-growth install clean deps
all: $(BIN)

$(BIN): $(BUILD)/net/main.o $(NET_OBJ) $(STORE_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The Lua scripts live as .lua files and are embedded as C strings.
$(BUILD)/store/lua_scripts.c: $(LUA_SRC) scripts/embed-lua.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-lua.sh $(LUA_SRC) > $@
$(BUILD)/store/lua_scripts.o: $(BUILD)/store/lua_scripts.c
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: one cmocka binary per tests/unit/test_<module>.c. Tests of core/ link core/
# only; test_http links the HTTP front end (it runs it on loopback in-process).
$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_http: tests/unit/test_http.c $(BUILD)/net/http.o $(BUILD)/net/tls.o $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

$(BUILD)/tests/test_users: tests/unit/test_users.c $(BUILD)/net/users.o $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# Store integration test and the seeding tool: need a running redis-server (scripts/test.sh).
$(BUILD)/tests/itest_store: tests/store/itest_store.c $(STORE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/usd-seed: tests/tools/usd_seed.c $(STORE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run.sh

# Redis primary + replica, three Sentinels, three instances and haproxy on loopback (README
# "Running a fleet"); Ctrl-C stops them all.
fleet: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/fleet.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test: deps
	@sh scripts/test.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/bench.sh

# Redis time of the scripts whose data grow, at 1k, 10k and 100k objects (tests/bench/growth.py,
# about 1 min; GROWTH_BASE=<another build> measures that one too, alternated, with the ratio).
bench-growth: deps
	@$(MAKE) --no-print-directory all
	@python3 tests/bench/growth.py --server $(BIN)

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/update-sessiond

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The SOAP endpoint (net/soap.c): linked alone; the test stubs the store, users and HTTP calls.
$(BUILD)/tests/test_soap: tests/unit/test_soap.c $(BUILD)/net/soap.o $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# Blob store and PULL client unit tests (test_pull runs HTTP/HTTPS servers in-process and
# needs the openssl command to make its self-signed certificate).
$(BUILD)/tests/test_blob: tests/unit/test_blob.c $(BUILD)/store/blob.o $(BUILD)/store/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_pull: tests/unit/test_pull.c $(BUILD)/net/data/pull.o $(BUILD)/store/blob.o \
                         $(BUILD)/store/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# The worker pool (threads + eventfd + libevent) and the login checks built on it (real crypt_r
# against a users file the test writes).
$(BUILD)/tests/test_worker: tests/unit/test_worker.c $(BUILD)/net/worker.o $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_login: tests/unit/test_login.c $(BUILD)/net/login.o $(BUILD)/net/worker.o $(BUILD)/net/users.o \
                          $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
# The janitor's path check (pure; the janitor runs in tests/system/test_data_janitor.py).
$(BUILD)/tests/test_janitor_path: tests/unit/test_janitor_path.c $(BUILD)/net/data/janitor_path.o \
                                  $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# Fuzzing (tests/fuzz/, see README "Tests and benchmarks"): libFuzzer targets built with clang,
# every project source they use compiled again with the fuzzer's coverage and ASan+UBSan.
# `make fuzz` builds them all into build/fuzz/ and runs each for FUZZ_SECONDS.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -fsanitize=% -fno-sanitize-recover=% -fno-omit-frame-pointer -DUSD_FAULTS,$(CFLAGS)) \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/%)
FUZZ_CORE    := $(CORE_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/net/log.o
FUZZ_HTTP    := $(FUZZ_DIR)/obj/tests/fuzz/http_driver.o $(FUZZ_DIR)/obj/net/http.o

.PHONY: fuzz fuzz-build
.PRECIOUS: $(FUZZ_DIR)/obj/%.o
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_CORE)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LDLIBS)
$(FUZZ_DIR)/fuzz_http: $(FUZZ_HTTP)
$(FUZZ_DIR)/fuzz_routes: $(FUZZ_HTTP) $(FUZZ_DIR)/obj/net/routes.o $(FUZZ_DIR)/obj/net/call.o \
                         $(FUZZ_DIR)/obj/net/codec.o
$(FUZZ_DIR)/fuzz_soap: $(FUZZ_DIR)/obj/net/soap.o
$(FUZZ_DIR)/fuzz_validate: $(FUZZ_DIR)/obj/net/users.o
# The log line format (net/log.c).
$(BUILD)/tests/test_log: tests/unit/test_log.c $(BUILD)/net/log.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
# The command line (net/config.c): the --redis forms, Sentinel included.
$(BUILD)/tests/test_config: tests/unit/test_config.c $(BUILD)/net/config.o $(BUILD)/net/log.o $(BUILD)/net/users.o $(BUILD)/net/secret.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
# The +switch-master parser of store/sentinel.c (the test stubs store_log).
$(BUILD)/tests/test_sentinel: tests/unit/test_sentinel.c $(BUILD)/store/sentinel.o $(BUILD)/store/subscription.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
