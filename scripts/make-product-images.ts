// Writes the catalog's product images (SVG) into public/products. Run once; the files are committed.
import { writeFileSync } from 'node:fs';
import { seedProducts } from '../lib/db/catalog-data';

const initials = (name: string) => name.split(/\s+/).filter((w) => /^[A-Z]/.test(w)).slice(0, 2).map((w) => w[0]).join('');

for (const p of seedProducts) {
  const dark = ['#44403c', '#292524', '#18181b', '#1e3a8a', '#7c2d12', '#71717a', '#0f766e', '#0369a1', '#9a3412', '#b45309', '#4d7c0f', '#65a30d'].includes(p.color);
  const fg = dark ? '#fafaf9' : '#1c1917';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600" role="img" aria-label="${p.name}">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${p.color}"/><stop offset="1" stop-color="${p.color}" stop-opacity="0.75"/></linearGradient></defs>
  <rect width="600" height="600" fill="url(#g)"/>
  <circle cx="300" cy="260" r="150" fill="${fg}" fill-opacity="0.12"/>
  <text x="300" y="310" font-size="140" font-weight="700" text-anchor="middle" font-family="system-ui, sans-serif" fill="${fg}">${initials(p.name)}</text>
  <text x="300" y="500" font-size="36" text-anchor="middle" font-family="system-ui, sans-serif" fill="${fg}">${p.name.replace(/&/g, '&amp;')}</text>
</svg>\n`;
  writeFileSync(`public/products/${p.slug}.svg`, svg);
}
console.log(`wrote ${seedProducts.length} images`);
