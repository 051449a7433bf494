// The admission rules on a fake clock: a bounded number of requests at once, a line for the
// rest in arrival order, busy at once when the line cannot be served within the patience, busy
// after waiting the patience out, and a slot freed exactly once.
import { describe, expect, it } from 'vitest';
import { Admission, admissionSettingsFrom, bypassesAdmission, type Admitted, type ShedReason } from './admission';

function fakeClock() {
  let t = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => t,
    setTimeout: (fn: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: t + ms, fn });
      return id as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout: (id: ReturnType<typeof setTimeout>) => void timers.delete(id as unknown as number),
    advance(ms: number) {
      t += ms;
      for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at <= t) {
          timers.delete(id);
          timer.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

function admission(settings: { maxInFlight: number; maxQueue: number; queueTimeoutMs: number }) {
  const clock = fakeClock();
  const shed: ShedReason[] = [];
  const a = new Admission(settings, clock, (r) => shed.push(r));
  return { a, clock, shed };
}

async function outcome(p: Admitted | Promise<Admitted>): Promise<Admitted> {
  return p;
}

describe('admission control', () => {
  it('serves up to maxInFlight at once and lines up the next ones in arrival order', async () => {
    const { a, clock } = admission({ maxInFlight: 2, maxQueue: 10, queueTimeoutMs: 8000 });
    const first = a.enter();
    const second = a.enter();
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: true });
    const order: string[] = [];
    const third = outcome(a.enter()).then((x) => (order.push('third'), x));
    const fourth = outcome(a.enter()).then((x) => (order.push('fourth'), x));
    await settle();
    expect(order).toEqual([]);
    expect(a.stats()).toMatchObject({ inFlight: 2, queued: 2 });

    clock.advance(10);
    (first as Extract<Admitted, { ok: true }>).release();
    await settle();
    expect(order).toEqual(['third']);
    expect(a.stats()).toMatchObject({ inFlight: 2, queued: 1 });

    (second as Extract<Admitted, { ok: true }>).release();
    await settle();
    expect(order).toEqual(['third', 'fourth']);
    expect(await third).toMatchObject({ ok: true });
    expect(await fourth).toMatchObject({ ok: true });
    // A waiter that got its slot has no timer left to shed it later.
    expect(clock.pending()).toBe(0);
  });

  it('frees a slot once however often release is called', async () => {
    const { a } = admission({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 8000 });
    const first = a.enter() as Extract<Admitted, { ok: true }>;
    const waiting = outcome(a.enter());
    first.release();
    first.release();
    const got = (await waiting) as Extract<Admitted, { ok: true }>;
    expect(got.ok).toBe(true);
    expect(a.stats().inFlight).toBe(1);
    // A double release of the first would have let a third request in next to the second.
    const third = a.enter();
    expect(third).toBeInstanceOf(Promise);
    expect(a.stats()).toMatchObject({ inFlight: 1, queued: 1 });
  });

  it('answers busy at once when the line is full, with a Retry-After of at least a second', () => {
    const { a, shed } = admission({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 60_000 });
    a.enter();
    void a.enter();
    void a.enter();
    const refused = a.enter();
    expect(refused).toMatchObject({ ok: false, reason: 'queue_full' });
    expect((refused as Extract<Admitted, { ok: false }>).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(shed).toEqual(['queue_full']);
  });

  it('answers busy at once when the recent service time says the wait would outlast the patience', async () => {
    const { a, clock, shed } = admission({ maxInFlight: 1, maxQueue: 1000, queueTimeoutMs: 1000 });
    // Teach it that a request holds its slot for ~2 s (the smoothed estimate moves 10 % a request).
    for (let i = 0; i < 40; i++) {
      const s = (await outcome(a.enter())) as Extract<Admitted, { ok: true }>;
      clock.advance(2000);
      s.release();
    }
    expect(a.stats().serviceMsEstimate).toBeGreaterThan(1800);
    const busyOne = a.enter() as Extract<Admitted, { ok: true }>;
    expect(busyOne.ok).toBe(true);
    // One request in front would take ~2 s against a 1 s patience: refused now, not after 1 s.
    const refused = a.enter();
    expect(refused).toMatchObject({ ok: false, reason: 'wait_too_long' });
    expect((refused as Extract<Admitted, { ok: false }>).retryAfterSeconds).toBe(2);
    expect(shed).toEqual(['wait_too_long']);
    expect(a.stats().queued).toBe(0);
  });

  it('lines a request up when the wait fits the patience, and answers it busy when the patience runs out', async () => {
    const { a, clock, shed } = admission({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 1000 });
    a.enter();
    const waiting = outcome(a.enter());
    clock.advance(999);
    await settle();
    expect(a.stats().queued).toBe(1);
    clock.advance(1);
    expect(await waiting).toMatchObject({ ok: false, reason: 'timed_out' });
    expect(shed).toEqual(['timed_out']);
    expect(a.stats()).toMatchObject({ inFlight: 1, queued: 0 });
  });

  it('reads its settings from the environment, with defaults, 0 as off and bad values named', () => {
    expect(admissionSettingsFrom({})).toEqual({ maxInFlight: 64, maxQueue: 1024, queueTimeoutMs: 8000 });
    expect(admissionSettingsFrom({ HTTP_MAX_IN_FLIGHT: '', HTTP_QUEUE_TIMEOUT_MS: '' })).toEqual({ maxInFlight: 64, maxQueue: 1024, queueTimeoutMs: 8000 });
    expect(admissionSettingsFrom({ HTTP_MAX_IN_FLIGHT: '8', HTTP_MAX_QUEUE: '3', HTTP_QUEUE_TIMEOUT_MS: '250' })).toEqual({ maxInFlight: 8, maxQueue: 3, queueTimeoutMs: 250 });
    expect(admissionSettingsFrom({ HTTP_MAX_IN_FLIGHT: '0' })).toBeNull();
    expect(() => admissionSettingsFrom({ HTTP_MAX_IN_FLIGHT: 'lots' })).toThrow(/HTTP_MAX_IN_FLIGHT/);
    expect(() => admissionSettingsFrom({ HTTP_QUEUE_TIMEOUT_MS: '-1' })).toThrow(/HTTP_QUEUE_TIMEOUT_MS/);
  });

  it('never holds back health, metrics or static files, and holds back pages, actions and webhooks', () => {
    for (const p of ['/api/health', '/api/metrics', '/_next/static/chunks/app.js', '/favicon.ico']) expect(bypassesAdmission(p)).toBe(true);
    for (const p of ['/', '/products/lamp', '/checkout', '/api/webhooks/stripe', '/api/health/x', '/admin', '/_next/image']) expect(bypassesAdmission(p)).toBe(false);
  });
});
