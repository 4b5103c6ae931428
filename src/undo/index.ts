/** Undo: guarded reversal SQL for PostgreSQL and MySQL/MariaDB. */
export { commentText, newRunId, sqlComment, UNDO_AGENT, type Dialect, type TableRef, type ScriptStatement, type ScriptMeta } from './dialect.js';
export { postgresDialect } from './postgres-dialect.js';
export { mysqlDialect } from './mysql-dialect.js';
export { planUndo, collectUndo, finishPlan, orderSteps, type Plan, type UndoStep, type Refusal, type Catalog, type ForeignKey } from './undo-planner.js';
export { renderSql, writeSql, renderJson, stepSql, scriptStatements, statementsOf, type UndoPlan, type Conflict } from './undo-render.js';
export { connectSource, dialectFor, UNDO_APPLICATION, type SqlConn } from './source-conn.js';
export { readCatalog, findConflicts, actorName } from './conflicts.js';
export { applyUndo, type ApplyResult } from './apply.js';
export { prepareUndo, selectChanges, checkSelection, newSelection, type Selection, type UndoRequest, type PreparedUndo } from './undo.js';
// Row history moved to history/ (it reads the store and has nothing to do with undo); re-exported for callers
// of the old place. changeLines is in present/.
export { blame, blameKey, keyColumns, type BlameQuery } from '../history/index.js';
