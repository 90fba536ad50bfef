/* cpu_boot.h: the x86 CPU state a kernel expects at its entry point (GDT, page tables, registers). */
#ifndef CELLVM_CPU_BOOT_H
#define CELLVM_CPU_BOOT_H

#include <linux/kvm.h>
#include <stdint.h>

#include "boot/boot.h"
#include "guest_mem.h"

/* GDT selectors written by cpu_boot_write_tables (index * 8). */
#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10 /* __BOOT_CS of the Linux 64-bit boot protocol */
#define BOOT_SEL_DATA   0x18 /* __BOOT_DS */
#define BOOT_SEL_TSS    0x20

/* Writes the boot GDT, an empty IDT and page tables identity-mapping the first 4 GiB with
 * 2 MiB pages. Returns 0 or -EFAULT if low memory is missing. */
int cpu_boot_write_tables(struct guest_mem *mem) __attribute__((warn_unused_result));

/* Fills sregs/regs for the boot vCPU entering in the given mode. Pure: no ioctl. */
void cpu_boot_sregs(struct kvm_sregs *sregs, enum boot_entry_mode mode);
void cpu_boot_regs(struct kvm_regs *regs, const struct boot_result *br);

/* ioctl helpers: each returns 0 or -errno. */
int cpu_set_boot_state(int vcpu_fd, const struct boot_result *br) __attribute__((warn_unused_result));
int cpu_init_msrs(int vcpu_fd, const struct kvm_msr_list *supported) __attribute__((warn_unused_result));
int cpu_init_fpu(int vcpu_fd) __attribute__((warn_unused_result));
int cpu_init_lapic(int vcpu_fd) __attribute__((warn_unused_result));

#endif
