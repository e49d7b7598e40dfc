# Feature gating: every feature gates some encoding (from the tables), and hvemu's verdicts
# with the host's CPUID features against the host CPU (x86-64 hosts).
$(BUILD)/tests/feature_gates: tests/decode/feature_gates.c tests/decode/synth.h $(LIB) include/hvemu.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@
EXTRA_TEST_BINS += $(BUILD)/tests/feature_gates
ifeq ($(shell uname -m),x86_64)
$(BUILD)/tests/feature_host: tests/decode/feature_host.c tests/decode/synth.h $(HOSTDIFF_SRC) $(HOSTDIFF_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itests/hostdiff $< $(HOSTDIFF_SRC) $(LIB) -o $@
EXTRA_TEST_BINS += $(BUILD)/tests/feature_host
endif
