// The same-run table of bench/vsLlamacpp.ts: medians over rounds per engine, and weblm / llama.cpp ratios.
import { median } from '../src/node/bench.js';

export interface VsRecord {
  readonly date: string;
  readonly gpu: string;
  readonly weblm_commit: string;
  readonly shape: string;
  readonly type: string;
  readonly engine: 'weblm' | 'llama.cpp';
  readonly round: number;
  readonly report: unknown;
  /** The process's GPU memory sampled while it ran (bench/gpuMemorySampler.ts); absent in older records, null figures without nvidia-smi. */
  readonly memory?: { readonly peak_load_mib: number | null; readonly peak_mib: number | null; readonly samples: number };
}

interface Report {
  readonly load_s: number;
  readonly gpu_process_bytes: number | null;
  /** weblm's own count of its GPU buffers: weights, KV cache and activations. */
  readonly gpu_memory_bytes?: number;
  readonly prefill: { readonly tokens: number; readonly tps: number };
  readonly decode: readonly { readonly context: number; readonly tps: number; readonly fill_ttft_ms?: number }[];
}

interface Figures {
  prefill: number;
  decode: Map<number, number>;
  /** Time to first token of the prompt that filled the cache to each context (absent in older records). */
  fillTtft: Map<number, number>;
  mib: number | null;
  /** Peak process GPU MiB during the load (sampled), and weblm's weights + caches in MiB. */
  peakLoad: number | null;
  ownMib: number | null;
  load: number;
  runs: number;
  prefillTokens: number;
}

const ok = (r: unknown): r is Report => typeof r === 'object' && r !== null && 'prefill' in r && 'decode' in r;

/** Medians of one engine's runs on one model; undefined when none succeeded. */
function figures(records: readonly VsRecord[]): Figures | undefined {
  const reports = records.map((r) => r.report).filter(ok);
  if (reports.length === 0) return undefined;
  const peaks = records.filter((r) => ok(r.report)).flatMap((r) => (typeof r.memory?.peak_load_mib === 'number' ? [r.memory.peak_load_mib] : []));
  const own = reports.flatMap((r) => (typeof r.gpu_memory_bytes === 'number' ? [r.gpu_memory_bytes] : []));
  const contexts = [...new Set(reports.flatMap((r) => r.decode.map((d) => d.context)))];
  const mibs = reports.map((r) => r.gpu_process_bytes).filter((b): b is number => b !== null);
  return {
    prefill: median(reports.map((r) => r.prefill.tps)),
    decode: new Map(contexts.map((c) => [c, median(reports.map((r) => r.decode.find((d) => d.context === c)?.tps ?? 0))])),
    fillTtft: new Map(
      contexts.flatMap((c) => {
        const t = reports.map((r) => r.decode.find((d) => d.context === c)?.fill_ttft_ms).filter((x): x is number => x !== undefined);
        return t.length ? [[c, median(t)] as [number, number]] : [];
      }),
    ),
    mib: mibs.length ? Math.round(median(mibs) / 2 ** 20) : null,
    peakLoad: peaks.length ? Math.round(median(peaks)) : null,
    ownMib: own.length ? Math.round(median(own) / 2 ** 20) : null,
    load: median(reports.map((r) => r.load_s)),
    runs: reports.length,
    prefillTokens: reports[0]!.prefill.tokens,
  };
}

/** Models in the order they were run, each with both engines' figures. */
function byModel(records: readonly VsRecord[]) {
  const keys = [...new Set(records.map((r) => `${r.shape}:${r.type}`))];
  return keys.map((key) => {
    const mine = records.filter((r) => `${r.shape}:${r.type}` === key);
    return {
      key,
      weblm: figures(mine.filter((r) => r.engine === 'weblm')),
      llama: figures(mine.filter((r) => r.engine === 'llama.cpp')),
      failed: mine.filter((r) => !ok(r.report)),
    };
  });
}

const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: x < 10 ? 1 : 0 });
const ratio = (w: number | undefined, l: number | undefined) => (w && l ? `${(w / l).toFixed(2)}x` : '-');

