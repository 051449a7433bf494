// Counts the SQL statements a server runs, without touching the server's code: a Node preload
// (`NODE_OPTIONS=--import <this file>`, with BRISK_COUNT_STATEMENTS_DIR set) that wraps the two
// places every statement of this app passes through, whatever sends it (Prisma's adapters,
// lib/db's direct path or Kysely, pg-boss):
// - pg: Connection.prototype.query (a simple-protocol Query message) and .execute (an Execute
//   message of the extended protocol; its text is the one last bound on that connection);
// - PGlite: PGlite.prototype.execProtocolRawSync, which every query(), exec(), execProtocol*()
//   and transaction() ends in: the frontend messages in the buffer are read, and each Query ('Q')
//   and Execute ('E') is one statement.
// So it counts messages that run a statement, the same way on any commit of the app: BEGIN,
// COMMIT and ROLLBACK count (by their first word apart), a simple Query holding several
// statements separated by semicolons counts once. On pg it also counts the statements sent
// while an earlier one on the same connection was still unanswered (pipelined).
// Each process writes its running totals to <dir>/<pid>.json (at most every 250 ms, off the main
// thread, and at exit): read them half a second after the work.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.BRISK_COUNT_STATEMENTS_DIR;
const totals = { statements: 0, pipelined: 0, byKind: {} };
let dirty = false;
let writing = false;

/** The first word of a statement, with SELECT … FOR UPDATE / FOR SHARE apart. */
function kindOf(text) {
  if (!text) return '?';
  const t = text.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '');
  const word = (/^[A-Za-z]+/.exec(t)?.[0] ?? '?').toUpperCase();
  if ((word === 'SELECT' || word === 'WITH') && /\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b/i.test(t)) return `${word} … FOR UPDATE/SHARE`;
  if (word === 'START') return 'BEGIN';
  if (word === 'END') return 'COMMIT';
  return word;
}

function count(text, pipelined) {
  totals.statements++;
  if (pipelined) totals.pipelined++;
  const k = kindOf(text);
  totals.byKind[k] = (totals.byKind[k] ?? 0) + 1;
  dirty = true;
}

const report = () => JSON.stringify({ pid: process.pid, argv: process.argv.slice(1, 3), ...totals });

function flush() {
  if (!dirty || writing) return;
  dirty = false;
  writing = true;
  writeFile(join(dir, `${process.pid}.json`), report())
    .catch(() => undefined) // the run's folder is gone: nothing to report to
    .finally(() => (writing = false));
}

function flushNow() {
  try {
    writeFileSync(join(dir, `${process.pid}.json`), report());
  } catch {
    /* as above */
  }
}

function patchPg(requireFromApp) {
  let Connection;
  try {
    Connection = requireFromApp('pg/lib/connection.js');
  } catch {
    return;
  }
  const proto = Connection.prototype;
  if (proto.__briskCounted) return;
  proto.__briskCounted = true;
  const state = (c) => (c.__brisk ??= { outstanding: 0, names: new Map(), bound: undefined, listening: false });
  const listen = (c) => {
    const s = state(c);
    if (s.listening) return;
    s.listening = true;
    c.on('readyForQuery', () => (s.outstanding = Math.max(0, s.outstanding - 1)));
  };
  const { query, parse, bind, execute, sync } = proto;
  proto.query = function (text) {
    listen(this);
    const s = state(this);
    count(text, s.outstanding > 0);
    s.outstanding++;
    return query.call(this, text);
  };
  proto.parse = function (q) {
    state(this).names.set(q.name || '', q.text);
    return parse.call(this, q);
  };
  proto.bind = function (config) {
    state(this).bound = state(this).names.get(config?.statement || '') ?? state(this).bound;
    return bind.call(this, config);
  };
  proto.execute = function (config) {
    listen(this);
    const s = state(this);
    count(s.bound, s.outstanding > 0);
    return execute.call(this, config);
  };
  proto.sync = function () {
    listen(this);
    state(this).outstanding++;
    return sync.call(this);
  };
}

/** Reads one buffer of frontend messages (type byte, int32 length including itself, body). */
function countPgliteMessages(self, buf) {
  if (!buf || buf.length < 5 || buf[0] === 0) return; // the startup packet has no type byte
  const names = (self.__briskNames ??= new Map());
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const cstring = (at) => {
    const end = view.indexOf(0, at);
    return [view.toString('utf8', at, end), end + 1];
  };
  for (let at = 0; at + 5 <= view.length; ) {
    const type = String.fromCharCode(view[at]);
    const len = view.readInt32BE(at + 1);
    const body = at + 5;
    if (type === 'Q') count(cstring(body)[0], false);
    else if (type === 'P') {
      const [name, next] = cstring(body);
      names.set(name, cstring(next)[0]);
    } else if (type === 'B') {
      const [, next] = cstring(body);
      self.__briskBound = names.get(cstring(next)[0]);
    } else if (type === 'E') count(self.__briskBound, false);
    if (len < 4) break;
    at += 1 + len;
  }
}

async function patchPglite(requireFromApp) {
  const patch = (PGlite) => {
    const proto = PGlite?.prototype;
    if (!proto || typeof proto.execProtocolRawSync !== 'function' || proto.__briskCounted) return;
    proto.__briskCounted = true;
    const raw = proto.execProtocolRawSync;
    proto.execProtocolRawSync = function (message) {
      try {
        countPgliteMessages(this, message);
      } catch {
        /* never let counting break a statement */
      }
      return raw.call(this, message);
    };
  };
  // Both builds, whichever the app loads (require or import): each is one module per process.
  try {
    patch(requireFromApp('@electric-sql/pglite').PGlite);
  } catch {
    /* not installed, or no CommonJS build */
  }
  try {
    patch((await import(pathToFileURL(requireFromApp.resolve('@electric-sql/pglite').replace(/\.cjs$/, '.js')).href)).PGlite);
  } catch {
    /* no ES module build */
  }
}

if (dir) {
  mkdirSync(dir, { recursive: true });
  const requireFromApp = createRequire(join(process.cwd(), 'package.json'));
  patchPg(requireFromApp);
  await patchPglite(requireFromApp);
  setInterval(flush, 250).unref();
  process.on('exit', flushNow);
}
