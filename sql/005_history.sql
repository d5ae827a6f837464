-- Replication history for the 24 h chart and /metrics (docs/replication.md
-- "History"): one row per replicated disk per sample, written by control
-- every history_interval seconds through the db process, kept 7 days.
--
-- rpo_s is the disk's achieved RPO when sampled: seconds since the newest
-- recovery point applied on it was taken (NULL before its first point).
-- bytes_in / bytes_applied are the data bytes made durable in the process
-- server's cache / applied to the replica since the previous sample
-- (payload only: zero runs and framing are not counted).  interval_s is
-- the time that sample covers.  at is UTC, as everywhere.
CREATE TABLE disk_history (
	machine_id		CHAR(36) NOT NULL,
	disk			VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
	at			DATETIME NOT NULL,
	interval_s		INT NOT NULL,
	rpo_s			BIGINT NULL,
	bytes_in		BIGINT NOT NULL DEFAULT 0,
	bytes_applied		BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (machine_id, at, disk),
	KEY disk_history_at (at),
	CONSTRAINT disk_history_machine_fk FOREIGN KEY (machine_id)
	    REFERENCES machines (id) ON DELETE CASCADE,
	CHECK (interval_s > 0),
	CHECK (bytes_in >= 0 AND bytes_applied >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
