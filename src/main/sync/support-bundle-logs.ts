/**
 * The last log lines of this process, kept in memory for support bundles: the companion
 * logs to standard output only (no file on disk), so without this a bundle made from
 * its tray or Settings screen would have no logs at all. A pino destination (`write`).
 */
export class RecentLogs {
  private readonly lines: string[] = [];
  private bytes = 0;

  /** At most `maxLines` lines and about `maxBytes` of text are kept; the oldest go first. */
  constructor(
    private readonly maxLines = 5000,
    private readonly maxBytes = 2 * 1024 * 1024,
  ) {}

  write(chunk: string): boolean {
    for (const line of chunk.split('\n')) {
      if (line === '') continue;
      this.lines.push(line);
      this.bytes += line.length + 1;
    }
    while (this.lines.length > this.maxLines || (this.bytes > this.maxBytes && this.lines.length > 1)) this.bytes -= (this.lines.shift() ?? '').length + 1;
    return true;
  }

  /** The kept lines, oldest first, one per line. */
  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}
