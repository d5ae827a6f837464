-- Haven schema, version 1.
--
-- Applied by havend's db process (src/havend/migrate.c), which creates
-- schema_version itself.  Every DATETIME is UTC: havend sets the
-- session time_zone to '+00:00' and writes UTC_TIMESTAMP() explicitly.
-- One statement per ';'; no DELIMITER, so no stored routines here.

-- Enrolled agents and scale-out process servers.  A revoked machine
-- stays: its certificate serial must stay on the CRL.
CREATE TABLE machines (
	id			CHAR(36) NOT NULL,
	hostname		VARCHAR(255) NOT NULL,
	role			ENUM('agent','ps') NOT NULL,
	status			ENUM('enrolled','connected','disconnected',
				    'revoked') NOT NULL DEFAULT 'enrolled',
	address			VARCHAR(255) NOT NULL DEFAULT '',
	cert_serial		VARCHAR(80) NOT NULL,
	cert_fingerprint	CHAR(64) NOT NULL,
	cert_not_after		DATETIME NOT NULL,
	enrolled_at		DATETIME NOT NULL,
	last_heartbeat		DATETIME NULL,
	revoked_at		DATETIME NULL,
	inventory		LONGTEXT NULL
				    CHECK (inventory IS NULL OR JSON_VALID(inventory)),
	os			VARCHAR(255) NULL,
	kernel			VARCHAR(255) NULL,
	agent_version		VARCHAR(64) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY machines_cert_serial (cert_serial),
	UNIQUE KEY machines_cert_fingerprint (cert_fingerprint),
	KEY machines_status (status, last_heartbeat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Sign-in accounts for the admin UI.  Names compare case-insensitively
-- so "Admin" and "admin" cannot be two accounts.
CREATE TABLE users (
	name			VARCHAR(64) NOT NULL,
	password_hash		VARCHAR(255) NOT NULL,
	failures		INT NOT NULL DEFAULT 0,
	locked_until		DATETIME NULL,
	created_at		DATETIME NOT NULL,
	password_changed_at	DATETIME NOT NULL,
	PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who changed what, from where.
CREATE TABLE audit_log (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	at			DATETIME(3) NOT NULL,
	actor			VARCHAR(190) NOT NULL,
	address			VARCHAR(255) NOT NULL DEFAULT '',
	action			VARCHAR(64) NOT NULL,
	target			VARCHAR(255) NOT NULL DEFAULT '',
	detail			TEXT NULL,
	PRIMARY KEY (id),
	KEY audit_log_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Slow work done by job processes; the row outlives the process.
CREATE TABLE jobs (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	kind			VARCHAR(64) NOT NULL,
	state			ENUM('queued','running','succeeded','failed')
				    NOT NULL DEFAULT 'queued',
	percent			INT NOT NULL DEFAULT 0,
	message			TEXT NULL,
	args			LONGTEXT NULL,
	result			LONGTEXT NULL,
	error			TEXT NULL,
	created_by		VARCHAR(190) NOT NULL DEFAULT '',
	created_at		DATETIME NOT NULL,
	started_at		DATETIME NULL,
	finished_at		DATETIME NULL,
	PRIMARY KEY (id),
	KEY jobs_state (state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per alert key; cleared_at NULL means active.
CREATE TABLE alerts (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	alert_key		VARCHAR(190) NOT NULL,
	severity		ENUM('info','warning','critical') NOT NULL,
	message			TEXT NOT NULL,
	raised_at		DATETIME NOT NULL,
	cleared_at		DATETIME NULL,
	PRIMARY KEY (id),
	UNIQUE KEY alerts_key (alert_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What happened to machines: enrolled, connected, disconnected, revoked.
CREATE TABLE events (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	at			DATETIME(3) NOT NULL,
	machine_id		CHAR(36) NULL,
	kind			VARCHAR(32) NOT NULL,
	message			TEXT NOT NULL,
	PRIMARY KEY (id),
	KEY events_machine (machine_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
