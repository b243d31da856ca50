/**
 * An image the caller holds: PNG / JPEG bytes (Blob, File, ArrayBuffer, Uint8Array) or decoded pixels
 * (ImageBitmap, ImageData; in a page also an HTMLImageElement, a canvas or an OffscreenCanvas, which the
 * worker engine turns into an ImageBitmap before they cross to the worker).
 */
export type ImageSource =
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | ImageBitmap
  | ImageData
  | OffscreenCanvas
  | (typeof globalThis extends { HTMLImageElement: unknown } ? HTMLImageElement | HTMLCanvasElement : never);
