/** Detection: the I/O edge of detectors/ (store in, alerts out) and the catalog facts they need. */
export { DetectionRunner, type DetectionOptions, type DetectionStats } from './detection-runner.js';
export { TableSizes } from './table-sizes.js';
export { CaptureStatus, CATALOG_REFRESH_MS } from './capture-status.js';
