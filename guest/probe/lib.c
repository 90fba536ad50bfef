/* lib.c: serial console, formatted printing, strings, command-line parsing and exit helpers. */
#include "probe.h"

static volatile u32 print_lock;
const char *test_name = "?";

void *memcpy(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return d;
}

void *memset(void *d, int c, size_t n)
{
	void *r = d;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (u8)a[i] - (u8)b[i];
		if (!a[i])
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

void spin_lock(volatile u32 *l)
{
	for (;;) {
		u32 expected = 0;
		if (__atomic_compare_exchange_n(l, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		while (*l)
			cpu_relax();
	}
}

void spin_unlock(volatile u32 *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

#define UART_FIFO_SIZE 16

/* Waits (bounded) for an empty transmitter, then sends up to a FIFO's worth of bytes with one
 * string instruction, as a 16550A driver may: one LSR read and one exit per 16 bytes. */
static void serial_write(const char *s, size_t n)
{
	while (n) {
		size_t chunk = n < UART_FIFO_SIZE ? n : UART_FIFO_SIZE;
		for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
			cpu_relax();
		__asm__ volatile("rep outsb" : "+S"(s), "+c"(chunk) : "d"(COM1) : "memory");
		n -= n < UART_FIFO_SIZE ? n : UART_FIFO_SIZE;
	}
}

void serial_init(void)
{
	outb(COM1 + 2, 0x07); /* FCR: FIFOs on, both cleared */
}

struct fmtbuf {
	char *p;
	size_t n, len;
};

static void put(struct fmtbuf *b, char c)
{
	if (b->len + 1 < b->n)
		b->p[b->len++] = c;
}

static void put_num(struct fmtbuf *b, u64 v, unsigned base, int width, char pad)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > i)
		put(b, pad);
	while (i)
		put(b, tmp[--i]);
}

static void put_str(struct fmtbuf *b, const char *s)
{
	while (s && *s)
		put(b, *s++);
}

static u64 get_arg(va_list *ap, int longs, int is_signed)
{
	if (longs)
		return va_arg(*ap, u64);
	return is_signed ? (u64)(int64_t)va_arg(*ap, int) : va_arg(*ap, unsigned);
}

static const char *fmt_one(struct fmtbuf *b, const char *f, va_list *ap)
{
	char pad = ' ';
	int width = 0, longs = 0;
	if (*f == '0')
		pad = *f++;
	while (*f >= '0' && *f <= '9')
		width = width * 10 + (*f++ - '0');
	while (*f == 'l' || *f == 'z')
		longs = *f++ != 0;
	switch (*f) {
	case 'd': {
		int64_t v = (int64_t)get_arg(ap, longs, 1);
		if (v < 0) {
			put(b, '-');
			v = -v;
		}
		put_num(b, (u64)v, 10, width, pad);
		break;
	}
	case 'u': put_num(b, get_arg(ap, longs, 0), 10, width, pad); break;
	case 'x': put_num(b, get_arg(ap, longs, 0), 16, width, pad); break;
	case 'p': put_str(b, "0x"); put_num(b, (u64)va_arg(*ap, void *), 16, width, pad); break;
	case 's': put_str(b, va_arg(*ap, const char *)); break;
	case 'c': put(b, (char)va_arg(*ap, int)); break;
	case '%': put(b, '%'); break;
	default: put(b, '?'); break;
	}
	return *f ? f + 1 : f;
}

int vsnfmt(char *out, size_t n, const char *fmt, va_list ap)
{
	struct fmtbuf b = { out, n, 0 };
	va_list aq;
	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%')
			put(&b, *fmt++);
		else
			fmt = fmt_one(&b, fmt + 1, &aq);
	}
	va_end(aq);
	out[b.len] = 0;
	return (int)b.len;
}

static void write_locked(const char *s)
{
	spin_lock(&print_lock);
	serial_write(s, strlen(s));
	spin_unlock(&print_lock);
}

/* Used by the exception path: the faulting code may have held the lock. */
void print_lock_break(void)
{
	spin_unlock(&print_lock);
}

void pr(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write_locked(buf);
}

noreturn void halt_forever(void)
{
	if ((read_cs() & 3) == 0)
		for (;;)
			__asm__ volatile("cli; hlt");
	for (;;)
		cpu_relax();
}

noreturn void probe_exit(int code)
{
	outb(EXIT_PORT, (u8)code);
	pr("probe: exit port 0x%x did not stop the machine (code %d); halting\n", EXIT_PORT, code);
	halt_forever();
}

noreturn void test_pass(void)
{
	pr("probe: test %s: PASS\n", test_name);
	probe_exit(0);
}

noreturn void test_fail(const char *fmt, ...)
{
	char buf[384];
	va_list ap;
	va_start(ap, fmt);
	vsnfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pr("probe: test %s: FAIL: %s\n", test_name, buf);
	probe_exit(1);
}

/* Finds "key=value" among the space-separated words of the command line. */
int cmdline_get(const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	const char *p = bi.cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > kl && !strncmp(w, key, kl) && w[kl] == '=') {
			size_t l = (size_t)(p - w) - kl - 1;
			if (l >= n)
				l = n - 1;
			memcpy(out, w + kl + 1, l);
			out[l] = 0;
			return 1;
		}
	}
	return 0;
}

static int digit(char c, unsigned base)
{
	int d = -1;
	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	return d >= 0 && (unsigned)d < base ? d : -1;
}

static const char *parse_base(const char *s, unsigned base, u64 *out)
{
	u64 v = 0;
	const char *start = s;
	for (int d; (d = digit(*s, base)) >= 0; s++)
		v = v * base + (unsigned)d;
	*out = v;
	return s == start ? NULL : s;
}

int parse_hex(const char *s, u64 *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	s = parse_base(s, 16, out);
	return s && !*s;
}

int parse_u64(const char *s, u64 *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_hex(s, out);
	s = parse_base(s, 10, out);
	return s && !*s;
}

int parse_size(const char *s, u64 *out)
{
	const char *e = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? parse_base(s + 2, 16, out)
								      : parse_base(s, 10, out);
	if (!e)
		return 0;
	unsigned shift = 0;
	switch (*e) {
	case 0: return 1;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	default: return 0;
	}
	if (e[1] && !(e[1] == 'B' || e[1] == 'b' || (e[1] == 'i' && e[2] == 'B' && !e[3])))
		return 0;
	*out <<= shift;
	return 1;
}

/* Reads a size parameter; returns 1 if present and valid, 0 if absent; fails the test if malformed. */
int param_size(const char *key, u64 *out)
{
	char v[64];
	if (!cmdline_get(key, v, sizeof(v)))
		return 0;
	if (!parse_size(v, out))
		test_fail("bad value '%s' for %s", v, key);
	return 1;
}
