# cellvm: one build for the VMM, the probe guest, the tests and the benchmarks.
CC      ?= gcc
BUILD   ?= build
VERSION := 0.1.0

WARNINGS += -Wall
WARNINGS += -Wextra
WARNINGS += -Werror
WARNINGS += -Wshadow
WARNINGS += -Wformat=2
WARNINGS += -Wstrict-prototypes
WARNINGS += -Wmissing-prototypes
WARNINGS += -Wno-unused-parameter

HARDEN  += -D_FORTIFY_SOURCE=2
HARDEN  += -fstack-protector-strong
HARDEN  += -fPIE

OPT     ?= -O2 -g
SAN     ?=
CFLAGS  := -std=gnu11 $(OPT) $(WARNINGS) $(HARDEN) $(SAN) -Ivmm -DCELLVM_VERSION=\"$(VERSION)\" -MMD -MP
LDFLAGS := -pie -Wl,-z,relro,-z,now $(SAN)
LDLIBS  := -lhttp_parser -ljson-c -lpthread -lseccomp -lcap-ng

VMM_SRCS  := $(sort $(wildcard vmm/*.c vmm/*/*.c))
VMM_LIB   := $(filter-out vmm/main.c,$(VMM_SRCS)) $(sort $(wildcard sandbox/*.c))
VMM_OBJS  := $(VMM_LIB:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all deps demo check check-unit check-integration check-api check-asan check-devlib check-vhost check-vsock check-net check-sandbox check-linux bench clean
all: $(BUILD)/cellvm $(BUILD)/cellvm-remote $(BUILD)/cellvm-blk $(BUILD)/cellvm-vsock $(BUILD)/cellvm-net probe

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libvmm.a: $(VMM_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/cellvm: $(BUILD)/vmm/main.o $(BUILD)/libvmm.a
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/vmm/main.o -Wl,--whole-archive $(BUILD)/libvmm.a -Wl,--no-whole-archive $(LDLIBS)

$(BUILD)/cellvm-remote: $(BUILD)/tools/remote/cellvm-remote.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/unit/unit: $(UNIT_OBJS) $(BUILD)/libvmm.a
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) -Wl,--whole-archive $(BUILD)/libvmm.a -Wl,--no-whole-archive -lcriterion $(LDLIBS)

include guest/probe/probe.mk

# Device backends: one binary per device over devices/lib (vhost-user, virtqueues).
DEVLIB_SRCS := $(sort $(wildcard devices/lib/*.c))
BLK_SRCS    := $(sort $(wildcard devices/blk/*.c))
SANDBOX_SRCS := $(sort $(wildcard sandbox/*.c))
BLK_OBJS    := $(BLK_SRCS:%.c=$(BUILD)/%.o) $(DEVLIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/vmm/log.o \
               $(SANDBOX_SRCS:%.c=$(BUILD)/%.o)
VHOST_TEST_SRCS := $(sort $(wildcard tests/vhost/*.c))
VSOCK_SRCS  := $(sort $(wildcard devices/vsock/*.c))
VSOCK_OBJS  := $(VSOCK_SRCS:%.c=$(BUILD)/%.o) $(DEVLIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/vmm/log.o \
               $(SANDBOX_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/cellvm-blk: $(BLK_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -luring -lseccomp -lcap-ng

$(BUILD)/tests/vhost/frontend: $(VHOST_TEST_SRCS:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^

# Unit tests of devices/lib (the backend's own gpa_to_hva, not libvmm's): vhost_user.c is
# compiled into its test to reach the static checks.
DEVLIB_TEST_SRCS := $(sort $(wildcard tests/devlib/*.c))
$(BUILD)/tests/devlib/devlib: $(DEVLIB_TEST_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/devices/lib/virtqueue.o \
                              $(BUILD)/devices/lib/inflight.o $(BUILD)/devices/lib/vhost_user_inflight.o \
                              $(BUILD)/vmm/log.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion

$(BUILD)/cellvm-vsock: $(VSOCK_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lseccomp -lcap-ng

$(BUILD)/tests/vsock/vsockfe: $(BUILD)/tests/vsock/vsockfe.o $(BUILD)/tests/vsock/vsock_drv.o $(BUILD)/tests/vsock/closeslow.o $(BUILD)/tests/vhost/vfront.o
	$(CC) $(LDFLAGS) -o $@ $^

NET_SRCS := $(sort $(wildcard devices/net/*.c))
$(BUILD)/cellvm-net: $(NET_SRCS:%.c=$(BUILD)/%.o) $(filter-out $(BLK_SRCS:%.c=$(BUILD)/%.o),$(BLK_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -lseccomp -lcap-ng

$(BUILD)/tests/net/netfront: $(BUILD)/tests/net/netfront.o $(BUILD)/tests/net/vnet.o $(BUILD)/tests/vhost/vfront.o
	$(CC) $(LDFLAGS) -o $@ $^


deps:
	@tools/deps.sh

demo: deps all
	$(BUILD)/cellvm --kernel $(BUILD)/guest/probe.elf --cmdline "test=smp cpus=2" --cpus boot=2 --memory size=64M --debug-exit

check-unit: $(BUILD)/tests/unit/unit
	$(BUILD)/tests/unit/unit --jobs 2
	CC=$(CC) tests/unit/acpi_iasl.sh 1
	CC=$(CC) tests/unit/acpi_iasl.sh 64
	CC=$(CC) tests/unit/acpi_iasl.sh 4 full
	CC=$(CC) tests/unit/acpi_iasl.sh 64 full

check-devlib: $(BUILD)/tests/devlib/devlib
	$(BUILD)/tests/devlib/devlib --jobs 2

check-vhost: $(BUILD)/cellvm-blk $(BUILD)/tests/vhost/frontend
	BUILD=$(BUILD) tests/vhost/run.sh

check-vsock: $(BUILD)/cellvm-vsock $(BUILD)/tests/vsock/vsockfe
	BUILD=$(BUILD) tests/vsock/run.sh

# cellvm-net over a tap in a private netns (root: CAP_NET_ADMIN; SKIPs without), then DPDK.
check-net: $(BUILD)/cellvm-net $(BUILD)/tests/net/netfront
	BUILD=$(BUILD) tests/net/run.sh
	BUILD=$(BUILD) tests/net/dpdk.sh

# Escape tests: each forbidden act from inside each backend's and the VMM's jail (tests/sandbox/run.sh).
$(BUILD)/tests/sandbox/deny: tests/sandbox/deny.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lseccomp

check-sandbox: all $(BUILD)/tests/sandbox/deny
	BUILD=$(BUILD) tests/sandbox/run.sh

check-integration: all
	BUILD=$(BUILD) tests/integration/run.sh

SPEC ?= ../shared/api/cloud-hypervisor.yaml
check-api: all
	@if [ -f $(SPEC) ]; then /usr/bin/python3 tests/api/conformance.py $(BUILD)/cellvm $(abspath $(BUILD)/guest/probe.elf) $(SPEC); \
	else echo "SKIP check-api: the API spec $(SPEC) is not beside this checkout"; fi

# The nested lab (tests/lab/run, docs/testing.md): real Linux guests under cellvm inside a TCG L1.
# labsock: its static stream helper (TCP, vsock, hybrid vsock, taps), in L1 and in L2.
$(BUILD)/tests/lab/labsock: tests/lab/labsock.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARNINGS) -static -o $@ $<

check-linux: all $(BUILD)/tests/lab/labsock
	BUILD=$(BUILD) tests/lab/run

check: deps
	$(MAKE) check-unit check-devlib check-integration check-api check-vhost check-vsock check-net check-sandbox check-linux

check-asan: deps
	CELLVM_SANITIZED=1 $(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" OPT="-O1 -g" check-unit check-devlib check-integration check-api check-vhost check-vsock check-sandbox

$(BUILD)/tools/kvm_floor: tools/bench/kvm_floor.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tools/blk_harness: $(BUILD)/tools/bench/blk.o $(BUILD)/tests/vhost/vfront.o
	$(CC) $(LDFLAGS) -o $@ $^

# A vsock stream against a socketpair (tools/bench/vsock, docs/benchmarks.md).
$(BUILD)/tools/vsock_harness: $(BUILD)/tools/bench/vsock.o $(BUILD)/tools/bench/vsock_guest.o $(BUILD)/tests/vhost/vfront.o
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/tools/net_harness: $(BUILD)/tools/bench/net.o $(BUILD)/tests/net/vnet.o $(BUILD)/tests/vhost/vfront.o
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

bench: deps all $(BUILD)/tools/kvm_floor $(BUILD)/tools/blk_harness $(BUILD)/tools/net_harness \
		$(BUILD)/tools/vsock_harness $(BUILD)/cellvm-net $(BUILD)/cellvm-vsock
	BUILD=$(BUILD) tools/bench/startup
	BUILD=$(BUILD) tools/bench/blk
	BUILD=$(BUILD) tools/bench/net
	BUILD=$(BUILD) tools/bench/vsock
	BUILD=$(BUILD) tools/bench/lab

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
