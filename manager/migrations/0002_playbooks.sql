-- The playbooks' run log and the tags playbooks put on sensors' assets (docs/PLAYBOOKS.md), as
-- the sled store's trees of the same name: keys and values as bytes (JSON values).
CREATE TABLE playbook_runs (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE asset_tags (k bytea PRIMARY KEY, v bytea NOT NULL);
