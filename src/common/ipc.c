#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ipc.h"
#include "log.h"

struct ipc_out {
	struct ipc_out	*next;
	uint8_t		*data;
	size_t		 len;
	size_t		 off;
	int		 fd;
};

#define IPC_MAXFDS	16
/* Frames that carry a descriptor set this flag so the reader pairs them. */
#define IPC_FLAG_FD	0x01

struct ipc {
	struct event_base		*base;
	struct event			*rev;
	struct event			*wev;
	int				 fd;
	char				*peer;
	const struct frame_spec		*specs;
	ipc_msg_cb			 msg_cb;
	ipc_close_cb			 close_cb;
	void				*arg;
	struct fbuf			 in;
	int				 fds[IPC_MAXFDS];	/* received, unclaimed */
	int				 nfds;
	struct ipc_out			*out, *out_tail;
	size_t				 queued;
	int				 dead;
	int				 in_cb;
	int				 freed;
};

static void	ipc_read_cb(evutil_socket_t, short, void *);
static void	ipc_write_cb(evutil_socket_t, short, void *);

struct ipc *
ipc_new(struct event_base *base, int fd, const char *peer,
    const struct frame_spec *specs, ipc_msg_cb msg_cb, ipc_close_cb close_cb,
    void *arg)
{
	struct ipc	*c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->fd = fd;
	c->peer = xstrdup(peer);
	c->specs = specs;
	c->msg_cb = msg_cb;
	c->close_cb = close_cb;
	c->arg = arg;
	set_nonblock(fd);
	set_cloexec(fd);
	fbuf_init(&c->in);
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, ipc_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE, ipc_write_cb, c);
	event_add(c->rev, NULL);
	return c;
}

const char *
ipc_peer(const struct ipc *c)
{
	return c->peer;
}

size_t
ipc_queued(const struct ipc *c)
{
	return c->queued;
}

static void
ipc_die(struct ipc *c, const char *reason)
{
	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->rev);
	event_del(c->wev);
	if (c->close_cb != NULL)
		c->close_cb(c, reason, c->arg);
}

int
ipc_send(struct ipc *c, const struct fbuf *b, int fd)
{
	struct ipc_out	*o;

	if (c->dead) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	o = xcalloc(1, sizeof(*o));
	o->data = xmalloc(b->len);
	memcpy(o->data, b->data, b->len);
	if (fd != -1)
		frame_set_flags(o->data, b->len, IPC_FLAG_FD);
	o->len = b->len;
	o->fd = fd;
	if (c->out_tail != NULL)
		c->out_tail->next = o;
	else
		c->out = o;
	c->out_tail = o;
	c->queued += b->len;
	event_add(c->wev, NULL);
	return 0;
}

int
ipc_send_empty(struct ipc *c, uint16_t type)
{
	struct fbuf	b;
	int		rc;

	fbuf_init(&b);
	frame_begin(&b, type);
	frame_end(&b);
	rc = ipc_send(c, &b, -1);
	fbuf_free(&b);
	return rc;
}

/* Returns 1 when the queue is empty, 0 if it would block, -1 on error. */
static int
ipc_write_some(struct ipc *c)
{
	struct ipc_out	*o;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cm;
	ssize_t		 n;

	while ((o = c->out) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = o->data + o->off;
		iov.iov_len = o->len - o->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (o->fd != -1 && o->off == 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cm), &o->fd, sizeof(int));
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (o->fd != -1 && o->off == 0) {
			close(o->fd);
			o->fd = -1;
		}
		o->off += (size_t)n;
		c->queued -= (size_t)n;
		if (o->off < o->len)
			continue;
		c->out = o->next;
		if (c->out == NULL)
			c->out_tail = NULL;
		free(o->data);
		free(o);
	}
	return 1;
}

static void
ipc_write_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc	*c = arg;
	int		 rc;

	(void)fd;
	(void)ev;
	rc = ipc_write_some(c);
	if (rc == -1) {
		char *r = xasprintf("write to %s: %s", c->peer,
		    strerror(errno));
		ipc_die(c, r);
		free(r);
	} else if (rc == 0)
		event_add(c->wev, NULL);
}

void
ipc_flush(struct ipc *c)
{
	struct pollfd	pfd;
	int		rc;

	while (!c->dead && c->out != NULL) {
		if ((rc = ipc_write_some(c)) == -1)
			return;
		if (rc == 0) {
			pfd.fd = c->fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 1000) <= 0)
				return;
		}
	}
}

static int
ipc_take_fd(struct ipc *c)
{
	int	fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, (size_t)(c->nfds - 1) * sizeof(int));
	c->nfds--;
	return fd;
}


static void
ipc_read_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc		*c = arg;
	const struct frame_spec	*spec;
	struct frame		 f;
	struct msghdr		 msg;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct cmsghdr		*cm;
	uint8_t			 buf[65536];
	char			*cause = NULL;
	ssize_t			 n, used;
	int			 i, nrecv, rfd;

	(void)fd;
	(void)ev;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		cause = xasprintf("read from %s: %s", c->peer,
		    strerror(errno));
		goto die;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		nrecv = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < nrecv; i++) {
			memcpy(&rfd, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (c->nfds < IPC_MAXFDS)
				c->fds[c->nfds++] = rfd;
			else
				close(rfd);
		}
	}
	if (n == 0) {
		cause = xasprintf("%s closed the channel", c->peer);
		goto die;
	}
	fbuf_add(&c->in, buf, (size_t)n);
	c->in_cb = 1;
	while (!c->dead) {
		used = frame_decode(c->in.data, c->in.len, IPC_MAXFRAME, &f,
		    &cause);
		if (used == 0)
			break;
		if (used < 0)
			goto die;
		if ((spec = frame_spec_find(c->specs, f.type)) == NULL) {
			cause = xasprintf("%s sent unknown message type %u",
			    c->peer, f.type);
			goto die;
		}
		if (frame_check(&f, spec, &cause) == -1)
			goto die;
		rfd = -1;
		if (f.flags & IPC_FLAG_FD)
			rfd = ipc_take_fd(c);
		c->msg_cb(c, &f, rfd, c->arg);
		if (c->freed)
			break;
		fbuf_drain(&c->in, (size_t)used);
	}
	c->in_cb = 0;
	if (c->freed)
		ipc_free(c);
	return;
die:
	c->in_cb = 1;
	ipc_die(c, cause);
	free(cause);
	c->in_cb = 0;
	if (c->freed)
		ipc_free(c);
}

void
ipc_free(struct ipc *c)
{
	struct ipc_out	*o;

	if (c == NULL)
		return;
	if (c->in_cb) {
		/* Called from inside our own callback: finish there. */
		c->freed = 1;
		c->dead = 1;
		event_del(c->rev);
		event_del(c->wev);
		return;
	}
	event_free(c->rev);
	event_free(c->wev);
	while ((o = c->out) != NULL) {
		c->out = o->next;
		if (o->fd != -1)
			close(o->fd);
		free(o->data);
		free(o);
	}
	while (c->nfds > 0)
		close(c->fds[--c->nfds]);
	close(c->fd);
	fbuf_free(&c->in);
	free(c->peer);
	free(c);
}

void
ipc_close_fd_in_child(struct ipc *c)
{
	close(c->fd);
}
