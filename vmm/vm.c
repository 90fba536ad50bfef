/* vm.c: builds a VM from its config (KVM, RAM, firmware tables, payload, devices, vCPUs), runs and tears it down. */
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "boot/boot.h"
#include "cpu_boot.h"
#include "disk.h"
#include "vsock.h"
#include "net.h"
#include "exit_codes.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "loop.h"
#include "vcpu.h"
#include "vm_hotplug.h"

extern const struct platform_device *const __start_cellvm_platform_devices[];
extern const struct platform_device *const __stop_cellvm_platform_devices[];

void vm_request_stop(struct vm *vm, int exit_status, const char *reason)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (!vm->stop_requested) {
		vm->stop = (struct vm_stop){ exit_status, reason };
		__atomic_store_n(&vm->stop_requested, true, __ATOMIC_RELEASE);
		if (write(vm->stop_fd, &one, sizeof(one)) < 0)
			log_error("stop eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

/* Called by every vCPU after every exit: a lock-free read; writers hold stop_lock. */
bool vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&vm->halting, __ATOMIC_ACQUIRE);
}

int vm_set_irq_line(struct vm *vm, unsigned int gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		log_warn("KVM_IRQ_LINE %u=%d: %s", gsi, level, strerror(errno));
		return -errno;
	}
	return 0;
}

/* An NMI to every vCPU, as Cloud Hypervisor's vm.nmi: an MSI with delivery mode NMI to each
 * APIC ID (0..nr_vcpus-1, the MADT's), through the in-kernel LAPICs; from any thread. */
#define MSI_ADDR_BASE  0xfee00000u
#define MSI_DEST(id)   ((uint32_t)(id) << 12)
#define MSI_DATA_NMI   (4u << 8)
int vm_inject_nmi(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct kvm_msi msi = { .address_lo = MSI_ADDR_BASE | MSI_DEST(i), .data = MSI_DATA_NMI };

		if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
			log_warn("KVM_SIGNAL_MSI (NMI to vCPU %u): %s", i, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static unsigned int vcpus_present(struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vm->max_vcpus; i++)
		n += acpi_pm_cpu_present(vm, i);
	return n;
}

/* Adds the lowest absent vCPU (creating and starting it the first time); main thread. */
static int vcpu_plug_one(struct vm *vm, char *err, size_t errlen)
{
	unsigned int cpu = 0;

	while (cpu < vm->max_vcpus && acpi_pm_cpu_present(vm, cpu))
		cpu++;
	if (cpu == vm->max_vcpus)
		return -ENOSPC;
	if (cpu == vm->nr_vcpus && vcpu_hotadd(vm, err, errlen) < 0)
		return -EIO;
	acpi_pm_cpu_inserted(vm, cpu);
	log_info("vm.resize: vCPU %u added; the guest is told (ACPI device check)", cpu);
	return 0;
}

/* Asks the guest to give back present vCPUs from the highest down (never vCPU 0) until n
 * would remain; they leave when its _EJ0 runs. */
static void vcpu_unplug_to(struct vm *vm, unsigned int n)
{
	unsigned int have = vcpus_present(vm);

	for (unsigned int cpu = vm->max_vcpus - 1; cpu > 0 && have > n; cpu--) {
		if (!acpi_pm_cpu_present(vm, cpu))
			continue;
		acpi_pm_cpu_request_eject(vm, cpu);
		log_info("vm.resize: asking the guest to give back vCPU %u (ACPI eject request)", cpu);
		have--;
	}
}

int vm_resize_vcpus(struct vm *vm, unsigned int n, char *err, size_t errlen)
{
	unsigned int have = vcpus_present(vm);

	if (n == 0 || n > vm->max_vcpus) {
		snprintf(err, errlen, "desired_vcpus %u is out of range (1 to max_vcpus %u)", n,
			 vm->max_vcpus);
		return -EINVAL;
	}
	while (have < n) {
		int rc = vcpu_plug_one(vm, err, errlen);

		if (rc < 0)
			return rc;
		have++;
	}
	if (have > n)
		vcpu_unplug_to(vm, n);
	return 0;
}

static int create_platform_devices(struct vm *vm, char *err, size_t errlen)
{
	const struct platform_device *const *d;

	for (d = __start_cellvm_platform_devices; d < __stop_cellvm_platform_devices; d++) {
		unsigned int i = vm->nr_devices;
		int rc;

		if (i == VM_MAX_PLATFORM_DEVICES) {
			snprintf(err, errlen, "too many platform devices");
			return EXIT_VMM_ERROR;
		}
		vm->devices[i] = *d;
		vm->nr_devices++;
		rc = (*d)->create(vm, &vm->device_state[i]);
		if (rc < 0) {
			snprintf(err, errlen, "device %s: %s", (*d)->name, strerror(-rc));
			return rc == -ENOENT || rc == -EACCES ? EXIT_USAGE : EXIT_VMM_ERROR;
		}
	}
	return 0;
}

static void destroy_platform_devices(struct vm *vm)
{
	while (vm->nr_devices > 0) {
		unsigned int i = --vm->nr_devices;

		if (vm->devices[i]->destroy && vm->device_state[i])
			vm->devices[i]->destroy(vm->device_state[i]);
		vm->device_state[i] = NULL;
	}
}

static int create_pci(struct vm *vm, char *err, size_t errlen)
{
	irq_routing_init(&vm->irq, vm->vm_fd);
	vm->irq_ready = true;
	if (pci_bus_init(&vm->pci, &vm->pio, &vm->mmio) < 0) {
		snprintf(err, errlen, "PCI host bridge set-up failed");
		return EXIT_VMM_ERROR;
	}
	vm->pci.reset_control = power_reset_control;
	vm->pci.reset_opaque = vm;
	return 0;
}

static int create_vhost_devices(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < vm->cfg->nr_disks; i++) {
		const struct disk_config *d = &vm->cfg->disks[i];

		vm->disks[i] = disk_create(vm, d, i);
		if (!vm->disks[i]) {
			snprintf(err, errlen, "--disk %s: the device could not be created (see above)",
				 d->vhost_user ? d->socket : d->path);
			return EXIT_USAGE;
		}
		vm->nr_disks++;
	}
	if (vm->cfg->vsock.enabled && !(vm->vsock = vsock_create(vm, &vm->cfg->vsock))) {
		snprintf(err, errlen, "--vsock %s%s: the device could not be created (see above)",
			 vm->cfg->vsock.vhost ? "vhost=on" : "socket=",
			 vm->cfg->vsock.vhost ? "" : vm->cfg->vsock.socket);
		return EXIT_USAGE;
	}
	return 0;
}

