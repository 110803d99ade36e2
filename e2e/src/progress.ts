// What the sandbox is waiting for, as it happens: on a terminal, a live line per running
// step (spinner and seconds) under the lines already printed; elsewhere, plain lines.

/** Runs named steps; what a caller of startStack() passes to see them. */
export interface Steps {
  step<T>(title: string, run: () => Promise<T>): Promise<T>;
}

/** Steps nobody watches. */
export const silentSteps: Steps = { step: (_title, run) => run() };

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Running {
  title: string;
  started: number;
}

export class Progress implements Steps {
  private readonly steps = new Set<Running>();
  /** Live lines drawn at the bottom, to be erased before the next output. */
  private drawn = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  /** After close(): steps still running end silently. */
  private closed = false;
  private readonly out: NodeJS.WriteStream;
  /** Redraw running steps in place (a terminal), or print plain lines (a pipe, a file). */
  private readonly live: boolean;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.out = out;
    this.live = !!out.isTTY && process.env.TERM !== 'dumb';
  }

  async step<T>(title: string, run: () => Promise<T>): Promise<T> {
    const r: Running = { title, started: performance.now() };
    if (this.closed) return run();
    this.steps.add(r);
    if (this.live) this.timer ??= setInterval(() => this.redraw(), 100);
    else this.print(`… ${title}`);
    this.redraw();
    try {
      const value = await run();
      this.finish(r, `✔ ${title} (${seconds(performance.now() - r.started)})`);
      return value;
    } catch (err) {
      this.finish(r, `✖ ${title} (${seconds(performance.now() - r.started)})`);
      throw err;
    }
  }

  /** Prints a line above the live steps. */
  log(line: string): void {
    this.print(line);
  }

  /** The titles of the steps under way. */
  running(): string[] {
    return [...this.steps].map((r) => r.title);
  }

  /** Stops the display; steps still running end without a line, log() still prints. */
  close(): void {
    this.closed = true;
    this.steps.clear();
    this.stopRedrawing();
  }

  private stopRedrawing(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private finish(r: Running, line: string): void {
    if (!this.steps.delete(r)) return;
    if (!this.steps.size) this.stopRedrawing();
    if (!this.closed) this.print(line);
  }

  private print(line: string): void {
    this.erase();
    this.out.write(`${line}\n`);
    this.draw();
  }

  private redraw(): void {
    this.frame++;
    this.erase();
    this.draw();
  }

  private erase(): void {
    if (!this.live || !this.drawn) return;
    // Up to the first live line, then clear to the end of the screen.
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.live) return;
    const spin = SPINNER[this.frame % SPINNER.length];
    const now = performance.now();
    // A wrapped line would throw the count of lines to erase off.
    const width = Math.max(20, (this.out.columns || 80) - 1);
    for (const r of this.steps) {
      this.out.write(
        `${`${spin} ${seconds(now - r.started).padStart(6)}  ${r.title}`.slice(0, width)}\n`,
      );
    }
    this.drawn = this.steps.size;
  }
}
