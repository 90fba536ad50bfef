/* pci.c: PCI bus 0 through the legacy configuration ports, capabilities, BAR sizing and
   assignment, uncached MMIO mappings, MSI-X tables, and a bump allocator for DMA memory. */
#include "probe.h"

#define PCI_ADDR_PORT 0xcf8
#define PCI_DATA_PORT 0xcfc
#define PCI_COMMAND 0x04
#define PCI_CMD_MEM (1u << 1)
#define PCI_CMD_MASTER (1u << 2)
#define PCI_CMD_INTX_OFF (1u << 10)
#define PCI_STATUS 0x06
#define PCI_STATUS_CAPS (1u << 4)
#define PCI_CAP_PTR 0x34
#define PCI_CAP_MSIX 0x11
#define MSIX_ENABLE (1u << 15)
#define MSIX_FMASK (1u << 14)

/* Unassigned memory BARs are placed here (free on cellvm; QEMU's firmware assigns its own). */
#define BAR_WINDOW_START 0xc0000000ULL
#define BAR_WINDOW_END 0xe0000000ULL
static u64 bar_next = BAR_WINDOW_START;

/* pci_assign=all: ignore firmware-assigned memory BARs and place them all in the window. */
static int assign_all(void)
{
	char v[16];
	return cmdline_get("pci_assign", v, sizeof(v)) && !strcmp(v, "all");
}

static u32 cfg_addr(const struct pci_dev *d, u32 off)
{
	return 0x80000000u | ((u32)d->bus << 16) | ((u32)d->dev << 11) | ((u32)d->fn << 8) | (off & 0xfc);
}

u32 pci_read32(const struct pci_dev *d, u32 off)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	return inl(PCI_DATA_PORT);
}

u16 pci_read16(const struct pci_dev *d, u32 off)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	return inw((u16)(PCI_DATA_PORT + (off & 2)));
}

u8 pci_read8(const struct pci_dev *d, u32 off)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	return inb((u16)(PCI_DATA_PORT + (off & 3)));
}

void pci_write32(const struct pci_dev *d, u32 off, u32 v)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	outl(PCI_DATA_PORT, v);
}

void pci_write16(const struct pci_dev *d, u32 off, u16 v)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	outw((u16)(PCI_DATA_PORT + (off & 2)), v);
}

void pci_write8(const struct pci_dev *d, u32 off, u8 v)
{
	outl(PCI_ADDR_PORT, cfg_addr(d, off));
	outb((u16)(PCI_DATA_PORT + (off & 3)), v);
}

/* Bus 0, every device, functions 1-7 only behind a multi-function function 0. */
int pci_scan(struct pci_dev *out, int max)
{
	int n = 0;
	for (u8 dev = 0; dev < 32; dev++) {
		for (u8 fn = 0; fn < 8; fn++) {
			struct pci_dev d = { .bus = 0, .dev = dev, .fn = fn };
			u32 id = pci_read32(&d, 0);
			if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
				if (fn == 0)
					break;
				continue;
			}
			d.vendor = (u16)id;
			d.device = (u16)(id >> 16);
			d.class = pci_read32(&d, 0x08) >> 8;
			d.hdr = pci_read8(&d, 0x0e);
			pr("probe: pci 00:%02x.%x %04x:%04x class %06x header %u\n", dev, fn, d.vendor, d.device,
			   d.class, d.hdr & 0x7f);
			if (n < max)
				out[n++] = d;
			if (fn == 0 && !(d.hdr & 0x80))
				break;
		}
	}
	return n;
}

/* Walks the capability list from start (0: the head) for the next capability with this ID. */
u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 start)
{
	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	u8 p = start ? pci_read8(d, (u32)start + 1) : pci_read8(d, PCI_CAP_PTR);
	for (int guard = 0; p >= 0x40 && guard < 48; guard++) {
		p &= 0xfc;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, (u32)p + 1);
	}
	return 0;
}

/* Sizes every BAR (all ones, read back, restore) with decoding off, assigns unassigned memory
   BARs from the probe's window, maps memory BARs uncached, then enables memory space and bus
   mastering (INTx off: the probe uses MSI-X). */