static int create_nets(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < vm->cfg->nr_nets; i++) {
		const struct net_config *n = &vm->cfg->nets[i];

		vm->nets[i] = net_create(vm, n, i);
		if (!vm->nets[i]) {
			snprintf(err, errlen, "--net %s: the device could not be created (see above)",
				 n->vhost_user ? n->socket : n->tap ? n->tap : "fd=...");
			return EXIT_USAGE;
		}
		vm->nr_nets++;
	}
	return 0;
}

static struct machine_desc machine_desc(const struct vm *vm)
{
	return (struct machine_desc){
		.nr_cpus = vm->max_vcpus,
		.nr_boot_cpus = vm->nr_vcpus,
		.ioapic_base = LAYOUT_IOAPIC_BASE,
		.lapic_base = LAYOUT_LAPIC_BASE,
		.sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
		.reset_port = PORT_ACPI_RESET,
		.reset_value = ACPI_RESET_VALUE,
		.pm1_evt_port = PORT_ACPI_PM1_EVT,
		.pm1_cnt_port = PORT_ACPI_PM1_CNT,
		.pm_tmr_port = PORT_ACPI_PM_TMR,
		.gpe0_port = PORT_ACPI_GPE0,
		.pcihp_port = PORT_ACPI_PCIHP,
		.sci_irq = ACPI_SCI_IRQ,
		.pcihp_gpe = ACPI_GPE_PCIHP,
		.cpuhp_port = PORT_ACPI_CPUHP,
		.cpuhp_gpe = ACPI_GPE_CPUHP,
		.pci_ecam_base = LAYOUT_PCI_ECAM,
		.pci_last_bus = (uint8_t)(LAYOUT_PCI_ECAM_SIZE / MiB - 1),
		.pci_mmio_start = LAYOUT_PCI_MMIO_START,
		.pci_mmio_end = LAYOUT_PCI_MMIO_END,
	};
}

