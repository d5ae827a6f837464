-- One-time enrollment tokens (docs/enrollment.md): issued for a push
-- install (purpose 'push', bound to its job and target) or by an
-- operator for a manual install ('manual').  The token's secret is not
-- stored: only its proof key (SHA-256 of the token, what verifying
-- the enrollment proofs needs), sealed with the appliance's secrets key
-- (src/common/secret.c), so a dump of the database cannot enroll.  A
-- token is live while used_at and revoked_at are NULL and expires_at is
-- in the future; using it sets used_at in the transaction that records
-- the machine, so one token enrolls one machine.
CREATE TABLE enroll_tokens (
	id			CHAR(16) NOT NULL,
	key_sealed		VARCHAR(255) NOT NULL,
	purpose			ENUM('push','manual') NOT NULL,
	target			VARCHAR(255) NOT NULL DEFAULT '',
	job_id			BIGINT NULL,
	note			VARCHAR(255) NOT NULL DEFAULT '',
	created_by		VARCHAR(190) NOT NULL DEFAULT '',
	created_at		DATETIME NOT NULL,
	expires_at		DATETIME NOT NULL,
	used_at			DATETIME NULL,
	used_by			VARCHAR(255) NULL,
	used_address		VARCHAR(255) NULL,
	machine_id		CHAR(36) NULL,
	revoked_at		DATETIME NULL,
	revoked_by		VARCHAR(190) NULL,
	revoke_reason		VARCHAR(255) NULL,
	PRIMARY KEY (id),
	KEY enroll_tokens_job (job_id),
	KEY enroll_tokens_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
