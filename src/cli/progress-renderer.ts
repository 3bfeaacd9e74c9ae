import { LAYER_STATUS, type ProgressEvent } from '../engine/index.js';
import { humanSize } from '../util/index.js';

/** Sizes in progress lines use 4 significant digits (Docker's jsonmessage). */
function size4(n: number): string {
  return humanSize(n, 4);
}

/** `[=====>     ]  22.77MB/110.1MB` as Docker prints it (bar 50 cells, current right-aligned in 8). */
export function progressText(current: number, total: number | undefined, withBar: boolean): string {
  if (total === undefined || total <= 0) return size4(current).padStart(8);
  let bar = '';
  if (withBar) {
    // docker/pkg/jsonmessage: one '=' per 2 %, then '>', padded to 50 cells.
    const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
    bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  }
  return `${bar}${size4(current).padStart(8)}/${size4(total)}`;
}

export interface Output {
  write(s: string): void;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Renders progress events. On a terminal each id owns one line rewritten in place (Docker's
 * cursor movements); otherwise only lines without a progress bar are printed.
 */
export class ProgressRenderer {
  private readonly lines: string[] = []; // ids in order of first appearance
  private readonly text = new Map<string, string>();

  constructor(private readonly out: Output) {}

  handle(e: ProgressEvent): void {
    if (e.kind === 'message') {
      if (e.id !== undefined) this.setLine(e.id, `${e.id}: ${e.text}`, false);
      else this.out.write(`${e.text}\n`);
      return;
    }
    const status = LAYER_STATUS[e.action];
    const hasProgress = (e.action === 'downloading' || e.action === 'extracting' || e.action === 'pushing' || e.action === 'loading') && e.current !== undefined;
    if (hasProgress) {
      if (!this.out.isTTY) return;
      const withBar = (this.out.columns ?? 80) > 110;
      this.setLine(e.id, `${e.id}: ${status} ${progressText(e.current!, e.total, withBar)}`, true);
      return;
    }
    this.setLine(e.id, `${e.id}: ${status}`, false);
  }

  private setLine(id: string, line: string, progress: boolean): void {
    if (!this.out.isTTY) {
      if (!progress) this.out.write(`${line}\n`);
      return;
    }
    let idx = this.lines.indexOf(id);
    if (idx < 0) {
      this.lines.push(id);
      this.text.set(id, line);
      this.out.write(`${line}\n`);
      return;
    }
    this.text.set(id, line);
    const up = this.lines.length - idx;
    // Up to the line, clear it, write, and come back down (docker/pkg/jsonmessage).
    this.out.write(`\x1b[${up}A\x1b[2K\r${line}\r\x1b[${up}B`);
  }
}
