import { FULL } from '../support/chaos-scenarios.js';
import { defineReliabilitySuite, REPORT_FILE } from './suite.js';

// `pnpm test:chaos`: every scenario at full size (~20–40 minutes), the table written to reports/reliability.md.
defineReliabilitySuite(FULL, REPORT_FILE, { scenarioMs: 15 * 60_000 });
