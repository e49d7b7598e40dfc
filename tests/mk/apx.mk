# APX tests (tests/apx): the llvm-mc corpus comparison and the #UD rules.
APX_TEST_BINS := $(BUILD)/tests/apx_corpus $(BUILD)/tests/apx_ud
$(BUILD)/tests/apx_%: tests/apx/apx_%.c $(LIB) tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@
EXTRA_TEST_BINS += $(APX_TEST_BINS)
