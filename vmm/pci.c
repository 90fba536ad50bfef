/* pci.c: PCI bus 0 behind a host bridge: type-1 config ports, ECAM, 32-bit memory BARs, capabilities. */
#include "pci.h"

#include <errno.h>
#include <string.h>

#include "layout.h"
#include "log.h"

#define PCI_COMMAND        0x04
#define PCI_COMMAND_MEMORY 0x02
#define PCI_COMMAND_MASTER 0x04
#define PCI_STATUS         0x06
#define PCI_STATUS_CAP     0x10
#define PCI_BAR0           0x10
#define PCI_CAP_PTR        0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_FIRST_CAP      0x40
#define CF8_ENABLE         0x80000000U

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(dev->cfg, 0, sizeof(dev->cfg));
	memset(dev->cfg_wmask, 0, sizeof(dev->cfg_wmask));
	put16(dev->cfg + 0x00, vendor);
	put16(dev->cfg + 0x02, device);
	put32(dev->cfg + 0x08, class_code << 8 | 0x01); /* class, revision 1 */
	put16(dev->cfg + 0x2c, subsys_vendor);
	put16(dev->cfg + 0x2e, subsys_id);
	put16(dev->cfg_wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x400);
	dev->cfg_wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_end = PCI_FIRST_CAP;
	for (int i = 0; i < PCI_NUM_BARS; i++)
		dev->bar_range[i] = -1;
}

int pci_device_add_bar(struct pci_bus *pci, struct pci_device *dev, unsigned int bar, uint32_t size)
{
	uint64_t addr = (pci->next_mmio + size - 1) & ~((uint64_t)size - 1);
	int idx;

	if (bar >= PCI_NUM_BARS || size < 4096 || (size & (size - 1)) ||
	    addr + size > LAYOUT_PCI_MMIO_END)
		return -EINVAL;
	idx = bus_register_movable(pci->mmio, size, dev->bar_ops[bar], dev->opaque, dev->name);
	if (idx < 0)
		return idx;
	dev->bar_range[bar] = idx;
	dev->bar_size[bar] = size;
	dev->bar_base[bar] = addr;
	put32(dev->cfg_wmask + PCI_BAR0 + 4 * bar, ~(size - 1));
	put32(dev->cfg + PCI_BAR0 + 4 * bar, (uint32_t)addr); /* firmware-style assignment */
	pci->next_mmio = addr + size;
	return 0;
}

int pci_device_add_cap(struct pci_device *dev, const uint8_t *cap, unsigned int len)
{
	unsigned int off = dev->cap_end;
	uint8_t *link = &dev->cfg[PCI_CAP_PTR];

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	while (*link)
		link = &dev->cfg[*link + 1];
	*link = (uint8_t)off;
	memcpy(dev->cfg + off, cap, len);
	dev->cfg[off + 1] = 0;
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP;
	dev->cap_end = (off + len + 3) & ~3U;
	return (int)off;
}

/* Re-evaluates where each BAR decodes after the command register or a BAR changed. */
static void pci_update_bars(struct pci_bus *pci, struct pci_device *dev)
{
	bool mem_on = dev->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY;

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t addr = get32(dev->cfg + PCI_BAR0 + 4 * i) & ~0xfULL;
		uint64_t at = mem_on && addr ? addr : 0;

		if (!dev->bar_size[i] || at == dev->bar_mapped_at[i])
			continue;
		bus_move(pci->mmio, dev->bar_range[i], addr, at != 0);
		dev->bar_mapped_at[i] = at;
		if (dev->ops && dev->ops->bar_mapped)
			dev->ops->bar_mapped(dev, i, at);
	}
}

static struct pci_device *pci_lookup(struct pci_bus *pci, unsigned int devfn)
{
	if (devfn & 7)
		return NULL; /* single-function devices only */
	return pci->devices[(devfn >> 3) & 31];
}

