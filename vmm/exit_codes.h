/* exit_codes.h: cellvm's documented process exit statuses (see docs/design.md and --help). */
#ifndef CELLVM_EXIT_CODES_H
#define CELLVM_EXIT_CODES_H

enum cellvm_exit {
	EXIT_POWEROFF = 0,      /* the guest powered off (ACPI S5), or --help/--version */
	EXIT_VMM_ERROR = 1,     /* cellvm failed at run time (a KVM call, a thread, memory) */
	EXIT_USAGE = 2,         /* bad command line or configuration value */
	EXIT_PAYLOAD = 3,       /* kernel/initramfs missing, unreadable, corrupt or too large */
	EXIT_NO_KVM = 4,        /* /dev/kvm missing, not permitted, or lacking a capability */
	EXIT_REBOOT = 5,        /* the guest asked for a reboot (cellvm does not restart it) */
	EXIT_TRIPLE_FAULT = 6,  /* the guest triple-faulted (KVM_EXIT_SHUTDOWN) */
	EXIT_GUEST_ERROR = 7,   /* KVM could not run the guest: emulation failure, entry failure */
	EXIT_SIGNAL = 8,        /* stopped by SIGINT/SIGTERM/SIGHUP */
	EXIT_JAIL = 9,          /* the VMM's jail could not be entered (a layer failed) */
};

#endif
