/**
 * Typed errors of weblm. Every error the library throws on purpose is a WebLMError subclass with a
 * stable `code`, so callers can tell them apart with `instanceof` in-process and by `name` after the
 * error crossed the worker boundary (src/worker/errorTransfer.ts rebuilds the class from `name`).
 */
export class WebLMError extends Error {
  readonly code: string = 'WEBLM_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No WebGPU implementation, or no adapter (no GPU, blocked, or not a secure context). */
export class WebGPUUnavailableError extends WebLMError {
  override readonly code = 'WEBGPU_UNAVAILABLE';
}

/** The GPUDevice was lost (driver reset, tab backgrounded on mobile, destroy()). */
export class DeviceLostError extends WebLMError {
  override readonly code = 'DEVICE_LOST';
}

/**
 * A GPU allocation failed or would exceed a device limit or the caller's memory budget. The message says what
 * and how much; `neededBytes` / `availableBytes` are bytes where known, `hint` what to load instead.
 */
export class GpuOutOfMemoryError extends WebLMError {
  override readonly code = 'GPU_OUT_OF_MEMORY';
  readonly neededBytes?: number;
  readonly availableBytes?: number;
  readonly hint?: string;
  constructor(message: string, details: { neededBytes?: number; availableBytes?: number; hint?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.neededBytes !== undefined) this.neededBytes = details.neededBytes;
    if (details.availableBytes !== undefined) this.availableBytes = details.availableBytes;
    if (details.hint !== undefined) this.hint = details.hint;
  }
}

/** A WGSL shader failed to compile or a pipeline failed validation: a bug in weblm, reported with the log. */
export class ShaderError extends WebLMError {
  override readonly code = 'SHADER_ERROR';
}

/** The model's architecture (model_type, tensor type, feature) is not supported. */
export class UnsupportedModelError extends WebLMError {
  override readonly code = 'UNSUPPORTED_MODEL';
}

/** A checkpoint file is malformed: truncated, a missing tensor, a shape that contradicts the config. */
export class InvalidModelError extends WebLMError {
  override readonly code = 'INVALID_MODEL';
}

/** A model, file or repo was not found (404, missing local file). */
export class ModelNotFoundError extends WebLMError {
  override readonly code = 'MODEL_NOT_FOUND';
}

/** A network request failed (connection, HTTP status, server without Range support). */
export class NetworkError extends WebLMError {
  override readonly code = 'NETWORK_ERROR';
}

/** Browser storage is full: `needed` and `available` are bytes. */
export class StorageQuotaError extends WebLMError {
  override readonly code = 'STORAGE_QUOTA';
  constructor(
    message: string,
    readonly needed?: number,
    readonly available?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Stored data failed its integrity check (size or sha256). */
export class IntegrityError extends WebLMError {
  override readonly code = 'INTEGRITY_ERROR';
}

/** The operation was aborted through an AbortSignal. */
export class AbortError extends WebLMError {
  override readonly code = 'ABORTED';
}

/** An argument is out of range or inconsistent (bad option, prompt longer than the context). */
export class InvalidArgumentError extends WebLMError {
  override readonly code = 'INVALID_ARGUMENT';
}

/** Image bytes that could not be decoded (not PNG / JPEG where only those are read, truncated, corrupt). */
export class InvalidImageError extends WebLMError {
  override readonly code = 'INVALID_IMAGE';
}

/** A saved KV cache that does not belong to the loaded model (another model, dtype or cache shape). */
export class CacheMismatchError extends WebLMError {
  override readonly code = 'CACHE_MISMATCH';
}

/** Every error class by name: how errors are rebuilt after crossing a worker boundary. */
export const errorClasses = {
  WebLMError,
  WebGPUUnavailableError,
  DeviceLostError,
  GpuOutOfMemoryError,
  ShaderError,
  UnsupportedModelError,
  InvalidModelError,
  ModelNotFoundError,
  NetworkError,
  StorageQuotaError,
  IntegrityError,
  AbortError,
  InvalidArgumentError,
  InvalidImageError,
  CacheMismatchError,
} as const;
