/**
 * Live request load, what the HPA's custom metrics read (custom.metrics.k8s.io requests_per_second
 * and requests_in_flight): the ingress router counts each request for its Ingress, its backend
 * Service and the pod that served it; the service proxy counts each connection (at layer 4 a
 * connection is the request it sees) for its Service and pod. Rates are over a sliding window of
 * whole seconds (the second under way is left out: it is not over yet).
 */

import type { LoadEntry, LoadKind, LoadReport } from '../api/metrics.js';

/** One object's counts: callers may keep it (the router does, per route) to skip the lookup. */
export interface Series {
  readonly key: string;
  kind: LoadKind;
  namespace: string;
  name: string;
  /** Requests begun in each of the last seconds, a ring indexed by the second. */
  buckets: Uint32Array;
  /** The newest second a bucket was cleared for. */
  second: number;
  inFlight: number;
}

export class LoadCounter {
  private readonly series = new Map<string, Series>();
  private readonly seconds: number;

  constructor(
    windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.seconds = Math.max(1, Math.round(windowMs / 1000));
  }

  seriesOf(kind: LoadKind, namespace: string, name: string): Series {
    const key = `${kind}/${namespace}/${name}`;
    let s = this.series.get(key);
    if (!s) {
      s = { key, kind, namespace, name, buckets: new Uint32Array(this.seconds + 1), second: 0, inFlight: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** A request begins for `s` (at `now`, ms: one clock read serves several series). */
  start(s: Series, now = this.now()): void {
    // A series forgotten while idle, and kept by a caller, comes back.
    if (s.inFlight === 0 && !this.series.has(s.key)) this.series.set(s.key, s);
    const second = Math.floor(now / 1000);
    this.advance(s, second);
    s.buckets[second % s.buckets.length]!++;
    s.inFlight++;
  }

  finish(s: Series): void {
    s.inFlight--;
  }

  /** A request begins for this object; call what is returned when it ends. */
  begin(kind: LoadKind, namespace: string, name: string): () => void {
    const s = this.seriesOf(kind, namespace, name);
    this.start(s);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.finish(s);
    };
  }

  /** Clears the buckets of the seconds that passed with no request since the last one. */
  private advance(s: Series, second: number): void {
    if (second <= s.second) return;
    const ring = s.buckets.length;
    for (let t = Math.max(s.second + 1, second - ring + 1); t <= second; t++) s.buckets[t % ring] = 0;
    s.second = second;
  }

  report(): LoadReport {
    const timestamp = this.now();
    const second = Math.floor(timestamp / 1000);
    const entries: LoadEntry[] = [];
    for (const [key, s] of this.series) {
      this.advance(s, second);
      let total = 0;
      // The whole seconds of the window: second−n … second−1.
      for (let t = second - this.seconds; t < second; t++) total += s.buckets[t % s.buckets.length]!;
      if (total === 0 && s.inFlight === 0 && second - s.second > this.seconds) {
        this.series.delete(key); // idle for a whole window: forgotten
        continue;
      }
      entries.push({
        kind: s.kind,
        namespace: s.namespace,
        name: s.name,
        requestsPerSecond: total / this.seconds,
        inFlight: s.inFlight,
      });
    }
    return { timestamp, windowMs: this.seconds * 1000, entries };
  }
}