void pci_setup_bars(struct pci_dev *d)
{
	if (d->bars_done)
		return;
	d->bars_done = 1;
	if ((d->hdr & 0x7f) != 0) {
		pr("probe: pci 00:%02x.%x: header type %u, BARs not handled\n", d->dev, d->fn, d->hdr & 0x7f);
		return;
	}
	u16 cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, (u16)(cmd & ~(PCI_CMD_MEM | 1u)));
	for (int i = 0; i < 6; i++) {
		u32 off = 0x10 + 4 * (u32)i;
		u32 lo = pci_read32(d, off);
		pci_write32(d, off, 0xffffffffu);
		u32 mlo = pci_read32(d, off);
		pci_write32(d, off, lo);
		if (lo & 1) {
			d->bar_io[i] = 1;
			d->bar[i] = lo & ~3u;
			d->bar_size[i] = mlo ? (u64)(~(mlo & ~3u) & 0xffff) + 1 : 0;
			if (d->bar_size[i])
				pr("probe: pci 00:%02x.%x BAR%d: I/O 0x%lx size 0x%lx\n", d->dev, d->fn, i, d->bar[i],
				   d->bar_size[i]);
			continue;
		}
		int is64 = ((lo >> 1) & 3) == 2;
		u64 addr = lo & ~0xfull, mask = (u64)(mlo & ~0xfu) | 0xffffffff00000000ULL;
		if (is64 && i < 5) {
			u32 hi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, 0xffffffffu);
			u32 mhi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, hi);
			addr |= (u64)hi << 32;
			mask = (mask & 0xffffffffULL) | ((u64)mhi << 32);
		}
		d->bar_64[i] = (u8)is64;
		d->bar_size[i] = (mlo & ~0xfu) ? ~mask + 1 : 0;
		if (d->bar_size[i]) {
			const char *how = "firmware";
			if (addr && assign_all()) {
				pr("probe: pci 00:%02x.%x BAR%d: ignoring firmware address 0x%lx (pci_assign=all)\n",
				   d->dev, d->fn, i, addr);
				addr = 0;
			}
			if (!addr) {
				u64 size = d->bar_size[i];
				u64 a = (bar_next + size - 1) & ~(size - 1);
				if (a + size > BAR_WINDOW_END)
					test_fail("no room for BAR%d (size 0x%lx) of 00:%02x.%x in the BAR window", i,
						  size, d->dev, d->fn);
				bar_next = a + size;
				pci_write32(d, off, (u32)a);
				if (is64)
					pci_write32(d, off + 4, (u32)(a >> 32));
				addr = a;
				how = "assigned by the probe";
			}
			d->bar[i] = addr;
			pr("probe: pci 00:%02x.%x BAR%d: mem%s 0x%lx size 0x%lx%s (%s)\n", d->dev, d->fn, i,
			   is64 ? "64" : "32", addr, d->bar_size[i], (lo & 8) ? " prefetchable" : "", how);
			map_uncached(addr, d->bar_size[i]);
		}
		if (is64)
			i++;
	}
	pci_write16(d, PCI_COMMAND, (u16)(cmd | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_OFF));
	pr("probe: pci 00:%02x.%x command 0x%x -> 0x%x\n", d->dev, d->fn, cmd, pci_read16(d, PCI_COMMAND));
}

/* ---- page tables for MMIO: 2 MiB pages with PCD|PWT (uncached), tables split as needed ---- */
#define PT_POOL 16
#define PTE_P 1ULL
#define PTE_RW 2ULL
#define PTE_US 4ULL
#define PTE_PWT 8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS 0x80ULL
#define PTE_ADDR 0x000ffffffffff000ULL
static u64 pt_pool[PT_POOL][512] __attribute__((aligned(4096)));
static int pt_used;

static u64 *pt_alloc(void)
{
	if (pt_used >= PT_POOL)
		test_fail("out of page-table pages for MMIO mappings");
	return pt_pool[pt_used++];
}

/* The table under *e: allocated if absent; a large page (step bytes per child) is split. */
static u64 *pt_next(u64 *e, u64 child_step, int child_large)
{
	if (!(*e & PTE_P)) {
		u64 *t = pt_alloc();
		*e = (u64)t | PTE_P | PTE_RW | PTE_US;
		return t;
	}
	if (*e & PTE_PS) {
		u64 *t = pt_alloc();
		u64 base = *e & PTE_ADDR & ~0x1fffULL, flags = *e & 0x1f;
		for (u64 i = 0; i < 512; i++)
			t[i] = (base + i * child_step) | flags | (child_large ? PTE_PS : 0);
		*e = (u64)t | PTE_P | PTE_RW | PTE_US;
		return t;
	}
	return (u64 *)(*e & PTE_ADDR);
}

