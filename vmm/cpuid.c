/* cpuid.c: patches KVM's supported CPUID into each vCPU's view of the machine topology. */
#include "cpuid.h"

#include <errno.h>
#include <string.h>

#define CPUID_1_ECX_HYPERVISOR (1U << 31)
#define CPUID_1_EDX_HTT        (1U << 28)
#define TOPO_LEVEL_SMT         1U
#define TOPO_LEVEL_CORE        2U

unsigned int cpuid_order(unsigned int n)
{
	unsigned int bits = 0;

	while ((1U << bits) < n)
		bits++;
	return bits;
}

static void patch_leaf1(struct kvm_cpuid_entry2 *e, unsigned int apic, unsigned int nr)
{
	unsigned int logical = 1U << cpuid_order(nr);

	e->ebx = (e->ebx & 0x0000ffffU) | (apic << 24) | ((logical & 0xff) << 16);
	e->ecx |= CPUID_1_ECX_HYPERVISOR;
	if (nr > 1)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
}

/* Intel deterministic cache parameters: cores per package and sharing per cache level. */
static void patch_leaf4(struct kvm_cpuid_entry2 *e, unsigned int nr)
{
	unsigned int level = (e->eax >> 5) & 7;
	unsigned int sharing = level >= 3 ? (1U << cpuid_order(nr)) - 1 : 0;
	unsigned int cores = (1U << cpuid_order(nr)) - 1;

	if ((e->eax & 0x1f) == 0)
		return; /* no more caches */
	e->eax = (e->eax & 0x3fffU) | ((sharing & 0xfff) << 14) | ((cores & 0x3f) << 26);
}

/* Extended topology (0xB and 0x1F): an SMT level of one thread and a core level of nr. */
static void patch_topology(struct kvm_cpuid_entry2 *e, unsigned int apic, unsigned int nr)
{
	e->edx = apic;
	if (e->index == 0) {
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | 0;
	} else if (e->index == 1) {
		e->eax = cpuid_order(nr);
		e->ebx = nr;
		e->ecx = (TOPO_LEVEL_CORE << 8) | 1;
	} else {
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
	}
}

static void patch_entry(struct kvm_cpuid_entry2 *e, unsigned int apic, unsigned int nr)
{
	switch (e->function) {
	case 0x1:
		patch_leaf1(e, apic, nr);
		break;
	case 0x4:
		patch_leaf4(e, nr);
		break;
	case 0xb:
	case 0x1f:
		patch_topology(e, apic, nr);
		break;
	case 0x80000008: /* AMD: NC = nr-1, ApicIdCoreIdSize */
		e->ecx = (e->ecx & ~0xf0ffU) | (cpuid_order(nr) << 12) | ((nr - 1) & 0xff);
		break;
	case 0x8000001e: /* AMD: extended APIC ID, core ID, one thread per core, node 0 */
		e->eax = apic;
		e->ebx = apic & 0xff;
		e->ecx = 0;
		break;
	default:
		break;
	}
}

int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int index, unsigned int nr_cpus,
		struct kvm_cpuid2 *out)
{
	if (nr_cpus == 0 || index >= nr_cpus || nr_cpus > 255)
		return -EINVAL;
	out->nent = supported->nent;
	memcpy(out->entries, supported->entries, supported->nent * sizeof(out->entries[0]));
	for (unsigned int i = 0; i < out->nent; i++)
		patch_entry(&out->entries[i], index, nr_cpus);
	return 0;
}
