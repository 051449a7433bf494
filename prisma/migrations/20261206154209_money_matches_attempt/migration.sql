-- AlterTable
ALTER TABLE "Email" ADD COLUMN     "claimedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "PaymentAttempt" ADD COLUMN     "clientSecret" TEXT,
ADD COLUMN     "lines" JSONB,
ADD COLUMN     "pricingHash" TEXT,
ADD COLUMN     "supersededAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Refund" ADD COLUMN     "paymentIntentId" TEXT;

-- CreateTable
CREATE TABLE "StockHold" (
    "id" TEXT NOT NULL,
    "orderId" TEXT NOT NULL,
    "attemptNumber" INTEGER NOT NULL,
    "productId" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "releasedAt" TIMESTAMP(3),
    "takenAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StockHold_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "StockHold_productId_expiresAt_idx" ON "StockHold"("productId", "expiresAt");

-- CreateIndex
CREATE INDEX "StockHold_orderId_idx" ON "StockHold"("orderId");

-- CreateIndex
CREATE UNIQUE INDEX "StockHold_orderId_attemptNumber_productId_key" ON "StockHold"("orderId", "attemptNumber", "productId");

-- AddForeignKey
ALTER TABLE "StockHold" ADD CONSTRAINT "StockHold_orderId_fkey" FOREIGN KEY ("orderId") REFERENCES "Order"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StockHold" ADD CONSTRAINT "StockHold_productId_fkey" FOREIGN KEY ("productId") REFERENCES "Product"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Stock never goes below zero, whatever the code above it does.
ALTER TABLE "Product" ADD CONSTRAINT "Product_stock_nonnegative" CHECK (stock >= 0);
