// Events: one per state change, stored for GET /v1/events and handed to webhook delivery.
import type { Clock } from './clock';
import { newId } from './ids';
import type { Store } from './store';
import type { JsonObject, RequestInfo, StripeEvent } from './types';

/** The API version events are rendered in (the one stripe-node 23.1.0 pins). */
export const API_VERSION = '2026-10-28.endive';

/** The versions the emulator answers in (a `Stripe-Version` header naming another is a 400). */
export const API_VERSIONS: readonly string[] = [API_VERSION];

export type EventListener = (event: StripeEvent) => void;

export class EventLog {
  private listener: EventListener = () => {};

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  onEvent(listener: EventListener): void {
    this.listener = listener;
  }

  emit(type: string, object: object, request: RequestInfo | null, previousAttributes?: JsonObject): StripeEvent {
    // A snapshot: later changes to the object must not rewrite history.
    const data: StripeEvent['data'] = { object: JSON.parse(JSON.stringify(object)) as JsonObject };
    if (previousAttributes) data.previous_attributes = previousAttributes;
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: this.clock.nowSeconds(),
      data,
      livemode: false,
      pending_webhooks: 0,
      request: request ? { id: request.id, idempotency_key: request.idempotencyKey } : null,
      type,
    };
    this.store.events.insert(event);
    this.listener(event);
    return event;
  }
}
