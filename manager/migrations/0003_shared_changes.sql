-- What replicas share besides the sensors' data: per kind ('approvals', 'tags'), the id of its
-- last change, taken in the transaction that changed it (from change_ids, as sensor_changes), so a
-- replica reads the approved inventories or the tags again only after they changed.
CREATE TABLE shared_changes (what text PRIMARY KEY, change bigint NOT NULL);
