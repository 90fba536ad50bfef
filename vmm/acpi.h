/* acpi.h: the ACPI tables (RSDP, XSDT, FADT, DSDT, MADT, MCFG) and the MP table cellvm gives a guest. */
#ifndef CELLVM_ACPI_H
#define CELLVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct machine_desc {
	unsigned int nr_cpus;        /* possible vCPUs; APIC IDs are 0..nr_cpus-1 */
	unsigned int nr_boot_cpus;   /* of those, enabled at boot (0: all); the rest can be hotplugged */
	uint64_t ioapic_base;        /* LAYOUT_IOAPIC_BASE */
	uint64_t lapic_base;         /* LAYOUT_LAPIC_BASE */
	uint16_t sleep_ctl_port;     /* FADT sleep control/status register (I/O) */
	uint16_t reset_port;         /* FADT reset register (I/O) */
	uint8_t reset_value;
	/* Full (not HW-reduced) ACPI when pm1_evt_port is not 0: PM1 event/control blocks, PM
	 * timer, GPE0, the SCI, a FACS, the fixed power button and ACPI PCI hotplug slots. */
	uint16_t pm1_evt_port;       /* PM1a_EVT_BLK (4 bytes) */
	uint16_t pm1_cnt_port;       /* PM1a_CNT_BLK (2 bytes) */
	uint16_t pm_tmr_port;        /* PM_TMR_BLK (4 bytes, 32-bit) */
	uint16_t gpe0_port;          /* GPE0_BLK (4 bytes: 2 status, 2 enable) */
	uint16_t pcihp_port;         /* PCIU, PCID, B0EJ (acpi_pm.c) */
	uint8_t sci_irq;             /* ISA IRQ of the SCI, level-triggered active high */
	uint8_t pcihp_gpe;           /* GPE0 bit whose _Exx method runs \_SB.PCI0.PCNT */
	uint16_t cpuhp_port;         /* CPU hotplug registers (acpi_pm.c), used when nr_boot_cpus < nr_cpus */
	uint8_t cpuhp_gpe;           /* GPE0 bit whose _Exx method runs \_SB.CSCN */
	/* PCI segment 0 (one host bridge, \_SB.PCI0; type-1 config ports at 0xcf8-0xcff). */
	uint64_t pci_ecam_base;      /* LAYOUT_PCI_ECAM: ECAM of buses 0..pci_last_bus (MCFG) */
	uint8_t pci_last_bus;        /* 0: bus 0 only, so the ECAM window is 1 MiB */
	uint64_t pci_mmio_start;     /* LAYOUT_PCI_MMIO_START: 32-bit BAR window, [start, end) */
	uint64_t pci_mmio_end;       /* LAYOUT_PCI_MMIO_END */
};

/* The CPU hotplug register block (acpi_pm.c serves it, the DSDT's \_SB.CSCN and each CPU's _STA
 * and _EJ0 use it): 256-bit bitmaps, bit n for CPU n. */
#define CPUHP_PRESENT 0x00    /* read-only */
#define CPUHP_INSERT  0x20    /* "arrived" events, write 1 to clear */
#define CPUHP_REMOVE  0x40    /* "please eject" events, write 1 to clear */
#define CPUHP_EJECT   0x60    /* one byte: the guest writes the number of the CPU it ejected */
#define CPUHP_LEN     0x61

/* Writes RSDP, XSDT, FADT (HW-reduced, or full with a FACS: see pm1_evt_port), DSDT (\_S5, COM1, the PCI host bridge PCI0 and the
 * motherboard resources MB00 reserving the ECAM), MADT and MCFG into the buffer buf, which
 * the guest sees at guest-physical buf_gpa, of size buf_len. Returns the number of bytes
 * used, -ENOSPC, or -EINVAL (bad CPU count, APIC/ECAM/BAR window addresses). The RSDP is at
 * buf_gpa (first in the buffer, 16-byte aligned, so a BIOS-area scan finds it). */
long acpi_build(uint8_t *buf, uint64_t buf_gpa, size_t buf_len, const struct machine_desc *m)
	__attribute__((warn_unused_result));

/* The most vCPUs whose MP table fits the 1 KiB EBDA region at LAYOUT_EBDA_START:
 * 16 (floating pointer) + 44 (header) + 20 per CPU + 8 (bus) + 8 (I/O APIC)
 * + 15 * 8 (ISA IRQs but 2) + 2 * 8 (LINT0/1) = 212 + 20n <= 1024, so n <= 40.
 * mptable_build returns -ENOSPC beyond what buf_len holds; the MADT has no such limit,
 * so a VMM may boot larger guests without an MP table. */
#define MPTABLE_EBDA_MAX_CPUS 40

/* Writes an Intel MP table (floating pointer + config table: processors, bus ISA, IOAPIC,
 * ISA IRQs 0-15 as I/O interrupts, LINT0 ExtINT and LINT1 NMI) at buf / buf_gpa.
 * Returns bytes used or -ENOSPC/-EINVAL. */
long mptable_build(uint8_t *buf, uint64_t buf_gpa, size_t buf_len, const struct machine_desc *m)
	__attribute__((warn_unused_result));

#endif
