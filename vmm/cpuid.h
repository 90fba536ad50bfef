/* cpuid.h: per-vCPU CPUID built from KVM_GET_SUPPORTED_CPUID with a one-socket topology. */
#ifndef CELLVM_CPUID_H
#define CELLVM_CPUID_H

#include <linux/kvm.h>

/* Copies supported into out (which must hold supported->nent entries) and patches the
 * APIC ID, topology (nr_cpus cores in one package, one thread each) and hypervisor bit
 * for vCPU index. Returns 0 or -EINVAL. */
int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int index, unsigned int nr_cpus,
		struct kvm_cpuid2 *out) __attribute__((warn_unused_result));

/* Bits needed to number n things (0 for n <= 1). */
unsigned int cpuid_order(unsigned int n);

#endif
