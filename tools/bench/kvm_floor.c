/* kvm_floor.c: the floor for start-up: a bare VM (irqchip, PIT, 64 MiB, one vCPU) runs two real-mode instructions and exits. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE (64ULL << 20)
#define CODE_GPA 0x1000

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int run_guest(int vm, int kvm)
{

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	struct kvm_run *run;

	if (vcpu < 0 || size <= 0)
		return fail("KVM_CREATE_VCPU");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("vcpu set-up");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	while (ioctl(vcpu, KVM_RUN, 0) == 0) {
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xf4)
			break;
		if (run->exit_reason != KVM_EXIT_IO)
			return fail("unexpected exit");
	}
	munmap(run, size);
	close(vcpu);
	return 0;
}

int main(void)
{
	static const uint8_t code[] = { 0xb0, 0x00, 0xe6, 0xf4 }; /* mov al,0; out 0xf4,al */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, rc;
	uint8_t *mem;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return fail("/dev/kvm");
	mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	memcpy(mem + CODE_GPA, code, sizeof(code));
	struct kvm_userspace_memory_region slot = { .memory_size = RAM_SIZE,
						    .userspace_addr = (uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
		return fail("VM set-up");
	rc = run_guest(vm, kvm);
	close(vm);
	close(kvm);
	munmap(mem, RAM_SIZE);
	return rc;
}
