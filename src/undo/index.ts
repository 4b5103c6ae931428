/** Undo and blame: guarded reversal SQL for PostgreSQL and MySQL/MariaDB, and row history. */
export { commentText, newRunId, sqlComment, UNDO_AGENT, type Dialect, type TableRef, type ScriptStatement, type ScriptMeta } from './dialect.js';
export { postgresDialect } from './postgres-dialect.js';
export { mysqlDialect } from './mysql-dialect.js';
export { planUndo, collectUndo, finishPlan, orderSteps, type Plan, type UndoStep, type Refusal, type Catalog, type ForeignKey } from './undo-planner.js';
export { renderSql, writeSql, renderJson, stepSql, scriptStatements, statementsOf, type UndoPlan, type Conflict } from './undo-render.js';
export { connectSource, dialectFor, UNDO_APPLICATION, type SqlConn } from './source-conn.js';
export { readCatalog, findConflicts, actorName } from './conflicts.js';
export { applyUndo, type ApplyResult } from './apply.js';
export { prepareUndo, selectChanges, checkSelection, newSelection, type Selection, type UndoRequest, type PreparedUndo } from './undo.js';
export { blame, blameKey, keyColumns, changeLines, type BlameQuery } from './blame.js';
