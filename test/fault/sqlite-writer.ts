/**
 * Child process for the crash test: writes to a SQLite store in a loop and appends each
 * acknowledged write ("name revision") to an ack file, until it is killed.
 *   node --import tsx test/fault/sqlite-writer.ts STORE_FILE ACK_FILE
 */
import { appendFileSync } from 'node:fs';
import { openStore, type KubeObject } from '../../src/store/index.js';

const [file, ackFile] = process.argv.slice(2) as [string, string];
const store = await openStore(`sqlite:${file}`);
const cm = (name: string, n: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { n: String(n) },
});
let last = await store.create(cm('counter', 0));
appendFileSync(ackFile, `counter ${last.metadata.resourceVersion}\n`);
for (let i = 1; ; i++) {
  if (i % 3 === 0) {
    const r = await store.txn([
      { op: 'create', object: cm(`batch-${i}-a`, i) },
      { op: 'create', object: cm(`batch-${i}-b`, i) },
    ]);
    appendFileSync(ackFile, `batch-${i}-a ${r.revision}\nbatch-${i}-b ${r.revision}\n`);
  } else {
    last = await store.update({ ...last, data: { n: String(i) } });
    appendFileSync(ackFile, `counter ${last.metadata.resourceVersion}\n`);
  }
}
