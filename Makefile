# SPDX-License-Identifier: MIT
# hvemu: plain GNU make. `make` builds the library and the CLI into build/.
#   make demo    build and run the main job
#   make check   build and run every test (installs test dependencies when root)
#   make bench   benchmarks
#   make tables  regenerate src/decode/tables.gen.{c,h} from src/decode/opcodes/*.txt
#   make install PREFIX=/usr/local

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
LIBCFLAGS := $(WARN) $(OPT) -g -fPIC -Iinclude -Isrc -Isrc/decode -ffreestanding -fno-builtin-malloc -fvisibility=hidden $(CFLAGS)
TOOLCFLAGS := $(WARN) $(OPT) -g -Iinclude -Isrc -Isrc/decode -D_GNU_SOURCE $(CFLAGS)

# The core library: every .c under src/ (decode, operand/memory access, execution, atomics, modes, APX).
LIB_SRC := $(sort $(shell find src -name '*.c'))
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
OPCODE_FILES := $(sort $(wildcard src/decode/opcodes/*.txt))
TOOL_SRC := $(sort $(wildcard tools/*.c))
# The trap-and-emulate runner (signals, ucontext, XSAVE frames) exists on x86-64 Linux only;
# elsewhere the commands that need it say so.
ifeq ($(shell uname -sm),Linux x86_64)
RUNNER_SRC := tools/runner/runner.c
TOOL_SRC += $(RUNNER_SRC)
TRACE_LIB := $(BUILD)/libhvemu-trace.so
endif

all: $(BUILD)/libhvemu.a $(BUILD)/libhvemu-internal.a $(BUILD)/libhvemu.so $(BUILD)/hvemu $(BUILD)/hvemu.pc $(TRACE_LIB)

$(BUILD)/obj/%.o: src/%.c include/hvemu.h $(wildcard src/*/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(LIBCFLAGS) -c $< -o $@

# One relocatable object whose hidden (internal) symbols are made local: an embedder linking the
# static library sees only the hvemu_* API, never names like op_read.
$(BUILD)/libhvemu.a: $(LIB_OBJ)
	@mkdir -p $(BUILD)
	@echo "  AR      $@"
	@ld -r -o $(BUILD)/hvemu-all.o $^ && objcopy --localize-hidden $(BUILD)/hvemu-all.o
	@rm -f $@ && ar rcs $@ $(BUILD)/hvemu-all.o

# The same objects with internal symbols visible, for white-box tests.
$(BUILD)/libhvemu-internal.a: $(LIB_OBJ)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/libhvemu.so: $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared -nostdlib -o $@ $^ -Wl,-soname,libhvemu.so.0 -lgcc

$(BUILD)/hvemu: $(TOOL_SRC) $(BUILD)/libhvemu.a $(wildcard tools/*.h tools/runner/*.h)
	$(CC) $(TOOLCFLAGS) -Itools/runner $(TOOL_SRC) $(BUILD)/libhvemu.a -o $@ -lpthread -ldl

# `hvemu trace` preloads this into the traced program: the runner plus a logging device.
$(BUILD)/libhvemu-trace.so: tools/runner/trace_preload.c $(RUNNER_SRC) tools/runner/runner.h $(BUILD)/libhvemu.a
	$(CC) $(TOOLCFLAGS) -fPIC -shared -Itools/runner tools/runner/trace_preload.c $(RUNNER_SRC) $(BUILD)/libhvemu.a -o $@ -lpthread -ldl

$(BUILD)/hvemu.pc: Makefile
	@mkdir -p $(BUILD)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: hvemu\nDescription: x86-64 instruction emulator for hypervisors\nVersion: 0.1.0\nLibs: -L$${libdir} -lhvemu\nCflags: -I$${includedir}\n' '$(PREFIX)' > $@

tables:
	python3 tools/gen/gen_tables.py src/decode $(OPCODE_FILES)

tables-check:
	@if command -v python3 >/dev/null; then python3 tools/gen/gen_tables.py --check src/decode $(OPCODE_FILES); \
	else echo "python3 missing: generated tables not checked"; fi

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libhvemu.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libhvemu.so $(DESTDIR)$(PREFIX)/lib/libhvemu.so.0
	ln -sf libhvemu.so.0 $(DESTDIR)$(PREFIX)/lib/libhvemu.so
	install -m 644 include/hvemu.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/hvemu $(DESTDIR)$(PREFIX)/bin/
	$(if $(TRACE_LIB),install -m 755 $(TRACE_LIB) $(DESTDIR)$(PREFIX)/lib/)
	@# the .pc names the prefix of this install, whatever the build used
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(BUILD)/hvemu.pc > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hvemu.pc

demo: all
	$(BUILD)/hvemu demo

deps:
	@bash tests/deps.sh

check: all deps tables-check
	@bash tests/run.sh $(BUILD)

bench: all deps
	@$(MAKE) --no-print-directory -f tests/tests.mk BUILD=$(BUILD) bench-bins
	$(BUILD)/bench_decode
	$(BUILD)/hvemu bench
	$(BUILD)/hvemu bench --apx --no-unicorn
	bash bench/count_insns.sh $(BUILD)

clean:
	rm -rf $(BUILD)

.PHONY: all tables tables-check install demo deps check bench clean
