// A chart of one number over the recent past (uPlot): time and value axes, the
// current value in the title, and a limit line where there is one (the memory
// limit). As wide as its box, redrawn as samples come.
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { clock } from "../format.js";

interface Props {
  title: string;
  t: number[];
  values: (number | null)[];
  stroke: string;
  /** Axis ticks and the current value as people read them. */
  format(value: number | null): string;
  /** A horizontal line (the memory limit), with its name. */
  limit?: { value: number; label: string };
  /** The y axis reaches at least this far. */
  floor: number;
  /** How far back the x axis reaches, at most. */
  windowSeconds: number;
}

const HEIGHT = 150;

export function MetricChart({ title, t, values, stroke, format, limit, floor, windowSeconds }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const limitValue = limit?.value ?? null;
  const data = (): uPlot.AlignedData => [t, values, t.map(() => limitValue)];

  useEffect(() => {
    const el = box.current!;
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      padding: [8, 28, 0, 0],
      scales: {
        x: {
          time: true,
          range: (u) => {
            const xs = u.data[0];
            const last = xs.length > 0 ? xs[xs.length - 1]! : Date.now() / 1000;
            const first = xs.length > 0 ? xs[0]! : last - 60;
            // At least a minute (readable ticks on a fresh page), at most the window.
            return [last - Math.min(windowSeconds, Math.max(60, last - first)), last];
          },
        },
        y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, limitValue ?? 0, floor) * 1.1] },
      },
      axes: [
        {
          stroke: "#5c6573",
          space: 70,
          grid: { stroke: "#dde1e744" },
          ticks: { stroke: "#dde1e7" },
          // One line of local clock time per tick (uPlot's default adds a second, date line that crowds a narrow chart).
          values: (_u, splits) => splits.map((v) => clock(v * 1000).slice(0, 8)),
        },
        {
          stroke: "#5c6573",
          size: 70,
          grid: { stroke: "#dde1e7" },
          ticks: { stroke: "#dde1e7" },
          values: (_u, splits) => splits.map((v) => format(v)),
        },
      ],
      series: [
        {},
        { label: title, stroke, fill: `${stroke}22`, width: 1.5, points: { show: false }, spanGaps: false },
        { label: limit?.label ?? "limit", stroke: "#b34700", width: 1.5, dash: [6, 4], points: { show: false }, show: limitValue !== null },
      ],
    };
    plot.current = new uPlot(options, data(), el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [limitValue === null]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [t, values, limitValue]);

  const current = [...values].reverse().find((v) => v !== null) ?? null;
  return (
    <figure class="chart" data-chart={title}>
      <figcaption>
        <span class="chart-title">{title}</span>{" "}
        <strong class="chart-value" data-chart-value>
          {format(current)}
        </strong>
        {limit && (
          <span class="chart-limit">
            {" "}
            of {format(limit.value)} {limit.label}
          </span>
        )}
      </figcaption>
      <div
        class="chart-plot"
        ref={box}
        role="img"
        aria-label={`${title} over the last ${Math.round(windowSeconds / 60)} minutes: now ${format(current)}`}
      />
    </figure>
  );
}
