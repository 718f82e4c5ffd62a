-- The connection list (GET /v1/connections, the console's Connections page) at 100,000+ rows: newest first
-- (createdAt desc, id desc), keyset-paged, filtered by tenant, status, environment and Lever account, and
-- searched by a prefix of the tenant's externalId or of the Lever account id.

-- The list's own order: a page (and the next one after a cursor) is a short index range walk, never a sort.
CREATE INDEX "connections_createdAt_id_idx" ON "connections"("createdAt" DESC, "id" DESC);

-- A tenant's connections (the tenant filter, and every list a tenant-scoped key reads), in list order.
CREATE INDEX "connections_tenantId_createdAt_id_idx" ON "connections"("tenantId", "createdAt" DESC, "id" DESC);

-- Hand-written (Prisma cannot express operator classes): `text_pattern_ops` lets `LIKE 'prefix%'` use the
-- index whatever the database's collation; equality (the leverAccountId filter) uses it too.
CREATE INDEX "connections_leverAccountId_pattern_idx" ON "connections"("leverAccountId" text_pattern_ops);
CREATE INDEX "tenants_externalId_pattern_idx" ON "tenants"("externalId" text_pattern_ops);
