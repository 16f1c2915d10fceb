/**
 * The top self-time entries of V8 CPU profiles (`node --cpu-prof`, or bench/daemon.ts
 * --cpu-prof DIR), one table per file (the daemon writes one per thread: main and the
 * inference worker). Self time is the time a function was on top of the stack; (program),
 * (garbage collector) and (idle) are V8's own buckets. Native ONNX Runtime time shows as
 * the JS function that called into it (or (program)).
 *
 *   npx tsx bench/profile-top.ts [--top 20] FILE.cpuprofile|DIR ...
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
const files = positionals.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    const url = frame?.url ? relative(process.cwd(), frame.url.replace(/^file:\/\//, '')) : '';
    const key = `${frame?.functionName || '(anonymous)'}${url ? ` ${url}:${(frame?.lineNumber ?? 0) + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const byArea = new Map<string, number>();
  for (const [key, us] of self) {
    const path = key.split(' ')[1] ?? '';
    const area = path.startsWith('node_modules/') ? path.split('/').slice(0, 2).join('/') : path.startsWith('dist/') || path.startsWith('src/') ? path.split('/').slice(0, 2).join('/') : path === '' ? key : 'node internals';
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled`);
  console.log('| self ms | share | function |\n| ---: | ---: | --- |');
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)}% | \`${key}\` |`);
  }
  console.log('\n| self ms | share | by package or src/ folder |\n| ---: | ---: | --- |');
  for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)}% | \`${area}\` |`);
  }
}
