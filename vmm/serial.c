/* serial.c: an 8250/16550A UART on COM1 (IRQ 4), the guest console, wired to stdio or a file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "broker.h"
#include "layout.h"
#include "log.h"
#include "loop.h"
#include "vm.h"

#define COM1_IRQ 4
#define RX_FIFO_SIZE 1024

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI  0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_IDLE 0xb0 /* DCD, DSR, CTS */

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;   /* registers and FIFO: vCPU threads and the main loop */
	int out_fd;             /* -1 for off */
	bool out_owned;         /* out_fd was opened by us */
	int in_fd;              /* -1 when no input */
	int wake_fd;            /* eventfd: a vCPU drained the FIFO, resume reading input */
	bool in_watched;
	bool tty_saved;
	struct termios saved_tty;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;
	int irq_level;
	uint8_t rx[RX_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

/* Called with the lock held: recomputes the interrupt line and tells KVM if it changed. */
static void serial_update_irq(struct serial *s)
{
	int level = ((s->ier & IER_RDI) && s->rx_count) || ((s->ier & IER_THRI) && s->thri_pending);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	vm_set_irq_line(s->vm, COM1_IRQ, level);
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == RX_FIFO_SIZE)
		return;
	s->rx[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = c;
	s->rx_count++;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
	s->rx_count--;
	if (s->rx_count == 0 && !s->in_watched && s->wake_fd >= 0) {
		uint64_t one = 1;
		if (write(s->wake_fd, &one, sizeof(one)) < 0)
			log_debug("serial: wake eventfd: %s", strerror(errno));
	}
	return c;
}

static void serial_transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
	} else if (s->out_fd >= 0) {
		ssize_t n;
		do
			n = write(s->out_fd, &c, 1);
		while (n < 0 && errno == EINTR);
	}
	s->thri_pending = true; /* the byte left at once: THR is empty again */
}

static uint8_t serial_iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & 1) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thri_pending) {
		s->thri_pending = false; /* reading IIR acknowledges THRE */
		return IIR_THRI | fifo;
	}
	return IIR_NONE | fifo;
}

static uint8_t serial_msr(const struct serial *s)
{
	if (!(s->mcr & MCR_LOOP))
		return MSR_IDLE;
	/* Loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD, as Linux's probe checks. */
	return (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) |
			 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (off) {
	case 0: return dlab ? s->dll : rx_pop(s);
	case 1: return dlab ? s->dlm : s->ier;
	case 2: return serial_iir(s);
	case 3: return s->lcr;
	case 4: return s->mcr;
	case 5: return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case 6: return serial_msr(s);
	default: return s->scr;
	}
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (off) {
	case 0:
		if (dlab)
			s->dll = v;
		else
			serial_transmit(s, v);
		break;
	case 1:
		if (dlab) {
			s->dlm = v;
			break;
		}
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true; /* enabling THRI with an empty THR interrupts */
		s->ier = v & 0x0f;
		break;
	case 2: s->fcr = v; if (v & 0x02) s->rx_count = 0; break;
	case 3: s->lcr = v; break;
	case 4: s->mcr = v & 0x1f; break;
	case 7: s->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

static void serial_pio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	data[0] = serial_read_reg(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_pio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, off, data[0]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct bus_ops serial_ops = {
	.read = serial_pio_read,
	.write = serial_pio_write,
};

static void serial_input_ready(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[256];
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	size_t room = RX_FIFO_SIZE - s->rx_count;
	n = read(s->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
		event_loop_del(s->vm->loop, s->in_fd); /* EOF or error: no more console input */
		s->in_watched = false;
		s->in_fd = -1;
	}
	for (ssize_t i = 0; i < n; i++)
		rx_push(s, buf[i]);
	if (s->in_fd >= 0 && s->rx_count == RX_FIFO_SIZE) {
		event_loop_del(s->vm->loop, s->in_fd); /* the guest is behind: stop reading */
		s->in_watched = false;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_resume_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t v;

	if (read(s->wake_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->in_fd >= 0 && !s->in_watched)
		s->in_watched = event_loop_add(s->vm->loop, s->in_fd, EPOLLIN, serial_input_ready, s) == 0;
	pthread_mutex_unlock(&s->lock);
}

static void serial_raw_tty(struct serial *s)
{
	struct termios t;

	if (!isatty(s->in_fd) || tcgetattr(s->in_fd, &s->saved_tty) < 0)
		return;
	t = s->saved_tty;
	t.c_lflag &= ~(ICANON | ECHO | IEXTEN); /* keep ISIG: Ctrl-C still stops cellvm */
	t.c_iflag &= ~(ICRNL | IXON);
	if (tcsetattr(s->in_fd, TCSANOW, &t) == 0)
		s->tty_saved = true;
}

static int serial_open_output(struct serial *s, const struct vm_config *cfg)
{
	switch (cfg->serial) {
	case SERIAL_STDIO:
		s->out_fd = STDOUT_FILENO;
		s->in_fd = STDIN_FILENO;
		return 0;
	case SERIAL_FILE:
		s->out_fd = broker_open_log(cfg->serial_path);
		if (s->out_fd < 0)
			return s->out_fd;
		s->out_owned = true;
		return 0;
	default:
		return 0;
	}
}

static int serial_watch_input(struct serial *s)
{
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	if (event_loop_add(s->vm->loop, s->wake_fd, EPOLLIN, serial_resume_input, s) < 0)
		return -ENOSPC;
	/* stdin may be a regular file or closed: then the console simply has no input. */
	s->in_watched = event_loop_add(s->vm->loop, s->in_fd, EPOLLIN, serial_input_ready, s) == 0;
	if (s->in_watched)
		serial_raw_tty(s);
	else
		s->in_fd = -1;
	return 0;
}

static void serial_destroy(void *state)
{
	struct serial *s = state;

	if (!s)
		return;
	if (s->tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &s->saved_tty);
	if (s->in_watched)
		event_loop_del(s->vm->loop, s->in_fd);
	if (s->wake_fd >= 0) {
		event_loop_del(s->vm->loop, s->wake_fd);
		close(s->wake_fd);
	}
	if (s->out_owned)
		close(s->out_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int serial_create(struct vm *vm, void **state)
{
	struct serial *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	*s = (struct serial){ .vm = vm, .out_fd = -1, .in_fd = -1, .wake_fd = -1 };
	pthread_mutex_init(&s->lock, NULL);
	*state = s;
	rc = serial_open_output(s, vm->cfg);
	if (rc < 0) {
		log_error("--serial file=%s: %s", vm->cfg->serial_path, strerror(-rc));
		return rc;
	}
	if (s->in_fd >= 0 && (rc = serial_watch_input(s)) < 0)
		return rc;
	return bus_register(&vm->pio, PORT_COM1, 8, &serial_ops, s, "com1");
}

static const struct platform_device serial_device = {
	.name = "serial",
	.create = serial_create,
	.destroy = serial_destroy,
};
PLATFORM_DEVICE_DECLARE(serial_device);
