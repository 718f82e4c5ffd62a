-- Hand-written (Prisma cannot express INCLUDE): the console's chart counts refreshes and failures per hour
-- over the last 24 h (`connection.refreshed`, `connection.refresh_failed`, `connection.needs_reauth`). At a
-- million connections refreshed hourly that is ~24 M rows a day; this index makes the count an index-only
-- range scan per type, and a tenant's count the same scan filtered on the included column.
CREATE INDEX "events_type_createdAt_idx" ON "events"("type", "createdAt") INCLUDE ("tenantId");
