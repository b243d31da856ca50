// Download speed and time left for the progress bar, and the downloads a reload interrupted (the storage
// layer keeps every complete chunk, so `downloadModel` of the same repo resumes where it stopped).
import { idbStore, storeKeys, type FileRecord, type ModelRecord } from '../../src/storage/chunkStore.js';
import { formatBytes } from './format.js';

/** Bytes per second over the last few seconds, and the time left at that speed. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 4000) {}

  /** Records the running total; returns the speed (bytes/s, undefined until two samples). */
  add(bytes: number, now = performance.now()): number | undefined {
    this.samples.push({ t: now, bytes });
    while (this.samples.length > 2 && now - this.samples[0]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    return dt > 0.2 && bytes > first.bytes ? (bytes - first.bytes) / dt : undefined;
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** "1.2 GB / 3.5 GB (34%) · 25.0 MB/s · 1 min 32 s left" */
export function progressLine(done: number, total: number, speed: number | undefined): string {
  const pct = total ? Math.floor((100 * done) / total) : 100;
  const parts = [`${formatBytes(done)} / ${formatBytes(total)} (${pct}%)`];
  if (speed) parts.push(`${formatBytes(speed)}/s`, `${formatDuration((total - done) / speed)} left`);
  return parts.join(' · ');
}

export interface PartialDownload {
  readonly repo: string;
  readonly revision: string;
  readonly baseUrl: string;
  readonly stored: number;
  readonly total: number;
}

/** Models whose download started and did not finish (complete chunks kept: a new download resumes). */
export async function partialDownloads(): Promise<PartialDownload[]> {
  const store = idbStore();
  const keys = await store.keys();
  const out: PartialDownload[] = [];
  for (const k of keys.filter(storeKeys.isModel)) {
    const m = await store.get<ModelRecord>(k);
    if (!m || m.complete) continue;
    let stored = 0;
    for (const f of m.files) {
      const rec = await store.get<FileRecord>(storeKeys.file(m.id, f.path));
      if (rec) stored += rec.verified ? rec.size : Math.min(rec.size, rec.chunks * rec.chunkSize);
    }
    out.push({ repo: m.repo, revision: m.revision, baseUrl: m.baseUrl, stored, total: m.files.reduce((a, f) => a + f.size, 0) });
  }
  return out;
}
