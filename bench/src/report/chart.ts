/**
 * The results chart: a vega-lite spec compiled to vega and rendered to SVG
 * headless (`renderer: 'none'`, no browser, no canvas).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchResults } from './results.js';
import type { Impl } from '../harness/types.js';
import { benchTransports } from '../harness/transports.js';

const IMPL_LABEL: Record<Impl, string> = {
  socketkit: 'socketkit',
  'raw-write': 'raw per-write',
  'raw-batched': 'raw ceiling (64 KiB writes)',
  zeromq: 'zeromq.js',
  python: 'Python peer',
  'nats-raw': 'nats.js',
};
const IMPL_ORDER = Object.values(IMPL_LABEL);
const IMPL_COLORS = ['#4c78a8', '#bab0ac', '#72b7b2', '#f58518', '#54a24b', '#b279a2'];
// The order of the transport axis: the registry's.
const TRANSPORTS = benchTransports();
const LOADED = 'with 1 stopped client';

const THROUGHPUT: Record<string, { key: string; unit: string; label: string }> = {
  'broadcast-1': { key: 'msgsPerSec', unit: 'msg/s', label: '1 · broadcast, 1 client' },
  'fanout-10': { key: 'totalMsgsPerSec', unit: 'msg/s', label: '2 · fan-out, 10 clients (total)' },
  'large-64k': { key: 'MBps', unit: 'MB/s', label: '3 · 64 KiB messages' },
  'ingress-8': { key: 'msgsPerSec', unit: 'msg/s', label: '5 · ingress, 8 writers' },
};

function colorScale(): Record<string, unknown> {
  return { domain: IMPL_ORDER, range: IMPL_COLORS };
}

/** Builds the vega-lite spec of the chart from the results. */
export function chartSpec(results: BenchResults): TopLevelSpec {
  const thr: Array<Record<string, unknown>> = [];
  const lat: Array<Record<string, unknown>> = [];
  for (const s of results.scenarios) {
    if (!s.ok) continue;
    for (const impl of Object.keys(s.metrics) as Impl[]) {
      const m = s.metrics[impl]!;
      const t = THROUGHPUT[s.id];
      if (t !== undefined)
        thr.push({
          scenario: `${t.label} — ${t.unit}`,
          transport: s.transport,
          impl: IMPL_LABEL[impl],
          value: m[t.key],
        });
      if (s.id === 'reqrep') {
        for (const [p, key] of [
          ['p50', 'p50Us'],
          ['p99', 'p99Us'],
          ['mean', 'meanUs'],
        ] as const)
          lat.push({ transport: s.transport, percentile: p, impl: IMPL_LABEL[impl], value: m[key] });
      }
    }
  }
  const slowFast: Array<Record<string, unknown>> = [];
  const slowRss: Array<Record<string, unknown>> = [];
  for (const s of results.slowConsumer) {
    if (!s.ok) continue;
    slowFast.push(
      { transport: s.transport, run: 'unloaded', value: s.unloadedMBps },
      { transport: s.transport, run: LOADED, value: s.loadedMBps },
    );
    slowRss.push(
      { transport: s.transport, run: 'unloaded', value: s.rssGrowthMiBUnloaded },
      { transport: s.transport, run: LOADED, value: s.rssGrowthMiBLoaded },
    );
  }
  const barWithLabels = (
    yTitle: string,
    format: string,
    x: string,
    xTitle: string | null,
    xSort: string[],
  ): Record<string, unknown> => ({
    width: { step: 22 },
    height: 200,
    encoding: {
      x: { field: x, type: 'nominal', title: xTitle, axis: { labelAngle: 0 }, sort: xSort },
      xOffset: { field: 'impl', sort: IMPL_ORDER },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        axis: { labelExpr: "datum.value >= 10000 ? format(datum.value, '~s') : format(datum.value, ',~r')" },
      },
      color: { field: 'impl', type: 'nominal', title: null, scale: colorScale(), sort: IMPL_ORDER },
    },
    layer: [
      { mark: { type: 'bar' } },
      {
        mark: { type: 'text', angle: 270, align: 'left', dx: 3, fontSize: 9, color: '#333' },
        encoding: { text: { field: 'value', type: 'quantitative', format } },
      },
    ],
  });
  const SCAL_PANELS = [
    'delivered msg/s ↑',
    'CPU µs / delivered msg ↓',
    'server bytes / delivered msg',
    'connects/s ↑',
    'server RSS KiB / idle client ↓',
  ] as const;
  const scal: Array<Record<string, unknown>> = [];
  const scalFail: Array<Record<string, unknown>> = [];
  for (const p of results.scaling ?? []) {
    const series = `${IMPL_LABEL[p.impl]} · ${p.transport}`;
    if (!p.ok) {
      scalFail.push({
        series,
        clients: p.clients,
        text: `${p.transport} ${p.clients}: failed (${p.connected} connected)`,
      });
      continue;
    }
    for (const [panel, value] of [
      [SCAL_PANELS[0], p.deliveredPerSec],
      [SCAL_PANELS[1], p.cpuUsPerMsg],
      [SCAL_PANELS[2], p.bytesPerMsg],
      [SCAL_PANELS[3], p.connectsPerSec],
      // Below 100 clients the RSS delta is allocator granularity, not per-client cost.
      [SCAL_PANELS[4], p.clients >= 100 ? p.rssPerClient / 1024 : NaN],
    ] as const) {
      if (Number.isFinite(value))
        scal.push({ panel, series, impl: IMPL_LABEL[p.impl], transport: p.transport, clients: p.clients, value });
    }
  }
  const scalingSpec =
    scal.length + scalFail.length === 0
      ? []
      : [
          {
            title: {
              text:
                '7 · scaling: fan-out of 100 B messages to 1 … 1,000 clients (log ' +
                `x)${scalFail.length > 0 ? ` — FAILED: ${scalFail.map((f) => f.text).join('; ')}` : ''}`,
              anchor: 'start',
              fontSize: 13,
            },
            data: { values: scal },
            facet: {
              column: { field: 'panel', title: null, sort: SCAL_PANELS, header: { labelFontSize: 11, labelLimit: 0 } },
            },
            spec: {
              width: 200,
              height: 170,
              mark: { type: 'line', point: true },
              encoding: {
                x: {
                  field: 'clients',
                  type: 'quantitative',
                  scale: { type: 'log', domain: [1, 1000] },
                  title: 'clients',
                  axis: { values: [1, 10, 100, 1000] },
                },
                y: {
                  field: 'value',
                  type: 'quantitative',
                  title: null,
                  axis: { labelExpr: "datum.value >= 10000 ? format(datum.value, '~s') : format(datum.value, ',~r')" },
                },
                color: { field: 'impl', type: 'nominal', title: null, scale: colorScale(), sort: IMPL_ORDER },
                strokeDash: { field: 'transport', type: 'nominal', title: 'transport', sort: ['unix', 'tcp'] },
                detail: { field: 'series', type: 'nominal' },
              },
            },
            resolve: { scale: { y: 'independent' } },
          },
        ];
  const m = results.meta;
  const viaNats = results.scenarios.some((s) => s.ok && s.transport === 'nats');
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text:
        'socketkit vs raw node:net, zeromq.js, a Python ' +
        `peer${viaNats ? ' and nats.js (through a local nats-server)' : ''} ` +
        `— ${m.mode} run, median of ${m.reps}`,
      subtitle: `${m.startedAt.slice(0, 10)} · Node ${m.node} · ${m.cpus} × ${m.cpuModel}`,
      anchor: 'start',
    },
    config: {
      view: { stroke: null },
      axis: { grid: true, gridColor: '#eee' },
      legend: { orient: 'top', labelLimit: 300 },
      font: 'Helvetica, Arial, sans-serif',
    },
    vconcat: [
      {
        title: { text: 'Throughput (higher is better)', anchor: 'start', fontSize: 13 },
        data: { values: thr },
        facet: {
          column: {
            field: 'scenario',
            title: null,
            sort: Object.values(THROUGHPUT).map((t) => `${t.label} — ${t.unit}`),
            header: { labelFontSize: 11 },
          },
        },
        spec: barWithLabels('throughput', '.3s', 'transport', null, TRANSPORTS),
        // x independent: scenarios 3 and 5 do not run over nats, so they get no empty nats slot.
        resolve: { scale: { y: 'independent', x: 'independent' } },
      },
      {
        hconcat: [
          {
            title: { text: '4 · request/reply round trip, µs (lower is better)', anchor: 'start', fontSize: 13 },
            data: { values: lat },
            facet: { column: { field: 'transport', title: null, sort: TRANSPORTS, header: { labelFontSize: 11 } } },
            spec: barWithLabels('µs', '.3~r', 'percentile', null, ['p50', 'p99', 'mean']),
            resolve: { scale: { y: 'shared' } },
          },
          {
            title: { text: '6 · slow consumer: fast client MB/s', anchor: 'start', fontSize: 13 },
            data: { values: slowFast },
            width: { step: 28 },
            height: 200,
            encoding: {
              x: { field: 'transport', type: 'nominal', title: null, axis: { labelAngle: 0 }, sort: TRANSPORTS },
              xOffset: { field: 'run' },
              y: { field: 'value', type: 'quantitative', title: 'MB/s' },
              color: { field: 'run', type: 'nominal', title: null, scale: { range: ['#4c78a8', '#f58518'] } },
            },
            layer: [
              { mark: 'bar' },
              {
                mark: { type: 'text', angle: 270, align: 'left', dx: 3, fontSize: 9 },
                encoding: { text: { field: 'value', type: 'quantitative', format: '.0f' } },
              },
            ],
          },
          {
            title: { text: '6 · server RSS growth, MiB (limit 64)', anchor: 'start', fontSize: 13 },
            width: { step: 28 },
            height: 200,
            layer: [
              {
                data: { values: slowRss },
                encoding: {
                  x: { field: 'transport', type: 'nominal', title: null, axis: { labelAngle: 0 }, sort: TRANSPORTS },
                  xOffset: { field: 'run' },
                  y: { field: 'value', type: 'quantitative', title: 'MiB', scale: { domainMax: 70 } },
                  color: { field: 'run', type: 'nominal', title: null, scale: { range: ['#4c78a8', '#f58518'] } },
                },
                layer: [
                  { mark: 'bar' },
                  {
                    mark: { type: 'text', angle: 270, align: 'left', dx: 3, fontSize: 9 },
                    encoding: { text: { field: 'value', type: 'quantitative', format: '.1f' } },
                  },
                ],
              },
              {
                data: { values: [{ limit: 64 }] },
                mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] },
                encoding: { y: { field: 'limit', type: 'quantitative' } },
              },
            ],
          },
        ],
        resolve: { scale: { color: 'independent' } },
      },
      ...scalingSpec,
    ],
    resolve: { scale: { color: 'independent' } },
  };
  return spec as unknown as TopLevelSpec;
}

/** Renders the chart of `results` to an SVG string (vega-lite → vega → SVG, headless). */
export async function renderChartSvg(results: BenchResults): Promise<string> {
  // vega-lite warns about facets with independent scales on every render; the chart is as intended.
  const vgSpec = compile(chartSpec(results), { logger: vega.logger(vega.Error) }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
