-- Risk signals read the latest orders of an email or to an address, newest first.
-- DropIndex
DROP INDEX "Order_email_idx";

-- DropIndex
DROP INDEX "Order_addressLine1_postalCode_idx";

-- CreateIndex
CREATE INDEX "Order_email_createdAt_idx" ON "Order"("email", "createdAt");

-- CreateIndex
CREATE INDEX "Order_addressLine1_postalCode_createdAt_idx" ON "Order"("addressLine1", "postalCode", "createdAt");
