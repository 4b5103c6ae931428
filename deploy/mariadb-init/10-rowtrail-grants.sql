-- What `rowtrail doctor` asks of the capture account on MariaDB. The image's entrypoint created the account
-- (MARIADB_USER) with all privileges on its database (MARIADB_DATABASE) before running this file.
-- REPLICATION SLAVE: read the binlog; BINLOG MONITOR (REPLICATION CLIENT): binlog positions and GTID state;
-- REPLICATION MASTER ADMIN: see the other replicas (a unique serverId); PROCESS and performance_schema: who
-- made a transaction (the identity sampler).
GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, PROCESS ON *.* TO 'rowtrail'@'%';
GRANT SELECT ON performance_schema.* TO 'rowtrail'@'%';
