/* pci.h: a PCI host bridge with one bus: configuration space (0xCF8/0xCFC and ECAM) and BARs. */
#ifndef CELLVM_PCI_H
#define CELLVM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define PCI_MAX_DEVICES 32
#define PCI_CFG_SIZE    256
#define PCI_NUM_BARS    6

struct pci_device;

struct pci_device_ops {
	/* Called after the guest wrote config space at [off, off+len) (already stored). */
	void (*cfg_written)(struct pci_device *dev, unsigned int off, unsigned int len);
	/* BAR bar now decodes at addr (memory space enabled) or not at all (addr 0). */
	void (*bar_mapped)(struct pci_device *dev, unsigned int bar, uint64_t addr);
};

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t cfg_wmask[PCI_CFG_SIZE];    /* bits the guest may write */
	uint32_t bar_size[PCI_NUM_BARS];     /* 0: BAR unused; memory BARs only, 32-bit */
	uint64_t bar_mapped_at[PCI_NUM_BARS];
	uint64_t bar_base[PCI_NUM_BARS];     /* where the allocator placed it (pci_bus_remove) */
	const struct bus_ops *bar_ops[PCI_NUM_BARS]; /* accesses to the BAR, offset-relative */
	int bar_range[PCI_NUM_BARS];         /* movable range index on the MMIO bus */
	unsigned int cap_end;                /* where the next capability goes */
	const struct pci_device_ops *ops;
	void *opaque;
	unsigned int slot;
	const char *name;
};

struct pci_bus {
	struct pci_device *devices[PCI_MAX_DEVICES];
	struct pci_device host_bridge;
	uint32_t config_address;             /* last value written to 0xCF8 */
	uint64_t next_mmio;                  /* BAR allocator in the 32-bit window */
	struct bus *mmio;                    /* where BARs are mapped */
	/* Byte writes to 0xCF9 (reset control) share CONFIG_ADDRESS's dword: forwarded here. */
	void (*reset_control)(void *opaque, uint8_t value);
	void *reset_opaque;
};

/* Sets up the bus and claims 0xCF8-0xCFF on pio and the ECAM window on mmio. */
int pci_bus_init(struct pci_bus *pci, struct bus *pio, struct bus *mmio)
	__attribute__((warn_unused_result));
/* Fills identity registers (vendor, device, class, subsystem) of a new device. */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id);
/* Adds a 32-bit memory BAR of size (a power of two >= 4 KiB), assigned from the window. */
int pci_device_add_bar(struct pci_bus *pci, struct pci_device *dev, unsigned int bar, uint32_t size)
	__attribute__((warn_unused_result));
/* Appends a capability (cap[0] = ID; cap[1] is filled in) and returns its offset or -ENOSPC. */
int pci_device_add_cap(struct pci_device *dev, const uint8_t *cap, unsigned int len);
/* Puts dev in the first free slot; returns the slot or -ENOSPC. */
int pci_bus_add(struct pci_bus *pci, struct pci_device *dev) __attribute__((warn_unused_result));

/* Takes dev off the bus: its slot and its BARs' ranges on the MMIO bus (the BAR window is
 * given back when it was the last one handed out). With no vCPU dispatching (vm_pause). */
void pci_bus_remove(struct pci_bus *pci, struct pci_device *dev);
/* The first free slot, or -ENOSPC when all 31 are taken. */
int pci_bus_free_slot(const struct pci_bus *pci);

/* Config access by bus/device/function address, as both mechanisms use it (tests too). */
uint32_t pci_cfg_read(struct pci_bus *pci, unsigned int devfn, unsigned int off, unsigned int len);
void pci_cfg_write(struct pci_bus *pci, unsigned int devfn, unsigned int off, unsigned int len,
		   uint32_t val);

#endif
