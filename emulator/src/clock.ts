// The emulator's clock: wall time plus an offset that /_emulator/clock/advance moves forward.
// Timers scheduled on it fire when either real time or an advance reaches them, so tests can
// skip a webhook retry schedule or an idempotency expiry without sleeping.

interface Timer {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

export type CancelTimer = () => void;

export class Clock {
  private offsetMs = 0;
  private timers: Timer[] = [];
  private handle: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private seq = 0;
  private closed = false;

  /** Emulator time in milliseconds since the epoch. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Emulator time in whole seconds, as Stripe's `created` fields are. */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  get offset(): number {
    return this.offsetMs;
  }

  restoreOffset(offsetMs: number): void {
    if (Number.isFinite(offsetMs) && offsetMs > 0) this.offsetMs = offsetMs;
  }

  advance(seconds: number): void {
    this.offsetMs += Math.round(seconds * 1000);
    this.fireDue();
  }

  /** Runs `run` after `delayMs` of emulator time. */
  schedule(delayMs: number, run: () => void): CancelTimer {
    const timer: Timer = { at: this.now() + Math.max(0, delayMs), seq: this.seq++, run, cancelled: false };
    // Keep the list sorted by (at, seq); most timers land near the end.
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].at > timer.at) i--;
    this.timers.splice(i, 0, timer);
    this.arm();
    return () => {
      timer.cancelled = true;
    };
  }

  close(): void {
    this.closed = true;
    this.timers = [];
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }

  private arm(): void {
    if (this.closed) return;
    while (this.timers.length > 0 && this.timers[0].cancelled) this.timers.shift();
    if (this.timers.length === 0) return;
    const next = this.timers[0].at;
    if (this.handle && this.armedFor <= next) return;
    if (this.handle) clearTimeout(this.handle);
    const wait = Math.min(Math.max(0, next - this.now()), 2_147_483_647);
    this.armedFor = next;
    this.handle = setTimeout(() => {
      this.handle = null;
      this.armedFor = Infinity;
      this.fireDue();
    }, wait);
    this.handle.unref();
  }

  private fireDue(): void {
    const now = this.now();
    const due: Timer[] = [];
    while (this.timers.length > 0 && this.timers[0].at <= now) {
      const timer = this.timers.shift() as Timer;
      if (!timer.cancelled) due.push(timer);
    }
    for (const timer of due) {
      try {
        timer.run();
      } catch (err) {
        console.error('[emulator] timer failed', err);
      }
    }
    if (this.handle) {
      clearTimeout(this.handle);
      this.handle = null;
      this.armedFor = Infinity;
    }
    this.arm();
  }
}
