// Small formatting helpers: byte counts, durations, and how a typed weblm error is explained to a user.

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** What to tell the user for each error, by the stable `name` of weblm's typed errors. */
const HINTS: Record<string, string> = {
  WebGPUUnavailableError: 'This browser or device has no usable WebGPU. Try a recent Chrome or Edge (on Linux: --enable-unsafe-webgpu).',
  DeviceLostError: 'The GPU device was lost (driver reset or out of memory). Reload the model.',
  GpuOutOfMemoryError: 'The GPU ran out of memory. Try a smaller model, or a quantized dtype.',
  ShaderError: 'A GPU shader failed to compile on this device.',
  UnsupportedModelError: 'This architecture is not supported by weblm yet.',
  InvalidModelError: 'The model files are incomplete or inconsistent.',
  ModelNotFoundError: 'The model or one of its files was not found. Check the repo id, URL or folder.',
  NetworkError: 'A download failed. Check the connection (and CORS/Range support of the server), then retry: downloads resume.',
  StorageQuotaError: 'Browser storage is full. Delete downloaded models below, or allow persistent storage.',
  IntegrityError: 'A downloaded file is corrupt. Delete the model and download it again.',
  InvalidArgumentError: 'The request was not valid for this model (a long conversation may exceed its context: start a new chat).',
};

export interface ErrorView {
  readonly title: string;
  readonly message: string;
  readonly hint?: string;
}

export function describeError(e: unknown): ErrorView {
  const err = e as { name?: string; code?: string; message?: string; hint?: unknown };
  const name = err?.name ?? 'Error';
  const code = err?.code ? ` (${err.code})` : '';
  // An error's own hint (what to change for this load: GpuOutOfMemoryError says which option) comes first.
  const own = typeof err?.hint === 'string' && err.hint ? `${err.hint[0]!.toUpperCase()}${err.hint.slice(1).replace(/\.?$/, '.')}` : undefined;
  const hint = [own, HINTS[name]].filter(Boolean).join(' ') || undefined;
  return { title: `${name}${code}`, message: err?.message ?? String(e), hint };
}

/** The same error, aborted by the user: shown quietly, not as a failure. */
export function isAbort(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'AbortError';
}
