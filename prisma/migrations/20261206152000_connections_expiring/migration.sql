-- Hand-written (Prisma cannot express partial indexes): the console's "expiring within 14 days" — active
-- connections whose grant (one year from grantCreatedAt) ends soon — counted and listed soonest first
-- without reading every row. grantCreatedAt changes only at a (re)connect, so the index costs refreshes nothing.
CREATE INDEX "connections_active_grantCreatedAt_idx" ON "connections"("grantCreatedAt") WHERE "status" = 'active';
