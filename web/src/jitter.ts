/* Jitter buffer sizing: learns how late payloads arrive relative to their media time and
 * turns that into the start-up delay a conversation waits before it begins to play. */

export interface JitterOptions {
  /** Smallest start-up delay in seconds (covers decode and scheduling latency). */
  minDelay?: number;
  /** Largest start-up delay in seconds. */
  maxDelay?: number;
  /** Arrivals remembered (sliding window). */
  window?: number;
  /** Quantile of observed lateness to cover (0..1). */
  quantile?: number;
}

export class JitterEstimator {
  readonly minDelay: number;
  readonly maxDelay: number;
  private readonly window: number;
  private readonly quantile: number;
  private lateness: number[] = [];
  private next = 0;
  private base = NaN;
  private underrunFloor = 0;

  constructor(o: JitterOptions = {}) {
    this.minDelay = o.minDelay ?? 0.08;
    this.maxDelay = o.maxDelay ?? 1.0;
    this.window = Math.max(4, Math.min(o.window ?? 128, 4096));
    this.quantile = Math.min(1, Math.max(0, o.quantile ?? 0.95));
  }

  /** Starts a new conversation timeline: lateness is measured afresh. */
  beginStream(): void {
    this.base = NaN;
  }

  /**
   * Records that data starting at media time mediaStart (seconds on the conversation
   * timeline) arrived at time arrival (seconds on a monotonic clock).
   *
   * Lateness is the transit time (arrival - mediaStart) minus the smallest transit seen so
   * far in this conversation. Against the first arrival alone, a first payload that came late
   * (a slow start, a busy page) would make all the rest look early; against the smallest one
   * of the whole conversation, a sender faster than real time (a burst) would make its first
   * payloads look late. The running minimum is right for both.
   */
  arrival(arrival: number, mediaStart: number): void {
    const d = arrival - mediaStart;
    if (!Number.isFinite(d)) return;
    if (Number.isNaN(this.base) || d < this.base) this.base = d;
    const late = d - this.base;
    if (this.lateness.length < this.window) this.lateness.push(late);
    else this.lateness[this.next] = late;
    this.next = (this.next + 1) % this.window;
  }

  /** Reports an underrun of `seconds`: the delay grows at once and relaxes slowly. */
  underrun(seconds: number): void {
    // grow by the shortfall, at most 250 ms per underrun: one long stall of the page (a
    // blocked main thread) must not buy a second of latency for the rest of the session
    const grow = Math.min(0.25, Math.max(0.02, seconds));
    this.underrunFloor = Math.min(this.maxDelay, Math.max(this.underrunFloor, this.targetDelay()) + grow);
  }

  /** Called once per finished conversation so an old underrun stops inflating the delay. */
  relax(): void {
    this.underrunFloor *= 0.5;
  }

  /** Start-up delay (seconds) that covers the configured quantile of observed lateness. */
  targetDelay(): number {
    let q = 0;
    if (this.lateness.length) {
      const s = [...this.lateness].sort((x, y) => x - y);
      q = s[Math.min(s.length - 1, Math.floor(this.quantile * (s.length - 1) + 0.5))];
    }
    const d = Math.max(this.minDelay, q + this.minDelay, this.underrunFloor);
    return Math.min(this.maxDelay, d);
  }

  get samples(): number {
    return this.lateness.length;
  }
}