void map_uncached(u64 addr, u64 size)
{
	if (addr + size > (1ULL << 48) || !size)
		test_fail("cannot map MMIO [0x%lx+0x%lx)", addr, size);
	for (u64 p = addr & ~(2 * MiB - 1); p < addr + size; p += 2 * MiB) {
		u64 *pdpt = pt_next(&boot_pml4[(p >> 39) & 511], GiB, 1);
		u64 *pd = pt_next(&pdpt[(p >> 30) & 511], 2 * MiB, 1);
		pd[(p >> 21) & 511] = p | PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_PS;
	}
	__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}

/* ---- MSI-X ---- */

/* Finds MSI-X, maps its table, enables it with the function masked and every entry masked. */
int pci_msix_enable(struct pci_dev *d, struct pci_msix *m)
{
	m->cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
	if (!m->cap)
		return -1;
	u16 ctrl = pci_read16(d, m->cap + 2u);
	u32 tbl = pci_read32(d, m->cap + 4u), pba = pci_read32(d, m->cap + 8u);
	m->nvec = (u16)((ctrl & 0x7ff) + 1);
	pci_setup_bars(d);
	if (d->bar_io[tbl & 7] || !d->bar[tbl & 7])
		test_fail("MSI-X table in BAR%u, which is not an assigned memory BAR", tbl & 7);
	m->table = d->bar[tbl & 7] + (tbl & ~7u);
	m->pba = d->bar[pba & 7] + (pba & ~7u);
	if ((tbl & ~7u) + 16ull * m->nvec > d->bar_size[tbl & 7])
		test_fail("MSI-X table (offset 0x%x, %u entries) outside BAR%u", tbl & ~7u, m->nvec, tbl & 7);
	pr("probe: pci 00:%02x.%x MSI-X cap 0x%x: %u vectors, table 0x%lx (BAR%u+0x%x), PBA 0x%lx\n", d->dev,
	   d->fn, m->cap, m->nvec, m->table, tbl & 7, tbl & ~7u, m->pba);
	pci_write16(d, m->cap + 2u, (u16)(ctrl | MSIX_ENABLE | MSIX_FMASK));
	for (u16 i = 0; i < m->nvec; i++)
		mmio_write32(m->table + 16ull * i + 12, 1);
	return 0;
}

/* Entry: fixed delivery, edge, physical destination apic_id, vector; then unmasked. */
void pci_msix_set(const struct pci_msix *m, u16 entry, u8 vector, u8 apic_id)
{
	u64 e = m->table + 16ull * entry;
	mmio_write32(e + 0, 0xfee00000u | ((u32)apic_id << 12));
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, vector);
	mmio_write32(e + 12, 0);
}

void pci_msix_unmask_function(const struct pci_dev *d, const struct pci_msix *m)
{
	u16 ctrl = pci_read16(d, m->cap + 2u);
	pci_write16(d, m->cap + 2u, (u16)((ctrl | MSIX_ENABLE) & ~MSIX_FMASK));
	ctrl = pci_read16(d, m->cap + 2u);
	if ((ctrl & (MSIX_ENABLE | MSIX_FMASK)) != MSIX_ENABLE)
		test_fail("MSI-X message control 0x%x: enable/mask did not stick", ctrl);
}

/* ---- DMA memory: a bump allocator over the largest usable RAM range above the image ---- */
static u64 heap_next, heap_end;

static void heap_init(void)
{
	u64 floor = ((u64)_end + 0xfff) & ~0xfffULL;
	for (int i = 0; i < bi.nmem; i++) {
		const struct mem_range *m = &bi.mem[i];
		if (m->type != 1)
			continue;
		u64 s = m->addr > floor ? m->addr : floor, e = (m->addr + m->size) & ~0xfffULL;
		if (bi.initrd_size && bi.initrd_addr >= s && bi.initrd_addr < e)
			e = bi.initrd_addr & ~0xfffULL;	/* keep out of an initramfs */
		if (s < e && e - s > heap_end - heap_next) {
			heap_next = (s + 0xfff) & ~0xfffULL;
			heap_end = e;
		}
	}
	if (heap_end <= heap_next)
		test_fail("no usable RAM above the probe image for DMA buffers");
}

u64 heap_alloc(u64 size, u64 align)
{
	if (!heap_end)
		heap_init();
	u64 a = (heap_next + align - 1) & ~(align - 1);
	if (a + size > heap_end || a + size < a)
		test_fail("out of memory: 0x%lx bytes wanted, 0x%lx free", size, heap_end - heap_next);
	heap_next = a + size;
	return a;
}

u64 heap_free_bytes(void)
{
	if (!heap_end)
		heap_init();
	return heap_end - heap_next;
}
