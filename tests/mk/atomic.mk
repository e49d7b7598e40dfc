# Atomicity tests (tests/atomic): contention of every lockable instruction on shared guest RAM
# through the hostmem backend (and its negative control), the same under ThreadSanitizer, the
# semantic rules of locked instructions, and the hostmem backend itself.
ATOMIC_HDR := tests/atomic/atomic_common.h tests/unit/testlib.h include/hvemu.h

$(BUILD)/tests/atomic_contention: tests/atomic/contention.c $(ATOMIC_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/unit $< $(LIB) -o $@ -lpthread

$(BUILD)/tests/atomic_hostmem: tests/atomic/hostmem.c $(ATOMIC_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/unit $< $(LIB) -o $@ -lpthread

# ThreadSanitizer: the library's sources are compiled into the test with -fsanitize=thread,
# so hvemu's own code is instrumented too (a hidden shared state would be reported).
TSAN_CC ?= $(CC)
ATOMIC_LIB_SRC := $(sort $(shell find src -name '*.c'))
$(BUILD)/tests/atomic_contention_tsan: tests/atomic/contention.c $(ATOMIC_HDR) $(ATOMIC_LIB_SRC) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(WARN) -O1 -g -fsanitize=thread -Iinclude -Isrc -Isrc/decode -D_GNU_SOURCE \
		$< $(ATOMIC_LIB_SRC) -o $@ -lpthread

EXTRA_TEST_BINS += $(BUILD)/tests/atomic_contention $(BUILD)/tests/atomic_hostmem \
	$(BUILD)/tests/atomic_contention_tsan

# The semantic rules, checked against the host CPU where it can run the instruction.
ifeq ($(shell uname -m),x86_64)
$(BUILD)/tests/atomic_semantics: tests/atomic/semantics.c $(ATOMIC_HDR) $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff -Itests/unit $< $(HOSTDIFF_SRC) $(LIB) -o $@

EXTRA_TEST_BINS += $(BUILD)/tests/atomic_semantics
endif
