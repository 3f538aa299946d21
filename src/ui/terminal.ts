import type cliProgress from 'cli-progress';

/**
 * stderr on a terminal, shared by log lines and progress bars: while bars are drawn, lines go above
 * them through the bars (writing past them would tear the redraw).
 */
let bars: cliProgress.MultiBar | null = null;

export const terminal = {
  write(text: string): void {
    if (bars) bars.log(text.endsWith('\n') ? text : `${text}\n`);
    else process.stderr.write(text);
  },
  attach(multiBar: cliProgress.MultiBar): void {
    bars = multiBar;
  },
  detach(): void {
    bars = null;
  },
};
