# Sanitizer builds (clang): the libFuzzer decode target and an ASan+UBSan build of the whole
# library with the Zydis differential test linked against it. Built on demand by tests/fuzz.sh
# and tests/asan.sh, not by `test-bins`, so a missing clang fails only those suite lines.
FUZZ_CC ?= clang
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_WARN := -std=c11 -Wall -Wextra -Werror
SAN_LIB_SRC := $(sort $(shell find src -name '*.c'))
SAN_HDRS := include/hvemu.h $(wildcard src/*/*.h) $(wildcard src/*.h)

# library objects for the fuzzer: coverage-instrumented, linked as objects so that the real
# hvemu_format() (when it exists) overrides the fuzz file's weak stand-in
FUZZ_OBJ := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(SAN_LIB_SRC))
$(BUILD)/fuzz/obj/%.o: src/%.c $(SAN_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_WARN) -O1 -g -Iinclude -Isrc -Isrc/decode -ffreestanding -fno-builtin-malloc \
		-fsanitize=fuzzer-no-link $(SAN_FLAGS) -c $< -o $@

$(BUILD)/fuzz/decode_fuzz: fuzz/decode_fuzz.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_WARN) -O1 -g -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer $(SAN_FLAGS) \
		$< $(FUZZ_OBJ) -o $@

$(BUILD)/fuzz/emulate_fuzz: fuzz/emulate_fuzz.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_WARN) -O1 -g -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer $(SAN_FLAGS) \
		$< $(FUZZ_OBJ) -o $@

# the whole library under ASan+UBSan, and the Zydis test against it
SAN_OBJ := $(patsubst src/%.c,$(BUILD)/asan/obj/%.o,$(SAN_LIB_SRC))
$(BUILD)/asan/obj/%.o: src/%.c $(SAN_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_WARN) -O1 -g -Iinclude -Isrc -Isrc/decode -ffreestanding -fno-builtin-malloc \
		$(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/libhvemu.a: $(SAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/zydis_diff: tests/decode/zydis_diff.c $(BUILD)/asan/libhvemu.a
	$(FUZZ_CC) $(SAN_WARN) -O1 -g -Iinclude -D_GNU_SOURCE $(SAN_FLAGS) $< $(BUILD)/asan/libhvemu.a \
		-o $@ -lZydis

fuzz-bins: $(BUILD)/fuzz/decode_fuzz $(BUILD)/fuzz/emulate_fuzz
asan-bins: $(BUILD)/asan/zydis_diff
.PHONY: fuzz-bins asan-bins
