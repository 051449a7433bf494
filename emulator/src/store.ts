// All emulator state, and its persistence to `dataFile`.
//
// Persistence stays off the request path: a change only marks the object dirty; every 200 ms the
// dirty objects are appended as JSON lines to `<dataFile>.log` (async). At start the snapshot and
// the log are replayed and compacted into a fresh snapshot at `dataFile`; `close()` does the same.
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BalanceTransaction, Charge, ConfirmationToken, Customer, IdempotencyEntry, PaymentIntent, PaymentMethod, Refund, SetupIntent, Stored, StripeEvent, WebhookEndpoint } from './types';

type CollectionKind = 'payment_intent' | 'payment_method' | 'charge' | 'refund' | 'event' | 'confirmation_token' | 'balance_transaction' | 'customer' | 'setup_intent';
type RecordKind = CollectionKind | 'card' | 'endpoint' | 'endpoint_deleted' | 'idempotency' | 'idempotency_deleted' | 'meta';

interface JournalRecord {
  k: RecordKind;
  v: unknown;
}

export interface StoreMeta {
  secretKey: string | null;
  publishableKey: string | null;
  webhookSecret: string | null;
  clockOffsetMs: number;
}

interface Snapshot {
  version: 1;
  saved_at: string;
  meta: StoreMeta;
  payment_intents: PaymentIntent[];
  payment_methods: PaymentMethod[];
  charges: Charge[];
  refunds: Refund[];
  events: StripeEvent[];
  card_numbers: Record<string, string>;
  confirmation_tokens?: ConfirmationToken[];
  balance_transactions?: BalanceTransaction[];
  customers?: Customer[];
  setup_intents?: SetupIntent[];
  webhook_endpoints: WebhookEndpoint[];
  idempotency: IdempotencyEntry[];
}

/** Objects of one type in creation order, with O(1) lookup by id and by position. */
export class Collection<T extends Stored> {
  private items: T[] = [];
  private index = new Map<string, number>();

  constructor(
    readonly kind: CollectionKind,
    private readonly onChange: (kind: CollectionKind, id: string, value: T) => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  get(id: string): T | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.items[i];
  }

  positionOf(id: string): number | undefined {
    return this.index.get(id);
  }

  at(position: number): T {
    return this.items[position];
  }

  insert(value: T): T {
    this.load(value);
    this.onChange(this.kind, value.id, value);
    return value;
  }

  /** Call after mutating a stored object so the change is persisted. */
  save(value: T): void {
    this.onChange(this.kind, value.id, value);
  }

  load(value: T): void {
    const existing = this.index.get(value.id);
    if (existing !== undefined) {
      this.items[existing] = value;
      return;
    }
    this.index.set(value.id, this.items.length);
    this.items.push(value);
  }

  all(): readonly T[] {
    return this.items;
  }

  clear(): void {
    this.items = [];
    this.index.clear();
  }
}

const FLUSH_INTERVAL_MS = 200;
const COMPACT_AFTER_RECORDS = 50_000;
const FLUSH_BATCH = 500;

export class Store {
  readonly paymentIntents: Collection<PaymentIntent>;
  readonly paymentMethods: Collection<PaymentMethod>;
  readonly charges: Collection<Charge>;
  readonly refunds: Collection<Refund>;
  readonly events: Collection<StripeEvent>;
  readonly confirmationTokens: Collection<ConfirmationToken>;
  readonly balanceTransactions: Collection<BalanceTransaction>;
  readonly customers: Collection<Customer>;
  readonly setupIntents: Collection<SetupIntent>;
  /** Full card numbers by PaymentMethod id: they decide a test card's behaviour and are never returned. */
  readonly cardNumbers = new Map<string, string>();
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly idempotency = new Map<string, IdempotencyEntry>();
  meta: StoreMeta = { secretKey: null, publishableKey: null, webhookSecret: null, clockOffsetMs: 0 };

  private readonly logFile: string | null;
  private pending = new Map<string, JournalRecord>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSoon = false;
  private chain: Promise<void> = Promise.resolve();
  private journaled = 0;
  private closed = false;

