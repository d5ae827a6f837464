/* The framed IPC channel: delivery, descriptor passing, refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "ipc.h"
#include "log.h"
#include "util.h"

enum { T_PING = 1, T_BLOB = 2 };
enum { F_N = 1, F_DATA = 2 };

static const struct field_spec f_ping[] = {
	{ F_N, FK_U64, 1, 0, "n" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_blob[] = {
	{ F_DATA, FK_BYTES, 1, 0, "data" },
	{ 0, 0, 0, 0, NULL }
};
static const struct frame_spec specs[] = {
	{ T_PING, "ping", f_ping },
	{ T_BLOB, "blob", f_blob },
	{ 0, NULL, NULL }
};

struct rx {
	struct event_base	*base;
	int			 got;
	uint64_t		 n;
	int			 fd;
	size_t			 bloblen;
	int			 blob_ok;
	char			*closed;
};

static void
on_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct rx	*rx = arg;
	const uint8_t	*p;
	size_t		 len, i;

	(void)c;
	rx->got++;
	if (f->type == T_PING) {
		rx->n = frame_u64(f, F_N, 0);
		rx->fd = fd;
	} else if (f->type == T_BLOB) {
		p = frame_bytes(f, F_DATA, &len);
		rx->bloblen = len;
		rx->blob_ok = 1;
		for (i = 0; i < len; i++)
			if (p[i] != (uint8_t)(i * 7))
				rx->blob_ok = 0;
		if (fd != -1)
			close(fd);
	}
	event_base_loopbreak(rx->base);
}

static void
on_close(struct ipc *c, const char *reason, void *arg)
{
	struct rx	*rx = arg;

	(void)c;
	free(rx->closed);
	rx->closed = xstrdup(reason);
	event_base_loopbreak(rx->base);
}

static void
run_until(struct rx *rx)
{
	struct timeval	tv = { 5, 0 };

	event_base_loopexit(rx->base, &tv);
	event_base_dispatch(rx->base);
}

static void
test_fd_passing(void **state)
{
	struct event_base	*base = event_base_new();
	struct rx		 rx = { base, 0, 0, -1, 0, 0, NULL };
	struct ipc		*a, *b;
	struct fbuf		 fb;
	int			 sp[2], pp[2];
	char			 buf[8];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(pipe(pp), 0);
	a = ipc_new(base, sp[0], "a", specs, on_msg, on_close, &rx);
	b = ipc_new(base, sp[1], "b", specs, on_msg, on_close, &rx);
	fbuf_init(&fb);
	frame_begin(&fb, T_PING);
	frame_put_u64(&fb, F_N, 42);
	frame_end(&fb);
	assert_int_equal(ipc_send(a, &fb, pp[0]), 0);
	run_until(&rx);
	assert_int_equal(rx.got, 1);
	assert_int_equal(rx.n, 42);
	assert_true(rx.fd >= 0);
	/* The passed descriptor is the pipe's read end. */
	assert_int_equal(write(pp[1], "hello", 5), 5);
	assert_int_equal(read(rx.fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(rx.fd);
	close(pp[1]);
	fbuf_free(&fb);
	ipc_free(a);
	ipc_free(b);
	event_base_free(base);
}

static void
test_large_frame(void **state)
{
	struct event_base	*base = event_base_new();
	struct rx		 rx = { base, 0, 0, -1, 0, 0, NULL };
	struct ipc		*a, *b;
	struct fbuf		 fb;
	uint8_t			*big;
	size_t			 n = 3 * 1024 * 1024, i;
	int			 sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	a = ipc_new(base, sp[0], "a", specs, on_msg, on_close, &rx);
	b = ipc_new(base, sp[1], "b", specs, on_msg, on_close, &rx);
	big = xmalloc(n);
	for (i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7);
	fbuf_init(&fb);
	frame_begin(&fb, T_BLOB);
	frame_put_bytes(&fb, F_DATA, big, n);
	frame_end(&fb);
	assert_int_equal(ipc_send(a, &fb, -1), 0);
	while (rx.got == 0 && rx.closed == NULL)
		run_until(&rx);
	assert_null(rx.closed);
	assert_int_equal(rx.bloblen, n);
	assert_true(rx.blob_ok);
	free(big);
	fbuf_free(&fb);
	ipc_free(a);
	ipc_free(b);
	event_base_free(base);
}

/* Raw bytes written to one end; the other end must refuse them. */
static char *
refusal(const void *bytes, size_t len)
{
	struct event_base	*base = event_base_new();
	struct rx		 rx = { base, 0, 0, -1, 0, 0, NULL };
	struct ipc		*b;
	int			 sp[2];
	char			*why;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_new(base, sp[1], "peer", specs, on_msg, on_close, &rx);
	assert_int_equal(write(sp[0], bytes, len), (ssize_t)len);
	run_until(&rx);
	assert_int_equal(rx.got, 0);
	assert_non_null(rx.closed);
	why = rx.closed;
	ipc_free(b);
	close(sp[0]);
	event_base_free(base);
	return why;
}

static void
test_garbage(void **state)
{
	char	*why;

	(void)state;
	why = refusal("GET / HTTP/1.1\r\n\r\n", 18);
	assert_non_null(strstr(why, "bad magic"));
	free(why);
}

static void
test_unknown_type(void **state)
{
	struct fbuf	 fb;
	char		*why;

	(void)state;
	fbuf_init(&fb);
	frame_begin(&fb, 99);
	frame_end(&fb);
	why = refusal(fb.data, fb.len);
	assert_non_null(strstr(why, "unknown message type 99"));
	free(why);
	fbuf_free(&fb);
}

static void
test_spec_violation(void **state)
{
	struct fbuf	 fb;
	char		*why;

	(void)state;
	fbuf_init(&fb);
	frame_begin(&fb, T_PING);	/* without its required field n */
	frame_end(&fb);
	why = refusal(fb.data, fb.len);
	assert_non_null(strstr(why, "required field n is missing"));
	free(why);
	fbuf_free(&fb);
}

static void
test_peer_gone(void **state)
{
	struct event_base	*base = event_base_new();
	struct rx		 rx = { base, 0, 0, -1, 0, 0, NULL };
	struct ipc		*b;
	struct fbuf		 fb;
	int			 sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_new(base, sp[1], "peer", specs, on_msg, on_close, &rx);
	close(sp[0]);
	run_until(&rx);
	assert_non_null(rx.closed);
	assert_non_null(strstr(rx.closed, "peer closed the channel"));
	/* Sending on a dead channel fails instead of queueing forever. */
	fbuf_init(&fb);
	frame_begin(&fb, T_PING);
	frame_put_u64(&fb, F_N, 1);
	frame_end(&fb);
	assert_int_equal(ipc_send(b, &fb, -1), -1);
	fbuf_free(&fb);
	free(rx.closed);
	ipc_free(b);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_large_frame),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_spec_violation),
		cmocka_unit_test(test_peer_gone),
	};

	log_init("test_ipc", 1, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
