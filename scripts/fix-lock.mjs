// npm >= 11.16 drops optional dependencies that the registry cannot serve from
// package-lock.json, then `npm ci` rejects its own lock (npm/cli#9846). vite 8 lists one
// such package (napi-windows-process-start-time, Windows only). Re-add the placeholder
// entry that older npm wrote. Run after any `npm install` that rewrites the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const key = 'node_modules/vite/node_modules/napi-windows-process-start-time';
if (!lock.packages[key]) {
  lock.packages[key] = { dev: true, optional: true };
  const sorted = Object.fromEntries(
    Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
  );
  lock.packages = sorted;
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`added ${key} to package-lock.json`);
}
