/* labsock.c: the nested lab's tiny static socat: stdin/stdout over TCP, vsock, Unix or hybrid vsock, and a persistent tap. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * labsock [-r SECONDS] [-t SECONDS] ADDR   copies stdin to the stream and the stream to stdout;
 *     at stdin's EOF the write side is shut down; done at the stream's EOF.
 *     -r: keep retrying the connect for that long (the peer may not listen yet);
 *     -t: give up (exit 3) after that long in all (default 120).
 * labsock mktap NAME [mq]                  a persistent tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR;
 *                                          mq: IFF_MULTI_QUEUE, for several queue pairs).
 * ADDR: tcp:IP:PORT  tcp-listen:PORT  vsock:CID:PORT  vsock-listen:PORT  unix:PATH
 *       unix-listen:PATH  hybrid:PATH:PORT (unix, then "CONNECT PORT\n", then "OK ...\n")
 */

static void die(const char *what)
{
	fprintf(stderr, "labsock: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int mktap(const char *name, int mq)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0) };
	int fd = open("/dev/net/tun", O_RDWR);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		die("mktap");
	return 0;
}

/* Fills sa for ADDR (the part after the kind); returns its length. */
static socklen_t make_addr(const char *kind, const char *rest, struct sockaddr_storage *sa, int *family)
{
	memset(sa, 0, sizeof(*sa));
	if (!strcmp(kind, "tcp") || !strcmp(kind, "tcp-listen")) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		const char *colon = strrchr(rest, ':');
		char ip[64] = "0.0.0.0";

		if (colon && (size_t)(colon - rest) < sizeof(ip))
			snprintf(ip, sizeof(ip), "%.*s", (int)(colon - rest), rest);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon ? colon + 1 : rest));
		if (inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return 0;
		*family = AF_INET;
		return sizeof(*in);
	}
	if (!strcmp(kind, "vsock") || !strcmp(kind, "vsock-listen")) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)sa;
		const char *colon = strchr(rest, ':');

		vm->svm_family = AF_VSOCK;
		vm->svm_cid = colon ? (unsigned)strtoul(rest, NULL, 10) : VMADDR_CID_ANY;
		vm->svm_port = (unsigned)strtoul(colon ? colon + 1 : rest, NULL, 10);
		*family = AF_VSOCK;
		return sizeof(*vm);
	}
	struct sockaddr_un *un = (struct sockaddr_un *)sa;
	if (strlen(rest) >= sizeof(un->sun_path))
		return 0;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, rest, strlen(rest) + 1);
	*family = AF_UNIX;
	return sizeof(*un);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Hybrid vsock: "CONNECT PORT\n", then one line that must start with "OK ". */
static int hybrid_handshake(int fd, const char *port)
{
	char line[64];
	size_t n = 0;

	dprintf(fd, "CONNECT %s\n", port);
	while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	return strncmp(line, "OK ", 3) == 0 ? 0 : -1;
}

static int open_stream(const char *addr, double retry_s)
{
	char kind[16], rest[256], *port = NULL;
	struct sockaddr_storage sa;
	int family, fd, one = 1;
	const char *colon = strchr(addr, ':');
	double end = now() + retry_s;

	if (!colon || (size_t)(colon - addr) >= sizeof(kind))
		return -1;
	snprintf(kind, sizeof(kind), "%.*s", (int)(colon - addr), addr);
	snprintf(rest, sizeof(rest), "%s", colon + 1);
	if (!strcmp(kind, "hybrid")) {
		if (!(port = strrchr(rest, ':')))
			return -1;
		*port++ = '\0';
	}
	socklen_t len = make_addr(kind, rest, &sa, &family);
	if (!len)
		return -1;
	if (strstr(kind, "-listen")) {
		int l = socket(family, SOCK_STREAM, 0);
		if (family == AF_UNIX)
			unlink(rest);
		if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 1) < 0)
			die("listen");
		if (family == AF_UNIX && chmod(rest, 0777) < 0) /* a jailed cellvm-vsock connects */
			die("chmod");
		fprintf(stderr, "labsock: listening on %s\n", addr);
		fd = accept(l, NULL, NULL);
		if (fd < 0)
			die("accept");
		close(l);
		return fd;
	}
	for (;;) {
		fd = socket(family, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, len) == 0 && (!port || hybrid_handshake(fd, port) == 0))
			return fd;
		close(fd);
		if (now() >= end)
			die(port ? "connect (hybrid)" : "connect");
		usleep(200000);
	}
}

/* stdin -> fd and fd -> stdout until fd's EOF. The stream is non-blocking: both ends may send
 * more than the other buffers (vsock: 256 KiB), so reading never waits for a write. */
static void pump(int fd)
{
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	static char out[65536], in[65536];
	size_t pend = 0, off = 0;
	unsigned long long sent = 0, got = 0;
	int eof = 0, rx_done = 0; /* stdin is done; the peer's side is done */

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	while (!rx_done || pend || !eof) {
		p[0].fd = pend || eof ? -1 : 0;
		p[1].events = (short)((rx_done ? 0 : POLLIN) | (pend ? POLLOUT : 0));
		if (poll(p, 2, -1) < 0)
			die("poll");
		if (p[0].fd == 0 && p[0].revents) {
			ssize_t n = read(0, out, sizeof(out));
			if (n <= 0) {
				shutdown(fd, SHUT_WR);
				eof = 1;
			} else {
				pend = (size_t)n;
				off = 0;
			}
		}
		if (pend && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(fd, out + off, pend);
			if (w < 0 && errno != EAGAIN)
				die("write to the stream");
			if (w > 0) {
				off += (size_t)w;
				pend -= (size_t)w;
				sent += (unsigned long long)w;
			}
		}
		if (!rx_done && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(fd, in, sizeof(in));
			if (n < 0 && errno != EAGAIN)
				die("read from the stream");
			rx_done = n == 0;
			for (ssize_t o = 0, w; n > 0 && o < n; o += w)
				if ((w = write(1, in + o, (size_t)(n - o))) <= 0)
					die("write to stdout");
			got += n > 0 ? (unsigned long long)n : 0;
		}
	}
	fprintf(stderr, "labsock: sent %llu bytes, received %llu bytes\n", sent, got);
}

int main(int argc, char **argv)
{
	double retry = 0;
	int timeout = 120, opt;

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "mktap"))
		return mktap(argv[2], argc == 4 && !strcmp(argv[3], "mq"));
	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		if (opt == 'r')
			retry = atof(optarg);
		else if (opt == 't')
			timeout = atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: labsock [-r S] [-t S] ADDR | labsock mktap NAME [mq]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned)timeout);
	int fd = open_stream(argv[optind], retry);
	if (fd < 0) {
		fprintf(stderr, "labsock: bad address %s\n", argv[optind]);
		return 2;
	}
	pump(fd);
	return 0;
}
