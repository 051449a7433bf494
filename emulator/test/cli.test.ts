// `npm run emulator`: keys from the environment, the webhook endpoint it registers, clean stop.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';
import { expect, test } from 'vitest';

const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

test('uses the keys from the environment, registers EMULATOR_WEBHOOK_URL and stops on SIGTERM', async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    EMULATOR_PORT: '0',
    STRIPE_SECRET_KEY: 'sk_test_from_env_123456789',
    NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: 'pk_test_from_env_123456789',
    STRIPE_WEBHOOK_SECRET: 'whsec_from_env_123456789',
    EMULATOR_WEBHOOK_URL: 'http://127.0.0.1:9/api/stripe/webhook',
  };
  delete env.EMULATOR_DATA_FILE;
  const child = spawn(process.execPath, ['--import', 'tsx', cli], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      lines.push(line);
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`cli exited early (${code}): ${lines.join('\n')}`)));
  });
  await new Promise((r) => setTimeout(r, 50));
  const output = lines.join('\n');
  expect(output).toContain('STRIPE_SECRET_KEY=sk_test_from_env_123456789');
  expect(output).toContain('NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_test_from_env_123456789');
  expect(output).toContain('STRIPE_WEBHOOK_SECRET=whsec_from_env_123456789');
  // Everything a shop needs, including where Stripe.js comes from.
  expect(output).toContain(`STRIPE_API_BASE=${url}`);
  expect(output).toContain(`STRIPE_JS_URL=${url}/v3/`);
  expect(output).toContain('Webhooks → http://127.0.0.1:9/api/stripe/webhook');

  const port = Number(new URL(url).port);
  const stripe = new Stripe('sk_test_from_env_123456789', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
  expect((await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' })).id).toMatch(/^pi_/);
  // The Stripe.js it prints is served there.
  const js = await fetch(`${url}/v3/`);
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  expect((await fetch(`${url}/_emulator/webhook_endpoints`)).status).toBe(401);
  const endpoints = (await (await fetch(`${url}/_emulator/webhook_endpoints`, { headers: { authorization: 'Bearer sk_test_from_env_123456789' } })).json()) as { data: { url: string; secret?: string }[] };
  expect(endpoints.data).toEqual([expect.objectContaining({ url: 'http://127.0.0.1:9/api/stripe/webhook' })]);
  expect(endpoints.data[0].secret).toBeUndefined();

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
