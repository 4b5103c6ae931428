/** History: what the store knows about one row over time (`rowtrail blame`). Reads the store only. */
export { blame, blameKey, keyColumns, type BlameQuery } from './blame.js';
