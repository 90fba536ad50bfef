/* test_cpuid.c: per-vCPU CPUID patching: APIC IDs, topology leaves and the hypervisor bit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "cpuid.h"

static struct kvm_cpuid2 *fake_supported(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 5 * sizeof(c->entries[0]));

	c->nent = 5;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x00000800, .edx = 0 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0x0000f0ff };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 7 };
	return c;
}

static struct kvm_cpuid2 *built(unsigned int index, unsigned int nr)
{
	struct kvm_cpuid2 *sup = fake_supported();
	struct kvm_cpuid2 *out = calloc(1, sizeof(*out) + sup->nent * sizeof(out->entries[0]));

	cr_assert_eq(cpuid_build(sup, index, nr, out), 0);
	free(sup);
	return out;
}

Test(cpuid, leaf1_apic_id_count_and_hypervisor_bit)
{
	struct kvm_cpuid2 *c = built(3, 4);

	cr_assert_eq(c->entries[0].ebx >> 24, 3);
	cr_assert_eq((c->entries[0].ebx >> 16) & 0xff, 4);
	cr_assert_eq(c->entries[0].ebx & 0xffff, 0x0800, "CLFLUSH size kept");
	cr_assert(c->entries[0].ecx & (1U << 31));
	cr_assert(c->entries[0].edx & (1U << 28));
	free(c);
}

Test(cpuid, single_cpu_has_no_htt)
{
	struct kvm_cpuid2 *c = built(0, 1);

	cr_assert_eq(c->entries[0].edx & (1U << 28), 0);
	free(c);
}

Test(cpuid, leaf_b_levels_and_x2apic_id)
{
	struct kvm_cpuid2 *c = built(2, 3);

	cr_assert_eq(c->entries[1].ebx, 1);
	cr_assert_eq(c->entries[1].ecx, 0x100);
	cr_assert_eq(c->entries[1].edx, 2);
	cr_assert_eq(c->entries[2].eax, 2, "two bits number three cores");
	cr_assert_eq(c->entries[2].ebx, 3);
	cr_assert_eq(c->entries[2].ecx, 0x201);
	cr_assert_eq(c->entries[2].edx, 2);
	free(c);
}

Test(cpuid, amd_core_count_and_extended_apic_id)
{
	struct kvm_cpuid2 *c = built(5, 8);

	cr_assert_eq(c->entries[3].ecx & 0xff, 7);
	cr_assert_eq((c->entries[3].ecx >> 12) & 0xf, 3);
	cr_assert_eq(c->entries[4].eax, 5);
	free(c);
}

Test(cpuid, index_out_of_range_rejected)
{
	struct kvm_cpuid2 *sup = fake_supported();
	struct kvm_cpuid2 *out = calloc(1, sizeof(*out) + sup->nent * sizeof(out->entries[0]));

	cr_assert_eq(cpuid_build(sup, 4, 4, out), -EINVAL);
	cr_assert_eq(cpuid_build(sup, 0, 0, out), -EINVAL);
	free(sup);
	free(out);
}

Test(cpuid, order)
{
	cr_assert_eq(cpuid_order(1), 0);
	cr_assert_eq(cpuid_order(2), 1);
	cr_assert_eq(cpuid_order(3), 2);
	cr_assert_eq(cpuid_order(64), 6);
}
