// A small live chart (uPlot): the last few minutes of one number, no axes.
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { HISTORY_SECONDS, METRICS_INTERVAL_MS } from "../store.js";

interface Props {
  t: number[];
  values: (number | null)[];
  /** A CSS colour for the line. */
  stroke: string;
  /** Read out instead of the picture. */
  label: string;
  /** The y axis reaches at least this far (so an idle process draws a flat line at the bottom). */
  floor: number;
}

const WIDTH = 96;
const MIN_WINDOW_SECONDS = (2 * METRICS_INTERVAL_MS) / 1000;

function xRange(t: ArrayLike<number>): [number, number] {
  const last = t.length > 0 ? t[t.length - 1]! : Date.now() / 1000;
  const first = t.length > 0 ? t[0]! : last;
  return [last - Math.min(HISTORY_SECONDS, Math.max(MIN_WINDOW_SECONDS, last - first)), last];
}
const HEIGHT = 24;

export function Sparkline({ t, values, stroke, label, floor }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const options: uPlot.Options = {
      width: WIDTH,
      height: HEIGHT,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      padding: [2, 1, 2, 1],
      axes: [{ show: false }, { show: false }],
      scales: {
        // The window grows with the history the page has, up to HISTORY_SECONDS, so a fresh page draws a line too.
        x: { time: false, range: (u) => xRange(u.data[0]) },
        y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, floor) * 1.1] },
      },
      series: [{}, { stroke, fill: `${stroke}22`, width: 1.5, points: { show: false }, spanGaps: false }],
    };
    plot.current = new uPlot(options, [t, values], box.current!);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([t, values]);
  }, [t, values]);

  return <div class="spark" ref={box} role="img" aria-label={label} />;
}