/* The x86 reset vector (f000:fff0, the BIOS area's last 16 bytes): a guest that jumps there
 * to reboot (Linux's reboot=bios, which a CONFIG_EFI kernel picks by default on a hardware-
 * reduced ACPI platform booted without EFI) writes the FADT reset register, as a BIOS would,
 * instead of running zeros forever. */
#define RESET_STUB_LEN 16
static void write_reset_stub(uint8_t *p)
{
	const uint8_t stub[RESET_STUB_LEN] = {
		0xba, PORT_ACPI_RESET & 0xff, PORT_ACPI_RESET >> 8, /* mov dx, PORT_ACPI_RESET */
		0xb0, ACPI_RESET_VALUE,                             /* mov al, ACPI_RESET_VALUE */
		0xee,                                               /* out dx, al */
		0xfa, 0xf4, 0xeb, 0xfd,                             /* cli; 1: hlt; jmp 1b */
	};

	memcpy(p, stub, sizeof(stub));
}

/* ACPI in the BIOS area (found by scan or by the RSDP address in the boot data) and an MP
 * table in the EBDA for guests without ACPI. */
static int write_firmware_tables(struct vm *vm, char *err, size_t errlen)
{
	const uint64_t acpi_len = LAYOUT_BIOS_END - LAYOUT_BIOS_START;
	const uint64_t mp_len = LAYOUT_LOW_RAM_END - LAYOUT_EBDA_START;
	uint8_t *acpi = gpa_to_hva(&vm->mem, LAYOUT_BIOS_START, acpi_len);
	uint8_t *mp = gpa_to_hva(&vm->mem, LAYOUT_EBDA_START, mp_len);
	struct machine_desc m = machine_desc(vm), mp_m = m;
	long rc = -EFAULT;

	mp_m.nr_cpus = vm->nr_vcpus;   /* the MP table knows no hotplug: boot CPUs only */
	mp_m.nr_boot_cpus = 0;

	/* The last 16 bytes of the BIOS area hold the reset vector (f000:fff0). */
	if (acpi && mp)
		rc = acpi_build(acpi, LAYOUT_BIOS_START, acpi_len - RESET_STUB_LEN, &m);
	if (rc >= 0)
		write_reset_stub(acpi + acpi_len - RESET_STUB_LEN);
	/* The EBDA holds an MP table for up to MPTABLE_EBDA_MAX_CPUS; larger guests need ACPI. */
	if (rc >= 0 && vm->nr_vcpus <= MPTABLE_EBDA_MAX_CPUS)
		rc = mptable_build(mp, LAYOUT_EBDA_START, mp_len, &mp_m);
	else if (rc >= 0)
		log_info("%u vCPUs: no MP table (at most %d fit), ACPI MADT only", vm->nr_vcpus,
			 MPTABLE_EBDA_MAX_CPUS);
	if (rc >= 0)
		rc = cpu_boot_write_tables(&vm->mem);
	if (rc < 0) {
		snprintf(err, errlen, "writing ACPI/MP/boot tables for %u vCPUs: %s", vm->nr_vcpus,
			 strerror((int)-rc));
		return EXIT_USAGE;
	}
	return 0;
}

static int create_memory(struct vm *vm, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	int rc = guest_mem_create(&vm->mem, cfg->mem_size, cfg->mem_hugepages);

	if (rc == -ENOMEM) {
		snprintf(err, errlen, "--memory: size=%llu MiB is larger than the host allows",
			 (unsigned long long)(cfg->mem_size >> 20));
		return EXIT_USAGE;
	}
	if (rc == -EINVAL || rc == -E2BIG) {
		snprintf(err, errlen, "--memory: size=%llu bytes is not usable (at least 2 MiB, a "
			 "multiple of 4 KiB%s, at most 1 TiB)", (unsigned long long)cfg->mem_size,
			 cfg->mem_hugepages ? " and of 2 MiB with hugepages" : "");
		return EXIT_USAGE;
	}
	if (rc < 0) {
		snprintf(err, errlen, "guest memory (%llu MiB%s): %s",
			 (unsigned long long)(cfg->mem_size >> 20),
			 cfg->mem_hugepages ? ", hugepages" : "", strerror(-rc));
		return cfg->mem_hugepages ? EXIT_USAGE : EXIT_VMM_ERROR;
	}
	return kvm_map_memory(vm, err, errlen);
}

