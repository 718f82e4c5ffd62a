-- CreateEnum
CREATE TYPE "LeverEnvironment" AS ENUM ('sandbox', 'production');

-- CreateEnum
CREATE TYPE "ConnectionStatus" AS ENUM ('active', 'needs_reauth', 'disconnected');

-- CreateTable
CREATE TABLE "tenants" (
    "id" UUID NOT NULL,
    "externalId" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connections" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "environment" "LeverEnvironment" NOT NULL,
    "status" "ConnectionStatus" NOT NULL DEFAULT 'active',
    "leverAccountId" TEXT NOT NULL,
    "leverUserId" TEXT,
    "scopes" TEXT[],
    "accessTokenCiphertext" TEXT,
    "refreshTokenCiphertext" TEXT,
    "accessTokenExpiresAt" TIMESTAMP(3),
    "refreshTokenIssuedAt" TIMESTAMP(3),
    "refreshTokenLastUsedAt" TIMESTAMP(3),
    "grantCreatedAt" TIMESTAMP(3),
    "version" INTEGER NOT NULL DEFAULT 0,
    "nextRefreshAt" TIMESTAMP(3),
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "lastRefreshedAt" TIMESTAMP(3),
    "lastRefreshAttemptAt" TIMESTAMP(3),
    "lastRefreshFailedAt" TIMESTAMP(3),
    "lastRefreshError" TEXT,
    "refreshAttemptCount" INTEGER NOT NULL DEFAULT 0,
    "lastAttemptAmbiguous" BOOLEAN NOT NULL DEFAULT false,
    "failingSince" TIMESTAMP(3),
    "refreshFailingNotified" BOOLEAN NOT NULL DEFAULT false,
    "expiringNotified" BOOLEAN NOT NULL DEFAULT false,
    "reauthReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "connections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "tenantId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connect_sessions" (
    "id" UUID NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "tenantId" UUID NOT NULL,
    "environment" "LeverEnvironment" NOT NULL,
    "connectionId" UUID,
    "returnUrl" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "resultStatus" TEXT,
    "resultError" TEXT,
    "resultConnectionId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connect_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "type" TEXT NOT NULL,
    "tenantId" UUID,
    "connectionId" UUID,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "relayedAt" TIMESTAMP(3),

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "token_reads" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "connectionId" UUID NOT NULL,
    "apiKeyId" UUID,
    "requestId" TEXT NOT NULL,
    "refreshed" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "token_reads_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployment_fence" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "deploymentId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployment_fence_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenants_externalId_key" ON "tenants"("externalId");

-- CreateIndex
CREATE INDEX "connections_tenantId_environment_leverAccountId_idx" ON "connections"("tenantId", "environment", "leverAccountId");

-- CreateIndex
CREATE INDEX "connections_status_nextRefreshAt_idx" ON "connections"("status", "nextRefreshAt");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE UNIQUE INDEX "connect_sessions_tokenHash_key" ON "connect_sessions"("tokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "events_seq_key" ON "events"("seq");

-- CreateIndex
CREATE INDEX "events_type_seq_idx" ON "events"("type", "seq");

-- CreateIndex
CREATE INDEX "events_connectionId_seq_idx" ON "events"("connectionId", "seq");

-- CreateIndex
CREATE INDEX "events_relayedAt_seq_idx" ON "events"("relayedAt", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "token_reads_seq_key" ON "token_reads"("seq");

-- CreateIndex
CREATE INDEX "token_reads_connectionId_seq_idx" ON "token_reads"("connectionId", "seq");

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "tenants"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connect_sessions" ADD CONSTRAINT "connect_sessions_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "token_reads" ADD CONSTRAINT "token_reads_connectionId_fkey" FOREIGN KEY ("connectionId") REFERENCES "connections"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "token_reads" ADD CONSTRAINT "token_reads_apiKeyId_fkey" FOREIGN KEY ("apiKeyId") REFERENCES "api_keys"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Hand-written (Prisma cannot express partial indexes): at most one live connection per tenant, Lever
-- environment and Lever account, so two callbacks racing for the same account cannot create twins.
CREATE UNIQUE INDEX "connections_live_account_key" ON "connections"("tenantId", "environment", "leverAccountId") WHERE "status" <> 'disconnected';
