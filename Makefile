# update-sessiond build. Targets: all run test bench install clean.
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

.PHONY: all run test unit bench install clean deps
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
$(BUILD)/tests/test_http: tests/unit/test_http.c $(BUILD)/net/http.o $(CORE_OBJ)
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

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test: deps
	@sh scripts/test.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/bench.sh

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/update-sessiond

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The SOAP endpoint (net/soap.c): linked alone; the test stubs the store, users and HTTP calls.
$(BUILD)/tests/test_soap: tests/unit/test_soap.c $(BUILD)/net/soap.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# Blob store and PULL client unit tests (test_pull runs HTTP/HTTPS servers in-process and
# needs the openssl command to make its self-signed certificate).
$(BUILD)/tests/test_blob: tests/unit/test_blob.c $(BUILD)/store/blob.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_pull: tests/unit/test_pull.c $(BUILD)/net/data/pull.o $(BUILD)/store/blob.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# The worker pool (threads + eventfd + libevent) and the login checks built on it (real crypt_r
# against a users file the test writes).
$(BUILD)/tests/test_worker: tests/unit/test_worker.c $(BUILD)/net/worker.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/test_login: tests/unit/test_login.c $(BUILD)/net/login.o $(BUILD)/net/worker.o $(BUILD)/net/users.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
# The janitor's path check (pure; the janitor runs in tests/system/test_data_janitor.py).
$(BUILD)/tests/test_janitor_path: tests/unit/test_janitor_path.c $(BUILD)/net/data/janitor_path.o \
                                  $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# The command line (net/config.c): the --redis forms, Sentinel included.
$(BUILD)/tests/test_config: tests/unit/test_config.c $(BUILD)/net/config.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
# The +switch-master parser of store/sentinel.c (the test stubs store_log).
$(BUILD)/tests/test_sentinel: tests/unit/test_sentinel.c $(BUILD)/store/sentinel.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka
