/*
 * A framed message channel between two processes over a socketpair,
 * driven by libevent.  Like OpenBSD's imsg: a message may carry one file
 * descriptor (SCM_RIGHTS).  Every received frame is checked against the
 * channel's spec table before the callback sees it; a bad frame closes
 * the channel with a reason.
 */
#ifndef HAVEN_IPC_H
#define HAVEN_IPC_H

#include <event2/event.h>

#include "frame.h"

#define IPC_MAXFRAME	(16u * 1024 * 1024)

struct ipc;
/* fd is -1 or a received descriptor the callback now owns. */
typedef void	(*ipc_msg_cb)(struct ipc *, const struct frame *, int fd,
		    void *arg);
/* The peer went away or sent garbage; the channel is already dead. */
typedef void	(*ipc_close_cb)(struct ipc *, const char *reason, void *arg);

struct ipc	*ipc_new(struct event_base *, int fd, const char *peer,
		    const struct frame_spec *, ipc_msg_cb, ipc_close_cb,
		    void *arg);
/* Queue a built frame (frame_end done), passing fd if not -1; the fd is
 * closed here once sent.  Returns -1 if the channel is closed. */
int		 ipc_send(struct ipc *, const struct fbuf *, int fd);
/* Convenience for a frame with no fields. */
int		 ipc_send_empty(struct ipc *, uint16_t type);
const char	*ipc_peer(const struct ipc *);
size_t		 ipc_queued(const struct ipc *);
/* Blocking: write everything queued (used before exit). */
void		 ipc_flush(struct ipc *);
void		 ipc_free(struct ipc *);
/* In a freshly forked child: close the descriptor of a channel that
 * belongs to the parent, leaving the parent's event loop alone. */
void		 ipc_close_fd_in_child(struct ipc *);

#endif
