export { startHttp, httpToken, type HttpOptions } from './server.js';
export { renderMetrics, type SourceMetrics } from './metrics.js';