export function renderTable(records: readonly VsRecord[]): string {
  const models = byModel(records);
  const contexts = [...new Set(models.flatMap((m) => [...(m.weblm?.decode.keys() ?? []), ...(m.llama?.decode.keys() ?? [])]))].sort((x, y) => x - y);
  const first = records[0];
  const tokens = models.find((m) => m.weblm)?.weblm?.prefillTokens ?? 512;
  // Time to first token of the longest context's prompt, where the records have it (lower is better).
  const longest = contexts.at(-1);
  const ttft = longest !== undefined && models.some((m) => m.weblm?.fillTtft.has(longest));
  const head = [
    `GGUF (random weights, real shape)`,
    `prefill ${tokens} tok/s weblm / llama.cpp`,
    ...contexts.map((c) => `decode ctx ${c}`),
    ...(ttft ? [`TTFT of a ${longest}-token prompt, ms`] : []),
    'GPU MiB after the run (nvidia-smi)',
    'peak MiB during load',
    "weblm's weights + caches MiB",
    'load s',
    'runs',
  ];
  const lines = [
    `Same-run comparison on ${first?.gpu ?? '?'}, ${first?.date.slice(0, 10) ?? '?'}, weblm ${first?.weblm_commit ?? '?'} (tok/s, medians; ratio weblm / llama.cpp)`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
  ];
  for (const m of models) {
    const w = m.weblm;
    const l = m.llama;
    const pair = (x: number | undefined, y: number | undefined) => `${x !== undefined ? n(x) : '-'} / ${y !== undefined ? n(y) : '-'} (${ratio(x, y)})`;
    lines.push(
      `| ${m.key} | ${pair(w?.prefill, l?.prefill)} | ${contexts.map((c) => pair(w?.decode.get(c), l?.decode.get(c))).join(' | ')} |${ttft ? ` ${pair(w?.fillTtft.get(longest!), l?.fillTtft.get(longest!))} |` : ''} ${w?.mib ?? '-'} / ${l?.mib ?? '-'} | ${w?.peakLoad ?? 'n/a'} / ${l?.peakLoad ?? 'n/a'} | ${w?.ownMib ?? '-'} | ${w ? n(w.load) : '-'} / ${l ? n(l.load) : '-'} | ${w?.runs ?? 0} / ${l?.runs ?? 0} |`,
    );
  }
  const failures = models.flatMap((m) =>
    m.failed.map((r) => `- ${m.key} ${r.engine} round ${r.round + 1}: ${(r.report as { error?: string }).error ?? 'no report'}`),
  );
  if (failures.length) lines.push('', 'Failed runs:', ...failures);
  return lines.join('\n') + '\n';
}

/** Grouped bars of the ratios (prefill, decode at each context) per model, with the 1.0 line. */
export function renderSvg(records: readonly VsRecord[]): string {
  const models = byModel(records).filter((m) => m.weblm && m.llama);
  const contexts = [...new Set(models.flatMap((m) => [...m.weblm!.decode.keys()]))].sort((x, y) => x - y);
  const series = ['prefill', ...contexts.map((c) => `decode ctx ${c}`)];
  const colors = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2'];
  const value = (m: (typeof models)[number], s: number) =>
    s === 0 ? m.weblm!.prefill / m.llama!.prefill : (m.weblm!.decode.get(contexts[s - 1]!) ?? 0) / (m.llama!.decode.get(contexts[s - 1]!) || 1);
  const max = Math.max(1.2, ...models.flatMap((m) => series.map((_, s) => value(m, s))));
  const [W, H, left, top, bottom] = [Math.max(480, 70 + models.length * (series.length * 22 + 30)), 360, 50, 30, 110];
  const y = (v: number) => top + (H - top - bottom) * (1 - v / max);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(
    `<text x="${left}" y="16" font-size="13">weblm / llama.cpp, same GGUF, same run (${records[0]?.gpu ?? ''}, ${records[0]?.date.slice(0, 10) ?? ''})</text>`,
  );
  for (let t = 0; t <= max + 1e-9; t += max > 3 ? 1 : 0.5) {
    parts.push(
      `<line x1="${left}" x2="${W - 10}" y1="${y(t)}" y2="${y(t)}" stroke="${t === 1 ? '#000' : '#ddd'}"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(1)}x</text>`,
    );
  }
  models.forEach((m, i) => {
    const x0 = left + 20 + i * (series.length * 22 + 30);
    series.forEach((_, s) => {
      const v = value(m, s);
      parts.push(
        `<rect x="${x0 + s * 22}" y="${y(v)}" width="18" height="${y(0) - y(v)}" fill="${colors[s % colors.length]}"><title>${m.key} ${series[s]}: ${v.toFixed(2)}x</title></rect>`,
      );
    });
    parts.push(`<text x="${x0}" y="${H - bottom + 16}" transform="rotate(20 ${x0} ${H - bottom + 16})">${m.key}</text>`);
  });
  series.forEach((s, k) =>
    parts.push(
      `<rect x="${left + k * 120}" y="${H - 18}" width="10" height="10" fill="${colors[k % colors.length]}"/><text x="${left + k * 120 + 14}" y="${H - 9}">${s}</text>`,
    ),
  );
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
