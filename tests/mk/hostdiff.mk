# The host-differential harness's native runner and its self-test (x86-64 Linux hosts only).
# A differential test program links $(HOSTDIFF_SRC) and adds -Itests/hostdiff.
ifeq ($(shell uname -m),x86_64)
HOSTDIFF_SRC := tests/hostdiff/native.c tests/hostdiff/undef_flags.c
HOSTDIFF_HDR := tests/hostdiff/native_skip.h tests/hostdiff/test_random.h tests/hostdiff/window_mem.h tests/hostdiff/native.h tests/hostdiff/undef_flags.h tests/unit/testlib.h

$(BUILD)/tests/native_selftest: tests/hostdiff/native_selftest.c $(HOSTDIFF_SRC) $(HOSTDIFF_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff tests/hostdiff/native_selftest.c $(HOSTDIFF_SRC) -o $@

EXTRA_TEST_BINS += $(BUILD)/tests/native_selftest
endif

# The differential test of execution against the host CPU.
ifeq ($(shell uname -m),x86_64)
$(BUILD)/tests/hostdiff: tests/hostdiff/hostdiff.c tests/hostdiff/uc_oracle.c tests/hostdiff/uc_oracle.h $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff tests/hostdiff/hostdiff.c tests/hostdiff/uc_oracle.c $(HOSTDIFF_SRC) $(LIB) -o $@ -ldl

EXTRA_TEST_BINS += $(BUILD)/tests/hostdiff
endif

$(BUILD)/tests/segload: tests/hostdiff/segload.c $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff tests/hostdiff/segload.c $(HOSTDIFF_SRC) $(LIB) -o $@

EXTRA_TEST_BINS += $(BUILD)/tests/segload

$(BUILD)/tests/single_step: tests/hostdiff/single_step.c $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff tests/hostdiff/single_step.c $(HOSTDIFF_SRC) $(LIB) -o $@

EXTRA_TEST_BINS += $(BUILD)/tests/single_step
