/** The Elasticsearch sink: documents (pure), templates (pure), bulk (pure), client, sink loop, setup. */
export { alertDocId, alertDocument, changeDocId, changeDocument, streamNames, SEVERITY_NUMBER, type Doc } from './es-documents.js';
export { ALERTS_MAPPINGS, CHANGES_MAPPINGS, TEMPLATE_VERSION, mappedFields, templateSet, type TemplateSet } from './es-templates.js';
export { BulkBody, bulkDoc, bulkLines, classifyItem, type BulkDoc, type ItemOutcome } from './es-bulk.js';
export { ChangeDocWriter } from './es-rowdoc.js';
export { authHeader, createEsClient, describeEsError, esNodes, type EsConfig } from './es-client.js';
export { ElasticsearchSink, SINK_NAME, type SinkOptions, type SinkStats } from './es-sink.js';
export { dashboardFiles, dashboardsDir, importSavedObjects, installTemplates, setupElastic, type SetupResult } from './es-setup.js';
