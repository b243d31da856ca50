/**
 * Overrides of the shapes and paths the kernels choose, for the benchmarks (bench/kernelLab.ts,
 * decodeBench.ts, recordProfile.ts, moeDecodeLab.ts) and for the tests that run a path the shipping choice
 * would not take on the machine at hand. Held by the GpuContext (`ctx.kernelOverrides`), undefined in
 * shipping use: each kernel then runs its own chosen constants. A field left out keeps the kernel's choice.
 * It lives in gpu/ (not kernels/) because the context that holds it is here.
 */

/**
 * A tile of the integer-dot GEMMs (src/kernels/matmulInt8.ts, moeGemmInt8.ts): BM tokens x BN outputs per
 * workgroup, TM x TN per thread, KB blocks of 32 per K step; `prefetch`: the next K step is loaded into
 * registers while this one is computed.
 */
export interface GemmTile {
  readonly BM: number;
  readonly BN: number;
  readonly TM: number;
  readonly TN: number;
  readonly KB: number;
  readonly prefetch?: boolean;
}

/** The decode GEMVs of src/kernels/matmul.ts. */
export interface GemvOverrides {
  /** The generic GEMV (shaders/matmul.wgsl, entry gemv) for every weight, not the Q4_0 / Q8_0 / Q4_K ones. */
  readonly generic?: boolean;
  /** Threads per row of the generic GEMV (a power of two, 8 to 256; default: by row length). */
  readonly lanes?: number;
  /** The integer-dot GEMV for Q4_0 / Q8_0 / Q4_K: on, or off for the f32 pairs GEMV (default: where the platform has it). */
  readonly int8?: boolean;
  /** Lanes per row group of the Q4_0 / Q8_0 / Q4_K GEMVs. */
  readonly quantLanes?: number;
  /** Rows per lane group of the Q4_0 / Q8_0 / Q4_K GEMVs. */
  readonly rows?: number;
  /** x in workgroup memory in the pairs GEMV (default: where it fits). */
  readonly xShared?: boolean;
  /** Values of x per chunk of the integer-dot GEMV (default: as many as workgroup memory holds). */
  readonly int8Chunk?: number;
  /** Q4_K weights read as vec4<u32> by the integer-dot GEMV where 16-byte aligned (default: yes). */
  readonly vec4Weights?: boolean;
  /** Most workgroups the integer-dot GEMV launches, each taking several blocks of rows. */
  readonly maxGroups?: number;
  /** x read in planes where given: true for every Q4_0 / Q8_0 / Q4_K weight, false for none (default: gemvReadsPlanes). */
  readonly planes?: boolean;
}

/** The integer-dot GEMMs: `use` forces them on (any T past the GEMV, where the dtype allows) or off; `tile` replaces the chosen tile. */
export interface GemmOverrides {
  readonly use?: boolean;
  readonly tile?: GemmTile;
}

/**
 * A tile of the subgroup-matrix GEMM (src/kernels/matmulSubgroupMatrix.ts): SGY x SGX subgroups per
 * workgroup, each TMS x TNS result matrices of the adapter's config; `pad` f16s after each 32 of a tile row.
 */
export interface SubgroupMatrixTile {
  readonly TMS: number;
  readonly TNS: number;
  readonly SGY: number;
  readonly SGX: number;
  readonly pad: number;
}

/**
 * A tile of the int8 subgroup-matrix GEMM (src/kernels/matmulSubgroupMatrixInt8.ts): as SubgroupMatrixTile,
 * with KB blocks of 32 staged per K step and `pad` words (4 int8) after each tile row.
 */
export interface SubgroupMatrixInt8Tile extends SubgroupMatrixTile {
  readonly KB: number;
}

/**
 * The decode attention (src/kernels/attention.ts): query heads per workgroup sharing each K/V row (1 to 8, at
 * most the group size), the workgroups the split of the keys aims for (fewer: longer chunks, a smaller merge),
 * `fuseRope` false: a decode token's RoPE and cache append in their own dispatch (ropeKv) before it, and
 * `mergeLater` false: the chunks merged by the attention's own merge dispatch, never by the output projection.
 */
export interface AttentionOverrides {
  readonly headsPerGroup?: number;
  readonly targetWorkgroups?: number;
  readonly fuseRope?: boolean;
  readonly mergeLater?: boolean;
}

export interface KernelOverrides {
  readonly attention?: AttentionOverrides;
  /**
   * The resize of a prompt's images (src/engine/promptImages.ts, src/kernels/resample.ts): images of at least
   * `minPixels` pixels are resized on the GPU, smaller ones on the CPU (default 1 << 20; the tests give 0 to
   * run the GPU resize on their small fixture images).
   */
  readonly imageResize?: { readonly minPixels?: number };
  /**
   * The attention prefill (src/kernels/attentionPrefill.ts): the kernel (flash where it fits, else rows), the
   * flash kernel's keys per tile and head dims per slab, its key splits or the grid size they aim for.
   */
  readonly attentionPrefill?: {
    readonly kernel?: 'auto' | 'flash' | 'rows';
    readonly bk?: 32 | 64;
    readonly ds?: 16 | 32;
    readonly splits?: number;
    readonly targetWorkgroups?: number;
  };
  /** MLA prefill chunks (src/layers/mla.ts): latent ('absorbed') or decompressed ('naive') attention; 'auto' by T and positions. */
  readonly mlaPrefill?: { readonly form: 'auto' | 'absorbed' | 'naive' };
  /** A storage-binding size below the device's, to exercise the kernels that split a tensor over several bindings. */
  readonly maxBinding?: number;
  /** A cap on workgroups per grid dimension below the device's, to exercise the 2-D fold of the GEMV and GEMM grids. */
  readonly maxGridX?: number;
  readonly gemv?: GemvOverrides;
  /** The prefill GEMM (src/kernels/matmulInt8.ts). */
  readonly gemm?: GemmOverrides;
  /** The subgroup-matrix prefill GEMM (src/kernels/matmulSubgroupMatrix.ts): on for any T past the GEMV where the device has the feature (off unless asked); its tile. */
  readonly gemmMatrix?: { readonly use?: boolean; readonly tile?: SubgroupMatrixTile };
  /** The int8 subgroup-matrix prefill GEMM (src/kernels/matmulSubgroupMatrixInt8.ts): `use` true takes it in place of the integer-dot GEMM where the device has it (off unless asked: slower on the H200); its tile. */
  readonly gemmMatrixInt8?: { readonly use?: boolean; readonly tile?: SubgroupMatrixInt8Tile };
  /** The MoE prefill grouped GEMMs (src/kernels/moeGemmInt8.ts); `worklist`: the compacted work list or the grid of every expert's row tiles. */
  readonly moeGemm?: GemmOverrides & { readonly worklist?: boolean };
  /**
   * The MoE decode GEMVs (src/kernels/moeDecode.ts): `use` false keeps the f32 pairs path; lanes per gate|up
   * row, lanes and rows per down group, units per down lane; `foldShared` false runs a shared expert in two
   * dispatches of its own instead of inside the routed experts' (moeFoldsShared, src/kernels/moe.ts).
   */
  readonly moeDecode?: {
    readonly use?: boolean;
    readonly foldShared?: boolean;
    readonly gateUpLanes?: number;
    readonly downLanes?: number;
    readonly downRows?: number;
    readonly downUnits?: number;
  };
}
