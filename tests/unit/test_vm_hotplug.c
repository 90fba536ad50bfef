/* test_vm_hotplug.c: a guest's eject (vm->pci_ejected, on a vCPU thread) reaches the main loop, slot by slot. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "loop.h"
#include "vm.h"
#include "vm_hotplug.h"

struct seen {
	struct event_loop *loop;
	unsigned int slots[8];
	unsigned int n;
};

static void on_eject(void *opaque, struct vm *vm, unsigned int slot)
{
	struct seen *s = opaque;

	if (s->n < 8)
		s->slots[s->n++] = slot;
	event_loop_stop(s->loop);
}

/* As the ACPI code does from a vCPU thread: only marks and wakes. */
static void *vcpu_ejects(void *arg)
{
	struct vm *vm = arg;

	vm->pci_ejected(vm, 3);
	vm->pci_ejected(vm, 7);
	vm->pci_ejected(vm, 0);  /* the host bridge: ignored */
	vm->pci_ejected(vm, 40); /* no such slot: ignored */
	return NULL;
}

Test(vm_hotplug, eject_from_a_vcpu_thread_runs_in_the_loop)
{
	struct seen s = { .loop = event_loop_create() };
	struct vm vm = { .loop = s.loop, .eject_fd = -1 };
	pthread_t t;

	cr_assert_not_null(s.loop);
	cr_assert_eq(vm_hotplug_init(&vm, on_eject, &s), 0);
	cr_assert_not_null(vm.pci_ejected);
	pthread_create(&t, NULL, vcpu_ejects, &vm);
	pthread_join(t, NULL);
	cr_assert_eq(s.n, 0, "nothing may run on the vCPU thread");
	cr_assert_eq(event_loop_run(s.loop), 0);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.slots[0], 3);
	cr_assert_eq(s.slots[1], 7);
	vm_hotplug_fini(&vm);
	cr_assert_null(vm.pci_ejected);
	cr_assert_eq(vm.eject_fd, -1);
	event_loop_destroy(s.loop);
}
