/* elf.c: loads an ELF64 x86-64 executable (PVH kernel or Linux vmlinux) by its program headers. */
#include <elf.h>
#include <inttypes.h>

#include "boot/boot_internal.h"
#include "layout.h"

#define ELF_MAX_PHDRS     128
#define ELF_NOTE_SCAN_MAX (16 * 1024) /* notes beyond this much of a PT_NOTE are ignored */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

bool boot_is_elf(const uint8_t *head, size_t head_len)
{
	return head_len >= SELFMAG && memcmp(head, ELFMAG, SELFMAG) == 0;
}

static int check_ehdr(const struct boot_file *f, const uint8_t *head, size_t head_len,
		      Elf64_Ehdr *eh, char *err, size_t errlen)
{
	uint64_t table_len, table_end;

	if (head_len < sizeof(*eh))
		return boot_fail(err, errlen, BOOT_ERR_FORMAT, "kernel %s: truncated ELF header",
				 f->path);
	memcpy(eh, head, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: not an ELF64 x86-64 or bzImage kernel (ELF class %u, "
				 "machine %u, type %u)", f->path, eh->e_ident[EI_CLASS],
				 eh->e_machine, eh->e_type);
	if (eh->e_phentsize < sizeof(Elf64_Phdr))
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: bad ELF program header size %u", f->path,
				 eh->e_phentsize);
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: bad ELF program header count %u (1 to %u)", f->path,
				 eh->e_phnum, ELF_MAX_PHDRS);
	table_len = (uint64_t)eh->e_phnum * eh->e_phentsize;
	if (__builtin_add_overflow(eh->e_phoff, table_len, &table_end) || table_end > f->size)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: truncated ELF program header table", f->path);
	return 0;
}

static int read_phdrs(const struct boot_file *f, const Elf64_Ehdr *eh, Elf64_Phdr *ph,
		      char *err, size_t errlen)
{
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		int ret = boot_file_read(f, eh->e_phoff + (uint64_t)i * eh->e_phentsize, &ph[i],
					 sizeof(ph[i]), err, errlen);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int check_in_file(const struct boot_file *f, unsigned int i, const Elf64_Phdr *ph,
			 char *err, size_t errlen)
{
	uint64_t end;

	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end) || end > f->size)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: ELF segment %u extends past the end of the file",
				 f->path, i);
	return 0;
}

static int load_segment(struct guest_mem *mem, const struct boot_file *f, unsigned int i,
			const Elf64_Phdr *ph, char *err, size_t errlen)
{
	uint8_t *hva;
	int ret;

	if (ph->p_filesz > ph->p_memsz)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: ELF segment %u has file size above memory size",
				 f->path, i);
	ret = check_in_file(f, i, ph, err, errlen);
	if (ret < 0)
		return ret;
	if (ph->p_paddr < LAYOUT_HIGH_RAM_START)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: ELF segment %u loads at 0x%" PRIx64 ", below 1 MiB",
				 f->path, i, (uint64_t)ph->p_paddr);
	hva = gpa_to_hva(mem, ph->p_paddr, ph->p_memsz);
	if (!hva)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT,
				 "kernel %s: ELF segment %u (0x%" PRIx64 ", %" PRIu64
				 " bytes) does not fit in guest RAM (%" PRIu64 " bytes)", f->path, i,
				 (uint64_t)ph->p_paddr, (uint64_t)ph->p_memsz, mem->ram_size);
	ret = boot_file_read(f, ph->p_offset, hva, ph->p_filesz, err, errlen);
	if (ret < 0)
		return ret;
	memset(hva + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/* Returns 1 and sets *entry if buf holds a Xen PHYS32_ENTRY note, 0 if not, -1 if malformed. */
static int find_pvh_note(const uint8_t *buf, uint64_t len, uint64_t *entry)
{
	uint64_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off;

		memcpy(&nh, buf + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
		if (desc_off + nh.n_descsz > len)
			return 0;
		if (nh.n_namesz == 4 && memcmp(buf + name_off, "Xen", 4) == 0 &&
		    nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (nh.n_descsz == 4)
				*entry = get_le32(buf + desc_off);
			else if (nh.n_descsz == 8)
				*entry = get_le64(buf + desc_off);
			else
				return -1;
			return 1;
		}
		off = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
	}
	return 0;
}

static int scan_notes(const struct boot_file *f, const Elf64_Phdr *ph, unsigned int n,
		      uint64_t *entry, char *err, size_t errlen)
{
	uint8_t buf[ELF_NOTE_SCAN_MAX];

	for (unsigned int i = 0; i < n; i++) {
		uint64_t len = ph[i].p_filesz < sizeof(buf) ? ph[i].p_filesz : sizeof(buf);
		int ret, found;

		if (ph[i].p_type != PT_NOTE)
			continue;
		ret = check_in_file(f, i, &ph[i], err, errlen);
		if (ret == 0)
			ret = boot_file_read(f, ph[i].p_offset, buf, len, err, errlen);
		if (ret < 0)
			return ret;
		found = find_pvh_note(buf, len, entry);
		if (found < 0)
			return boot_fail(err, errlen, BOOT_ERR_FORMAT,
					 "kernel %s: malformed Xen PHYS32_ENTRY note", f->path);
		if (found)
			return 1;
	}
	return 0;
}

static int load_segments(struct guest_mem *mem, const struct boot_file *f, const Elf64_Phdr *ph,
			 unsigned int n, struct boot_kernel *k, char *err, size_t errlen)
{
	bool any = false;

	k->load_addr = UINT64_MAX;
	k->kernel_end = 0;
	for (unsigned int i = 0; i < n; i++) {
		int ret;

		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		ret = load_segment(mem, f, i, &ph[i], err, errlen);
		if (ret < 0)
			return ret;
		any = true;
		if (ph[i].p_paddr < k->load_addr)
			k->load_addr = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_memsz > k->kernel_end)
			k->kernel_end = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (!any)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT, "kernel %s: no loadable ELF segments",
				 f->path);
	return 0;
}

static int set_entry(const struct guest_mem *mem, const struct boot_file *f, uint64_t entry,
		     bool pvh, struct boot_kernel *k, char *err, size_t errlen)
{
	if ((pvh && entry >= LAYOUT_MMIO_GAP_END) || !gpa_to_hva(mem, entry, 1))
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: %s entry point 0x%" PRIx64 " is outside guest RAM",
				 f->path, pvh ? "PVH" : "ELF", entry);
	k->mode = pvh ? BOOT_ENTRY_PVH32 : BOOT_ENTRY_LINUX64;
	k->entry = entry;
	return 0;
}

int boot_load_elf(struct guest_mem *mem, const struct boot_file *f, const uint8_t *head,
		  size_t head_len, struct boot_kernel *k, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	uint64_t pvh_entry = 0;
	int ret, pvh;

	ret = check_ehdr(f, head, head_len, &eh, err, errlen);
	if (ret == 0)
		ret = read_phdrs(f, &eh, ph, err, errlen);
	if (ret == 0)
		ret = load_segments(mem, f, ph, eh.e_phnum, k, err, errlen);
	if (ret < 0)
		return ret;
	pvh = scan_notes(f, ph, eh.e_phnum, &pvh_entry, err, errlen);
	if (pvh < 0)
		return pvh;
	ret = set_entry(mem, f, pvh ? pvh_entry : eh.e_entry, pvh, k, err, errlen);
	if (ret < 0)
		return ret;
	k->initrd_end_max = UINT64_MAX;
	k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	k->setup_hdr_len = 0;
	return 0;
}
