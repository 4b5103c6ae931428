export { startHttp, stopHttp, httpToken, type HttpOptions } from './server.js';
export { renderMetrics, type AlertChannelMetrics, type SourceMetrics } from './metrics.js';
export { assessHealth, DEFAULT_HEALTH_BOUNDS, type HealthBounds, type HealthReport, type SourceHealthReport } from './health.js';