uint32_t pci_cfg_read(struct pci_bus *pci, unsigned int devfn, unsigned int off, unsigned int len)
{
	struct pci_device *dev = pci_lookup(pci, devfn);
	uint32_t v = 0;

	if (!dev)
		return 0xffffffffU >> (32 - 8 * len);
	if (off + len > PCI_CFG_SIZE)
		return 0; /* extended config space: nothing there */
	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_write(struct pci_bus *pci, unsigned int devfn, unsigned int off, unsigned int len,
		   uint32_t val)
{
	struct pci_device *dev = pci_lookup(pci, devfn);

	if (!dev || off + len > PCI_CFG_SIZE)
		return;
	for (unsigned int i = 0; i < len; i++) {
		uint8_t m = dev->cfg_wmask[off + i], b = (uint8_t)(val >> (8 * i));
		dev->cfg[off + i] = (uint8_t)((dev->cfg[off + i] & ~m) | (b & m));
	}
	if (off < PCI_BAR0 + 4 * PCI_NUM_BARS && off + len > PCI_COMMAND)
		pci_update_bars(pci, dev);
	if (dev->ops && dev->ops->cfg_written)
		dev->ops->cfg_written(dev, off, len);
}

static uint32_t load_le(const uint8_t *d, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *d, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0;
}

/* 0xCF8: CONFIG_ADDRESS (32-bit); 0xCFC-0xCFF: CONFIG_DATA for the addressed register. */
static bool cf8_target(struct pci_bus *pci, uint64_t off, uint32_t len, unsigned int *devfn,
		       unsigned int *reg)
{
	uint32_t a = pci->config_address;

	if (off < 4 || !(a & CF8_ENABLE) || ((a >> 16) & 0xff) != 0 || (off & 3) + len > 4)
		return false;
	*devfn = (a >> 8) & 0xff;
	*reg = (a & 0xfc) + (unsigned int)(off - 4);
	return true;
}

static void cf8_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct pci_bus *pci = opaque;
	unsigned int devfn, reg;

	if (off == 0 && len == 4)
		store_le(d, len, pci->config_address);
	else if (cf8_target(pci, off, len, &devfn, &reg))
		store_le(d, len, pci_cfg_read(pci, devfn, reg, len));
	else
		memset(d, 0xff, len);
}

static void cf8_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct pci_bus *pci = opaque;
	unsigned int devfn, reg;

	if (off == 0 && len == 4)
		pci->config_address = load_le(d, 4);
	else if (off == 1 && len == 1 && pci->reset_control)
		pci->reset_control(pci->reset_opaque, d[0]);
	else if (cf8_target(pci, off, len, &devfn, &reg))
		pci_cfg_write(pci, devfn, reg, len, load_le(d, len));
}

/* ECAM: bus 0 only; offset = devfn << 12 | register. */
static void ecam_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	unsigned int reg = off & 0xfff;

	if (len > 4 || (reg & 3) + len > 4)
		memset(d, 0xff, len);
	else
		store_le(d, len, pci_cfg_read(opaque, (off >> 12) & 0xff, reg, len));
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	unsigned int reg = off & 0xfff;

	if (len <= 4 && (reg & 3) + len <= 4)
		pci_cfg_write(opaque, (off >> 12) & 0xff, reg, len, load_le(d, len));
}

static const struct bus_ops cf8_ops = { .read = cf8_read, .write = cf8_write };
static const struct bus_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

int pci_bus_init(struct pci_bus *pci, struct bus *pio, struct bus *mmio)
{
	int rc;

	memset(pci, 0, sizeof(*pci));
	pci->mmio = mmio;
	pci->next_mmio = LAYOUT_PCI_MMIO_START;
	/* Red Hat's generic PCIe host bridge ID, as QEMU's gpex uses; class: host bridge. */
	pci_device_init(&pci->host_bridge, 0x1b36, 0x0008, 0x060000, 0x1b36, 0x0008);
	pci->host_bridge.name = "host-bridge";
	pci->devices[0] = &pci->host_bridge;
	rc = bus_register(pio, PORT_PCI_CONFIG, 8, &cf8_ops, pci, "pci-cf8");
	if (rc == 0)
		rc = bus_register(mmio, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, &ecam_ops, pci, "pci-ecam");
	return rc;
}

int pci_bus_free_slot(const struct pci_bus *pci)
{
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES; slot++)
		if (!pci->devices[slot])
			return (int)slot;
	return -ENOSPC;
}

int pci_bus_add(struct pci_bus *pci, struct pci_device *dev)
{
	int slot = pci_bus_free_slot(pci);

	if (slot < 0)
		return slot;
	dev->slot = (unsigned int)slot;
	pci->devices[slot] = dev;
	pci_update_bars(pci, dev);
	return slot;
}

void pci_bus_remove(struct pci_bus *pci, struct pci_device *dev)
{
	if (dev->slot && dev->slot < PCI_MAX_DEVICES && pci->devices[dev->slot] == dev)
		pci->devices[dev->slot] = NULL;
	dev->slot = 0;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t assigned = dev->bar_size[i] ? dev->bar_base[i] : 0;

		if (dev->bar_range[i] >= 0)
			bus_unregister(pci->mmio, dev->bar_range[i]);
		if (assigned && assigned + dev->bar_size[i] == pci->next_mmio)
			pci->next_mmio = assigned; /* add/remove cycles do not use the window up */
		dev->bar_range[i] = -1;
		dev->bar_size[i] = 0;
		dev->bar_mapped_at[i] = 0;
	}
}
