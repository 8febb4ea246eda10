/* Maps the audio clock (AudioContext time) to media time on a conversation's timeline. The
 * mapping is a chain of anchors: playback starts at one, and every rebuffering after an
 * underrun adds another, so media time holds during the gap and never drifts from the audio
 * that was actually scheduled. */

export class PlayClock {
  private anchors: { ctx: number; media: number }[] = [];
  /** Media time up to which audio has been scheduled; media time never passes it. */
  scheduledUntil = 0;

  get started(): boolean {
    return this.anchors.length > 0;
  }
  /** Starts the timeline: media time `media` plays at context time `ctx`. */
  start(ctx: number, media = 0): void {
    this.anchors = [{ ctx, media }];
    this.scheduledUntil = media;
  }
  reset(): void {
    this.anchors = [];
    this.scheduledUntil = 0;
  }
  /** Context time at which media time `media` is to play under the newest anchor. */
  ctxFor(media: number): number {
    const a = this.anchors[this.anchors.length - 1];
    return a.ctx + (media - a.media);
  }
  /** After an underrun: media time `media` (the gap point) resumes at context time `ctx`. */
  rebuffer(ctx: number, media: number): void {
    this.anchors.push({ ctx, media });
    if (this.anchors.length > 64) this.anchors.splice(0, this.anchors.length - 64);
  }
  /** Media time playing at context time `ctx`; negative before the start. */
  mediaAt(ctx: number): number {
    const as = this.anchors;
    if (!as.length) return 0;
    let i = as.length - 1;
    while (i > 0 && as[i].ctx > ctx) i--;
    let m = as[i].media + (ctx - as[i].ctx);
    if (i + 1 < as.length && m > as[i + 1].media) m = as[i + 1].media;
    if (i > 0 && ctx < as[i].ctx) m = as[i].media;
    if (m > this.scheduledUntil) m = this.scheduledUntil;
    return m;
  }
}
