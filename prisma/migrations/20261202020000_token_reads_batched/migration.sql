-- The token-read audit trail becomes append-only batches: one row per flush and (connection, API key), the
-- reads of that interval as parallel arrays; keyed by seq, no foreign keys. Existing rows are carried over
-- as batches of one.
ALTER TABLE "token_reads" DROP CONSTRAINT "token_reads_connectionId_fkey";
ALTER TABLE "token_reads" DROP CONSTRAINT "token_reads_apiKeyId_fkey";
ALTER TABLE "token_reads" DROP CONSTRAINT "token_reads_pkey";
DROP INDEX "token_reads_seq_key";
ALTER TABLE "token_reads" ADD COLUMN "requestIds" TEXT[], ADD COLUMN "readAt" TIMESTAMP(3)[], ADD COLUMN "refreshed_" BOOLEAN[];
UPDATE "token_reads" SET "requestIds" = ARRAY["requestId"], "readAt" = ARRAY["createdAt"], "refreshed_" = ARRAY["refreshed"];
ALTER TABLE "token_reads" DROP COLUMN "id", DROP COLUMN "requestId", DROP COLUMN "refreshed";
ALTER TABLE "token_reads" RENAME COLUMN "refreshed_" TO "refreshed";
ALTER TABLE "token_reads" ALTER COLUMN "requestIds" SET NOT NULL, ALTER COLUMN "readAt" SET NOT NULL, ALTER COLUMN "refreshed" SET NOT NULL;
ALTER TABLE "token_reads" ADD CONSTRAINT "token_reads_pkey" PRIMARY KEY ("seq");
