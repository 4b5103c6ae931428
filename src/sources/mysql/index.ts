/** The MySQL / MariaDB source: binlog capture, decoder, positions and doctor. */
export { MysqlSource, type MysqlSourceOptions } from './mysql-stream.js';
export { statementChange } from './mysql-transaction.js';
export { BinlogDecoder, SchemaHistory, DecodeError, type TableSchema, type BinlogEvent } from './mysql-decoder.js';
export { mysqlDoctor, type MysqlDoctorOptions } from './mysql-doctor.js';
export { binlogRetentionSeconds } from './mysql-settings.js';
export { settingProblems, oldestGtidState, missingTables, missingTablesWarning, defaultServerId, watchFilter, type TableProbe } from './mysql-settings.js';
export { mysqlSetup } from './mysql-setup.js';
export { accountOf, globalGrants, grantOn, mysqlGrantStatements } from './mysql-grants.js';
export { positionKind, parseFilePos, formatFilePos, mariadbPurged } from './mysql-position.js';
