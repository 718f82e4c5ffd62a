-- The operator console's sign-in sessions: an API key exchanged for an opaque random token held in an
-- HttpOnly cookie. Only the token's SHA-256 is stored. The key is re-read on every request (the session
-- carries no rights of its own), so revoking the key signs its sessions out at once; deleting it deletes them.
CREATE TABLE "console_sessions" (
    "id" UUID NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "apiKeyId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "console_sessions_tokenHash_key" ON "console_sessions"("tokenHash");
CREATE INDEX "console_sessions_apiKeyId_idx" ON "console_sessions"("apiKeyId");
-- Expired sessions are pruned by their last use.
CREATE INDEX "console_sessions_lastUsedAt_idx" ON "console_sessions"("lastUsedAt");

ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_apiKeyId_fkey" FOREIGN KEY ("apiKeyId") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;
