// Stripe's wire format: form-encoded with bracket nesting (card[number]=…, expand[0]=…).

export function encodeForm(params: Record<string, unknown>): string {
  const pairs: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (value === undefined) return;
    if (value === null) {
      pairs.push(`${encodeURIComponent(key)}=`);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${key}[${i}]`));
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${key}[${k}]`);
    } else {
      pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    }
  };
  for (const [k, v] of Object.entries(params)) walk(v, k);
  return pairs.join('&');
}
