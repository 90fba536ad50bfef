/* layout.h: the guest-physical memory map shared by the loaders, ACPI and the VMM. */
#ifndef CELLVM_LAYOUT_H
#define CELLVM_LAYOUT_H

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* Low memory (below 1 MiB). */
#define LAYOUT_BOOT_GDT        0x0500ULL   /* 64-bit boot GDT (4 entries) */
#define LAYOUT_BOOT_IDT        0x0520ULL   /* empty IDT */
#define LAYOUT_PVH_START_INFO  0x6000ULL   /* struct hvm_start_info */
#define LAYOUT_PVH_MEMMAP      0x6040ULL   /* hvm_memmap_table_entry[] after start_info */
#define LAYOUT_ZERO_PAGE       0x7000ULL   /* Linux struct boot_params */
#define LAYOUT_PML4            0x9000ULL   /* boot page tables: PML4, PDPT, 4 PDs */
#define LAYOUT_PDPT            0xa000ULL
#define LAYOUT_PD              0xb000ULL   /* 4 pages: identity map of the first 4 GiB */
#define LAYOUT_CMDLINE         0x20000ULL
#define LAYOUT_CMDLINE_MAX     0x10000ULL  /* 64 KiB */
#define LAYOUT_EBDA_START      0x9fc00ULL  /* MP table lives here */
#define LAYOUT_LOW_RAM_END     0xa0000ULL  /* e820: [0, 0x9fc00) RAM, EBDA reserved */
#define LAYOUT_BIOS_START      0xe0000ULL  /* ACPI tables + RSDP; e820 reserved */
#define LAYOUT_BIOS_END        0x100000ULL
#define LAYOUT_HIGH_RAM_START  0x100000ULL /* kernels load at 1 MiB or above */

/* The 32-bit MMIO gap: RAM stops at 3 GiB and resumes at 4 GiB. */
#define LAYOUT_MMIO_GAP_START  (3ULL * GiB)
#define LAYOUT_MMIO_GAP_END    (4ULL * GiB)
#define LAYOUT_PCI_MMIO_START  0xc0000000ULL /* 32-bit BAR window, 512 MiB */
#define LAYOUT_PCI_MMIO_END    0xe0000000ULL
#define LAYOUT_PCI_ECAM        0xe0000000ULL /* PCIe ECAM for bus 0 only (1 MiB), in MCFG */
#define LAYOUT_PCI_ECAM_SIZE   0x100000ULL
#define LAYOUT_IOAPIC_BASE     0xfec00000ULL
#define LAYOUT_LAPIC_BASE      0xfee00000ULL

/* I/O ports. */
#define PORT_COM1              0x3f8
#define PORT_PCI_CONFIG        0xcf8 /* CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc-0xcff */
#define PORT_DEBUG_EXIT        0xf4
#define PORT_I8042_COMMAND     0x64
#define PORT_RESET_CF9         0xcf9
#define PORT_ACPI_SLEEP_CTL    0x3c0  /* FADT sleep control/status register (HW-reduced) */
#define PORT_ACPI_RESET        0x3c1  /* FADT reset register */
#define ACPI_RESET_VALUE       0x01
/* ACPI fixed hardware (full, not HW-reduced, ACPI: every kernel's ACPI driver takes events
 * from it; the HW-reduced GED needs CONFIG_ACPI_GENERIC_GED, which Debian's kernels lack). */
#define PORT_ACPI_PM1_EVT      0x600  /* PM1a_STS (2 bytes), PM1a_EN (2 bytes) */
#define PORT_ACPI_PM1_CNT      0x604  /* PM1a_CNT (2 bytes) */
#define PORT_ACPI_PM_TMR       0x608  /* PM_TMR (4 bytes, 32-bit counter at 3.579545 MHz) */
#define PORT_ACPI_GPE0         0x620  /* GPE0_STS (2 bytes), GPE0_EN (2 bytes) */
#define PORT_ACPI_PCIHP        0xae00 /* PCI hotplug: PCIU, PCID, B0EJ (4 bytes each) */
#define PORT_ACPI_CPUHP        0xaf00 /* CPU hotplug: present, insert, remove bitmaps; eject (acpi.h) */
#define ACPI_SCI_IRQ           9      /* level-triggered, active high (MADT override) */
#define ACPI_GPE_PCIHP         1      /* GPE0 bit of PCI hotplug events (\_GPE._E01) */
#define ACPI_GPE_CPUHP         2      /* GPE0 bit of CPU hotplug events (\_GPE._E02) */

#endif
