/* probe.h: shared types, inline CPU helpers and declarations for the probe guest. */
#ifndef PROBE_H
#define PROBE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include "defs.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define COM1 0x3f8
#define EXIT_PORT 0xf4
#define LAPIC_BASE 0xfee00000UL
#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
static inline void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline u16 read_cs(void)
{
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}
/* A pointer to a physical (identity-mapped) address, opaque to the compiler's bounds checks. */
static inline void *phys(u64 a)
{
	__asm__("" : "+r"(a));
	return (void *)a;
}
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)addr = v; }
static inline u8 mmio_read8(u64 addr) { return *(volatile u8 *)addr; }
static inline void mmio_write8(u64 addr, u8 v) { *(volatile u8 *)addr = v; }
static inline u16 mmio_read16(u64 addr) { return *(volatile u16 *)addr; }
static inline void mmio_write16(u64 addr, u16 v) { *(volatile u16 *)addr = v; }
static inline u32 lapic_read(u32 reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(u32 reg, u32 v) { mmio_write32(LAPIC_BASE + reg, v); }

/* Boot information gathered from hvm_start_info or boot_params. */
#define MAX_MEM_RANGES 128
#define CMDLINE_MAX 4096
struct mem_range {
	u64 addr, size;
	u32 type;
};
struct bootinfo {
	int kind;
	const char *kind_name;
	u64 info_addr;
	char cmdline[CMDLINE_MAX];
	u64 cmdline_addr;
	struct mem_range mem[MAX_MEM_RANGES];
	int nmem;
	u64 rsdp;
	u64 initrd_addr, initrd_size;
};
extern struct bootinfo bi;

/* Linker symbols. */
extern char _start_image[], _end[], __bss_start[], __bss_end[];
extern char tramp_start[], tramp_end[];
extern char user_stack_top[];

/* lib.c */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
int strcmp(const char *a, const char *b);
void spin_lock(volatile u32 *l);
void spin_unlock(volatile u32 *l);
int vsnfmt(char *out, size_t n, const char *fmt, va_list ap);
void print_lock_break(void);
void serial_init(void);
void pr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void halt_forever(void);
noreturn void probe_exit(int code);
extern const char *test_name;
noreturn void test_pass(void);
noreturn void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cmdline_get(const char *key, char *out, size_t n);
int parse_u64(const char *s, u64 *out);
int parse_size(const char *s, u64 *out);
int parse_hex(const char *s, u64 *out);
int param_size(const char *key, u64 *out);

/* boot.c */
void boot_parse(u32 kind, u64 info);
u64 mem_top(void);

/* cpu.c */
void cpu_init(void);
void idt_load(void);
void map_memory(u64 top);
u64 tsc_hz(void);
void delay_us(u64 us);
void run_user(void (*fn)(void *), void *arg);
void lapic_eoi(void);
void irq_register(int vector, void (*fn)(int vector));
extern volatile u64 timer_ticks;

/* head.S */
void enter_user(void (*fn)(void *), void *arg, void *stack);
extern char isr_stubs[], user_exit[];
noreturn void user_return(void);
extern u64 boot_pml4[], boot_pdpt[];
extern u64 gdt[];

/* acpi.c */
int find_cpus(u8 *ids, int max, const char **source);
struct acpi_power {
	u16 sleep_port;   /* FADT SLEEP_CONTROL_REG (HW-reduced ACPI), 0 if absent */
	u16 reset_port;   /* FADT RESET_REG, 0 if absent */
	u8 reset_value;
	int hw_reduced;   /* FADT flag HW_REDUCED_ACPI */
	u16 pm1_evt;      /* PM1a_EVT_BLK (full ACPI), 0 if absent */
	u16 pm1_cnt;      /* PM1a_CNT_BLK */
	u16 gpe0;         /* GPE0_BLK */
	u8 gpe0_len;
	u16 sci;          /* SCI_INT */
};
int acpi_power_regs(struct acpi_power *p);

/* acpi_events.c */
noreturn void acpi_poweroff(const struct acpi_power *p);
noreturn void test_power_button(void);
noreturn void test_nmi(void);
noreturn void test_cpu_hotplug(void);

/* pci.c */
#define PCI_MAX_DEVS 64
struct pci_dev {
	u8 bus, dev, fn, hdr;
	u16 vendor, device;
	u32 class;		/* class << 16 | subclass << 8 | prog-if */
	u64 bar[6], bar_size[6];
	u8 bar_io[6], bar_64[6];
	u8 bars_done;
};
struct pci_msix {
	u8 cap;
	u16 nvec;
	u64 table, pba;
};
u32 pci_read32(const struct pci_dev *d, u32 off);
u16 pci_read16(const struct pci_dev *d, u32 off);
u8 pci_read8(const struct pci_dev *d, u32 off);
void pci_write32(const struct pci_dev *d, u32 off, u32 v);
void pci_write16(const struct pci_dev *d, u32 off, u16 v);
void pci_write8(const struct pci_dev *d, u32 off, u8 v);
int pci_scan(struct pci_dev *out, int max);
u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 start);
void pci_setup_bars(struct pci_dev *d);
void map_uncached(u64 addr, u64 size);
int pci_msix_enable(struct pci_dev *d, struct pci_msix *m);
void pci_msix_set(const struct pci_msix *m, u16 entry, u8 vector, u8 apic_id);
void pci_msix_unmask_function(const struct pci_dev *d, const struct pci_msix *m);
u64 heap_alloc(u64 size, u64 align);
u64 heap_free_bytes(void);

/* tests */
noreturn void test_smp(void);
int smp_start_one(u32 apic_id, u64 seconds);
noreturn void test_memory(void);
noreturn void test_timer(void);
noreturn void test_bootparams(void);
void ap_main(void);
noreturn void test_blk_rw(void);
noreturn void test_vsock_connect(void);
noreturn void test_vsock_listen(void);
noreturn void test_vsock_stream(void);
noreturn void test_blk_flush(void);
noreturn void test_blk_id(void);
noreturn void test_blk_ro(void);
noreturn void test_blk_mq(void);
noreturn void test_blk_backend_death(void);
noreturn void test_blk_reconnect(void);
noreturn void test_blk_hotplug(void);
noreturn void test_net_tx(void);
noreturn void test_net_rx(void);
noreturn void test_net_mq(void);
noreturn void test_net_mq_one(void);
noreturn void test_net_ctrl_bad(void);
noreturn void test_net_ctrl_ring_bad(void);

#endif
