DROP TABLE retrieval_files;
DROP TABLE jobs;
DROP TABLE retrievals;
