export { startHttp, stopHttp, httpToken, type HttpOptions, type HttpServer } from './server.js';
export { createMetrics, type AlertChannelMetrics, type SourceMetrics, type DaemonMetrics, type MetricsInputs } from './metrics.js';
export { assessHealth, DEFAULT_HEALTH_BOUNDS, type HealthBounds, type HealthReport, type SourceHealthReport } from './health.js';
