declare module 'parse-prometheus-text-format' {
  /** One parsed metric family. */
  export interface MetricFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'HISTOGRAM' | 'UNTYPED';
    metrics: Array<{ value: string; labels?: Record<string, string> }>;
  }
  /** Parses Prometheus text exposition format. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
