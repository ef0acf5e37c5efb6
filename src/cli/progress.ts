/** Progress on long work: a bar on a terminal, plain periodic lines otherwise (logs, CI). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, fields: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, quiet: boolean): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {value}/{total} {info}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      update(value, fields) {
        bar.update(value, {
          info: Object.entries(fields)
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
        });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let lastPct = -1;
  return {
    update(value, fields) {
      const pct = Math.floor((100 * value) / Math.max(1, total));
      if (pct === lastPct && value !== total) return;
      lastPct = pct;
      process.stderr.write(
        `${label} ${value}/${total} ${Object.entries(fields)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}\n`,
      );
    },
    stop() {},
  };
}
