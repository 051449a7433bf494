// The banner's markup, rendered as the server renders it.
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ShopChrome } from '@/components/shop/ShopChrome';
import { TestModeBanner } from '@/components/TestModeBanner';

describe('TestModeBanner', () => {
  it('is a status with visible text when payments are not real, nothing otherwise', () => {
    const html = renderToStaticMarkup(<TestModeBanner show />);
    expect(html).toMatch(/^<div role="status"[^>]*>/);
    expect(html).toContain('Test mode: no real payments.');
    expect(renderToStaticMarkup(<TestModeBanner show={false} />)).toBe('');
  });

  it('sits at the top of the shop chrome when in test mode', () => {
    const on = renderToStaticMarkup(<ShopChrome count={0} testMode>x</ShopChrome>);
    expect(on.indexOf('Test mode: no real payments')).toBeGreaterThanOrEqual(0);
    expect(on.indexOf('Test mode: no real payments')).toBeLessThan(on.indexOf('<header'));
    expect(renderToStaticMarkup(<ShopChrome count={0} testMode={false}>x</ShopChrome>)).not.toContain('Test mode');
  });
});
