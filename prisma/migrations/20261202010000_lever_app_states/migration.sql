-- CreateTable
CREATE TABLE "lever_app_states" (
    "environment" "LeverEnvironment" NOT NULL,
    "credentialsRejectedSince" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "lever_app_states_pkey" PRIMARY KEY ("environment")
);
