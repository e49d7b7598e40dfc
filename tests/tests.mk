# Test, fuzz and benchmark programs. Each tests/unit/NAME.c becomes $(BUILD)/tests/NAME.
BUILD ?= build
CC ?= cc
WARN := -std=c11 -Wall -Wextra -Werror
TCFLAGS := $(WARN) -O2 -g -Iinclude -Isrc -Isrc/decode -D_GNU_SOURCE
# white-box tests may use internal symbols: they link the archive that keeps them visible
LIB := $(BUILD)/libhvemu-internal.a

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@

# Optional pieces add themselves here (tests/*.mk).
-include $(wildcard tests/mk/*.mk)

test-bins: $(UNIT_BIN) $(EXTRA_TEST_BINS)
bench-bins: $(EXTRA_BENCH_BINS)
.PHONY: test-bins bench-bins
