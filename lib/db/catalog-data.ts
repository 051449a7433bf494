// The seed catalog. Prices are minor units (cents).
export interface SeedProduct {
  slug: string;
  name: string;
  description: string;
  price: number;
  stock: number;
  color: string;
  glyph: string;
}

export const seedProducts: SeedProduct[] = [
  { slug: 'morning-blend', name: 'Morning Blend Coffee', description: 'A bright, balanced medium roast from Colombia and Ethiopia. Notes of citrus, cocoa and brown sugar. 340 g whole beans.', price: 1600, stock: 120, color: '#b45309', glyph: '☕' },
  { slug: 'espresso-noir', name: 'Espresso Noir', description: 'A dark, syrupy espresso roast with a thick crema and notes of dark chocolate and molasses. 340 g whole beans.', price: 1800, stock: 80, color: '#44403c', glyph: '☕' },
  { slug: 'sencha-green-tea', name: 'Sencha Green Tea', description: 'Steamed Japanese green tea with a grassy sweetness and a clean finish. 100 g loose leaf.', price: 1400, stock: 60, color: '#4d7c0f', glyph: '🍵' },
  { slug: 'earl-grey', name: 'Earl Grey Supreme', description: 'Ceylon black tea scented with bergamot and cornflower petals. 100 g loose leaf.', price: 1200, stock: 75, color: '#1e3a8a', glyph: '🫖' },
  { slug: 'pour-over-dripper', name: 'Ceramic Pour-Over Dripper', description: 'A single-cup ceramic dripper that holds heat for an even extraction. Fits size 02 filters.', price: 2800, stock: 40, color: '#e7e5e4', glyph: '⏳' },
  { slug: 'gooseneck-kettle', name: 'Gooseneck Kettle', description: 'A 1 L stainless steel kettle with a precise gooseneck spout and a built-in thermometer.', price: 6400, stock: 25, color: '#71717a', glyph: '🫖' },
  { slug: 'burr-grinder', name: 'Conical Burr Grinder', description: 'A hand grinder with steel conical burrs and 40 click settings, from espresso to French press.', price: 8900, stock: 18, color: '#292524', glyph: '⚙️' },
  { slug: 'french-press', name: 'French Press', description: 'A 800 ml borosilicate glass press with a double stainless steel mesh filter.', price: 3400, stock: 35, color: '#0f766e', glyph: '🧪' },
  { slug: 'stoneware-mug', name: 'Stoneware Mug', description: 'A hand-glazed 350 ml stoneware mug that keeps its warmth. Dishwasher safe.', price: 2200, stock: 90, color: '#9a3412', glyph: '🍺' },
  { slug: 'paper-filters', name: 'Paper Filters (100)', description: 'Unbleached size 02 paper filters, oxygen-whitened free, for a clean cup.', price: 600, stock: 200, color: '#d6d3d1', glyph: '📜' },
  { slug: 'cold-brew-bottle', name: 'Cold Brew Bottle', description: 'A 1 L bottle with a fine mesh filter: add grounds and water, wait 12 hours, pour.', price: 2900, stock: 30, color: '#0369a1', glyph: '🧊' },
  { slug: 'tasting-set', name: 'Single-Origin Tasting Set', description: 'Four 100 g bags of single-origin coffees from Kenya, Guatemala, Sumatra and Brazil.', price: 4500, stock: 20, color: '#7c2d12', glyph: '🎁' },
  { slug: 'digital-scale', name: 'Digital Brewing Scale', description: 'A 0.1 g precision scale with a built-in timer, for repeatable pour-overs and espresso.', price: 3900, stock: 22, color: '#18181b', glyph: '⚖️' },
  { slug: 'matcha-kit', name: 'Matcha Starter Kit', description: 'Ceremonial-grade matcha (30 g), a bamboo whisk and a scoop.', price: 5200, stock: 15, color: '#65a30d', glyph: '🍃' },
];
