/* backend.c: spawning and reaping the device backend processes cellvm starts (cellvm-blk, ...). */
#include "backend.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "policy.h"

int backend_arg(struct backend_spawn *s, const char *arg)
{
	unsigned int n = 0;

	while (n < BACKEND_MAX_ARGS - 1 && s->args[n])
		n++;
	if (n >= BACKEND_MAX_ARGS - 1)
		return -E2BIG;
	s->args[n] = arg;
	s->args[n + 1] = NULL;
	return 0;
}

int backend_start(const char *name, const struct backend_spawn *s, pid_t *pid)
{
	const char *args[BACKEND_MAX_ARGS + 7];
	int fds[BACKEND_MAX_EXTRA + 1];
	char uid_s[16], gid_s[16];
	uint32_t uid, gid;
	int sv[2], n = 0;

	args[n++] = "--socket-fd";
	args[n++] = "3";
	if (vmm_policy_identity(&uid, &gid)) { /* the VM's id, for each of its processes */
		snprintf(uid_s, sizeof(uid_s), "%u", uid);
		snprintf(gid_s, sizeof(gid_s), "%u", gid);
		args[n++] = "--uid";
		args[n++] = uid_s;
		args[n++] = "--gid";
		args[n++] = gid_s;
	}
	for (unsigned int i = 0; i < BACKEND_MAX_ARGS && s->args[i]; i++)
		args[n++] = s->args[i];
	args[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fds[0] = sv[1];
	for (unsigned int i = 0; i < s->nextra; i++)
		fds[i + 1] = s->extra_fds[i];
	*pid = broker_spawn(s->binary, args, fds, s->nextra + 1);
	close(sv[1]);
	if (*pid < 0) {
		log_error("%s: cannot start %s: %s", name, s->binary, strerror(-*pid));
		close(sv[0]);
		return -EIO;
	}
	return sv[0];
}

void backend_reap(const char *name, pid_t pid)
{
	struct timespec ms = { 0, 1000000 };
	int status;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("%s: backend pid %d ended with %s %d", name, (int)pid,
					 WIFEXITED(status) ? "status" : "signal",
					 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return;
		}
		nanosleep(&ms, NULL);
	}
	log_warn("%s: backend pid %d did not exit; killing it", name, (int)pid);
	broker_kill(pid);
	waitpid(pid, NULL, 0);
}
