/** Round-robin per key over lists whose length may change between calls (endpoints come and go). */
export class Turns {
  private readonly next = new Map<string, number>();

  /** The index, below `n`, whose turn it is for `key`. */
  take(key: string, n: number): number {
    const i = this.next.get(key) ?? 0;
    this.next.set(key, (i + 1) % 1_000_000);
    return i % n;
  }
}
