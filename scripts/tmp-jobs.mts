import { PGlite } from '@electric-sql/pglite';
const db = await PGlite.create(process.argv[2]);
const r = await db.query(`select date_trunc('second', e."receivedAt") as s, count(*) n,
  percentile_cont(0.5) within group (order by extract(epoch from (o."paidAt" - e."receivedAt"))*1000) p50,
  max(extract(epoch from (o."paidAt" - e."receivedAt"))*1000) mx
  from "StripeEvent" e join "Order" o on o."paymentIntentId" = e."objectId"
  where e.id like 'evt_l%' group by 1 order by 1`);
for (const x of r.rows as any[]) console.log(x.s.toISOString().slice(11,19), x.n, Math.round(x.p50), Math.round(x.mx));
await db.close();
