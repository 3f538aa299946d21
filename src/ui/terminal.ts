import type cliProgress from 'cli-progress';

/**
 * stderr on a terminal, shared by log lines and progress bars: while bars are drawn, lines go above
 * them through the bars (writing past them would tear the redraw). Only while they are drawn:
 * MultiBar.log holds a line until the next redraw, and a MultiBar with no bar yet (a run that does
 * not snapshot) or a stopped one never redraws, so a line given to it then would never show.
 */
let bars: cliProgress.MultiBar | null = null;

export const terminal = {
  write(text: string): void {
    if (bars?.isActive) bars.log(text.endsWith('\n') ? text : `${text}\n`);
    else process.stderr.write(text);
  },
  attach(multiBar: cliProgress.MultiBar): void {
    bars = multiBar;
  },
  /** Stops the bars, drawing them a last time with the lines they still hold above them. */
  detach(): void {
    // MultiBar.stop draws the bars but drops the lines it holds; update() writes them first. A
    // MultiBar that never drew a bar has nothing to stop (its stop would print an empty line).
    if (bars?.isActive) {
      bars.update();
      bars.stop();
    }
    bars = null;
  },
};
