// What the shopper is sent about an order: the wording of its emails, in one place.
import { formatMoney } from '@/lib/money';

/** What a receipt shows of an order. */
export interface ReceiptOrder {
  id: string;
  name: string;
  currency: string;
  total: number;
  addressLine1: string;
  addressLine2: string | null;
  city: string;
  postalCode: string;
  country: string;
  items: { name: string; quantity: number; unitPrice: number }[];
}

export function confirmationSubject(orderId: string): string {
  return `Your Brisk order ${orderId.slice(0, 8)} is confirmed`;
}

/** The order confirmation: what was paid, what was bought, where it goes. */
export function receiptText(order: ReceiptOrder, amount: number): string {
  const cur = order.currency;
  const lines = order.items.map((i) => `  ${i.quantity} × ${i.name} @ ${formatMoney(i.unitPrice, cur)} = ${formatMoney(i.unitPrice * i.quantity, cur)}`);
  return [
    `Hi ${order.name},`,
    '',
    `Thank you for your order. We received your payment of ${formatMoney(amount, cur)}.`,
    '',
    `Order ${order.id}`,
    ...lines,
    '',
    `Total: ${formatMoney(order.total, cur)}`,
    '',
    'Shipping to:',
    `  ${order.name}`,
    `  ${order.addressLine1}`,
    ...(order.addressLine2 ? [`  ${order.addressLine2}`] : []),
    `  ${order.postalCode} ${order.city}`,
    `  ${order.country}`,
    '',
    '— Brisk',
  ].join('\n');
}
