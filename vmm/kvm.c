/* kvm.c: /dev/kvm capability checks, VM creation, irqchip, PIT and memory slots. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exit_codes.h"
#include "log.h"

#define KVM_TSS_ADDR          0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static const struct { int cap; const char *name; } required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
};

/* /dev/kvm opened before the VMM jails itself: owned by kvm.c, set once before any thread. */
static int preopened_kvm = -1;

int kvm_preopen(const char *path)
{
	preopened_kvm = open(path, O_RDWR | O_CLOEXEC);
	return preopened_kvm < 0 ? -errno : preopened_kvm;
}

int kvm_preopen_fd(void)
{
	return preopened_kvm;
}

void kvm_preopen_close(void)
{
	if (preopened_kvm >= 0)
		close(preopened_kvm);
	preopened_kvm = -1;
}

int kvm_open_dev(struct vm *vm, const char *path, char *err, size_t errlen)
{
	int version;

	vm->kvm_fd = preopened_kvm >= 0 ? fcntl(preopened_kvm, F_DUPFD_CLOEXEC, 0)
					: open(path, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(e),
			 e == ENOENT ? " (is the kvm module loaded?)" :
			 e == EACCES ? " (is your user in the kvm group?)" : "");
		return EXIT_NO_KVM;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "%s: KVM API version %d, expected %d", path, version,
			 KVM_API_VERSION);
		return EXIT_NO_KVM;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "%s: KVM lacks %s, which cellvm needs", path,
				 required_caps[i].name);
			return EXIT_NO_KVM;
		}
	}
	return 0;
}

int kvm_check_cpus(struct vm *vm, unsigned int nr_cpus, char *err, size_t errlen)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4; /* the documented default when neither capability answers */
	if (nr_cpus > (unsigned int)max) {
		snprintf(err, errlen, "--cpus: boot=%u is more than KVM allows (%d)", nr_cpus, max);
		return EXIT_USAGE;
	}
	return 0;
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static struct kvm_msr_list *get_msr_list(int kvm_fd)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *l;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

/* The 8259s start unmasked and uninitialised (vector base 0). A guest told by ACPI that the
 * machine is hardware-reduced never programs them, so a legacy interrupt (the UART's IRQ 4)
 * would reach LINT0 as ExtINT with vector 0-7 and look like a CPU exception. Mask every pin
 * as firmware does; a guest that uses the PICs (the MP-table path) initialises them itself. */
static int mask_pics(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned int chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_PIC_SLAVE; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
			goto fail;
		c.chip.pic.imr = 0xff;
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "KVM_GET/SET_IRQCHIP (masking the 8259s): %s", strerror(errno));
	return EXIT_VMM_ERROR;
}

int kvm_create_irqchip(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) {
		if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
			snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
			return EXIT_VMM_ERROR;
		}
		uint64_t ident = KVM_IDENTITY_MAP_ADDR;
		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
			log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s (ignored)", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return EXIT_VMM_ERROR;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return EXIT_VMM_ERROR;
	}
	return mask_pics(vm, err, errlen);
}

int kvm_create_vm(struct vm *vm, char *err, size_t errlen)
{
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return errno == ENOMEM ? EXIT_VMM_ERROR : EXIT_NO_KVM;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->supported_cpuid = get_supported_cpuid(vm->kvm_fd);
	vm->msr_list = get_msr_list(vm->kvm_fd);
	if (vm->vcpu_mmap_size <= 0 || !vm->supported_cpuid || !vm->msr_list) {
		snprintf(err, errlen, "KVM: cannot read vcpu mmap size, supported CPUID or MSR list");
		return EXIT_NO_KVM;
	}
	return 0;
}

int kvm_map_memory(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB): %s", i,
				 (unsigned long long)(r->size >> 20), strerror(errno));
			return EXIT_VMM_ERROR;
		}
	}
	return 0;
}