  constructor(private readonly dataFile: string | null) {
    this.logFile = dataFile ? `${dataFile}.log` : null;
    const onChange = (kind: CollectionKind, id: string, value: Stored) => this.mark(kind, id, value);
    this.paymentIntents = new Collection<PaymentIntent>('payment_intent', onChange);
    this.paymentMethods = new Collection<PaymentMethod>('payment_method', onChange);
    this.charges = new Collection<Charge>('charge', onChange);
    this.refunds = new Collection<Refund>('refund', onChange);
    this.events = new Collection<StripeEvent>('event', onChange);
    this.confirmationTokens = new Collection<ConfirmationToken>('confirmation_token', onChange);
    this.balanceTransactions = new Collection<BalanceTransaction>('balance_transaction', onChange);
    this.customers = new Collection<Customer>('customer', onChange);
    this.setupIntents = new Collection<SetupIntent>('setup_intent', onChange);
  }

  get persistent(): boolean {
    return this.dataFile !== null;
  }

  setCardNumber(paymentMethodId: string, number: string): void {
    this.cardNumbers.set(paymentMethodId, number);
    this.mark('card', paymentMethodId, { id: paymentMethodId, number });
  }

  saveEndpoint(endpoint: WebhookEndpoint): void {
    this.endpoints.set(endpoint.id, endpoint);
    this.mark('endpoint', endpoint.id, endpoint);
  }

  deleteEndpoint(id: string): boolean {
    const existed = this.endpoints.delete(id);
    if (existed) this.mark('endpoint_deleted', id, id);
    return existed;
  }

  saveIdempotency(entry: IdempotencyEntry): void {
    this.idempotency.set(entry.id, entry);
    if (entry.state === 'done') this.mark('idempotency', entry.id, entry);
  }

  deleteIdempotency(id: string): void {
    const entry = this.idempotency.get(id);
    if (!entry) return;
    this.idempotency.delete(id);
    if (entry.state === 'done') this.mark('idempotency_deleted', id, id);
  }

  saveMeta(meta: Partial<StoreMeta>): void {
    this.meta = { ...this.meta, ...meta };
    this.mark('meta', 'meta', this.meta);
  }

  /** Forget objects, events and idempotency keys (keys, endpoints and the clock stay). */
  reset(): void {
    this.paymentIntents.clear();
    this.paymentMethods.clear();
    this.charges.clear();
    this.refunds.clear();
    this.events.clear();
    this.confirmationTokens.clear();
    this.balanceTransactions.clear();
    this.customers.clear();
    this.setupIntents.clear();
    this.cardNumbers.clear();
    this.idempotency.clear();
    this.pending.clear();
    if (this.persistent) this.enqueue(() => this.writeSnapshot());
  }

