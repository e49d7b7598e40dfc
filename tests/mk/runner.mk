# The trap-and-emulate runner's tests (x86-64 Linux only): runner_signals links the runner
# itself; tests/runner.sh drives `hvemu demo` and `hvemu trace`.
ifeq ($(shell uname -sm),Linux x86_64)
RUNNER_SRC := tools/runner/runner.c
$(BUILD)/tests/runner_signals: tests/runner/runner_signals.c $(RUNNER_SRC) tools/runner/runner.h $(BUILD)/libhvemu.a
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -Itools/runner tests/runner/runner_signals.c $(RUNNER_SRC) $(BUILD)/libhvemu.a -o $@ -lpthread

$(BUILD)/tests/trace_target: tests/runner/trace_target.c
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< -o $@

EXTRA_TEST_BINS += $(BUILD)/tests/runner_signals $(BUILD)/tests/trace_target
endif
