import { SMOKE } from '../support/chaos-scenarios.js';
import { defineReliabilitySuite, SMOKE_REPORT_FILE } from './suite.js';

// The short version inside `pnpm test` (e2e project): every scenario at smoke size, ≤ ~4 minutes.
defineReliabilitySuite(SMOKE, SMOKE_REPORT_FILE, { scenarioMs: 150_000 });
