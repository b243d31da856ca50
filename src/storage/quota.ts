import { StorageQuotaError } from '../errors.js';

/** Whether an error is the browser's QuotaExceededError (a DOMException, or its name after a boundary). */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** Bytes used and available to this origin (navigator.storage.estimate), or undefined where unknown. */
export async function storageEstimate(): Promise<{ usage: number; quota: number; available: number } | undefined> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return undefined;
  const { usage = 0, quota = 0 } = await storage.estimate();
  return { usage, quota, available: Math.max(0, quota - usage) };
}

/** Asks the browser to keep this origin's storage under pressure (true when granted). */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.persist) return false;
  return (await storage.persisted?.()) || storage.persist();
}

/** The typed error for a full store: how many bytes the model still needed and how many are free. */
export async function quotaError(what: string, needed: number, cause: unknown): Promise<StorageQuotaError> {
  const est = await storageEstimate().catch(() => undefined);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const free = est ? `${mb(est.available)} free of a ${mb(est.quota)} quota` : 'the free space is unknown';
  return new StorageQuotaError(
    `${what}: browser storage is full (needed ${mb(needed)} more, ${free}); free space by deleting cached models, or allow persistent storage`,
    needed,
    est?.available,
    { cause },
  );
}
