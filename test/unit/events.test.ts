import { describe, expect, it } from 'vitest';
import { EventRecorder, reapEvents } from '../../src/runtime/events.js';
import { storeEventSink } from '../../src/runtime/store-events.js';
import { openStore } from '../../src/store/index.js';

describe('Events', () => {
  it('deduplicates the same occurrence into one Event with a count, and ages Events out', async () => {
    const store = await openStore('memory:');
    let now = Date.parse('2026-11-22T10:00:00Z');
    const sink = storeEventSink(store);
    const rec = new EventRecorder(sink, { component: 'deployment-controller' }, () => now);
    const about = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web', uid: 'u1' };
    await rec.record({
      involvedObject: about,
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web-1 to 2',
    });
    now += 5000;
    await rec.record({
      involvedObject: about,
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web-1 to 2',
    });
    await rec.record({ involvedObject: about, type: 'Warning', reason: 'ProgressDeadlineExceeded', message: 'stuck' });
    const events = await sink.list();
    expect(events.map((e) => [e.reason, e.count, e.firstTimestamp, e.lastTimestamp]).sort()).toEqual([
      ['ProgressDeadlineExceeded', 1, '2026-11-22T10:00:05Z', '2026-11-22T10:00:05Z'],
      ['ScalingReplicaSet', 2, '2026-11-22T10:00:00Z', '2026-11-22T10:00:05Z'],
    ]);
    expect(events.every((e) => e.metadata.name.startsWith('web.'))).toBe(true);
    // Concurrent recorders of the same event end with the count of all of them.
    await Promise.all(
      Array.from({ length: 5 }, () =>
        rec.record({ involvedObject: about, type: 'Warning', reason: 'ProgressDeadlineExceeded', message: 'stuck' }),
      ),
    );
    expect((await sink.list()).find((e) => e.reason === 'ProgressDeadlineExceeded')!.count).toBe(6);

    expect(await reapEvents(sink, 3_600_000, now + 3_600_000)).toBe(0);
    expect(await reapEvents(sink, 3_600_000, now + 3_600_001)).toBe(2);
    expect(await sink.list()).toEqual([]);
    await store.close();
  });
});
