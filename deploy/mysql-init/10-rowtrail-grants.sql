-- What `rowtrail doctor` asks of the capture account on MySQL 8.4. The image's entrypoint created the account
-- (MYSQL_USER) with all privileges on its database (MYSQL_DATABASE) before running this file.
-- REPLICATION SLAVE: read the binlog (and see the other replicas); REPLICATION CLIENT: binlog positions and
-- GTID state; PROCESS and performance_schema: who made a transaction (the identity sampler).
GRANT REPLICATION SLAVE, REPLICATION CLIENT, PROCESS ON *.* TO 'rowtrail'@'%';
GRANT SELECT ON performance_schema.* TO 'rowtrail'@'%';
