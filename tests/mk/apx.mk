# APX tests (tests/apx): the llvm-mc corpus comparison and the #UD rules.
APX_TEST_BINS := $(BUILD)/tests/apx_corpus $(BUILD)/tests/apx_ud
$(BUILD)/tests/apx_%: tests/apx/apx_%.c $(LIB) tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@
EXTRA_TEST_BINS += $(APX_TEST_BINS)
# APX execution against the host CPU (legacy equivalents through tests/hostdiff/native.c).
ifeq ($(shell uname -m),x86_64)
$(BUILD)/tests/apx_exec: tests/apx/apx_exec.c $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff tests/apx/apx_exec.c $(HOSTDIFF_SRC) $(LIB) -o $@
EXTRA_TEST_BINS += $(BUILD)/tests/apx_exec
endif
