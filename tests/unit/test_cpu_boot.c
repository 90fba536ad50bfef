/* test_cpu_boot.c: the boot GDT, page tables and entry registers for PVH and 64-bit Linux entry. */
#include <criterion/criterion.h>
#include <errno.h>

#include "cpu_boot.h"
#include "layout.h"

static struct guest_mem mem;

static void setup(void)
{
	cr_assert_eq(guest_mem_create(&mem, 8 << 20, 0), 0);
}

static void teardown(void)
{
	guest_mem_destroy(&mem);
}

TestSuite(cpu_boot, .init = setup, .fini = teardown);

Test(cpu_boot, gdt_has_flat_code64_at_boot_cs)
{
	cr_assert_eq(cpu_boot_write_tables(&mem), 0);
	uint64_t *gdt = gpa_to_hva(&mem, LAYOUT_BOOT_GDT, 40);

	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[BOOT_SEL_CODE64 / 8], 0x00af9b000000ffffULL);
	cr_assert_eq(gdt[BOOT_SEL_CODE32 / 8], 0x00cf9b000000ffffULL);
	cr_assert_eq(gdt[BOOT_SEL_DATA / 8], 0x00cf93000000ffffULL);
}

Test(cpu_boot, page_tables_identity_map_4G_with_2M_pages)
{
	cr_assert_eq(cpu_boot_write_tables(&mem), 0);
	uint64_t *pml4 = gpa_to_hva(&mem, LAYOUT_PML4, 8);
	uint64_t *pdpt = gpa_to_hva(&mem, LAYOUT_PDPT, 32);
	uint64_t *pd = gpa_to_hva(&mem, LAYOUT_PD, 4 * 4096);

	cr_assert_eq(pml4[0], LAYOUT_PDPT | 3);
	cr_assert_eq(pdpt[3], (LAYOUT_PD + 3 * 4096) | 3);
	cr_assert_eq(pd[0], 0x83);
	cr_assert_eq(pd[2047], (2047ULL << 21) | 0x83);
}

Test(cpu_boot, tables_need_low_memory)
{
	struct guest_mem empty = { .fd = -1 };

	cr_assert_eq(cpu_boot_write_tables(&empty), -EFAULT);
}

Test(cpu_boot, linux64_sregs_long_mode)
{
	struct kvm_sregs s = { 0 };

	cpu_boot_sregs(&s, BOOT_ENTRY_LINUX64);

	cr_assert_eq(s.cs.selector, BOOT_SEL_CODE64);
	cr_assert_eq(s.cs.l, 1);
	cr_assert_eq(s.ds.selector, BOOT_SEL_DATA);
	cr_assert_eq(s.efer, 0x500);
	cr_assert_eq(s.cr3, LAYOUT_PML4);
	cr_assert(s.cr0 & (1ULL << 31));
	cr_assert(s.cr4 & (1ULL << 5));
}

Test(cpu_boot, pvh_sregs_protected_mode_no_paging)
{
	struct kvm_sregs s = { 0 };

	cpu_boot_sregs(&s, BOOT_ENTRY_PVH32);

	cr_assert_eq(s.cs.selector, BOOT_SEL_CODE32);
	cr_assert_eq(s.cs.db, 1);
	cr_assert_eq(s.cs.l, 0);
	cr_assert_eq(s.cs.limit, 0xffffffffU);
	cr_assert_eq(s.cr0 & (1ULL << 31), 0);
	cr_assert_eq(s.cr0 & 1, 1);
	cr_assert_eq(s.efer, 0);
}

Test(cpu_boot, regs_carry_boot_data_in_rsi_or_rbx)
{
	struct boot_result linux64 = { .mode = BOOT_ENTRY_LINUX64, .entry = 0x100200, .boot_data = 0x7000 };
	struct boot_result pvh = { .mode = BOOT_ENTRY_PVH32, .entry = 0x100000, .boot_data = 0x6000 };
	struct kvm_regs r;

	cpu_boot_regs(&r, &linux64);
	cr_assert_eq(r.rip, 0x100200);
	cr_assert_eq(r.rsi, 0x7000);
	cr_assert_eq(r.rflags, 2);
	cpu_boot_regs(&r, &pvh);
	cr_assert_eq(r.rbx, 0x6000);
	cr_assert_eq(r.rsi, 0);
}
