/* audit.c: compares the open fds (and threads, unjailed) after teardown with the state before start-up. */
#include "audit.h"

#include <dirent.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

static bool in_snapshot(const struct fd_audit *a, int fd)
{
	for (int i = 0; i < a->nr; i++)
		if (a->fds[i] == fd)
			return true;
	return false;
}

void audit_snapshot(struct fd_audit *a)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	a->nr = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && a->nr < AUDIT_MAX_FDS)
		if (e->d_name[0] != '.')
			a->fds[a->nr++] = atoi(e->d_name);
	closedir(d);
}

#define BLIND_FDS 4096 /* the jail's RLIMIT_NOFILE: no fd number can be higher */

/* In the jail there is no /proc: one poll() over every fd number tells which are open
 * (POLLNVAL: not open). No names in the report. */
static int count_leaked_fds_blind(const struct fd_audit *a)
{
	struct pollfd *p = calloc(BLIND_FDS, sizeof(*p));
	int leaks = 0;

	if (!p)
		return 0;
	for (int fd = 0; fd < BLIND_FDS; fd++)
		p[fd].fd = fd;
	if (poll(p, BLIND_FDS, 0) >= 0) {
		for (int fd = 0; fd < BLIND_FDS; fd++) {
			if ((p[fd].revents & POLLNVAL) || in_snapshot(a, fd))
				continue;
			log_error("teardown leaked fd %d", fd);
			leaks++;
		}
	}
	free(p);
	return leaks;
}

static int count_leaked_fds(const struct fd_audit *a)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int leaks = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		char path[64], target[256] = "?";

		if (e->d_name[0] == '.' || fd == dirfd(d) || in_snapshot(a, fd))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 1] = '\0';
		log_error("teardown leaked fd %d (%s)", fd, target);
		leaks++;
	}
	closedir(d);
	return leaks;
}

static int count_extra_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int threads = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			threads++;
	closedir(d);
	if (threads > 1)
		log_error("teardown left %d threads running", threads - 1);
	return threads > 1 ? threads - 1 : 0;
}

int audit_check(const struct fd_audit *a, bool jailed)
{
	int leaks;

	if (jailed) /* no /proc, and open() would be a seccomp kill: probe fd numbers instead;
		     * threads are all joined by then (vcpu_destroy_all, api_server_stop) */
		leaks = count_leaked_fds_blind(a);
	else
		leaks = count_leaked_fds(a) + count_extra_threads();

	if (leaks == 0)
		log_info("teardown: no fd or thread left behind");
	return leaks;
}
