# Decoder benchmark against Zydis: `make bench` builds and runs $(BUILD)/bench_decode.
EXTRA_BENCH_BINS += $(BUILD)/bench_decode

$(BUILD)/bench_decode: bench/bench_decode.c $(LIB) include/hvemu.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) $< $(LIB) -o $@ -lZydis
