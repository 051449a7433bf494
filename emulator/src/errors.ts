// Stripe-shaped errors. stripe-node chooses its error class from the HTTP status, so the
// status matters as much as the body (see STRIPE-EMULATOR.md, "Errors").
import type { Json } from './types';

export interface StripeErrorBody {
  type: 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: Json;
  setup_intent?: Json;
  payment_method?: Json;
  request_log_url?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }

  toJson(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

function invalid(message: string, param?: string, code?: string, status = 400): ApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (code) {
    body.code = code;
    body.doc_url = docUrl(code);
  }
  if (param !== undefined) body.param = param;
  return new ApiError(status, body);
}

export const errors = {
  invalid,
  missingParam: (param: string) => invalid(`Missing required param: ${param}.`, param, 'parameter_missing'),
  unknownParam: (param: string) =>
    invalid(`Received unknown parameter: ${param}`, param, 'parameter_unknown'),
  invalidInteger: (param: string, value: string) =>
    invalid(`Invalid integer: ${value}`, param, 'parameter_invalid_integer'),
  invalidBoolean: (param: string, value: string) => invalid(`Invalid boolean: ${value}`, param),
  invalidString: (param: string) => invalid(`Invalid string: expected a string for ${param}`, param),
  invalidHash: (param: string) => invalid(`Invalid hash`, param),
  invalidArray: (param: string) => invalid(`Invalid array`, param),
  invalidEmpty: (param: string) =>
    invalid(
      `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
      param,
      'parameter_invalid_empty',
    ),
  resourceMissing: (objectName: string, id: string, param: string) =>
    invalid(`No such ${objectName}: '${id}'`, param, 'resource_missing', 404),
  unexpectedState: (message: string) => invalid(message, undefined, 'payment_intent_unexpected_state'),
  unrecognizedUrl: (method: string, path: string) =>
    invalid(
      `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      undefined,
      undefined,
      404,
    ),
  noApiKey: () =>
    invalid(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      undefined,
      undefined,
      401,
    ),
  /**
   * Stripe's answer to an unknown key carries no `code` (none of its documented codes fits). The
   * control API keeps the `api_key_invalid` it has always documented, for the tools that read it.
   */
  invalidApiKey: (key: string, code?: 'api_key_invalid') => invalid(`Invalid API Key provided: ${maskKey(key)}`, undefined, code, 401),
  publishableKeyNotAllowed: () =>
    invalid(
      'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
      undefined,
      'secret_key_required',
      401,
    ),
  unsupportedVersion: (version: string, supported: readonly string[]) =>
    invalid(
      `The Stripe emulator does not speak API version ${version}: it answers only in ${supported.join(', ')} (the version stripe-node pins). Send that Stripe-Version, or none.`,
      undefined,
      undefined,
    ),
  rateLimited: () =>
    invalid(
      'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
      undefined,
      'rate_limit',
      429,
    ),
  idempotencyKeyTooLong: () =>
    invalid('Invalid Idempotency-Key: keys for idempotent requests can be at most 255 characters long.'),
  idempotencyParamsMismatch: (key: string) =>
    new ApiError(400, {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    }),
  idempotencyEndpointMismatch: (key: string, first: string, now: string) =>
    new ApiError(400, {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). Try using a key other than '${key}' if you meant to execute a different request.`,
    }),
  idempotencyKeyInUse: () =>
    invalid(
      'There is currently another in-progress request using this Stripe-Idempotency-Key (that is, a request with the same Idempotency-Key). Please try again later.',
      undefined,
      'idempotency_key_in_use',
      409,
    ),
  internal: () =>
    new ApiError(500, {
      type: 'api_error',
      message: 'An unknown error occurred while processing this request.',
    }),
};

function maskKey(key: string): string {
  if (key.length <= 12) return '*'.repeat(key.length);
  const prefix = key.slice(0, key.indexOf('_', 3) + 1 || 8);
  return `${prefix}${'*'.repeat(Math.max(4, key.length - prefix.length - 4))}${key.slice(-4)}`;
}
