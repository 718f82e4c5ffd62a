-- Lever's own webhooks: what each connection subscribes to, and the subscriptions registered at Lever.
ALTER TABLE "connections" ADD COLUMN "leverWebhookEvents" TEXT[] DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "connect_sessions" ADD COLUMN "leverWebhookEvents" TEXT[] DEFAULT ARRAY[]::TEXT[],
  ADD COLUMN "leverWebhookEventsChosen" BOOLEAN NOT NULL DEFAULT false;

-- A Lever webhook delivered twice (Lever retries) is one event: one INSERT ... ON CONFLICT DO NOTHING.
ALTER TABLE "events" ADD COLUMN "dedupeKey" TEXT;
CREATE UNIQUE INDEX "events_dedupeKey_key" ON "events"("dedupeKey");

CREATE TYPE "LeverWebhookState" AS ENUM ('pending', 'active', 'failed');

CREATE TABLE "lever_webhook_subscriptions" (
    "id" UUID NOT NULL,
    "connectionId" UUID NOT NULL,
    "event" TEXT NOT NULL,
    "state" "LeverWebhookState" NOT NULL DEFAULT 'pending',
    "leverWebhookId" TEXT,
    "signatureTokenCiphertext" TEXT,
    "failureReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "lever_webhook_subscriptions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "lever_webhook_subscriptions_connectionId_event_key" ON "lever_webhook_subscriptions"("connectionId", "event");

ALTER TABLE "lever_webhook_subscriptions" ADD CONSTRAINT "lever_webhook_subscriptions_connectionId_fkey"
  FOREIGN KEY ("connectionId") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE CASCADE;
