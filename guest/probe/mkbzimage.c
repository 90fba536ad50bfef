/* mkbzimage.c: host tool that joins setup.bin and the probe's flat image into a Linux boot-protocol bzImage. */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_ADDR 0x100000u

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (long)(*len = (size_t)ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		perror(path);
		exit(1);
	}
	unsigned char *buf = malloc(*len + 16);
	if (!buf || fread(buf, 1, *len, f) != *len) {
		perror(path);
		exit(1);
	}
	fclose(f);
	return buf;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Memory size of the image's loadable segment, checked to start at 1 MiB. */
static uint32_t image_memsz(const char *path)
{
	size_t len;
	unsigned char *e = slurp(path, &len);
	Elf64_Ehdr eh;
	memcpy(&eh, e, sizeof(eh));
	uint64_t end = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, e + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_paddr < LOAD_ADDR) {
			fprintf(stderr, "mkbzimage: segment below 1 MiB\n");
			exit(1);
		}
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
	}
	free(e);
	return (uint32_t)(((end - LOAD_ADDR) + 0xfff) & ~0xfffULL);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: mkbzimage setup.bin probe.elf probe.bin out\n");
		return 1;
	}
	size_t slen, klen;
	unsigned char *setup = slurp(argv[1], &slen);
	unsigned char *kern = slurp(argv[3], &klen);
	if (slen < 1024 || slen != (size_t)(setup[0x1f1] + 1) * 512 || setup[0x1fe] != 0x55 || setup[0x1ff] != 0xaa) {
		fprintf(stderr, "mkbzimage: malformed setup (%zu bytes)\n", slen);
		return 1;
	}
	size_t kpad = (klen + 15) & ~(size_t)15;
	memset(kern + klen, 0, kpad - klen);
	put32(setup + 0x1f4, (uint32_t)(kpad / 16));
	put32(setup + 0x260, image_memsz(argv[2]));
	FILE *o = fopen(argv[4], "wb");
	if (!o || fwrite(setup, 1, slen, o) != slen || fwrite(kern, 1, kpad, o) != kpad || fclose(o)) {
		perror(argv[4]);
		return 1;
	}
	return 0;
}
