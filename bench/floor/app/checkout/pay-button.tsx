'use client';
import { useState } from 'react';
import { floorStartPayment } from './actions';

export function PayButton() {
  const [status, setStatus] = useState('');
  return (
    <button
      type="button"
      onClick={async () => {
        const r = await floorStartPayment({ email: 'a@example.com', name: 'A', addressLine1: '1 St', city: 'C', postalCode: '1', country: 'US', expectedAmount: 100, confirmationToken: 'ctoken_from_stripe_js' });
        setStatus(r.kind);
      }}
    >
      Pay {status}
    </button>
  );
}