  /** Reads the snapshot and the journal; call once before serving. */
  load(): void {
    if (!this.dataFile || !this.logFile) return;
    if (existsSync(this.dataFile)) {
      const text = readFileSync(this.dataFile, 'utf8');
      if (text.trim() !== '') {
        let snapshot: Partial<Snapshot>;
        try {
          snapshot = JSON.parse(text) as Partial<Snapshot>;
        } catch (err) {
          throw new Error(`Stripe emulator: cannot read its data file ${this.dataFile}: ${(err as Error).message}`);
        }
        this.applySnapshot(snapshot);
      }
    }
    if (existsSync(this.logFile)) {
      for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          this.apply(JSON.parse(line) as JournalRecord);
        } catch {
          // A torn last line from a crash mid-append: everything before it is intact.
        }
      }
    }
  }

  /** Writes a compact snapshot now (after load) so the journal starts empty. */
  async compact(): Promise<void> {
    if (!this.persistent) return;
    this.pending.clear();
    await this.enqueue(() => this.writeSnapshot());
  }

  async flush(): Promise<void> {
    if (!this.persistent) return;
    await this.enqueue(() => this.appendPending());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.persistent) return;
    this.pending.clear();
    await this.enqueue(() => this.writeSnapshot());
  }

  private mark(kind: RecordKind, id: string, value: unknown): void {
    if (!this.persistent || this.closed) return;
    this.pending.set(`${kind}:${id}`, { k: kind, v: value });
    if (this.pending.size >= FLUSH_BATCH && !this.flushSoon) {
      // Under load, small batches keep each serialization pause short.
      this.flushSoon = true;
      setImmediate(() => {
        this.flushSoon = false;
        void this.enqueue(() => this.appendPending());
      });
    }
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        void this.enqueue(() => this.appendPending());
      }, FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op).catch((err: unknown) => {
      console.error('[emulator] could not persist state:', err);
    });
    this.chain = next;
    return next;
  }

  private async appendPending(): Promise<void> {
    if (!this.logFile || this.pending.size === 0) return;
    let text = '';
    for (const record of this.pending.values()) text += JSON.stringify(record) + '\n';
    this.journaled += this.pending.size;
    this.pending.clear();
    await mkdir(dirname(this.logFile), { recursive: true });
    await appendFile(this.logFile, text);
    if (this.journaled > COMPACT_AFTER_RECORDS) await this.writeSnapshot();
  }

  private async writeSnapshot(): Promise<void> {
    if (!this.dataFile || !this.logFile) return;
    this.pending.clear();
    const now = Date.now() + this.meta.clockOffsetMs;
    const snapshot: Snapshot = {
      version: 1,
      saved_at: new Date().toISOString(),
      meta: this.meta,
      payment_intents: [...this.paymentIntents.all()],
      payment_methods: [...this.paymentMethods.all()],
      charges: [...this.charges.all()],
      refunds: [...this.refunds.all()],
      events: [...this.events.all()],
      card_numbers: Object.fromEntries(this.cardNumbers),
      confirmation_tokens: [...this.confirmationTokens.all()],
      balance_transactions: [...this.balanceTransactions.all()],
      customers: [...this.customers.all()],
      setup_intents: [...this.setupIntents.all()],
      webhook_endpoints: [...this.endpoints.values()],
      idempotency: [...this.idempotency.values()].filter((e) => e.state === 'done' && now - e.createdAt < 24 * 3600_000),
    };
    const text = JSON.stringify(snapshot);
    await mkdir(dirname(this.dataFile), { recursive: true });
    const tmp = `${this.dataFile}.tmp-${process.pid}`;
    await writeFile(tmp, text);
    await rename(tmp, this.dataFile);
    await rm(this.logFile, { force: true });
    this.journaled = 0;
  }

  private applySnapshot(s: Partial<Snapshot>): void {
    if (s.meta) this.meta = { ...this.meta, ...s.meta };
    for (const o of s.payment_intents ?? []) this.paymentIntents.load(o);
    for (const o of s.payment_methods ?? []) this.paymentMethods.load(o);
    for (const o of s.charges ?? []) this.charges.load(o);
    for (const o of s.refunds ?? []) this.refunds.load(o);
    for (const o of s.events ?? []) this.events.load(o);
    for (const [id, number] of Object.entries(s.card_numbers ?? {})) this.cardNumbers.set(id, number);
    for (const o of s.confirmation_tokens ?? []) this.confirmationTokens.load(o);
    for (const o of s.balance_transactions ?? []) this.balanceTransactions.load(o);
    for (const o of s.customers ?? []) this.customers.load(o);
    for (const o of s.setup_intents ?? []) this.setupIntents.load(o);
    for (const e of s.webhook_endpoints ?? []) this.endpoints.set(e.id, e);
    for (const e of s.idempotency ?? []) this.idempotency.set(e.id, e);
  }

  private apply(record: JournalRecord): void {
    switch (record.k) {
      case 'payment_intent':
        return this.paymentIntents.load(record.v as PaymentIntent);
      case 'payment_method':
        return this.paymentMethods.load(record.v as PaymentMethod);
      case 'charge':
        return this.charges.load(record.v as Charge);
      case 'refund':
        return this.refunds.load(record.v as Refund);
      case 'event':
        return this.events.load(record.v as StripeEvent);
      case 'confirmation_token':
        return this.confirmationTokens.load(record.v as ConfirmationToken);
      case 'balance_transaction':
        return this.balanceTransactions.load(record.v as BalanceTransaction);
      case 'customer':
        return this.customers.load(record.v as Customer);
      case 'setup_intent':
        return this.setupIntents.load(record.v as SetupIntent);
      case 'card': {
        const v = record.v as { id: string; number: string };
        this.cardNumbers.set(v.id, v.number);
        return;
      }
      case 'endpoint': {
        const v = record.v as WebhookEndpoint;
        this.endpoints.set(v.id, v);
        return;
      }
      case 'endpoint_deleted':
        this.endpoints.delete(record.v as string);
        return;
      case 'idempotency': {
        const v = record.v as IdempotencyEntry;
        this.idempotency.set(v.id, v);
        return;
      }
      case 'idempotency_deleted':
        this.idempotency.delete(record.v as string);
        return;
      case 'meta':
        this.meta = { ...this.meta, ...(record.v as StoreMeta) };
        return;
    }
  }
}
