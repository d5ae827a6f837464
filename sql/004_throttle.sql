-- A policy's bandwidth limit for its agents: bytes/s ("10m", 0 = none)
-- or a schedule ("08:00-18:00=10m,*=0"), sent to agents in heartbeats.
ALTER TABLE policies ADD COLUMN throttle VARCHAR(255) NOT NULL DEFAULT '0';
