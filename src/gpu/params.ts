/**
 * Packs a kernel's uniform parameters (a WGSL struct of u32 / i32 / f32 scalars, 4 bytes each, in
 * declaration order). Keep WGSL structs to scalars so that no vec alignment padding is needed.
 *
 * A value given with an `input` name is a step input (src/gpu/capture.ts): when the step is captured and
 * replayed, that word is rewritten from the step's inputs (a u32 as the input plus the same constant).
 */
export class Params {
  private readonly view: DataView;
  private n = 0;
  /** Step inputs among the words: (word, input, value, float) flattened; undefined when none. */
  inputs: (number | string | boolean)[] | undefined;
  constructor(private readonly bytes = new ArrayBuffer(256)) {
    this.view = new DataView(bytes);
  }
  u32(v: number, input?: string): this {
    if (input !== undefined) (this.inputs ??= []).push(this.n, input, v, false);
    this.view.setUint32(4 * this.n++, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(4 * this.n++, v | 0, true);
    return this;
  }
  f32(v: number, input?: string): this {
    if (input !== undefined) (this.inputs ??= []).push(this.n, input, v, true);
    this.view.setFloat32(4 * this.n++, v, true);
    return this;
  }
  /** The packed bytes, padded to 16. */
  get data(): Uint8Array {
    return new Uint8Array(this.bytes, 0, Math.max(16, Math.ceil((4 * this.n) / 16) * 16));
  }
}

export function params(): Params {
  return new Params();
}
