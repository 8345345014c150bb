DROP INDEX inventories_store;
DROP TABLE inventories;
ALTER TABLE bundles DROP COLUMN plan;
ALTER TABLE bundles DROP COLUMN tree_hash;
