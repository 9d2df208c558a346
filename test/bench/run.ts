/**
 * `npm run bench -- NAME` runs test/bench/NAME.ts; `npm run bench` runs them all. Each benchmark
 * prints progress to stderr and ends with one JSON line of figures on stdout. Run together, each
 * runs in a process of its own (so memory, GC and JIT state of one does not weigh on the next),
 * and a table of every figure follows their JSON lines.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark ${JSON.stringify(name)}; have: ${all.join(', ')}`);
    process.exit(2);
  }
}

if (wanted.length === 1) {
  const mod = (await import(`./${wanted[0]}.ts`)) as { run(): Promise<Record<string, unknown>> };
  console.log(JSON.stringify({ bench: wanted[0], ...(await mod.run()) }));
} else {
  const results: [string, Record<string, unknown>][] = [];
  let failed = 0;
  for (const name of wanted.length ? wanted : all) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), name], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      console.error(`bench ${name} failed (exit ${child.status})`);
      failed++;
      continue;
    }
    console.log(line);
    const { bench: _name, ...figures } = JSON.parse(line) as Record<string, unknown>;
    results.push([name, figures]);
  }
  const rows = results.flatMap(([name, figures]) =>
    Object.entries(figures).map(([k, v]) => [name, k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
  const width = [0, 1].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  console.log(['', ...rows.map((r) => `${r[0]!.padEnd(width[0]!)}  ${r[1]!.padEnd(width[1]!)}  ${r[2]}`)].join('\n'));
  process.exitCode = failed ? 1 : 0;
}
