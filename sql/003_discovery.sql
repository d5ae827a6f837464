-- Accounts, hypervisor servers and the machines discovered on them
-- (issue 5, docs/accounts.md).

-- Credentials for discovery and push install.  secret holds only the
-- sealed form ("hv1:" base64 of nonce, AES-256-GCM ciphertext and tag,
-- the account name as AAD, src/common/secret.c): the key is a file in
-- havend's state_dir, never in the database.
CREATE TABLE accounts (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	name			VARCHAR(64) NOT NULL,
	kind			ENUM('vsphere','libvirt','push') NOT NULL,
	username		VARCHAR(255) NOT NULL DEFAULT '',
	secret			TEXT NULL,
	auth			ENUM('ssh-key','password','none') NULL,
	sudo			TINYINT(1) NOT NULL DEFAULT 0,
	created_at		DATETIME NOT NULL,
	updated_at		DATETIME NOT NULL,
	secret_changed_at	DATETIME NULL,
	PRIMARY KEY (id),
	UNIQUE KEY accounts_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- vCenter/ESXi servers and KVM hosts.  thumbprint is the accepted
-- SHA-256 thumbprint of a vSphere server's certificate, pending_thumbprint
-- what it presented last when that differs (or none is accepted yet).
-- discovering/discovery_run: a discovery job is under way (the run
-- number tells a job's own writes from a later one's).
CREATE TABLE hypervisors (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	name			VARCHAR(64) NOT NULL,
	kind			ENUM('vsphere','libvirt') NOT NULL,
	address			VARCHAR(255) NULL,
	port			INT NULL,
	uri			VARCHAR(1024) NULL,
	account_id		BIGINT NULL,
	thumbprint		VARCHAR(95) NULL,
	pending_thumbprint	VARCHAR(95) NULL,
	status			ENUM('new','pending','connected','error')
				    NOT NULL DEFAULT 'new',
	error			TEXT NULL,
	about			LONGTEXT NULL
				    CHECK (about IS NULL OR JSON_VALID(about)),
	last_discovery		DATETIME NULL,
	last_attempt		DATETIME NULL,
	discovering		TINYINT(1) NOT NULL DEFAULT 0,
	discovery_started	DATETIME NULL,
	discovery_run		INT NOT NULL DEFAULT 0,
	created_at		DATETIME NOT NULL,
	updated_at		DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY hypervisors_name (name),
	KEY hypervisors_due (discovering, last_attempt),
	CONSTRAINT hypervisors_account FOREIGN KEY (account_id)
	    REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What discovery found.  A machine that disappears keeps its row with
-- gone_at set; one that comes back gets gone_at NULL again. seen_run is
-- the hypervisor's discovery_run that saw it last.
CREATE TABLE vms (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	hypervisor_id		BIGINT NOT NULL,
	instance_uuid		VARCHAR(64) NOT NULL,
	moref			VARCHAR(64) NULL,
	name			VARCHAR(255) NOT NULL,
	bios_uuid		VARCHAR(64) NULL,
	power_state		VARCHAR(16) NOT NULL,
	guest_os		VARCHAR(255) NULL,
	guest_id		VARCHAR(255) NULL,
	hostname		VARCHAR(255) NULL,
	template		TINYINT(1) NOT NULL DEFAULT 0,
	addresses		LONGTEXT NULL
				    CHECK (addresses IS NULL OR JSON_VALID(addresses)),
	cpus			INT NULL,
	memory_mb		BIGINT NULL,
	disks			LONGTEXT NULL
				    CHECK (disks IS NULL OR JSON_VALID(disks)),
	nics			LONGTEXT NULL
				    CHECK (nics IS NULL OR JSON_VALID(nics)),
	host			VARCHAR(255) NULL,
	datastore		VARCHAR(255) NULL,
	folder			TEXT NULL,
	first_seen		DATETIME NOT NULL,
	last_seen		DATETIME NOT NULL,
	gone_at			DATETIME NULL,
	seen_run		INT NOT NULL DEFAULT 0,
	protectable		TINYINT(1) NOT NULL DEFAULT 0,
	not_protectable_reason	TEXT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY vms_instance (hypervisor_id, instance_uuid),
	KEY vms_name (name),
	CONSTRAINT vms_hypervisor FOREIGN KEY (hypervisor_id)
	    REFERENCES hypervisors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
