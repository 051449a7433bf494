-- CreateIndex
CREATE INDEX "Order_addressLine1_postalCode_idx" ON "Order"("addressLine1", "postalCode");

-- CreateIndex
CREATE INDEX "PaymentAttempt_clientIp_createdAt_idx" ON "PaymentAttempt"("clientIp", "createdAt");
