/* backend.c: spawning and reaping the device backend processes cellvm starts (cellvm-blk, ...). */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int backend_path(char *out, size_t len, const char *binary)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(self), binary);
	return access(out, X_OK) == 0 ? 0 : -errno;
}

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

/* Child side, between fork and exec: async-signal-safe calls only. The socket becomes fd 3,
 * the extra fds 4.. (each first moved above the target range so no dup2 clobbers another). */
static void exec_backend(const char **argv, int sock, const struct backend_spawn *s)
{
	int moved[BACKEND_MAX_EXTRA + 1];

	moved[0] = fcntl(sock, F_DUPFD, 64);
	for (unsigned int i = 0; i < s->nextra; i++)
		moved[i + 1] = fcntl(s->extra_fds[i], F_DUPFD, 64);
	for (unsigned int i = 0; i <= s->nextra; i++) {
		if (moved[i] < 0 || dup2(moved[i], BACKEND_SOCK_FD + (int)i) < 0)
			_exit(127);
		fcntl(BACKEND_SOCK_FD + (int)i, F_SETFD, 0);
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

int backend_start(const char *name, const struct backend_spawn *s, pid_t *pid)
{
	char bin[PATH_MAX];
	const char *argv[BACKEND_MAX_ARGS + 4];
	int sv[2], n = 0, rc = backend_path(bin, sizeof(bin), s->binary);

	if (rc < 0) {
		log_error("%s: cannot find %s next to cellvm: %s", name, s->binary, strerror(-rc));
		return rc;
	}
	argv[n++] = bin;
	argv[n++] = "--socket-fd";
	argv[n++] = "3";
	for (unsigned int i = 0; i < BACKEND_MAX_ARGS && s->args[i]; i++)
		argv[n++] = s->args[i];
	argv[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	*pid = fork();
	if (*pid == 0)
		exec_backend(argv, sv[1], s);
	rc = -errno;
	close(sv[1]);
	if (*pid < 0) {
		close(sv[0]);
		log_error("%s: cannot start %s: %s", name, s->binary, strerror(-rc));
		return rc;
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
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
