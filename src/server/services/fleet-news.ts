/**
 * The console's live view: tills whose report changed, gathered for a moment and told
 * in one `fleet:changed` (a fleet of 10,000 reports about 330 times a second; the
 * console reads what changed, not every heartbeat).
 */
import type { FleetChanged } from '../../shared/protocol.js';

const MAX_IDS = 1000;

export class FleetNews {
  private ids = new Set<string>();
  private all = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly tell: (news: FleetChanged) => void,
    private readonly windowMs = 250,
  ) {}

  changed(terminalId: string): void {
    if (this.ids.size < MAX_IDS) this.ids.add(terminalId);
    else this.all = true;
    this.schedule();
  }

  /** Notifications may have been missed: the console reads everything again. */
  changedAll(): void {
    this.all = true;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const news: FleetChanged = { terminalIds: this.all ? [] : [...this.ids], all: this.all };
      this.ids = new Set();
      this.all = false;
      this.tell(news);
    }, this.windowMs);
    this.timer.unref();
  }
}
