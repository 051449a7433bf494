import { PGlite } from '@electric-sql/pglite';
const db = await PGlite.create('/work/main/.data/runs/events-bench-pglite-2026-12-07T06-17-23-194Z-053e/data');
const r = await db.query("select schemaname||'.'||tablename as table_name from pg_tables where schemaname not in ('pg_catalog','information_schema')");
console.log(r.rows.map((x:any)=>x.table_name).join(' '));
await db.close();
