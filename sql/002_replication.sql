-- Haven schema, version 2: replication policies, recovery points and
-- the replication state of each protected disk (docs/replication.md).
-- Every DATETIME is UTC, as in 001.

-- A policy: how often the agent takes points, how long the master
-- target keeps them, when control alerts.  Creating P creates its
-- failback twin "P-failback" with the same values (is_failback = 1);
-- twin_id links the two both ways.  The db ops check the ranges and
-- say why; the CHECKs only stop what no op would write.
CREATE TABLE policies (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	name			VARCHAR(64) NOT NULL,
	rpo_threshold_s		INT NOT NULL DEFAULT 900,
	retention_s		INT NOT NULL DEFAULT 86400,
	app_consistent_s	INT NOT NULL DEFAULT 14400,	-- 0: none
	crash_interval_s	INT NOT NULL DEFAULT 300,
	thin_after_s		INT NOT NULL DEFAULT 7200,	-- 0: no thinning
	thin_every_s		INT NOT NULL DEFAULT 3600,
	is_failback		BOOL NOT NULL DEFAULT FALSE,
	twin_id			BIGINT NULL,
	created_at		DATETIME NOT NULL,
	updated_at		DATETIME NULL,
	PRIMARY KEY (id),
	UNIQUE KEY policies_name (name),
	CHECK (crash_interval_s >= 10),
	CHECK (rpo_threshold_s >= 10),
	CHECK (retention_s >= 10),
	CHECK (app_consistent_s >= 0),
	CHECK (thin_after_s >= 0),
	CHECK (thin_every_s >= 60)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The seed policy, as a configuration server is installed with one:
-- RPO threshold 15 min, one day of points, an app-consistent point
-- every 4 h, a crash-consistent one every 5 min.
INSERT INTO policies (name, is_failback, created_at)
    VALUES ('default', FALSE, UTC_TIMESTAMP());
INSERT INTO policies (name, is_failback, twin_id, created_at)
    SELECT 'default-failback', TRUE, id, UTC_TIMESTAMP() FROM policies
    WHERE name = 'default';
UPDATE policies p JOIN policies f ON f.name = 'default-failback'
    SET p.twin_id = f.id WHERE p.name = 'default';

-- A machine follows one policy; NULL: not protected yet.
ALTER TABLE machines
    ADD COLUMN policy_id BIGINT NULL,
    ADD KEY machines_policy (policy_id),
    ADD CONSTRAINT machines_policy_fk FOREIGN KEY (policy_id)
	REFERENCES policies (id);

-- One row per disk per recovery point, written when the master target
-- has applied the point's bookmark.  A machine's point is complete
-- when every one of its disks has a row for it.  Disk names are the
-- agent's (case matters: they may be paths).
CREATE TABLE recovery_points (
	machine_id		CHAR(36) NOT NULL,
	disk			VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
	point_id		BIGINT NOT NULL,
	seq			BIGINT NOT NULL,
	kind			ENUM('crash','app') NOT NULL,
	crash_consistent	BOOL NOT NULL DEFAULT TRUE,
	taken_at		DATETIME(3) NOT NULL,
	applied_at		DATETIME(3) NOT NULL,
	PRIMARY KEY (machine_id, disk, point_id),
	KEY recovery_points_point (machine_id, point_id),
	CONSTRAINT recovery_points_machine_fk FOREIGN KEY (machine_id)
	    REFERENCES machines (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Replication state per disk: the agent's report (state, progress,
-- bytes sent) and the servers' (bytes received, applied).
CREATE TABLE disk_state (
	machine_id		CHAR(36) NOT NULL,
	disk			VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
	state			ENUM('initial-sync','protected','resyncing',
				    'paused','error') NOT NULL
				    DEFAULT 'initial-sync',
	percent			INT NULL,
	eta_s			BIGINT NULL,
	bytes_sent		BIGINT NOT NULL DEFAULT 0,
	bytes_received		BIGINT NOT NULL DEFAULT 0,
	bytes_applied		BIGINT NOT NULL DEFAULT 0,
	error			TEXT NULL,
	updated_at		DATETIME(3) NOT NULL,
	PRIMARY KEY (machine_id, disk),
	CONSTRAINT disk_state_machine_fk FOREIGN KEY (machine_id)
	    REFERENCES machines (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
