/**
 * Pod garbage collection of pods bound to a node that does not exist: they stay through
 * Kubernetes' 40 s quarantine (the node may be about to register) and go after it; a node that
 * turns up in time keeps them. The controller runs under a fake clock.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareCreate } from '../../src/api/lifecycle.js';
import { NodeLifecycleController, ORPHAN_QUARANTINE_MS } from '../../src/controllers/nodelifecycle/reconcile.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  InformerFactory,
  ObjectWriter,
  storeEventSink,
} from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { until } from '../helpers/wait.js';

describe('pods of a node that does not exist', () => {
  let dir = '';
  let store: Store;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  let manager: ControllerManager;
  const abort = new AbortController();
  let running: Promise<void>;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-podgc-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
    const now = () => clock;
    const informers = new InformerFactory(store);
    const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'test' }, now), now);
    manager = new ControllerManager(informers, [
      new NodeLifecycleController({ informers, writer: new ObjectWriter(store, now), events, now }, 10_000),
    ]);
    running = manager.start(abort.signal);
  });
  afterEach(async () => {
    abort.abort();
    await running;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pod = (name: string, node: string) =>
    store.create(
      prepareCreate(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'default' },
          spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] },
        } as never,
        new Date(clock),
        randomUUID(),
      ),
    );
  const names = async () => (await store.list({ group: '', kind: 'Pod' })).items.map((p) => p.metadata.name).sort();

  it('keeps them through the quarantine, removes them after it, and keeps those whose node registers', async () => {
    await pod('orphan', 'ghost');
    await pod('early', 'late-node');
    await new Promise((r) => setTimeout(r, 300));
    expect(await names()).toEqual(['early', 'orphan']);
    clock += ORPHAN_QUARANTINE_MS / 2;
    await store.create(
      prepareCreate(
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'late-node' } } as never,
        new Date(clock),
        randomUUID(),
      ),
    );
    clock += ORPHAN_QUARANTINE_MS;
    manager.enqueue('node-lifecycle', 'ghost');
    manager.enqueue('node-lifecycle', 'late-node');
    await until('the orphan collected', async () => (await names()).join() === 'early', 10_000);
  });
});
