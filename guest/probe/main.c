/* main.c: common 64-bit entry after boot, test dispatch and the small tests (hello, triple-fault, idle). */
#include "probe.h"

void probe_main(u32 kind, u64 info);

static noreturn void test_hello(void)
{
	pr("Hello from the cellvm probe guest (boot %s)\n", bi.kind_name);
	test_pass();
}

static noreturn void test_triple_fault(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) d = { 0, 0 };
	pr("probe: loading an empty IDT and faulting; expect a triple fault\n");
	__asm__ volatile("cli; lidt %0" : : "m"(d));
	/* PML4 slot 1 is not present: this read raises #PF, then #DF, then a triple fault. */
	(void)*(volatile u64 *)0x8000000000ULL;
	__asm__ volatile("ud2");
	test_fail("still running after the faults");
}

static noreturn void test_idle(void)
{
	pr("probe: idle\n");
	for (;;)
		__asm__ volatile("sti; hlt");
}


/* Powers off the way Linux does: SLP_TYP from \_S5 with SLP_EN, in the PM1a control block
 * (full ACPI) or the sleep control register (HW-reduced ACPI). */
static noreturn void test_poweroff(void)
{
	struct acpi_power p;
	if (acpi_power_regs(&p))
		test_fail("no FADT");
	acpi_poweroff(&p);
}

/* Resets through the FADT reset register, as Linux's reboot=acpi does. */
static noreturn void test_reboot(void)
{
	struct acpi_power p;
	if (acpi_power_regs(&p) || !p.reset_port)
		test_fail("no FADT reset register in System I/O space");
	pr("probe: reboot: writing 0x%x to port 0x%x\n", p.reset_value, p.reset_port);
	outb(p.reset_port, p.reset_value);
	test_fail("still running after the ACPI reset write");
}

struct test {
	const char *name;
	void (*fn)(void);
};

static const struct test tests[] = {
	{ "hello", test_hello },
	{ "smp", test_smp },
	{ "memory", test_memory },
	{ "timer", test_timer },
	{ "bootparams", test_bootparams },
	{ "triple-fault", test_triple_fault },
	{ "idle", test_idle },
	{ "poweroff", test_poweroff },
	{ "reboot", test_reboot },
	{ "power-button", test_power_button },
	{ "nmi", test_nmi },
	{ "cpu-hotplug", test_cpu_hotplug },
	{ "blk-rw", test_blk_rw },
	{ "blk-flush", test_blk_flush },
	{ "blk-id", test_blk_id },
	{ "blk-ro", test_blk_ro },
	{ "blk-mq", test_blk_mq },
	{ "blk-backend-death", test_blk_backend_death },
	{ "blk-reconnect", test_blk_reconnect },
	{ "hotplug-blk", test_blk_hotplug },
	{ "vsock-connect", test_vsock_connect },
	{ "vsock-listen", test_vsock_listen },
	{ "vsock-stream", test_vsock_stream },
	{ "net-tx", test_net_tx },
	{ "net-rx", test_net_rx },
	{ "net-mq", test_net_mq },
	{ "net-mq-one", test_net_mq_one },
	{ "net-ctrl-bad", test_net_ctrl_bad },
	{ "net-ctrl-ring-bad", test_net_ctrl_ring_bad },
};

static void print_boot(void)
{
	pr("probe: boot %s, info at 0x%lx, cmdline '%s'\n", bi.kind_name, bi.info_addr, bi.cmdline);
	for (int i = 0; i < bi.nmem; i++)
		pr("probe: mem [0x%lx-0x%lx) type %u\n", bi.mem[i].addr, bi.mem[i].addr + bi.mem[i].size,
		   bi.mem[i].type);
}

void probe_main(u32 kind, u64 info)
{
	boot_parse(kind, info);
	serial_init();
	cpu_init();
	u64 top = mem_top();
	map_memory(top > 4 * GiB ? top : 4 * GiB);
	char name[64] = "";
	cmdline_get("test", name, sizeof(name));
	/* hello is the start-up latency test: it prints one line and nothing else. */
	if (strcmp(name, "hello"))
		print_boot();
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (!strcmp(name, tests[i].name)) {
			test_name = tests[i].name;
			tests[i].fn();
		}
	}
	pr("probe: unknown test '%s'\n", name);
	probe_exit(1);
}
