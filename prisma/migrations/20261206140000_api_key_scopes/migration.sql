-- API key scopes. Existing keys keep an empty list: they keep what they could do before (an unscoped key
-- everything, a tenant key its tenant's full set), see packages/connections/src/access/scopes.ts.
ALTER TABLE "api_keys" ADD COLUMN "scopes" TEXT[] DEFAULT ARRAY[]::TEXT[];
