-- The fleet store's tables (docs/POSTGRES.md). Each holds what the sled store's tree of the
-- same name holds: a key and a value, both as bytes. Data keys are `<sensor id>/<record id>`,
-- so one sensor's records are one range of the primary key, in the order sled keeps them.
-- Values are what sled holds: protobuf for assets, connections and alerts, JSON for the rest.

CREATE TABLE tokens (k bytea PRIMARY KEY, v bytea NOT NULL);
-- Sensor records (JSON, with the last applied sequence number): a batch locks its sensor's
-- row (SELECT ... FOR UPDATE) for the transaction that applies it.
CREATE TABLE sensors (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE assets (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE connections (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE alerts (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE operator_revocations (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE operator_tokens (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE advisories (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE approved_assets (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE risk_scores (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE forward_queue (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE forward_stats (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE forward_dead (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE stored_at (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE retention_removed (k bytea PRIMARY KEY, v bytea NOT NULL);
-- Forwarding queue entry ids (increasing: a queue's order).
CREATE SEQUENCE forward_ids;
-- Where each sensor's data last changed: a batch's transaction sets its sensor's row to the next
-- change id, so a replica reads what changed since the last id it saw (`change > $1`) to keep its
-- fleet view current (the lead's replicas work; docs/POSTGRES.md).
CREATE SEQUENCE change_ids;
CREATE TABLE sensor_changes (
    sensor text PRIMARY KEY,
    site text NOT NULL,
    applied_seq bigint NOT NULL,
    change bigint NOT NULL
);
CREATE INDEX sensor_changes_by_change ON sensor_changes (change);
