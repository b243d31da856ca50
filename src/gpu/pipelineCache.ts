import { preprocess, type ShaderDefines } from './shaderSource.js';

/** How a binding is used; binding i of the layout is entry i of `PipelineKey.layout`. */
export type BindingKind = 'uniform' | 'read' | 'storage';

/** Everything that makes a compute pipeline distinct. Two equal keys give the same pipeline. */
export interface PipelineKey {
  /** shaders/<shader>.wgsl */
  readonly shader: string;
  readonly entry?: string;
  readonly defines?: ShaderDefines;
  /** One entry per @binding(i) of @group(0), in order. */
  readonly layout: readonly BindingKind[];
}

export interface Pipeline {
  readonly id: number;
  readonly key: PipelineKey;
  readonly pipeline: GPUComputePipeline;
  readonly layout: readonly BindingKind[];
}

/**
 * The cache key of a PipelineKey. Defines are taken in insertion order (no sort: this runs on every
 * dispatch); a call site that orders its defines differently only costs one more compiled variant.
 */
function keyString(k: PipelineKey): string {
  let s = `${k.shader}:${k.entry ?? 'main'}:${k.layout.join('')}:`;
  const d = k.defines;
  if (d) for (const n in d) s += `${n}=${d[n]},`;
  return s;
}

/**
 * Compiles each pipeline once. Layouts are explicit (not 'auto'), so a variant that leaves a binding
 * unused still accepts the same bind group.
 */
export class PipelineCache {
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private nextId = 1;

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(key: PipelineKey): Pipeline {
    const ks = keyString(key);
    let p = this.pipelines.get(ks);
    if (!p) {
      p = this.create(key, ks);
      this.pipelines.set(ks, p);
    }
    return p;
  }

  private bindGroupLayout(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const ks = kinds.join(',');
    let l = this.layouts.get(ks);
    if (!l) {
      l = this.device.createBindGroupLayout({
        entries: kinds.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(ks, l);
    }
    return l;
  }

  private create(key: PipelineKey, ks: string): Pipeline {
    const code = preprocess(key.shader, key.defines);
    const module = this.device.createShaderModule({ code, label: ks });
    const pipeline = this.device.createComputePipeline({
      label: ks,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.bindGroupLayout(key.layout)] }),
      compute: { module, entryPoint: key.entry ?? 'main' },
    });
    return { id: this.nextId++, key, pipeline, layout: key.layout };
  }
}
