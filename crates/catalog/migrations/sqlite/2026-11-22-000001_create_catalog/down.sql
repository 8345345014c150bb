DROP TABLE files;
DROP TABLE dirs;
DROP TABLE bundles;
DROP TABLE runs;
