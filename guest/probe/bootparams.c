/* bootparams.c: the bootparams test: initrd placement and checksum, command line and memory map from the loader. */
#include "probe.h"

#define E820_RAM 1

struct sum_job {
	u64 addr, size;
	u32 sum;
	int cpl;
};
static struct sum_job job;

static int in_ram(u64 a, u64 size)
{
	for (int i = 0; i < bi.nmem; i++) {
		const struct mem_range *m = &bi.mem[i];
		if (m->type == E820_RAM && a >= m->addr && a + size <= m->addr + m->size)
			return 1;
	}
	return 0;
}

static void check_memmap(void)
{
	int low = 0, high = 0;
	for (int i = 0; i < bi.nmem; i++) {
		if (bi.mem[i].type != E820_RAM)
			continue;
		low |= bi.mem[i].addr < MiB;
		high |= bi.mem[i].addr + bi.mem[i].size > MiB;
	}
	if (!low || !high)
		test_fail("memory map lacks RAM %s 1 MiB", low ? "above" : "below");
}

static void check_cmdline(void)
{
	char v[64];
	if (!bi.cmdline_addr)
		test_fail("no command line pointer");
	if (!cmdline_get("test", v, sizeof(v)) || strcmp(v, "bootparams"))
		test_fail("command line at 0x%lx lacks test=bootparams", bi.cmdline_addr);
}

static void check_initrd(void)
{
	u64 a = bi.initrd_addr, n = bi.initrd_size, want;
	pr("probe: bootparams: initrd at 0x%lx, %lu bytes\n", a, n);
	if (!a || !n)
		test_fail("no initrd passed");
	if (param_size("initrd_size", &want) && want != n)
		test_fail("initrd size %lu, expected %lu", n, want);
	if (!in_ram(a, n))
		test_fail("initrd [0x%lx-0x%lx) is not inside one usable RAM range", a, a + n);
	if (a < (u64)_end)
		test_fail("initrd at 0x%lx overlaps the kernel image (ends 0x%lx)", a, (u64)_end);
}

/* Runs at CPL3: sums the initrd bytes; no I/O here. */
static void user_sum(void *arg)
{
	struct sum_job *j = arg;
	const volatile u8 *p = (const volatile u8 *)j->addr;
	u32 sum = 0;
	for (u64 i = 0; i < j->size; i++)
		sum += p[i];
	j->sum = sum;
	j->cpl = read_cs() & 3;
}

noreturn void test_bootparams(void)
{
	char v[64];
	u64 want = 0;
	int have_want = cmdline_get("initrd_sum", v, sizeof(v));
	if (have_want && !parse_hex(v, &want))
		test_fail("bad value '%s' for initrd_sum", v);
	check_cmdline();
	check_memmap();
	check_initrd();
	pr("probe: bootparams: cmdline from 0x%lx, rsdp 0x%lx, %d memory map entries\n", bi.cmdline_addr, bi.rsdp,
	   bi.nmem);
	job = (struct sum_job){ bi.initrd_addr, bi.initrd_size, 0, 0 };
	run_user(user_sum, &job);
	pr("probe: bootparams: initrd byte sum %x (computed at CPL%d)\n", job.sum, job.cpl);
	if (have_want && job.sum != (u32)want)
		test_fail("initrd byte sum %x, expected %x", job.sum, (u32)want);
	test_pass();
}
