// The playground's actions with an example payload each (the handlers' documented
// examples: docs/reports.md, docs/process_data.md, docs/protocol.md).
export const ACTIONS = {
  generate_report: {
    start_date: '2024-01-01', end_date: '2024-03-31', format: 'csv',
    report_type: 'monthly', include_charts: false,
    filters: { category: 'electronics', region: 'north-america' },
  },
  process_data: {
    pipeline: 'classification',
    data_source: { type: 'file', path: '/data/input.csv' },
    output: { format: 'parquet', destination: '/results/' },
    options: { target: 'label', test_fraction: 0.2, seed: 42 },
  },
  stream_append: { stream_id: 'sensor-1', records: [{ t: 1, temp: 20.5 }, { t: 2, temp: 21.0 }] },
  delay: { duration_ms: 5000, steps: 10 },
  echo: { hello: 'world' },
  health: {},
};

export const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
