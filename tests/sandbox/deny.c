/* deny.c: runs a command on a simulated host that lacks a jail layer (user namespaces or Landlock). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* userns: unshare/clone with CLONE_NEWUSER fail with EPERM (user.max_user_namespaces = 0 or a
 * distribution switch); landlock: landlock_create_ruleset fails with ENOSYS (an old kernel). */
static int add_rules(scmp_filter_ctx ctx, const char *what)
{
	if (!strcmp(what, "landlock"))
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(landlock_create_ruleset), 0);
	if (strcmp(what, "userns"))
		return -EINVAL;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) ?:
	       seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) ?:
	       seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (argc < 3 || !ctx) {
		fprintf(stderr, "usage: deny userns|landlock COMMAND [ARG...]\n");
		return 2;
	}
	if (add_rules(ctx, argv[1]) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || seccomp_load(ctx)) {
		fprintf(stderr, "deny: cannot set up the filter for '%s'\n", argv[1]);
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[2], argv + 2);
	perror("deny: exec");
	return 127;
}
