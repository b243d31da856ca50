import { GpuOutOfMemoryError } from '../errors.js';
import type { MemoryEstimate } from '../models/fit.js';
import type { LoadDType } from '../models/types.js';

/** What a load may take: the device's buffer limits and the caller's budget (WebGPU reports no free memory). */
export interface FitLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  /** LoadOptions.memoryBudget: bytes of GPU memory the model may hold in all. */
  readonly budgetBytes?: number;
}

/** A load to try: its dtype and context. */
export interface FitChoice {
  readonly dtype: LoadDType;
  readonly maxContext: number;
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The reason `e` does not fit `limits`, or undefined when it fits. */
function misfit(e: MemoryEstimate, limits: FitLimits): { message: string; needed: number; available: number } | undefined {
  if (limits.budgetBytes !== undefined && e.totalBytes > limits.budgetBytes) {
    const parts = `weights ${MiB(e.weightBytes)}, KV cache ${MiB(e.kvCacheBytes)}, activations ${MiB(e.activationBytes)}`;
    return {
      message: `the model needs about ${MiB(e.totalBytes)} of GPU memory (${parts}) but the memory budget is ${MiB(limits.budgetBytes)}`,
      needed: e.totalBytes,
      available: limits.budgetBytes,
    };
  }
  if (e.largestBufferBytes > limits.maxBufferSize) {
    return {
      message: `${e.largestBufferName} needs one buffer of ${MiB(e.largestBufferBytes)}, more than this adapter's maxBufferSize (${MiB(limits.maxBufferSize)})`,
      needed: e.largestBufferBytes,
      available: limits.maxBufferSize,
    };
  }
  if (e.largestBindingBytes > limits.maxStorageBufferBindingSize) {
    return {
      message: `a KV cache layer or activation of ${MiB(e.largestBindingBytes)} exceeds this adapter's maxStorageBufferBindingSize (${MiB(limits.maxStorageBufferBindingSize)})`,
      needed: e.largestBindingBytes,
      available: limits.maxStorageBufferBindingSize,
    };
  }
  return undefined;
}

const SMALLER_DTYPES: readonly LoadDType[] = ['q8_0', 'q4_0'];

/**
 * Throws GpuOutOfMemoryError (needed and available bytes, and a hint) unless `choice` fits `limits`. The hint
 * names the first smaller dtype, then the longest halved context, that `estimate` says would fit.
 */
export function checkFit(choice: FitChoice, limits: FitLimits, estimate: (c: FitChoice) => MemoryEstimate): MemoryEstimate {
  const e = estimate(choice);
  const bad = misfit(e, limits);
  if (!bad) return e;
  const fits = (c: FitChoice) => !misfit(estimate(c), limits);
  const start = choice.dtype === 'q8_0' ? 1 : choice.dtype === 'q4_0' ? 2 : 0;
  const dtype = SMALLER_DTYPES.slice(start).find((d) => fits({ dtype: d, maxContext: choice.maxContext }));
  let hint: string;
  if (dtype) hint = `load with { dtype: '${dtype}' }`;
  else {
    let ctxLen = choice.maxContext;
    while (ctxLen > 256 && !fits({ dtype: choice.dtype, maxContext: ctxLen })) ctxLen = Math.floor(ctxLen / 2);
    hint = fits({ dtype: choice.dtype, maxContext: ctxLen })
      ? `load with { maxContext: ${ctxLen} }`
      : 'this model does not fit at any dtype or context weblm offers: pick a smaller model' +
        (limits.budgetBytes !== undefined ? ' or raise memoryBudget' : '');
  }
  throw new GpuOutOfMemoryError(`${bad.message}; ${hint}`, { neededBytes: bad.needed, availableBytes: bad.available, hint });
}
