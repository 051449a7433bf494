-- Why an event was dropped unapplied (e.g. a PaymentIntent Brisk did not create).
ALTER TABLE "StripeEvent" ADD COLUMN "ignoredReason" TEXT;
