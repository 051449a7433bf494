import { describe, expect, it } from 'vitest';
import { SubmitRateLimiter } from './submit-rate';

describe('SubmitRateLimiter', () => {
  const limits = { cart: { max: 3, windowMs: 1000 }, address: { max: 5, windowMs: 1000 } };

  it('allows a cart its submits per window, then says how long to wait, then allows again', () => {
    const l = new SubmitRateLimiter(limits);
    for (let i = 0; i < 3; i++) expect(l.take({ cartId: 'a' }, 100 + i)).toBeNull();
    expect(l.take({ cartId: 'a' }, 200)).toEqual({ retryAfterMs: 900 });
    expect(l.take({ cartId: 'b' }, 200)).toBeNull();
    expect(l.take({ cartId: 'a' }, 1100)).toBeNull();
  });

  it('limits one address across fresh carts, and a refused submit counts against nothing', () => {
    const l = new SubmitRateLimiter(limits);
    for (let i = 0; i < 5; i++) expect(l.take({ cartId: `c${i}`, ip: '203.0.113.9' }, 0)).toBeNull();
    expect(l.take({ cartId: 'c9', ip: '203.0.113.9' }, 10)).toEqual({ retryAfterMs: 990 });
    // c9 was not counted: another address may use it fully.
    for (let i = 0; i < 3; i++) expect(l.take({ cartId: 'c9', ip: '198.51.100.1' }, 20)).toBeNull();
    expect(l.take({ cartId: 'x', ip: '198.51.100.2' }, 20)).toBeNull();
  });
});
