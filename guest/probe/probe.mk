# probe.mk: builds the probe test guest (PVH ELF and Linux bzImage) with its own freestanding flags.
PROBE_DIR     := guest/probe
PROBE_OUT     := $(BUILD)/probe-obj
PROBE_CC      ?= gcc
PROBE_HOSTCC  ?= gcc
PROBE_OBJCOPY ?= objcopy
PROBE_LD      ?= ld

PROBE_CFLAGS  := -std=gnu11 -ffreestanding -nostdlib -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -mno-sse -mno-sse2 -mno-mmx -mno-avx -fno-stack-protector \
	-fno-builtin -fno-tree-loop-distribute-patterns -fcf-protection=none \
	-fno-asynchronous-unwind-tables -fno-omit-frame-pointer -O2 -g \
	-Wall -Wextra -Werror -MMD -MP
PROBE_LDFLAGS := -nostdlib -static -no-pie -Wl,--no-warn-rwx-segments -Wl,--build-id=none \
	-T $(PROBE_DIR)/probe.ld
PROBE_HOSTCFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror

PROBE_CSRCS := $(sort $(wildcard $(PROBE_DIR)/*.c))
PROBE_CSRCS := $(filter-out $(PROBE_DIR)/mkbzimage.c,$(PROBE_CSRCS))
PROBE_OBJS  := $(PROBE_OUT)/head.o $(PROBE_CSRCS:$(PROBE_DIR)/%.c=$(PROBE_OUT)/%.o)

.PHONY: probe
probe: $(BUILD)/guest/probe.elf $(BUILD)/guest/probe.bzImage $(BUILD)/guest/probe-vmlinux.elf

$(PROBE_OUT)/%.o: $(PROBE_DIR)/%.c
	@mkdir -p $(dir $@)
	$(PROBE_CC) $(PROBE_CFLAGS) -c -o $@ $<

$(PROBE_OUT)/%.o: $(PROBE_DIR)/%.S
	@mkdir -p $(dir $@)
	$(PROBE_CC) $(PROBE_CFLAGS) -c -o $@ $<

$(BUILD)/guest/probe.elf: $(PROBE_OBJS) $(PROBE_DIR)/probe.ld
	@mkdir -p $(dir $@)
	$(PROBE_CC) $(PROBE_CFLAGS) $(PROBE_LDFLAGS) -o $@ $(PROBE_OBJS)

$(PROBE_OUT)/probe.bin: $(BUILD)/guest/probe.elf
	$(PROBE_OBJCOPY) -O binary $< $@

$(PROBE_OUT)/setup.elf: $(PROBE_OUT)/setup.o
	$(PROBE_LD) -m elf_x86_64 -Ttext=0 -e 0 --build-id=none -o $@ $<

$(PROBE_OUT)/setup.bin: $(PROBE_OUT)/setup.elf
	$(PROBE_OBJCOPY) -O binary -j .text $< $@

$(PROBE_OUT)/mkbzimage: $(PROBE_DIR)/mkbzimage.c
	@mkdir -p $(dir $@)
	$(PROBE_HOSTCC) $(PROBE_HOSTCFLAGS) -o $@ $<

$(BUILD)/guest/probe.bzImage: $(PROBE_OUT)/mkbzimage $(PROBE_OUT)/setup.bin $(PROBE_OUT)/probe.bin $(BUILD)/guest/probe.elf
	$(PROBE_OUT)/mkbzimage $(PROBE_OUT)/setup.bin $(BUILD)/guest/probe.elf $(PROBE_OUT)/probe.bin $@

# The same probe as a plain ELF vmlinux: no PVH note, entry at the 64-bit startup_64, so
# the VMM takes its Linux 64-bit ELF path (boot_params in RSI), as for a Linux vmlinux.
$(BUILD)/guest/probe-vmlinux.elf: $(BUILD)/guest/probe.elf
	$(PROBE_OBJCOPY) -R .note.Xen --set-start=$$(nm $< | awk '$$3 == "startup_64" { print "0x" $$1 }') $< $@
