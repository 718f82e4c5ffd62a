-- A tenant-scoped key reads its events newest first (WHERE "tenantId" = $1 ORDER BY seq DESC LIMIT n):
-- without this index Postgres walks the whole outbox by seq and filters it, or sorts all of the tenant's
-- events. packages/connections/test/event-reads.test.ts checks the plan.
-- IF NOT EXISTS: a deployment with a large events table may build it beforehand without blocking the
-- outbox writers (CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_tenantId_seq_idx" ON "events"("tenantId", "seq");
-- outside a transaction; docs/operating.md), and then this is a no-op.
CREATE INDEX IF NOT EXISTS "events_tenantId_seq_idx" ON "events"("tenantId", "seq");
