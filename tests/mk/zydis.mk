# Differential decoding test against Zydis 4.0 (Debian libzydis-dev).
ZYDIS_DIFF := $(BUILD)/tests/zydis_diff
EXTRA_TEST_BINS += $(ZYDIS_DIFF)

$(ZYDIS_DIFF): tests/decode/zydis_diff.c $(LIB) include/hvemu.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@ -lZydis
