/* Inside a shard: connections, the disks it owns, and the two roles. */
#ifndef HAVEN_SHARD_H
#define HAVEN_SHARD_H

#include <stdint.h>

#include <event2/bufferevent.h>
#include <jansson.h>

#include "frame.h"

enum dconn_role { DC_NONE, DC_AGENT, DC_PS };
enum sdisk_kind { SD_INGEST, SD_APPLY };

struct sdisk;

struct dconn {
	struct bufferevent	*bev;
	char			 addr[64];
	char			*machine;	/* client certificate CN */
	int			 verified;
	int			 closing;
	enum dconn_role		 role;
	uint64_t		 resume;	/* agent: last seq it saw acked */
	struct sdisk		*disk;
	struct dconn		*next;
};

struct drain;

/* A disk key this shard claimed or holds ("ingest:ID" / "apply:ID"). */
struct sdisk {
	char			*key;
	char			*id;		/* "<machine id>:<disk name>" */
	enum sdisk_kind		 kind;
	int			 granted;
	struct dconn		*conn;
	uint64_t		 size;
	/* ingest (process server) */
	struct cachelog		*log;
	uint64_t		 acked;
	int			 blocked;	/* cache full: not reading */
	struct event		*unblock_ev;
	struct drain		*drain;
	uint64_t		 rx_bytes;
	uint64_t		 rx_durable;	/* of rx_bytes: committed */
	uint64_t		 rx_reported;	/* of rx_durable: told control */
	/* apply (master target) */
	struct replica		*rep;
	struct seal		*seal;
	uint64_t		 disknum;
	json_t			*points;	/* bookmarks applied, not synced */
	uint64_t		 applied_bytes;
	uint64_t		 applied_synced;	/* of applied_bytes: synced */
	uint64_t		 applied_reported;
	struct sdisk		*next;
};

extern struct event_base	*shard_base;
extern int			 shard_no;

void		 dconn_send(struct dconn *, const struct fbuf *);
void		 dconn_refuse(struct dconn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Stop or resume reading a connection (back-pressure). */
void		 dconn_pause(struct dconn *, int paused);
void		 shard_event(json_t *);
/* Bytes made durable or applied since the last report, as an event. */
void		 shard_bytes_report(struct sdisk *);
void		 shard_claim(struct sdisk *);
void		 shard_released(struct sdisk *);
struct sdisk	*sdisk_get(enum sdisk_kind, const char *id);
void		 sdisk_free(struct sdisk *);
/* c becomes the disk's connection; the one it replaces is refused. */
void		 sdisk_attach(struct sdisk *, struct dconn *);

/*
 * Frame handlers return 1 when the frame was consumed, 0 to keep it and
 * stop reading for now (cache full), -1 when the connection was closed.
 */
int	ingest_hello(struct dconn *, const struct frame *);
int	ingest_frame(struct dconn *, const struct frame *);
void	ingest_batch_end(struct sdisk *);
void	ingest_granted(struct sdisk *);
void	ingest_conn_gone(struct sdisk *);
void	ingest_close(struct sdisk *);
void	ingest_mt_changed(struct sdisk *);

int	apply_hello(struct dconn *, const struct frame *);
int	apply_frame(struct dconn *, const struct frame *);
void	apply_batch_end(struct sdisk *);
void	apply_granted(struct sdisk *);
void	apply_conn_gone(struct sdisk *);
void	apply_close(struct sdisk *);

#endif
