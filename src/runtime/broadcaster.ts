/**
 * Events off the reconcile path, as client-go's broadcaster: `emit` never waits for the store; a
 * bounded queue is written behind it (overflow is dropped, as client-go drops); and like its
 * EventAggregator, once more than 10 events of one object, type and reason but different messages
 * arrive within 10 minutes, further ones are combined into one counted event instead of 1,000
 * "Created pod: …" events for a 1,000-replica ReplicaSet. An event emitted again while the same
 * one still waits in the queue is counted into it, not queued twice.
 */
import type { EventInput, EventRecorder } from './events.js';

const MAX_QUEUED = 1000;
const AGGREGATE_AFTER = 10;
const AGGREGATE_WINDOW_MS = 10 * 60_000;

export class EventBroadcaster {
  private readonly queue = new Map<string, { event: EventInput; times: number }>();
  private readonly similar = new Map<string, { messages: Set<string>; since: number }>();
  private draining: Promise<void> | undefined;
  dropped = 0;

  constructor(
    private readonly recorder: EventRecorder,
    private readonly now: () => number = Date.now,
    private readonly onError?: (e: unknown) => void,
  ) {}

  emit(input: EventInput): void {
    const o = input.involvedObject;
    const key = [o.kind, o.namespace ?? '', o.name, o.uid ?? '', input.type, input.reason].join('\u0000');
    const now = this.now();
    let seen = this.similar.get(key);
    if (!seen || now - seen.since > AGGREGATE_WINDOW_MS)
      this.similar.set(key, (seen = { messages: new Set(), since: now }));
    seen.messages.add(input.message);
    if (this.similar.size > 4096) this.similar.delete(this.similar.keys().next().value!);
    // As client-go's aggregator: the combined event is one per object, type and reason, with the latest message.
    const combined = seen.messages.size > AGGREGATE_AFTER;
    const event = combined
      ? { ...input, message: '(combined from similar events): ' + input.message, combined: true }
      : input;
    const queueKey = combined ? `${key}\u0000(combined)` : `${key}\u0000${event.message}`;
    const queued = this.queue.get(queueKey);
    if (queued) {
      queued.times++;
      queued.event = event;
      return;
    }
    if (this.queue.size >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.set(queueKey, { event, times: 1 });
    this.draining ??= this.drain();
  }

  /** Resolves when everything emitted so far is written. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.size) {
        const [key, { event, times }] = this.queue.entries().next().value!;
        this.queue.delete(key);
        await this.recorder.record(event, times).catch((err) => this.onError?.(err));
      }
    } finally {
      this.draining = undefined;
    }
  }
}
