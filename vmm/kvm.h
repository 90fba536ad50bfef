/* kvm.h: opening /dev/kvm and creating the VM with its in-kernel irqchip, PIT and memory. */
#ifndef CELLVM_KVM_H
#define CELLVM_KVM_H

#include <stddef.h>

#include "vm.h"

/* Opens /dev/kvm once, before the VMM jails itself; later VMs dup it. Returns the fd or
 * -errno. */
int kvm_preopen(const char *path);
int kvm_preopen_fd(void);
void kvm_preopen_close(void);

/* Each returns 0, or a cellvm exit code (exit_codes.h) with a one-line reason in err. */
int kvm_open_dev(struct vm *vm, const char *path, char *err, size_t errlen);
int kvm_check_cpus(struct vm *vm, unsigned int nr_cpus, char *err, size_t errlen);
int kvm_create_vm(struct vm *vm, char *err, size_t errlen);
int kvm_map_memory(struct vm *vm, char *err, size_t errlen);
/* In-kernel PIC, IOAPIC, LAPICs and PIT. Call after kvm_map_memory: memory slots added
 * after the irqchip exists cost an SRCU grace period each (measured: 0.07 ms before,
 * about 5 ms after, on this project's machines). */
int kvm_create_irqchip(struct vm *vm, char *err, size_t errlen);

#endif
