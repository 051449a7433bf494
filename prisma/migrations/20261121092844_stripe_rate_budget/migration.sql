-- CreateTable
CREATE TABLE "stripe_rate_budget" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "stripe_rate_budget_pkey" PRIMARY KEY ("key")
);
