/** The last minutes, a point a second, drawn with uPlot: throughput, latency, fsync, lag. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { ChartPoint } from '../view-types.js';

interface Series {
  readonly label: string;
  readonly colour: string;
  readonly values: readonly (number | null)[];
}

interface ChartProps {
  readonly title: string;
  readonly unit: string;
  readonly times: readonly number[];
  readonly series: readonly Series[];
  readonly testId: string;
}

/** One line of time under the x axis (uPlot's default adds a date line that collides). */
const clockLabel = uPlot.fmtDate('{HH}:{mm}:{ss}');

const palette = ['#58a6ff', '#f0883e', '#3fb950', '#bc8cff', '#f85149', '#d29922'];

function Chart({ title, unit, times, series, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 170,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // At least a minute wide: one point alone would be spread over years.
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const end = Number.isFinite(max) ? max : Date.now() / 1000;
            return [Math.min(Number.isFinite(min) ? min : end, end - 60), end];
          },
        },
        y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1)] },
      },
      axes: [
        {
          stroke: '#8b949e',
          grid: { stroke: '#30363d' },
          ticks: { stroke: '#30363d' },
          values: (_u, splits) => splits.map((s) => clockLabel(new Date(s * 1000))),
        },
        {
          stroke: '#8b949e',
          grid: { stroke: '#30363d' },
          ticks: { stroke: '#30363d' },
          size: 56,
          values: (_u, vals) => vals.map((v) => `${v}${unit}`),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 1.5, spanGaps: false })),
      ],
    };
    const u = new uPlot(options, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() =>
      u.setSize({ width: Math.max(200, el.clientWidth), height: 170 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, unit]);

  useEffect(() => {
    const data = [times.map((t) => t / 1000), ...series.map((s) => [...s.values])];
    plot.current?.setData(data as uPlot.AlignedData);
  });

  return (
    <div class="chart" data-testid={testId}>
      <h3>{title}</h3>
      <div ref={box} />
    </div>
  );
}

export function Charts({ points }: { readonly points: readonly ChartPoint[] }) {
  const times = points.map((p) => p.t);
  const followers = [...new Set(points.flatMap((p) => Object.keys(p.lag)))].sort();
  return (
    <div class="charts">
      <Chart
        testId="chart-throughput"
        title="requests per second"
        unit=""
        times={times}
        series={[
          { label: 'writes', colour: palette[0] as string, values: points.map((p) => p.writes) },
          { label: 'reads', colour: palette[1] as string, values: points.map((p) => p.reads) },
        ]}
      />
      <Chart
        testId="chart-latency"
        title="request latency (ms)"
        unit=""
        times={times}
        series={[
          {
            label: 'write p50',
            colour: palette[0] as string,
            values: points.map((p) => p.writeP50),
          },
          {
            label: 'write p99',
            colour: palette[4] as string,
            values: points.map((p) => p.writeP99),
          },
          { label: 'read p50', colour: palette[1] as string, values: points.map((p) => p.readP50) },
          { label: 'read p99', colour: palette[5] as string, values: points.map((p) => p.readP99) },
        ]}
      />
      <Chart
        testId="chart-fsync"
        title="fsync latency (ms)"
        unit=""
        times={times}
        series={[
          { label: 'p50', colour: palette[2] as string, values: points.map((p) => p.fsyncP50) },
          { label: 'p99', colour: palette[3] as string, values: points.map((p) => p.fsyncP99) },
        ]}
      />
      <Chart
        testId="chart-lag"
        title="commit lag per follower (entries)"
        unit=""
        times={times}
        series={followers.map((id, i) => ({
          label: id,
          colour: palette[i % palette.length] as string,
          values: points.map((p) => p.lag[id] ?? null),
        }))}
      />
    </div>
  );
}
