import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { checkDependencies, readSources } from './deps.js';
import { REPO_ROOT } from '../shared.js';

describe('dependency direction (../shared/DESIGN.md)', () => {
  it('holds for every file in src/', () => {
    const files = readSources(`${REPO_ROOT}src`);
    expect(files.length).toBeGreaterThan(10);
    expect(checkDependencies(files)).toEqual([]);
  });

  it('catches a violation (the check itself can fail)', () => {
    const violations = checkDependencies([
      { path: 'api/x.ts', source: "import { loadFile } from '../manifest/load.js';" },
      {
        path: 'cli/y.ts',
        source: "import type { Store } from '../store/index.js';\nconst s = await import('../runtime/queue.js');",
      },
      { path: 'server/z.ts', source: "import Docker from 'dockerode';" },
      {
        path: 'manifest/ok.ts',
        source: "import { parseQuantity } from '../api/quantity.js';\nimport { x } from './local.js';",
      },
      {
        path: 'controllers/job/plan.ts',
        source: "import { readFileSync } from 'node:fs';\nimport { randomUUID } from 'node:crypto';",
      },
      { path: 'diff/report.ts', source: "import { execFileSync } from 'child_process';" },
      { path: 'manifest/tree.ts', source: "import { readdirSync } from 'node:fs';" },
      { path: 'ui/web/page.ts', source: "import { h } from 'preact';\nimport { x } from './api.js';" },
      {
        path: 'ui/web/bad.ts',
        source: "import { UI_PATH } from '../serve.js';\nimport { readFileSync } from 'node:fs';",
      },
      { path: 'server/ui.ts', source: "import { render } from 'preact';" },
    ]);
    expect(violations.map((v) => `${v.file} → ${v.imports}`)).toEqual([
      'api/x.ts → ../manifest/load.js',
      'cli/y.ts → ../store/index.js',
      'cli/y.ts → ../runtime/queue.js',
      'server/z.ts → dockerode',
      'controllers/job/plan.ts → node:fs',
      'diff/report.ts → child_process',
      'ui/web/bad.ts → ../serve.js',
      'ui/web/bad.ts → node:fs',
      'server/ui.ts → preact',
    ]);
  });
});

describe('what a process loads', () => {
  // dockerode brings ssh2, whose Poly1305 WebAssembly holds 16 MB: only a process that runs pods
  // on Docker loads it (the composition root imports the Docker runtime when it needs it).
  it('the composition root loads no dockerode until a node runs pods on Docker', () => {
    const script = `await import(${JSON.stringify(`${REPO_ROOT}.build/main.js`)});
      const { createRequire } = await import('node:module');
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(loaded.filter((m) => m.includes('/node_modules/dockerode/'))));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual([]);
  });
});