static int load_payload(struct vm *vm, struct boot_result *br, char *err, size_t errlen)
{
	const struct boot_config bc = {
		.kernel_path = vm->cfg->kernel,
		.initramfs_path = vm->cfg->initramfs,
		.cmdline = vm->cfg->cmdline,
		.rsdp_gpa = LAYOUT_BIOS_START,
	};
	int rc = boot_load(&vm->mem, &bc, br, err, errlen);

	if (rc < 0)
		return EXIT_PAYLOAD;
	log_debug("payload: %s entry %#llx, boot data at %#llx",
		  br->mode == BOOT_ENTRY_PVH32 ? "PVH" : "Linux 64-bit",
		  (unsigned long long)br->entry, (unsigned long long)br->boot_data);
	return 0;
}

static int vm_init_fields(struct vm *vm, const struct vm_config *cfg, struct event_loop *loop)
{
	*vm = (struct vm){ .cfg = cfg, .kvm_fd = -1, .vm_fd = -1, .stop_fd = -1, .eject_fd = -1,
			   .nr_vcpus = cfg->nr_cpus, .max_vcpus = CONFIG_CPUS_MAX(cfg),
			   .mem = { .fd = -1 }, .loop = loop };
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return vm->stop_fd >= 0 ? 0 : -1;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct event_loop *loop, char *err,
	      size_t errlen)
{
	struct boot_result br;
	int rc;

	if (vm_init_fields(vm, cfg, loop) < 0) {
		snprintf(err, errlen, "eventfd/epoll: %s", strerror(errno));
		return EXIT_VMM_ERROR;
	}
	rc = kvm_open_dev(vm, "/dev/kvm", err, errlen);
	if (!rc)
		rc = kvm_check_cpus(vm, vm->max_vcpus, err, errlen);
	if (!rc)
		rc = kvm_create_vm(vm, err, errlen);
	if (!rc)
		rc = create_memory(vm, err, errlen);
	if (!rc)
		rc = kvm_create_irqchip(vm, err, errlen);
	if (!rc)
		rc = create_pci(vm, err, errlen);
	if (!rc)
		rc = write_firmware_tables(vm, err, errlen);
	if (!rc)
		rc = load_payload(vm, &br, err, errlen);
	if (!rc)
		rc = create_platform_devices(vm, err, errlen);
	if (!rc)
		rc = create_vhost_devices(vm, err, errlen);
	if (!rc)
		rc = create_nets(vm, err, errlen);
	if (!rc)
		rc = vcpu_create_all(vm, &br, err, errlen);
	return rc;
}

static void on_stop_request(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t v;

	if (read(vm->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("stop eventfd: %s", strerror(errno));
	vm->on_stop(vm->on_stop_opaque, vm);
}

int vm_start(struct vm *vm, void (*on_stop)(void *opaque, struct vm *vm), void *opaque,
	     char *err, size_t errlen)
{
	int rc;

	vm->on_stop = on_stop;
	vm->on_stop_opaque = opaque;
	rc = event_loop_add(vm->loop, vm->stop_fd, EPOLLIN, on_stop_request, vm);
	if (rc < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return EXIT_VMM_ERROR;
	}
	vm->stop_watched = true;
	return vcpu_start_all(vm, err, errlen);
}

void vm_halt(struct vm *vm)
{
	vcpu_stop_all(vm);
	if (vm->stop_watched)
		event_loop_del(vm->loop, vm->stop_fd);
	vm->stop_watched = false;
}

void vm_destroy(struct vm *vm)
{
	vm_halt(vm);
	vm_hotplug_fini(vm);
	vcpu_destroy_all(vm);
	while (vm->nr_disks > 0)
		disk_destroy(vm->disks[--vm->nr_disks]);
	vsock_destroy(vm->vsock);
	vm->vsock = NULL;
	while (vm->nr_nets > 0)
		net_destroy(vm->nets[--vm->nr_nets]);
	destroy_platform_devices(vm);
	if (vm->irq_ready)
		irq_routing_destroy(&vm->irq);
	vm->irq_ready = false;
	guest_mem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	free(vm->supported_cpuid);
	free(vm->msr_list);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	vm->vm_fd = vm->kvm_fd = vm->stop_fd = -1;
	vm->loop = NULL;
	vm->supported_cpuid = NULL;
	vm->msr_list = NULL;
}
