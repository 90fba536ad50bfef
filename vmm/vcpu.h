/* vcpu.h: vCPU creation, one thread per vCPU named "vcpu N", and the exit dispatcher. */
#ifndef CELLVM_VCPU_H
#define CELLVM_VCPU_H

#include <stddef.h>

#include "boot/boot.h"
#include "vm.h"

/* Creates vm->nr_vcpus vCPUs with CPUID, MSRs, FPU and LAPIC set; vCPU 0 gets the boot
 * state br. Returns 0 or an exit code with a reason in err. */
int vcpu_create_all(struct vm *vm, const struct boot_result *br, char *err, size_t errlen);
int vcpu_start_all(struct vm *vm, char *err, size_t errlen);
/* Creates vCPU nr_vcpus (< max_vcpus) as an AP waiting for INIT/SIPI and starts its thread
 * (a running VM: main thread). Returns 0 or -errno with err set. */
int vcpu_hotadd(struct vm *vm, char *err, size_t errlen);
/* Kicks every vCPU out of KVM_RUN and joins the threads. Idempotent. */
void vcpu_stop_all(struct vm *vm);
void vcpu_destroy_all(struct vm *vm);

#endif
