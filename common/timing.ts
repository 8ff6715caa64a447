/** Waits `ms` milliseconds. The one sleep of the product. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What one pass of a WakeableLoop asks for next: another pass now, or rest until the next wake or poll. */
export type PassOutcome = 'again' | 'rest';

/**
 * A background loop that runs a pass whenever it is woken (work arrived) and by itself every poll interval
 * (work that became due, a peer that came back). A wake during a pass is not lost: one more pass follows. It is
 * how the provisioning worker and the founder's mail outbox work their queues.
 */
export class WakeableLoop {
  private running?: Promise<void>;
  private woken = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly options: {
      /** One pass over the queue; its outcome says whether to go round again at once. */
      pass: () => Promise<PassOutcome>;
      /** How long to rest before the next pass when nobody wakes the loop. */
      restMs: () => Promise<number> | number;
      /** A pass that threw: reported here, and the loop rests until the next poll. */
      onError: (error: unknown) => void;
    },
  ) {}

  wake(): void {
    if (this.stopped) return;
    this.woken = true;
    if (this.running) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** No more passes; resolves once the current one (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.idle();
  }

  private async run(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    while (this.woken && !this.stopped) {
      this.woken = false;
      try {
        if ((await this.options.pass()) === 'again') this.woken = true;
      } catch (error) {
        this.options.onError(error);
        break;
      }
    }
    await this.rest();
  }

  private async rest(): Promise<void> {
    if (this.stopped) return;
    let delay: number;
    try {
      delay = Math.max(0, await this.options.restMs());
    } catch {
      delay = 5000; // whatever tells the next due time is unreachable: look again soon
    }
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }
}
